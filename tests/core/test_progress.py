"""Progress bars: on stderr at a terminal (a pty here), never in a pipe or with
--quiet; the library reports each stage's units to whatever `Progress` it gets."""

import os
import pty
import select
import subprocess
import time

import numpy as np
import pytest
from conftest import ROOT, SEEDS, STANCE, run_cli

from stance.core.progress import NO_PROGRESS, Progress, Task, on_terminal, progress_bars

PAGES = [SEEDS / "000_da80d79405789213.txt", SEEDS / "001_7c0e47e3dafd298f.txt"]


def run_at_terminal(*args, cwd=None, timeout=600):
    """Run the CLI with stderr on a pty (stdout a pipe); return (code, stdout, tty)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    proc = subprocess.Popen(
        [*STANCE, *map(str, args)],
        cwd=cwd or ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the pty
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    out = proc.stdout.read().decode()
    proc.wait(timeout=60)
    return proc.returncode, out, seen.decode(errors="replace")


BAR = "━"  # rich's bar


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, stage",
    [
        (["label", *PAGES], "labelling"),
        (["report", *PAGES, "-o", "{tmp}/r.md"], "embedding and labelling"),
        (["suggest", *PAGES, "-n", "3"], "labelling"),
    ],
    ids=["label", "report", "suggest"],
)
def test_bars_at_a_terminal_none_in_a_pipe_or_with_quiet(tmp_path, argv, stage):
    argv = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, tty = run_at_terminal(*argv)
    assert code == 0, tty
    assert stage in tty and BAR in tty and "turns/s" in tty, tty
    assert "eta" in tty
    # in a pipe: the one summary line, no bar
    res = run_cli(*argv)
    assert res.returncode == 0, res.stderr
    assert BAR not in res.stderr and "turns/s" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    # at a terminal with --quiet: no bar either
    code, out_q, tty_q = run_at_terminal(*argv, "--quiet")
    assert code == 0, tty_q
    assert BAR not in tty_q and "turns/s" not in tty_q
    assert out_q == out  # the output itself never changes


@pytest.mark.slow
def test_train_shows_its_stages_at_a_terminal(tmp_path):
    import csv

    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "schema.toml").write_text(
        (ROOT / "labels" / "schema.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with open(ROOT / "labels" / "seeds.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(labels / "l.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, out, tty = run_at_terminal(
        "train", "--repeats", 1, "-o", tmp_path / "m", cwd=tmp_path, timeout=1800
    )
    assert code == 0, tty
    for stage in ("embedding labels", "cross-validation", "final fit on all labels"):
        assert stage in tty, (stage, tty)
    assert "folds/s" in tty and BAR in tty


class Recording(Progress):
    """Remembers every task and how far it got."""

    def __init__(self):
        self.tasks = []

    def task(self, description, total=None, unit="turns"):
        rec = _RecordingTask(description, total, unit)
        self.tasks.append(rec)
        return rec


class _RecordingTask(Task):
    def __init__(self, description, total, unit):
        self.description, self.total, self.unit, self.done = description, total, unit, 0

    def advance(self, n=1):
        self.done += n


def test_cross_validation_counts_every_fold_of_every_method():
    from stance.model.evaluate import cross_validate, majority_method

    y = np.array(["favor", "against", "none", "none"] * 10)
    groups = np.array([f"c{i // 4}" for i in range(40)])
    rec = Recording()
    methods = {"a": majority_method(y), "b": majority_method(y)}
    cross_validate(
        methods,
        y,
        groups,
        ["favor", "against", "none"],
        ["favor", "against"],
        repeats=3,
        progress=rec,
    )
    (task,) = rec.tasks
    assert task.unit == "folds" and task.total == 2 * 3 * 5 == task.done


def test_labelling_advances_by_every_turn_skipped_or_not():
    from fakes import TEXTS, FakeEmbedder, Y

    from stance.core.thread import Turn
    from stance.model.classify import StanceClassifier
    from stance.model.predict import predict_rows

    model = StanceClassifier(embedder=FakeEmbedder()).fit(TEXTS, Y)
    model.config_ = {}
    turns = [
        Turn(str(i), None, "c", None, None, text, {"lang": "ru" if i % 3 else "en"})
        for i, text in enumerate(TEXTS * 40)
    ]
    rec = Recording()
    rows = list(predict_rows(turns, model, progress=rec, total=len(turns)))
    (task,) = rec.tasks
    assert task.total == task.done == len(turns) == len(rows)
    assert rows == list(predict_rows(turns, model))  # same rows without bars


def test_bars_are_off_unless_asked_and_stderr_is_a_terminal():
    assert on_terminal(open(os.devnull, "w")) is False
    with progress_bars(False) as bars:
        assert bars is NO_PROGRESS
        bars.task("x", total=3).advance(3)  # does nothing, fails nothing
