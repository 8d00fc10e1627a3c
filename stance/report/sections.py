"""Report sections built from rows: quotes with their place, key points,
rebuttals, stance over time, chains as reply trees."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from stance.report.model import (
    Chain,
    KeyPoint,
    Period,
    Quote,
    Rebuttal,
    Timeline,
    TreeTurn,
)

# A span shorter than this is counted per month, else per year.
MONTHLY_UNDER_DAYS = 3 * 365
TOP_REBUTTALS = 12
TREE_TURNS = 25  # turns drawn per chain; the rest are counted


def _source(row: dict) -> dict:
    first = ((row.get("meta") or {}).get("sources") or [{}])[0]
    return first if isinstance(first, dict) else {}


def page_of(row: dict) -> str:
    return Path(_source(row).get("file", "")).name or row["conversation_id"]


def page_set(row: dict) -> str:
    """The input folder a turn's page came from."""
    file = _source(row).get("file")
    return Path(file).parent.as_posix() if file else "(no file)"


def addresses(rows: Sequence[dict]) -> dict[str, str]:
    """Page file → its address, from the SOURCES*.tsv beside the pages."""
    from stance.ingest.convokit import page_sources

    found = page_sources({_source(r)["file"] for r in rows if _source(r).get("file")})
    return {f: v["source"] for f, v in found.items() if v.get("source")}


def quote(row: dict, sources: dict[str, str], text: str | None = None) -> Quote:
    src = _source(row)
    file = src.get("file", "")
    line = src.get("line")
    return Quote(
        turn_id=row["id"],
        text=row["text"] if text is None else text,
        page=page_of(row),
        source=sources.get(file, file),
        line=line if isinstance(line, int) else None,
        speaker=row.get("speaker"),
        stance=row.get("stance"),
        confidence=row.get("confidence"),
    )


def key_point_data(points, rows_by_id, sources) -> tuple[tuple, dict, tuple]:
    """keypoints.Point per side → (KeyPoint, ..), coverage per side, rebuttals
    are built by `rebuttal_data`."""
    out, coverage = [], {}
    for side, ps in points.items():
        n_side = sum(r.get("stance") == side for r in rows_by_id.values())
        covered: set[str] = set()
        for p in ps:
            covered.update(p.turn_ids)
            out.append(
                KeyPoint(
                    side=side,
                    statement=p.statement,
                    kind=p.kind,
                    count=len(p.turn_ids),
                    share=len(p.turn_ids) / max(n_side, 1),
                    turns=p.turn_ids,
                    quotes=tuple(
                        quote(rows_by_id[q.turn_id], sources, q.text) for q in p.quotes
                    ),
                )
            )
        coverage[side] = len(covered) / max(n_side, 1)
    return tuple(out), coverage


def rebuttal_data(counts: dict) -> tuple[Rebuttal, ...]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REBUTTALS]
    return tuple(Rebuttal(*key, count) for key, count in ranked)


def period(ts: float, unit: str) -> str:
    """`YYYY` or `YYYY-MM` (UTC) of Unix seconds: the report's one date format."""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.year:04d}" if unit == "year" else f"{d.year:04d}-{d.month:02d}"


def timelines(rows: Sequence[dict], names: Sequence[str]) -> tuple[Timeline, ...]:
    """Stance counts per year (per month when the dates span under three
    years): all pages, then each input folder with dated turns."""
    scored = [r for r in rows if not r.get("skipped") and r.get("stance") in names]
    dated = [r for r in scored if isinstance(r.get("timestamp"), int | float)]
    if not dated:
        return ()
    stamps = [r["timestamp"] for r in dated]
    span_days = (max(stamps) - min(stamps)) / 86400
    unit = "month" if span_days < MONTHLY_UNDER_DAYS else "year"
    scopes: dict[str, list[dict]] = {"all pages": scored}
    for r in scored:
        scopes.setdefault(page_set(r), []).append(r)
    out = []
    for scope, rs in scopes.items():
        ds = [r for r in rs if isinstance(r.get("timestamp"), int | float)]
        if not ds or (scope != "all pages" and len(scopes) == 2):
            continue  # one folder: the same as all pages
        by: dict[str, Counter] = {}
        for r in ds:
            by.setdefault(period(r["timestamp"], unit), Counter())[r["stance"]] += 1
        periods = tuple(
            Period(p, {n: by[p].get(n, 0) for n in names}) for p in sorted(by)
        )
        out.append(Timeline(scope, unit, periods, len(rs) - len(ds)))
    return tuple(out)


def chain_data(described: dict, parent: dict, rows_by_id: dict, sources) -> Chain:
    """A described chain (ingest.chains.describe_chain) with its reply tree."""
    ids = [i for i in described["turn_ids"] if i in rows_by_id]
    turning = {ids[k] for k in described["turning_points"] if k < len(ids)}
    shown = ids[:TREE_TURNS]
    kids: dict[str | None, list[str]] = {}
    for i in shown:
        p = parent.get(i)
        kids.setdefault(p if p in shown else None, []).append(i)

    def node(i: str) -> TreeTurn:
        r = rows_by_id[i]
        return TreeTurn(
            turn_id=i,
            speaker=r.get("speaker"),
            stance=r.get("stance"),
            text=r["text"],
            turning_point=i in turning,
            replies=tuple(node(c) for c in kids.get(i, [])),
        )

    roots = kids.get(None, [])
    last = described.get("last_word")
    return Chain(
        conversation_id=described["conversation_id"],
        length=described["length"],
        participants=tuple(described["participants"]),
        stances=tuple(described["stances"]),
        turning_points=tuple(described["turning_points"]),
        last_word=quote(rows_by_id[last], sources) if last in rows_by_id else None,
        tree=node(roots[0]),
    )
