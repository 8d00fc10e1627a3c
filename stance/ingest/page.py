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
