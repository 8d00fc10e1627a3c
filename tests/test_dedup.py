from hypothesis import given, settings
from hypothesis import strategies as st

from stance.dedup import dedupe_turns, find_duplicates
from stance.normalize import normalize_text
from stance.thread import Turn


def mk(texts, conv="c"):
    return [
        Turn(
            f"{conv}:{i}",
            None,
            conv,
            None,
            None,
            t,
            {"kind": "comment", "sources": [{"file": "f", "line": i}], "quotes": []},
        )
        for i, t in enumerate(texts)
    ]


BASE = (
    "But Admiral Sir Reginald Drax, who led the British delegation, told his Soviet "
    "counterparts that he authorised only to talk, not to make deals."
)


def test_near_duplicate_edit_merges():
    edited = BASE.replace("who led", "who lead")
    assert find_duplicates([BASE, edited]) == [0, 0]


def test_curly_quotes_and_case_are_exact_duplicates():
    a = "It wasn’t just a pact of non-aggression. They divided Poland!"
    b = "it wasn't just a pact of non-aggression.  They divided Poland!"
    assert find_duplicates([a, b]) == [0, 0]


def test_different_comments_do_not_merge():
    a = "The Soviet Union had no other option but to reach an agreement with Hitler."
    b = "The Soviet Union had every option but chose to reach an agreement with Hitler."
    c = "Britain and France never took the Soviet offers seriously at any stage."
    assert find_duplicates([a, b, c]) == [0, 1, 2]


def test_sources_of_merged_copies_are_kept():
    turns, merged = dedupe_turns(mk([BASE, "Something else entirely here.", BASE]))
    assert merged == 1
    assert [s["line"] for s in turns[0].meta["sources"]] == [0, 2]


sentences = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "Zs", "P"]),
    min_size=1,
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(sentences, min_size=1, max_size=25))
def test_dedup_idempotent_and_lossless(texts):
    texts = [t for t in texts if t.strip()] or ["x"]
    once, _ = dedupe_turns(mk(texts))
    twice, merged_again = dedupe_turns(once)
    assert merged_again == 0
    assert [t.text for t in twice] == [t.text for t in once]
    kept = {normalize_text(t.text) for t in once}
    for t in texts:  # no distinct text is lost: each is kept or near a kept one
        n = normalize_text(t)
        assert n in kept or find_duplicates([*[x.text for x in once], t])[-1] != len(
            once
        )
