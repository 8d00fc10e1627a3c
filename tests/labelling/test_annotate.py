"""The terminal labelling loop: keys from the schema, durable answers, undo, resume."""

import csv
import os
import re
import signal
import subprocess
import time

import pytest
from conftest import HELD_OUT_PAGES, ROOT, STANCE, run_cli

from stance.core.normalize import text_key
from stance.core.thread import Turn
from stance.labelling.annotate import (
    Item,
    annotate_loop,
    label_keys,
    legend,
    read_skipped,
    resolve_key,
)
from stance.labelling.labels import read_labels
from stance.labelling.suggest import Candidate

NAMES3 = ("favor", "against", "none")
NAMES4 = ("support", "deny", "query", "comment")


def test_keys_follow_the_schema():
    assert label_keys(NAMES3) == {
        "1": "favor",
        "2": "against",
        "3": "none",
        "f": "favor",
        "a": "against",
        "n": "none",
    }
    # s and q are control keys (skip, quit): those labels keep their digit only
    assert label_keys(NAMES4) == {
        "1": "support",
        "2": "deny",
        "3": "query",
        "4": "comment",
        "d": "deny",
        "c": "comment",
    }
    # a first letter two labels share is no key
    assert label_keys(("pro", "pass", "con")) == {
        "1": "pro",
        "2": "pass",
        "3": "con",
        "c": "con",
    }
    assert "[1] support" in legend(label_keys(NAMES4), NAMES4)
    assert "[2/d] deny" in legend(label_keys(NAMES4), NAMES4)


@pytest.mark.parametrize(
    "key,expected",
    [
        ("1", ("label", "favor")),
        ("F", ("label", "favor")),
        ("against", ("label", "against")),
        (" None ", ("label", "none")),
        ("s", ("skip",)),
        ("U", ("undo",)),
        ("q", ("quit",)),
        ("?", ("help",)),
        ("4", None),
        ("x", None),
    ],
)
def test_resolve_key(key, expected):
    assert resolve_key(key, label_keys(NAMES3), NAMES3) == expected


def _items(n):
    out = []
    for i in range(n):
        t = Turn(f"c:{i}", None, "c", None, None, f"turn number {i}", {})
        cand = Candidate(t, dict.fromkeys(NAMES3, 1 / 3), "favor", 1 / 3, 1.0)
        out.append(Item(cand))
    return out


def test_loop_labels_skips_undoes_and_quits(tmp_path):
    from rich.console import Console

    path = tmp_path / "mine.csv"
    keys = iter(["1", "zz", "s", "u", "a", "u", "3", "s", "q"])
    console = Console(file=open(os.devnull, "w"))
    summary = annotate_loop(
        _items(5), path, NAMES3, lambda: next(keys, None), console, "tester"
    )
    labs = read_labels(path, NAMES3)
    assert [(lab.text, lab.stance) for lab in labs] == [
        ("turn number 0", "favor"),
        ("turn number 1", "none"),
    ]
    assert all(lab.annotator == "tester" and lab.id for lab in labs)
    assert read_skipped(path) == {text_key("turn number 2")}
    assert (summary.labelled, summary.skipped, summary.undone) == (2, 1, 2)
    assert summary.position == 3 and summary.remaining == 2


def test_annotate_writes_through_a_symlinked_label_file(project):
    """Issue 15 row 4: `--labels mine.csv`, a link to a shared file."""
    root, _ = project
    shared = root / "shared"
    shared.mkdir()
    target = shared / "team.csv"
    target.write_text("text,stance,id,conversation_id,source,annotator,note\r\n")
    link = root / "labels" / "mine.csv"
    link.symlink_to(target)
    res = run_cli(
        "annotate", *HELD_OUT_PAGES[:2], "-l", link, cwd=root, input="1\ns\n3\nu\nq\n"
    )
    assert res.returncode == 0, res.stderr
    assert link.is_symlink() and link.resolve() == target
    assert [lab.stance for lab in read_labels(target, NAMES3)] == ["favor"]
    assert read_skipped(target) and not (root / "labels" / "mine.csv.skipped").exists()
    assert not (root / "labels" / "mine.csv.lock").exists()


def test_loop_stops_at_end_of_input(tmp_path):
    from rich.console import Console

    path = tmp_path / "mine.csv"
    keys = iter(["2"])
    summary = annotate_loop(
        _items(3),
        path,
        NAMES3,
        lambda: next(keys, None),
        Console(file=open(os.devnull, "w")),
    )
    assert summary.labelled == 1 and summary.remaining == 2
    assert [lab.stance for lab in read_labels(path, NAMES3)] == ["against"]


def _shown_ids(stdout: str) -> list[str]:
    return re.findall(r"\d+/\d+ · \S+ · (\S+) ", stdout)


@pytest.mark.slow
def test_annotate_cli_session_undo_and_resume(project):
    root, _ = project
    target = root / "labels" / "mine.csv"
    sug = run_cli("suggest", *HELD_OUT_PAGES, "-n", 4, cwd=root)
    assert sug.returncode == 0, sug.stderr
    order = [r["id"] for r in csv.DictReader(sug.stdout.splitlines())]

    keys = "1\nx\ns\nu\na\nu\n3\nq\n"
    res = run_cli("annotate", *HELD_OUT_PAGES, "--labels", target, cwd=root, input=keys)
    assert res.returncode == 0, res.stderr
    assert "unknown key 'x'" in res.stdout
    assert "2 labels added" in res.stdout and "2 undone" in res.stdout
    assert _shown_ids(res.stdout)[:2] == order[:2]  # the same order as suggest
    with open(target, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["id"], r["stance"]) for r in rows] == [
        (order[0], "favor"),
        (order[1], "none"),
    ]
    assert all(r["conversation_id"] and r["source"] for r in rows)

    # resume: labelled turns are not asked again; a skip is remembered
    res = run_cli("annotate", *HELD_OUT_PAGES, "-l", target, cwd=root, input="s\n")
    assert res.returncode == 0, res.stderr
    assert _shown_ids(res.stdout)[0] == order[2]
    res = run_cli("annotate", *HELD_OUT_PAGES, "-l", target, cwd=root, input="q\n")
    assert _shown_ids(res.stdout) == [order[3]]
    assert "1 skipped before" in res.stdout
    res = run_cli(
        "annotate",
        *HELD_OUT_PAGES,
        "-l",
        target,
        "--include-skipped",
        cwd=root,
        input="",
    )
    assert _shown_ids(res.stdout) == [order[2]]
    assert len(read_labels(target, NAMES3)) == 2


@pytest.mark.slow
def test_annotate_shows_the_parent_turn(project):
    from stance.ingest.chains import build_chains
    from stance.ingest.parse import parse_paths

    root, _ = project
    page = [p for p in HELD_OUT_PAGES if "reddit" in p.name]
    turns = list(parse_paths(page).turns)
    chains = build_chains(turns)
    res = run_cli(
        "annotate", *page, "-l", root / "labels" / "m.csv", cwd=root, input="s\n" * 40
    )
    assert res.returncode == 0, res.stderr
    by_id = {t.id: t for t in turns}
    shown = _shown_ids(res.stdout)
    assert len(shown) >= 3
    with_parent = [i for i in shown if chains.parent.get(i)]
    assert with_parent
    flat = " ".join(res.stdout.split())
    for tid in with_parent:
        parent = by_id[chains.parent[tid]]
        assert " ".join(parent.text.split())[:30] in flat
        assert f"({chains.links[tid].evidence})" in flat
    assert "model: " in res.stdout


@pytest.mark.slow
def test_killed_session_keeps_every_answer(project):
    """kill -9 after two answers: both are in the file, and it parses."""
    root, _ = project
    target = root / "labels" / "mine.csv"
    proc = subprocess.Popen(
        [*STANCE, "annotate", *map(str, HELD_OUT_PAGES), "-l", str(target)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ},
    )
    try:
        proc.stdin.write("2\n3\n")
        proc.stdin.flush()
        deadline = time.time() + 300
        while time.time() < deadline:
            if target.exists() and len(target.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [lab.stance for lab in read_labels(target, NAMES3)] == ["against", "none"]


@pytest.fixture
def four_label_project(tmp_path):
    """A debate with support/deny/query/comment and a model trained under it."""
    from stance.core.schema import read_schema
    from stance.labelling.labels import load_labels
    from stance.model.classify import StanceClassifier

    root = tmp_path / "rumour"
    (root / "labels").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "labels" / "schema.toml").write_text(
        'name = "rumour-sdqc"\ntarget = "the rumour is true"\n'
        'sides = ["support", "deny"]\n'
        + "".join(f'[[labels]]\nname = "{n}"\n' for n in NAMES4),
        encoding="utf-8",
    )
    schema = read_schema(root / "labels" / "schema.toml")
    # a test model only: the shipped labels under this schema's names
    rename = {"favor": "support", "against": "deny", "none": "comment"}
    labs = load_labels([ROOT / "labels" / "shared_threads.csv"], NAMES3)[:90]
    model = StanceClassifier().fit(
        [lab.text for lab in labs], [rename[lab.stance] for lab in labs]
    )
    model.save(
        root / "models" / "default",
        extra_config={
            "schema": {
                "name": schema.name,
                "labels": list(schema.names),
                "sides": list(schema.sides),
            }
        },
    )
    return root


@pytest.mark.slow
def test_annotate_with_a_four_label_schema(four_label_project):
    root = four_label_project
    target = root / "labels" / "sdqc.csv"
    res = run_cli(
        "annotate",
        *HELD_OUT_PAGES,
        "-l",
        target,
        cwd=root,
        input="3\n4\nd\n1\nc\nq\n",
    )
    assert res.returncode == 0, res.stderr
    assert "[1] support  [2/d] deny  [3] query  [4/c] comment  [s] skip" in res.stdout
    assert [lab.stance for lab in read_labels(target, NAMES4)] == [
        "query",
        "comment",
        "deny",
        "support",
        "comment",
    ]


def _read_until(fd, pattern: bytes, timeout: float = 300) -> bytes:
    import select

    buf = b""
    deadline = time.time() + timeout
    while pattern not in buf and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


@pytest.mark.slow
def test_terminal_takes_single_key_presses_and_ctrl_c(project):
    """At a terminal (a pty here) one key press answers, no Enter; Ctrl-C ends
    the session with every answer kept."""
    import fcntl
    import pty
    import termios

    root, _ = project
    target = root / "labels" / "tty.csv"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*STANCE, "annotate", *map(str, HELD_OUT_PAGES), "-l", str(target)],
        cwd=root,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "COLUMNS": "100"},
        start_new_session=True,  # the pty becomes its terminal: Ctrl-C is SIGINT
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    try:
        assert b"[q] quit" in _read_until(master, b"[q] quit")
        os.write(master, b"n")
        after = _read_until(master, b"-> none", 60)
        assert b"-> none" in after
        # the next prompt may have come in the same read as the answer
        if b"[q] quit" not in after.split(b"-> none", 1)[1]:
            assert b"[q] quit" in _read_until(master, b"[q] quit", 60)
        os.write(master, b"\x03")  # Ctrl-C
        out = _read_until(master, b"turns left", 60)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"1 labels added" in out
    assert [lab.stance for lab in read_labels(target, NAMES3)] == ["none"]


@pytest.mark.slow
def test_annotate_in_a_fresh_init_folder_uses_zero_shot(tmp_path):
    """`stance init` with four labels, no model yet: annotate works at once."""
    res = run_cli(
        "init",
        tmp_path / "rumour",
        "--target",
        "The rumour is true",
        "--labels",
        ",".join(NAMES4),
    )
    assert res.returncode == 0, res.stderr
    root = tmp_path / "rumour"
    res = run_cli(
        "annotate",
        HELD_OUT_PAGES[3],
        "--labels",
        "labels/labels.csv",
        cwd=root,
        input="3\nc\n2\n",
    )
    assert res.returncode == 0, res.stderr
    assert "model zero-shot" in res.stdout and "3 labels added" in res.stdout
    labs = read_labels(root / "labels" / "labels.csv", NAMES4)
    assert [lab.stance for lab in labs] == ["query", "comment", "deny"]
