"""Argument chains: reply trees, inferred links, turning points."""

from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.thread import Turn
from stance.ingest.chains import build_chains, describe_chain


def t(i, reply=None, conv="c", text="x", speaker=None, quotes=()):
    return Turn(i, speaker, conv, reply, None, text, {"quotes": list(quotes)})


def test_reply_tree_paths_and_repairs():
    turns = [t("a"), t("b", "a"), t("c", "a"), t("d", "b"), t("e", "zz"), t("f", "f")]
    cs = build_chains(turns)
    paths = sorted(c.turn_ids for c in cs.chains)
    assert ("a", "b", "d") in paths and ("a", "c") in paths
    assert ("e",) in paths and ("f",) in paths
    assert any("missing zz" in w for w in cs.warnings)
    assert any("itself" in w for w in cs.warnings)


def test_cycle_is_broken_with_warning():
    cs = build_chains([t("a", "b"), t("b", "a"), t("c", "a")])
    assert any("cycle" in w for w in cs.warnings)
    assert {i for c in cs.chains for i in c.turn_ids} == {"a", "b", "c"}


def test_flat_page_links_carry_evidence():
    turns = [
        t("p1", speaker="ann", text="first"),
        t("p2", speaker="bob", text="second"),
        t("p3", speaker="cy", text="@ann you are wrong"),
        t("p4", text="quoting", quotes=[{"text": "second", "source": "p2"}]),
    ]
    cs = build_chains(turns)
    assert cs.links["p2"].evidence == "thread order"
    assert cs.links["p3"].parent == "p1" and cs.links["p3"].evidence == "@ann"
    assert cs.links["p4"].parent == "p2" and cs.links["p4"].evidence.startswith("quote")


def test_turning_points_and_last_word():
    turns = [t(str(i)) for i in range(5)]
    cs = build_chains(turns)
    stances = ["against", "favor", "none", "against", "against"]
    rows = {
        str(i): {"id": str(i), "stance": s, "confidence": 0.5 + i / 10, "speaker": None}
        for i, s in enumerate(stances)
    }
    d = describe_chain(cs.chains[0], rows, ["favor", "against"])
    assert d["turning_points"] == [1, 3]
    assert d["last_word"] == "4" and d["strongest"] == {"favor": "1", "against": "4"}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=-1, max_value=30), min_size=1, max_size=30))
def test_every_turn_lands_in_a_chain(parents):
    turns = [t(f"t{i}", None if p < 0 else f"t{p}") for i, p in enumerate(parents)]
    cs = build_chains(turns)
    covered = {i for c in cs.chains for i in c.turn_ids}
    assert covered == {x.id for x in turns}


def test_repeated_ids_in_a_flat_page_do_not_hang_or_vanish():
    """Invalid input (ids must be unique) that library callers may still pass."""
    turns = [t("a"), t("b"), t("a"), t("c")]
    cs = build_chains(turns)
    assert {i for c in cs.chains for i in c.turn_ids} == {"a", "b", "c"}
    assert all(len(set(c.turn_ids)) == len(c.turn_ids) for c in cs.chains)
