"""Benchmarks: prints a table and writes bench/results/latest.md.

Run with `make bench`; `python bench/run.py --only single-line-page` runs one
measure and writes bench/results/single-line-page.md. Figures vary about ±20 %
run to run on a 2-core machine.
"""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def wall(cmd: list[str], env=None, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def real_turns() -> list[str]:
    from stance.parse import parse_paths

    res = parse_paths([ROOT / "seeds", ROOT / "seeds" / "threads"])
    return [t.text for t in res.turns if 40 <= len(t.text.split()) <= 150]


def synthetic(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """Recombine real turns: halves of two turns, so most are new texts."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.sample(texts, 2)
        wa, wb = a.split(), b.split()
        out.append(" ".join(wa[: len(wa) // 2] + wb[len(wb) // 2 :]))
    return out


def single_line_page(path: Path, size: int, seed: int = 0) -> Path:
    """A page of `size` bytes without a line break: real thread words, shuffled."""
    threads = ROOT.parent / "shared" / "threads"
    if not threads.is_dir():
        threads = ROOT / "seeds" / "threads"
    words = " ".join(
        p.read_text(encoding="utf-8") for p in sorted(threads.glob("*.txt"))
    ).split()
    rng = random.Random(seed)
    out, n = [], 0
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w.encode("utf-8")) + 1
    path.write_bytes(" ".join(out).encode("utf-8")[:size])
    return path


def run_measured(cmd: list[str], env=None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one subprocess, from its own rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr.read().decode()[-500:]}")
    return took, usage.ru_maxrss / 1024


def bench_single_line_page(env) -> list[tuple[str, str, str]]:
    """`stance parse` on pages with no line breaks: 5 MB and 50 MB."""
    rows, times = [], {}
    tmp = Path(tempfile.mkdtemp(prefix="stance-bench-page-"))
    stance = [sys.executable, "-m", "stance.cli"]
    for mb in (5, 50):
        page = single_line_page(tmp / f"one-line-{mb}mb.txt", mb * 1_000_000)
        out = tmp / f"turns-{mb}.jsonl"
        took, rss = run_measured([*stance, "parse", str(page), "-o", str(out)], env)
        times[mb] = took
        rows.append(
            (
                f"`stance parse` {mb} MB page without line breaks",
                f"{took:.1f} s, peak RSS {rss:.0f} MB",
                "peak RSS <= 2048 MB" if mb == 50 else "-",
            )
        )
        page.unlink()
        out.unlink()
    rows.append(
        (
            "single-line page time ratio 50 MB / 5 MB",
            f"{times[50] / times[5]:.1f}x",
            "<= 12x (no quadratic step)",
        )
    )
    return rows


def write_table(rows, name: str) -> None:
    machine = f"{os.cpu_count()} cores, {cpu_model()}"
    command = "`make bench` (python bench/run.py)"
    if name != "latest":
        command = f"`python bench/run.py --only {name}`"
    lines = [
        f"Machine: {machine}. Command: {command}.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text)


ONLY = {"single-line-page": bench_single_line_page}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(ONLY), help="run one measure only")
    args = parser.parse_args()
    if args.only:
        env = {**os.environ, "STANCE_CACHE": tempfile.mkdtemp(prefix="stance-bench-")}
        write_table(ONLY[args.only](env), args.only)
        return
    rows = []
    env = {**os.environ, "STANCE_CACHE": tempfile.mkdtemp(prefix="stance-bench-")}
    stance = [sys.executable, "-m", "stance.cli"]
    seed = str(ROOT / "seeds" / "003_751fd9e7d8997e74.txt")

    t = wall([*stance, "--help"], env)
    rows.append(("`stance --help` wall time", f"{t:.2f} s", "<= 0.5 s"))
    t = wall([sys.executable, "-c", "import stance.cli"], env)
    rows.append(("import of stance.cli (fresh process)", f"{t:.2f} s", "-"))
    subprocess.run([*stance, "label", seed, "-o", os.devnull], cwd=ROOT, env=env,
                   capture_output=True)  # exports the ONNX graph once
    t = wall([*stance, "label", seed, "-o", os.devnull], env)
    rows.append(("`stance label` one seed page, fresh process (cached graph)",
                 f"{t:.2f} s", "<= 2 s"))

    texts = real_turns()
    from stance.dedup import find_duplicates

    times = {}
    for n in (10_000, 100_000):
        data = synthetic(texts, n)
        t0 = time.perf_counter()
        find_duplicates(data)
        times[n] = time.perf_counter() - t0
        rows.append((f"near-duplicate dedup, {n:,} recombined turns",
                     f"{times[n]:.1f} s", "<= 30 s at 100k"))
    rows.append(("dedup time ratio 100k / 10k", f"{times[100_000] / times[10_000]:.1f}x",
                 "<= 12x"))

    os.environ["STANCE_CACHE"] = env["STANCE_CACHE"]
    from stance.embed import Embedder, EmbeddingCache, TorchEncoder

    sample = synthetic(texts, 200, seed=1)
    torch_enc = TorchEncoder()
    t0 = time.perf_counter()
    torch_enc.encode(sample)
    plain = len(sample) / (time.perf_counter() - t0)
    cache = EmbeddingCache(Path(env["STANCE_CACHE"]) / "bench.sqlite")
    emb = Embedder("onnx", cache=cache)
    _ = emb.encoder  # load outside the timing, as plain encode above
    t0 = time.perf_counter()
    emb.embed(sample)
    cold = len(sample) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    emb.embed(sample)
    warm = len(sample) / (time.perf_counter() - t0)
    rows.append(("plain SentenceTransformer.encode, 200 turns of 40-150 words",
                 f"{plain:.1f} turns/s", "-"))
    rows.append(("pipeline embed, cold cache (onnx)", f"{cold:.1f} turns/s "
                 f"({cold / plain:.2f}x plain)", ">= 0.85x plain"))
    rows.append(("pipeline embed, warm cache", f"{warm:.0f} turns/s "
                 f"({warm / cold:.0f}x cold)", ">= 50x cold"))

    rows += bench_single_line_page(env)
    write_table(rows, "latest")


if __name__ == "__main__":
    main()
