"""dask stays out of plain runs; bad cluster options are one-line errors."""

import subprocess
import sys

from conftest import ROOT, SEEDS, run_cli

PROBE = (
    "import sys\n"
    "from stance.cli import main\n"
    "sys.argv = ['stance', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "print([m for m in ('dask', 'distributed') if m in sys.modules], file=sys.stderr)\n"
)


def test_help_and_a_plain_parse_never_import_dask(tmp_path):
    page = sorted(SEEDS.glob("*.txt"))[0]
    for args in (
        ["--help"],
        ["label", "--help"],
        ["parse", str(page), "-o", str(tmp_path / "t.jsonl")],
    ):
        res = subprocess.run(
            [sys.executable, "-c", PROBE, *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert res.stderr.strip().splitlines()[-1] == "[]", (args, res.stderr)
    assert (tmp_path / "t.jsonl").stat().st_size > 0


def test_scheduler_and_workers_together_is_an_error(tmp_path):
    page = sorted(SEEDS.glob("*.txt"))[0]
    res = run_cli(
        "parse",
        page,
        "-o",
        tmp_path / "t.jsonl",
        "--workers",
        "2",
        "--scheduler",
        "tcp://127.0.0.1:1",
    )
    assert res.returncode == 2
    assert res.stderr.strip() == "error: --scheduler and --workers: give one of them"
    assert not (tmp_path / "t.jsonl").exists()


def test_partitioned_output_never_replaces_a_folder_of_other_files(tmp_path):
    page = sorted(SEEDS.glob("*.txt"))[0]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = run_cli("label", page, "-o", mine, "--partitioned")
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"error: {mine}: not a dataset of `stance label --partitioned`: move it away"
    )
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_local_workers_keep_a_short_state_machine_log(dask_client):
    """With Dask's default (1,000 events) a worker's memory crept by 52 MB from
    1M to 10M cached turns; the LocalCluster's workers keep 100."""
    from stance.scale.cluster import WORKER_CONFIG

    want = WORKER_CONFIG["distributed.admin.low-level-log-length"]
    got = dask_client.run(
        lambda dask_worker: (
            dask_worker.state.log.maxlen,
            dask_worker.state.stimulus_log.maxlen,
        )
    )
    assert len(got) == 2
    assert set(got.values()) == {(want, want)}
