"""Dates on pages → Unix seconds (UTC), the raw text kept in `meta.timestamp_text`.

Which text dates a turn, first found wins:

1. the date its post header gave (`Post by X on DATE`, `u/name DATE`, mail
   `Date:`), already in `turn.timestamp` as page text;
2. a date the parser dropped between the turn before and this turn's first
   line: a date line, a dateline (`Updated: ...`), a subreddit header, a
   header line with a date in it (`u/name 1d ago`, `On DATE, X wrote:`), or a
   line that is a date and nothing else (mail archives' `Sun Nov 26 16:26:31
   PST 2000`); the last one before the turn, as headers precede their text;
3. a paragraph of an article takes the date of the article paragraph before it.

The text is read by dateparser (English; a zone named in the text is honoured,
a text without one is taken as UTC). On the 56 absolute page timestamps of the
shipped pages dateparser and python-dateutil both read all 56 once cleaned up
here (55 and 54 of the raw texts), but dateutil gets the 14 that name a zone
(PDT, PST, BST, an offset...) hours wrong without a hand-made `tzinfos` table,
and it has no relative dates at all (BENCHMARKS.md, `make bench-convokit`).
Known ambiguity: `IST` is read as Israel time (+2), not India's (+5:30).

Relative dates ("1d ago", "2 months ago") and dates without a year ("Sep 17")
resolve only against the page date: the first absolute date the page gives in
such a line. A page without one leaves them null (text kept): never against
today, so re-parsing a page gives the same result on any day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from stance.core.thread import Turn

# Rules of stance.parse whose dropped lines are dates as a whole.
DATE_RULES = frozenset({"date line", "dateline", "time line", "subreddit header"})
# Dropped lines that may carry a date inside: post headers, quote headers.
HEADER_RULE = re.compile(r"→ (?:speaker/timestamp|quoted message)$")

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?"
_ZONE = r"(?-i:[A-Z]{2,5}\b|[+-]\d{4}|UTC[+-]\d{1,2})"  # PDT, not "edited"
_ABS = (
    rf"\b(?:{_DAY},?\s+)?(?:"
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?(?:\s+(?:'\d{{2}}|\d{{4}}))?"
    rf"|\d{{1,2}}\s+{_MONTH},?(?:\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}})?)?"
    rf"|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}})"
    rf"(?:,?\s+(?:at\s+)?{_TIME})?(?:\s+{_ZONE})?(?:\s+\d{{4}})?"
)
_REL = (
    r"(?:\d+\s*(?:s|sec|m|min|h|hr|d|w|wk|mo|y|yr|second|minute|hour|day|week|"
    r"month|year)s?\.?|an?\s+(?:second|minute|hour|day|week|month|year))\s+ago"
    r"|yesterday|today|just now"
)
# A date inside a header line; the time before a date (5:16PM BST 18 Oct 2008).
DATE_IN_TEXT = re.compile(
    rf"(?:\b{_TIME}\s*{_ZONE}?\s+)?{_ABS}|\b(?:{_REL})\b", re.IGNORECASE
)
# A line that is a date and nothing else (ctime: Sun Nov 26 16:26:31 PST 2000).
DATE_ONLY = re.compile(
    rf"^(?:{_DAY},?\s+)?{_MONTH}\s+\d{{1,2}}\s+{_TIME}\s+(?:{_ZONE}\s+)?\d{{4}}$",
    re.IGNORECASE,
)
RELATIVE = re.compile(rf"\b(?:{_REL})\b", re.IGNORECASE)
_YEAR = re.compile(r"\b\d{4}\b|'\d{2}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_LABEL = re.compile(r"^.*?\b(?:updated|posted|published|edited)\s*:?\s*", re.I)
_EDITED = re.compile(r"\s+edited\b.*$", re.I)
_TRAILING_DAY = re.compile(rf"[\s,-]+{_DAY}$", re.I)


def clean_date_text(text: str) -> str:
    """The date part of a page line: no `Updated:` label, `edited ...` tail or -Saturday."""
    text = _EDITED.sub("", text.strip())
    text = _LABEL.sub("", text) if _LABEL.match(text) else text
    return _TRAILING_DAY.sub("", text).strip(" .")


def is_relative(text: str) -> bool:
    return RELATIVE.search(text) is not None


def has_year(text: str) -> bool:
    return _YEAR.search(text) is not None


@lru_cache(maxsize=4096)
def _parse(text: str, base: datetime | None) -> int | None:
    import dateparser

    settings = {
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": True,
    }
    if base is not None:
        settings["RELATIVE_BASE"] = base.replace(tzinfo=None)
    else:
        # dateparser fills a missing day from today: "May 2015" is May 1st here
        settings["PREFER_DAY_OF_MONTH"] = "first"
    when = dateparser.parse(text, languages=["en"], settings=settings)
    return None if when is None else int(when.timestamp())


def parse_timestamp(text: str | None, page_date: int | None = None) -> int | None:
    """Unix seconds (UTC) of a date as a page writes it, or None.

    A relative date needs `page_date` (Unix seconds): without it, None.
    """
    if not text or not text.strip():
        return None
    cleaned = clean_date_text(text)
    if not cleaned:
        return None
    if is_relative(cleaned) or not has_year(cleaned):
        # "1d ago", "Sep 17": dateparser would take today (or this year)
        if page_date is None:
            return None
        return _parse(cleaned, datetime.fromtimestamp(page_date, UTC))
    if not any(c.isdigit() for c in cleaned):
        return None  # "Tuesday" alone is no date
    when = _parse(cleaned, None)
    if when is None:
        # a date line with more on it ("5 July 2019 Author: Joanna ..."): its date
        found = DATE_IN_TEXT.search(cleaned)
        if found and found.group(0).strip() != cleaned and has_year(found.group(0)):
            when = _parse(found.group(0).strip(), None)
    return when


def date_in_line(text: str, rule: str) -> str | None:
    """The date text a dropped line gives, by the rule that dropped it."""
    if rule in DATE_RULES:
        if rule == "subreddit header":
            m = DATE_IN_TEXT.search(text)
            return m.group().strip() if m else None
        return text.strip()
    if HEADER_RULE.search(rule):
        m = DATE_IN_TEXT.search(text)
        return m.group().strip() if m else None
    if DATE_ONLY.match(text.strip()):
        return text.strip()
    return None


def page_date_texts(dropped: Sequence) -> list[tuple[int, str]]:
    """(line, date text) of every dropped line of one page that carries a date."""
    out = []
    for d in dropped:
        found = date_in_line(d.text, d.rule)
        if found:
            out.append((d.line, found))
    return sorted(out)


def _first_line(turn: Turn) -> int:
    sources = turn.meta.get("sources") or [{}]
    line = sources[0].get("line")
    return line if isinstance(line, int) else 0


def turn_date_texts(turns: Sequence[Turn], dropped: Sequence) -> list[str | None]:
    """The date text of each turn of one page (rules 1-3 of the module docstring)."""
    dates = page_date_texts(dropped)
    out: list[str | None] = []
    prev_line = 0
    for i, t in enumerate(turns):
        line = _first_line(t)
        text = t.timestamp if isinstance(t.timestamp, str) else None
        if not text:
            gap = [d for n, d in dates if prev_line < n < line]
            text = gap[-1] if gap else None
        if (
            not text
            and i
            and t.meta.get("kind") == "article"
            and turns[i - 1].meta.get("kind") == "article"
        ):
            text = out[-1]
        out.append(text)
        prev_line = max(prev_line, line)
    return out


def page_date(texts: Sequence[str | None]) -> int | None:
    """The page's date: its first absolute date (anchor of its relative dates)."""
    for text in texts:
        cleaned = clean_date_text(text) if text else ""
        if cleaned and not is_relative(cleaned) and has_year(cleaned):
            when = parse_timestamp(text)
            if when is not None:
                return when
    return None


def date_turns(turns: Sequence[Turn], dropped: Sequence) -> list[Turn]:
    """One page's turns with `timestamp` in Unix seconds and `meta.timestamp_text`."""
    from dataclasses import replace

    texts = turn_date_texts(turns, dropped)
    anchor = page_date([text for _, text in page_date_texts(dropped)] + texts)
    out = []
    for t, text in zip(turns, texts, strict=True):
        if text is None:
            out.append(replace(t, timestamp=None))
            continue
        out.append(
            replace(t, timestamp=parse_timestamp(text, anchor)).with_meta(
                timestamp_text=text
            )
        )
    return out
