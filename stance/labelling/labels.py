"""Human label files: reading, validation, joining to turns, templates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stance.core.errors import InputError
from stance.core.files import atomic_write_bytes, check_output_path
from stance.core.inputfiles import read_text
from stance.core.normalize import normalize_text
from stance.core.schema import check_label
from stance.core.thread import Turn

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


def read_label_rows(
    path: str | Path, allowed: Sequence[str]
) -> tuple[list[Label], list[int]]:
    """Every labelled row of one CSV (repeats and conflicts kept) + pending lines.

    Lines are where each record starts. A row whose `stance` is empty is *pending* (not labelled yet, e.g. a
    `stance suggest` batch filled in part): it is skipped and its line returned.
    Columns other than LABEL_COLUMNS (such as a batch's `guess`) are ignored.
    An unknown stance or a labelled row without text is an InputError.
    """
    path = Path(path)
    text, _ = read_text(path)
    reader = csv.DictReader(io.StringIO(text))
    try:
        fields = [f.strip() for f in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})", line=1) from None
    if "text" not in fields or "stance" not in fields:
        found = ", ".join(fields)
        found = found if len(found) <= 60 else found[:59] + "…"
        raise InputError(
            path, f"label file needs 'text' and 'stance' columns (found: {found})"
        )
    rows: list[Label] = []
    pending: list[int] = []
    end = 0
    try:
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num  # a record's first line
            row = {(k or "").strip(): (v or "") for k, v in row.items() if k}
            body = row.get("text", "").strip()
            stance = row.get("stance", "").strip()
            if not stance:
                pending.append(line)
                continue
            if not body:
                raise InputError(path, "empty text", line=line)
            check_label(stance, allowed, path, line=line)
            rows.append(
                Label(
                    text=body,
                    stance=stance,
                    **{c: row.get(c, "").strip() for c in LABEL_COLUMNS[2:]},
                    file=str(path),
                    line=line,
                )
            )
    except csv.Error as exc:
        # the record that failed starts on the line after the last whole one
        raise InputError(path, f"malformed CSV ({exc})", line=end + 1) from None
    return rows, pending


def read_labels(path: str | Path, allowed: Sequence[str]) -> list[Label]:
    """Read and validate one label CSV; errors name the file and line.

    Rows with an empty stance are pending and skipped (see `read_label_rows`);
    one text labelled two ways in the file is an error.
    """
    labels: list[Label] = []
    seen: dict[str, Label] = {}
    for label in read_label_rows(path, allowed)[0]:
        prev = seen.get(label.key)
        if prev is not None and prev.stance != label.stance:
            raise InputError(
                path,
                f"the same text is labelled '{prev.stance}' at line "
                f"{prev.line} and '{label.stance}' here",
                line=label.line,
            )
        if prev is None:
            seen[label.key] = label
            labels.append(label)
    return labels


def pending_rows(paths: Iterable[str | Path], allowed: Sequence[str]) -> dict[str, int]:
    """File -> number of rows with an empty stance (skipped when loading)."""
    out = {}
    for path in paths:
        n = len(read_label_rows(path, allowed)[1])
        if n:
            out[str(path)] = n
    return out


def label_groups(labels: Sequence[Label]) -> list[str]:
    """The cross-validation group of each label: its conversation, else its source."""
    return [lab.conversation_id or Path(lab.source or lab.file).name for lab in labels]


# labels/heldout/: the held-out test set. `stance train` reads labels/*.csv only
# (not this folder) unless --include-heldout, and scores the model on it.
HELDOUT_DIR = "heldout"


def heldout_label_files(labels_dir: str | Path) -> list[Path]:
    """The held-out label files of a labels folder (labels/heldout/*.csv)."""
    folder = Path(labels_dir) / HELDOUT_DIR
    if not folder.is_dir():
        return []
    return folder_label_files(folder)


def folder_label_files(folder: str | Path) -> list[Path]:
    """The label files of a folder: its *.csv, in name order; dot-files (the
    temporaries of an interrupted write) are not label files."""
    return sorted(f for f in Path(folder).glob("*.csv") if not f.name.startswith("."))


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
            found = folder_label_files(p)
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


def join_by_text(turns: Iterable[Turn], by_key: dict) -> dict:
    """Turn id -> the value stored under the turn's normalised text."""
    out = {}
    for turn in turns:
        found = by_key.get(normalize_text(turn.text))
        if found is not None:
            out[turn.id] = found
    return out


class LabelFile:
    """One label file on disk, and the only code that writes label files.

    Every writer (`stance annotate` and its undo, `stance labels import`) goes
    through it: it takes the file lock, reads the file for an update (UTF-8
    only), checks a row before it is written, and replaces the file atomically
    (temporary file + rename), so a process killed at any point leaves the old
    or the new file, and concurrent writers wait for each other.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def lock(self):
        """The lock every writer of this file takes (appends, undo, imports)."""
        import os

        from filelock import FileLock

        # The lock lives beside the real file: writers that reach it through
        # different symlinks still wait for each other.
        return FileLock(os.path.realpath(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)

    def text_for_update(self) -> str:
        """The text of the file about to be rewritten ("" when there is none).

        Rewrites are UTF-8: a file in another encoding is an InputError (convert
        it first) rather than a mix of two encodings.
        """
        path = self.path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror}") from None
        try:
            return data.decode("utf-8")  # a BOM stays, as U+FEFF, for the rewrite
        except UnicodeDecodeError:
            raise InputError(
                path, "not UTF-8: convert it (to UTF-8) before adding labels to it"
            ) from None

    def header(self) -> list[str] | None:
        """The column names of an existing, non-empty label file."""
        path = self.path
        if not path.exists() or path.stat().st_size == 0:
            return None
        first = self.text_for_update().removeprefix("\ufeff").split("\n", 1)[0]
        fields = [f.strip() for f in next(csv.reader([first]), [])]
        if "text" not in fields or "stance" not in fields:
            raise InputError(path, "label file needs 'text' and 'stance' columns")
        return fields

    @staticmethod
    def format_row(fields: Sequence[str], row: dict) -> str:
        """One CSV record exactly as the label files hold it (\r\n ends it)."""
        buf = io.StringIO()
        csv.writer(buf).writerow([row.get(f, "") for f in fields])
        return buf.getvalue()

    def append(self, row: dict, allowed: Sequence[str] | None = None) -> None:
        """Append one label durably and safely across processes.

        Under the file lock, the file is copied with the new row to a temporary
        file that is renamed into place. A row the file could not be read back
        with is refused: empty text, a NUL character, a stance outside `allowed`
        (when given), or a text already labelled otherwise.
        """
        from filelock import Timeout

        path = self.path = check_output_path(self.path)
        body = str(row.get("text", "")).strip()
        stance = str(row.get("stance", "")).strip()
        if not body:
            raise InputError(path, "cannot append a label with empty text")
        if any("\x00" in str(v) for v in row.values()):
            raise InputError(path, "cannot append a label containing a NUL character")
        if allowed is not None:
            check_label(stance, allowed, path)
        try:
            with self.lock():
                self._append_locked(row, body, stance)
        except Timeout:
            raise InputError(
                path, f"locked by another process for over {LOCK_TIMEOUT_S} s"
            ) from None

    def _append_locked(self, row: dict, body: str, stance: str) -> None:
        path = self.path
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

    def remove(self, row: dict) -> bool:
        """Remove the last record with this row's text and stance; False if none.

        Runs under the same lock as `append` and rewrites the file whole, so a
        crash leaves the old or the new file.
        """
        from stance.core.files import atomic_write_text

        path = self.path
        with self.lock():
            fields = self.header()
            if fields is None:
                return False
            data = self.text_for_update()
            mine = self.format_row(fields, row)
            if data.endswith(mine):  # the usual case: ours is the last record
                atomic_write_text(path, data[: -len(mine)])
                return True
            records = list(csv.reader(io.StringIO(data)))
            header, body = records[0], records[1:]
            ti, si = header.index("text"), header.index("stance")
            for k in range(len(body) - 1, -1, -1):
                rec = body[k]
                if (
                    len(rec) > max(ti, si)
                    and rec[ti] == row.get("text", "")
                    and rec[si] == row.get("stance", "")
                ):
                    del body[k]
                    buf = io.StringIO()
                    csv.writer(buf).writerows([header, *body])
                    atomic_write_text(path, buf.getvalue())
                    return True
            return False

    def add_rows(self, data: str, rows: Sequence[dict]) -> None:
        """Write the file as `data` (its text, read under the lock the caller
        holds) plus `rows`, a header first when the file was empty."""
        from stance.core.files import atomic_write_text

        fields = self.header() or list(LABEL_COLUMNS)
        if data:
            if not data.endswith("\n"):
                data += "\r\n"
        else:
            data = self.format_row(fields, {f: f for f in fields})
        data += "".join(self.format_row(fields, r) for r in rows)
        atomic_write_text(self.path, data)
