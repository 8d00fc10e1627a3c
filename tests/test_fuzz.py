"""Fuzzing the readers: the page parser, the structured readers, the label reader.

Inputs are random Unicode, random line structures built from the parser's own
line kinds, random thread structures, and real pages from ../shared/threads
mutated (lines deleted or duplicated, bytes flipped, re-encoded). Properties:
no exception escapes except InputError, and the parser's accounting holds: every
non-blank line ends in a turn, a quote or the dropped list, and nothing comes
out that was not in the input. The number of examples each test ran is printed
at the end of the session (conftest.pytest_terminal_summary).
"""

import atexit
import csv
import io
import json
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, count_case, shared_thread_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stance.core.errors import InputError
from stance.core.inputfiles import decode_text
from stance.core.normalize import collapse_space, normalize_text
from stance.core.schema import read_schema
from stance.core.thread import Turn
from stance.ingest.chains import build_chains
from stance.ingest.page import parse_page_text
from stance.ingest.parse import iter_structured, page_from_bytes
from stance.ingest.rules import NUMBERED
from stance.labelling.labels import LabelFile, read_labels

NAMES = read_schema(ROOT / "labels" / "schema.toml").names
# 300 examples a test keep the whole file near 30 s on 2 cores; raise
# STANCE_FUZZ_EXAMPLES for a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("STANCE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TMP = Path(tempfile.mkdtemp(prefix="stance-fuzz-"))
atexit.register(shutil.rmtree, TMP, True)
REAL_PAGES = shared_thread_files()
REAL_LINES = sorted(
    {
        line.strip()
        for p in REAL_PAGES[:12]
        for line in p.read_text(encoding="utf-8").split("\n")
        if line.strip()
    }
)


@contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging: an infinite loop is a bug like any other."""

    def fire(signum, frame):
        raise TimeoutError(f"no result within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def nonspace(s: str) -> int:
    return sum(not c.isspace() for c in s)


def accounting_problems(text: str, turns, dropped) -> list[str]:
    """Lines whose content is nowhere in the output, and any invented text.

    Each non-blank line must be dropped (a Dropped entry of that line number
    holding part of it), or its content, less any quote or number marker and
    with whitespace collapsed, must be in a turn or a quote that starts at or
    before it. Output text is never longer than input text.
    """
    problems = []
    dropped_at: dict[int, list[str]] = {}
    for d in dropped:
        dropped_at.setdefault(d.line, []).append(d.text)
    spans = [(t.meta["sources"][0]["line"], t.text) for t in turns]
    spans += [(q["line"], q["text"]) for t in turns for q in t.meta["quotes"]]
    for lineno, raw in enumerate(text.split("\n"), start=1):
        s = raw.strip()
        if not s:
            continue
        if any(d and d in s for d in dropped_at.get(lineno, ())):
            continue
        cands = {s, s.lstrip("> ").strip()}
        m = NUMBERED.match(raw)
        if m:
            cands.add(m.group("rest").strip())
        cands = {collapse_space(c) for c in cands}
        if "" in cands:
            continue  # only markers: '2.' opens a numbered comment, '>' a quote
        if not any(
            c in body for c in cands for start, body in spans if start <= lineno
        ):
            problems.append(f"line {lineno} lost: {s[:80]!r}")
    out = sum(nonspace(b) for _, b in spans) + sum(nonspace(d.text) for d in dropped)
    if out > nonspace(text):
        problems.append(f"{out} characters out, {nonspace(text)} in")
    return problems


def check_page_text(text: str) -> None:
    with time_limit(20):
        turns, dropped = parse_page_text(text, "fuzz.txt")
    for t in turns:
        assert t.text.strip() and t.meta["kind"] in (
            "article",
            "comment",
            "post",
            "message",
        )
    assert accounting_problems(text, turns, dropped) == []


def check_page_bytes(data: bytes, name: str = "fuzz.txt"):
    """page_from_bytes raises InputError or returns a page whose accounting holds."""
    try:
        with time_limit(20):
            page = page_from_bytes(data, name)
    except InputError:
        return None
    if not page.structured:
        text, _ = decode_text(data)
        assert accounting_problems(text, page.turns, page.dropped) == []
    return page


# ------------------------------------------------------------------ strategies

LINE_KINDS = [
    "Reply",
    "Share",
    "12 points",
    "3 comments",
    "Copyright 2024 Example Media",
    "Post by bob on Jan 5, 2009",
    "Posted on March 3, 2010 by alice",
    "u/someone • 3y ago",
    "u/[deleted] • Jun 5, 2019",
    "Date: Thu, 10 Feb 2000 22:50:22 +0200 From: Jane Doe <jd at x.org>",
    "From: Jane Doe <jd at x.org>",
    "Date: Thu, 10 Feb 2000",
    "Subject: Re: the pact",
    "On Mon, Jan 5, 2009, Jane wrote:",
    "Quote:",
    "Originally Posted by flamingo",
    "bob wrote:",
    "Bob said...",
    "|",
    "Click to expand...",
    ">",
    "> The pact bought time for the Soviet Union, nothing more.",
    ">> nested quote of an earlier reply, with several words.",
    "== Background ==",
    "== References ==",
    "== See also ==",
    "These are our rules:",
    "Moderators",
    "Founded 3 years ago",
    "Joined: 2009",
    "Messages: 12",
    "Reaction score: 4",
    "#31",
    "2.",
    "  3. A numbered reply with enough words to be text.",
    "12. bob",
    "by Someone Important",
    "by bob",
    "Discussion in 'History' started by flamingo, Jun 5, 2009.",
    "• @user@lemmy.ml",
    "Expand full comment",
    "Read more",
    "https://example.org/a/b?c=d",
    "[deleted]",
    "A Title Case Line Of Several Words",
    "Stalin signed it.",
    "ok",
]
line_st = st.one_of(
    st.sampled_from(LINE_KINDS),
    st.sampled_from(REAL_LINES),
    st.just(""),
    st.text(max_size=80),
    st.builds(lambda w: " " * w, st.integers(0, 6)),
)
indent_st = st.sampled_from(["", " ", "    ", "\t"])
structured_page_st = st.lists(
    st.tuples(indent_st, line_st).map("".join), max_size=60
).map("\n".join)
unicode_page_st = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000
)


@st.composite
def mutated_real_page(draw) -> bytes:
    page = draw(st.sampled_from(REAL_PAGES))
    lines = page.read_text(encoding="utf-8").split("\n")
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "move", "insert"]))
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(i, min(len(lines), i + 30)))
        if op == "delete":
            del lines[i:j]
        elif op == "duplicate":
            lines[j:j] = lines[i:j]
        elif op == "move":
            block = lines[i:j]
            del lines[i:j]
            k = draw(st.integers(0, len(lines)))
            lines[k:k] = block
        else:
            lines.insert(i, draw(line_st))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\n\n", " "])))
    encoding = draw(
        st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-32"])
    )
    data = bytearray(text.encode(encoding, errors="replace"))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "insert", "truncate"]))
        k = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[k] = draw(st.integers(0, 255))
        elif op == "insert":
            data[k:k] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[k:]
    return bytes(data)


# ------------------------------------------------------------- page parser


@FUZZ
@given(unicode_page_st)
def test_fuzz_parser_random_unicode(text):
    count_case("parser: random Unicode")
    check_page_text(text)
    check_page_bytes(text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from(["b.txt", "b.jsonl", "b.csv"]))
def test_fuzz_readers_random_bytes(data, name):
    count_case("readers: random bytes")
    check_page_bytes(data, name)


@FUZZ
@given(structured_page_st)
def test_fuzz_parser_random_line_structures(text):
    count_case("parser: random line structures")
    check_page_text(text)


@FUZZ
@given(mutated_real_page())
def test_fuzz_parser_mutated_real_pages(data):
    count_case("parser: mutated real pages")
    check_page_bytes(data)


def test_accounting_check_catches_a_lost_line():
    """The accounting helper itself: a line missing from the output is reported."""
    text = "The first line is a full sentence here.\n\nA second sentence stands alone."
    turns, dropped = parse_page_text(text, "a.txt")
    assert accounting_problems(text, turns, dropped) == []
    assert accounting_problems(text, turns[:1], dropped) == [
        "line 3 lost: 'A second sentence stands alone.'"
    ]


# ------------------------------------------------------- structured readers

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "id",
    "speaker",
    "conversation_id",
    "reply_to",
    "timestamp",
    "text",
    "meta",
    "user",
    "root",
]
record_st = st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=8)
turn_record_st = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=6), "text": st.text(max_size=60)},
    optional={
        "speaker": json_value,
        "conversation_id": json_value,
        "reply_to": json_value,
        "meta": json_value,
    },
)
jsonl_line_st = st.one_of(
    turn_record_st.map(json.dumps),
    record_st.map(json.dumps),
    json_value.map(json.dumps),
    st.text(max_size=40),
    st.just(""),
)


def streamed(data: bytes, name: str):
    """The streaming reader of `stance label` on the same bytes."""
    path = TMP / name
    path.write_bytes(data)
    try:
        return list(iter_structured(path))
    except InputError:
        return None


def same_turns(a, b) -> bool:
    return [(t.id, t.text, t.reply_to, t.speaker) for t in a] == [
        (t.id, t.text, t.reply_to, t.speaker) for t in b
    ]


@FUZZ
@given(st.lists(jsonl_line_st, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_fuzz_jsonl_reader(lines, newline):
    count_case("JSONL reader")
    data = newline.join(lines).encode("utf-8")
    page = check_page_bytes(data, "fuzz.jsonl")
    stream = streamed(data, "fuzz.jsonl")
    if page is not None:
        assert all(
            isinstance(t.id, str) and isinstance(t.text, str) for t in page.turns
        )
        assert stream is not None and same_turns(page.turns, stream)
    elif stream is not None:
        assert not stream or not any(t.text for t in stream)


csv_cell = st.one_of(
    st.text(max_size=30), st.sampled_from(["", '"', ",", "\n", "a\nb", "x" * 50])
)
csv_header_st = st.lists(
    st.sampled_from(
        [
            "id",
            "speaker",
            "conversation_id",
            "reply_to",
            "timestamp",
            "text",
            " text ",
            "other",
            "",
        ]
    ),
    min_size=1,
    max_size=7,
)


@st.composite
def csv_file(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # sometimes not CSV at all
        return draw(st.text(max_size=200)).encode("utf-8")
    header = draw(csv_header_st)
    rows = draw(
        st.lists(st.lists(csv_cell, min_size=0, max_size=len(header) + 1), max_size=10)
    )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@FUZZ
@given(csv_file())
def test_fuzz_csv_reader(data):
    count_case("CSV reader")
    page = check_page_bytes(data, "fuzz.csv")
    stream = streamed(data, "fuzz.csv")
    if page is not None:
        assert stream is not None and same_turns(page.turns, stream)
        assert len({t.id for t in page.turns}) == len(
            page.turns
        )  # ids it makes are unique
    else:
        assert stream is None or stream == []


@st.composite
def thread_structure(draw):
    """Turns with duplicate ids, missing parents, self-replies, cycles, mixed conversations."""
    n = draw(st.integers(1, 25))
    ids = [
        draw(st.sampled_from("abcdefghij")) + str(draw(st.integers(0, 3)))
        for _ in range(n)
    ]
    convs = [draw(st.sampled_from(["c1", "c2", "c3"])) for _ in range(n)]
    records = []
    for i in range(n):
        kind = draw(
            st.sampled_from(["root", "earlier", "any", "self", "missing", "none"])
        )
        reply = {
            "root": None,
            "none": None,
            "earlier": ids[draw(st.integers(0, i))],
            "any": ids[draw(st.integers(0, n - 1))],
            "self": ids[i],
            "missing": "zz" + str(i),
        }[kind]
        records.append(
            {
                "id": ids[i],
                "conversation_id": convs[i],
                "reply_to": reply,
                "speaker": draw(st.sampled_from([None, "ann", "bob"])),
                "text": f"turn {i} says something about the pact @ann",
            }
        )
    return records


@FUZZ
@given(thread_structure(), st.sampled_from(["jsonl", "csv"]))
def test_fuzz_thread_structures_build_chains(records, fmt):
    count_case("thread structures -> chains")
    if fmt == "jsonl":
        data = "\n".join(json.dumps(r) for r in records).encode()
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(records[0]))
        w.writeheader()
        w.writerows(records)
        data = buf.getvalue().encode()
    ids = [r["id"] for r in records]
    if len(set(ids)) < len(ids):
        with pytest.raises(InputError, match="duplicate id"):
            page_from_bytes(data, f"t.{fmt}")
        turns = [Turn.from_dict(r) for r in records]  # library callers may still
    else:
        turns = list(page_from_bytes(data, f"t.{fmt}").turns)
        assert [t.id for t in turns] == ids
    with time_limit(10):
        chains = build_chains(turns)
    for c in chains.chains:
        assert len(set(c.turn_ids)) == len(c.turn_ids), c.turn_ids
    assert {i for c in chains.chains for i in c.turn_ids} == {t.id for t in turns}
    for start in chains.parent:  # no cycle is left in the repaired links
        seen, node = set(), start
        while node is not None:
            assert node not in seen, f"cycle through {node}"
            seen.add(node)
            node = chains.parent.get(node)


# ------------------------------------------------------------- label reader

label_cell = st.one_of(
    st.text(max_size=40),
    st.sampled_from(list(NAMES) + ["maybe", "", " favor", "FAVOR"]),
)


@st.composite
def label_file(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(
        st.lists(
            st.sampled_from(["text", "stance", "id", "annotator", "note", "x", ""]),
            min_size=1,
            max_size=5,
        )
    )
    rows = draw(st.lists(st.lists(label_cell, max_size=len(header) + 1), max_size=10))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(
        draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])), errors="replace"
    )


@FUZZ
@given(label_file())
def test_fuzz_label_reader(data):
    count_case("label reader")
    path = TMP / "labels.csv"
    path.write_bytes(data)
    try:
        labels = read_labels(path, NAMES)
    except InputError:
        return
    assert all(lab.text and lab.stance in NAMES for lab in labels)
    keys = [lab.key for lab in labels]
    assert len(set(keys)) == len(keys)


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "text": st.text(min_size=1, max_size=60),
                "stance": st.sampled_from(NAMES),
            },
            optional={"note": st.text(max_size=20), "annotator": st.text(max_size=10)},
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_append_label_round_trip(rows):
    """What LabelFile.append accepts, read_labels reads back; what it refuses, it names."""
    count_case("append_label round trip")
    path = TMP / "appended.csv"
    path.unlink(missing_ok=True)
    kept = []
    for row in rows:
        key = normalize_text(row["text"])
        clash = any(
            normalize_text(k["text"]) == key and k["stance"] != row["stance"]
            for k in kept
        )
        if not row["text"].strip() or any("\x00" in v for v in row.values()) or clash:
            with pytest.raises(InputError):
                LabelFile(path).append(row, NAMES)
            continue
        LabelFile(path).append(row, NAMES)
        kept.append(row)
    if not kept:
        assert not path.exists()
        return
    back = read_labels(path, NAMES)  # whatever was appended reads back
    expected = {}
    for row in kept:
        expected.setdefault(normalize_text(row["text"]), row["stance"])
    assert {lab.key: lab.stance for lab in back} == expected
    assert {lab.key: " ".join(lab.note.split()) for lab in back} == {
        normalize_text(r["text"]): " ".join(
            r.get("note", "").replace("\r", "\n").split()
        )
        for r in reversed(kept)
    }


@pytest.mark.parametrize("page", REAL_PAGES, ids=lambda p: p.name)
def test_real_pages_accounting(page):
    """Accounting on every real page as it is, with the same checker as the fuzzers."""
    check_page_bytes(page.read_bytes(), page.name)


SCHEMA_LINES = (ROOT / "labels" / "schema.toml").read_text(encoding="utf-8").split("\n")
toml_value = st.sampled_from(
    ['"text"', "3", "[]", "[1, 2]", '["a", "b"]', "true", "{}", '""', "[[]]"]
)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "duplicate", "retype", "flip"]),
            st.integers(0, len(SCHEMA_LINES) - 1),
            toml_value,
            st.integers(0, 255),
        ),
        max_size=4,
    )
)
def test_fuzz_schema_reader(edits):
    """A hand-edited schema.toml: read, or one InputError naming the problem."""
    from stance.core.schema import read_schema

    count_case("schema reader")
    lines = list(SCHEMA_LINES)
    for op, i, value, byte in edits:
        i = min(i, len(lines) - 1)
        if op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op == "retype" and lines and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + value
        elif op == "flip" and lines and lines[i]:
            lines[i] = lines[i][:-1] + chr(byte)
    path = TMP / "schema.toml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogateescape")
    try:
        schema = read_schema(path)
    except InputError:
        return
    assert len(schema.names) >= 2 and set(schema.sides) <= set(schema.names)


def _saved_model() -> Path:
    """A small real model directory (fitted head, fake encoder id), saved once."""
    import numpy as np

    from stance.model.classify import StanceClassifier
    from stance.model.estimators import StanceHead

    path = TMP / "model-src"
    if not path.is_dir():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(30, 8))
        y = np.array(list(NAMES) * 10)
        head = StanceHead(calibrate=False).fit(X, y).to_head()
        StanceClassifier.from_heads(head, encoder_id="fake@fuzz").save(path)
    return path


config_edit = st.tuples(
    st.sampled_from(["delete", "retype", "head-bytes", "head-array", "redigest"]),
    st.sampled_from(
        [
            "format",
            "stance_version",
            "encoder",
            "encoder.id",
            "encoder.backend",
            "classes",
            "head",
            "head.C",
            "head.calibrate",
            "files",
            "files.head.npz",
            "schema",
            "training",
        ]
    ),
    json_value,
    st.integers(0, 10_000),
)


@FUZZ
@given(st.lists(config_edit, min_size=1, max_size=4))
def test_fuzz_model_directory(edits):
    """A damaged or forged model directory: loaded, or one ModelError."""
    import numpy as np

    from stance.core.errors import StanceError
    from stance.model.classify import StanceClassifier
    from stance.model.persist import config_digest

    count_case("model directory")
    path = TMP / "model"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(_saved_model(), path)
    cfg = json.loads((path / "config.json").read_text())
    for op, key, value, k in edits:
        *parents, leaf = (
            key.split(".", 1)
            if key.startswith(("encoder.", "head.", "files."))
            else [key]
        )
        target = cfg
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if op == "delete" and isinstance(target, dict):
            target.pop(leaf, None)
        elif op == "retype" and isinstance(target, dict):
            target[leaf] = value
        elif op == "head-bytes":
            data = bytearray((path / "head.npz").read_bytes())
            data[k % len(data)] ^= 0x5A
            (path / "head.npz").write_bytes(bytes(data))
        elif op == "head-array":  # a forger rewrites the arrays and the hashes
            arrays = {
                "coef": np.zeros((3, 8)),
                "intercept": np.zeros(3),
                "temperature": np.ones(1),
            }
            arrays[["coef", "intercept", "temperature"][k % 3]] = np.asarray(
                [[1.0, float("nan")], [2.0, 3.0]] if k % 2 else [k % 5]
            )
            np.savez(path / "head.npz", **arrays)
        elif op == "redigest" and isinstance(cfg.get("files"), dict):
            from stance.core.files import sha256_file

            cfg["files"]["head.npz"] = sha256_file(path / "head.npz")
            cfg["config_sha256"] = config_digest(cfg)
    (path / "config.json").write_text(json.dumps(cfg))
    try:
        model = StanceClassifier.load(path, check_encoder=False)
    except StanceError:
        return
    assert model.predict_proba  # loaded models are usable
    X = np.zeros((2, model.head_.coef_.shape[1]))
    p = model.head_.predict_proba(X)
    assert p.shape == (2, len(model.classes_)) and np.allclose(p.sum(axis=1), 1)
