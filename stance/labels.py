"""Human label files: reading, validation, joining to turns, templates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .files import atomic_write_bytes, check_output_path, read_text
from .normalize import normalize_text
from .thread import Turn

LOCK_TIMEOUT_S = 60
LABEL_COLUMNS = (
    "text",
    "stance",
    "id",
    "conversation_id",
    "source",
    "annotator",
    "note",
)


@dataclass(frozen=True)
class Label:
    """One human label; `file` and `line` say where it was read."""

    text: str
    stance: str
    id: str = ""
    conversation_id: str = ""
    source: str = ""
    annotator: str = ""
    note: str = ""
    file: str = ""
    line: int = 0

    @property
    def key(self) -> str:
        return normalize_text(self.text)


def read_labels(path: str | Path, allowed: Sequence[str]) -> list[Label]:
    """Read and validate one label CSV; errors name the file and line."""
    path = Path(path)
    text, _ = read_text(path)
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    if "text" not in fields or "stance" not in fields:
        found = ", ".join(fields)
        found = found if len(found) <= 60 else found[:59] + "…"
        raise InputError(
            path, f"label file needs 'text' and 'stance' columns (found: {found})"
        )
    labels: list[Label] = []
    seen: dict[str, Label] = {}
    try:
        for row in reader:
            line = reader.line_num
            row = {(k or "").strip(): (v or "") for k, v in row.items() if k}
            body = row.get("text", "").strip()
            stance = row.get("stance", "").strip()
            if not body:
                raise InputError(path, "empty text", line=line)
            if stance not in allowed:
                shown = stance or "(empty)"
                raise InputError(
                    path,
                    f"unknown stance '{shown}' (expected {', '.join(allowed)})",
                    line=line,
                )
            label = Label(
                text=body,
                stance=stance,
                **{c: row.get(c, "").strip() for c in LABEL_COLUMNS[2:]},
                file=str(path),
                line=line,
            )
            prev = seen.get(label.key)
            if prev is not None and prev.stance != label.stance:
                raise InputError(
                    path,
                    f"the same text is labelled '{prev.stance}' at line "
                    f"{prev.line} and '{label.stance}' here",
                    line=line,
                )
            if prev is None:
                seen[label.key] = label
                labels.append(label)
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})", line=reader.line_num) from None
    return labels


def label_files(
    paths: Iterable[str | Path] | None, default_dir: str | Path
) -> list[Path]:
    """The label files to use: those given, or every CSV in the labels folder."""
    paths = list(paths or [])
    if not paths:
        paths = [Path(default_dir)]
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.glob("*.csv") if not f.name.startswith("."))
            if not found:
                raise InputError(p, "no label files (*.csv) in folder")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise InputError(p, "no such label file")
    return out


def load_labels(paths: Iterable[str | Path], allowed: Sequence[str]) -> list[Label]:
    """Read several label files; a text labelled two ways across files is an error."""
    merged: dict[str, Label] = {}
    for path in paths:
        for label in read_labels(path, allowed):
            prev = merged.get(label.key)
            if prev is not None and prev.stance != label.stance:
                raise InputError(
                    label.file,
                    f"the same text is labelled '{label.stance}' here and "
                    f"'{prev.stance}' in {prev.file} line {prev.line}",
                    line=label.line,
                )
            merged.setdefault(label.key, label)
    return list(merged.values())


def join_labels(turns: Iterable[Turn], labels: Iterable[Label]) -> dict[str, str]:
    """Turn id -> stance, joined by normalised text."""
    by_key = {label.key: label.stance for label in labels}
    out = {}
    for turn in turns:
        stance = by_key.get(normalize_text(turn.text))
        if stance is not None:
            out[turn.id] = stance
    return out


def append_label(
    path: str | Path, row: dict, allowed: Sequence[str] | None = None
) -> None:
    """Append one label durably and safely across processes.

    Under a file lock, the file is copied with the new row to a temporary file
    that is renamed into place: a process killed at any point leaves the file
    with or without the row, never a part of it, and concurrent appends wait
    for each other instead of losing rows. A row the file could not be read
    back with is refused: empty text, a NUL character, a stance outside
    `allowed` (when given), or a text already labelled otherwise.
    """
    from filelock import FileLock, Timeout

    path = check_output_path(path)
    body = str(row.get("text", "")).strip()
    stance = str(row.get("stance", "")).strip()
    if not body:
        raise InputError(path, "cannot append a label with empty text")
    if any("\x00" in str(v) for v in row.values()):
        raise InputError(path, "cannot append a label containing a NUL character")
    if allowed is not None and stance not in allowed:
        raise InputError(
            path, f"unknown stance '{stance}' (expected {', '.join(allowed)})"
        )
    try:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            try:
                old = path.read_bytes()
            except FileNotFoundError:
                old = b""
            try:
                text = old.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InputError(
                    path, "not UTF-8: convert it before appending labels"
                ) from None
            reader = csv.DictReader(io.StringIO(text.replace("\r\n", "\n")))
            columns = [c.strip() for c in reader.fieldnames or []]
            if columns and not {"text", "stance"} <= set(columns):
                raise InputError(path, "label file needs 'text' and 'stance' columns")
            key = normalize_text(body)
            try:
                for prev in reader:
                    prev = {(k or "").strip(): v for k, v in prev.items()}
                    if normalize_text(str(prev.get("text") or "")) != key:
                        continue
                    if str(prev.get("stance") or "").strip() != stance:
                        raise InputError(
                            path,
                            f"this text is already labelled '{prev['stance']}' at "
                            f"line {reader.line_num}",
                        )
            except csv.Error as exc:
                raise InputError(
                    path, f"malformed CSV ({exc})", line=reader.line_num
                ) from None
            buf = io.StringIO()
            writer = csv.DictWriter(
                buf, fieldnames=columns or list(LABEL_COLUMNS), extrasaction="ignore"
            )
            if not columns:
                old = b""
                writer.writeheader()
            elif not old.endswith(b"\n"):
                buf.write("\r\n")
            writer.writerow({c: row.get(c, "") for c in writer.fieldnames})
            atomic_write_bytes(path, old + buf.getvalue().encode("utf-8"))
    except Timeout:
        raise InputError(
            path, f"locked by another process for over {LOCK_TIMEOUT_S} s"
        ) from None
