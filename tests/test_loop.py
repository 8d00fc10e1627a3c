"""Done-when of the retraining loop: a scripted `stance annotate` session adds
labels, `stance train` picks them up and prints the change against the model it
replaces."""

import re

import pytest
from conftest import HELD_OUT_PAGES, run_cli

from stance.core.normalize import normalize_text
from stance.core.schema import read_schema
from stance.labelling.labels import load_labels, read_labels

ANSWERS = 12
# Same numbers, ~6x faster on a busy 2-core machine (37.6 s vs 6.2 s a train
# run, measured): the many small logistic regressions of the nested CV lose
# more to contending BLAS threads than they gain.
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _queue_texts(root, target):
    """The order `stance annotate` will ask in, computed by the library."""
    from stance.labelling.annotate import build_items
    from stance.labelling.suggest import (
        labelled_texts,
        predict_turns,
        project_label_files,
        rank_turns,
    )
    from stance.model.find import load_model

    schema = read_schema(root / "labels" / "schema.toml")
    model = load_model(root / "models" / "default", schema)
    done = labelled_texts(project_label_files(schema, [target]), schema.names)
    turns, proba, _ = predict_turns(HELD_OUT_PAGES, model)
    ranked = rank_turns(turns, proba, list(model.classes_), done)
    return [item.candidate.turn.text for item in build_items(turns, ranked)]


@pytest.mark.slow
def test_scripted_session_then_train_picks_the_labels_up(project):
    root, held = project
    schema = read_schema(root / "labels" / "schema.toml")
    names = list(schema.names)
    label_dir = root / "labels"

    # the model the user has: trained on the labels before the session
    res = run_cli("train", cwd=root, env=ONE_BLAS_THREAD)
    assert res.returncode == 0, res.stderr
    before = len(load_labels(sorted(label_dir.glob("*.csv")), names))
    assert f"{before} labels from" in res.stdout

    # a batch handed out but not filled in yet sits in labels/ too
    res = run_cli(
        "suggest", *HELD_OUT_PAGES, "-n", 3, "-o", label_dir / "batch.csv", cwd=root
    )
    assert res.returncode == 0, res.stderr

    # the session: the held-out pages' human labels, typed as digit keys, with
    # a skip taken back on the way; then quit
    target = label_dir / "session.csv"
    truth = {normalize_text(r["text"]): r["stance"] for r in held}
    queue = _queue_texts(root, target)
    answers = [truth[normalize_text(t)] for t in queue[:ANSWERS]]
    keys = [str(names.index(a) + 1) for a in answers]
    script = keys[:2] + ["s", "u"] + keys[2:] + ["q"]
    res = run_cli(
        "annotate",
        *HELD_OUT_PAGES,
        "--labels",
        target,
        "--annotator",
        "scripted-test",
        cwd=root,
        input="\n".join(script) + "\n",
    )
    assert res.returncode == 0, res.stderr
    assert f"{ANSWERS} labels added" in res.stdout
    got = read_labels(target, names)
    assert [(lab.text, lab.stance) for lab in got] == list(
        zip(queue[:ANSWERS], answers, strict=True)
    )
    assert {lab.annotator for lab in got} == {"scripted-test"}

    # retrain: the new labels are picked up and the diff is printed
    import json

    config = root / "models" / "default" / "config.json"
    replaced = json.loads(config.read_text())["metrics"]["embedding+tfidf"]
    res = run_cli("train", cwd=root, env=ONE_BLAS_THREAD)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "batch.csv: 3 rows with an empty stance skipped" in out
    assert f"{before + ANSWERS} labels from" in out
    assert (
        f"labels against the model it replaces: {before} -> {before + ANSWERS} "
        f"(+{ANSWERS})" in out
    )
    m = re.search(
        r"change against the model it replaces \([\w+-]+\): macro-F1 (\d\.\d{3}) -> (\d\.\d{3}) "
        r"\(([+-]\d\.\d{3})\), F_avg (\d\.\d{3}) -> (\d\.\d{3}) \(([+-]\d\.\d{3})\)",
        out,
    )
    assert m, out
    # the scores compared are the replaced model's (from its config) and the
    # new model's (from the config just written), not two printed numbers
    cfg = json.loads(config.read_text())
    new_m = cfg["metrics"]["embedding+tfidf"]
    old, new, diff, old_f, new_f, diff_f = (float(x) for x in m.groups())
    assert (old, old_f) == (round(replaced["macro_f1"], 3), round(replaced["f_avg"], 3))
    assert (new, new_f) == (round(new_m["macro_f1"], 3), round(new_m["f_avg"], 3))
    assert diff == pytest.approx(new_m["macro_f1"] - replaced["macro_f1"], abs=6e-4)
    assert diff_f == pytest.approx(new_m["f_avg"] - replaced["f_avg"], abs=6e-4)
    assert cfg["training"]["n_labels"] == before + ANSWERS
    assert any(p.endswith("session.csv") for p in cfg["label_files"])
