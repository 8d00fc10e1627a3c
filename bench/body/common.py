"""Shared evaluation: our labels, frozen-MiniLM features, baselines, grouped CV as in
stance/model/train.py (3 random grouped 5-fold splits, seeds 0..2, mean ± sd); every variant is
scored in the same folds as TF-IDF, frozen MiniLM + LR (nested C) and the default."""

import json
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
ROOT = Path(__file__).resolve().parents[2]  # the checkout
# Work files (data, bodies, caches): BODY_WORK, default bench/results/body (git-ignored).
EXP = Path(os.environ.get("BODY_WORK", ROOT / "bench" / "results" / "body"))
os.environ.setdefault("STANCE_CACHE", str(EXP / "cache" / "stance"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

CACHE = EXP / "cache"
CACHE.mkdir(parents=True, exist_ok=True)
REPEATS = 3


def load():
    from stance.core.schema import read_schema
    from stance.labelling.labels import label_files, label_groups, load_labels

    schema = read_schema(ROOT / "labels" / "schema.toml")
    labels = load_labels(label_files(None, ROOT / "labels"), schema.names)
    texts = np.array([lab.text for lab in labels], dtype=object)
    y = np.array([lab.stance for lab in labels])
    groups = np.array(label_groups(labels))
    return schema, labels, texts, y, groups


def frozen_X(texts):
    """Frozen packaged MiniLM (the project's onnx backend, same vectors as torch)."""
    f = CACHE / "minilm_turns.npy"
    if f.is_file():
        X = np.load(f)
        if len(X) == len(texts):
            return X
    from stance.model.classify import StanceClassifier

    X = StanceClassifier(backend="onnx").features(list(texts)).astype(np.float64)
    np.save(f, X)
    return X


def st_encode(model_dir, texts, max_len=256, batch=16, prefix=None):
    """Encode with a sentence-transformers body (1 torch thread), L2-normalised."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    m = SentenceTransformer(str(model_dir), device="cpu")
    m.max_seq_length = max_len
    t = [f"{prefix} [SEP] {x}" for x in texts] if prefix else list(texts)
    return m.encode(
        t,
        batch_size=batch,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float64)


def cold_ms_per_turn(model_dir, texts, n=64, prefix=None):
    """ms to encode one label turn with no cache (torch, 1 thread), timed on n turns."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    m = SentenceTransformer(str(model_dir), device="cpu")
    m.max_seq_length = 256
    sample = list(texts[:: max(1, len(texts) // n)][:n])
    if prefix:
        sample = [f"{prefix} [SEP] {x}" for x in sample]
    m.encode(sample[:2])
    t0 = time.perf_counter()
    m.encode(sample, batch_size=16)
    return 1000 * (time.perf_counter() - t0) / len(sample)


def baselines(texts, X, y, groups, sides):
    from stance.model.evaluate import tfidf_method
    from stance.model.train import default_method, nested_head_method

    return {
        "tfidf+logreg": tfidf_method(texts, y),
        "minilm+logreg (frozen, nested C)": nested_head_method(X, y, groups, sides),
        "embedding+tfidf (default)": default_method(texts, X, y, groups, sides, None),
    }


def run(methods, y, groups, schema, name, encode_ms=None):
    """cross_validate all methods in the same folds; write results/<name>.json + md."""
    from threadpoolctl import threadpool_limits

    from stance.model.evaluate import cross_validate

    classes = [c for c in schema.names if c in set(y)]
    with threadpool_limits(limits=1, user_api="blas"):
        cv = cross_validate(methods, y, groups, classes, schema.sides, repeats=REPEATS)
    encode_ms = encode_ms or {}
    for k, r in cv.items():
        r.pop("oof_pred", None)
        ms = encode_ms.get(k, 0.0) + r["predict_ms_per_turn"]
        r["label_turns_per_s"] = round(1000 / max(ms, 1e-6), 1)
    out = EXP / "results"
    out.mkdir(exist_ok=True)
    json.dump(cv, open(out / f"{name}.json", "w"), indent=1)
    md = table(cv, schema)
    (out / f"{name}.md").write_text(md + "\n")
    print(md, flush=True)
    return cv


def table(cv, schema):
    names = list(schema.names)
    rows = [
        "| method | macro-F1 | F_avg | "
        + " | ".join(f"F1 {n}" for n in names)
        + " | train s/fold | label turns/s |",
        "|---" * (5 + len(names)) + "|",
    ]
    for k, m in cv.items():
        rows.append(
            f"| {k} | {m['macro_f1']:.3f} ± {m['macro_f1_sd']:.3f} | "
            f"{m['f_avg']:.3f} ± {m['f_avg_sd']:.3f} | "
            + " | ".join(f"{m['per_class'][n]['f1']:.3f}" for n in names)
            + f" | {m['fit_s']:.2f} | {m['label_turns_per_s']:,.0f} |"
        )
    return "\n".join(rows)
