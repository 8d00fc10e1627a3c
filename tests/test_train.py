"""Training: nested choices of the method, reading the model it replaces."""

import numpy as np
import pytest
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
    }
    (tmp_path / "config.json").write_text(
        '{"metrics": {"embedding+logreg": {"macro_f1": 0.5, "f_avg": 0.4}}}'
    )
    assert _previous_metrics(tmp_path)["macro_f1"] == 0.5
