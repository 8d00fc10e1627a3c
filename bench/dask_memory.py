"""Where a Dask worker's memory goes on a long cache-hit run (issue 19).

    python bench/dask_memory.py trace N --cache WCACHE   RSS of both workers every
        15 s during `stance label --workers 2` on N cache-hit turns (`meta.lang`
        given), with the output's size as progress
    python bench/dask_memory.py inproc N --cache WCACHE  `scale.label.label_block`
        on the same turns in this process, without Dask: RSS and the number of
        Python objects every 20 blocks

WCACHE must hold the pool's 600 texts (`dask_bench.py hits --cache WCACHE` fills
it). Results in BENCHMARKS.md (*Dask*, "Re-measured on an idle machine").
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from dask_bench import STANCE, children, env_with, write_turns  # noqa: E402
from run import real_turns, synthetic  # noqa: E402

MB = 2**20


def memory(pid="self") -> tuple[int, int]:
    """(VmRSS, VmHWM) in MB."""
    status = Path(f"/proc/{pid}/status").read_text()

    def get(key):
        return int(status.split(key + ":")[1].split()[0]) // 1024

    return get("VmRSS"), get("VmHWM")


def turns_file(tmp: Path, n: int) -> Path:
    from stance.ingest.lang import detect_language

    pool = synthetic(real_turns(), 600, seed=21)
    path = tmp / "turns.jsonl"
    write_turns(path, pool, n, langs=[detect_language(t) for t in pool])
    return path


def trace(n: int, cache: Path, tmp: Path) -> None:
    big = turns_file(tmp, n)
    cmd = [*STANCE, "label", "-q", "--workers", "2", "--cache-dir", str(cache)]
    t0 = time.time()
    proc = subprocess.Popen(
        [*cmd, str(big), "-o", str(tmp / "out.jsonl")],
        cwd=ROOT,
        env=env_with(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while proc.poll() is None:
        workers = []
        for pid in children(proc.pid):
            try:
                line = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"spawn_main" in line or b"multiprocessing" in line:
                    rss, peak = memory(pid)
                    workers.append(f"{rss}/{peak}")
            except (OSError, IndexError):
                continue
        out = sum(f.stat().st_size for f in tmp.glob(".out*")) // MB
        print(
            f"{time.time() - t0:6.0f} s  output {out} MB  workers RSS/peak MB: "
            + " ".join(workers),
            flush=True,
        )
        time.sleep(15)
    print(f"exit {proc.returncode}, wall {time.time() - t0:.0f} s")


def inproc(n: int, cache: Path, tmp: Path) -> None:
    from stance.core.schema import find_schema
    from stance.ingest.lang import ENCODER_LANGUAGES
    from stance.scale.label import jsonl_blocks, label_block, make_job

    big = turns_file(tmp, n)
    schema = find_schema(ROOT / "labels" / "schema.toml")
    job = make_job(None, schema, False, cache, ENCODER_LANGUAGES, None)
    t0 = time.time()
    for i, block in enumerate(jsonl_blocks(big, 0, 5000)):
        label_block(job, block)
        if i % 20 == 0:
            rss, peak = memory()
            print(
                f"{time.time() - t0:6.0f} s  block {i} ({(i + 1) * 5000:,} turns)"
                f"  RSS {rss} MB, peak {peak} MB, objects {len(gc.get_objects()):,}",
                flush=True,
            )
    rss, peak = memory()
    print(f"end: RSS {rss} MB, peak {peak} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["trace", "inproc"])
    ap.add_argument("n", type=int)
    ap.add_argument("--cache", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="stance-dask-memory-") as tmp:
        {"trace": trace, "inproc": inproc}[args.what](
            args.n, Path(args.cache).resolve(), Path(tmp)
        )


if __name__ == "__main__":
    main()
