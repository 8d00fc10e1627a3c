"""The data model: a frozen Turn whose fields are the JSONL format (ConvoKit's)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from stance.core.errors import InputError

KINDS = ("article", "comment", "post", "message")
FIELDS = ("id", "speaker", "conversation_id", "reply_to", "timestamp", "text", "meta")
# Deeper JSON is refused when read: every writer and reader of turns (json,
# pyarrow, the report) then handles it without hitting Python's recursion limit.
MAX_META_DEPTH = 64


def meta_problem(meta: Any) -> str | None:
    """Why `meta` cannot be a turn's meta, or None.

    The keys stance itself reads must have their types: `kind`, `section`
    strings; `number` an integer; `sources` a list of objects whose `file` is
    a string and `line` an integer; `quotes` a list of objects whose `text` is
    a string. Other keys may hold any JSON, nested at most MAX_META_DEPTH deep.
    """
    if not isinstance(meta, dict):
        return "'meta' must be an object"
    for key in ("kind", "section"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return f"'meta.{key}' must be a string"
    number = meta.get("number")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
        return "'meta.number' must be an integer"
    for key, field_, kind in (("sources", "file", str), ("quotes", "text", str)):
        items = meta.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            return f"'meta.{key}' must be a list of objects"
        if any(
            x.get(field_) is not None and not isinstance(x[field_], kind) for x in items
        ):
            return f"'meta.{key}[].{field_}' must be a string"
    for src in meta.get("sources") or ():
        line = src.get("line")
        if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
            return "'meta.sources[].line' must be an integer"
    if json_depth(meta) > MAX_META_DEPTH:
        return f"'meta' is nested deeper than {MAX_META_DEPTH} levels"
    return None


def json_depth(value: Any) -> int:
    """Nesting depth of JSON data, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d)
            if d > MAX_META_DEPTH:
                return d
            stack.extend((x, d + 1) for x in v)
    return deepest


@dataclass(frozen=True)
class Turn:
    """One utterance of a thread.

    `meta` holds at least `kind` (article | comment | post | message),
    `sources` (every file and line the turn was found at) and `quotes`
    (quoted spans taken out of `text`).
    """

    id: str
    speaker: str | None
    conversation_id: str
    reply_to: str | None
    timestamp: int | float | str | None  # Unix seconds from pages; JSON keeps its type
    text: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_meta(self, **changes: Any) -> Turn:
        return replace(self, meta={**self.meta, **changes})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        meta = data.get("meta") or {}
        problem = meta_problem(meta)
        if problem:
            raise ValueError(problem)
        text = data.get("text")
        if not isinstance(text, str):
            raise ValueError("'text' must be a string")
        if data.get("id") is None:
            raise ValueError("missing 'id'")
        speaker = data.get("speaker", data.get("user"))
        conv = data.get("conversation_id", data.get("root"))
        reply = data.get("reply_to")
        if reply is None:
            reply = data.get("reply-to")  # ConvoKit's own spelling
        return cls(
            id=str(data["id"]),
            speaker=None if speaker is None else str(speaker),
            conversation_id=str(conv if conv is not None else data["id"]),
            reply_to=None if reply is None else str(reply),
            timestamp=_timestamp(data.get("timestamp")),
            text=text,
            meta=meta,
        )


def _timestamp(value: Any) -> int | float | str | None:
    """A JSON timestamp keeps its type: numbers stay numbers (not bools)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return str(value)


def turn_to_json(turn: Turn, extra: dict[str, Any] | None = None) -> str:
    data = turn.to_dict()
    if extra:
        data.update(extra)
    return json.dumps(data, ensure_ascii=False)


def iter_jsonl_objects(
    path: str | Path, lines: Iterable[str], first_line: int = 1
) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) per non-blank JSONL line; a bad line is an InputError.

    `first_line`: the number of the first line (a block of a file starts later).
    """
    for lineno, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"malformed JSON ({exc.msg})", line=lineno) from None
        except RecursionError:
            raise InputError(path, "JSON nested too deeply", line=lineno) from None
        if not isinstance(record, dict):
            raise InputError(path, "expected a JSON object", line=lineno)
        yield lineno, record


def iter_jsonl_turns(
    path: str | Path, lines: Iterable[str], first_line: int = 1
) -> Iterator[tuple[int, Turn]]:
    """Yield (line number, turn) per non-blank JSONL line; a bad line is an InputError."""
    for lineno, record in iter_jsonl_objects(path, lines, first_line):
        try:
            yield lineno, Turn.from_dict(record)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"not a turn: {exc}", line=lineno) from None


def check_integrity(turns: Iterable[Turn]) -> list[str]:
    """Return the problems that make `turns` an invalid set of threads.

    Ids are unique; `reply_to` points to a turn of the same conversation;
    reply links form no cycle. Reads `id`, `reply_to` and `conversation_id`
    only (`convokit.write_corpus` passes those of the utterances it writes).
    """
    problems: list[str] = []
    by_id: dict[str, Turn] = {}
    for turn in turns:
        if turn.id in by_id:
            problems.append(f"duplicate id {turn.id!r}")
        by_id[turn.id] = turn
    for turn in by_id.values():
        if turn.reply_to is None:
            continue
        parent = by_id.get(turn.reply_to)
        if parent is None:
            problems.append(f"{turn.id!r} replies to missing turn {turn.reply_to!r}")
        elif parent.conversation_id != turn.conversation_id:
            problems.append(
                f"{turn.id!r} replies to {turn.reply_to!r} in another conversation"
            )
    for start in by_id:
        seen = set()
        node: str | None = start
        while node is not None and node in by_id:
            if node in seen:
                problems.append(f"reply cycle through {start!r}")
                break
            seen.add(node)
            node = by_id[node].reply_to
    return problems
