"""Benchmarks of issues #6 and #7: prints a table, writes bench/results/ and BENCHMARKS.md.

Run with `make bench` (python bench/run.py). `--only single-line-page memory` runs
some sections, `--tag quiet --wait-quiet 1` waits for a quiet machine and files the
table under its own heading. Figures vary about ±20 % run to run on 2 cores,
more when other jobs share the cores: each row carries the 1-minute load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

STANCE = [sys.executable, "-m", "stance.cli"]
SEED_PAGE = ROOT / "seeds" / "003_751fd9e7d8997e74.txt"
SECTIONS = ("startup", "dedup", "single-line-page", "embed", "memory", "encoders")
GB = 1024**3


@dataclass
class Row:
    section: str
    measure: str
    target: str
    result: str
    status: str  # PASS, MISS or - (no target)
    command: str
    load: float  # 1-minute load average when the row was measured
    value: float | None = None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}"


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def check(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_child(cmd: list[str], env: dict, stdin=None) -> tuple[float, float]:
    """Run a command to the end; its wall time (s) and peak resident memory (bytes).

    The peak is the child's own VmHWM, read from /proc every 20 ms: wait4's
    ru_maxrss would count the benchmark process itself, since a vfork'ed child
    inherits its parent's high-water mark when it execs.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err
        )
        status = Path(f"/proc/{proc.pid}/status")
        peak = 0
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError, IndexError):
                pass
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {tail}")
    return wall, peak


def best_wall(cmd: list[str], env: dict, repeat: int = 3) -> tuple[float, float]:
    runs = [run_child(cmd, env) for _ in range(repeat)]
    return min(w for w, _ in runs), max(m for _, m in runs)


def real_turns() -> list[str]:
    """Turns of 40-150 words parsed from the seeds and the shared threads."""
    from stance.ingest.parse import parse_paths

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


class Bench:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.cache = tmp / "cache"
        self.env = {
            **os.environ,
            "STANCE_CACHE": str(self.cache),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        os.environ.update({k: self.env[k] for k in ("STANCE_CACHE", "HF_HUB_OFFLINE")})
        self.rows: list[Row] = []
        self._real: list[str] | None = None
        self._torch = None

    @property
    def real(self) -> list[str]:
        if self._real is None:
            self._real = real_turns()
        return self._real

    def torch_encoder(self):
        if self._torch is None:
            from stance.model.embed import TorchEncoder

            self._torch = TorchEncoder()
        return self._torch

    def add(self, section, measure, target, result, status, command, value=None):
        row = Row(section, measure, target, result, status, command, load1(), value)
        self.rows.append(row)
        print(
            f"  {row.status:4}  {measure}: {result}  (target {target}, load {row.load})",
            flush=True,
        )

    # ------------------------------------------------------------ sections

    def startup(self) -> None:
        t, _ = best_wall([*STANCE, "--help"], self.env)
        self.add(
            "startup",
            "`stance --help` wall time",
            "<= 0.5 s",
            f"{t:.2f} s",
            check(t <= 0.5),
            "stance --help",
            t,
        )
        bare, _ = best_wall([sys.executable, "-c", "pass"], self.env)
        t, _ = best_wall([sys.executable, "-c", "import stance.cli"], self.env)
        self.add(
            "startup",
            "import of stance.cli, fresh process",
            "-",
            f"{t:.2f} s (bare interpreter {bare:.2f} s)",
            "-",
            'python -c "import stance.cli"',
            t,
        )
        seed = [*STANCE, "label", str(SEED_PAGE), "-o", os.devnull]
        t, mem = run_child(seed, self.env)  # exports the ONNX graph once
        self.add(
            "startup",
            "`stance label` one seed page, first use (exports the ONNX graph)",
            "-",
            f"{t:.1f} s, peak RSS {mem / 2**20:.0f} MB",
            "-",
            f"stance label seeds/{SEED_PAGE.name} -o /dev/null",
            t,
        )
        t, mem = best_wall(seed, self.env)
        self.add(
            "startup",
            "`stance label` one seed page, fresh process (cached graph)",
            "<= 2 s",
            f"{t:.2f} s, peak RSS {mem / 2**20:.0f} MB",
            check(t <= 2),
            f"stance label seeds/{SEED_PAGE.name} -o /dev/null",
            t,
        )

    def dedup(self) -> None:
        from stance.ingest.dedup import find_duplicates

        times = {}
        for n in (10_000, 100_000):
            data = synthetic(self.real, n)
            t0 = time.perf_counter()
            rep = find_duplicates(data)
            times[n] = time.perf_counter() - t0
            merged = sum(r != i for i, r in enumerate(rep))
            self.add(
                "dedup",
                f"near-duplicate dedup, {n:,} recombined turns",
                "<= 30 s at 100k",
                f"{times[n]:.1f} s ({merged:,} merged)",
                check(times[n] <= 30) if n == 100_000 else "-",
                f"stance.ingest.dedup.find_duplicates({n:,} turns)",
                times[n],
            )
        ratio = times[100_000] / times[10_000]
        self.add(
            "dedup",
            "dedup time ratio 100k / 10k",
            "<= 12x",
            f"{ratio:.1f}x",
            check(ratio <= 12),
            "the two rows above",
            ratio,
        )

    def single_line_page(self) -> None:
        """`stance parse` on pages with no line breaks: 5 MB and 50 MB (issue 6)."""
        times = {}
        for mb in (5, 50):
            page = write_single_line_page(
                self.tmp / f"one-line-{mb}mb.txt", mb * 1_000_000
            )
            out = self.tmp / f"turns-{mb}.jsonl"
            t, mem = run_child([*STANCE, "parse", str(page), "-o", str(out)], self.env)
            times[mb] = t
            self.add(
                "single-line-page",
                f"`stance parse` {mb} MB page without line breaks",
                "peak RSS <= 2048 MB" if mb == 50 else "-",
                f"{t:.1f} s, peak RSS {mem / 2**20:.0f} MB",
                check(mem <= 2 * GB) if mb == 50 else "-",
                f"stance parse one-line-{mb}mb.txt -o turns-{mb}.jsonl",
                mem,
            )
            page.unlink()
            out.unlink()
        ratio = times[50] / times[5]
        self.add(
            "single-line-page",
            "single-line page time ratio 50 MB / 5 MB",
            "<= 12x (no quadratic step)",
            f"{ratio:.1f}x",
            check(ratio <= 12),
            "the two rows above",
            ratio,
        )

    def embed(self) -> None:
        from stance.model.embed import Embedder, EmbeddingCache

        sample = synthetic(self.real, 200, seed=1)
        torch_enc = self.torch_encoder()
        torch_enc.encode(sample[:16])  # warm up
        t0 = time.perf_counter()
        torch_enc.encode(sample)
        plain = len(sample) / (time.perf_counter() - t0)
        cache = EmbeddingCache(self.tmp / "embed-bench.sqlite")
        emb = Embedder("onnx", cache=cache)
        emb.encoder.encode(sample[:16])  # load and warm up outside the timing
        t0 = time.perf_counter()
        emb.embed(sample)
        cold = len(sample) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        emb.embed(sample)
        warm = len(sample) / (time.perf_counter() - t0)
        cache.close()
        self.add(
            "embed",
            "plain SentenceTransformer.encode, 200 turns of 40-150 words",
            "-",
            f"{plain:.1f} turns/s",
            "-",
            "SentenceTransformer.encode(batch_size=16)",
            plain,
        )
        self.add(
            "embed",
            "pipeline embed, cold cache (onnx)",
            ">= 0.85x plain",
            f"{cold:.1f} turns/s ({cold / plain:.2f}x plain)",
            check(cold >= 0.85 * plain),
            "Embedder('onnx').embed",
            cold / plain,
        )
        self.add(
            "embed",
            "pipeline embed, warm cache",
            ">= 50x cold",
            f"{warm:.0f} turns/s ({warm / cold:.0f}x cold)",
            check(warm >= 50 * cold),
            "Embedder('onnx').embed, again",
            warm / cold,
        )

    def memory(self) -> None:
        """`stance label` on 100k and 1M JSONL turns whose texts come from a pool."""
        pool_size = 500
        pool = synthetic(self.real, pool_size, seed=7)
        work = self.tmp / "memory"
        work.mkdir(exist_ok=True)
        pool_file = work / "pool.jsonl"
        write_turns_file(pool_file, pool, len(pool))
        label = [*STANCE, "label"]
        graphs = (self.cache / "onnx").glob("minilm-*.onnx")
        if not [g for g in graphs if not g.name.endswith("-int8.onnx")]:
            # Export the graph first (needs torch) so the warm-up measures labelling.
            run_child([*label, str(SEED_PAGE), "-o", os.devnull], self.env)
        t, mem = run_child(
            [*label, str(pool_file), "-o", str(work / "pool.out.jsonl")], self.env
        )
        self.add(
            "memory",
            f"warm-up: `stance label` on the {pool_size} pool texts "
            "(encodes them into the cache)",
            "-",
            f"{t:.1f} s, peak RSS {mem / 2**20:.0f} MB",
            "-",
            "stance label pool.jsonl -o pool.out.jsonl",
            t,
        )
        peaks = {}
        for n in (100_000, 1_000_000):
            big = work / f"turns-{n}.jsonl"
            out = work / f"labelled-{n}.jsonl"
            write_turns_file(big, pool, n)
            size = big.stat().st_size
            t, mem = run_child([*label, str(big), "-o", str(out)], self.env)
            rows = count_lines(out)
            if rows != n:
                raise RuntimeError(f"{out}: {rows} rows for {n} turns")
            peaks[n] = mem
            target = "<= 2 GB" if n == 1_000_000 else "-"
            self.add(
                "memory",
                f"`stance label` {n:,} JSONL turns ({size / 2**20:.0f} "
                f"MB in), texts from the {pool_size}-text pool (cache hits)",
                target,
                f"peak RSS {mem / 2**20:.0f} MB; {t:.0f} s, {n / t:,.0f} turns/s",
                check(mem <= 2 * GB) if n == 1_000_000 else "-",
                f"stance label turns-{n}.jsonl -o labelled-{n}.jsonl",
                mem,
            )
            big.unlink()
            out.unlink()
        ratio = peaks[1_000_000] / peaks[100_000]
        self.add(
            "memory",
            "peak RSS 1M / 100k turns",
            "~1x (streamed)",
            f"{ratio:.2f}x",
            check(ratio < 1.5),
            "the two rows above",
            ratio,
        )

    def encoders(self) -> None:
        """fp32 vs int8 ONNX, threads vs processes; speed, agreement, macro-F1."""
        from stance.model.embed import OnnxEncoder

        texts = synthetic(self.real, 300, seed=11)
        words = np.mean([len(t.split()) for t in texts])
        torch_enc = self.torch_encoder()
        torch_enc.encode(texts[:16])
        t0 = time.perf_counter()
        ref = torch_enc.encode(texts)
        torch_rate = len(texts) / (time.perf_counter() - t0)
        self.add(
            "encoders",
            f"torch (sentence-transformers), {len(texts)} turns of "
            f"{words:.0f} words on average",
            "-",
            f"{torch_rate:.1f} turns/s",
            "-",
            "TorchEncoder().encode",
            torch_rate,
        )
        vecs = {}
        rates = {}
        for backend in ("onnx", "onnx-int8"):
            for threads in (1, 2):
                os.environ["STANCE_THREADS"] = str(threads)
                enc = OnnxEncoder(quantized=backend == "onnx-int8")
                enc.encode(texts[:16])
                t0 = time.perf_counter()
                vecs[backend] = enc.encode(texts)
                rate = len(texts) / (time.perf_counter() - t0)
                rates[backend, threads] = rate
                self.add(
                    "encoders",
                    f"{backend}, 1 process x {threads} thread(s)",
                    "-",
                    f"{rate:.1f} turns/s ({rate / torch_rate:.2f}x torch)",
                    "-",
                    f"STANCE_THREADS={threads} OnnxEncoder().encode",
                    rate,
                )
            os.environ.pop("STANCE_THREADS", None)
            rate = encode_in_processes(backend, texts, 2)
            rates[backend, "2p"] = rate
            self.add(
                "encoders",
                f"{backend}, 2 processes x 1 thread",
                "-",
                f"{rate:.1f} turns/s ({rate / torch_rate:.2f}x torch)",
                "-",
                "multiprocessing pool of 2, STANCE_THREADS=1",
                rate,
            )
        for name, a, b in (
            ("onnx fp32 vs torch", vecs["onnx"], ref),
            ("onnx-int8 vs onnx fp32", vecs["onnx-int8"], vecs["onnx"]),
        ):
            cos = (a * b).sum(axis=1)
            self.add(
                "encoders",
                f"cosine agreement, {name}",
                "-",
                f"mean {cos.mean():.4f}, min {cos.min():.4f}",
                "-",
                f"same {len(texts)} turns",
                float(cos.min()),
            )
        f1 = {}
        for backend in ("torch", "onnx", "onnx-int8"):
            t0 = time.perf_counter()
            f1[backend], n_labels, embed_s = grouped_cv_f1(backend, self.tmp)
            wall = time.perf_counter() - t0
            self.add(
                "encoders",
                f"grouped-CV macro-F1 of the embedding head, {backend} "
                f"({n_labels} labels)",
                "-",
                f"{f1[backend]:.3f} (embedding {embed_s:.0f} s, all {wall:.0f} s)",
                "-",
                "stance.model.train: nested_head_method in cross_validate, as the "
                "`embedding+logreg` row of `stance train --encoder " + backend + "`",
                f1[backend],
            )
        best_int8 = max(
            rates["onnx-int8", 1], rates["onnx-int8", 2], rates["onnx-int8", "2p"]
        )
        best_fp32 = max(rates["onnx", 1], rates["onnx", 2], rates["onnx", "2p"])
        gap = f1["onnx-int8"] - f1["torch"]
        self.add(
            "encoders",
            "onnx-int8 as default: macro-F1 within 0.01 of torch",
            ">= -0.01",
            f"{gap:+.3f} F1; {best_int8 / best_fp32:.2f}x the speed of fp32 onnx",
            check(gap >= -0.01),
            "rows above",
            gap,
        )


def grouped_cv_f1(backend: str, tmp: Path) -> tuple[float, int, float]:
    """Macro-F1 of the embedding head in `stance train`'s grouped CV, one encoder.

    The same folds and nested choice of C as the `embedding+logreg` row of
    `stance train`, without its other methods (minutes each). A cache of its own
    per encoder, since fp32 ONNX and torch share cache entries.
    """
    from stance.core.schema import find_schema
    from stance.labelling.labels import label_files, label_groups, load_labels
    from stance.model.embed import Embedder, EmbeddingCache
    from stance.model.evaluate import cross_validate
    from stance.model.train import nested_head_method

    schema = find_schema(None)
    labels = load_labels(label_files(None, ROOT / "labels"), schema.names)
    texts = [lab.text for lab in labels]
    y = np.array([lab.stance for lab in labels])
    groups = np.array(label_groups(labels))
    classes = [c for c in schema.names if c in set(y)]
    cache = EmbeddingCache(tmp / f"cv-{backend}.sqlite")
    t0 = time.perf_counter()
    X = Embedder(backend, cache=cache).embed(texts).astype(np.float64)
    embed_s = time.perf_counter() - t0
    cache.close()
    method = nested_head_method(X, y, groups, schema.sides)
    cv = cross_validate({"head": method}, y, groups, classes, schema.sides)
    return cv["head"]["macro_f1"], len(labels), embed_s


def write_turns_file(path: Path, pool: list[str], n: int) -> None:
    """n JSONL turns in threads of 50, texts cycling through the pool."""
    rng = random.Random(3)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            conv, k = f"c{i // 50}", i % 50
            rec = {
                "id": f"{conv}:{k}",
                "conversation_id": conv,
                "speaker": f"u{rng.randrange(5000)}",
                "reply_to": None if k == 0 else f"{conv}:{rng.randrange(k)}",
                "timestamp": None,
                "text": pool[i % len(pool)],
                "meta": {},
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_single_line_page(path: Path, size: int, seed: int = 0) -> Path:
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


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


_WORKER = None


def _init_worker(backend: str) -> None:
    global _WORKER
    os.environ["STANCE_THREADS"] = "1"
    from stance.model.embed import OnnxEncoder

    _WORKER = OnnxEncoder(quantized=backend == "onnx-int8")


def _encode_chunk(texts: list[str]) -> np.ndarray:
    return _WORKER.encode(texts)


def encode_in_processes(backend: str, texts: list[str], procs: int) -> float:
    """Throughput of `procs` worker processes of one thread each (load not timed)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(procs, initializer=_init_worker, initargs=(backend,)) as pool:
        pool.map(_encode_chunk, [texts[:16]] * procs)  # load and warm up
        chunks = [texts[i::procs] for i in range(procs)]
        t0 = time.perf_counter()
        pool.map(_encode_chunk, chunks, chunksize=1)
        return len(texts) / (time.perf_counter() - t0)


# ------------------------------------------------------------------ output


def render(rows: list[Row], tag: str, started: str, loads: tuple) -> str:
    lines = [
        f"Run `{tag}`: {started}, machine: {machine()}, Python "
        f"{platform.python_version()}; 1-minute load average {loads[0]} at the start, "
        f"{loads[1]} at the end (2 cores: a load above ~2 means other jobs took "
        "CPU time from the benchmark).",
        "",
        "| measure | target | measured | status | machine | command | load |",
        "|---|---|---|---|---|---|---|",
    ]
    short = f"{os.cpu_count()} cores, {cpu_model()}"
    for r in rows:
        lines.append(
            f"| {r.measure} | {r.target} | {r.result} | {r.status} | {short} | "
            f"`{r.command}` | {r.load} |"
        )
    return "\n".join(lines) + "\n"


def update_benchmarks_md(table: str, tag: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = f"<!-- bench:{tag}:begin -->", f"<!-- bench:{tag}:end -->"
    block = f"{begin}\n{table}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## `{tag}` run\n\n{block}\n"
    path.write_text(text)


def wait_quiet(limit: float, minutes: float) -> None:
    """Wait until the 1-minute load is below `limit`; give up after `minutes`."""
    t0 = time.time()
    while load1() > limit:
        if time.time() - t0 > minutes * 60:
            sys.exit(f"the machine did not get quiet (load {load1()} > {limit})")
        print(f"waiting for a quiet machine: load {load1()} > {limit}", flush=True)
        time.sleep(30)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--tag", default="make-bench", help="name of this run's table")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        metavar="LOAD",
        help="first wait until the load is below LOAD (give up after --wait-max)",
    )
    ap.add_argument("--wait-max", type=float, default=30, help="minutes")
    ap.add_argument("--no-md", action="store_true", help="leave BENCHMARKS.md alone")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.wait_quiet:
        wait_quiet(args.wait_quiet, args.wait_max)
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    load_start = load1()
    tmp = Path(tempfile.mkdtemp(prefix="stance-bench-"))
    bench = Bench(tmp)
    t0 = time.perf_counter()
    from stance.core.progress import on_terminal, progress_bars

    try:
        with progress_bars(on_terminal() and not args.quiet) as bars:
            task = bars.task("benchmark sections", len(args.only), unit="sections")
            for name in args.only:
                print(f"[{name}]", flush=True)
                getattr(bench, name.replace("-", "_"))()
                task.advance()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = render(bench.rows, args.tag, started, (load_start, load1()))
    table += f"\nWhole run: {time.perf_counter() - t0:.0f} s.\n"
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.md").write_text(table)
    (RESULTS / f"{args.tag}.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "started": started,
                "rows": [asdict(r) for r in bench.rows],
            },
            indent=2,
        )
    )
    if not args.no_md:
        update_benchmarks_md(table, args.tag)


if __name__ == "__main__":
    main()
