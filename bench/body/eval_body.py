"""Experiment 2 evaluation: a fine-tuned body, frozen, + LR head on our labels, in the
same grouped folds as the baselines; also concatenated with / soft-voted beside the default.

Run: nice -n 10 .venv/bin/python bench/body/eval_body.py bodies/stance-mnrl [--prefix-target]
"""

import argparse

from common import EXP, baselines, cold_ms_per_turn, frozen_X, load, run, st_encode

p = argparse.ArgumentParser()
p.add_argument("body")
p.add_argument("--prefix-target", action="store_true")
p.add_argument("--name", default=None)
a = p.parse_args()

import numpy as np  # noqa: E402

from stance.model.train import default_method, nested_head_method  # noqa: E402

schema, labels, texts, y, groups = load()
X = frozen_X(texts)
prefix = schema.target if a.prefix_target else None
name = a.name or a.body.rstrip("/").split("/")[-1] + ("-prefix" if prefix else "")
cache = EXP / "cache" / f"{name}_turns.npy"
if cache.is_file():
    Z = np.load(cache)
else:
    Z = st_encode(EXP / a.body, list(texts), prefix=prefix)
    np.save(cache, Z)
XZ = np.hstack([X, Z]) / np.sqrt(2)
# the body was trained on short claims: also pool it over the turn's sentences
from exp3_prototypes import split_sentences  # noqa: E402

scache = EXP / "cache" / f"{name}_sentmean.npy"
if scache.is_file():
    Zs = np.load(scache)
else:
    sents = [split_sentences(t) for t in texts]
    flat = [s for ss in sents for s in ss]
    E = st_encode(EXP / a.body, flat, prefix=prefix)
    owner = np.array([i for i, ss in enumerate(sents) for _ in ss])
    Zs = np.stack([E[owner == i].mean(0) for i in range(len(texts))])
    Zs /= np.linalg.norm(Zs, axis=1, keepdims=True)
    np.save(scache, Zs)
sides = schema.sides
methods = baselines(texts, X, y, groups, sides)
methods[f"{name} + logreg (nested C)"] = nested_head_method(Z, y, groups, sides)
methods[f"{name} + tfidf (default recipe)"] = default_method(
    texts, Z, y, groups, sides, None
)
methods[f"[minilm ⊕ {name}] + logreg"] = nested_head_method(XZ, y, groups, sides)
methods[f"[minilm ⊕ {name}] + tfidf (default recipe)"] = default_method(
    texts, XZ, y, groups, sides, None
)
methods[f"{name} sentence-mean + logreg"] = nested_head_method(Zs, y, groups, sides)
methods[f"[minilm ⊕ {name} sentence-mean] + tfidf (default recipe)"] = default_method(
    texts, np.hstack([X, Zs]) / np.sqrt(2), y, groups, sides, None
)
ms = cold_ms_per_turn(
    str(__import__("stance.model.embed", fromlist=["model_path"]).model_path()),
    list(texts),
    prefix=prefix,
)
enc = {k: (2 * ms if "⊕" in k else ms) for k in methods if "tfidf+logreg" != k}
print(f"cold encode {ms:.1f} ms/turn (torch, 1 thread)")
run(methods, y, groups, schema, f"exp2_{name}", enc)
