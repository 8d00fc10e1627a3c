"""The heads: scikit-learn-style estimators on top of the body.

`StanceHead` is logistic regression on embeddings with temperature scaling
fitted on out-of-fold logits (grouped by conversation when groups are given);
`LexicalHead` is the same on TF-IDF features of the raw texts. `TFIDF` is the
one definition of the TF-IDF features: training (scikit-learn's vectorizer)
and labelling (`tfidf_rows`, numpy only) both read it."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


class NotFittedError(ValueError):
    """predict was called before fit."""


class Params:
    """scikit-learn's parameter protocol (`get_params`, `set_params`), so `clone`
    and model selection take these estimators, without importing scikit-learn:
    labelling never imports it (1.5 s). Hyperparameters are `__init__`'s
    arguments, stored under their own names and never changed by the estimator.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `y`."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    best_t, best_nll = 1.0, np.inf
    for t in grid:
        p = _softmax(logits / t)
        nll = -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _matrix(X):
    """Dense float64 array, or a sparse matrix kept sparse (TF-IDF features)."""
    from scipy import sparse

    if sparse.issparse(X):
        return X.tocsr().astype(np.float64)
    return np.asarray(X, dtype=np.float64)


class StanceHead(Params):
    """Logistic regression (balanced class weights) + temperature calibration.

    Works on any feature matrix; `StanceClassifier` feeds it embeddings.
    """

    def __init__(self, C: float = 1.0, calibrate: bool = True, random_state: int = 0):
        self.C = C
        self.calibrate = calibrate
        self.random_state = random_state

    def _lr(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.C,
            class_weight="balanced",
            max_iter=2000,
            random_state=self.random_state,
        )

    def fit(self, X: np.ndarray, y: Sequence[str], groups: Sequence[str] | None = None):
        X = _matrix(X)
        y = np.asarray([str(v) for v in y])
        if X.ndim != 2 or X.shape[0] != len(y):
            raise ValueError("X must be 2-D with one row per label")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError("need at least two classes to train")
        lr = self._lr().fit(X, y)
        self.classes_ = np.array([str(c) for c in lr.classes_])
        self.coef_ = lr.coef_.astype(np.float64)
        self.intercept_ = lr.intercept_.astype(np.float64)
        if len(self.classes_) == 2:  # keep one row per class, as for multinomial
            self.coef_ = np.vstack([-self.coef_[0] / 2, self.coef_[0] / 2])
            self.intercept_ = np.array(
                [-self.intercept_[0] / 2, self.intercept_[0] / 2]
            )
        self.temperature_ = 1.0
        if self.calibrate:
            oof = self._oof_logits(X, y, groups)
            if oof is not None:
                idx = np.searchsorted(self.classes_, y)
                self.temperature_ = fit_temperature(oof, idx)
        return self

    def _oof_logits(self, X, y, groups) -> np.ndarray | None:
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        counts = np.unique(y, return_counts=True)[1]
        if counts.min() < 2:
            return None
        if groups is not None and len(set(groups)) >= 3:
            splitter = GroupKFold(n_splits=min(5, len(set(groups))))
            splits = splitter.split(X, y, groups)
        else:
            splitter = StratifiedKFold(
                n_splits=min(5, int(counts.min())),
                shuffle=True,
                random_state=self.random_state,
            )
            splits = splitter.split(X, y)
        logits = np.zeros((len(y), len(self.classes_)))
        for train, test in splits:
            if len(np.unique(y[train])) != len(self.classes_):
                return None
            lr = self._lr().fit(X[train], y[train])
            z = lr.decision_function(X[test])
            if z.ndim == 1:
                z = np.column_stack([-z / 2, z / 2])
            logits[test] = z
        return logits

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this model is not fitted yet: call fit first")

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        self._check()
        X = _matrix(X)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise ValueError(f"expected {self.coef_.shape[1]} features per row")
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _softmax(self.decision_function(X) / self.temperature_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


# The TF-IDF features, in TfidfVectorizer's terms: the one definition. Training
# fits TfidfVectorizer(**TFIDF); labelling computes the same vectors with
# `tfidf_rows`, which reads these settings (and refuses any it does not know).
TFIDF = {"ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True}
TFIDF_KEYS = frozenset({"ngram_range", "sublinear_tf", "lowercase"})

LEXICAL_C = 10.0

# scikit-learn's default token pattern; `tfidf_rows` reproduces TfidfVectorizer
# (tokens, n-grams, tf, idf, l2) without importing it.
TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tfidf_rows(texts: Sequence[str], vocabulary: dict[str, int], idf: np.ndarray):
    """Each text's TF-IDF vector as (column indices, values); equals
    TfidfVectorizer(**TFIDF)'s."""
    from collections import Counter

    unknown = set(TFIDF) - TFIDF_KEYS
    if unknown:
        raise ValueError(f"tfidf_rows cannot compute TF-IDF setting(s) {unknown}")
    low, high = TFIDF["ngram_range"]
    rows = []
    for doc in texts:
        tokens = TOKEN.findall(doc.lower() if TFIDF.get("lowercase", True) else doc)
        grams = [
            " ".join(tokens[i : i + n])
            for n in range(low, high + 1)
            for i in range(len(tokens) - n + 1)
        ]
        counts = Counter(vocabulary[g] for g in grams if g in vocabulary)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if TFIDF.get("sublinear_tf", False):
            tf = 1.0 + np.log(tf)
        values = tf * idf[idx]
        norm = np.linalg.norm(values)
        rows.append((idx, values / norm if norm > 0 else values))
    return rows


class LexicalHead(Params):
    """TF-IDF (word 1-2 grams) + `StanceHead`: the lexical half of the ensemble.

    Fitted with scikit-learn's TfidfVectorizer; predicts with `tfidf_rows`, so
    labelling never imports scikit-learn (1.5 s). Saved as plain data: the
    vocabulary (a JSON list, index order), the idf weights and the head's
    arrays; rebuilt without unpickling anything.
    """

    def __init__(self, C: float = LEXICAL_C, calibrate: bool = True):
        self.C = C
        self.calibrate = calibrate

    def fit(self, texts: Sequence[str], y, groups=None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(**TFIDF)
        X = vectorizer.fit_transform(list(texts))
        self.vocabulary_ = {t: int(i) for t, i in vectorizer.vocabulary_.items()}
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.head_ = StanceHead(C=self.C, calibrate=self.calibrate).fit(X, y, groups)
        self.classes_ = self.head_.classes_
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        head = self.head_
        logits = np.tile(head.intercept_, (len(texts), 1))
        for k, (idx, values) in enumerate(
            tfidf_rows(texts, self.vocabulary_, self.idf_)
        ):
            logits[k] += head.coef_[:, idx] @ values
        return _softmax(logits / head.temperature_)

    def vocabulary(self) -> list[str]:
        terms = [""] * len(self.vocabulary_)
        for term, i in self.vocabulary_.items():
            terms[i] = term
        return terms

    @classmethod
    def from_arrays(cls, vocabulary: list[str], idf, head: StanceHead, C: float):
        self = cls(C=C)
        self.vocabulary_ = {t: i for i, t in enumerate(vocabulary)}
        self.idf_ = np.asarray(idf, dtype=np.float64)
        self.head_ = head
        self.classes_ = head.classes_
        return self
