"""Structured inputs → turns: CSV, Parquet and JSONL (ConvoKit utterances,
stance's own turns and labelled rows)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from stance.core.errors import InputError, warn
from stance.core.thread import Turn, iter_jsonl_turns

CSV_COLUMNS = ("id", "speaker", "conversation_id", "reply_to", "timestamp", "text")


def without_text(path: str, lines: list[int]) -> None:
    """Say once per file which turns were skipped for having no text."""
    if lines:
        shown = ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")
        n = len(lines)
        warn(
            f"{path}: {n} turn{'s' if n > 1 else ''} without text skipped "
            f"(line{'s' if n > 1 else ''} {shown})"
        )


def iter_csv_turns(
    lines: Iterable[str], path: str, seen_ids: set[str] | None = None
) -> Iterator[Turn]:
    """Turns of a CSV file, read row by row (quoted fields may span lines).

    Rows without text are skipped (and said, as for JSONL); a row with more
    fields than the header is an error (an unquoted comma would otherwise cut
    its text short); ids must be unique, as in parse_jsonl_lines. A `meta`
    column (stance's own CSV output) holds each turn's meta as JSON.
    """
    stem = Path(path).stem
    seen = set() if seen_ids is None else seen_ids
    reader = csv.DictReader(lines)
    n, empty = 0, []
    end = 0
    try:
        fields = reader.fieldnames
        if fields is None or "text" not in [f.strip() for f in fields]:
            raise InputError(path, "CSV has no 'text' column")
        end = reader.line_num
        for row_no, row in enumerate(reader, start=2):
            line, end = end + 1, reader.line_num
            if None in row:
                raise InputError(
                    path,
                    f"{len(fields) + len(row[None])} fields, the header has "
                    f"{len(fields)} (quote fields that contain commas)",
                    line=line,
                )
            raw_meta = row.get("meta")
            row = {
                (k or "").strip(): _newlines(v or "").strip() for k, v in row.items()
            }
            body = row.get("text", "")
            if not body:
                empty.append(line)
                continue
            n += 1
            turn_id = row.get("id") or f"{stem}:{row_no - 2:04d}"
            claim_id(turn_id, seen, path, line)
            meta = _json_meta(raw_meta, path, line) if raw_meta else {}
            meta.setdefault("kind", "comment")
            meta.setdefault("sources", [{"file": path, "line": line}])
            meta.setdefault("quotes", [])
            yield Turn(
                id=turn_id,
                speaker=row.get("speaker") or None,
                conversation_id=row.get("conversation_id") or stem,
                reply_to=row.get("reply_to") or None,
                timestamp=csv_timestamp(row.get("timestamp")),
                text=body,
                meta=meta,
            )
    except csv.Error as exc:
        # the record that failed starts on the line after the last whole one
        raise InputError(path, f"malformed CSV ({exc})", line=end + 1) from None
    without_text(path, empty)
    if not n:
        raise InputError(path, "CSV has no rows with text")


def iter_parquet_turns(
    source, path: str, seen_ids: set[str] | None = None
) -> Iterator[Turn]:
    """Turns of a Parquet file (`stance label -o x.parquet`), batch by batch.

    Read as a CSV is: a `text` column is needed, rows without text are
    skipped and said, ids must be unique, a `meta` column holds JSON. `source`
    is a path or a pyarrow buffer; "line" is the row number, from 1.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem = Path(path).stem
    seen = set() if seen_ids is None else seen_ids
    try:
        pf = pq.ParquetFile(source)
        names = pf.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"not a Parquet file ({exc})") from None
    if "text" not in names:
        raise InputError(path, "Parquet file has no 'text' column")
    n, empty, row_no = 0, [], 0
    try:
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                row_no += 1
                body = _newlines(str(row.get("text") or "")).strip()
                if not body:
                    empty.append(row_no)
                    continue
                n += 1

                def value(key, row=row):
                    v = row.get(key)
                    return None if v is None or str(v).strip() == "" else str(v).strip()

                turn_id = value("id") or f"{stem}:{row_no - 1:04d}"
                claim_id(turn_id, seen, path, row_no)
                raw = row.get("meta")
                meta = (
                    _json_meta(raw, path, row_no)
                    if isinstance(raw, str) and raw
                    else {}
                )
                meta.setdefault("kind", "comment")
                meta.setdefault("sources", [{"file": path, "line": row_no}])
                meta.setdefault("quotes", [])
                yield Turn(
                    id=turn_id,
                    speaker=value("speaker"),
                    conversation_id=value("conversation_id") or stem,
                    reply_to=value("reply_to"),
                    timestamp=csv_timestamp(value("timestamp")),
                    text=body,
                    meta=meta,
                )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"unreadable Parquet ({exc})") from None
    without_text(path, empty)
    if not n:
        raise InputError(path, "Parquet file has no rows with text")


def _json_meta(raw: str, path: str, line: int) -> dict:
    from stance.core.thread import meta_problem

    try:
        meta = json.loads(raw)
    except ValueError:
        raise InputError(path, "column 'meta' is not JSON", line=line) from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply", line=line) from None
    problem = meta_problem(meta)
    if problem:
        raise InputError(path, f"not a turn: {problem}", line=line)
    return meta


def claim_id(turn_id: str, seen: set[str], path: str, line: int) -> None:
    if turn_id in seen:
        raise InputError(
            path, f"duplicate id {turn_id!r} (ids must be unique)", line=line
        )
    seen.add(turn_id)


def _newlines(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def parse_csv_text(text: str, path: str) -> list[Turn]:
    return list(iter_csv_turns(io.StringIO(text, newline=""), path))


def parse_jsonl_lines(
    lines: Iterable[str], path: str, seen_ids: set[str] | None = None
) -> Iterator[Turn]:
    """Turns of a JSONL file, with the meta every stage expects filled in.

    Ids must be unique (in the file, and among `seen_ids` when given): a reply
    link to a repeated id would be ambiguous.
    """
    seen = set() if seen_ids is None else seen_ids
    empty: list[int] = []
    for lineno, turn in iter_jsonl_block(lines, path, 1, empty):
        claim_id(turn.id, seen, path, lineno)
        yield turn
    without_text(path, empty)


def iter_jsonl_block(
    lines: Iterable[str], path: str, first_line: int, empty: list[int]
) -> Iterator[tuple[int, Turn]]:
    """(line number, turn) of JSONL lines numbered from `first_line`, meta filled
    in; ids are not checked here. The lines of turns without text go to `empty`.

    `parse_jsonl_lines` reads a whole file with it; `scale.label` a block of one.
    """
    for lineno, turn in iter_jsonl_turns(path, lines, first_line):
        text = _newlines(turn.text).strip()  # as a CSV's text is read
        if not text:  # skipped as a CSV row without text is
            empty.append(lineno)
            continue
        if text != turn.text:
            turn = replace(turn, text=text)
        meta = dict(turn.meta)
        meta.setdefault("kind", "comment")
        meta.setdefault("sources", [{"file": path, "line": lineno}])
        meta.setdefault("quotes", [])
        yield lineno, turn.with_meta(**meta)


def parse_jsonl_text(text: str, path: str) -> list[Turn]:
    turns = list(parse_jsonl_lines(text.split("\n"), path))
    if not turns:
        raise InputError(path, "no utterances in file")
    return turns


def csv_timestamp(value: str | None) -> int | float | str | None:
    """A CSV timestamp: a number when it is one (Unix seconds), else the text."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    return number if number == number and abs(number) != float("inf") else value
