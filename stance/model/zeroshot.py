"""Zero-label start: score turns against the schema's label prototypes.

Each label's prototype is the mean embedding of its description (or, when the
schema has none, its name) and its example sentences, L2-normalised; a turn's
scores are a softmax over its cosine similarity to each prototype. Nothing is
learnt from labels, so the scores are provisional and uncalibrated: the output
is marked `zero-shot` in every row's `model` field and in the report.
"""

from __future__ import annotations

import numpy as np

from stance.core.schema import Schema
from stance.model.classify import StanceClassifier
from stance.model.heads import softmax

METHOD = "zero-shot"
# Cosine similarities of MiniLM embeddings differ by a few hundredths between
# prototypes; dividing by this spreads them into usable, still modest, scores.
TEMPERATURE = 0.05


class PrototypeHead:
    """Nearest-prototype head with the `StanceHead` prediction interface."""

    def __init__(self, temperature: float = TEMPERATURE):
        self.temperature_ = temperature

    def fit_prototypes(self, names, vectors_per_label) -> PrototypeHead:
        protos = np.stack(
            [np.asarray(v, dtype=np.float64).mean(axis=0) for v in vectors_per_label]
        )
        self.prototypes_ = protos / np.linalg.norm(protos, axis=1, keepdims=True)
        self.classes_ = np.array([str(n) for n in names])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.prototypes_.T

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(X) / self.temperature_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def prototype_texts(schema: Schema) -> list[list[str]]:
    """Per label, in schema order: its description (or name) and its examples."""
    return [[spec.description or spec.name, *spec.examples] for spec in schema.labels]


def zero_shot_head(schema: Schema, embed) -> PrototypeHead:
    """`embed` maps a list of texts to L2-normalised vectors."""
    groups = prototype_texts(schema)
    return PrototypeHead().fit_prototypes(schema.names, [embed(g) for g in groups])


def zero_shot_model(
    schema: Schema, backend: str = "onnx", embedder=None
) -> StanceClassifier:
    """A ready-to-use model built from the schema alone (no labels, no training)."""
    if embedder is None:
        from stance.model.embed import Embedder

        embedder = Embedder(backend)
    return StanceClassifier.from_heads(
        zero_shot_head(schema, lambda texts: embedder.embed(list(texts))),
        encoder_id=embedder.id,
        config={
            "training": {"method": METHOD},
            "schema": {
                "name": schema.name,
                "labels": list(schema.names),
                "sides": list(schema.sides),
            },
        },
        backend=backend,
        embedder=embedder,
    )


def zero_shot_method(X: np.ndarray, head: PrototypeHead):
    """A cross-validation method: nothing to fit, whatever the training fold."""

    def fit(train):
        return lambda test: head.predict(X[test])

    return fit
