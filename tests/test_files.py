"""Atomic writes, killed writers, concurrent appends, and decoding of user files.

The kill tests run tests/killed_writer.py, which writes in a loop, and kill it
with SIGKILL after a seeded random delay, many times. After each kill the
target must be the previous complete file (or directory) or the new complete
one, never a mix or a part; leftovers of the killed process must be hidden
from the readers and removed by the next write.
"""

import csv
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, STANCE, run_cli
from killed_writer import (
    STANCES,
    label_row,
    model_intercept,
    output_rows,
    save_model,
)

from stance.classify import StanceClassifier
from stance.errors import InputError
from stance.files import (
    atomic_directory,
    atomic_open,
    atomic_write_text,
    check_output_path,
    decode_bytes,
    remove_stale_temps,
)
from stance.labels import append_label, label_files, read_labels
from stance.parse import expand_paths
from stance.predict import write_rows

WRITER = Path(__file__).with_name("killed_writer.py")
KILLS = int(os.environ.get("STANCE_KILLS", "30"))


# ----------------------------------------------------------- atomic writes


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_atomic_open_keeps_the_old_file_when_the_writer_fails(tmp_path):
    p = tmp_path / "out.jsonl"
    p.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(p) as fh:
        fh.write("new, half written")
        raise RuntimeError("boom")
    assert p.read_text() == "old\n"
    assert hidden(tmp_path) == []


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    p = tmp_path / "shared.csv"
    p.write_text("x")
    os.chmod(p, 0o664)
    atomic_write_text(p, "y")
    assert stat.S_IMODE(p.stat().st_mode) == 0o664
    fresh = tmp_path / "fresh.txt"
    old = os.umask(0o022)
    try:
        atomic_write_text(fresh, "z")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not mkstemp's 0600


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "out.jsonl"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    stale = tmp_path / f".out.jsonl.{dead}.abc123.tmp"
    stale.write_text("half")
    mine = tmp_path / f".out.jsonl.{os.getpid()}.def456.tmp"
    mine.write_text("in progress")
    other = tmp_path / f".other.jsonl.{dead}.abc123.tmp"
    other.write_text("another target's")
    assert remove_stale_temps(target) == [stale]
    assert mine.exists() and other.exists()


def test_atomic_directory_swaps_a_whole_directory(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as d:
        (d / "a").write_text("1")
    with atomic_directory(target) as d:
        (d / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert hidden(tmp_path) == []
    with pytest.raises(ValueError), atomic_directory(target) as d:
        (d / "c").write_text("3")
        raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert hidden(tmp_path) == []


def test_output_checks(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "out.jsonl")
    with pytest.raises(InputError, match="is not a directory"):
        check_output_path(afile / "out.jsonl")
    with pytest.raises(InputError, match="output path is a directory"):
        check_output_path(tmp_path)
    with pytest.raises(InputError, match="is a file, expected a directory"):
        check_output_path(afile, directory=True)
    assert check_output_path(tmp_path, directory=True) == tmp_path


def test_read_only_directory_is_refused_even_for_root(tmp_path):
    """Tests run as root here, and root may write in a 0555 directory anyway.

    stance treats a directory without any write bit as read-only for everyone
    (files.writable_dir), so the behaviour is the same for root and for users.
    """
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        with pytest.raises(InputError, match="is read-only"):
            atomic_write_text(ro / "out.md", "x")
        with pytest.raises(InputError, match="is read-only"):
            with atomic_directory(ro / "model"):
                pass
        assert list(ro.iterdir()) == []
    finally:
        os.chmod(ro, 0o755)


# ---------------------------------------------------------------- decoding

PAGE = (
    "The pact was “justified”, said the café owner — naïvely perhaps, "
    "but he believed the West had refused every Soviet offer in 1939.\n"
)


@pytest.mark.parametrize(
    "encoding,expected",
    [
        ("cp1252", "cp1252"),
        ("latin-1", "cp1252"),  # Latin-1 text decodes identically as cp1252
        ("utf-16", "utf-16"),  # with a BOM (little endian here)
        ("utf-16-be", None),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-32", "utf-32"),
    ],
)
def test_decode_legacy_and_bom_encodings(encoding, expected):
    text = PAGE
    if encoding == "latin-1":
        text = text.replace("“", '"').replace("”", '"').replace("—", "-")
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # BOM written by hand
        expected = "utf-16"
    decoded, used = decode_bytes(data, "p.txt")
    assert decoded == text
    assert used == expected


def test_decode_refuses_empty_and_binary():
    with pytest.raises(InputError, match="empty file"):
        decode_bytes(b" \n\t ", "e.txt")
    with pytest.raises(InputError, match="binary"):
        decode_bytes(bytes(range(256)) * 10, "b.txt")


@pytest.mark.parametrize(
    "encoding,reported",
    [("cp1252", "cp1252"), ("latin-1", "cp1252"), ("utf-16", "utf-16")],
)
def test_parse_explain_reports_the_encoding(tmp_path, encoding, reported):
    text = PAGE.replace("“", '"').replace("”", '"').replace("—", "-")
    page = tmp_path / f"page-{encoding}.txt"
    page.write_bytes(text.encode(encoding))
    out = tmp_path / "turns.jsonl"
    res = run_cli("parse", page, "--explain", "-o", out)
    assert res.returncode == 0, res.stderr
    assert f"{page} encoding={reported} turns=1" in res.stderr
    turn = json.loads(out.read_text(encoding="utf-8"))
    assert turn["text"] == text.strip()


# ------------------------------------------------------------- kill tests


def kill_loop(mode, target, start_of, check, *, seed, kills=KILLS, max_delay=0.25):
    """Start the writer, kill it after a random delay, check the target; repeat.

    `start_of()` is the number the next writer starts from; `check(done)` gets
    the numbers of the writes the killed writer reported complete. Returns
    how many kills landed after at least one complete write.
    """
    rng = random.Random(seed)
    mid_run = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), mode, str(target), str(start_of())],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0, max_delay))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        done = [int(x) for x in out.split()]
        mid_run += bool(done)
        check(done)
    return mid_run


def test_killed_label_appends_leave_whole_rows(tmp_path):
    path = tmp_path / "labels.csv"
    state = {"rows": 0}

    def check(done):
        # Rows 0..done[-1] were reported appended; one more may be in flight.
        acked = done[-1] + 1 if done else state["rows"]
        labels = read_labels(path, STANCES) if path.exists() else []
        assert acked <= len(labels) <= acked + 1, (acked, len(labels))
        for k, lab in enumerate(labels):
            row = label_row(k)
            assert (lab.text, lab.stance, lab.note) == (
                row["text"],
                row["stance"],
                row["note"],
            )
        state["rows"] = len(labels)

    mid = kill_loop("labels", path, lambda: state["rows"], check, seed=6)
    assert mid >= KILLS // 2, "most kills should land after some writes"
    assert state["rows"] > KILLS
    leftovers = [h for h in hidden(tmp_path) if h != "labels.csv.lock"]
    assert all(h.startswith(".labels.csv.") for h in leftovers)
    assert label_files([tmp_path], tmp_path) == [path]  # readers skip them
    append_label(path, label_row(state["rows"]))
    assert hidden(tmp_path) == []  # and the next write removes them


def versions_check(path, state, holds):
    """A check for kill_loop: `holds(path)` is the version the target holds."""

    def check(done):
        allowed = {done[-1], done[-1] + 1} if done else {state["v"], state["v"] + 1}
        v = holds(path)
        assert v in allowed, (v, allowed)
        state["v"] = v

    return check


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_killed_label_output_is_old_or_new_never_partial(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    refs_dir = tmp_path / "refs"
    refs_dir.mkdir()
    refs: dict[int, bytes] = {}

    def ref(v):
        if v not in refs:
            write_rows(refs_dir / f"v{v}{suffix}", output_rows(v))
            refs[v] = (refs_dir / f"v{v}{suffix}").read_bytes()
        return refs[v]

    def holds(p):
        data = p.read_bytes()
        if suffix == ".jsonl":
            v = int(json.loads(data.split(b"\n", 1)[0])["conversation_id"][1:])
        else:
            v = int(
                next(csv.DictReader(data.decode().splitlines()))["conversation_id"][1:]
            )
        assert data == ref(v), f"version {v} is not complete"
        return v

    write_rows(path, output_rows(0))
    state = {"v": 0}
    check = versions_check(path, state, holds)
    kills = KILLS // 2  # per suffix: KILLS in all
    mid = kill_loop("output", path, lambda: state["v"] + 1, check, seed=7, kills=kills)
    assert mid >= kills // 2
    assert state["v"] > 0
    assert expand_paths([tmp_path]) == [path]  # leftovers are hidden from readers
    write_rows(path, output_rows(0))
    assert hidden(tmp_path) == []  # and removed by the next write


def test_killed_model_save_leaves_a_loadable_model(tmp_path):
    path = tmp_path / "model"

    def holds(p):
        model = StanceClassifier.load(p, check_encoder=False)  # every hash checked
        v = model.config_["kill_test_version"]
        assert np.array_equal(model.head_.intercept_, model_intercept(v))
        assert sorted(f.name for f in p.iterdir()) == [
            "README.md",
            "config.json",
            "head.npz",
        ]
        return v

    save_model(path, 0)
    state = {"v": 0}
    check = versions_check(path, state, holds)
    mid = kill_loop("model", path, lambda: state["v"] + 1, check, seed=8)
    assert mid >= KILLS // 2
    assert state["v"] > 0
    save_model(path, 0)
    assert hidden(tmp_path) == []


@pytest.mark.slow
def test_killed_stance_label_cli_output(tmp_path):
    """The real `stance label -o out.csv`, killed at random points of its run."""
    with open(ROOT / "labels" / "seeds.csv", encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    inputs = {}
    for name, chosen in (("a", texts[:60]), ("b", texts[30:])):
        p = tmp_path / f"{name}.jsonl"
        p.write_text(
            "".join(
                json.dumps({"id": f"{name}{i}", "text": t}) + "\n"
                for i, t in enumerate(chosen)
            )
        )
        inputs[name] = p
    out = tmp_path / "out" / "labelled.csv"
    out.parent.mkdir()
    refs = {}
    for name in ("a", "b", "a", "b"):  # the second round runs on a warm cache
        t0 = time.perf_counter()
        res = run_cli("label", inputs[name], "-o", out)
        took = time.perf_counter() - t0
        assert res.returncode == 0, res.stderr
        assert refs.setdefault(name, out.read_bytes()) == out.read_bytes()
    rng = random.Random(9)
    held = "b"
    for k in range(6):
        name = "ab"[k % 2]
        proc = subprocess.Popen(
            [*STANCE, "label", str(inputs[name]), "-o", str(out)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.1, took))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = out.read_bytes()
        assert now in (refs[held], refs[name]), "partial or mixed output"
        held = name if now == refs[name] else held
    assert expand_paths([out.parent]) == [out]


def test_write_failures_name_the_output_but_read_failures_pass_through(tmp_path):
    """/dev/full fails every write with ENOSPC, like a full disk."""
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match="out.jsonl: cannot write: No space left"):
        with atomic_open(out) as fh:
            with open("/dev/full", "w") as full:
                full.write("x")
                full.flush()
    with pytest.raises(FileNotFoundError), atomic_open(out) as fh:
        fh.write("partial")
        open(tmp_path / "missing-input.txt")  # the caller's problem, not the output's
    assert not out.exists() and hidden(tmp_path) == []
