"""Benchmarks of the Dask path (`make bench-dask`); prints Markdown rows.

    python bench/dask_bench.py cold [--turns 400]      cold encoding, 1 vs 2 workers
    python bench/dask_bench.py hits [--sizes 1000000,10000000] [--parsed]
                                  cache-hit labelling on a 2-worker LocalCluster
    python bench/dask_bench.py flat [--sizes 100000,1000000] [--parsed]
                                  single-process `stance label` peak RSS (IdSet)

`--parsed` gives the turns `meta.lang`, as `stance parse` writes them: labelling
then reads the language instead of detecting it (py3langid, ~0.8 ms a turn,
most of a cache hit's cost).
    python bench/dask_bench.py dedup [--turns 100000]
                                  parse-time dedup, Dask vs single process

Peak RSS is each process's own VmHWM from /proc, read every 100 ms, for the
command and every process under it (the LocalCluster's nannies and workers).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from run import STANCE, count_lines, load1, machine, real_turns, synthetic  # noqa: E402

MB = 2**20


def children(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = []
        # every thread's children: a LocalCluster's nanny spawns its worker
        # from the event-loop thread, not the main one
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids += (task / "children").read_text().split()
            except OSError:
                continue
        for k in map(int, kids):
            out.append(k)
            todo.append(k)
    return out


def vmhwm(pid: int) -> tuple[int, str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return 0, ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024, cmd
    return 0, cmd


def run_tree(
    cmd: list[str], env: dict
) -> tuple[float, int, dict[int, tuple[int, str]]]:
    """Wall time, the command's peak RSS, and each descendant's (peak, cmdline)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        own, kids = 0, {}
        while proc.poll() is None:
            own = max(own, vmhwm(proc.pid)[0])
            for k in children(proc.pid):
                peak, line = vmhwm(k)
                if peak:
                    kids[k] = (max(peak, kids.get(k, (0, ""))[0]), line)
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{cmd} failed: {err.read().decode()[-2000:]}")
        err.seek(0)
        tail = err.read().decode()
    return wall, own, kids, tail


def write_turns(
    path: Path, pool: list[str], n: int, prefix: str = "", langs: list[str] = ()
) -> None:
    """N turns in threads of 50 cycling through `pool`; with `langs` (one per pool
    text) each turn carries `meta.lang`, as `stance parse` writes it."""
    rng = random.Random(3)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            conv, k = f"{prefix}c{i // 50}", i % 50
            rec = {
                "id": f"{conv}:{k}",
                "conversation_id": conv,
                "speaker": f"u{rng.randrange(5000)}",
                "reply_to": None if k == 0 else f"{conv}:{rng.randrange(k)}",
                "text": pool[i % len(pool)],
            }
            if langs:
                rec["meta"] = {"lang": langs[i % len(pool)]}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def pool_languages(args, pool: list[str]) -> list[str]:
    """Each pool text's language (`--parsed`: turns as `stance parse` writes
    them, so labelling reads `meta.lang` instead of detecting it), or none."""
    if not args.parsed:
        return []
    from stance.ingest.lang import detect_language

    return [detect_language(t) for t in pool]


def pool_setup(args, what: str):
    """A temporary folder, the cache, the pool of `--pool` texts written as
    `pool.jsonl`, their languages (`--parsed`) and the environment."""
    tmp = Path(tempfile.mkdtemp(prefix=f"stance-dask-{what}-"))
    cache = Path(args.cache) if args.cache else tmp / "cache"
    pool = synthetic(real_turns(), args.pool, seed=args.seed)
    pool_file = tmp / "pool.jsonl"
    write_turns(pool_file, pool, len(pool), prefix="p")
    return tmp, cache, pool, pool_file, pool_languages(args, pool), env_with(cache)


def parsed(args) -> str:
    return ", `meta.lang` given" if args.parsed else ""


def row(*cells) -> None:
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)


def env_with(cache: Path) -> dict:
    return {**os.environ, "STANCE_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}


def cold(args) -> None:
    """Cold encoding: the same turns, a fresh cache each run, 1 then 2 workers.

    Each cluster's workers load the model (and encode a few other turns) before
    the clock starts, so the rows time the encoding itself.
    """
    from stance.core.schema import find_schema
    from stance.ingest.lang import ENCODER_LANGUAGES
    from stance.scale.cluster import connect
    from stance.scale.label import label_blocks, make_job

    texts = synthetic(real_turns(), args.turns + 40, seed=11)
    tmp = Path(tempfile.mkdtemp(prefix="stance-dask-cold-"))
    work, warm = tmp / "cold.jsonl", tmp / "warm.jsonl"
    write_turns(work, texts[: args.turns], args.turns)
    write_turns(warm, texts[args.turns :], 40, prefix="w")
    sch = find_schema(ROOT / "labels" / "schema.toml")
    times = {}
    for n in (1, 2):
        cache = tmp / f"cache-{n}"
        job = make_job(None, sch, False, cache, ENCODER_LANGUAGES, None)
        with connect(workers=n) as client:
            client.wait_for_workers(n)
            list(label_blocks(client, [warm], job, block_turns=20))
            load = load1()
            t0 = time.perf_counter()
            got = sum(
                len(r.rows) for r in label_blocks(client, [work], job, block_turns=25)
            )
            times[n] = time.perf_counter() - t0
            assert got == args.turns
        row(
            f"cold encoding, {n} worker{'s' if n > 1 else ''}",
            f"{args.turns} recombined turns",
            f"{times[n]:.1f} s, {args.turns / times[n]:.1f} turns/s",
            f"load {load}",
        )
    row(
        "cold speed-up 2 vs 1 workers",
        ">= 1.7x",
        f"{times[1] / times[2]:.2f}x",
        machine(),
    )


def hits(args) -> None:
    """Cache hits at scale through the real CLI on `--workers 2`."""
    tmp, cache, pool, pool_file, langs, env = pool_setup(args, "hits")
    base = [*STANCE, "label", "-q", "--workers", "2", "--cache-dir", str(cache)]
    t, _, _, _ = run_tree(
        [*base, str(pool_file), "-o", str(tmp / "pool.out.jsonl")], env
    )
    row(
        f"warm-up: the {args.pool} pool texts encoded on 2 workers",
        f"{t:.0f} s",
        "",
        f"load {load1()}",
    )
    for n in map(int, args.sizes.split(",")):
        big, out = tmp / f"turns-{n}.jsonl", tmp / f"out-{n}.jsonl"
        write_turns(big, pool, n, langs=langs)
        load = load1()
        wall, own, kids, tail = run_tree([*base, str(big), "-o", str(out)], env)
        assert count_lines(out) == n, "rows lost"
        workers = [
            p
            for p, line in kids.values()
            if "spawn_main" in line or "multiprocessing" in line
        ]
        row(
            f"`stance label --workers 2` {n:,} JSONL turns (cache hits{parsed(args)})",
            f"wall {wall:.0f} s, {n / wall:,.0f} turns/s",
            f"peak RSS client {own / MB:.0f} MB, workers "
            + ", ".join(f"{p / MB:.0f}" for p in sorted(workers, reverse=True)[:2])
            + " MB",
            f"load {load}",
        )
        print("   " + " | ".join(tail.strip().splitlines()[-3:]), file=sys.stderr)
        big.unlink()
        out.unlink()


def flat(args) -> None:
    """Single-process `stance label` on N cache-hit turns: peak RSS per N."""
    tmp, cache, pool, pool_file, langs, env = pool_setup(args, "flat")
    run_tree(
        [*STANCE, "label", "-q", str(pool_file), "-o", str(tmp / "p.out.jsonl")], env
    )
    peaks = {}
    for n in map(int, args.sizes.split(",")):
        big, out = tmp / f"turns-{n}.jsonl", tmp / f"out-{n}.jsonl"
        write_turns(big, pool, n, langs=langs)
        load = load1()
        wall, own, _, _ = run_tree(
            [*STANCE, "label", "-q", str(big), "-o", str(out)], env
        )
        assert count_lines(out) == n
        peaks[n] = own
        row(
            f"`stance label` {n:,} JSONL turns (cache hits{parsed(args)})",
            f"peak RSS {own / MB:.0f} MB; {wall:.0f} s, {n / wall:,.0f} turns/s",
            f"load {load}",
        )
        big.unlink()
        out.unlink()
    sizes = sorted(peaks)
    row(
        f"peak RSS {sizes[-1]:,} / {sizes[0]:,}",
        "~1x",
        f"{peaks[sizes[-1]] / peaks[sizes[0]]:.2f}x",
    )


def dedup(args) -> None:
    """`find_duplicates` on N recombined turns (bench/run.py's dedup set): one
    process, then a 2-worker LocalCluster; the answers must be equal."""
    from stance.ingest.dedup import find_duplicates
    from stance.scale import dedup as scale_dedup
    from stance.scale.cluster import connect

    texts = synthetic(real_turns(), args.turns, seed=1)
    load = load1()
    t0 = time.perf_counter()
    here = find_duplicates(texts)
    t_here = time.perf_counter() - t0
    merged = sum(r != i for i, r in enumerate(here))
    row(
        f"dedup {args.turns:,} turns, one process",
        f"{t_here:.1f} s",
        f"{merged:,} merged",
        f"load {load}",
    )
    with connect(workers=2) as client:
        client.wait_for_workers(2)
        load = load1()
        t0 = time.perf_counter()
        there = scale_dedup.find_duplicates(client, texts)
        t_there = time.perf_counter() - t0
    same = there == here
    row(
        f"dedup {args.turns:,} turns, 2-worker LocalCluster",
        f"{t_there:.1f} s",
        f"identical to one process: {same}",
        f"load {load}",
    )
    if not same:
        raise SystemExit("dedup on Dask differs from the one-process answer")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["cold", "hits", "flat", "dedup"])
    ap.add_argument("--turns", type=int, default=0)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--sizes", default="")
    ap.add_argument("--seed", type=int, default=5, help="of the hits pool's texts")
    ap.add_argument(
        "--cache", default="", help="hits, flat: a cache that holds the pool already"
    )
    ap.add_argument(
        "--parsed",
        action="store_true",
        help="hits, flat: the turns carry meta.lang, as `stance parse` writes them",
    )
    args = ap.parse_args()
    args.turns = args.turns or (100_000 if args.what == "dedup" else 400)
    if args.what == "flat":
        args.sizes = args.sizes or "100000,1000000"
    if args.what == "hits":
        args.sizes = args.sizes or "1000000,10000000"
    print(f"# {args.what}: {machine()}, started at load {load1()}", flush=True)
    globals()[args.what](args)


if __name__ == "__main__":
    main()
