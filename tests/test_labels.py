import csv

import pytest
from conftest import ROOT

from stance.errors import InputError
from stance.labels import (
    LABEL_COLUMNS,
    append_label,
    join_labels,
    load_labels,
    read_labels,
)
from stance.schema import read_schema
from stance.thread import Turn

SCHEMA = read_schema(ROOT / "labels" / "schema.toml")
NAMES = SCHEMA.names


def write(tmp_path, name, body):
    p = tmp_path / name
    p.write_text("text,stance\n" + body, encoding="utf-8")
    return p


def test_unknown_stance_names_file_and_line(tmp_path):
    p = write(tmp_path, "a.csv", "fine text,favor\nother text,maybe\n")
    with pytest.raises(InputError, match=r"a.csv line 3: unknown stance 'maybe'"):
        read_labels(p, NAMES)


def test_empty_text_is_an_error(tmp_path):
    p = write(tmp_path, "a.csv", '"",none\n')
    with pytest.raises(InputError, match="line 2: empty text"):
        read_labels(p, NAMES)


def test_conflict_names_both_lines(tmp_path):
    p = write(
        tmp_path, "a.csv", "The pact was fine,favor\nthe pact  was fine,against\n"
    )
    with pytest.raises(InputError, match=r"line 3: .*'favor' at line 2 and 'against'"):
        read_labels(p, NAMES)


def test_conflict_across_files(tmp_path):
    a = write(tmp_path, "a.csv", "Same text,favor\n")
    b = write(tmp_path, "b.csv", "same text,none\n")
    with pytest.raises(InputError, match="b.csv line 2.*a.csv line 2"):
        load_labels([a, b], NAMES)


def test_join_by_normalised_text():
    turns = [Turn("t1", None, "c", None, None, "It wasn’t  just a pact!", {})]
    from stance.labels import Label

    joined = join_labels(
        turns, [Label(text="it wasn't just a pact!", stance="against")]
    )
    assert joined == {"t1": "against"}


def test_shipped_label_files_are_valid():
    labels = load_labels(sorted((ROOT / "labels").glob("*.csv")), NAMES)
    assert len(labels) >= 800
    assert {lab.stance for lab in labels} == set(NAMES)
    assert all(lab.annotator and lab.source for lab in labels)


def test_append_label_creates_header_and_appends(tmp_path):
    p = tmp_path / "new.csv"
    append_label(p, {"text": "one", "stance": "none"})
    append_label(p, {"text": "two", "stance": "favor"})
    assert [lab.text for lab in read_labels(p, NAMES)] == ["one", "two"]


def test_concurrent_appends_lose_nothing(tmp_path):
    """Four processes append 40 labels each to one file at the same time."""
    import subprocess
    import sys

    path = tmp_path / "shared.csv"
    writer = ROOT / "tests" / "killed_writer.py"
    procs = [
        subprocess.Popen(
            [sys.executable, str(writer), "append", str(path), str(w), "40"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    labels = read_labels(path, NAMES)
    got = [lab.text for lab in labels]
    assert len(got) == 160
    for w in range(4):
        mine = [t for t in got if t.startswith(f"writer {w} ")]
        assert mine == [f"writer {w} label {i}" for i in range(40)]  # in order
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(LABEL_COLUMNS) and all(len(r) == 7 for r in rows)


def test_append_label_keeps_the_files_columns_and_final_newline(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"stance,text,annotator\r\nfavor,first text here,ann")  # no newline
    append_label(p, {"text": "second text", "stance": "none", "annotator": "bo"})
    assert p.read_bytes() == (
        b"stance,text,annotator\r\nfavor,first text here,ann\r\nnone,second text,bo\r\n"
    )


@pytest.mark.parametrize(
    "row,problem",
    [
        ({"text": "  ", "stance": "none"}, "empty text"),
        ({"text": "a\x00b", "stance": "none"}, "NUL"),
        ({"text": "fine", "stance": "maybe"}, "unknown stance 'maybe'"),
        (
            {"text": "The  pact was FINE", "stance": "against"},
            "already labelled 'favor'",
        ),
    ],
)
def test_append_label_refuses_rows_that_would_break_the_file(tmp_path, row, problem):
    p = write(tmp_path, "a.csv", "The pact was fine,favor\n")
    before = p.read_bytes()
    with pytest.raises(InputError, match=problem):
        append_label(p, row, NAMES)
    assert p.read_bytes() == before


def test_append_label_refuses_a_non_utf8_file(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("text,stance\ncafé,none\n".encode("cp1252"))
    with pytest.raises(InputError, match="not UTF-8"):
        append_label(p, {"text": "x y", "stance": "none"})
