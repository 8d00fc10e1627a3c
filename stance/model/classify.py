"""The estimator: encoder body + heads, saved as plain arrays.

Follows the scikit-learn contract: `__init__` stores hyperparameters, `fit`
returns self and sets `classes_`, `head_` (and `lexical_`), the fitted heads as
plain arrays (`heads.LinearHead`, `heads.TfidfHead`) learnt by the estimators
of `estimators.py`; `predict_proba` columns follow `classes_`. A model made
otherwise (a loaded folder, zero-shot prototypes) comes from `from_heads`. Probabilities are calibrated by
temperature scaling fitted on out-of-fold logits (grouped by conversation when
groups are given). `save`/`load` write and read the model directory
(`persist.py`): JSON and arrays, every file's sha256 checked, nothing unpickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance.model.heads import LEXICAL_C, NotFittedError, Params
from stance.model.persist import load_classifier, save_classifier


class StanceClassifier(Params):
    """Body (sentence embeddings, cached) + head; fit/predict on raw texts.

    With `lexical_weight` > 0 the calibrated probabilities of the embedding head
    are averaged with those of a TF-IDF head (`estimators.LexicalHead`, its C
    `lexical_C`), weights 1 - lexical_weight and lexical_weight: a soft-voting
    ensemble. Its parameter protocol is `heads.Params`, not scikit-learn's
    BaseEstimator: a loaded model labels without importing scikit-learn.
    """

    def __init__(
        self,
        backend: str = "onnx",
        C: float = 1.0,
        calibrate: bool = True,
        embedder=None,
        lexical_weight: float = 0.0,
        lexical_C: float = LEXICAL_C,
    ):
        self.backend = backend
        self.C = C
        self.calibrate = calibrate
        self.embedder = embedder
        self.lexical_weight = lexical_weight
        self.lexical_C = lexical_C

    @classmethod
    def from_heads(
        cls,
        head,
        *,
        lexical=None,
        encoder_id: str | None = None,
        config: dict | None = None,
        **params,
    ) -> StanceClassifier:
        """A fitted model from heads made without `fit`: a model folder's
        (`persist.py`) or the schema's prototypes (`zeroshot.py`).

        `head` maps embeddings to probabilities (`predict_proba`, `classes_`),
        `lexical` texts (with `lexical_weight` > 0); `params` are `__init__`'s.
        `encoder_id` defaults to the body's; `config` becomes `config_`.
        """
        model = cls(**params)
        model.head_ = head
        model.classes_ = head.classes_
        if lexical is not None:
            model.lexical_ = lexical
        model.encoder_id_ = model._embedder().id if encoder_id is None else encoder_id
        if config is not None:
            model.config_ = config
        return model

    def _embedder(self):
        """The body: `embedder` if given, else one Embedder made on first use.

        Kept beside the hyperparameters, never in `embedder`, so `get_params` and
        scikit-learn's `clone` see the value the model was made with.
        """
        if self.embedder is not None:
            return self.embedder
        if getattr(self, "_default_embedder", None) is None:
            from stance.model.embed import Embedder

            self._default_embedder = Embedder(self.backend)
        return self._default_embedder

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """The body's output: one L2-normalised sentence embedding per text."""
        return self._embedder().embed(list(texts))

    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        groups: Sequence[str] | None = None,
        X: np.ndarray | None = None,
    ):
        """Fit on texts; pass `X` (their embeddings) to skip the body."""
        from stance.model.estimators import LexicalHead, StanceHead

        X = self.features(texts) if X is None else X
        head = StanceHead(C=self.C, calibrate=self.calibrate).fit(X, y, groups)
        self.head_ = head.to_head()
        self.classes_ = self.head_.classes_
        if self.lexical_weight > 0:
            lexical = LexicalHead(C=self.lexical_C).fit(texts, y, groups)
            self.lexical_ = lexical.to_head()
        self.encoder_id_ = self._embedder().id
        return self

    def _check(self) -> None:
        if not hasattr(self, "head_"):
            raise NotFittedError("this model is not fitted yet: call fit first")

    def proba_from(self, texts: Sequence[str], X: np.ndarray) -> np.ndarray:
        """Probabilities for texts whose embeddings `X` are already computed."""
        self._check()
        proba = self.head_.predict_proba(X)
        lexical = getattr(self, "lexical_", None)
        if lexical is not None and self.lexical_weight > 0 and len(texts):
            w = self.lexical_weight
            proba = (1 - w) * proba + w * lexical.predict_proba(texts)
        return proba

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self._check()
        if not len(texts):
            return np.zeros((0, len(self.classes_)))
        return self.proba_from(texts, self.features(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)]

    # ------------------------------------------------------------ save / load

    def save(
        self, directory: str | Path, *, extra_config: dict | None = None, card: str = ""
    ) -> Path:
        """Write the model directory as a whole (see `persist.save_classifier`)."""
        self._check()
        return save_classifier(self, directory, extra_config=extra_config, card=card)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        embedder=None,
        check_encoder: bool = True,
        trust_unsigned: bool = False,
    ):
        """Load a model directory (see `persist.load_classifier`)."""
        return load_classifier(
            cls,
            directory,
            embedder=embedder,
            check_encoder=check_encoder,
            trust_unsigned=trust_unsigned,
        )
