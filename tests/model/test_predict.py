"""The streaming reader of `stance label` agrees with the whole-file reader."""

import csv
import io

import pytest

from stance.core.errors import InputError
from stance.ingest.parse import iter_structured, iter_turns, read_page


def test_large_csv_streams_like_the_whole_file(tmp_path):
    """Quoted fields spanning lines, past the old 5000-line chunk boundary."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["speaker", "text"])
    for i in range(6000):
        w.writerow(
            [f"s{i % 7}", f"comment {i}\nsecond line {i}" if i % 3 else f"c {i}"]
        )
    p = tmp_path / "big.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    streamed = list(iter_structured(p))
    whole = read_page(p).turns
    assert [(t.id, t.text) for t in streamed] == [(t.id, t.text) for t in whole]
    assert len({t.id for t in streamed}) == 6000


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_non_utf8_structured_files_are_read(tmp_path, encoding):
    p = tmp_path / "t.csv"
    p.write_bytes("id,text\n1,Le pacte était signé à Moscou.\n".encode(encoding))
    assert [t.text for t in iter_structured(p)] == ["Le pacte était signé à Moscou."]


def test_empty_and_binary_structured_files(tmp_path):
    empty, blob = tmp_path / "e.jsonl", tmp_path / "b.csv"
    empty.write_bytes(b"")
    blob.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="empty file"):
        list(iter_structured(empty))
    with pytest.raises(InputError, match="binary"):
        list(iter_structured(blob))


def test_ids_are_unique_across_streamed_inputs(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": "x", "text": "one"}\n')
    (tmp_path / "b.jsonl").write_text('{"id": "x", "text": "two"}\n')
    with pytest.raises(InputError, match="b.jsonl line 1: duplicate id 'x'"):
        list(iter_turns([tmp_path / "a.jsonl", tmp_path / "b.jsonl"]))


# ------------------------------------------------------ the CLI (issue 15)


@pytest.mark.slow
def test_label_stdout_stays_empty_when_a_later_file_is_bad(tmp_path):
    """Row 9: `stance label a.jsonl dup-ids.jsonl > f` had 8,192 rows on stdout
    before its exit-2 error; devices given as -o stay devices (row 3)."""
    import json
    import os
    import stat

    from conftest import run_cli

    a = tmp_path / "a.jsonl"
    a.write_text(
        "".join(
            json.dumps({"id": f"a{i}", "text": f"The pact of 1939, turn {i}."}) + "\n"
            for i in range(3)
        )
    )
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a1", "text": "the same id again, in another file"}\n')
    res = run_cli("label", a, dup)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.splitlines() == [
        f"error: {dup} line 1: duplicate id 'a1' (ids must be unique)"
    ]
    before = os.stat("/dev/null")
    if not stat.S_ISCHR(before.st_mode):
        pytest.skip("/dev/null is not a device here (an older stance replaced it?)")
    res = run_cli("label", a, "-o", "/dev/null")
    assert res.returncode == 0, res.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    res = run_cli("label", a, "-o", "/dev/full")
    assert res.returncode == 2
    assert res.stderr.splitlines()[-1] == (
        "error: /dev/full: cannot write: No space left on device"
    )
    res = run_cli("label", a, "-o", "-")
    assert [json.loads(x)["id"] for x in res.stdout.splitlines()] == ["a0", "a1", "a2"]
