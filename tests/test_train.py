"""Nested choices of the training method (plumbing, with a test-double body)."""

import numpy as np
from test_classify import GROUPS, TEXTS, FakeEmbedder, Y

from stance.train import LEXICAL_WEIGHTS, choose_lexical_weight, fit_default


def test_the_lexical_weight_comes_from_the_grid_and_the_training_rows_only():
    X = FakeEmbedder().embed(TEXTS)
    texts = np.array(TEXTS, dtype=object)
    y, groups = np.array(Y), np.array(GROUPS)
    w = choose_lexical_weight(texts, X, y, groups, 1.0, ["favor", "against"])
    assert w in LEXICAL_WEIGHTS
    m = fit_default(texts, X, y, groups, ["favor", "against"], FakeEmbedder())
    assert m.lexical_weight in LEXICAL_WEIGHTS
    assert np.allclose(m.predict_proba(TEXTS).sum(axis=1), 1)
