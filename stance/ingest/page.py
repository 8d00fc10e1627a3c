"""One raw page → turns and dropped lines.

A raw page is read line by line. Each line is classified by the first rule that
matches (`rules.py`): site chrome is dropped and listed with the rule's name;
post headers and numbered comment markers open a new turn and become
speaker/timestamp/meta; wiki headings become section metadata; quoted lines go
to `meta.quotes`; the rest is turn text. Every input line ends up in a turn, a
quote, or the dropped list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from stance.core.normalize import collapse_space
from stance.core.thread import Turn
from stance.ingest.rules import (
    NUMBERED,
    QUOTE_START,
    REFERENCE_SECTIONS,
    SIDEBAR_END,
    SIDEBAR_START,
    TERMINAL,
    Rule,
    _heading,
    _is_fragment,
    _is_title,
    _match_header,
    _rule_sized,
    classify_chrome,
)


@dataclass(frozen=True)
class Dropped:
    """A line that is not turn text, and the rule that took it out."""

    file: str
    line: int
    text: str
    rule: str


@dataclass
class Quote:
    """A quote being read: its first line, its lines, who is quoted."""

    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)
    by: str | None = None
    prefixed: bool = False  # `> ` lines; ends at the first line without `>`
    until_blank: bool = False  # opened by a quote header; ends at a blank line


@dataclass
class Line:
    """One non-blank line of the page, as the handlers see it."""

    number: int
    raw: str
    text: str  # stripped; a numbered marker's handler leaves only its rest
    wrapped: bool  # a hard-wrapped continuation of the paragraph before


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
        self.quote: Quote | None = None
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
        if not q or not q.lines:
            return
        record = {
            "text": _join_paragraph([body for _, body in q.lines]),
            "by": q.by,
            "line": q.line,
        }
        self.quote_sources[id(record)] = q.lines
        unit = self.unit or self.free_unit(q.line)
        unit.quotes.append((q.line, record))

    # -- main loop
    def parse(self) -> tuple[list[Turn], list[Dropped]]:
        self._scan_article_signals()
        wrapped = _wrapped_runs(self.lines)
        for idx, raw in enumerate(self.lines):
            lineno = idx + 1
            line = raw.strip()
            if not line:
                if self.quote is not None and self.quote.until_blank:
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
            if rule in (Rule.BYLINE, Rule.COPYRIGHT, Rule.DATELINE) or _heading(line):
                self.article_signals += 1
        if self.article_signals:
            self.free_kind = "article"

    # -- one line: the first handler that takes it decides (order matters)
    def _line(self, lineno: int, raw: str, line: str, wrapped: bool) -> None:
        ln = Line(lineno, raw, line, wrapped)
        for handler in LINE_HANDLERS:
            if handler(self, ln):
                return

    def _in_sidebar(self, ln: Line) -> bool:
        """A community sidebar runs from its start line to its end line."""
        if self.in_sidebar:
            self.drop(ln.number, ln.text, "community sidebar")
            if SIDEBAR_END.match(ln.text):
                self.in_sidebar = False
            return True
        if SIDEBAR_START.match(ln.text):
            self.in_sidebar = True
            self.drop(ln.number, ln.text, "community sidebar")
            return True
        return False

    def _prefixed_quote(self, ln: Line) -> bool:
        """`> ` lines: a quote block, one per run of such lines."""
        if not ln.text.startswith(">"):
            if self.quote is not None and self.quote.prefixed:
                self._close_quote()
            return False
        body = ln.text.lstrip("> ").strip()
        if self.quote is None or not self.quote.prefixed:
            self._close_quote()
            self.quote = Quote(line=ln.number, prefixed=True)
        if body:
            self.quote.lines.append((ln.number, body))
        else:
            self.drop(ln.number, ln.text, "empty quote marker")
        return True

    def _open_quote(self, ln: Line) -> bool:
        """A quote opened by a quote header takes lines up to a blank line."""
        if self.quote is None:
            return False
        if ln.text == "|" or ln.text.lower() == "click to expand...":
            self.drop(ln.number, ln.text, "quote end marker")
            self._close_quote()
            return True
        self.quote.lines.append((ln.number, ln.text))
        return True

    def _wiki_heading(self, ln: Line) -> bool:
        m = _heading(ln.text)
        if not m:
            return False
        self.close_unit()
        title = m.group("title")
        self.section = title
        self.in_references = title.strip().lower() in REFERENCE_SECTIONS
        self.drop(ln.number, ln.text, "wiki heading → section")
        return True

    def _in_references(self, ln: Line) -> bool:
        if not self.in_references:
            return False
        self.drop(ln.number, ln.text, f"reference section ({self.section})")
        return True

    def _quote_start(self, ln: Line) -> bool:
        """A quote header ("X wrote:") opens a quote; a mail quote header opens
        the quoted message as a turn of its own."""
        line, lineno = ln.text, ln.number
        for name, pattern in QUOTE_START if _rule_sized(line) else ():
            qm = pattern.match(line)
            if not qm:
                continue
            if name == Rule.MAIL_QUOTE_HEADER:
                self.close_unit()
                self.drop(lineno, line, "mail quote header → quoted message")
                who = re.search(r",\s*(.+?)\s+wrote:$", line)
                speaker = who.group(1) if who else None
                if speaker and speaker.lower() == "you":
                    speaker = None
                self.open_unit(
                    "message", lineno, speaker=speaker, meta={"quoted_message": True}
                )
                return True
            self.drop(lineno, line, "quote header")
            self._close_quote()
            by = qm.groupdict().get("by") or None
            self.quote = Quote(line=lineno, by=by, until_blank=True)
            return True
        return False

    def _chrome(self, ln: Line) -> bool:
        """Site chrome is dropped; a few kinds also tell who speaks or end a turn."""
        line, lineno = ln.text, ln.number
        chrome = classify_chrome(line)
        if (
            chrome == Rule.BYLINE
            and self.unit is not None
            and self.unit.kind == "post"
            and self.unit.speaker is None
            and not any(self.unit.paragraphs)
        ):
            self.unit.speaker = line[3:].strip()
            self.drop(lineno, line, "post author line → speaker")
            return True
        if chrome is None:
            return False
        self.drop(lineno, line, chrome)
        if chrome == Rule.FORUM_PROFILE_FIELD:
            self._claim_profile_speaker(lineno)
        elif chrome == Rule.ACTION_LINK and line.lower().startswith(
            ("expand full comment", "(excerpt)", "read more")
        ):
            self.close_unit()
        return True

    def _post_header(self, ln: Line) -> bool:
        """A post or mail header opens a turn and gives its speaker/timestamp."""
        header = _match_header(ln.text)
        if header is None or (
            header[0] == Rule.POST_AUTHOR_LINE
            and self.unit
            and any(self.unit.paragraphs)
        ):
            return False
        name, kind, groups = header
        speaker = (groups.get("speaker") or "").strip() or None
        ts = (groups.get("ts") or "").strip() or None
        if (
            name == Rule.MAIL_HEADER
            and self.unit is not None
            and self.unit.kind == "message"
            and not any(self.unit.paragraphs)
        ):
            self.unit.speaker = self.unit.speaker or speaker
            self.unit.timestamp = self.unit.timestamp or ts
        elif name == Rule.THREAD_STARTER:
            self.pending_speaker = speaker
            self.close_unit()
        else:
            self.open_unit(
                kind, ln.number, speaker=speaker or self.pending_speaker, timestamp=ts
            )
            self.pending_speaker = None
        self.drop(ln.number, ln.text, f"{name} → speaker/timestamp")
        return True

    def _numbered(self, ln: Line) -> bool:
        """A numbered comment marker opens a turn; the text after the number (if
        any) goes on through the handlers below as the line."""
        nm = NUMBERED.match(ln.raw)
        if not (nm and (self.numbered_ok or nm.group("indent"))):
            return False
        number = nm.group("n1") or nm.group("n2")
        rest = nm.group("rest").strip()
        unit = self.open_unit("comment", ln.number, meta={"number": int(number)})
        if self.pending_speaker:
            unit.speaker, self.pending_speaker = self.pending_speaker, None
        if rest and len(rest.split()) == 1 and not rest.endswith(TERMINAL):
            unit.speaker = rest
            self.drop(ln.number, rest, "numbered post header → speaker")
            return True
        if not rest:
            return True
        ln.text = rest
        return False

    def _fragment_or_title(self, ln: Line) -> bool:
        if _is_fragment(ln.text):
            self.drop(ln.number, ln.text, "fragment (under 4 words, no sentence end)")
            return True
        if _is_title(ln.text):
            self.drop(ln.number, ln.text, "title or caption line")
            return True
        return False

    def _text(self, ln: Line) -> bool:
        """Everything else is turn text."""
        if self.unit is None and self.pending_speaker:
            self.open_unit("post", ln.number, speaker=self.pending_speaker)
            self.pending_speaker = None
        unit = self.unit or self.free_unit(ln.number)
        if not ln.wrapped:
            self.new_paragraph()
        unit.paragraphs[-1].append((ln.number, ln.text))
        if not ln.wrapped:
            self.new_paragraph()
        return True

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


# The line handlers of `_PageParser`, in order: the first that takes a line
# decides what it is. Sidebars and quotes come first (their lines look like
# anything), then headings, quote headers, chrome and post headers, which
# must win over turn text; `_numbered` may pass the rest of its line on.
LINE_HANDLERS = (
    _PageParser._in_sidebar,
    _PageParser._prefixed_quote,
    _PageParser._open_quote,
    _PageParser._wiki_heading,
    _PageParser._in_references,
    _PageParser._quote_start,
    _PageParser._chrome,
    _PageParser._post_header,
    _PageParser._numbered,
    _PageParser._fragment_or_title,
    _PageParser._text,
)
