"""Metrics and grouped cross-validation, with baselines in the same folds."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

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


# A method maps (train indices, test indices) to predicted labels for the test rows.
Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def cross_validate(
    methods: dict[str, Method],
    y: Sequence[str],
    groups: Sequence[str],
    classes: Sequence[str],
    sides: Sequence[str],
    n_folds: int = N_FOLDS,
    seed: int = 0,
) -> dict[str, dict]:
    """Out-of-fold predictions of every method in the same grouped folds."""
    y = np.asarray(y)
    folds = grouped_folds(groups, n_folds, seed)
    out = {}
    for name, method in methods.items():
        pred = np.empty(len(y), dtype=object)
        for train, test in folds:
            pred[test] = method(train, test)
        out[name] = metrics(y, pred.astype(str), classes, sides)
        out[name]["oof_pred"] = pred.astype(str).tolist()
    return out


def majority_method(y: np.ndarray) -> Method:
    def run(train, test):
        values, counts = np.unique(y[train], return_counts=True)
        return np.full(len(test), values[counts.argmax()])

    return run


def tfidf_method(texts: Sequence[str], y: np.ndarray) -> Method:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = np.asarray(texts, dtype=object)

    def run(train, test):
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        Xtr = vec.fit_transform(texts[train])
        lr = LogisticRegression(class_weight="balanced", max_iter=2000, C=10.0)
        lr.fit(Xtr, y[train])
        return lr.predict(vec.transform(texts[test]))

    return run
