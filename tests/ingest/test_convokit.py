"""ConvoKit corpora both ways, checked with the real convokit package.

Writing: every conversation of the shipped pages loads in convokit as one
valid reply tree (check_integrity, traverse), labels sit in utterance meta.
Reading: a corpus that convokit itself dumped keeps its ids, links,
timestamps (type included) and speaker/conversation meta through `stance label`.
"""

import json
import warnings

import pytest
from conftest import ROOT, SEEDS, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.thread import Turn
from stance.ingest.convokit import (
    FILLED,
    UNKNOWN_FLAG,
    fill_timestamps,
    read_corpus,
    write_corpus,
)
from stance.ingest.parse import parse_paths

convokit = pytest.importorskip("convokit")  # installed by `make install`
SHIPPED = [SEEDS, SEEDS / "threads"]
SCHEMA_ENV = {"STANCE_SCHEMA": str(ROOT / "labels" / "schema.toml")}


@pytest.fixture(autouse=True)
def _convokit_home(tmp_path_factory, monkeypatch):
    # convokit writes ~/.convokit/config.yml on first use: never the user's.
    home = tmp_path_factory.getbasetemp() / "convokit-home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))


def _load(directory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convokit.Corpus(filename=str(directory))


def _assert_valid_trees(corpus):
    for conv in corpus.iter_conversations():
        assert conv.check_integrity(verbose=False), conv.id
        ids = [u.id for u in conv.traverse("bfs")]
        assert sorted(ids) == sorted(conv.get_utterance_ids())
        assert len(conv.get_chronological_utterance_list()) == len(ids)


@pytest.fixture(scope="module")
def shipped_turns():
    return parse_paths(SHIPPED).turns


def test_every_shipped_conversation_is_a_valid_convokit_tree(shipped_turns, tmp_path):
    summary = write_corpus(tmp_path / "corpus", shipped_turns)
    assert summary["problems"] == []
    corpus = _load(tmp_path / "corpus")
    assert len(corpus.get_utterance_ids()) == len(shipped_turns)
    convs = {t.conversation_id for t in shipped_turns}
    assert set(corpus.get_conversation_ids()) == convs
    _assert_valid_trees(corpus)
    for conv in corpus.iter_conversations():  # rooted at the page's first turn
        first = next(t for t in shipped_turns if t.conversation_id == conv.id)
        assert conv.get_utterance(first.id).reply_to is None


def test_corpus_keeps_turn_fields_and_page_metadata(shipped_turns, tmp_path):
    write_corpus(tmp_path / "c", shipped_turns)
    corpus = _load(tmp_path / "c")
    by_id = {t.id: t for t in shipped_turns}
    dated = [t for t in shipped_turns if isinstance(t.timestamp, int)]
    assert len(dated) > 50
    for t in dated:
        u = corpus.get_utterance(t.id)
        assert u.timestamp == t.timestamp and u.meta["timestamp_text"]
    for u in corpus.iter_utterances():
        t = by_id[u.id]
        assert u.text == t.text and u.reply_to == t.reply_to
        assert u.conversation_id == t.conversation_id
        if t.reply_to is not None:
            assert u.meta["reply_evidence"]
    conv = corpus.get_conversation(
        "freerepublic_4341072_soviet-invasion-of-poland-86-years"
    )
    assert conv.meta["source"].startswith("https://freerepublic.com/")
    assert conv.meta["title"] and conv.meta["file"].endswith(".txt")
    unknown = [s for s in corpus.iter_speakers() if s.meta.get(UNKNOWN_FLAG)]
    assert unknown and all(s.id.startswith("UNKNOWN@") for s in unknown)


def test_stance_reads_back_what_it_wrote(shipped_turns, tmp_path):
    write_corpus(tmp_path / "c", shipped_turns)
    back = read_corpus(tmp_path / "c")
    assert [t.id for t in back] == [t.id for t in shipped_turns]
    for a, b in zip(shipped_turns, back, strict=True):
        assert (a.speaker, a.reply_to, a.timestamp, a.text) == (
            b.speaker,
            b.reply_to,
            b.timestamp,
            b.text,
        )
        assert FILLED not in b.meta


def _dump_convokit_corpus(directory):
    """A corpus made and dumped by convokit itself (ConvoKit's own file format)."""
    from convokit import Corpus, Speaker, Utterance

    ann = Speaker(id="ann", meta={"karma": 12})
    bob = Speaker(id="bob", meta={"flair": "Poland"})
    utts = [
        Utterance(
            id="t1",
            speaker=ann,
            conversation_id="t1",
            reply_to=None,
            timestamp=1_600_000_000,
            text="The pact was a cynical carve-up of Poland.",
            meta={"score": 5},
        ),
        Utterance(
            id="t2",
            speaker=bob,
            conversation_id="t1",
            reply_to="t1",
            timestamp=1_600_000_600,
            text="It bought the Soviet Union time to prepare for war.",
        ),
        Utterance(
            id="t3",
            speaker=ann,
            conversation_id="t1",
            reply_to="t2",
            timestamp=1_600_001_200,
            text="Time it wasted: the Red Army was not ready in 1941.",
        ),
        Utterance(
            id="t4",
            speaker=bob,
            conversation_id="t1",
            reply_to="t1",
            timestamp=1_600_001_800,
            text="Britain and France refused a real alliance first.",
        ),
    ]
    corpus = Corpus(utterances=utts)
    corpus.get_conversation("t1").meta["title"] = "Was the pact defensible?"
    corpus.dump(directory.name, base_path=str(directory.parent))
    return corpus


def test_convokit_dump_is_read_with_links_timestamps_and_meta(tmp_path):
    _dump_convokit_corpus(tmp_path / "dump")
    raw = (tmp_path / "dump" / "utterances.jsonl").read_text()
    assert '"reply-to"' in raw  # convokit's spelling, which stance used to drop
    turns = {t.id: t for t in read_corpus(tmp_path / "dump")}
    assert turns["t2"].reply_to == "t1" and turns["t3"].reply_to == "t2"
    assert turns["t1"].timestamp == 1_600_000_000
    assert isinstance(turns["t1"].timestamp, int)
    assert turns["t1"].meta["speaker_meta"] == {"karma": 12}
    assert turns["t2"].meta["conversation_meta"] == {
        "title": "Was the pact defensible?"
    }
    assert turns["t1"].meta["score"] == 5


@pytest.mark.slow
def test_convokit_dump_keeps_ids_links_timestamps_through_stance_label(tmp_path):
    dumped = _dump_convokit_corpus(tmp_path / "dump")
    out = tmp_path / "labelled.jsonl"
    res = run_cli("label", tmp_path / "dump", "-o", out, env=SCHEMA_ENV)
    assert res.returncode == 0, res.stderr
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for utt in dumped.iter_utterances():
        row = rows[utt.id]
        assert row["reply_to"] == utt.reply_to
        assert row["timestamp"] == utt.timestamp and isinstance(row["timestamp"], int)
        assert row["speaker"] == utt.speaker.id
    res = run_cli(
        "label",
        tmp_path / "dump",
        "--format",
        "convokit",
        "-o",
        tmp_path / "out",
        env=SCHEMA_ENV,
    )
    assert res.returncode == 0, res.stderr
    again = _load(tmp_path / "out")
    _assert_valid_trees(again)
    names = set(
        json.loads((ROOT / "models/default/config.json").read_text())["classes"]
    )
    for utt in dumped.iter_utterances():
        back = again.get_utterance(utt.id)
        assert (back.reply_to, back.timestamp, back.speaker.id) == (
            utt.reply_to,
            utt.timestamp,
            utt.speaker.id,
        )
        assert back.meta["stance"] in names
        assert 0 < back.meta["confidence"] <= 1
        assert set(back.meta["scores"]) == names and back.meta["model"]
    assert again.get_speaker("ann").meta["karma"] == 12
    assert again.get_conversation("t1").meta["title"] == "Was the pact defensible?"


@pytest.mark.slow
def test_label_format_convokit_puts_labels_in_utterance_meta(tmp_path):
    page = SEEDS / "001_7c0e47e3dafd298f.txt"
    res = run_cli(
        "label", page, "--format", "convokit", "-o", tmp_path / "c", env=SCHEMA_ENV
    )
    assert res.returncode == 0, res.stderr
    assert "ConvoKit corpus:" in res.stderr
    corpus = _load(tmp_path / "c")
    _assert_valid_trees(corpus)
    for utt in corpus.iter_utterances():
        assert utt.meta.get("stance") is not None
        assert {"confidence", "scores", "model"} <= set(utt.meta)


def test_parse_format_convokit_cli(tmp_path):
    res = run_cli("parse", SEEDS, "--format", "convokit", "-o", tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "conversations.json",
        "corpus.json",
        "index.json",
        "speakers.json",
        "utterances.jsonl",
    ]
    _assert_valid_trees(_load(tmp_path / "c"))
    bad = run_cli("parse", SEEDS, "--format", "convokit")
    assert bad.returncode == 2 and "needs -o DIR" in bad.stderr
    bad = run_cli("parse", SEEDS, "--format", "xml", "-o", tmp_path / "x")
    assert bad.returncode == 2 and "unknown --format 'xml'" in bad.stderr


def test_old_utterances_json_list_format(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    utts = [
        {
            "id": "a",
            "user": "ann",
            "root": "a",
            "reply_to": None,
            "timestamp": 5,
            "text": "First post about the pact.",
            "meta": {},
        },
        {
            "id": "b",
            "user": "bob",
            "root": "a",
            "reply_to": "a",
            "timestamp": 9.5,
            "text": "A reply about the pact.",
            "meta": {},
        },
    ]
    (folder / "utterances.json").write_text(json.dumps(utts))
    (folder / "users.json").write_text(json.dumps({"ann": {"age": 3}, "bob": {}}))
    turns = parse_paths([folder]).turns  # a directory: the corpus stays whole
    assert [(t.id, t.speaker, t.reply_to, t.timestamp) for t in turns] == [
        ("a", "ann", None, 5),
        ("b", "bob", "a", 9.5),
    ]
    assert turns[0].meta["speaker_meta"] == {"age": 3}


def test_links_to_missing_ids_are_warned_not_silent(tmp_path, caplog):
    _dump_convokit_corpus(tmp_path / "dump")
    path = tmp_path / "dump" / "utterances.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[2]["reply-to"] = "gone"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    turns = read_corpus(tmp_path / "dump")
    assert any("t3 replies to missing gone" in r.getMessage() for r in caplog.records)
    assert turns[2].reply_to == "gone"  # kept as given
    res = run_cli("parse", tmp_path / "dump")
    assert res.returncode == 0
    assert "warning:" in res.stderr and "t3 replies to missing gone" in res.stderr


def test_reply_to_spellings_and_typed_timestamps_in_plain_jsonl(tmp_path):
    p = tmp_path / "utts.jsonl"
    p.write_text(
        json.dumps({"id": "1", "text": "Root text here.", "timestamp": 100})
        + "\n"
        + json.dumps(
            {
                "id": "2",
                "text": "A reply here.",
                "reply-to": "1",
                "conversation_id": "1",
                "timestamp": "2020-01-01",
            }
        )
        + "\n"
    )
    turns = parse_paths([p]).turns
    assert turns[1].reply_to == "1"
    assert turns[0].timestamp == 100 and turns[1].timestamp == "2020-01-01"


def test_csv_numeric_timestamps_become_numbers(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,text,timestamp\na,One turn here.,1600000000\nb,Two turns.,x\n")
    turns = parse_paths([p]).turns
    assert [t.timestamp for t in turns] == [1_600_000_000, "x"]


def test_multi_root_conversation_is_reported(tmp_path):
    turns = [
        Turn("a", "ann", "c", None, 1, "one", {}),
        Turn("b", "bob", "c", None, 2, "two", {}),
    ]
    summary = write_corpus(tmp_path / "c", turns)
    assert summary["problems"] == ["conversation c has 2 roots (a tree has one)"]


def test_written_reply_links_are_checked_by_check_integrity(tmp_path):
    """The corpus writer reports what core.thread.check_integrity finds."""
    turns = [
        Turn("a", "ann", "c", None, 1, "one", {}),
        Turn("b", "bob", "c", "gone", 2, "two", {}),
        Turn("x", "ann", "d", "y", 3, "three", {}),
        Turn("y", "bob", "d", "x", 4, "four", {}),
    ]
    problems = write_corpus(tmp_path / "c", turns)["problems"]
    assert "'b' replies to missing turn 'gone'" in problems
    assert any("reply cycle" in p for p in problems)
    assert "conversation d has 0 roots (a tree has one)" in problems


@pytest.mark.parametrize(
    ("given", "filled"),
    [
        ([1, 2, 3], {}),
        ([None, None], {0: 0, 1: 1}),
        ([None, 10, None, 20, None], {0: 10, 2: 10, 4: 20}),
        (["2001", None], {1: "2001"}),
        ([1, "x", None], {}),  # mixed kinds: nothing sensible to copy
    ],
)
def test_fill_timestamps(given, filled):
    assert {i: v for i, (v, _) in fill_timestamps(given).items()} == filled


def test_undated_turns_are_filled_for_convokit_and_read_back_as_none(tmp_path):
    turns = [
        Turn("a", None, "c", None, None, "root", {}),
        Turn("b", "bob", "c", "a", None, "r1", {}),
        Turn("c", "cat", "c", "a", None, "r2", {}),
    ]
    write_corpus(tmp_path / "c", turns)
    corpus = _load(tmp_path / "c")
    _assert_valid_trees(corpus)  # traverse sorts the root's two replies by time
    assert corpus.get_utterance("c").meta[FILLED].startswith("page order")
    back = read_corpus(tmp_path / "c")
    assert [t.timestamp for t in back] == [None, None, None]
    assert back[0].speaker is None  # the unknown speaker is no speaker again


@st.composite
def _conversations(draw):
    """Turns of a few conversations, each a tree in file order, ids unique."""
    turns = []
    for c in range(draw(st.integers(1, 3))):
        conv_ids: list[str] = []
        for k in range(draw(st.integers(1, 6))):
            tid = f"{draw(st.text(min_size=1, max_size=6))}|{c}|{k}"
            parent = draw(st.sampled_from(conv_ids)) if conv_ids else None
            turns.append(
                Turn(
                    tid,
                    draw(st.sampled_from([None, "ann", "bob", "Zoë"])),
                    conv_ids[0] if conv_ids else tid,
                    parent,
                    draw(st.none() | st.integers(0, 2**40)),
                    draw(st.text(min_size=1, max_size=40)),
                    {"kind": "comment", "quotes": []},
                )
            )
            conv_ids.append(tid)
    return turns


@settings(max_examples=40, deadline=None)
@given(_conversations())
def test_corpus_round_trip_keeps_turns(tmp_path_factory, turns):
    folder = tmp_path_factory.mktemp("rt") / "c"
    assert write_corpus(folder, turns)["problems"] == []
    back = read_corpus(folder)
    fields = ("id", "speaker", "conversation_id", "reply_to", "timestamp", "text")
    assert [tuple(getattr(t, f) for f in fields) for t in back] == [
        tuple(getattr(t, f) for f in fields) for t in turns
    ]
