import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.errors import InputError
from stance.core.thread import Turn, check_integrity, iter_jsonl_turns
from stance.core.writers import write_turns

opt = st.none() | st.text(max_size=20)
turns_st = st.lists(
    st.builds(
        Turn,
        id=st.text(min_size=1, max_size=12),
        speaker=opt,
        conversation_id=st.text(min_size=1, max_size=8),
        reply_to=opt,
        timestamp=opt | st.integers(-(2**53), 2**53),  # JSON keeps the type
        text=st.text(min_size=1, max_size=200),
        meta=st.fixed_dictionaries(
            {
                "kind": st.sampled_from(["comment", "post"]),
                "sources": st.just([]),
                "quotes": st.just([]),
            }
        ),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=50, deadline=None)
@given(turns_st)
def test_jsonl_round_trip(tmp_path_factory, turns):
    path = tmp_path_factory.mktemp("rt") / "t.jsonl"
    write_turns(path, turns)
    lines = path.read_bytes().decode("utf-8").split("\n")
    back = [turn for _, turn in iter_jsonl_turns(path, lines)]
    assert [t.to_dict() for t in back] == [t.to_dict() for t in turns]


def test_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_text(json.dumps({"id": "1", "text": "ok"}) + "\n{not json\n")
    with pytest.raises(InputError, match=r"u.jsonl line 2: malformed JSON"):
        list(iter_jsonl_turns(p, p.read_text().split("\n")))


def t(i, reply=None, conv="c"):
    return Turn(i, None, conv, reply, None, "x", {})


def test_integrity_problems():
    assert check_integrity([t("a"), t("b", "a")]) == []
    assert "duplicate id 'a'" in check_integrity([t("a"), t("a")])
    assert any("missing" in p for p in check_integrity([t("a", "zz")]))
    assert any("cycle" in p for p in check_integrity([t("a", "b"), t("b", "a")]))
    assert any(
        "another conversation" in p
        for p in check_integrity([t("a"), t("b", "a", conv="d")])
    )
