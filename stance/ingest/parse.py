"""Inputs → pages → turns: which files to read, each file into a Page, and the
whole pass (`parse_paths`): repeated quotes out, duplicates merged, languages
recorded.

Raw pages go to the page parser (`page.py`), structured files to the readers
(`readers.py`).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from stance.core.errors import InputError
from stance.core.inputfiles import decode_text, read_bytes
from stance.core.thread import Turn
from stance.ingest.page import Dropped, parse_page_text
from stance.ingest.quotes import extract_repeated_quotes
from stance.ingest.readers import (
    iter_csv_turns,
    iter_parquet_turns,
    parse_csv_text,
    parse_jsonl_lines,
    parse_jsonl_text,
)
from stance.ingest.replies import link_replies
from stance.ingest.timestamps import date_turns

STRUCTURED_SUFFIXES = {".jsonl", ".csv", ".parquet"}

SKIPPED_NAMES = re.compile(r"^(SOURCES.*\.tsv|README.*|LICENSE.*)$", re.I)


@dataclass(frozen=True)
class Page:
    """The turns of one input file before deduplication."""

    path: str
    encoding: str
    structured: bool
    turns: tuple[Turn, ...]
    dropped: tuple[Dropped, ...] = ()


@dataclass(frozen=True)
class ParseResult:
    turns: tuple[Turn, ...]
    pages: tuple[Page, ...]
    dropped: tuple[Dropped, ...]
    merged: int = 0
    quotes_found: int = 0


def expand_paths(paths: Iterable[str | Path], recursive: bool = True) -> list[Path]:
    """Files to read: folders expand to their files, subfolders too unless not
    `recursive` (ConvoKit corpora stay whole; dot-files, SOURCES*.tsv, README*,
    FIFOs and symlinked folders are not read). A file named twice, or met
    again inside a folder given too, is read once, where it first came."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if not p.exists() and not p.is_symlink():
            raise InputError(p, "no such file or directory")
        if p.is_dir():
            files = _folder_files(p, recursive)
            if not files:
                raise InputError(p, "directory has no readable files")
            out.extend(files)
        else:
            out.append(p)
    seen: set[str] = set()
    unique = []
    for f in out:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    for name in ("utterances.jsonl", "utterances.json"):  # a ConvoKit corpus
        if (folder / name).is_file():
            return [folder / name]
    files: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(folder, f"cannot list: {exc.strerror}") from None
    for entry in entries:
        if entry.name.startswith(".") or SKIPPED_NAMES.match(entry.name):
            continue
        path = folder / entry.name
        if entry.is_file():
            files.append(path)
        elif recursive and entry.is_dir(follow_symlinks=False):
            files.extend(_folder_files(path, recursive))
    return files


def select_inputs(
    paths: Iterable[str | Path], *, recursive: bool = True, skip_bad: bool = False
) -> tuple[list[Path], list[InputError]]:
    """The input files, and with `skip_bad` the errors of those left out.

    Without `skip_bad` this is `expand_paths`: the first bad file stops the
    command later, where it is read. With it every file is read once here as
    the commands read it (a page parsed; a structured file streamed through,
    ids checked against the files before it), and a bad one is left out.
    """
    from stance.ingest.parse import iter_structured

    if not skip_bad:
        return expand_paths(paths, recursive), []
    files: list[Path] = []
    bad: list[InputError] = []
    for p in paths:
        try:
            files.extend(expand_paths([p], recursive))
        except InputError as exc:
            bad.append(exc)
    good: list[Path] = []
    seen: set[str] = set()
    for f in dict.fromkeys(files):
        ids = set(seen)
        try:
            if f.suffix.lower() in STRUCTURED_SUFFIXES:
                ids.update(t.id for t in iter_structured(f, set(seen)))
            else:
                read_page(f)
        except InputError as exc:
            bad.append(exc)
            continue
        seen = ids
        good.append(f)
    if not good:
        raise InputError(
            bad[0].path if len(bad) == 1 else "inputs",
            f"no usable input: {len(bad)} bad file{'s' if len(bad) != 1 else ''} "
            f"skipped (first: {bad[0]})",
        )
    return good, bad


def read_page(path: str | Path) -> Page:
    """Read one input file of any supported kind into a Page."""
    from stance.ingest.convokit import corpus_dir, read_corpus

    if corpus_dir(path) is not None:
        return Page(str(path), "utf-8", True, tuple(read_corpus(path)))
    return page_from_bytes(read_bytes(path), path)


def page_from_bytes(data: bytes, path: str | Path) -> Page:
    """One input file's bytes into a Page; its suffix says how to read it."""
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow as pa

        turns = tuple(iter_parquet_turns(pa.BufferReader(data), name))
        return Page(name, "parquet", True, turns)
    text, encoding = decode_text(data, path)
    if suffix == ".jsonl":
        return Page(name, encoding, True, tuple(parse_jsonl_text(text, name)))
    if suffix == ".csv":
        return Page(name, encoding, True, tuple(parse_csv_text(text, name)))
    turns, dropped = parse_page_text(text, name, _conversation_id(path))
    if not turns:
        raise InputError(path, "no text turns found (every line was site chrome)")
    turns = date_turns(turns, dropped)
    return Page(name, encoding, False, tuple(turns), tuple(dropped))


def _conversation_id(path: Path) -> str:
    return path.stem


def parse_paths(
    paths: Iterable[str | Path],
    *,
    dedupe: bool = True,
    recursive: bool = True,
    read_pages=None,
    find_duplicates=None,
) -> ParseResult:
    """Read every input, take out repeated quotes, merge duplicate turns, then
    record each turn's language in `meta.lang`.

    `read_pages(files)` (the Pages, in order) and `find_duplicates(texts)`
    replace `read_page` on each file and `dedup.find_duplicates`: `scale.dedup`
    runs both on Dask workers with the same results.
    """
    from stance.ingest.dedup import dedupe_turns
    from stance.ingest.dedup import find_duplicates as find_here
    from stance.ingest.lang import with_languages

    files = expand_paths(paths, recursive)
    pages = read_pages(files) if read_pages else [read_page(f) for f in files]
    # Structured ids are the user's: one id, one turn, across all inputs.
    owner: dict[str, str] = {}
    for page in pages:
        if page.structured:
            for t in page.turns:
                if t.id in owner:
                    raise InputError(
                        page.path,
                        f"id {t.id!r} is also used in {owner[t.id]}",
                        line=t.meta["sources"][0].get("line"),
                    )
                owner[t.id] = page.path
    pages = rename_pages(pages, set(owner))
    raw = [t for p in pages if not p.structured for t in p.turns]
    structured = [t for p in pages if p.structured for t in p.turns]
    raw, n_quotes = extract_repeated_quotes(raw)
    merged = 0
    if dedupe:
        raw, merged = dedupe_turns(raw, find_duplicates or find_here)
    raw = link_replies(raw)
    dropped = tuple(d for p in pages for d in p.dropped)
    return ParseResult(
        turns=tuple(with_languages((*raw, *structured))),
        pages=tuple(pages),
        dropped=dropped,
        merged=merged,
        quotes_found=n_quotes,
    )


def rename_pages(pages: list[Page], structured_ids: set[str]) -> list[Page]:
    """Page ids are ours: a page whose conversation id is taken (the same file
    name in two folders, or a CSV of that name) is renamed conv~2, conv~3...

    `structured_ids`: the ids of the structured inputs' turns, which are the
    user's and never change.
    """
    pages = list(pages)
    taken = {t.conversation_id for p in pages if p.structured for t in p.turns}
    for k, page in enumerate(pages):
        if page.structured:
            continue
        conv = page.turns[0].conversation_id
        new, n = conv, 1
        while new in taken or any(t.id in structured_ids for t in _renamed(page, new)):
            n += 1
            new = f"{conv}~{n}"
        taken.add(new)
        if new != conv:
            pages[k] = Page(
                page.path, page.encoding, False, _renamed(page, new), page.dropped
            )
    return pages


def _renamed(page: Page, conv: str) -> tuple[Turn, ...]:
    if page.turns[0].conversation_id == conv:
        return page.turns
    return tuple(_reconv(t, conv) for t in page.turns)


def _reconv(turn: Turn, conv: str) -> Turn:
    return replace(
        turn, id=conv + turn.id[len(turn.conversation_id) :], conversation_id=conv
    )


def iter_structured(path: Path, seen_ids: set[str] | None = None) -> Iterator[Turn]:
    """Stream turns from a JSONL, CSV or Parquet file or a ConvoKit corpus
    without reading it whole, each with its language (`lang.with_languages`).

    UTF-8 and BOM-marked files stream; a file in another encoding is decoded
    whole, as `stance parse` would.
    """
    from stance.ingest.lang import with_languages

    yield from with_languages(_read_structured(path, seen_ids))


def _read_structured(path: Path, seen_ids: set[str] | None) -> Iterator[Turn]:
    from stance.core.inputfiles import read_text, sniff_encoding
    from stance.ingest.convokit import corpus_dir, iter_corpus

    if corpus_dir(path) is not None:
        yield from iter_corpus(path, seen_ids)
        return
    if path.suffix.lower() == ".parquet":
        from stance.ingest.readers import iter_parquet_turns

        if path.is_file():
            source = str(path)
        else:  # a FIFO: read whole, size-limited
            import pyarrow as pa

            from stance.core.inputfiles import read_bytes

            source = pa.BufferReader(read_bytes(path))
        yield from iter_parquet_turns(source, str(path), seen_ids)
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
    """All turns of the inputs; structured files stream, raw pages are parsed.

    The ids already met are held in an `IdSet`: memory stays flat on millions
    of turns.
    """
    from stance.core.idset import IdSet

    files = expand_paths(paths)
    structured = [f for f in files if f.suffix.lower() in STRUCTURED_SUFFIXES]
    pages = [f for f in files if f not in structured]
    seen = IdSet()
    if pages:
        for turn in parse_paths(pages).turns:
            seen.add(turn.id)
            yield turn
    for f in structured:
        yield from iter_structured(f, seen)
