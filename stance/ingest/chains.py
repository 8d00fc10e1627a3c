"""Reply trees and argument chains (root-to-leaf paths), with link evidence.

Structured input keeps its `reply_to` links, repaired with a warning when a
parent is missing, a turn replies to itself, or links form a cycle. Flat pages
(no reply links) get inferred links, each with the evidence it rests on, tried
in this order:

1. `quote`: the turn quotes an earlier turn of the page (meta.quotes source),
   or a quote block names an earlier speaker (`X wrote:` → meta.quotes by);
2. `@mention`: the turn names an earlier speaker as "@name";
3. `said`: the turn names an earlier speaker as "name said" / "name wrote";
4. `number`: the turn cites an earlier numbered comment ("#12", "comment 12");
5. `thread order`: otherwise the turn follows the turn before it (`quoted by
   ID` for a mail page's quoted message, which the turn before it answers).

Links always point to an earlier turn, so a page's turns form one tree rooted
at its first turn. `replies.link_replies` writes these links into `reply_to`
(evidence in `meta.reply_evidence`), and `build_chains` keeps that evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from stance.core.thread import Turn

MENTION = re.compile(r"@([\w.-]{2,40})")
SAID = re.compile(r"([\w.-]{2,40}) (?:said|says|wrote|writes)\b", re.IGNORECASE)
NUMBER_REF = re.compile(
    r"(?:(?<![\w&])#|\b(?:comment|post|reply) #?)(\d{1,5})\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Link:
    child: str
    parent: str
    evidence: str


@dataclass(frozen=True)
class Chain:
    conversation_id: str
    turn_ids: tuple[str, ...]
    links: tuple[Link, ...] = ()


@dataclass
class ChainSet:
    chains: list[Chain]
    parent: dict[str, str | None]
    links: dict[str, Link] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def infer_links(turns: Sequence[Turn]) -> dict[str, Link]:
    """Links for one flat conversation in thread order."""
    links: dict[str, Link] = {}
    position = {t.id: i for i, t in enumerate(turns)}
    last_by_speaker: dict[str, str] = {}
    by_number: dict[int, str] = {}
    for i, t in enumerate(turns):
        if i > 0:
            link = _evidence_link(t, i, position, last_by_speaker, by_number)
            if link is None and turns[i - 1].id != t.id:
                # A mail page shows the reply above the message it answers: the
                # link follows the page, and says that it runs the other way.
                prev = turns[i - 1].id
                quoted = t.meta.get("quoted_message")
                link = Link(
                    t.id, prev, f"quoted by {prev}" if quoted else "thread order"
                )
            if link is not None:
                links[t.id] = link
        if t.speaker:
            last_by_speaker[t.speaker.lower()] = t.id
        number = t.meta.get("number")
        if isinstance(number, int):
            by_number.setdefault(number, t.id)
    return links


def _evidence_link(t, i, position, last_by_speaker, by_number) -> Link | None:
    """The first link the turn itself gives evidence for (rules 1-4), if any."""
    quotes = [q for q in t.meta.get("quotes", []) if isinstance(q, dict)]
    for q in quotes:
        src = q.get("source")
        if src in position and position[src] < i:  # only earlier turns: no cycles
            return Link(t.id, src, f"quote of {src}")
    for q in quotes:
        by = q.get("by")
        target = (
            last_by_speaker.get(by.strip().lower()) if isinstance(by, str) else None
        )
        if target and target != t.id:
            return Link(t.id, target, f"quote by {by.strip()}")
    for name in MENTION.findall(t.text):
        target = last_by_speaker.get(name.lower())
        if target and target != t.id:
            return Link(t.id, target, f"@{name}")
    for m in SAID.finditer(t.text):
        target = last_by_speaker.get(m.group(1).lower())
        if target and target != t.id:
            return Link(t.id, target, m.group(0))
    for m in NUMBER_REF.finditer(t.text):
        target = by_number.get(int(m.group(1)))
        if target and target != t.id and position[target] < i:
            return Link(t.id, target, f"#{m.group(1)}")
    return None


def build_chains(turns: Sequence[Turn]) -> ChainSet:
    """Group by conversation, link (given or inferred), repair, list root-to-leaf paths."""
    by_conv: dict[str, list[Turn]] = {}
    for t in turns:
        by_conv.setdefault(t.conversation_id, []).append(t)
    parent: dict[str, str | None] = {}
    links: dict[str, Link] = {}
    warnings: list[str] = []
    chains: list[Chain] = []
    for conv, conv_turns in by_conv.items():
        ids = {t.id for t in conv_turns}
        if any(t.reply_to for t in conv_turns):
            for t in conv_turns:
                p = t.reply_to
                if p is None:
                    parent[t.id] = None
                elif p == t.id:
                    warnings.append(f"{t.id} replies to itself; treated as a root")
                    parent[t.id] = None
                elif p not in ids:
                    warnings.append(f"{t.id} replies to missing {p}; treated as a root")
                    parent[t.id] = None
                else:
                    parent[t.id] = p
                    evidence = t.meta.get("reply_evidence")
                    if not isinstance(evidence, str) or not evidence:
                        evidence = "reply_to"
                    links[t.id] = Link(t.id, p, evidence)
            _break_cycles(conv_turns, parent, links, warnings)
        else:
            inferred = infer_links(conv_turns)
            for t in conv_turns:
                link = inferred.get(t.id)
                parent[t.id] = link.parent if link else None
                if link:
                    links[t.id] = link
            # Inferred links point back in thread order, so only repeated ids
            # (invalid input: ids must be unique) can close a cycle.
            _break_cycles(conv_turns, parent, links, warnings)
        chains.extend(_paths(conv, conv_turns, parent, links))
    return ChainSet(chains=chains, parent=parent, links=links, warnings=warnings)


def _break_cycles(turns, parent, links, warnings) -> None:
    for t in turns:
        seen: list[str] = []
        node = t.id
        while node is not None and node not in seen:
            seen.append(node)
            node = parent.get(node)
        if node is not None:  # node is on a cycle: cut its link
            warnings.append(f"reply cycle through {node}; {node} treated as a root")
            parent[node] = None
            links.pop(node, None)


def _paths(conv, turns, parent, links) -> list[Chain]:
    children: dict[str, list[str]] = {t.id: [] for t in turns}
    for t in turns:
        p = parent.get(t.id)
        if p is not None:
            children[p].append(t.id)
    out = []
    for leaf in (t.id for t in turns if not children[t.id]):
        path = [leaf]
        while parent.get(path[-1]) is not None:
            path.append(parent[path[-1]])
        path.reverse()
        out.append(
            Chain(conv, tuple(path), tuple(links[i] for i in path[1:] if i in links))
        )
    return out


def describe_chain(chain: Chain, rows: dict[str, dict], sides: Sequence[str]) -> dict:
    """Length, participants, stance sequence, turning points, last word, strongest."""
    seq = [rows[i] for i in chain.turn_ids if i in rows]
    stances = [r["stance"] for r in seq]
    turning = []
    last_side = None
    for k, s in enumerate(stances):
        if s in sides:
            if last_side is not None and s != last_side:
                turning.append(k)
            last_side = s
    last_word = next((r for r in reversed(seq) if r["stance"] in sides), None)
    strongest = {}
    for side in sides:
        cands = [r for r in seq if r["stance"] == side]
        if cands:
            strongest[side] = max(cands, key=lambda r: r["confidence"])["id"]
    return {
        "conversation_id": chain.conversation_id,
        "turn_ids": list(chain.turn_ids),
        "length": len(seq),
        "participants": sorted({r.get("speaker") or "?" for r in seq}),
        "stances": stances,
        "turning_points": turning,
        "last_word": last_word["id"] if last_word else None,
        "strongest": strongest,
        "evidence": [link.evidence for link in chain.links],
    }
