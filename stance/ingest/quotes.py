"""Repeated quotes: a turn that repeats part of an earlier, longer turn is a
quote of it, and moves into its neighbour's `meta.quotes`."""

from __future__ import annotations

import re
from collections import deque

from stance.core.normalize import normalize_text
from stance.core.thread import Turn

MIN_QUOTE_WORDS = 6

_QUOTE_CHARS = re.compile(r"[\"']")

_WORDS = re.compile(r"\S+")


def extract_repeated_quotes(turns: list[Turn]) -> tuple[list[Turn], int]:
    """A turn whose text lies inside an earlier, longer turn is a quote of it.

    It leaves the turn list and is recorded in `meta.quotes` of its neighbour in
    the same page: the turn before when that one ends with ':' (it introduces
    the quote), else the turn after.
    """
    norms = [_QUOTE_CHARS.sub("", normalize_text(t.text)).strip(" .,;:") for t in turns]
    # A quote is looked up by its first four words; index only those 4-grams
    # (one per candidate), streaming each text's words, so memory stays small
    # even for a text of millions of words.
    firsts: dict[int, tuple[str, ...]] = {}
    for i, n in enumerate(norms):
        words = n.split(maxsplit=MIN_QUOTE_WORDS)
        if len(words) >= MIN_QUOTE_WORDS:
            firsts[i] = tuple(words[:4])
    wanted = set(firsts.values())
    last_words = {key[3] for key in wanted}
    index: dict[tuple[str, ...], list[int]] = {}
    for i, n in enumerate(norms):
        if not wanted:
            break
        window: deque[str] = deque(maxlen=4)
        for m in _WORDS.finditer(n):
            word = m.group()
            window.append(word)
            if word in last_words and (key := tuple(window)) in wanted:
                bucket = index.setdefault(key, [])
                if len(bucket) < 16 and (not bucket or bucket[-1] != i):
                    bucket.append(i)
    quote_of: dict[int, int] = {}
    for i, key in firsts.items():
        n = norms[i]
        for j in index.get(key, ()):
            if (
                j < i
                and len(norms[j]) > len(n) * 1.25
                and n in norms[j]
                and j not in quote_of
            ):
                quote_of[i] = j
                break
    if not quote_of:
        return turns, 0
    out = list(turns)
    attach: dict[int, list[dict]] = {}
    for i, j in quote_of.items():
        conv = turns[i].conversation_id
        prev_i = next((k for k in range(i - 1, -1, -1) if k not in quote_of), None)
        next_i = next((k for k in range(i + 1, len(turns)) if k not in quote_of), None)
        prev_ok = prev_i is not None and turns[prev_i].conversation_id == conv
        next_ok = next_i is not None and turns[next_i].conversation_id == conv
        if prev_ok and (turns[prev_i].text.rstrip().endswith(":") or not next_ok):
            target = prev_i
        elif next_ok:
            target = next_i
        else:
            continue
        src = turns[i].meta.get("sources", [{}])[0]
        attach.setdefault(target, []).append(
            {
                "text": turns[i].text,
                "source": turns[j].id,
                "by": None,
                "line": src.get("line"),
            }
        )
        out[i] = None
    for target, quotes in attach.items():
        t = out[target]
        out[target] = t.with_meta(quotes=list(t.meta.get("quotes", [])) + quotes)
    kept = [t for t in out if t is not None]
    return kept, len(turns) - len(kept)
