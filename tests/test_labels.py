import pytest
from conftest import ROOT

from stance.errors import InputError
from stance.labels import append_label, join_labels, load_labels, read_labels
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
