"""The notebook API: stance.parse / label / load_model / to_convokit, light to import."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SEEDS, run_cli

import stance

SCHEMA = ROOT / "labels" / "schema.toml"
PAGE = SEEDS / "001_7c0e47e3dafd298f.txt"


def test_import_stance_is_light():
    code = (
        "import sys, stance; heavy = ('torch', 'sentence_transformers', 'pandas', "
        "'sklearn', 'onnxruntime', 'dateparser', 'convokit'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_parse_is_a_dataframe_of_the_cli_turns(tmp_path):
    df = stance.parse([PAGE])
    assert list(df.columns) == [
        "id",
        "speaker",
        "conversation_id",
        "reply_to",
        "timestamp",
        "text",
        "meta",
    ]
    res = run_cli("parse", PAGE, "-o", tmp_path / "t.jsonl")
    assert res.returncode == 0, res.stderr
    cli = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert df.to_dict("records") == cli  # same function, same rows
    assert df["reply_to"].iloc[0] is None and df["reply_to"].iloc[1] is not None


def test_parse_keeps_integer_timestamps_next_to_missing_ones():
    df = stance.parse(SEEDS / "threads" / "gb_reddit_informedtankie_15io6yr.txt")
    values = [v for v in df["timestamp"] if v is not None]
    assert values and all(type(v) is int for v in values)


def test_stance_parse_is_the_api_function_next_to_the_ingest_module():
    from stance.ingest.parse import parse_paths

    assert callable(parse_paths) and stance.parse is stance.api.parse


@pytest.mark.slow
def test_label_paths_and_dataframe_agree_and_match_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the debate's schema and models/default
    model = stance.load_model()
    by_path = stance.label([PAGE], model)
    by_frame = stance.label(stance.parse([PAGE]), model)
    cols = ["id", "stance", "confidence"]
    assert by_path[cols].to_dict("records") == by_frame[cols].to_dict("records")
    assert {"stance", "confidence", "scores", "model"} <= set(by_path.columns)
    assert by_path["confidence"].dtype == float
    res = run_cli("label", PAGE, "-o", tmp_path / "l.jsonl")
    assert res.returncode == 0, res.stderr
    cli = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert [(r["id"], r["stance"]) for r in cli] == list(
        zip(by_path["id"], by_path["stance"], strict=True)
    )
    summary = stance.to_convokit(by_frame, tmp_path / "corpus")
    assert summary["problems"] == [] and summary["utterances"] == len(by_frame)
    back = stance.read_convokit(tmp_path / "corpus")
    assert list(back["id"]) == list(by_frame["id"])
    assert back["meta"].iloc[0]["stance"] == by_frame["stance"].iloc[0]


@pytest.mark.slow
def test_label_of_a_frame_of_its_own_leaves_foreign_turns_without_a_stance(
    monkeypatch,
):
    import pandas as pd

    monkeypatch.chdir(ROOT)
    own = pd.DataFrame(  # read elsewhere: no meta, so no meta.lang
        {
            "id": ["ru", "en"],
            "text": [
                "Пакт Молотова-Риббентропа был вынужденной мерой после Мюнхена.",
                "The pact was a cynical carve-up of Poland with Hitler.",
            ],
        }
    )
    rows = stance.label(own).set_index("id")
    assert rows.loc["ru", "skipped"] == "language: ru"
    assert rows.loc["ru", "stance"] is None
    assert rows.loc["en", "skipped"] is None and rows.loc["en", "stance"] is not None
    assert rows.loc["ru", "meta"]["lang"] == "ru"


def test_to_convokit_from_a_parsed_frame_loads_in_convokit(tmp_path, monkeypatch):
    convokit = pytest.importorskip("convokit")
    monkeypatch.setenv("HOME", str(tmp_path))  # convokit's config file
    stance.to_convokit(stance.parse([SEEDS]), tmp_path / "c")
    corpus = convokit.Corpus(filename=str(tmp_path / "c"))
    for conv in corpus.iter_conversations():
        assert conv.check_integrity(verbose=False)
        list(conv.traverse("bfs"))


def test_label_of_a_frame_without_text_is_a_clear_error():
    import pandas as pd

    from stance.core.errors import StanceError

    with pytest.raises(StanceError, match="no text column"):
        stance.to_convokit(pd.DataFrame({"id": ["a"]}), "unused")
