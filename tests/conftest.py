import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
THREADS = SHARED / "threads" if (SHARED / "threads").is_dir() else SEEDS / "threads"
STANCE = [sys.executable, "-m", "stance.cli"]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # One embedding cache per test session, never the user's.
    cache = tmp_path_factory.getbasetemp() / "stance-cache"
    monkeypatch.setenv("STANCE_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def shared_thread_files():
    return sorted(
        p
        for p in THREADS.iterdir()
        if p.suffix == ".txt" and not p.name.startswith(("ga_", "gb_"))
    )


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
        timeout=600,
    )


@pytest.fixture(scope="session")
def seed_result():
    from stance.parse import parse_paths

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
