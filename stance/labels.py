"""Human label files: reading, validation, joining to turns, templates."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .files import read_text
from .normalize import normalize_text
from .thread import Turn

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
        raise InputError(path, "label file needs 'text' and 'stance' columns")
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


def append_label(path: str | Path, row: dict) -> None:
    """Append one label durably, under a file lock (safe across processes)."""
    from filelock import FileLock

    path = Path(path)
    with FileLock(str(path) + ".lock"):
        new = not path.exists() or path.stat().st_size == 0
        if not new:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                needs_newline = fh.read(1) != b"\n"
        with open(path, "a", encoding="utf-8", newline="") as fh:
            if not new and needs_newline:
                fh.write("\n")
            writer = csv.DictWriter(
                fh, fieldnames=list(LABEL_COLUMNS), extrasaction="ignore"
            )
            if new:
                writer.writeheader()
            writer.writerow({c: row.get(c, "") for c in LABEL_COLUMNS})
            fh.flush()
            os.fsync(fh.fileno())
