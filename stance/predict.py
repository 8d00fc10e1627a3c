"""Labelling: turns + model → rows with stance, confidence and per-class scores.

Structured inputs (JSONL, CSV) are streamed in batches, so memory stays flat on
millions of turns; raw pages go through the parser (quotes, dedup) first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .errors import InputError, ModelError
from .parse import (
    STRUCTURED_SUFFIXES,
    expand_paths,
    iter_csv_turns,
    parse_jsonl_lines,
    parse_paths,
)
from .thread import Turn

BATCH = 2048
DEFAULT_MODEL = "default"


def default_model_dirs(schema=None) -> list[Path]:
    """Where a default model is looked for, nearest first.

    models/default of the schema's debate folder; without a schema file, also
    ./models/default and the one shipped next to the package.
    """
    from .schema import project_root

    if schema is not None and schema.path:
        return [project_root(schema) / "models" / DEFAULT_MODEL]
    return [
        Path("models") / DEFAULT_MODEL,
        Path(__file__).resolve().parent.parent / "models" / DEFAULT_MODEL,
    ]


def _check_schema(model, schema, path) -> None:
    trained = model.config_.get("schema", {})
    if not isinstance(trained, dict):
        raise ModelError(f"{path}: 'schema' in config.json is not an object")
    if (
        schema is not None
        and trained
        and (
            trained.get("name") != schema.name
            or list(trained.get("labels", [])) != list(schema.names)
        )
    ):
        raise ModelError(
            f"{path}: trained under schema '{trained.get('name')}' "
            f"({', '.join(map(str, trained.get('labels', [])))}) but the current "
            f"schema is '{schema.name}' ({', '.join(schema.names)})"
        )


def load_model(
    path: Path | str | None, schema=None, embedder=None, trust_unsigned: bool = False
):
    """A trained model directory, or `zero-shot` (the schema's prototypes).

    With no path: the debate's models/default if one exists; otherwise, when a
    schema is known, the zero-shot model (check `model_name(model)`).
    `trust_unsigned`: see `StanceClassifier.load`.
    """
    from .classify import StanceClassifier
    from .zeroshot import METHOD, zero_shot_model

    if path is not None and str(path) == METHOD:
        if schema is None:
            raise ModelError("the zero-shot model needs a schema")
        return zero_shot_model(schema, embedder=embedder)
    if path is None:
        found = [d for d in default_model_dirs(schema) if (d / "config.json").is_file()]
        if not found:
            if schema is not None:
                return zero_shot_model(schema, embedder=embedder)
            raise ModelError(
                "no trained model found (looked in "
                + ", ".join(map(str, default_model_dirs(schema)))
                + "); run `stance train` or pass --model"
            )
        path = found[0]
    model = StanceClassifier.load(
        path, embedder=embedder, trust_unsigned=trust_unsigned
    )
    _check_schema(model, schema, path)
    return model


def iter_structured(path: Path, seen_ids: set[str] | None = None) -> Iterator[Turn]:
    """Stream turns from a JSONL or CSV file without reading it whole.

    UTF-8 and BOM-marked files stream; a file in another encoding is decoded
    whole, as `stance parse` would.
    """
    from .files import read_text, sniff_encoding

    if path.suffix.lower() == ".parquet":
        from .parse import iter_parquet_turns

        if path.is_file():
            yield from iter_parquet_turns(str(path), str(path), seen_ids)
        else:  # a FIFO: read whole, size-limited
            import pyarrow as pa

            from .files import read_bytes

            yield from iter_parquet_turns(
                pa.BufferReader(read_bytes(path)), str(path), seen_ids
            )
        return
    # A FIFO or device can be read once only: whole (size-limited), not sniffed.
    encoding = sniff_encoding(path) if path.is_file() else None
    if encoding is None:
        text, _ = read_text(path)
        fh = io.StringIO(text, newline="")
    else:
        try:
            fh = open(path, encoding=encoding, newline="")
        except OSError as exc:
            raise InputError(path, exc.strerror or "cannot open") from None
    with fh:
        try:
            if path.suffix.lower() == ".jsonl":
                n = 0
                for turn in parse_jsonl_lines(fh, str(path), seen_ids):
                    n += 1
                    yield turn
                if n == 0:
                    raise InputError(path, "no utterances in file")
            else:
                yield from iter_csv_turns(fh, str(path), seen_ids)
        except UnicodeDecodeError as exc:
            raise InputError(
                path, f"not {encoding} past its start ({exc.reason}); convert it"
            ) from None


def iter_turns(paths: Iterable[Path]) -> Iterator[Turn]:
    """All turns of the inputs; structured files stream, raw pages are parsed."""
    files = expand_paths(paths)
    structured = [f for f in files if f.suffix.lower() in STRUCTURED_SUFFIXES]
    pages = [f for f in files if f not in structured]
    seen: set[str] = set()
    if pages:
        for turn in parse_paths(pages).turns:
            seen.add(turn.id)
            yield turn
    for f in structured:
        yield from iter_structured(f, seen)


def model_name(model) -> str:
    training = model.config_.get("training")
    method = training.get("method") if isinstance(training, dict) else None
    return str(method or "model")


def rows_from_proba(
    turns: Iterable[Turn], probs: np.ndarray, model, suffix: str = ""
) -> Iterator[dict]:
    """Output rows: each turn's fields + stance, confidence, per-class scores."""
    classes = [str(c) for c in model.classes_]
    name = model_name(model) + suffix
    for t, p in zip(turns, probs, strict=True):
        k = int(np.argmax(p))
        row = t.to_dict()
        row["stance"] = classes[k]
        row["confidence"] = round(float(p[k]), 4)
        row["scores"] = {c: round(float(v), 4) for c, v in zip(classes, p, strict=True)}
        row["model"] = name
        yield row


def predict_rows(turns: Iterable[Turn], model, batch: int = BATCH) -> Iterator[dict]:
    """Label turns in batches: memory stays flat however many turns stream in."""
    buf: list[Turn] = []
    for t in turns:
        buf.append(t)
        if len(buf) >= batch:
            yield from rows_from_proba(
                buf, model.predict_proba([x.text for x in buf]), model
            )
            buf = []
    if buf:
        yield from rows_from_proba(
            buf, model.predict_proba([x.text for x in buf]), model
        )


def thread_aware_rows(turns: Iterable[Turn], model, sides) -> Iterator[dict]:
    """Label with thread context (`context.thread_adjust`); holds all turns in memory."""
    from .context import thread_adjust

    turns = list(turns)
    proba = model.predict_proba([t.text for t in turns])
    if len(turns):
        proba = thread_adjust(turns, proba, model.classes_, sides)
    return rows_from_proba(turns, proba, model, suffix="+thread")


# What `stance label -o` writes, by extension; stdout and devices get the first.
ROW_FORMATS = (".jsonl", ".csv", ".parquet")


def write_rows(path: Path | str | None, rows: Iterable[dict]) -> int:
    """Write rows as JSONL (default), CSV or Parquet by suffix; stdout when no path.

    Stdout gets the rows only once all are labelled (`files.atomic_open`): a bad
    input met late leaves it empty, as it leaves a file untouched.
    """
    from .files import atomic_open

    path = Path(path if path is not None else "-")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _write_parquet(path, rows)
    n = 0
    with atomic_open(path) as fh:
        if suffix == ".csv":
            writer = None
            for row in rows:
                flat = _flatten(row)
                if writer is None:
                    writer = csv.DictWriter(fh, fieldnames=list(flat))
                    writer.writeheader()
                writer.writerow(flat)
                n += 1
        else:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    return n


def _flatten(row: dict) -> dict:
    flat = {k: v for k, v in row.items() if k not in ("meta", "scores")}
    for c, v in row.get("scores", {}).items():
        flat[f"score_{c}"] = v
    flat["meta"] = json.dumps(row.get("meta", {}), ensure_ascii=False)
    return flat


def _write_parquet(path: Path, rows: Iterable[dict]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .files import atomic_open

    n = 0
    with atomic_open(path, "wb") as fh:
        writer = None
        chunk: list[dict] = []

        def flush():
            nonlocal writer
            table = pa.Table.from_pylist([_flatten(r) for r in chunk])
            if writer is None:
                writer = pq.ParquetWriter(fh, table.schema)
            writer.write_table(table.cast(writer.schema))

        for row in rows:
            chunk.append(row)
            n += 1
            if len(chunk) >= 10000:
                flush()
                chunk = []
        if chunk or writer is None:
            flush()
        writer.close()
    return n
