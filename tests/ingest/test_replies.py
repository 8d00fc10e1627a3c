"""Reply trees for flat pages: inferred links written to reply_to, with evidence."""

from conftest import SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.thread import Turn, check_integrity
from stance.ingest.chains import build_chains
from stance.ingest.page import parse_page_text
from stance.ingest.parse import parse_paths
from stance.ingest.replies import link_replies


def _t(i, speaker=None, text="Some text.", **meta):
    return Turn(f"p:{i}", speaker, "p", None, None, text, {"quotes": [], **meta})


def _assert_one_tree_rooted_at_first(turns):
    by_conv = {}
    for t in turns:
        by_conv.setdefault(t.conversation_id, []).append(t)
    for conv_turns in by_conv.values():
        position = {t.id: i for i, t in enumerate(conv_turns)}
        assert conv_turns[0].reply_to is None
        for i, t in enumerate(conv_turns[1:], start=1):
            assert position[t.reply_to] < i, t.id  # an earlier turn: no cycle
            assert t.meta["reply_evidence"]


def test_every_shipped_page_is_one_tree_rooted_at_its_first_turn():
    turns = parse_paths([SEEDS, SEEDS / "threads"]).turns
    assert check_integrity(turns) == []
    _assert_one_tree_rooted_at_first(turns)


def test_evidence_rules_in_order():
    turns = [
        _t(0, "ann", "The pact was signed in August 1939.", number=1),
        _t(1, "bob", "It was a defensive move by Moscow.", number=2),
        _t(2, "cat", "@ann is right about the date.", number=3),
        _t(3, "dan", "As bob said, it bought time.", number=4),
        _t(4, "eve", "Re #2: no, it was a carve-up.", number=5),
        _t(5, "fay", "Nobody mentions the Baltic states.", number=6),
        _t(6, "gus", "Quoting here.", quotes=[{"text": "x", "by": "cat"}]),
        _t(7, "hal", "Quoting the first.", quotes=[{"text": "x", "source": "p:0"}]),
    ]
    linked = link_replies(turns)
    got = [(t.reply_to, t.meta.get("reply_evidence")) for t in linked]
    assert got == [
        (None, None),
        ("p:0", "thread order"),
        ("p:0", "@ann"),
        ("p:1", "bob said"),
        ("p:1", "#2"),
        ("p:4", "thread order"),
        ("p:2", "quote by cat"),
        ("p:0", "quote of p:0"),
    ]


def test_structured_links_are_kept_and_chains_keep_written_evidence():
    given_links = [
        Turn("a", "x", "c", None, None, "root", {}),
        Turn("b", "y", "c", "a", None, "reply", {}),
        Turn("d", "z", "c", None, None, "another root", {}),
    ]
    assert link_replies(given_links) == given_links
    linked = link_replies([_t(0, "ann"), _t(1, "bob", "@ann yes")])
    chains = build_chains(linked)
    assert chains.links["p:1"].evidence == "@ann"


def test_mail_quote_header_page_links_the_quoted_message():
    page = (
        "Date: Mon, 26 Aug 2019 10:00:00 -0400 From: Ann Author\n\n"
        "I disagree with the reading of the pact given here.\n\n"
        "On 8/26/19 9:32 AM, Bob Writer wrote:\n"
        "The pact was a defensive necessity for the Soviet Union.\n"
    )
    turns, _ = parse_page_text(page, "m.txt")
    linked = link_replies(turns)
    assert [t.reply_to for t in linked] == [None, linked[0].id]
    # the page puts the answer first: the link says it runs the other way
    assert linked[1].meta["reply_evidence"] == f"quoted by {linked[0].id}"


@settings(deadline=None)  # a loaded machine makes single examples slow
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ann", "bob", "cat", None]),
            st.sampled_from(["plain text", "@ann yes", "bob said no", "see #2"]),
            st.one_of(st.none(), st.integers(1, 5)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_flat_page_becomes_one_tree(specs):
    turns = [
        _t(i, speaker, text, **({"number": n} if n else {}))
        for i, (speaker, text, n) in enumerate(specs)
    ]
    linked = link_replies(turns)
    assert [t.id for t in linked] == [t.id for t in turns]
    assert check_integrity(linked) == []
    _assert_one_tree_rooted_at_first(linked)
