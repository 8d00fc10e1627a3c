"""Benchmarks: prints a table and writes bench/results/latest.md.

Run with `make bench`. Figures vary about ±20 % run to run on a 2-core machine.
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


def main() -> None:
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

    machine = f"{os.cpu_count()} cores, {cpu_model()}"
    lines = [f"Machine: {machine}. Command: `make bench` (python bench/run.py).", "",
             "| measure | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text)


if __name__ == "__main__":
    main()
