"""The done-when check of the Dask path: a real `dask scheduler` and two
`dask worker` processes on 127.0.0.1 label 20k turns with `--scheduler`; both
workers must have labelled turns and the rows must equal the single-process
run's. The scheduler and workers are killed at the end, whatever happens.

    python bench/dask_cluster_check.py [--turns 20000] [--pool 600]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from dask_bench import write_turns  # noqa: E402
from run import STANCE, load1, machine, real_turns, synthetic  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=20_000)
    ap.add_argument("--pool", type=int, default=600)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stance-dask-check-"))
    data = tmp / "turns.jsonl"
    write_turns(data, synthetic(real_turns(), args.pool, seed=21), args.turns)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    logs = tmp / "logs"
    logs.mkdir()
    procs = []
    print(
        f"machine: {machine()}; load {load1()}; {args.turns} turns, {args.pool} texts"
    )
    try:
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(logs / "scheduler.log", "w"),
                env=env,
            )
        )
        for k in (1, 2):
            procs.append(
                subprocess.Popen(
                    [
                        BIN / "dask",
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--name",
                        f"worker-{k}",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=open(logs / f"worker-{k}.log", "w"),
                    env=env,
                )
            )
        from distributed import Client

        with Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=120)
            print("workers:", ", ".join(sorted(c.scheduler_info()["workers"])))
        t0 = time.perf_counter()
        dist = subprocess.run(
            [
                *STANCE,
                "label",
                "-q",
                str(data),
                "-o",
                str(tmp / "dask.parquet"),
                "--scheduler",
                address,
                "--cache-dir",
                str(tmp / "worker-cache"),
            ],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        t_dist = time.perf_counter() - t0
        print(
            f"$ stance label turns.jsonl -o dask.parquet --scheduler {address} "
            f"--cache-dir worker-cache   ({t_dist:.0f} s, exit {dist.returncode})"
        )
        print(dist.stderr.strip())
        t0 = time.perf_counter()
        single = subprocess.run(
            [*STANCE, "label", "-q", str(data), "-o", str(tmp / "single.parquet")],
            env={**env, "STANCE_CACHE": str(tmp / "single-cache")},
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        t_single = time.perf_counter() - t0
        print(
            f"$ stance label turns.jsonl -o single.parquet   ({t_single:.0f} s, "
            f"exit {single.returncode})"
        )
        print(single.stderr.strip())
        import pandas as pd

        a = pd.read_parquet(tmp / "dask.parquet")
        b = pd.read_parquet(tmp / "single.parquet")
        same = a.equals(b)
        workers = [ln for ln in dist.stderr.splitlines() if ln.startswith("worker ")]
        print(
            f"rows: dask {len(a)}, single {len(b)}; identical (every column, id "
            f"for id, in order): {same}"
        )
        print(f"workers that labelled turns: {len(workers)}")
        ok = same and len(workers) == 2 and dist.returncode == 0
        print("CHECK", "PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
