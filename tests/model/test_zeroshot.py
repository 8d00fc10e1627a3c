"""Zero-shot prototypes, `stance init`, and label names living only in schemas."""

import json

import numpy as np
import pytest
from conftest import ROOT, run_cli

from stance.core.schema import init_debate, read_schema
from stance.model.zeroshot import PrototypeHead, prototype_texts

TOPICS = {
    "cooking": (
        "Recipes, ingredients, ovens and how to cook a meal.",
        ["Simmer the onions in butter before adding the flour."],
    ),
    "football": (
        "Matches, goals, players, clubs and league tables.",
        ["The striker scored twice in the second half."],
    ),
    "weather": (
        "Rain, sunshine, storms, temperatures and forecasts.",
        ["Heavy rain and strong winds are expected tomorrow."],
    ),
    "finance": (
        "Shares, interest rates, banks, prices and markets.",
        ["The central bank raised interest rates again."],
    ),
}


def test_prototype_head_picks_the_nearest_prototype():
    head = PrototypeHead().fit_prototypes(
        ["a", "b", "c"], [np.eye(3)[[0]], np.eye(3)[[1]], np.eye(3)[[2]] * 5]
    )
    X = np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.98]])
    assert head.predict(X).tolist() == ["a", "c"]
    proba = head.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba[0, 0] > 0.9  # far from the others at the default temperature


def test_prototype_texts_fall_back_to_the_label_name(tmp_path):
    init_debate(tmp_path, "t", ["yes", "no"])
    sch = read_schema(tmp_path / "labels" / "schema.toml")
    assert prototype_texts(sch) == [["yes"], ["no"]]


def _topic_debate(tmp_path):
    init_debate(tmp_path, "Which topic is this turn about?", list(TOPICS))
    path = tmp_path / "labels" / "schema.toml"
    text = path.read_text()
    for name, (desc, examples) in TOPICS.items():
        text = text.replace(
            f'name = "{name}"\ncolor',
            f'name = "{name}"\ndescription = {json.dumps(desc)}\n'
            f"examples = {json.dumps(examples)}\ncolor",
        )
    text = text.replace('description = ""\nexamples = []\n', "")
    path.write_text(text)
    return read_schema(path)


def test_zero_shot_labels_unseen_sentences_by_schema_prototypes(tmp_path):
    sch = _topic_debate(tmp_path)
    page = tmp_path / "page.txt"
    page.write_text(
        "Preheat the oven and knead the dough for ten minutes.\n\n"
        "Their goalkeeper saved a penalty in the final minute.\n\n"
        "A cold front brings snow and freezing temperatures this weekend.\n\n"
        "Stock markets fell as bond yields and mortgage rates climbed.\n"
    )
    out = tmp_path / "rows.jsonl"
    res = run_cli("label", page, "-o", out, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "zero-shot" in res.stderr and "provisional" in res.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["stance"] for r in rows] == list(TOPICS)
    assert {r["model"] for r in rows} == {"zero-shot"}
    assert all(set(r["scores"]) == set(sch.names) for r in rows)


def test_explicit_zero_shot_model_on_the_pact_debate(tmp_path):
    out = tmp_path / "rows.jsonl"
    page = sorted((ROOT / "seeds").glob("*.txt"))[0]
    res = run_cli("label", page, "-m", "zero-shot", "-o", out)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and {r["model"] for r in rows} == {"zero-shot"}


@pytest.mark.slow
def test_a_second_debate_end_to_end(project, tmp_path):
    """Issue 8's done-when: a four-label debate from `stance init` to a report.

    init → parse a small thread → zero-shot labels → labels added by piped keys
    in `stance annotate` → `stance train` → a report whose legend and colours
    come from that schema. The keys typed are the held-out pages' human labels
    (favor/against/none of the shipped guideline) renamed support/deny/comment:
    test data for the plumbing, not labels of this debate.
    """
    from conftest import HELD_OUT_PAGES

    from stance.core.normalize import normalize_text
    from stance.labelling.annotate import build_items
    from stance.labelling.labels import read_labels
    from stance.labelling.suggest import predict_turns, rank_turns
    from stance.model.find import load_model

    _, held = project
    names = ["support", "deny", "query", "comment"]
    root = tmp_path / "rumour"
    res = run_cli(
        "init",
        root,
        "--target",
        "The rumour is true",
        "--labels",
        ",".join(names),
        "--sides",
        "support,deny",
    )
    assert res.returncode == 0, res.stderr
    schema_file = root / "labels" / "schema.toml"
    schema_file.write_text(schema_file.read_text().replace("#8c8c8c", "#123456"))
    pages = HELD_OUT_PAGES[:3]

    # parse, then zero-shot labels
    res = run_cli("parse", *pages, "-o", root / "turns.jsonl", cwd=root)
    assert res.returncode == 0, res.stderr
    res = run_cli("label", root / "turns.jsonl", "-o", root / "zs.jsonl", cwd=root)
    assert res.returncode == 0 and "zero-shot" in res.stderr, res.stderr
    rows = [json.loads(x) for x in (root / "zs.jsonl").read_text().splitlines()]
    assert rows and {r["model"] for r in rows} == {"zero-shot"}
    assert set(rows[0]["scores"]) == set(names)

    # piped annotation in the order annotate asks (computed by the library)
    schema = read_schema(schema_file)
    model = load_model(None, schema)
    turns, proba, _ = predict_turns(pages, model)
    queue = [
        item.candidate.turn.text
        for item in build_items(turns, rank_turns(turns, proba, list(model.classes_)))
    ]
    rename = {"favor": "support", "against": "deny", "none": "comment"}
    truth = {normalize_text(r["text"]): rename[r["stance"]] for r in held}
    keys = [
        str(names.index(truth[normalize_text(t)]) + 1)
        if normalize_text(t) in truth
        else "s"
        for t in queue
    ]
    res = run_cli(
        "annotate",
        *pages,
        "--labels",
        "labels/labels.csv",
        cwd=root,
        input="\n".join(keys + ["q"]) + "\n",
    )
    assert res.returncode == 0, res.stderr
    added = read_labels(root / "labels" / "labels.csv", names)
    assert len(added) == sum(k != "s" for k in keys) >= 10
    assert {lab.stance for lab in added} <= {"support", "deny", "comment"}

    # train in the debate folder, then the report
    res = run_cli("train", cwd=root, env={"OPENBLAS_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert (root / "models" / "default" / "config.json").is_file()
    report = root / "report.html"
    res = run_cli("report", *pages, "-o", report, cwd=root)
    assert res.returncode == 0, res.stderr
    html = report.read_text()
    assert "zero-shot" not in res.stderr and "Provisional" not in html
    for name, colour in zip(
        names, ("#2b7bba", "#c0392b", "#123456", "#27ae60"), strict=True
    ):
        assert name in html and colour in html, (name, colour)
    assert "#8c8c8c" not in html  # the colour replaced in the schema
