"""IdSet answers `in` and `add` exactly as a set does, before and after its ids
go to disk."""

from hypothesis import given
from hypothesis import strategies as st

from stance.core import idset
from stance.core.idset import IdSet


@given(st.lists(st.text(max_size=6), max_size=300), st.lists(st.text(max_size=6)))
def test_same_answers_as_a_set(ids, probes):
    old = idset.RECENT
    idset.RECENT = 16  # most ids reach the on-disk table
    try:
        s, ref = IdSet(), set()
        for i in ids:
            assert (i in s) == (i in ref)
            s.add(i)
            ref.add(i)
        assert len(s) == len(ref)
        for p in probes + ids:
            assert (p in s) == (p in ref)
        s.close()
    finally:
        idset.RECENT = old


def test_duplicate_id_in_a_long_stream_is_found(tmp_path, monkeypatch):
    """The label stream's check: a repeat long after its first id went to disk."""
    import json

    from stance.core.errors import InputError
    from stance.ingest.parse import iter_turns

    monkeypatch.setattr(idset, "RECENT", 500)
    f = tmp_path / "t.jsonl"
    with open(f, "w") as fh:
        for i in range(5000):
            fh.write(json.dumps({"id": f"t{i}", "text": "hello there"}) + "\n")
        fh.write(json.dumps({"id": "t7", "text": "again"}) + "\n")
    try:
        for _ in iter_turns([f]):
            pass
    except InputError as exc:
        assert str(exc) == f"{f} line 5001: duplicate id 't7' (ids must be unique)"
    else:
        raise AssertionError("the repeated id was not found")
