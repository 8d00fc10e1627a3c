"""The heads as scikit-learn estimators: what training fits and searches.

`StanceHead` is logistic regression (balanced class weights) with temperature
scaling fitted on out-of-fold logits (grouped by conversation when groups are
given); `LexicalHead` is TF-IDF features of the raw texts (`heads.TFIDF`) and
a `StanceHead` on them. Both follow scikit-learn's contract (`__init__` stores
hyperparameters, `fit` returns self, learned state ends in `_`, columns of
`predict_proba` follow `classes_`, `NotFittedError` before fit), so `clone`,
`GridSearchCV` and `GroupKFold` take them. `to_head()` gives the fitted state
as the numpy-only head of `heads.py`, which the model folder saves and labelling
runs: this module, and scikit-learn, are imported for training only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from stance.model import heads
from stance.model.heads import LEXICAL_C, LinearHead, TfidfHead, fit_temperature


class StanceHead(ClassifierMixin, BaseEstimator):
    """Logistic regression (balanced class weights) + temperature calibration.

    Works on any feature matrix, dense or sparse; `StanceClassifier` feeds it
    embeddings. `fit(X, y, groups)`: the groups (conversations) only make the
    calibration folds; `GridSearchCV` passes them to its splitter, not here.
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

    def fit(self, X, y, groups: Sequence[str] | None = None):
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"need at least two classes to train, found one class: {classes[0]}"
            )
        lr = self._lr().fit(X, y)
        self.classes_ = lr.classes_
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

    def to_head(self) -> LinearHead:
        """The fitted state as plain arrays (what the model folder saves)."""
        check_is_fitted(self)
        return LinearHead(self.classes_, self.coef_, self.intercept_, self.temperature_)

    def _checked(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse="csr", dtype=np.float64, reset=False
        )

    def decision_function(self, X) -> np.ndarray:
        """Logits per class; for two classes, scikit-learn's one column (the
        second class's logit minus the first's)."""
        z = self.to_head().decision_function(self._checked(X))
        return z[:, 1] - z[:, 0] if len(self.classes_) == 2 else z

    def predict_proba(self, X) -> np.ndarray:
        return self.to_head().predict_proba(self._checked(X))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: NotFittedError before fit
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class LexicalHead(ClassifierMixin, BaseEstimator):
    """TF-IDF (`heads.TFIDF`: word 1-2 grams) + `StanceHead` on raw texts: the
    lexical half of the ensemble. `C` defaults to `heads.LEXICAL_C`."""

    def __init__(self, C: float = LEXICAL_C, calibrate: bool = True):
        self.C = C
        self.calibrate = calibrate

    def fit(self, texts: Sequence[str], y, groups=None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(**heads.TFIDF)
        X = vectorizer.fit_transform(list(texts))
        self.vocabulary_ = {t: int(i) for t, i in vectorizer.vocabulary_.items()}
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.head_ = StanceHead(C=self.C, calibrate=self.calibrate).fit(X, y, groups)
        self.classes_ = self.head_.classes_
        return self

    def to_head(self) -> TfidfHead:
        """The fitted state as plain data (what the model folder saves)."""
        check_is_fitted(self)
        return TfidfHead(self.vocabulary_, self.idf_, self.head_.to_head())

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.to_head().predict_proba(texts)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)  # first: NotFittedError before fit
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
