"""Labelling on Dask workers gives the rows of the single-process path, id for id,
in input order; a worker killed mid-run loses and repeats nothing; an
unreachable scheduler is one line and exit 2."""

import json
import os
import signal
import socket
import time

import pandas as pd
import pytest
from conftest import ROOT, SEEDS, run_cli

from stance.core.schema import find_schema
from stance.ingest.parse import iter_turns
from stance.model.find import load_model
from stance.model.predict import abstain, predict_rows
from stance.scale.label import label_blocks, make_job

PAGES = sorted(SEEDS.glob("*.txt"))[:2]


def write_jsonl(path, n, texts, prefix="t"):
    """n turns in threads of 20, texts cycling through `texts`; a blank line and
    a turn without text in the middle, as real files have."""
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            conv = f"{prefix}c{i // 20}"
            rec = {
                "id": f"{prefix}{i}",
                "conversation_id": conv,
                "speaker": f"u{i % 7}",
                "reply_to": None if i % 20 == 0 else f"{prefix}{i - 1}",
                "text": texts[i % len(texts)],
            }
            fh.write(json.dumps(rec) + "\n")
            if i == n // 2:
                fh.write("\n" + json.dumps({"id": "empty", "text": " "}) + "\n")


@pytest.fixture(scope="module")
def texts():
    from stance.ingest.parse import parse_paths

    return [t.text for t in parse_paths(PAGES).turns]


@pytest.fixture(scope="module")
def model():
    return load_model(None, find_schema(ROOT / "labels" / "schema.toml"))


def single(paths, model, min_confidence=None):
    return list(abstain(predict_rows(iter_turns(paths), model), min_confidence))


def job_for(dask_cache_dir, min_confidence=None):
    from stance.ingest.lang import ENCODER_LANGUAGES

    sch = find_schema(ROOT / "labels" / "schema.toml")
    return make_job(None, sch, False, dask_cache_dir, ENCODER_LANGUAGES, min_confidence)


def test_rows_identical_to_single_process(
    dask_client, dask_cache_dir, texts, model, tmp_path
):
    """Pages, a JSONL read in blocks by the workers and a CSV: the same rows."""
    jsonl = tmp_path / "big.jsonl"
    write_jsonl(jsonl, 1500, texts)
    csv = tmp_path / "more.csv"
    pd.DataFrame(
        {
            "id": [f"k{i}" for i in range(60)],
            "text": [texts[i % len(texts)] for i in range(60)],
        }
    ).to_csv(csv, index=False)
    paths = [*PAGES, jsonl, csv]
    want = single(paths, model, 0.6)
    results = list(
        label_blocks(dask_client, paths, job_for(dask_cache_dir, 0.6), block_turns=100)
    )
    got = [row for r in results for row in r.rows]
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert got == want
    assert len({r.worker for r in results}) == 2  # both workers labelled blocks


def test_repeated_id_is_the_single_process_error(
    dask_client, dask_cache_dir, texts, tmp_path
):
    from stance.core.errors import InputError

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(a, 300, texts)
    write_jsonl(b, 300, texts, prefix="x")
    with open(b, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "t250", "text": "again"}) + "\n")
    with pytest.raises(InputError) as single_err:
        list(iter_turns([a, b]))
    with pytest.raises(InputError) as dist_err:
        list(label_blocks(dask_client, [a, b], job_for(dask_cache_dir), block_turns=50))
    assert str(dist_err.value) == str(single_err.value)
    assert "b.jsonl line 303: duplicate id 't250'" in str(dist_err.value)


def test_killed_worker_loses_and_repeats_no_turn(
    dask_client, dask_cache_dir, texts, tmp_path
):
    jsonl = tmp_path / "kill.jsonl"
    write_jsonl(jsonl, 3000, texts)
    pids = dask_client.run(os.getpid)  # worker address -> pid
    blocks = label_blocks(dask_client, [jsonl], job_for(dask_cache_dir), block_turns=50)
    got = list(next(blocks).rows)
    busy = {w for w, keys in dask_client.processing().items() if keys} or set(pids)
    victim = sorted(busy)[0]
    os.kill(pids[victim], signal.SIGKILL)
    for result in blocks:
        got.extend(result.rows)
    ids = [r["id"] for r in got]
    assert ids == [f"t{i}" for i in range(3000)]  # all, once each, in order
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(dask_client.run(os.getpid)) < 2:
        time.sleep(0.5)
    assert pids[victim] not in dask_client.run(os.getpid).values()  # it really died


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, texts):
    jsonl = tmp_path / "t.jsonl"
    write_jsonl(jsonl, 10, texts)
    address = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "out.jsonl"
    res = run_cli("label", jsonl, "-o", out, "--scheduler", address)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {address}: cannot reach the Dask scheduler")
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_cli_on_the_cluster_matches_the_single_process_cli(
    dask_client, dask_cache_dir, texts, tmp_path
):
    """The real CLI with --scheduler: one Parquet file and a partitioned dataset,
    both with the rows of the plain run."""
    jsonl = tmp_path / "t.jsonl"
    write_jsonl(jsonl, 400, texts)
    env = {"STANCE_CACHE": str(dask_cache_dir)}
    plain = run_cli("label", "-q", jsonl, "-o", tmp_path / "plain.parquet", env=env)
    assert plain.returncode == 0, plain.stderr
    address = dask_client.scheduler.address
    one = run_cli(
        "label",
        "-q",
        jsonl,
        "-o",
        tmp_path / "one.parquet",
        "--scheduler",
        address,
        "--cache-dir",
        dask_cache_dir,
        env=env,
    )
    assert one.returncode == 0, one.stderr
    part = run_cli(
        "label",
        "-q",
        jsonl,
        "-o",
        tmp_path / "ds",
        "--partitioned",
        "--scheduler",
        address,
        "--cache-dir",
        dask_cache_dir,
        env=env,
    )
    assert part.returncode == 0, part.stderr
    want = pd.read_parquet(tmp_path / "plain.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one.parquet"), want)
    ds = pd.read_parquet(tmp_path / "ds")
    pd.testing.assert_frame_equal(ds.reset_index(drop=True), want)
    assert "worker tcp://127.0.0.1" in one.stderr
