"""Raw pages and structured files → turns.

A raw page is read line by line. Each line is classified by the first rule that
matches (see RULES below and README "Parsing rules"): site chrome is dropped and
listed with the rule's name; post headers and numbered comment markers open a
new turn and become speaker/timestamp/meta; wiki headings become section
metadata; quoted lines go to `meta.quotes`; the rest is turn text. Every input
line ends up in a turn, a quote, or the dropped list.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from stance.core.errors import InputError, warn
from stance.core.files import decode_text, read_bytes
from stance.core.normalize import collapse_space, normalize_text
from stance.core.thread import Turn, iter_jsonl_turns

STRUCTURED_SUFFIXES = {".jsonl", ".csv", ".parquet"}
SKIPPED_NAMES = re.compile(r"^(SOURCES.*\.tsv|README.*|LICENSE.*)$", re.I)


@dataclass(frozen=True)
class Dropped:
    """A line that is not turn text, and the rule that took it out."""

    file: str
    line: int
    text: str
    rule: str


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
    stats: dict = field(default_factory=dict)


# ---------------------------------------------------------------- line rules

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_DATE = (
    rf"(?:{_DAY},?\s+)?(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?(?:\s+'?\d{{2,4}})?"
    rf"|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{2,4}})?|\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}})"
)
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?(?:\s*[A-Z]{2,4})?"

# (rule name, pattern) for chrome lines, tried in order on the stripped line.
CHROME_RULES: list[tuple[str, re.Pattern]] = [
    (name, re.compile(pattern, re.I))
    for name, pattern in [
        (
            "weather widget",
            r"^(?:•\s*)?(?:humidity|wind|sunrise|sunset|"
            r"today in [\w .,'-]+|-?\d+\s*°\s*[cf]?)$",
        ),
        ("date line", rf"^(?:{_TIME}\s*)?{_DATE}(?:[\s,-]+(?:{_DAY}|{_TIME}))*\.?$"),
        ("date line", rf"^(?:{_DAY},\s+)?{_DATE}\s*(?:at\s+)?{_TIME}?$"),
        (
            "date line",
            r"^(?:edited\s+)?\d+\s+(?:second|minute|hour|day|week|month|year)s?"
            r"\s+ago$",
        ),
        ("dateline", r"^[\w ]{0,30}\bupdated:\s.*$"),
        ("time line", rf"^{_TIME}\s+\w{{2,4}}\s+\d{{1,2}}\s+{_MONTH}\s+\d{{4}}$"),
        (
            "vote count",
            r"^[+-]?\d[\d,.]*\s*k?\s*(?:points?|upvotes?|votes?|likes?|"
            r"reactions?|score)?(?:\s*\([^)]*\))?$",
        ),
        ("vote count", r"^(?:upvotes?|downvotes?|votes?|points?|score hidden)$"),
        ("comment count", r"^\d[\d,.]*\s*k?\s+(?:comments?|replies)\b.*$"),
        (
            "community stats",
            r"^\d[\d,.]*\s*k?\s+(?:readers|users here now|subscribers|"
            r"members|online|members online)$",
        ),
        (
            "action link",
            r"^(?:reply|share|report|save|follow|hide|permalink|parent|"
            r"context|quote|like|flag|link|source|embed|edit(?:-\d+)?|"
            r"expand full comment|view all comments|view the rest of the comments|"
            r"continue this thread|load more comments|show more replies|"
            r"highlight story|click to expand\.*|sort by:?.*|reply\s*\|.*|"
            r"you are viewing a single comment's thread|read more\.*)$",
        ),
        ("action link", r"^\(excerpt\)\s*read more at .*$"),
        ("copyright", r"^(?:©|\(c\)\s|copyright\b|all rights reserved).*$"),
        ("disclaimer", r"^(?:disclaimer:|all materials posted herein).*$"),
        (
            "site chrome",
            r"^(?:welcome to .*(?:log in|sign up|register).*|ad:\s.*|"
            r"log in|sign up|register|moderators|founded \d+ \w+ ago|"
            r"this post was submitted on .*|posted by$|"
            r"welcome to .+!?|these are our rules:?)$",
        ),
        ("comment sort", r"^\d[\d,.]*\s*k?\s+comments? sorted by\b.*$"),
        ("image", r"^(?:\[img\]|\[image\]|\S+\.(?:jpe?g|png|gif|webp|svg))$"),
        ("bare link", r"^(?:<?https?://\S+>?|www\.\S+)$"),
        ("deleted", r"^\[(?:deleted|removed)\]$"),
        (
            "forum profile field",
            r"^(?:joined|messages|reaction score|likes received|"
            r"trophy points|location|gender|political leaning|posts|points|karma|"
            r"member since|ratings?|country|thanks|trophies)\s*:?\s*[\d,.]*$",
        ),
        (
            "byline",
            r"^by\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}(?:\s+in\s+[A-Z]\w+)?$",
        ),
        ("page title", r"^[^.!?]{3,120}\s\|\s[^.!?]{1,60}(?:\s\|\s[^.!?]{1,60})*$"),
        ("source label", r"^source:$"),
        ("lone punctuation", r"^[\s|\-–—_=*•·.…~#>]+$"),
        ("subreddit header", r"^r/\w+(?:\s+[\w ]{0,30})?\s+" + _DATE + r"$"),
        (
            "mail header",
            r"^(?:subject|to|cc|reply-to|message-id|in-reply-to|"
            r"references|sender|list-\w+):\s.*$",
        ),
    ]
]

# Post headers: each gives a speaker and/or timestamp and opens a new turn.
HEADER_RULES: list[tuple[str, str, re.Pattern]] = [
    (name, kind, re.compile(pattern, re.I))
    for name, kind, pattern in [
        ("forum post header", "post", r"^post by (?P<speaker>\S+) on (?P<ts>.+)$"),
        ("forum post header", "post", r"^posted on (?P<ts>.+?) by (?P<speaker>\S+)$"),
        ("forum post header", "post", r"^posted:\s+(?P<ts>.+)$"),
        (
            "thread starter",
            "post",
            r"^discussion in '[^']*' started by (?P<speaker>[^,]+),\s*(?P<ts>.+?)\.?$",
        ),
        (
            "mail header",
            "message",
            r"^date:\s+(?P<ts>.+?)\s+from:\s+(?P<speaker>[^<]+?)\s*(?:<[^>]*>)?"
            r"(?:\s+subject:.*)?$",
        ),
        ("mail header", "message", r"^from:\s+(?P<speaker>[^<]+?)\s*(?:<[^>]*>)?$"),
        ("mail header", "message", r"^date:\s+(?P<ts>.+)$"),
        (
            "reddit header",
            "comment",
            r"^(?:r/\w+\s*•\s*)?u/(?P<speaker>\[deleted\]|[\w-]+)"
            r"(?:\s*•)?(?:\s+(?P<flair>[^•]*?))?(?:\s*•)?\s*(?P<ts>" + _DATE + r")?"
            r"(?:\s+edited.*)?$",
        ),
        (
            "lemmy header",
            "comment",
            r"^•\s*@?(?P<speaker>[\w.-]+(?:@[\w.-]+)?)(?:\s*\[[^\]]*\])?$",
        ),
        ("blog comment header", "comment", r"^(?P<speaker>[\w .-]{1,40}) said\.\.\.$"),
        ("post author line", "post", r"^by (?P<speaker>[\w.-]+)$"),
    ]
]

QUOTE_START = [
    ("mail quote header", re.compile(r"^(?:on|at)\s.+\bwrote:$", re.I)),
    ("forum quote", re.compile(r"^(?:quote:?|originally posted by (?P<by>.+))$", re.I)),
    ("forum quote", re.compile(r"^(?P<by>.{1,60}?) (?:wrote|said):$", re.I)),
]
HEADING = re.compile(r"^(=={1,4})\s*(?P<title>.+?)\s*\1$")
NUMBERED = re.compile(
    r"^(?P<indent>\s*)(?:#(?P<n1>\d{1,5})|(?P<n2>\d{1,4})\.)(?:\s+|$)"
    r"(?P<rest>.*)$"
)
REFERENCE_SECTIONS = {
    "see also",
    "references",
    "reviews",
    "external links",
    "further reading",
    "notes",
    "bibliography",
    "sources",
    "literature",
    "footnotes",
}
SIDEBAR_START = re.compile(
    r"^(?:these are our rules:?|community rules:?|rules:)$", re.I
)
SIDEBAR_END = re.compile(r"^(?:founded \d+ \w+ ago|moderators|created by.*)$", re.I)
TERMINAL = tuple(".!?:;…\"”’')»]") + tuple("。！？；：」』）…")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _heading(line: str):
    return HEADING.match(line) if _rule_sized(line) else None


# Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer,
# Myanmar): length rules count their characters, each as a word, or a
# Chinese paragraph is one "word" and dropped as a fragment.
_NO_SPACE_SCRIPT = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)


def word_count(line: str, at_most: int) -> int:
    """Words in `line`, counting each character of a script without spaces as
    one; counting stops past `at_most` (a line may be a whole page)."""
    words = line.split(maxsplit=at_most)
    if len(words) > at_most:
        return len(words)
    n = len(words)
    for w in words:
        chars = len(_NO_SPACE_SCRIPT.findall(w[: 4 * at_most]))
        n += max(0, chars - 1)  # the word itself was counted once
        if n > at_most:
            break
    return n


def _is_fragment(line: str) -> bool:
    return word_count(line, 4) < 4 and not line.endswith(TERMINAL)


def _is_title(line: str) -> bool:
    words = line.split(maxsplit=15)
    if not (4 <= len(words) <= 14) or line.endswith(TERMINAL):
        return False
    if _NO_SPACE_SCRIPT.search(line):
        return False  # no capitals to tell a title by
    long_words = [w for w in _WORD.findall(line) if len(w) >= 4]
    if not long_words:
        return True
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.6


# Chrome, headers, headings and quote headers are short lines; a longer line is
# text even when it starts like one ("this post was submitted on ..." followed
# by a whole page without line breaks). Whitespace-free lines (links, images)
# may be longer.
MAX_RULE_CHARS = 400


def _rule_sized(line: str) -> bool:
    return len(line) <= MAX_RULE_CHARS or (
        len(line) <= 8 * MAX_RULE_CHARS and not any(c.isspace() for c in line)
    )


def classify_chrome(line: str) -> str | None:
    if not _rule_sized(line):
        return None
    for name, pattern in CHROME_RULES:
        if pattern.match(line):
            return name
    return None


def _match_header(line: str):
    if not _rule_sized(line):
        return None
    for name, kind, pattern in HEADER_RULES:
        m = pattern.match(line)
        if m:
            return name, kind, m.groupdict()
    return None


# --------------------------------------------------------------- page parser


@dataclass
class _Unit:
    kind: str
    speaker: str | None = None
    timestamp: str | None = None
    first_line: int = 0
    paragraphs: list = field(default_factory=list)  # list[list[(lineno, text)]]
    quotes: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    grouped: bool = True  # paragraphs join into one turn


class _PageParser:
    def __init__(self, path: str, text: str, conversation_id: str):
        self.path = path
        self.conv = conversation_id
        self.lines = text.split("\n")
        self.dropped: list[Dropped] = []
        self.turns: list[Turn] = []
        self.section: str | None = None
        self.in_references = False
        self.unit: _Unit | None = None
        self.pending_speaker: str | None = None
        self.free_kind = "comment"
        self.article_signals = 0
        numbered = [m for m in (NUMBERED.match(x) for x in self.lines) if m]
        self.numbered_ok = len(numbered) >= 2
        self.quote: dict | None = None
        self.in_sidebar = False
        # Quotes met before the page's first turn wait for it (the reply).
        self.pending_quotes: list[dict] = []
        self.quote_sources: dict[int, list[tuple[int, str]]] = {}

    # -- helpers
    def drop(self, lineno: int, text: str, rule: str) -> None:
        self.dropped.append(Dropped(self.path, lineno, text, rule))

    def close_unit(self) -> None:
        unit, self.unit = self.unit, None
        if unit is None:
            return
        self._close_quote()
        paragraphs = [p for p in unit.paragraphs if p]
        if not paragraphs:
            if unit.quotes and self.turns:
                last = self.turns[-1]
                self.turns[-1] = last.with_meta(
                    quotes=last.meta["quotes"] + [q for _, q in unit.quotes]
                )
            elif unit.quotes:
                self.pending_quotes.extend(q for _, q in unit.quotes)
            return
        if unit.grouped:
            self._emit(unit, paragraphs, [q for _, q in unit.quotes])
        else:
            # A quote belongs to the paragraph after it (the reply), else the last.
            starts = [para[0][0] for para in paragraphs]
            owner = [
                next((i for i, s in enumerate(starts) if s > line), len(starts) - 1)
                for line, _ in unit.quotes
            ]
            for i, para in enumerate(paragraphs):
                mine = [
                    q for (_, q), o in zip(unit.quotes, owner, strict=True) if o == i
                ]
                self._emit(unit, [para], mine)

    def _emit(self, unit: _Unit, paragraphs, quotes) -> None:
        texts = [_join_paragraph([t for _, t in para]) for para in paragraphs]
        text = "\n\n".join(t for t in texts if t)
        if not text:
            return
        meta = {
            "kind": unit.kind,
            "sources": [{"file": self.path, "line": paragraphs[0][0][0]}],
            "quotes": self.pending_quotes + list(quotes),
            **unit.meta,
        }
        if self.section:
            meta["section"] = self.section
        turn = Turn(
            id=f"{self.conv}:{len(self.turns):04d}",
            speaker=unit.speaker,
            conversation_id=self.conv,
            reply_to=None,
            timestamp=unit.timestamp,
            text=text,
            meta=meta,
        )
        self.turns.append(turn)
        self.pending_quotes = []

    def open_unit(self, kind: str, lineno: int, **kw) -> _Unit:
        self.close_unit()
        self.unit = _Unit(kind=kind, first_line=lineno, **kw)
        self.unit.paragraphs.append([])
        return self.unit

    def free_unit(self, lineno: int) -> _Unit:
        if self.unit is None:
            self.unit = _Unit(kind=self.free_kind, first_line=lineno, grouped=False)
            self.unit.paragraphs.append([])
        return self.unit

    def new_paragraph(self) -> None:
        if self.unit is not None and self.unit.paragraphs and self.unit.paragraphs[-1]:
            self.unit.paragraphs.append([])

    def _close_quote(self) -> None:
        q, self.quote = self.quote, None
        if not q or not q["lines"]:
            return
        record = {
            "text": _join_paragraph([body for _, body in q["lines"]]),
            "by": q.get("by"),
            "line": q["line"],
        }
        self.quote_sources[id(record)] = q["lines"]
        unit = self.unit or self.free_unit(q["line"])
        unit.quotes.append((q["line"], record))

    # -- main loop
    def parse(self) -> tuple[list[Turn], list[Dropped]]:
        self._scan_article_signals()
        wrapped = _wrapped_runs(self.lines)
        for idx, raw in enumerate(self.lines):
            lineno = idx + 1
            line = raw.strip()
            if not line:
                if self.quote is not None and self.quote.get("until_blank"):
                    self._close_quote()
                self.new_paragraph()
                continue
            self._line(lineno, raw, line, wrapped[idx])
        self._close_quote()
        self.close_unit()
        for q in self.pending_quotes:  # a page of quotes only: nothing replies
            for lineno, body in self.quote_sources[id(q)]:
                self.drop(lineno, body, "quote with no turn on the page")
        return self.turns, self.dropped

    def _scan_article_signals(self) -> None:
        for raw in self.lines:
            line = raw.strip()
            rule = classify_chrome(line) if line else None
            if rule in ("byline", "copyright", "dateline") or _heading(line):
                self.article_signals += 1
        if self.article_signals:
            self.free_kind = "article"

    def _line(self, lineno: int, raw: str, line: str, wrapped: bool) -> None:
        if self.in_sidebar:
            self.drop(lineno, line, "community sidebar")
            if SIDEBAR_END.match(line):
                self.in_sidebar = False
            return
        if SIDEBAR_START.match(line):
            self.in_sidebar = True
            self.drop(lineno, line, "community sidebar")
            return
        # Quote blocks in progress.
        if line.startswith(">"):
            body = line.lstrip("> ").strip()
            if self.quote is None or not self.quote.get("prefixed"):
                self._close_quote()
                self.quote = {"lines": [], "line": lineno, "prefixed": True, "by": None}
            if body:
                self.quote["lines"].append((lineno, body))
            else:
                self.drop(lineno, line, "empty quote marker")
            return
        if self.quote is not None and self.quote.get("prefixed"):
            self._close_quote()
        if self.quote is not None:
            if line == "|" or line.lower() == "click to expand...":
                self.drop(lineno, line, "quote end marker")
                self._close_quote()
                return
            self.quote["lines"].append((lineno, line))  # runs to a blank line
            return

        m = _heading(line)
        if m:
            self.close_unit()
            title = m.group("title")
            self.section = title
            self.in_references = title.strip().lower() in REFERENCE_SECTIONS
            self.drop(lineno, line, "wiki heading → section")
            return
        if self.in_references:
            self.drop(lineno, line, f"reference section ({self.section})")
            return

        for name, pattern in QUOTE_START if _rule_sized(line) else ():
            qm = pattern.match(line)
            if qm:
                if name == "mail quote header":
                    self.close_unit()
                    self.drop(lineno, line, "mail quote header → quoted message")
                    who = re.search(r",\s*(.+?)\s+wrote:$", line)
                    speaker = who.group(1) if who else None
                    if speaker and speaker.lower() == "you":
                        speaker = None
                    self.open_unit(
                        "message",
                        lineno,
                        speaker=speaker,
                        meta={"quoted_message": True},
                    )
                    return
                self.drop(lineno, line, "quote header")
                self._close_quote()
                by = qm.groupdict().get("by") or None
                self.quote = {
                    "lines": [],
                    "line": lineno,
                    "by": by,
                    "until_blank": True,
                }
                return

        chrome = classify_chrome(line)
        if (
            chrome == "byline"
            and self.unit is not None
            and self.unit.kind == "post"
            and self.unit.speaker is None
            and not any(self.unit.paragraphs)
        ):
            self.unit.speaker = line[3:].strip()
            self.drop(lineno, line, "post author line → speaker")
            return
        if chrome is not None:
            self.drop(lineno, line, chrome)
            if chrome == "forum profile field":
                self._claim_profile_speaker(lineno)
            elif chrome == "action link" and line.lower().startswith(
                ("expand full comment", "(excerpt)", "read more")
            ):
                self.close_unit()
            return

        header = _match_header(line)
        if header is not None and not (
            header[0] == "post author line" and self.unit and any(self.unit.paragraphs)
        ):
            name, kind, groups = header
            speaker = (groups.get("speaker") or "").strip() or None
            ts = (groups.get("ts") or "").strip() or None
            if (
                name == "mail header"
                and self.unit is not None
                and self.unit.kind == "message"
                and not any(self.unit.paragraphs)
            ):
                self.unit.speaker = self.unit.speaker or speaker
                self.unit.timestamp = self.unit.timestamp or ts
            elif name == "thread starter":
                self.pending_speaker = speaker
                self.close_unit()
            else:
                self.open_unit(
                    kind, lineno, speaker=speaker or self.pending_speaker, timestamp=ts
                )
                self.pending_speaker = None
            self.drop(lineno, line, f"{name} → speaker/timestamp")
            return

        nm = NUMBERED.match(raw)
        if nm and (self.numbered_ok or nm.group("indent")):
            number = nm.group("n1") or nm.group("n2")
            rest = nm.group("rest").strip()
            unit = self.open_unit("comment", lineno, meta={"number": int(number)})
            if self.pending_speaker:
                unit.speaker, self.pending_speaker = self.pending_speaker, None
            if rest and len(rest.split()) == 1 and not rest.endswith(TERMINAL):
                unit.speaker = rest
                self.drop(lineno, rest, "numbered post header → speaker")
                return
            if not rest:
                return
            line = rest

        if _is_fragment(line):
            self.drop(lineno, line, "fragment (under 4 words, no sentence end)")
            return
        if _is_title(line):
            self.drop(lineno, line, "title or caption line")
            return

        if self.unit is None and self.pending_speaker:
            self.open_unit("post", lineno, speaker=self.pending_speaker)
            self.pending_speaker = None
        unit = self.unit or self.free_unit(lineno)
        if not wrapped:
            self.new_paragraph()
        unit.paragraphs[-1].append((lineno, line))
        if not wrapped:
            self.new_paragraph()

    def _claim_profile_speaker(self, lineno: int) -> None:
        """A forum profile block: the short lines just above it name the poster."""
        candidates = [d for d in self.dropped[:-1] if lineno - 6 <= d.line < lineno]
        names = [d for d in candidates if d.rule.startswith("fragment")]
        if not names:
            return
        first = names[0]
        if self.unit is not None and self.unit.speaker and any(self.unit.paragraphs):
            return
        if self.unit is None or any(self.unit.paragraphs):
            self.open_unit("post", first.line, speaker=first.text)
        elif self.unit.speaker is None:
            self.unit.speaker = first.text
            self.unit.kind = "post"


def _join_paragraph(lines: list[str]) -> str:
    return collapse_space(" ".join(lines))


def _wrapped_runs(lines: list[str]) -> list[bool]:
    """Mark lines that are hard-wrapped continuations of one paragraph (mail style)."""
    out = [False] * len(lines)
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        run = [x.strip() for x in lines[i:j]]
        if len(run) >= 2:
            heads = run[:-1]
            mean = sum(len(x) for x in heads) / len(heads)
            if max(len(x) for x in heads) <= 100 and mean >= 35:
                for k in range(i, j):
                    out[k] = True
            else:  # a line cut mid-sentence continues on the next, lower-case line
                for k in range(1, len(run)):
                    if not run[k - 1].endswith(TERMINAL) and run[k][:1].islower():
                        out[i + k - 1] = out[i + k] = True
        i = j
    return out


def parse_page_text(
    text: str, path: str = "<text>", conversation_id: str | None = None
) -> tuple[list[Turn], list[Dropped]]:
    """Split one raw page into turns; return (turns, dropped lines)."""
    conv = conversation_id or Path(path).stem or "page"
    return _PageParser(path, text, conv).parse()


# --------------------------------------------------------- structured inputs

CSV_COLUMNS = ("id", "speaker", "conversation_id", "reply_to", "timestamp", "text")


def _without_text(path: str, lines: list[int]) -> None:
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
            _claim_id(turn_id, seen, path, line)
            meta = _json_meta(raw_meta, path, line) if raw_meta else {}
            meta.setdefault("kind", "comment")
            meta.setdefault("sources", [{"file": path, "line": line}])
            meta.setdefault("quotes", [])
            yield Turn(
                id=turn_id,
                speaker=row.get("speaker") or None,
                conversation_id=row.get("conversation_id") or stem,
                reply_to=row.get("reply_to") or None,
                timestamp=row.get("timestamp") or None,
                text=body,
                meta=meta,
            )
    except csv.Error as exc:
        # the record that failed starts on the line after the last whole one
        raise InputError(path, f"malformed CSV ({exc})", line=end + 1) from None
    _without_text(path, empty)
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
                _claim_id(turn_id, seen, path, row_no)
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
                    timestamp=value("timestamp"),
                    text=body,
                    meta=meta,
                )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"unreadable Parquet ({exc})") from None
    _without_text(path, empty)
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


def _claim_id(turn_id: str, seen: set[str], path: str, line: int) -> None:
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
    empty = []
    for lineno, turn in iter_jsonl_turns(path, lines):
        text = _newlines(turn.text).strip()  # as a CSV's text is read
        if not text:  # skipped as a CSV row without text is
            empty.append(lineno)
            continue
        _claim_id(turn.id, seen, path, lineno)
        if text != turn.text:
            turn = replace(turn, text=text)
        meta = dict(turn.meta)
        meta.setdefault("kind", "comment")
        meta.setdefault("sources", [{"file": path, "line": lineno}])
        meta.setdefault("quotes", [])
        yield turn.with_meta(**meta)
    _without_text(path, empty)


def parse_jsonl_text(text: str, path: str) -> list[Turn]:
    turns = list(parse_jsonl_lines(text.split("\n"), path))
    if not turns:
        raise InputError(path, "no utterances in file")
    return turns


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
    if (folder / "utterances.jsonl").is_file():
        return [folder / "utterances.jsonl"]
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
    from stance.model.predict import iter_structured

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
    return Page(name, encoding, False, tuple(turns), tuple(dropped))


def _conversation_id(path: Path) -> str:
    return path.stem


def parse_paths(
    paths: Iterable[str | Path], *, dedupe: bool = True, recursive: bool = True
) -> ParseResult:
    """Read every input, take out repeated quotes, merge duplicate turns, then
    record each turn's language in `meta.lang`."""
    from stance.ingest.dedup import dedupe_turns
    from stance.ingest.lang import with_language

    files = expand_paths(paths, recursive)
    pages = [read_page(f) for f in files]
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
    # Page ids are ours: a page whose conversation id is taken (the same file
    # name in two folders, or a CSV of that name) is renamed conv~2, conv~3...
    taken = {t.conversation_id for p in pages if p.structured for t in p.turns}
    for k, page in enumerate(pages):
        if page.structured:
            continue
        conv = page.turns[0].conversation_id
        new, n = conv, 1
        while new in taken or any(t.id in owner for t in _renamed(page, new)):
            n += 1
            new = f"{conv}~{n}"
        taken.add(new)
        if new != conv:
            pages[k] = Page(
                page.path, page.encoding, False, _renamed(page, new), page.dropped
            )
    raw = [t for p in pages if not p.structured for t in p.turns]
    structured = [t for p in pages if p.structured for t in p.turns]
    raw, n_quotes = extract_repeated_quotes(raw)
    merged = 0
    if dedupe:
        raw, merged = dedupe_turns(raw)
    dropped = tuple(d for p in pages for d in p.dropped)
    return ParseResult(
        turns=tuple(with_language(t) for t in (*raw, *structured)),
        pages=tuple(pages),
        dropped=dropped,
        merged=merged,
        quotes_found=n_quotes,
        stats={"encodings": {p.path: p.encoding for p in pages}},
    )


def _renamed(page: Page, conv: str) -> tuple[Turn, ...]:
    if page.turns[0].conversation_id == conv:
        return page.turns
    return tuple(_reconv(t, conv) for t in page.turns)


def _reconv(turn: Turn, conv: str) -> Turn:
    return replace(
        turn, id=conv + turn.id[len(turn.conversation_id) :], conversation_id=conv
    )


# --------------------------------------------------- quotes of earlier turns

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
