"""Metrics and grouped cross-validation, with baselines in the same folds."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from stance.core.progress import NO_PROGRESS

N_FOLDS = 5


def metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    classes: Sequence[str],
    sides: Sequence[str],
) -> dict:
    """Macro-F1, SemEval F_avg (mean F1 of the side labels), per class, confusion."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classes = list(classes)
    p, r, f, s = precision_recall_fscore_support(
        list(y_true), list(y_pred), labels=classes, zero_division=0
    )
    per_class = {
        c: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(classes)
    }
    side_f1 = [per_class[c]["f1"] for c in sides if c in per_class]
    return {
        "n": len(y_true),
        "macro_f1": float(np.mean(f)) if len(f) else 0.0,
        "f_avg": float(np.mean(side_f1)) if side_f1 else 0.0,
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
        if len(y_true)
        else 0.0,
        "per_class": per_class,
        "confusion": {
            "labels": classes,
            "matrix": confusion_matrix(
                list(y_true), list(y_pred), labels=classes
            ).tolist(),
        },
    }


# Selective labelling: the shares of turns, most confident first, that the model
# card scores (`stance label --min-confidence`).
COVERAGES = (1.0, 0.8, 0.5)


def coverage_scores(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidence: Sequence[float],
    classes: Sequence[str],
    sides: Sequence[str],
    coverages: Sequence[float] = COVERAGES,
) -> list[dict]:
    """Accuracy and macro-F1 on the most confident share of the turns.

    For each coverage: `n` turns kept (most confident first, ties in input
    order), `min_confidence` the confidence of the least sure turn kept (the
    `--min-confidence` that keeps about that share), `accuracy` and `macro_f1`
    on the kept turns.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    conf = np.asarray(confidence, dtype=float)
    order = np.argsort(-conf, kind="stable")
    out = []
    for c in coverages:
        kept = order[: max(1, int(round(c * len(order))))]
        m = metrics(y_true[kept], y_pred[kept], classes, sides)
        out.append(
            {
                "coverage": c,
                "n": len(kept),
                "min_confidence": float(conf[kept[-1]]),
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
            }
        )
    return out


def mean_coverage(runs: list[list[dict]]) -> list[dict]:
    """`coverage_scores` of several splits of the same rows, averaged."""
    return [
        {
            "coverage": rows[0]["coverage"],
            "n": rows[0]["n"],
            **{
                k: float(np.mean([r[k] for r in rows]))
                for k in ("min_confidence", "accuracy", "macro_f1")
            },
        }
        for rows in zip(*runs, strict=True)
    ]


def grouped_folds(groups: Sequence[str], n_folds: int = N_FOLDS, seed: int = 0):
    """(train, test) index pairs; no conversation is on both sides of a split."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    k = min(n_folds, len(set(groups)))
    if k < 2:
        raise ValueError("need labels from at least two conversations for grouped CV")
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    idx = np.arange(len(groups))
    return list(splitter.split(idx, idx, groups))


# A method is fitted on training indices and returns a predictor, which maps test
# indices to predicted labels, or to `Scored` labels when it can say how sure it
# is; fitting and predicting are timed apart.
class Scored(NamedTuple):
    labels: np.ndarray
    confidence: np.ndarray


Predictor = Callable[[np.ndarray], "np.ndarray | Scored"]
Method = Callable[[np.ndarray], Predictor]


def cross_validate(
    methods: dict[str, Method],
    y: Sequence[str],
    groups: Sequence[str],
    classes: Sequence[str],
    sides: Sequence[str],
    n_folds: int = N_FOLDS,
    seed: int = 0,
    repeats: int = 1,
    progress=None,
) -> dict[str, dict]:
    """Out-of-fold predictions of every method in the same grouped folds.

    With `repeats` > 1 the whole grouped CV runs again on other random splits
    (seeds `seed`, `seed + 1`, ...); scores are the mean over repeats, with their
    standard deviation in `macro_f1_sd` / `f_avg_sd`, and the confusion matrix is
    the sum. `oof_pred` are the out-of-fold predictions of the first split.
    A method whose predictor returns `Scored` also gets `coverage`
    (`coverage_scores` averaged over the splits).

    Each method's entry also has `fit_s` (mean seconds to fit on one training
    fold) and `predict_ms_per_turn` (prediction time on the test folds, given the
    features the caller precomputed, per turn).
    """
    y = np.asarray(y)
    splits = [grouped_folds(groups, n_folds, seed + r) for r in range(repeats)]
    task = (progress or NO_PROGRESS).task(
        "cross-validation",
        total=len(methods) * sum(len(f) for f in splits),
        unit="folds",
    )
    out = {}
    for name, method in methods.items():
        runs, first, coverage = [], None, []
        fit_s = predict_s = 0.0
        for folds in splits:
            pred = np.empty(len(y), dtype=object)
            conf = np.full(len(y), np.nan)
            for train, test in folds:
                t0 = time.perf_counter()
                predict = method(train)
                t1 = time.perf_counter()
                got = predict(test)
                if isinstance(got, Scored):
                    got, conf[test] = got
                pred[test] = got
                fit_s += t1 - t0
                predict_s += time.perf_counter() - t1
                task.advance()
            runs.append(metrics(y, pred.astype(str), classes, sides))
            first = pred.astype(str).tolist() if first is None else first
            if not np.isnan(conf).any():
                coverage.append(
                    coverage_scores(y, pred.astype(str), conf, classes, sides)
                )
        out[name] = mean_metrics(runs)
        if coverage:
            out[name]["coverage"] = mean_coverage(coverage)
        out[name]["fit_s"] = round(fit_s / sum(len(f) for f in splits), 3)
        out[name]["predict_ms_per_turn"] = round(
            1000 * predict_s / (len(y) * len(splits)), 4
        )
        out[name]["oof_pred"] = first
    return out


def mean_metrics(runs: list[dict]) -> dict:
    """The mean of several `metrics` results on the same rows (sd alongside)."""
    if len(runs) == 1:
        return {**runs[0], "repeats": 1, "macro_f1_sd": 0.0, "f_avg_sd": 0.0}
    out = dict(runs[0])
    for key in ("macro_f1", "f_avg", "accuracy"):
        values = [r[key] for r in runs]
        out[key] = float(np.mean(values))
        if key != "accuracy":
            out[key + "_sd"] = float(np.std(values, ddof=1))
    out["per_class"] = {
        c: {
            **{
                k: float(np.mean([r["per_class"][c][k] for r in runs]))
                for k in ("precision", "recall", "f1")
            },
            "support": first["support"],
        }
        for c, first in runs[0]["per_class"].items()
    }
    out["confusion"] = {
        "labels": runs[0]["confusion"]["labels"],
        "matrix": np.sum([r["confusion"]["matrix"] for r in runs], axis=0).tolist(),
    }
    out["repeats"] = len(runs)
    return out


def majority_method(y: np.ndarray) -> Method:
    def fit(train):
        values, counts = np.unique(y[train], return_counts=True)
        return lambda test: np.full(len(test), values[counts.argmax()])

    return fit


def tfidf_method(texts: Sequence[str], y: np.ndarray) -> Method:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from stance.model.heads import LEXICAL_C, TFIDF

    texts = np.asarray(texts, dtype=object)

    def fit(train):
        vec = TfidfVectorizer(**TFIDF)
        Xtr = vec.fit_transform(texts[train])
        lr = LogisticRegression(class_weight="balanced", max_iter=2000, C=LEXICAL_C)
        lr.fit(Xtr, y[train])
        return lambda test: lr.predict(vec.transform(texts[test]))

    return fit


# The C values grouped CV chooses from (embedding head).
C_GRID = (0.1, 0.3, 1.0, 4.0)


def choose_C(X: np.ndarray, y: np.ndarray, groups: np.ndarray, sides) -> float:
    """Pick the embedding head's C by grouped CV inside the given rows only
    (never the outer test fold).

    `GridSearchCV` over `estimators.StanceHead(calibrate=False)` and `C_GRID`,
    folds `GroupKFold(4)` by conversation (shuffled, seed 1). The score is the
    macro-F1 of the out-of-fold predictions pooled over the folds, not
    GridSearchCV's mean of per-fold scores: each fold's scorer returns its
    confusion matrix and `_pooled_best` scores their sum. Ties go to the first
    C of the grid (GridSearchCV's rule too). A training fold with one class
    predicts it for its test fold; with fewer than two conversations C is 1.0.
    """
    from sklearn.exceptions import FitFailedWarning
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from stance.model.estimators import StanceHead

    classes = sorted(set(y))
    k = min(4, len(set(groups)))
    if k < 2:
        return 1.0
    cv = GroupKFold(n_splits=k, shuffle=True, random_state=1)
    folds = list(cv.split(X, y, groups))
    # a fold whose training rows hold one class: no fit, that class predicted
    constant = {
        i: _confusion(y[te], np.full(len(te), y[tr][0]), classes)
        for i, (tr, te) in enumerate(folds)
        if len(set(y[tr])) < 2
    }
    if len(constant) == len(folds):
        return C_GRID[0]  # every C predicts the same
    search = GridSearchCV(
        StanceHead(calibrate=False),
        {"C": list(C_GRID)},
        scoring=lambda est, Xt, yt: _confusion(yt, est.predict(Xt), classes),
        cv=cv,
        refit=False,
        error_score=np.nan if constant else "raise",
    )
    with warnings.catch_warnings():  # the one-class folds' fits fail, as expected
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", "One or more of the test scores")
        search.fit(X, y, groups=groups)
    return C_GRID[
        _pooled_best(search.cv_results_, len(folds), constant, classes, sides)
    ]


def _confusion(y_true, y_pred, classes) -> dict[str, int]:
    """A fold's confusion matrix as GridSearchCV scores: `cm_<true>_<pred>`."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=classes)
    return {
        f"cm_{i}_{j}": int(cm[i, j])
        for i in range(len(classes))
        for j in range(len(classes))
    }


def _pooled_best(results: dict, n_folds: int, constant: dict, classes, sides) -> int:
    """The index of the candidate whose summed confusion matrix has the best
    macro-F1 (`metrics` on labels rebuilt from it); the first on ties."""
    n = len(classes)
    scores = []
    for c in range(len(results["params"])):
        cm = np.zeros((n, n), dtype=np.int64)
        for f in range(n_folds):
            fold = constant.get(f) or {
                key[len(f"split{f}_test_") :]: results[key][c]
                for key in results
                if key.startswith(f"split{f}_test_cm_")
            }
            for i in range(n):
                for j in range(n):
                    cm[i, j] += int(fold[f"cm_{i}_{j}"])
        true = np.repeat(np.arange(n), cm.sum(axis=1))
        pred = np.concatenate([np.repeat(np.arange(n), row) for row in cm])
        names = np.asarray(classes)
        scores.append(metrics(names[true], names[pred], classes, sides)["macro_f1"])
    return int(np.argmax(scores))  # the first of equal scores
