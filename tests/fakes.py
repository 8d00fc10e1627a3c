"""Test doubles shared by the model tests: a fake encoder and a tiny labelled set."""

import numpy as np

from stance.model.classify import StanceClassifier


class FakeEmbedder:
    """Plumbing-only test double: deterministic vectors from character counts."""

    id = "fake@test"

    def embed(self, texts):
        out = np.zeros((len(texts), 8))
        for i, t in enumerate(texts):
            for ch in t.lower():
                out[i, ord(ch) % 8] += 1
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)


TEXTS = [
    "aaaa bbb",
    "aaab bb",
    "abab aaa",
    "zzzz yyy",
    "zzzy yy",
    "zyzy zzz",
    "mmmm nnn",
    "mmmn nn",
    "mnmn mmm",
] * 3
Y = ["favor"] * 3 + ["against"] * 3 + ["none"] * 3
Y = Y * 3
GROUPS = [f"g{i % 5}" for i in range(len(TEXTS))]


def fitted():
    return StanceClassifier(embedder=FakeEmbedder()).fit(TEXTS, Y, GROUPS)
