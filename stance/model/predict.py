"""Labelling: turns + model → rows with stance, confidence and per-class scores.

Structured inputs (JSONL, CSV) are streamed in batches, so memory stays flat on
millions of turns; raw pages go through the parser (quotes, dedup) first.

Every row has the turn's fields plus `stance`, `confidence`, `scores` (one per
class), `model` and `skipped`. A turn in a language the model does not read
(`meta.lang`, see `lang.py`) is not scored: its row has `stance`, `confidence`
and `scores` null and `skipped` says why (`"language: ru"`); on every other row
`skipped` is null. `languages=None` (`--any-language`) scores every turn.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from stance.core.errors import InputError, ModelError
from stance.core.progress import NO_PROGRESS, Progress
from stance.core.thread import Turn
from stance.ingest.lang import ENCODER_LANGUAGES, skip_reason
from stance.ingest.parse import STRUCTURED_SUFFIXES, expand_paths, parse_paths
from stance.ingest.readers import iter_csv_turns, parse_jsonl_lines

BATCH = 2048
PROGRESS_BATCH = 256  # turns between two moves of a progress bar
DEFAULT_MODEL = "default"


def default_model_dirs(schema=None) -> list[Path]:
    """Where a default model is looked for, nearest first.

    models/default of the schema's debate folder; without a schema file, also
    ./models/default and the one shipped next to the package.
    """
    from stance.core.schema import project_root

    if schema is not None and schema.path:
        return [project_root(schema) / "models" / DEFAULT_MODEL]
    return [
        Path("models") / DEFAULT_MODEL,
        Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL,
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
    from stance.model.classify import StanceClassifier
    from stance.model.zeroshot import METHOD, zero_shot_model

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
    from stance.core.inputfiles import read_text, sniff_encoding
    from stance.ingest.lang import with_language

    if path.suffix.lower() == ".parquet":
        from stance.ingest.readers import iter_parquet_turns

        if path.is_file():
            yield from iter_parquet_turns(str(path), str(path), seen_ids)
        else:  # a FIFO: read whole, size-limited
            import pyarrow as pa

            from stance.core.inputfiles import read_bytes

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
                    yield with_language(turn)
                if n == 0:
                    raise InputError(path, "no utterances in file")
            else:
                for turn in iter_csv_turns(fh, str(path), seen_ids):
                    yield with_language(turn)
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
        row["skipped"] = None
        yield row


def skipped_row(turn: Turn, reason: str, model, suffix: str = "") -> dict:
    """The row of a turn the model gives no stance, with the reason."""
    row = turn.to_dict()
    row.update(
        stance=None,
        confidence=None,
        scores=None,
        model=model_name(model) + suffix,
        skipped=reason,
    )
    return row


def split_readable(
    turns: Sequence[Turn], languages: Sequence[str] | None = ENCODER_LANGUAGES
) -> tuple[list[int], dict[int, str]]:
    """Positions of the turns to score, and the reason for each other position."""
    if languages is None:
        return list(range(len(turns))), {}
    keep, skipped = [], {}
    for i, t in enumerate(turns):
        reason = skip_reason(t, languages)
        if reason is None:
            keep.append(i)
        else:
            skipped[i] = reason
    return keep, skipped


def merge_rows(
    turns: Sequence[Turn],
    keep: Sequence[int],
    proba: np.ndarray,
    skipped: dict[int, str],
    model,
    suffix: str = "",
) -> Iterator[dict]:
    """Rows in input order: scored turns from `proba`, the others skipped."""
    scored = rows_from_proba([turns[i] for i in keep], proba, model, suffix)
    for i, t in enumerate(turns):
        if i in skipped:
            yield skipped_row(t, skipped[i], model, suffix)
        else:
            yield next(scored)


def predict_rows(
    turns: Iterable[Turn],
    model,
    batch: int = BATCH,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
    total: int | None = None,
) -> Iterator[dict]:
    """Label turns in batches: memory stays flat however many turns stream in.

    With progress bars the batches are of `PROGRESS_BATCH` turns, so the bar
    moves; the rows are the same.
    """
    if progress is not NO_PROGRESS:
        batch = min(batch, PROGRESS_BATCH)
    task = progress.task("labelling", total=total)
    buf: list[Turn] = []

    def flush():
        keep, skipped = split_readable(buf, languages)
        proba = model.predict_proba([buf[i].text for i in keep])
        rows = list(merge_rows(buf, keep, proba, skipped, model))
        task.advance(len(buf))
        return rows

    for t in turns:
        buf.append(t)
        if len(buf) >= batch:
            yield from flush()
            buf = []
    if buf:
        yield from flush()


def thread_aware_rows(
    turns: Iterable[Turn],
    model,
    sides,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
) -> Iterator[dict]:
    """Label with thread context (`context.thread_adjust`); holds all turns in memory.

    Skipped turns take no part in the adjustment.
    """
    from stance.model.context import thread_adjust

    turns = list(turns)
    keep, skipped = split_readable(turns, languages)
    readable = [turns[i] for i in keep]
    task = progress.task("labelling", total=len(turns))
    proba = predict_proba_chunked(model, [t.text for t in readable], task)
    task.advance(len(turns) - len(readable))
    if len(readable):
        proba = thread_adjust(readable, proba, model.classes_, sides)
    return merge_rows(turns, keep, proba, skipped, model, suffix="+thread")


def features_chunked(model, texts: Sequence[str], task=None) -> np.ndarray:
    """The body's features, `PROGRESS_BATCH` texts at a time when a task watches."""
    if task is None or len(texts) <= PROGRESS_BATCH:
        out = model.features(list(texts))
        if task is not None:
            task.advance(len(texts))
        return out
    parts = []
    for start in range(0, len(texts), PROGRESS_BATCH):
        chunk = list(texts[start : start + PROGRESS_BATCH])
        parts.append(model.features(chunk))
        task.advance(len(chunk))
    return np.concatenate(parts)


def predict_proba_chunked(model, texts: Sequence[str], task=None) -> np.ndarray:
    """`model.predict_proba`, advancing `task` as the texts are encoded."""
    if not len(texts):
        return np.zeros((0, len(model.classes_)))
    return model.proba_from(list(texts), features_chunked(model, texts, task))


# What `stance label -o` writes, by extension; stdout and devices get the first.
ROW_FORMATS = (".jsonl", ".csv", ".parquet")


def write_rows(path: Path | str | None, rows: Iterable[dict], classes=None) -> int:
    """Write rows as JSONL (default), CSV or Parquet by suffix; stdout when no path.

    Stdout gets the rows only once all are labelled (`files.atomic_open`): a bad
    input met late leaves it empty, as it leaves a file untouched. `classes` name
    the `score_*` columns of CSV and Parquet (default: the first row's scores), so
    a skipped row has the same columns as the others.
    """
    from stance.core.files import atomic_open

    path = Path(path if path is not None else "-")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _write_parquet(path, rows, classes)
    n = 0
    with atomic_open(path) as fh:
        if suffix == ".csv":
            writer = None
            for row in rows:
                flat = _flatten(row, classes)
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


def _flatten(row: dict, classes=None) -> dict:
    flat = {k: v for k, v in row.items() if k not in ("meta", "scores")}
    scores = row.get("scores") or {}
    for c in classes if classes is not None else scores:
        flat[f"score_{c}"] = scores.get(str(c))
    flat["meta"] = json.dumps(row.get("meta", {}), ensure_ascii=False)
    return flat


def _typed_schema(schema):
    """Columns that are all null in the first chunk get their real type."""
    import pyarrow as pa

    fields = []
    for f in schema:
        if pa.types.is_null(f.type):
            numeric = f.name.startswith("score_") or f.name == "confidence"
            f = f.with_type(pa.float64() if numeric else pa.string())
        fields.append(f)
    return pa.schema(fields)


def _write_parquet(path: Path, rows: Iterable[dict], classes=None) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stance.core.files import atomic_open

    n = 0
    with atomic_open(path, "wb") as fh:
        writer = None
        chunk: list[dict] = []

        def flush():
            nonlocal writer
            table = pa.Table.from_pylist([_flatten(r, classes) for r in chunk])
            if writer is None:
                writer = pq.ParquetWriter(fh, _typed_schema(table.schema))
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
