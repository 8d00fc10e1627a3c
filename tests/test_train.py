"""Training: nested choices of the method, reading the model it replaces."""

import json

import numpy as np
import pytest
from conftest import ROOT, run_cli
from test_classify import GROUPS, TEXTS, FakeEmbedder, Y

from stance.train import (
    LEXICAL_WEIGHTS,
    _previous_metrics,
    choose_lexical_weight,
    fit_default,
)


def test_the_lexical_weight_comes_from_the_grid_and_the_training_rows_only():
    X = FakeEmbedder().embed(TEXTS)
    texts = np.array(TEXTS, dtype=object)
    y, groups = np.array(Y), np.array(GROUPS)
    w = choose_lexical_weight(texts, X, y, groups, 1.0, ["favor", "against"])
    assert w in LEXICAL_WEIGHTS
    m = fit_default(texts, X, y, groups, ["favor", "against"], FakeEmbedder())
    assert m.lexical_weight in LEXICAL_WEIGHTS
    assert np.allclose(m.predict_proba(TEXTS).sum(axis=1), 1)


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
    shipped = json.loads((ROOT / "models" / "default" / "config.json").read_text())
    res = run_cli(
        "train",
        "--threads",
        "seeds",
        "--threads",
        "seeds/threads",
        "-o",
        tmp_path / "model",
        "--json",
    )
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
