"""Reply trees for flat pages: the links chains infers, written into `reply_to`.

A conversation none of whose turns has a `reply_to` gets the links `chains.infer_links` finds, each with its evidence in
`meta.reply_evidence` ("quote of ...", "quote by X", "@name", "X said",
"#12", "thread order"). Every link points to an earlier turn, so the
conversation becomes one tree rooted at its first turn, which ConvoKit's
`check_integrity` and `traverse` accept. A conversation that has reply links
keeps them as given. `parse.parse_paths` applies this to pages read as text;
structured input (JSONL, CSV, ConvoKit corpora) keeps its links as given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from stance.core.thread import Turn
from stance.ingest.chains import infer_links


def link_replies(turns: Iterable[Turn]) -> list[Turn]:
    """The turns, in the same order, with inferred links in flat conversations."""
    turns = list(turns)
    by_conv: dict[str, list[Turn]] = {}
    for t in turns:
        by_conv.setdefault(t.conversation_id, []).append(t)
    linked: dict[int, Turn] = {}
    for conv_turns in by_conv.values():
        if any(t.reply_to is not None for t in conv_turns):
            continue
        links = infer_links(conv_turns)
        for t in conv_turns:
            link = links.get(t.id)
            if link is not None:
                linked[id(t)] = replace(t, reply_to=link.parent).with_meta(
                    reply_evidence=link.evidence
                )
    return [linked.get(id(t), t) for t in turns]
