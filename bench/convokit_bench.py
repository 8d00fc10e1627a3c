"""Issue 17 measurements on the shipped pages (seeds/, seeds/threads/).

1. Timestamps: how many of the page timestamps (post-header dates and the date
   lines the parser drops) dateparser and python-dateutil each read.
2. Inferred reply links against pages that show their reply structure:
   nested comment pages (the reply level is the indentation of the comment's
   bullet) and mail pages that quote the message they answer
   (`On DATE, X wrote:`). Precision and recall per evidence rule.
3. ConvoKit: conversations that load as one valid tree, before (every page
   turn reply_to null) and after.

Run: python bench/convokit_bench.py   (prints Markdown tables; ~30 s)
"""

from __future__ import annotations

import re
import sys
import warnings
from collections import Counter
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stance.ingest.page import parse_page_text  # noqa: E402
from stance.ingest.parse import expand_paths, parse_paths  # noqa: E402
from stance.ingest.timestamps import (  # noqa: E402
    clean_date_text,
    has_year,
    is_relative,
    page_date,
    page_date_texts,
    parse_timestamp,
)

PAGES = [ROOT / "seeds", ROOT / "seeds" / "threads"]
# Pages whose comments are nested by indentation (checked by eye).
NESTED = [
    "gb_blazingcatfur_2015-09-26.txt",
    "ga_blazingcatfur_ussr-allied-with-hitler.txt",
    "gb_lemmyml_18226601_12434207.txt",
    "lemmygrad_338401.txt",
    "ga_lemmygrad_366617.txt",
    "ukraine_com_forum_4968_p6.txt",
]


def page_files() -> list[Path]:
    return [f for f in expand_paths(PAGES) if f.suffix == ".txt"]


# ------------------------------------------------------------------ timestamps


def date_texts() -> list[tuple[str, str, int | None]]:
    """(file, text, page date) of every page timestamp the parser finds."""
    out = []
    for f in page_files():
        text = f.read_text(encoding="utf-8", errors="replace")
        turns, dropped = parse_page_text(text, str(f))
        found = [d for _, d in page_date_texts(dropped)]
        found += [t.timestamp for t in turns if isinstance(t.timestamp, str)]
        found = list(dict.fromkeys(found))  # a header is both: count it once
        anchor = page_date(found)
        out += [(f.name, d, anchor) for d in found]
    return out


def _dateparser_raw(text: str) -> int | None:
    import dateparser

    when = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "TIMEZONE": "UTC",
            "TO_TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
        },
    )
    return None if when is None else int(when.timestamp())


def dateutil_raw(text: str) -> int | None:
    from dateutil import parser as du

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return int(du.parse(text).timestamp())
        except (ValueError, OverflowError):
            return None


def dateutil_read(text: str, anchor: int | None) -> int | None:
    from datetime import datetime

    from dateutil import parser as du

    cleaned = clean_date_text(text)
    if not has_year(cleaned) or is_relative(cleaned):
        return None  # dateutil has no relative dates; a missing year is today's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            when = du.parse(cleaned, default=datetime(2000, 1, 1))
        except (ValueError, OverflowError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def timestamp_table() -> str:
    rows = date_texts()
    dp = [parse_timestamp(t, a) for _, t, a in rows]
    du = [dateutil_read(t, a) for _, t, a in rows]
    n = len(rows)
    rel = [is_relative(clean_date_text(t)) for _, t, _ in rows]
    both = sum(a is not None and b is not None for a, b in zip(dp, du, strict=True))
    agree = sum(a is not None and a == b for a, b in zip(dp, du, strict=True))
    zone = re.compile(r"\b[A-Z]{2,5}\b(?<!AM)(?<!PM)|[+-]\d{4}")
    differ = [
        t
        for (_, t, _), a, b in zip(rows, dp, du, strict=True)
        if a is not None and b is not None and a != b
    ]
    zoned = sum(bool(zone.search(t)) for t in differ)
    texts = [t for (_, t, _), r in zip(rows, rel, strict=True) if not r]
    raw_dp = sum(_dateparser_raw(t) is not None for t in texts)
    raw_du = sum(dateutil_raw(t) is not None for t in texts)
    lines = [
        f"{n} page timestamps on {len({f for f, _, _ in rows})} pages "
        f"({sum(rel)} relative, e.g. '1d ago'):",
        "",
        "| parser | read | of absolute | of relative |",
        "|---|---|---|---|",
    ]
    for name, got in (("dateparser 1.5 (chosen)", dp), ("python-dateutil", du)):
        absolute = sum(g is not None for g, r in zip(got, rel, strict=True) if not r)
        relative = sum(g is not None for g, r in zip(got, rel, strict=True) if r)
        lines.append(
            f"| {name} | {sum(g is not None for g in got)} / {n} | "
            f"{absolute} / {n - sum(rel)} | {relative} / {sum(rel)} |"
        )
    lines += [
        "",
        f"Both read {both} (after stance's clean-up: `Updated:` labels, "
        f"`edited ...` tails and `-Saturday` cut off, dates without a year left to "
        f"the page date); they agree on {agree}. Of the {len(differ)} that differ, "
        f"{zoned} name a zone abbreviation (PDT, PST, MDT, BST, IST): dateparser "
        "converts it to UTC (IST as Israel's +2), dateutil without a `tzinfos` "
        "table drops it and takes the local time as UTC, 1 to 8 hours off. On the raw absolute texts "
        f"(no clean-up) dateparser reads {raw_dp} / {len(texts)}, dateutil {raw_du} / {len(texts)}. "
        "Relative dates: dateparser reads them against a given page date, "
        f"dateutil has no relative dates at all; the {sum(rel)} here are on pages "
        "with no absolute date, so both leave them null.",
        "",
        "Not read by dateparser: "
        + (
            ", ".join(
                f"`{t}`" for (_, t, _), g in zip(rows, dp, strict=True) if g is None
            )
            or "none"
        )
        + ".",
        "",
        "Not read by dateutil: "
        + ", ".join(
            f"`{t}`" for (_, t, _), g in zip(rows, du, strict=True) if g is None
        )
        + ".",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ reply links


def _levels(raw_lines: list[str]) -> list[int]:
    """Nesting level of each line: the column of the bullet it hangs under."""
    levels = []
    bullets: list[int] = []  # columns of the bullets above, innermost last
    for line in raw_lines:
        col = len(line) - len(line.lstrip(" "))
        if line.strip().startswith("•"):
            while bullets and bullets[-1] >= col:
                bullets.pop()
            bullets.append(col)
            levels.append(col)
            continue
        if line.strip():
            while bullets and bullets[-1] >= col:
                bullets.pop()
        levels.append(bullets[-1] if bullets else col)
    return levels


def nested_gold(path: Path, turns) -> dict[str, str]:
    """child -> parent shown by the indentation; top-level turns left out."""
    raw = path.read_text(encoding="utf-8").split("\n")
    levels = _levels(raw)
    level = {t.id: levels[t.meta["sources"][0]["line"] - 1] for t in turns}
    top = min(level.values())
    gold = {}
    for i, t in enumerate(turns):
        if level[t.id] == top:
            continue
        if i and level[turns[i - 1].id] == level[t.id]:
            start = turns[i - 1].meta["sources"][0]["line"]
            between = raw[start : t.meta["sources"][0]["line"] - 1]
            if not any(x.strip().startswith("•") for x in between):
                continue  # the same comment's next paragraph: no reply
        parent = next(
            (p for p in reversed(turns[:i]) if level[p.id] < level[t.id]), None
        )
        if parent is not None:
            gold[t.id] = parent.id
    return gold


def mail_gold(turns) -> dict[str, str]:
    """The message before a quoted message (`On DATE, X wrote:`) answers it."""
    gold = {}
    for prev, t in zip(turns, turns[1:], strict=False):
        if t.meta.get("quoted_message"):
            gold[prev.id] = t.id
    return gold


def reply_table() -> str:
    sets = {"nested comments": {}, "mail quotes": {}}
    inferred = {}
    pages = Counter()
    for f in page_files():
        turns = parse_paths([f]).turns
        for t in turns:
            inferred[t.id] = (t.reply_to, t.meta.get("reply_evidence"))
        if f.name in NESTED:
            gold = nested_gold(f, turns)
            sets["nested comments"].update(gold)
            pages["nested comments"] += 1
        gold = mail_gold(turns)
        if gold:
            sets["mail quotes"].update(gold)
            pages["mail quotes"] += 1
    lines = [
        "| gold links | pages | links | all inferred correct (P = R) | evidence "
        "links: precision | evidence links: recall | reply to previous turn | reply "
        "to first turn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    per_rule: Counter = Counter()
    per_rule_ok: Counter = Counter()
    for name, gold in sets.items():
        ok = sum(inferred[c][0] == p for c, p in gold.items())
        ev = {
            c: p
            for c, p in gold.items()
            if inferred[c][1] not in (None, "thread order")
        }
        ev_ok = sum(inferred[c][0] == p for c, p in ev.items())
        prev_ok = first_ok = 0
        for c, p in gold.items():
            conv = c.rsplit(":", 1)[0]
            ids = sorted(i for i in inferred if i.rsplit(":", 1)[0] == conv)
            prev_ok += ids[ids.index(c) - 1] == p if ids.index(c) else 0
            first_ok += ids[0] == p
        for c, p in gold.items():
            rule = (inferred[c][1] or "root (no link)").split(" ")[0]
            per_rule[rule] += 1
            per_rule_ok[rule] += inferred[c][0] == p
        n = len(gold)
        lines.append(
            f"| {name} | {pages[name]} | {n} | {ok}/{n} = {ok / n:.2f} | "
            f"{ev_ok}/{len(ev)} | {ev_ok}/{n} | {prev_ok / n:.2f} | {first_ok / n:.2f} |"
        )
    lines += [
        "",
        "Per evidence rule over all gold links: "
        + ", ".join(
            f"{rule} {per_rule_ok[rule]}/{per_rule[rule]}" for rule in sorted(per_rule)
        ),
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ convokit


def _unfill(path: Path) -> None:
    """Undo write_corpus' filled timestamps: the corpus as stance wrote it before."""
    import json

    recs = [json.loads(x) for x in path.read_text().splitlines()]
    for rec in recs:
        if rec["meta"].pop("timestamp_filled", None) is not None:
            rec["timestamp"] = None
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def convokit_table() -> str:
    import os
    import tempfile

    from stance.ingest.convokit import write_corpus

    turns = parse_paths(PAGES).turns
    # before: the parser's own output (header dates as page text, no links)
    flat = []
    for f in page_files():
        flat += parse_page_text(
            f.read_text(encoding="utf-8", errors="replace"), str(f)
        )[0]
    lines = [
        "| turns written | conversations | check_integrity | traverse('bfs') | "
        "get_chronological_utterance_list |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp  # convokit writes ~/.convokit/config.yml
        from convokit import Corpus

        for name, ts in (("before (reply_to null, raw dates)", flat), ("now", turns)):
            write_corpus(Path(tmp) / "c", ts)
            if ts is flat:
                _unfill(Path(tmp) / "c" / "utterances.jsonl")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                corpus = Corpus(filename=str(Path(tmp) / "c"))
            ok = trav = chrono = 0
            convs = list(corpus.iter_conversations())
            for conv in convs:
                ok += conv.check_integrity(verbose=False)
                try:
                    list(conv.traverse("bfs"))
                    trav += 1
                except (ValueError, TypeError):
                    pass
                try:
                    conv.get_chronological_utterance_list()
                    chrono += 1
                except (ValueError, TypeError):
                    pass
            n = len(convs)
            lines.append(f"| {name} | {n} | {ok}/{n} | {trav}/{n} | {chrono}/{n} |")
    dated = sum(isinstance(t.timestamp, int) for t in turns)
    convs = {t.conversation_id for t in turns}
    full = sum(
        all(isinstance(t.timestamp, int) for t in turns if t.conversation_id == c)
        for c in convs
    )
    some = sum(
        any(isinstance(t.timestamp, int) for t in turns if t.conversation_id == c)
        for c in convs
    )
    lines += [
        "",
        f"{dated} of {len(turns)} turns carry a page date; {some} of {len(convs)} "
        f"conversations have at least one, {full} have one on every turn (the "
        "others get filled timestamps in the corpus, marked `meta.timestamp_filled`).",
    ]
    return "\n".join(lines)


def main() -> None:
    print("## Timestamps\n")
    print(timestamp_table())
    print("\n## Inferred reply links\n")
    print(reply_table())
    print("\n## ConvoKit\n")
    print(convokit_table())


if __name__ == "__main__":
    main()
