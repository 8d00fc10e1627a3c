"""The fitted heads as plain arrays, numpy only: what labelling runs.

`LinearHead` (logits, softmax at a temperature) is the embedding head, and
inside `TfidfHead` the TF-IDF one. They are learnt by the scikit-learn
estimators of `estimators.py` (training only), and read from the model folder
by `persist.py`; labelling never imports scikit-learn. `TFIDF` is the one
definition of the TF-IDF features: training (scikit-learn's vectorizer) and
labelling (`tfidf_rows`) both read it."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


class NotFittedError(ValueError):
    """predict was called before fit."""


class Params:
    """scikit-learn's parameter protocol (`get_params`, `set_params`), so `clone`
    and model selection take `StanceClassifier`, which labelling loads, without
    importing scikit-learn (1.5 s); the heads themselves subclass BaseEstimator
    (`estimators.py`). Hyperparameters are `__init__`'s
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


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `y`."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    best_t, best_nll = 1.0, np.inf
    for t in grid:
        p = softmax(logits / t)
        nll = -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _matrix(X):
    """Dense float64 array, or a sparse matrix kept sparse (TF-IDF features)."""
    if hasattr(X, "tocsr"):  # scipy.sparse, not imported: labelling never needs it
        return X.tocsr().astype(np.float64)
    return np.asarray(X, dtype=np.float64)


class LinearHead:
    """A fitted linear head as plain arrays: logits `X @ coef_.T + intercept_`,
    probabilities their softmax at `temperature_`; columns follow `classes_`.

    What the model folder holds and labelling runs, numpy only. Learnt by
    `estimators.StanceHead` (`to_head`), or read back by `persist.py`.
    """

    def __init__(self, classes, coef, intercept, temperature: float = 1.0):
        self.classes_ = np.asarray(classes)
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        self.temperature_ = float(temperature)

    def decision_function(self, X) -> np.ndarray:
        """One logit per class (two columns for two classes)."""
        X = _matrix(X)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise ValueError(f"expected {self.coef_.shape[1]} features per row")
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self.decision_function(X) / self.temperature_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


# The TF-IDF features, in TfidfVectorizer's terms: the one definition. Training
# fits TfidfVectorizer(**TFIDF); labelling computes the same vectors with
# `tfidf_rows`, which reads these settings (and refuses any it does not know).
TFIDF = {"ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True}
TFIDF_KEYS = frozenset({"ngram_range", "sublinear_tf", "lowercase"})

# The lexical head's C (inverse regularisation): a hyperparameter with this
# default, not searched. Grouped CV chooses the embedding head's C and the
# ensemble weight; choosing this one too would change the shipped model.
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


class TfidfHead:
    """A fitted TF-IDF head as plain data: the vocabulary (term -> column), the
    idf weights and a `LinearHead` on the TF-IDF vectors.

    Predicts with `tfidf_rows`, so labelling never imports scikit-learn (1.5 s).
    Learnt by `estimators.LexicalHead` (`to_head`); saved by `persist.py` as a
    JSON list of terms (index order) and arrays, rebuilt without unpickling.
    """

    def __init__(self, vocabulary: dict[str, int], idf, head: LinearHead):
        self.vocabulary_ = {str(t): int(i) for t, i in vocabulary.items()}
        self.idf_ = np.asarray(idf, dtype=np.float64)
        self.head_ = head
        self.classes_ = head.classes_

    @classmethod
    def from_terms(cls, terms: Sequence[str], idf, head: LinearHead) -> TfidfHead:
        """From the terms in column order (`vocab.json`)."""
        return cls({t: i for i, t in enumerate(terms)}, idf, head)

    def terms(self) -> list[str]:
        """The vocabulary in column order."""
        terms = [""] * len(self.vocabulary_)
        for term, i in self.vocabulary_.items():
            terms[i] = term
        return terms

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """One logit per class for each text."""
        head = self.head_
        logits = np.tile(head.intercept_, (len(texts), 1))
        for k, (idx, values) in enumerate(
            tfidf_rows(texts, self.vocabulary_, self.idf_)
        ):
            logits[k] += head.coef_[:, idx] @ values
        return logits

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.decision_function(texts) / self.head_.temperature_)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]
