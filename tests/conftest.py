import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
THREADS = SHARED / "threads" if (SHARED / "threads").is_dir() else SEEDS / "threads"
STANCE = [sys.executable, "-m", "stance.cli"]

# Hypothesis keeps its files (failing examples, Unicode tables) outside the
# checkout (its default is ./.hypothesis), one folder per checkout so failing
# examples replay on the next run.
HYPOTHESIS_HOME = (
    Path(tempfile.gettempdir())
    / f"stance-hypothesis-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
)
set_hypothesis_home_dir(str(HYPOTHESIS_HOME))
settings.register_profile(
    "stance", database=DirectoryBasedExampleDatabase(HYPOTHESIS_HOME / "examples")
)
settings.load_profile("stance")

# Written by Python and pytest themselves, not by the tests.
NOT_THE_TESTS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}


def checkout_files() -> set[str]:
    """Every file of the checkout but the interpreter's and test runner's own."""
    found = set()
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d for d in dirs if d not in NOT_THE_TESTS and not d.endswith(".egg-info")
        ]
        found.update(str(Path(top, f).relative_to(ROOT)) for f in files)
    return found


def pytest_sessionstart(session):
    session.config._checkout_before = checkout_files()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a test created or deleted a file in the checkout.

    Tests write into tmp_path; the checkout is read-only to them (TESTING.md).
    """
    before = getattr(session.config, "_checkout_before", None)
    if before is None:
        return
    after = checkout_files()
    created, deleted = sorted(after - before), sorted(before - after)
    if created or deleted:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.section("tests wrote into the checkout", red=True)
            for f in created:
                tr.line(f"created: {f}")
            for f in deleted:
                tr.line(f"deleted: {f}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # One embedding cache per test session, never the user's.
    cache = tmp_path_factory.getbasetemp() / "stance-cache"
    monkeypatch.setenv("STANCE_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def shared_thread_files():
    """The 30 shared thread pages: ../shared/threads, or their copies in
    seeds/threads (named in its SOURCES.tsv; the gathered pages have their own)."""
    if THREADS != SEEDS / "threads":
        return sorted(p for p in THREADS.iterdir() if p.suffix == ".txt")
    listed = (THREADS / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return sorted(THREADS / line.split("\t")[0] for line in listed if line.strip())


CLI_TIMEOUT_S = 600
# `stance train` fits hundreds of small regressions; on this 2-core machine
# shared with other test runs (load 8-12) a 177-label train took over 600 s.
TRAIN_TIMEOUT_S = 1800


def run_cli(*args, cwd=None, input=None, env=None):
    """Run the real CLI in a subprocess; return CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*STANCE, *map(str, args)],
        cwd=cwd or ROOT,
        input=input,
        text=True,
        capture_output=True,
        env=full_env,
        timeout=TRAIN_TIMEOUT_S if "train" in map(str, args[:1]) else CLI_TIMEOUT_S,
    )


@pytest.fixture(scope="session")
def seed_result():
    from stance.ingest.parse import parse_paths

    return parse_paths(sorted(SEEDS.glob("*.txt")))


# Hypothesis examples run per fuzz test, printed at the end of the session.
FUZZ_CASES: dict[str, int] = {}


def count_case(name: str) -> None:
    FUZZ_CASES[name] = FUZZ_CASES.get(name, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if not FUZZ_CASES:
        return
    terminalreporter.section("fuzz cases run (Hypothesis examples)")
    for name, n in sorted(FUZZ_CASES.items()):
        terminalreporter.line(f"{name}: {n}")
    terminalreporter.line(f"total: {sum(FUZZ_CASES.values())}")


# Pages whose labels a temporary project holds back, so it has unlabelled turns.
HELD_OUT_PAGES = [
    SEEDS / "002_b8ecd36526bc7e7a.txt",
    SEEDS / "003_751fd9e7d8997e74.txt",
    SEEDS / "threads" / "gb_reddit_yurop_13c29z5_jjjwojk.txt",
    SEEDS / "threads" / "ga_lemmygrad_366617.txt",
    SEEDS / "threads" / "debatepolitics_366031.txt",
]


@pytest.fixture(scope="session")
def _held_out_template(tmp_path_factory):
    """A project: the shipped schema and model, the first round's labels minus the
    held-out pages'."""
    import csv
    import shutil

    from stance.core.normalize import normalize_text
    from stance.ingest.parse import parse_paths

    root = tmp_path_factory.mktemp("project")
    (root / "labels").mkdir()
    shutil.copy(ROOT / "labels" / "schema.toml", root / "labels" / "schema.toml")
    shutil.copytree(ROOT / "models" / "default", root / "models" / "default")
    keys = {normalize_text(t.text) for t in parse_paths(HELD_OUT_PAGES).turns}
    held = []
    # The first round's label files: enough for the loop, and `stance train` on
    # them takes a minute, where all 3,851 labels take ten.
    first_round = (
        "seeds.csv",
        "shared_threads.csv",
        "gathered_a.csv",
        "gathered_b.csv",
    )
    for f in (ROOT / "labels" / name for name in first_round):
        with open(f, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        held += [r for r in rows if normalize_text(r["text"]) in keys]
        with open(root / "labels" / f.name, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(r for r in rows if normalize_text(r["text"]) not in keys)
    return root, held


@pytest.fixture
def project(_held_out_template, tmp_path):
    """A fresh copy of the held-out project: (root, held-out label rows)."""
    import shutil

    root, held = _held_out_template
    dest = tmp_path / "project"
    shutil.copytree(root, dest)
    return dest, held


# One real Dask LocalCluster (2 worker processes on 127.0.0.1) per test module
# that asks for it (tests/scale), always closed.


@pytest.fixture(scope="module")
def dask_client():
    from stance.scale.cluster import connect

    with connect(workers=2) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.fixture(scope="module")
def dask_cache_dir(tmp_path_factory):
    """The embedding cache of the workers and of the single-process runs."""
    return tmp_path_factory.getbasetemp() / "stance-cache"
