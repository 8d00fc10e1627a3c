import csv
import os

import pytest
from conftest import ROOT

from stance.core.errors import InputError
from stance.core.schema import read_schema
from stance.core.thread import Turn
from stance.labelling.labels import (
    LABEL_COLUMNS,
    LabelFile,
    join_by_text,
    load_labels,
    read_labels,
)

SCHEMA = read_schema(ROOT / "labels" / "schema.toml")
NAMES = SCHEMA.names


def write(tmp_path, name, body):
    p = tmp_path / name
    p.write_text("text,stance\n" + body, encoding="utf-8")
    return p


def test_unknown_stance_names_file_and_line(tmp_path):
    p = write(tmp_path, "a.csv", "fine text,favor\nother text,maybe\n")
    with pytest.raises(InputError, match=r"a.csv line 3: unknown label 'maybe'"):
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
    from stance.labelling.labels import Label

    label = Label(text="it wasn't just a pact!", stance="against")
    joined = join_by_text(turns, {label.key: label.stance})
    assert joined == {"t1": "against"}


def test_shipped_label_files_are_valid():
    labels = load_labels(sorted((ROOT / "labels").glob("*.csv")), NAMES)
    assert len(labels) >= 800
    assert {lab.stance for lab in labels} == set(NAMES)
    assert all(lab.annotator and lab.source for lab in labels)


def test_append_label_creates_header_and_appends(tmp_path):
    p = tmp_path / "new.csv"
    LabelFile(p).append({"text": "one", "stance": "none"})
    LabelFile(p).append({"text": "two", "stance": "favor"})
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
    LabelFile(p).append({"text": "second text", "stance": "none", "annotator": "bo"})
    assert p.read_bytes() == (
        b"stance,text,annotator\r\nfavor,first text here,ann\r\nnone,second text,bo\r\n"
    )


@pytest.mark.parametrize(
    "row,problem",
    [
        ({"text": "  ", "stance": "none"}, "empty text"),
        ({"text": "a\x00b", "stance": "none"}, "NUL"),
        ({"text": "fine", "stance": "maybe"}, "unknown label 'maybe'"),
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
        LabelFile(p).append(row, NAMES)
    assert p.read_bytes() == before


def test_append_label_refuses_a_non_utf8_file(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("text,stance\ncafé,none\n".encode("cp1252"))
    with pytest.raises(InputError, match="not UTF-8"):
        LabelFile(p).append({"text": "x y", "stance": "none"})


def test_pending_rows_are_skipped_and_counted(tmp_path):
    # A filled-in part of a `stance suggest` batch: extra columns, empty stances.
    p = tmp_path / "batch.csv"
    p.write_text(
        "text,stance,id,conversation_id,source,annotator,note,guess,confidence\n"
        "First turn,favor,c:1,c,s,me,,none,0.4\n"
        "Second turn,,c:2,c,s,,,favor,0.5\n"
        '"Third\nturn, two lines",none,c:3,c,s,me,,none,0.6\n'
        "Fourth turn,  ,c:4,c,s,,,against,0.3\n",
        encoding="utf-8",
    )
    from stance.labelling.labels import pending_rows, read_label_rows

    labs = load_labels([p], NAMES)
    assert [(lab.text, lab.stance, lab.line) for lab in labs] == [
        ("First turn", "favor", 2),
        ("Third\nturn, two lines", "none", 4),
    ]
    assert read_label_rows(p, NAMES)[1] == [3, 6]
    assert pending_rows([p], NAMES) == {str(p): 2}


def test_unknown_stance_still_an_error_with_extra_columns(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("text,stance,guess\nsome text,Favor,favor\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: unknown label 'Favor'"):
        load_labels([p], NAMES)


def test_append_follows_the_files_own_header(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text("stance,text\nnone,already here", encoding="utf-8")  # no final EOL
    LabelFile(p).append({"text": "added, with a comma", "stance": "against", "id": "x"})
    assert [(lab.text, lab.stance) for lab in read_labels(p, NAMES)] == [
        ("already here", "none"),
        ("added, with a comma", "against"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("body,label\nx,none\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs 'text' and 'stance'"):
        LabelFile(bad).append({"text": "t", "stance": "none"})


def test_remove_label_undoes_the_last_append_byte_for_byte(tmp_path):
    from stance.labelling.labels import LabelFile

    p = tmp_path / "s.csv"
    LabelFile(p).append({"text": "one", "stance": "none"})
    before = p.read_bytes()
    os.chmod(p, 0o644)
    row = {"text": 'two "quoted"\nlines', "stance": "favor", "id": "t2"}
    LabelFile(p).append(row)
    assert LabelFile(p).remove(row) is True
    assert p.read_bytes() == before
    assert os.stat(p).st_mode & 0o777 == 0o644  # the rewrite keeps permissions
    assert LabelFile(p).remove(row) is False


def test_remove_label_finds_its_row_after_another_append(tmp_path):
    from stance.labelling.labels import LabelFile

    p = tmp_path / "s.csv"
    mine = {"text": "mine", "stance": "against"}
    LabelFile(p).append({"text": "one", "stance": "none"})
    LabelFile(p).append(mine)
    LabelFile(p).append({"text": "someone else's", "stance": "favor"})
    assert LabelFile(p).remove(mine)
    assert [lab.text for lab in read_labels(p, NAMES)] == ["one", "someone else's"]


def test_label_groups_conversation_else_source():
    from stance.labelling.labels import Label, label_groups

    labs = [
        Label("a", "none", conversation_id="c1", source="x/p.txt"),
        Label("b", "none", source="x/p.txt"),
        Label("c", "none", file="labels/f.csv"),
    ]
    assert label_groups(labs) == ["c1", "p.txt", "f.csv"]


def test_a_symlinked_label_file_is_written_through_and_locked_at_its_target(
    tmp_path,
):
    """Issue 15 row 4: the link became a local file and the lock was per link."""
    import subprocess
    import sys

    from stance.labelling.labels import LabelFile

    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "team.csv"
    LabelFile(target).append({"text": "first shared label", "stance": "favor"})
    os.chmod(target, 0o664)
    mine = tmp_path / "mine.csv"
    mine.symlink_to(target)
    assert LabelFile(mine).lock().lock_file == LabelFile(target).lock().lock_file
    LabelFile(mine).append({"text": "added through the link", "stance": "none"})
    assert mine.is_symlink() and mine.resolve() == target
    assert [lab.text for lab in read_labels(target, NAMES)] == [
        "first shared label",
        "added through the link",
    ]
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o664)
    assert LabelFile(mine).remove({"text": "added through the link", "stance": "none"})
    assert mine.is_symlink() and len(read_labels(target, NAMES)) == 1
    assert not (tmp_path / "mine.csv.lock").exists()

    # Writers through the link and writers on the file wait for each other.
    writer = ROOT / "tests" / "killed_writer.py"
    procs = [
        subprocess.Popen(
            [sys.executable, str(writer), "append", str(path), str(w), "25"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w, path in enumerate([mine, target, mine, target])
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    got = [lab.text for lab in read_labels(target, NAMES)]
    assert len(got) == 1 + 100
    for w in range(4):
        assert [t for t in got if t.startswith(f"writer {w} ")] == [
            f"writer {w} label {i}" for i in range(25)
        ]
    assert mine.is_symlink()
