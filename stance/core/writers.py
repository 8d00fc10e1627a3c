"""Writers of turns (JSONL) and labelled rows (JSONL, CSV, Parquet): one place
for the output formats. Every writer goes through `files.atomic_open`."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path

from stance.core.thread import Turn, turn_to_json

# What `stance parse -o` writes.
TURN_FORMATS = (".jsonl",)


def write_turns(path: str | Path, turns: Iterable[Turn]) -> int:
    """Turns as JSONL to `path` (`-`: stdout), atomically."""
    from stance.core.files import atomic_open

    n = 0
    with atomic_open(path) as fh:
        for turn in turns:
            fh.write(turn_to_json(turn) + "\n")
            n += 1
    return n


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
    if flat.get("timestamp") is not None:
        # one column type whatever the rows hold (Unix seconds from pages, a
        # JSONL input's text): the readers turn numbers back into numbers
        flat["timestamp"] = str(flat["timestamp"])
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


def write_row_dataset(
    directory: Path | str, blocks: Iterable[list[dict]], classes=None
) -> int:
    """A partitioned Parquet dataset: one `part-NNNNN.parquet` per block of rows,
    in order, built under a temporary name and swapped into place whole
    (`files.atomic_directory`). pandas, pyarrow and dask read the folder as
    one table."""
    from stance.core.files import atomic_directory

    n = 0
    with atomic_directory(directory, may_replace=not_a_row_dataset) as tmp:
        for k, rows in enumerate(blocks):
            if rows:
                n += _write_parquet(Path(tmp) / f"part-{k:05d}.parquet", rows, classes)
    return n


def not_a_row_dataset(folder: Path) -> str | None:
    """Why `folder` must not be replaced by a row dataset (None: it is one)."""
    import re

    for entry in os.scandir(folder):
        if not re.fullmatch(r"part-\d{5}\.parquet", entry.name):
            return "not a dataset of `stance label --partitioned`: move it away"
    return None
