"""Grouped cross-validation: folds by conversation, repeats, timing, metrics."""

import time

import numpy as np
import pytest

from stance.model.evaluate import (
    Scored,
    coverage_scores,
    cross_validate,
    grouped_folds,
    majority_method,
    mean_metrics,
    metrics,
)

CLASSES, SIDES = ["favor", "against", "none"], ["favor", "against"]
GROUPS = np.array([f"c{i // 4}" for i in range(40)])  # 10 conversations of 4
Y = np.array(["favor", "against", "none", "none"] * 10)


def test_no_conversation_is_on_both_sides_of_any_split():
    for seed in range(3):
        folds = grouped_folds(GROUPS, seed=seed)
        assert len(folds) == 5
        seen = np.concatenate([test for _, test in folds])
        assert sorted(seen) == list(range(len(GROUPS)))
        for train, test in folds:
            assert not set(GROUPS[train]) & set(GROUPS[test])


def test_f_avg_is_the_mean_f1_of_the_side_labels_only():
    y_true = ["favor", "favor", "against", "none", "none"]
    y_pred = ["favor", "none", "against", "none", "favor"]
    m = metrics(y_true, y_pred, CLASSES, SIDES)
    f1 = {c: m["per_class"][c]["f1"] for c in CLASSES}
    assert m["f_avg"] == pytest.approx((f1["favor"] + f1["against"]) / 2)
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert f1["against"] == 1.0 and f1["favor"] == pytest.approx(0.5)


def test_a_method_is_fitted_on_training_rows_and_predicts_test_rows():
    calls = []

    def fit(train):
        calls.append(("fit", set(GROUPS[train])))

        def predict(test):
            calls.append(("predict", set(GROUPS[test])))
            return Y[test]  # an oracle: perfect scores

        return predict

    cv = cross_validate({"oracle": fit}, Y, GROUPS, CLASSES, SIDES)
    assert cv["oracle"]["macro_f1"] == 1.0
    assert cv["oracle"]["oof_pred"] == Y.tolist()
    fits = [g for kind, g in calls if kind == "fit"]
    tests = [g for kind, g in calls if kind == "predict"]
    assert len(fits) == len(tests) == 5
    for trained, tested in zip(fits, tests, strict=True):
        assert not trained & tested


def test_fit_and_predict_are_timed_apart():
    def slow_fit(train):
        time.sleep(0.05)
        return lambda test: np.full(len(test), "none")

    def slow_predict(train):
        def predict(test):
            time.sleep(0.002 * len(test))
            return np.full(len(test), "none")

        return predict

    cv = cross_validate(
        {"slow fit": slow_fit, "slow predict": slow_predict}, Y, GROUPS, CLASSES, SIDES
    )
    assert cv["slow fit"]["fit_s"] >= 0.05
    assert cv["slow fit"]["predict_ms_per_turn"] < 1
    assert cv["slow predict"]["fit_s"] < 0.05
    assert cv["slow predict"]["predict_ms_per_turn"] >= 2


def test_repeats_average_the_scores_of_other_random_splits():
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(Y)) < 0.4, "none", Y)

    def memorise(train):
        # right on a row whose conversation number is even, wrong on some
        # others: each row gets the same prediction whatever fold it is in, so
        # every split scores the same and the sd over repeats is 0
        return lambda test: np.array(
            [Y[i] if int(GROUPS[i][1:]) % 2 == 0 else noisy[i] for i in test]
        )

    def seeded(train):
        # a prediction that depends on which rows share the test fold
        return lambda test: np.random.default_rng(int(test.sum())).choice(
            CLASSES, len(test)
        )

    one = [
        cross_validate({"m": seeded}, Y, GROUPS, CLASSES, SIDES, seed=s)["m"]
        for s in range(3)
    ]
    three = cross_validate({"m": seeded}, Y, GROUPS, CLASSES, SIDES, repeats=3)["m"]
    assert three["repeats"] == 3
    # the three random splits put other conversations together in test folds
    folds = [
        {frozenset(GROUPS[test]) for _, test in grouped_folds(GROUPS, seed=s)}
        for s in range(3)
    ]
    assert folds[0] != folds[1] and folds[1] != folds[2] and folds[0] != folds[2]
    # so a method whose predictions depend on the fold scores differently
    assert len({m["macro_f1"] for m in one}) == 3
    assert three["macro_f1"] == pytest.approx(np.mean([m["macro_f1"] for m in one]))
    assert three["macro_f1_sd"] == pytest.approx(
        np.std([m["macro_f1"] for m in one], ddof=1)
    )
    assert np.sum(three["confusion"]["matrix"]) == 3 * len(Y)
    assert three["oof_pred"] == one[0]["oof_pred"]
    fixed = cross_validate({"m": memorise}, Y, GROUPS, CLASSES, SIDES, repeats=3)
    assert fixed["m"]["macro_f1_sd"] == pytest.approx(0.0)
    assert fixed["m"]["macro_f1"] < 1.0  # not trivially perfect


def test_mean_of_one_run_is_that_run():
    rows = np.arange(len(Y))
    m = metrics(Y, majority_method(Y)(rows)(rows), CLASSES, SIDES)
    assert m["per_class"]["none"]["recall"] == 1.0
    assert mean_metrics([m]) == {
        **m,
        "repeats": 1,
        "macro_f1_sd": 0.0,
        "f_avg_sd": 0.0,
    }


def test_coverage_keeps_the_most_confident_turns_and_scores_them():
    y_true = ["favor", "against", "none", "none", "favor", "against"]
    y_pred = ["favor", "against", "none", "favor", "none", "none"]
    confidence = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3]
    full, most, half = coverage_scores(y_true, y_pred, confidence, CLASSES, SIDES)
    assert (full["n"], most["n"], half["n"]) == (6, 5, 3)
    assert full["accuracy"] == pytest.approx(3 / 6) and full["min_confidence"] == 0.3
    assert most["accuracy"] == pytest.approx(3 / 5) and most["min_confidence"] == 0.4
    # the three surest turns are all right: what --min-confidence 0.7 would keep
    assert half == {
        "coverage": 0.5,
        "n": 3,
        "min_confidence": 0.7,
        "accuracy": 1.0,
        "macro_f1": 1.0,
    }


def test_a_method_that_says_how_sure_it_is_gets_coverage_scores():
    def fit(train):
        def predict(test):
            # right where sure, wrong (always "none") where unsure
            sure = np.arange(len(Y))[test] % 2 == 0
            labels = np.where(sure, Y[test], "none")
            return Scored(labels, np.where(sure, 0.9, 0.4))

        return predict

    cv = cross_validate(
        {"hedger": fit, "plain": lambda tr: lambda te: Y[te]},
        Y,
        GROUPS,
        CLASSES,
        SIDES,
        repeats=2,
    )
    assert "coverage" not in cv["plain"]
    full, _, half = cv["hedger"]["coverage"]
    assert full["accuracy"] == pytest.approx(cv["hedger"]["accuracy"])
    assert half["accuracy"] == 1.0 and half["min_confidence"] == 0.9
