"""Every file stance writes, stance reads back unchanged (issue 15, "Round trip").

Hypothesis writes random turns through every writer (turns JSONL; label
output as JSONL, CSV and Parquet; a `suggest` batch; Label Studio tasks; label
appends) and reads them back with the reader stance uses for that file. Texts
hold NULs, fields over csv's old 128 KiB limit, and characters of every
Unicode plane (surrogates excepted: they cannot be encoded).

Readers canonicalise a text (line endings to \\n, outer whitespace stripped,
as every reader of every format does), so generated texts are canonical:
everything stance writes came from a reader. A file that is a tenth NULs is
binary by rule (`files._binary`), so only short texts hold NULs.
"""

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import count_case
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stance.core.thread import Turn
from stance.core.writers import write_rows, write_turns
from stance.ingest.parse import iter_turns
from stance.ingest.readers import csv_timestamp
from stance.labelling.interchange import candidate_task, read_label_studio, write_tasks
from stance.labelling.labels import LabelFile, read_label_rows
from stance.labelling.suggest import Candidate, write_batch

ROUND_TRIP = settings(
    max_examples=int(os.environ.get("STANCE_FUZZ_EXAMPLES", "300")) // 5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAMES = ("favor", "against", "none")


def canonical(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


any_char = st.characters(blacklist_categories=("Cs",))  # every plane, no surrogates
short_text = st.text(any_char, min_size=1, max_size=60)
huge_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8
).map(lambda t: t * (140_000 // len(t.encode("utf-8")) + 1))
text = st.one_of(short_text, short_text, huge_text).map(canonical).filter(bool)
name = st.text(any_char, min_size=1, max_size=20).map(canonical).filter(bool)
optional = st.none() | name
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(any_char, max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(any_char, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def turns(draw):
    ids = draw(st.lists(name, min_size=1, max_size=4, unique=True))
    out = []
    for i in ids:
        meta = {
            "kind": draw(st.sampled_from(["comment", "post", "article", "message"])),
            "sources": [{"file": draw(name), "line": draw(st.integers(1, 10**6))}],
            "quotes": draw(st.lists(st.fixed_dictionaries({"text": text}), max_size=1)),
            "extra": draw(json_value),
            # every turn stance writes carries its language (`lang.py`); a
            # turn read without one gets it detected, which is not a round trip
            "lang": draw(st.sampled_from(["en", "ru", "pl", "und"])),
        }
        out.append(
            Turn(
                id=i,
                speaker=draw(optional),
                conversation_id=draw(name),
                reply_to=draw(optional),
                # Unix seconds from pages, text from JSONL inputs
                timestamp=draw(optional | st.integers(-(2**53), 2**53)),
                text=draw(text),
                meta=meta,
            )
        )
    nuls = sum(t.text.count("\x00") for t in out)
    assume(nuls * 20 < sum(len(t.text) for t in out) + 200)
    return out


def rows_of(turns_):
    return [
        {
            **t.to_dict(),
            "stance": NAMES[k % 3],
            "confidence": 0.5,
            "scores": {n: 1 / 3 for n in NAMES},
            "model": "round-trip",
        }
        for k, t in enumerate(turns_)
    ]


def _dicts(turns_):
    return [t.to_dict() for t in turns_]


def _tmp():
    return Path(tempfile.mkdtemp(prefix="stance-rt-"))


@ROUND_TRIP
@given(turns())
def test_turns_jsonl_round_trip(ts):
    count_case("round trip: turns JSONL")
    d = _tmp()
    try:
        write_turns(d / "t.jsonl", ts)
        assert _dicts(iter_turns([d / "t.jsonl"])) == _dicts(ts)
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
@ROUND_TRIP
@given(ts=turns())
def test_label_output_round_trip(ts, suffix):
    """`stance label -o out.{jsonl,csv,parquet}`, read back as turns."""
    count_case(f"round trip: label output {suffix}")
    d = _tmp()
    try:
        out = d / f"out{suffix}"
        write_rows(out, rows_of(ts))
        expected = _dicts(ts)
        if suffix != ".jsonl":  # a text column: a number's text reads as the number
            for d_ in expected:
                if d_["timestamp"] is not None:
                    d_["timestamp"] = csv_timestamp(str(d_["timestamp"]))
        assert _dicts(iter_turns([out])) == expected
        if suffix == ".jsonl":  # every field of the rows, too
            lines = out.read_text(encoding="utf-8").split("\n")  # not U+0085
            assert [json.loads(x) for x in lines if x] == rows_of(ts)
    finally:
        shutil.rmtree(d)


@ROUND_TRIP
@given(turns())
def test_suggest_batch_round_trip(ts):
    """A `stance suggest` batch: a label file once filled in, and turns as CSV."""
    count_case("round trip: suggest batch")
    d = _tmp()
    try:
        cands = [
            Candidate(t, dict.fromkeys(NAMES, 1 / 3), NAMES[0], 0.5, 0.5) for t in ts
        ]
        from stance.labelling.suggest import batch_rows

        batch = d / "batch.csv"
        write_batch(batch, batch_rows(cands))
        back = list(iter_turns([batch]))
        assert [(t.id, t.conversation_id, t.text) for t in back] == [
            (t.id, t.conversation_id, t.text) for t in ts
        ]
        with open(batch, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for r in rows:
            r["stance"] = "none"
        filled = d / "filled.csv"
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        filled.write_text(buf.getvalue(), encoding="utf-8", newline="")
        labels, pending = read_label_rows(filled, NAMES)
        assert [lab.text for lab in labels] == [t.text for t in ts] and not pending
    finally:
        shutil.rmtree(d)


@ROUND_TRIP
@given(turns())
def test_label_studio_tasks_round_trip(ts):
    """`stance labels export` tasks, annotated, come back through `labels import`."""
    count_case("round trip: Label Studio tasks")
    d = _tmp()
    try:
        cands = [
            Candidate(t, dict.fromkeys(NAMES, 1 / 3), NAMES[1], 0.5, 0.5) for t in ts
        ]
        tasks = [candidate_task(c, "round-trip") for c in cands]
        for task in tasks:
            task["annotations"] = [
                {"result": [{"value": {"choices": ["against"]}}], "completed_by": 1}
            ]
        write_tasks(d / "tasks.json", tasks)
        rows, left_out = read_label_studio(d / "tasks.json", NAMES)
        assert left_out == 0
        assert [(r["text"], r["id"], r["conversation_id"]) for r in rows] == [
            (t.text, t.id, t.conversation_id) for t in ts
        ]
    finally:
        shutil.rmtree(d)


@ROUND_TRIP
@given(turns())
def test_appended_labels_round_trip(ts):
    """`stance annotate` appends; NULs are refused there, so none are written."""
    count_case("round trip: label appends")
    assume(not any("\x00" in t.text + t.id for t in ts))
    d = _tmp()
    try:
        path = d / "mine.csv"
        seen = set()
        for k, t in enumerate(ts):
            from stance.core.normalize import normalize_text

            if normalize_text(t.text) in seen:
                continue  # the same text twice is one label
            seen.add(normalize_text(t.text))
            LabelFile(path).append(
                {"text": t.text, "stance": NAMES[k % 3], "note": t.id}
            )
        labels, _ = read_label_rows(path, NAMES)
        expected = []
        keys = set()
        for k, t in enumerate(ts):
            if normalize_text(t.text) not in keys:
                keys.add(normalize_text(t.text))
                expected.append((t.text, NAMES[k % 3], t.id))
        assert [(lab.text, lab.stance, lab.note) for lab in labels] == expected
    finally:
        shutil.rmtree(d)
