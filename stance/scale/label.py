"""`stance label --scheduler/--workers`: the inputs in blocks, labelled on Dask
workers, the rows back in input order.

Blocks: a UTF-8 JSONL file is cut into blocks of BLOCK_TURNS lines (byte
ranges found by one scan for newlines) that each worker reads itself, so the
files must be on storage the workers see. Pages (parsed and deduplicated
whole, as `stance label` does), CSV, Parquet, ConvoKit corpora and JSONL in
another encoding are read here and their turns sent in blocks. Each worker
loads the model once (`_MODELS`, one per process) and uses the embedding and
language caches in `Job.cache_dir` (its own default caches when None).

Rows come back block by block in input order; at most `window` blocks are in
flight. A block whose worker dies is run again by Dask on another; since a
block's rows are only taken from its finished result, no turn is lost or
written twice. Ids are checked here, in input order, with the same `IdSet` and
message as `parse.iter_turns`, so a repeated id is the same error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stance.core.thread import Turn

BLOCK_TURNS = 5000
SCAN_BYTES = 1 << 20

_MODELS: dict = {}  # per worker process: Job.model_key() -> loaded model
_LANGUAGE_CACHES: dict = {}  # per worker process: Job.cache_dir -> LanguageCache


@dataclass(frozen=True)
class Job:
    """What every block needs: which model, which cache, which options."""

    model: str  # a model directory (absolute) or "zero-shot"
    schema: str | None  # the schema file (absolute), None for the built-in one
    trust_unsigned: bool = False
    cache_dir: str | None = None
    languages: tuple[str, ...] | None = None
    min_confidence: float | None = None

    def model_key(self) -> tuple:
        return (self.model, self.schema, self.trust_unsigned, self.cache_dir)


@dataclass(frozen=True)
class Block:
    """A part of the input: a byte range of a JSONL file, or turns read here."""

    index: int
    path: str = ""
    start: int = 0
    stop: int = 0
    first_line: int = 1
    turns: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class BlockResult:
    index: int
    rows: list[dict]
    ids: list[str] = field(default_factory=list)  # of a JSONL block, to check
    lines: list[int] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)  # lines of turns without text
    worker: str = ""


def make_job(model, schema, trust_unsigned, cache_dir, languages, min_confidence):
    """The Job of a run, with the model and schema as absolute paths."""
    from stance.model.find import default_model_dirs
    from stance.model.zeroshot import METHOD

    if model is not None and str(model) == METHOD:
        where = METHOD
    elif model is not None:
        where = str(Path(model).resolve())
    else:
        found = [d for d in default_model_dirs(schema) if (d / "config.json").is_file()]
        where = str(found[0].resolve()) if found else METHOD
    return Job(
        model=where,
        schema=str(Path(schema.path).resolve()) if schema and schema.path else None,
        trust_unsigned=trust_unsigned,
        cache_dir=str(Path(cache_dir).resolve()) if cache_dir else None,
        languages=tuple(languages) if languages is not None else None,
        min_confidence=min_confidence,
    )


def worker_model(job: Job):
    """The job's model, loaded once per worker process."""
    key = job.model_key()
    if key not in _MODELS:
        # one ONNX thread per single-threaded worker process, unless set
        os.environ.setdefault("STANCE_THREADS", "1")
        from stance.core.schema import find_schema
        from stance.model.embed import Embedder, EmbeddingCache
        from stance.model.find import load_model

        sch = find_schema(Path(job.schema)) if job.schema else find_schema(None)
        embedder = None
        if job.cache_dir:
            cache = EmbeddingCache(Path(job.cache_dir) / "embeddings.sqlite")
            backend = _backend(job.model)
            embedder = Embedder(backend, cache=cache)
        _MODELS[key] = load_model(
            job.model, sch, embedder=embedder, trust_unsigned=job.trust_unsigned
        )
    return _MODELS[key]


def _backend(model: str) -> str:
    import json

    config = Path(model) / "config.json"
    if config.is_file():
        encoder = json.loads(config.read_text(encoding="utf-8")).get("encoder")
        if isinstance(encoder, dict) and encoder.get("backend"):
            return str(encoder["backend"])
    return "onnx"


def worker_language_cache(job: Job):
    """The language cache in the job's cache folder, opened once per worker process."""
    from stance.ingest.lang import LanguageCache

    if job.cache_dir not in _LANGUAGE_CACHES:
        path = Path(job.cache_dir) / LanguageCache.filename if job.cache_dir else None
        _LANGUAGE_CACHES[job.cache_dir] = LanguageCache(path)
    return _LANGUAGE_CACHES[job.cache_dir]


def label_block(job: Job, block: Block) -> BlockResult:
    """Label one block on a worker (the function Dask runs)."""
    from stance.ingest.lang import with_languages
    from stance.model.predict import abstain, predict_rows

    model = worker_model(job)
    ids: list[str] = []
    lines: list[int] = []
    empty: list[int] = []
    if block.path:
        read = []
        for lineno, turn in read_jsonl_block(block, empty):
            ids.append(turn.id)
            lines.append(lineno)
            read.append(turn)
        turns = list(with_languages(read, worker_language_cache(job)))
    else:
        turns = list(block.turns)
    rows = list(
        abstain(predict_rows(turns, model, languages=job.languages), job.min_confidence)
    )
    return BlockResult(block.index, rows, ids, lines, empty, _worker_name())


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def read_jsonl_block(block: Block, empty: list[int]) -> Iterator[tuple[int, Turn]]:
    """(line, turn) of a JSONL block, read as `parse.iter_structured` reads lines."""
    import io

    from stance.core.errors import InputError
    from stance.ingest.readers import iter_jsonl_block

    try:
        with open(block.path, "rb") as fh:
            fh.seek(block.start)
            data = fh.read(block.stop - block.start)
    except OSError as exc:
        raise InputError(block.path, exc.strerror or "cannot read") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            block.path, f"not utf-8-sig past its start ({exc.reason}); convert it"
        ) from None
    if block.start == 0 and text.startswith("\ufeff"):
        text = text[1:]
    yield from iter_jsonl_block(
        io.StringIO(text, newline=""), block.path, block.first_line, empty
    )


def jsonl_blocks(path: Path, first_index: int, lines: int = BLOCK_TURNS):
    """Blocks of `lines` lines of a JSONL file (byte ranges, first line numbers)."""
    index, start, line, count, pos = first_index, 0, 1, 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(SCAN_BYTES):
            at = 0
            while True:
                nl = chunk.find(b"\n", at)
                if nl < 0:
                    break
                count += 1
                at = nl + 1
                if count == lines:
                    stop = pos + at
                    yield Block(index, str(path), start, stop, line)
                    index += 1
                    start, line, count = stop, line + lines, 0
            pos += len(chunk)
    if pos > start:
        yield Block(index, str(path), start, pos, line)


def _jsonl_on_workers(path: Path) -> bool:
    from stance.core.inputfiles import sniff_encoding
    from stance.ingest.convokit import corpus_dir

    return (
        path.suffix.lower() == ".jsonl"
        and path.is_file()
        and corpus_dir(path) is None
        and sniff_encoding(path) in ("utf-8", "utf-8-sig")
    )


def plan_blocks(paths: Sequence[Path], seen, block_turns: int = BLOCK_TURNS):
    """(file, block) in input order, as `parse.iter_turns` orders turns: pages
    first (parsed together), then each structured file. `seen`: the ids met, for
    the files read here."""
    from stance.ingest.parse import (
        STRUCTURED_SUFFIXES,
        expand_paths,
        iter_structured,
        parse_paths,
    )

    files = expand_paths(paths)
    structured = [f for f in files if f.suffix.lower() in STRUCTURED_SUFFIXES]
    pages = [f for f in files if f not in structured]
    index = 0

    def chunks(turns: Iterable[Turn], name: str):
        nonlocal index
        buf: list[Turn] = []
        for t in turns:
            buf.append(t)
            if len(buf) >= block_turns:
                yield name, Block(index, turns=tuple(buf))
                index += 1
                buf = []
        if buf:
            yield name, Block(index, turns=tuple(buf))
            index += 1

    if pages:
        turns = parse_paths(pages).turns
        for t in turns:
            seen.add(t.id)
        yield from chunks(turns, "")
    for f in structured:
        if _jsonl_on_workers(f):
            for block in jsonl_blocks(f, index, block_turns):
                index = block.index + 1
                yield str(f), block
            yield str(f), None  # the end of the file: its checks
        else:
            yield from chunks(iter_structured(f, seen), str(f))


def label_blocks(
    client, paths: Sequence[Path], job: Job, block_turns: int = BLOCK_TURNS, window=None
) -> Iterator[BlockResult]:
    """Every block's result, in input order (see the module doc)."""
    from stance.core.errors import InputError
    from stance.core.idset import IdSet
    from stance.ingest.readers import claim_id, without_text
    from stance.scale.cluster import worker_count

    window = window or 4 * worker_count(client)
    run = uuid.uuid4().hex[:8]
    seen = IdSet()
    pending: list = []  # (file, future or None)
    per_file: dict[str, list] = {}  # JSONL read on workers: [turns, empty lines]
    plan = plan_blocks(paths, seen, block_turns)

    def submit_next() -> bool:
        for name, block in plan:
            if block is None:
                pending.append((name, None))
                continue
            fut = client.submit(
                label_block, job, block, key=f"stance-label-{run}-{block.index}"
            )
            pending.append((name, fut))
            return True
        return False

    try:
        while len(pending) < window and submit_next():
            pass
        while pending:
            name, fut = pending.pop(0)
            if fut is None:  # a JSONL file read on the workers is done
                n, empty = per_file.pop(name, [0, []])
                without_text(name, empty)
                if not n:
                    raise InputError(name, "no utterances in file")
                continue
            result = fut.result()
            fut.release()
            if result.ids:
                for turn_id, line in zip(result.ids, result.lines, strict=True):
                    claim_id(turn_id, seen, name, line)
            if name and (result.ids or result.empty or not result.rows):
                acc = per_file.setdefault(name, [0, []])
                acc[0] += len(result.ids)
                acc[1].extend(result.empty)
            yield result
            while len(pending) < window and submit_next():
                pass
    finally:
        for _, fut in pending:
            if fut is not None:
                fut.cancel()
        seen.close()
