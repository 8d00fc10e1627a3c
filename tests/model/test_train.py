"""Training: nested choices of the method, reading the model it replaces."""

import json

import numpy as np
import pytest
from conftest import ROOT, run_cli
from fakes import GROUPS, TEXTS, FakeEmbedder, Y

from stance.model.train import LEXICAL_WEIGHTS, _previous_metrics, choose_lexical_weight


def test_the_lexical_weight_comes_from_the_grid_and_the_training_rows_only(
    monkeypatch,
):
    """In cross-validation the weight (and C) are chosen on the training fold:
    the search sees no test row, and the test rows' labels change nothing."""
    import stance.model.train as train_mod

    X = FakeEmbedder().embed(TEXTS)
    texts = np.array(TEXTS, dtype=object)
    y, groups = np.array(Y), np.array(GROUPS)
    sides = ["favor", "against"]
    w = choose_lexical_weight(texts, X, y, groups, 1.0, sides)
    assert w in LEXICAL_WEIGHTS
    seen = []
    real = train_mod.choose_lexical_weight

    def spy(texts_, X_, y_, groups_, C, sides_):
        seen.append((list(texts_), list(groups_)))
        return real(texts_, X_, y_, groups_, C, sides_)

    monkeypatch.setattr(train_mod, "choose_lexical_weight", spy)
    test = np.flatnonzero(groups == "g0")
    train = np.flatnonzero(groups != "g0")
    predict = train_mod.default_method(texts, X, y, groups, sides, FakeEmbedder())
    before = list(predict(train)(test).labels)
    assert seen == [(list(texts[train]), list(groups[train]))]  # no test row
    # other labels on the test rows: the same weight, C and predictions
    flipped = y.copy()
    flipped[test] = np.roll(flipped[test], 1)
    again = train_mod.default_method(texts, X, flipped, groups, sides, FakeEmbedder())
    assert list(again(train)(test).labels) == before
    assert len(seen) == 2 and seen[0] == seen[1]


@pytest.mark.parametrize(
    "body",
    [
        b'{"metrics": []}',
        b"[1]",
        b'{"metrics": {"embedding+logreg": {"macro_f1": "x", "f_avg": 0.1}}}',
        b'{"training": {"method": "gone"}, "metrics": {"embedding+logreg": {"macro_f1": 0.5, "f_avg": 0.4}}}',
        b"\xff\xfe not json",
    ],
)
def test_a_previous_model_that_cannot_be_compared_is_skipped(tmp_path, body):
    """Read after minutes of cross-validation: it must never crash the run."""
    (tmp_path / "config.json").write_bytes(body)
    assert _previous_metrics(tmp_path) is None


def test_previous_metrics_are_those_of_the_previous_models_own_method(tmp_path):
    (tmp_path / "config.json").write_text(
        '{"training": {"method": "embedding+tfidf"}, "metrics": {'
        '"embedding+logreg": {"macro_f1": 0.5, "f_avg": 0.4}, '
        '"embedding+tfidf": {"macro_f1": 0.6, "f_avg": 0.45}}}'
    )
    assert _previous_metrics(tmp_path) == {
        "macro_f1": 0.6,
        "f_avg": 0.45,
        "method": "embedding+tfidf",
        "n_labels": None,
        "repeats": 1,
    }
    (tmp_path / "config.json").write_text(
        '{"metrics": {"embedding+logreg": {"macro_f1": 0.5, "f_avg": 0.4}}}'
    )
    assert _previous_metrics(tmp_path)["macro_f1"] == 0.5


@pytest.mark.slow
def test_one_command_reproduces_the_shipped_models_metrics(tmp_path):
    """The model card's command, on the shipped labels, gives the shipped table."""
    import re
    import shlex

    shipped = json.loads((ROOT / "models" / "default" / "config.json").read_text())
    card = (ROOT / "models" / "default" / "README.md").read_text(encoding="utf-8")
    command = re.search(r"Reproduce: `stance ([^`]*)`", card).group(1)
    assert command.split()[0] == "train"
    res = run_cli(*shlex.split(command), "-o", tmp_path / "model", "--json")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["n_labels"] == shipped["training"]["n_labels"]
    assert got["C"] == shipped["training"]["C"]
    assert got["lexical_weight"] == shipped["training"]["lexical_weight"]
    assert set(got["cv"]) == set(shipped["metrics"])
    for method, want in shipped["metrics"].items():
        for key in ("macro_f1", "f_avg"):
            # the encoder is exported afresh on a new machine: allow float noise
            assert got["cv"][method][key] == pytest.approx(want[key], abs=0.005), (
                method,
                key,
            )


def test_the_readme_quotes_the_shipped_models_held_out_score():
    """The first screen's demo figure is the card's, not an older model's."""
    import re

    held = json.loads((ROOT / "models" / "default" / "config.json").read_text())[
        "heldout"
    ]
    scores = held["metrics"]["embedding+tfidf"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"today (\d+) of (\d+) \((\d+)%\), macro-F1 (0\.\d+)", readme)
    agree, n, percent, macro_f1 = found.groups()
    assert int(n) == held["n"]
    assert int(agree) == round(scores["accuracy"] * held["n"])
    assert int(percent) == round(100 * scores["accuracy"])
    assert float(macro_f1) == round(scores["macro_f1"], 3)


def _project_with_heldout(tmp_path, n_held=40):
    """A debate folder: the seeds' labels to train on, 40 labels of other pages
    held out (and one held-out row that repeats a training text)."""
    import csv

    labels = tmp_path / "labels"
    (labels / "heldout").mkdir(parents=True)
    (labels / "schema.toml").write_text(
        (ROOT / "labels" / "schema.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )

    def rows(name):
        with open(ROOT / "labels" / name, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    def write(path, rs):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rs[0]))
            w.writeheader()
            w.writerows(rs)

    train_rows = rows("seeds.csv")
    write(labels / "train.csv", train_rows)
    write(
        labels / "heldout" / "held.csv",
        rows("shared_threads.csv")[:n_held] + train_rows[:1],
    )
    return tmp_path, len(train_rows)


@pytest.mark.slow
def test_train_scores_the_heldout_set_and_never_trains_on_it(tmp_path):
    root, n_train = _project_with_heldout(tmp_path)
    res = run_cli("train", "--repeats", 1, "--json", cwd=root)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["n_labels"] == n_train  # the held-out file is not training data
    held = got["heldout"]
    assert held["n"] == 40 and held["n_also_trained"] == 1
    assert held["files"] == {
        "labels/heldout/held.csv": held["files"]["labels/heldout/held.csv"]
    }
    assert set(held["metrics"]) == {"embedding+tfidf", "tfidf+logreg", "majority"}
    m = held["metrics"]["embedding+tfidf"]
    assert m["n"] == 40 and 0 <= m["accuracy"] <= 1
    assert np.sum(m["confusion"]["matrix"]) == 40
    assert set(m["per_class"]) == {"favor", "against", "none"}
    cfg = json.loads((root / "models" / "default" / "config.json").read_text())
    assert cfg["heldout"] == held
    assert list(cfg["label_files"]) == ["labels/train.csv"]
    assert cfg["training"]["include_heldout"] is False
    card = (root / "models" / "default" / "README.md").read_text()
    assert "## Held-out test set (pages no model was trained on)" in card
    assert f"Accuracy: embedding+tfidf {m['accuracy']:.3f}" in card
    assert f"| embedding+tfidf | {m['macro_f1']:.3f} | {m['f_avg']:.3f} |" in card
    assert "40 labelled turns" in card and "1 held-out texts that are also" in card
    # selective labelling: the most confident 100/80/50% of the held-out turns
    cov = held["coverage"]
    assert [c["coverage"] for c in cov] == [1.0, 0.8, 0.5]
    assert [c["n"] for c in cov] == [40, 32, 20]
    assert cov[0]["accuracy"] == pytest.approx(m["accuracy"])
    assert (
        cov[0]["min_confidence"] <= cov[1]["min_confidence"] <= cov[2]["min_confidence"]
    )
    assert "## Selective labelling" in card
    for c, k in zip(cov, got["cv"]["embedding+tfidf"]["coverage"], strict=True):
        assert (
            f"| {c['coverage']:.0%} | {k['min_confidence']:.2f} | {k['accuracy']:.3f} "
            f"| {k['macro_f1']:.3f} | {c['min_confidence']:.2f} | {c['accuracy']:.3f} "
            f"| {c['macro_f1']:.3f} |"
        ) in card

    # asked to: the held-out labels are trained on, and no held-out score is given
    res = run_cli("train", "--repeats", 1, "--json", "--include-heldout", cwd=root)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["n_labels"] == n_train + 40
    assert got["heldout"] is None and got["include_heldout"] is True
    assert got["command"].endswith("--include-heldout")
    cfg = json.loads((root / "models" / "default" / "config.json").read_text())
    assert "heldout" not in cfg and cfg["training"]["include_heldout"] is True
    assert "labels/heldout/held.csv" in cfg["label_files"]
    card = (root / "models" / "default" / "README.md").read_text()
    assert "trained with `--include-heldout`" in card
    assert "Reproduce: `stance train --repeats 1 --include-heldout`" in card
