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

from stance.core.errors import InputError
from stance.core.files import (
    atomic_directory,
    atomic_open,
    atomic_write_text,
    check_output_path,
    remove_stale_temps,
)
from stance.core.inputfiles import decode_bytes
from stance.core.writers import write_rows
from stance.ingest.parse import expand_paths
from stance.labelling.labels import LabelFile, label_files, read_labels
from stance.model.classify import StanceClassifier

WRITER = ROOT / "tests" / "killed_writer.py"
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
    LabelFile(path).append(label_row(state["rows"]))
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
    # leftovers are hidden from readers (refs/ is a subfolder of references)
    assert expand_paths([tmp_path], recursive=False) == [path]
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


# ------------------------------------------- outputs the user owns (issue 15)


def test_write_to_dev_null_keeps_the_device(tmp_path):
    """As root, a rename over /dev/null would replace the device by a file."""
    before = os.stat("/dev/null")
    if not stat.S_ISCHR(before.st_mode):
        pytest.skip("/dev/null is not a device here (an older stance replaced it?)")
    atomic_write_text("/dev/null", "nothing to keep\n")
    write_rows(Path("/dev/null"), output_rows(0, n=3))
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_write_to_dev_full_is_a_one_line_error():
    with pytest.raises(InputError, match="/dev/full: cannot write: No space left"):
        atomic_write_text("/dev/full", "x" * 100)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_gets_the_whole_output_and_stays_a_fifo(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = {}

    def read():
        with open(fifo, "rb") as fh:
            got["data"] = fh.read()

    reader = threading.Thread(target=read)
    reader.start()
    write_rows(fifo, output_rows(0, n=50))
    reader.join(timeout=30)
    ref = tmp_path / "ref.jsonl"
    write_rows(ref, output_rows(0, n=50))
    assert got["data"] == ref.read_bytes()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert hidden(tmp_path) == []


def test_a_link_to_proc_self_fd_1_writes_stdout_and_stays_a_link(tmp_path):
    link = tmp_path / "out.jsonl"
    link.symlink_to("/proc/self/fd/1")
    page = tmp_path / "p.txt"
    page.write_text("The pact was a crime against Poland, plain and simple.\n")
    res = run_cli("parse", page, "-o", link)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["text"].startswith("The pact was a crime")
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "p.txt"]


def test_dash_is_stdout(tmp_path):
    page = tmp_path / "p.txt"
    page.write_text("The pact was a crime against Poland, plain and simple.\n")
    res = run_cli("parse", page, "-o", "-")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["text"].startswith("The pact")
    assert not (ROOT / "-").exists()


def test_stdout_gets_nothing_when_a_later_row_fails(capfd):
    """Rows go to stdout only once all are there (issue 15 row 9)."""

    def rows():
        yield from output_rows(0, n=5000)
        raise InputError("late.jsonl", "duplicate id 'x' (ids must be unique)", 9)

    with pytest.raises(InputError, match="late.jsonl line 9"):
        write_rows(None, rows())
    assert capfd.readouterr().out == ""
    assert write_rows(None, output_rows(0, n=3)) == 3
    assert len(capfd.readouterr().out.splitlines()) == 3


def test_a_symlinked_output_writes_its_target_and_keeps_the_link(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "out.jsonl"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    link = tmp_path / "mine.jsonl"
    link.symlink_to(target)
    write_rows(link, output_rows(0, n=2))
    assert link.is_symlink() and link.resolve() == target
    assert len(target.read_text().splitlines()) == 2
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert hidden(tmp_path) == [] and hidden(shared) == []
    dangling = tmp_path / "new.jsonl"
    dangling.symlink_to(shared / "new-target.jsonl")
    write_rows(dangling, output_rows(0, n=1))
    assert dangling.is_symlink() and (shared / "new-target.jsonl").is_file()


def test_atomic_directory_keeps_the_mode_of_the_directory_it_replaces(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as d:
        (d / "a").write_text("1")
    os.chmod(target, 0o755)
    os.chmod(target / "a", 0o644)
    with atomic_directory(target) as d:
        (d / "a").write_text("2")
        (d / "b").write_text("3")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # not mkdtemp's 0700
    assert stat.S_IMODE((target / "a").stat().st_mode) == 0o644
    old = os.umask(0o027)
    try:
        with atomic_directory(tmp_path / "fresh") as d:
            (d / "a").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o750


def _tree(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _tiny_model():
    from fakes import fitted

    return fitted()


def test_train_output_never_replaces_a_folder_of_user_files(tmp_path):
    """Issue 15 rows 1 and 2: `-o labels` used to swap the label folder out."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "seeds.csv").write_text("text,stance\nsome text,favor\n")
    (labels / "schema.toml").write_text('name = "x"\n')
    before = _tree(labels)
    with pytest.raises(InputError, match="not a stance model folder"):
        _tiny_model().save(labels)
    assert _tree(labels) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]
    # A model folder the user added a file to is refused as well.
    model = tmp_path / "model"
    _tiny_model().save(model)
    (model / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="also holds notes.txt"):
        _tiny_model().save(model)
    assert (model / "notes.txt").read_text() == "mine"


def test_train_cli_refuses_a_label_folder_before_any_work(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    for f in ("seeds.csv", "schema.toml"):
        (labels / f).write_bytes((ROOT / "labels" / f).read_bytes())
    before = _tree(labels)
    t0 = time.perf_counter()
    res = run_cli("train", labels / "seeds.csv", "-o", labels)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: {labels}: not a stance model folder (it holds schema.toml, "
        "seeds.csv); not replacing it: train into a new folder or an existing "
        "model folder"
    ]
    assert time.perf_counter() - t0 < 30  # refused before cross-validation
    assert _tree(labels) == before


def test_a_replaced_model_is_kept_as_dir_prev(tmp_path):
    from stance.model.classify import StanceClassifier

    target = tmp_path / "model"
    first = _tiny_model()
    first.save(target, extra_config={"v": 1})
    os.chmod(target, 0o755)
    _tiny_model().save(target, extra_config={"v": 2})
    prev = tmp_path / "model.prev"
    assert StanceClassifier.load(prev, check_encoder=False).config_["v"] == 1
    assert StanceClassifier.load(target, check_encoder=False).config_["v"] == 2
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # issue 15 row 18
    _tiny_model().save(target, extra_config={"v": 3})
    assert StanceClassifier.load(prev, check_encoder=False).config_["v"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.prev"]
    # A `.prev` that is not a model is the user's: refused, nothing replaced.
    shutil_rmtree(prev)
    prev.mkdir()
    (prev / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="model.prev: not a stance model folder"):
        _tiny_model().save(target, extra_config={"v": 4})
    assert StanceClassifier.load(target, check_encoder=False).config_["v"] == 3
    assert (prev / "keep.txt").read_text() == "mine"


def test_a_symlinked_model_folder_is_replaced_behind_the_link(tmp_path):
    from stance.model.classify import StanceClassifier

    real = tmp_path / "v3"
    _tiny_model().save(real, extra_config={"v": 1})
    link = tmp_path / "current"
    link.symlink_to(real)
    _tiny_model().save(link, extra_config={"v": 2})
    assert link.is_symlink() and link.resolve() == real
    assert StanceClassifier.load(real, check_encoder=False).config_["v"] == 2
    assert (tmp_path / "v3.prev").is_dir()


def shutil_rmtree(path):
    import shutil

    shutil.rmtree(path)


# ------------------------------------------- real pages re-encoded (issue 15)

ENCODINGS = ROOT / "tests" / "fixtures" / "encodings"
MANIFEST = json.loads((ENCODINGS / "manifest.json").read_text(encoding="utf-8"))
# Measured (`python tests/fixtures/encodings/make.py --measure`): a 1.4 KB
# English page with 13 Cyrillic letters in KOI8-R is read as cp1256.
MISREAD = {"citizenwald.koi8-r.txt": 13}


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_real_pages_re_encoded_are_read_back(case, caplog):
    """Rows 5 and 6: cp1250 read as cp1252 ("Mo³otow"); one stray byte in
    UTF-8 read the page as mac_iceland."""
    import sys

    sys.path.insert(0, str(ENCODINGS))
    from make import expected

    data = (ENCODINGS / case["file"]).read_bytes()
    want = expected(case["source"], case["encoding"], case["stray"])
    got, used = decode_bytes(data, case["file"])
    wrong = sum(a != b for a, b in zip(got, want, strict=True))
    assert wrong == MISREAD.get(case["file"], 0), used
    if case["stray"]:
        n = sum(case["stray"].values())
        assert used == f"utf-8 ({n} bad byte{'s' if n > 1 else ''} replaced)"
        assert [r.getMessage() for r in caplog.records] == [
            f"{case['file']}: {n} byte{'s' if n > 1 else ''} not UTF-8, shown as \ufffd"
        ]
    else:
        assert not caplog.records


def test_the_fixtures_are_what_make_py_writes():
    import sys

    sys.path.insert(0, str(ENCODINGS))
    from make import FIXTURES, encoded

    assert [c["file"] for c in MANIFEST] == [f[0] for f in FIXTURES]
    for name, source, encoding, stray in FIXTURES:
        assert (ENCODINGS / name).read_bytes() == encoded(source, encoding, stray)


def test_a_legacy_page_is_not_taken_for_utf8_with_stray_bytes():
    """A cp1252 page has no valid UTF-8 sequences to outnumber its bad bytes."""
    text = "Le café, la tête, naïvement: « déjà vu » à Moscou en 1939.\n" * 5
    got, used = decode_bytes(text.encode("cp1252"), "fr.txt")
    assert (got, used) == (text, "cp1252")
