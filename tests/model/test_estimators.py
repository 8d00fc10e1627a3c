"""The heads are scikit-learn estimators; the C search is GridSearchCV's."""

import numpy as np
import pytest
from fakes import GROUPS, TEXTS, FakeEmbedder, Y
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from stance.model.estimators import LexicalHead, StanceHead
from stance.model.evaluate import C_GRID, choose_C, metrics

SIDES = ["favor", "against"]


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Hundreds of tiny fits: threads contending for the cores only slow them."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_the_embedding_head_passes_scikit_learns_estimator_checks():
    results = estimator_checks.check_estimator(StanceHead(), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert len(results) > 40 and failed == []


# scikit-learn's checks that do not feed the estimator a numeric matrix: the
# lexical head reads raw texts, so the others do not apply to it (its fit and
# predict are checked on texts below).
TEXT_FREE_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_estimators_unfitted",
    "check_valid_tag_types",
]


@pytest.mark.parametrize("check", TEXT_FREE_CHECKS)
def test_the_lexical_head_passes_the_checks_that_take_no_matrix(check):
    getattr(estimator_checks, check)("LexicalHead", LexicalHead())


@pytest.mark.parametrize(
    "make, X",
    [
        (lambda: StanceHead(C=0.5), FakeEmbedder().embed(TEXTS)),
        (lambda: LexicalHead(C=3.0), TEXTS),
    ],
)
def test_fit_returns_self_and_columns_follow_classes(make, X):
    head = make()
    with pytest.raises(NotFittedError):
        head.predict_proba(X)
    assert head.fit(X, Y, GROUPS) is head
    assert list(head.classes_) == ["against", "favor", "none"]
    p = head.predict_proba(X)
    assert p.shape == (len(Y), 3) and np.allclose(p.sum(axis=1), 1)
    y = np.array(Y)
    for k, c in enumerate(head.classes_):
        assert p[y == c, k].mean() > p[y != c, k].mean(), c
    # the numpy-only head that labelling runs gives the same probabilities
    assert np.array_equal(head.to_head().predict_proba(X), p)
    copy = clone(head)
    assert copy.get_params() == head.get_params() and not hasattr(copy, "classes_")


def pooled_search(X, y, groups):
    """The rule, written out (the search choose_C was before GridSearchCV): for
    each C of the grid, the macro-F1 of the out-of-fold predictions of all the
    grouped folds together; the first best."""
    from sklearn.model_selection import GroupKFold

    folds = GroupKFold(n_splits=4, shuffle=True, random_state=1).split(X, y, groups)
    folds = list(folds)
    classes = sorted(set(y))
    scores = []
    for C in C_GRID:
        pred = np.empty(len(y), dtype=object)
        for tr, te in folds:
            if len(set(y[tr])) < 2:  # nothing to fit: the one class
                pred[te] = y[tr][0]
                continue
            head = StanceHead(C=C, calibrate=False).fit(X[tr], y[tr])
            pred[te] = head.predict(X[te])
        scores.append(metrics(y, pred.astype(str), classes, SIDES)["macro_f1"])
    return C_GRID[int(np.argmax(scores))], scores


@pytest.mark.parametrize("seed", range(6))
def test_choose_C_scores_the_pooled_out_of_fold_predictions(seed):
    """GridSearchCV averages per-fold scores; choose_C keeps the pooled rule."""
    rng = np.random.default_rng(seed)
    n = 120
    y = rng.choice(["favor", "against", "none"], n)
    centres = {"favor": 0.0, "against": 0.35, "none": 0.7}
    X = rng.normal(size=(n, 6)) + np.array([[centres[v]] * 6 for v in y])
    groups = np.array([f"c{i}" for i in rng.integers(0, 12, n)])
    want, scores = pooled_search(X, y, groups)
    assert choose_C(X, y, groups, SIDES) == want
    assert len(set(scores)) > 1  # a choice was made, not a tie


def test_choose_C_with_one_conversation_is_the_default():
    X = FakeEmbedder().embed(TEXTS)
    assert choose_C(X, np.array(Y), np.array(["c"] * len(Y)), SIDES) == 1.0


def test_a_training_fold_of_one_class_predicts_that_class():
    """No fit on one class: the fold predicts it, for every C alike."""
    X = FakeEmbedder().embed(TEXTS * 2)
    y = np.array(Y * 2)
    # one conversation holds every 'favor' and 'against' label: the training
    # folds without it see 'none' only
    groups = np.where(y == "none", [f"n{i % 6}" for i in range(len(y))], "sides")
    want, scores = pooled_search(X, y, groups)
    assert choose_C(X, y, groups, SIDES) == want
