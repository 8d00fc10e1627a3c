"""Experiment 4a: the cross-encoder pretrained on public data only, applied to (target, turn)
with no training on our labels (zero-shot), and its 3 probabilities (log) as extra
features beside frozen MiniLM in the grouped folds (the CE never saw our labels, so the
features are the same whatever the fold).

Run: nice -n 10 .venv/bin/python bench/body/exp4_zeroshot.py bodies/ce-public
"""

import sys
import time

import numpy as np
from common import EXP, baselines, frozen_X, load, run

body = sys.argv[1]
name = body.rstrip("/").split("/")[-1]
schema, labels, texts, y, groups = load()
X = frozen_X(texts)
cache = EXP / "cache" / f"{name}_probs.npy"
if cache.is_file():
    P = np.load(cache)
else:
    import torch

    torch.set_num_threads(1)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(EXP / body)
    m = AutoModelForSequenceClassification.from_pretrained(EXP / body).eval()
    P = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(texts), 16):
            enc = tok(
                [schema.target] * len(texts[i : i + 16]),
                list(texts[i : i + 16]),
                truncation="only_second",
                max_length=256,
                padding=True,
                return_tensors="pt",
            )
            P.append(torch.softmax(m(**enc).logits, -1).numpy())
    P = np.vstack(P)
    print(
        f"CE scored {len(texts)} turns in {time.time() - t0:.0f}s "
        f"({1000 * (time.time() - t0) / len(texts):.1f} ms/turn, 1 thread)"
    )
    np.save(cache, P)

from sklearn.metrics import roc_auc_score  # noqa: E402

from stance.model.evaluate import metrics  # noqa: E402
from stance.model.train import default_method, nested_head_method  # noqa: E402

side = np.isin(y, ["favor", "against"])
auc = roc_auc_score(y[side] == "favor", P[side, 0] / (P[side, 0] + P[side, 1]))
pred = np.array(["favor", "against", "none"])[P.argmax(1)]
zs = metrics(y, pred, list(schema.names), schema.sides)
print(
    f"zero-shot: favor-vs-against AUC {auc:.3f}; 3-way macro-F1 {zs['macro_f1']:.3f}, "
    f"F_avg {zs['f_avg']:.3f}; predicted counts "
    f"{dict(zip(*np.unique(pred, return_counts=True), strict=False))}"
)
# frozen MiniLM for comparison: out-of-fold AUC is in the CV table; here a zero-shot ref
L = np.log(P + 1e-6)
L = (L - L.mean(0)) / L.std(0)
methods = baselines(texts, X, y, groups, schema.sides)
methods[f"{name} zero-shot log-probs + logreg"] = nested_head_method(
    L, y, groups, schema.sides
)
XL = np.hstack([X, 0.05 * L])
methods[f"minilm ⊕ {name} log-probs + logreg"] = nested_head_method(
    XL, y, groups, schema.sides
)
methods[f"default recipe on minilm ⊕ {name} log-probs (+ tfidf)"] = default_method(
    texts, XL, y, groups, schema.sides, None
)
run(methods, y, groups, schema, f"exp4a_{name}")
open(EXP / "results" / f"exp4a_{name}_zeroshot.txt", "w").write(
    f"favor-vs-against AUC {auc:.3f}; 3-way macro-F1 {zs['macro_f1']:.3f}; "
    f"F_avg {zs['f_avg']:.3f}; per-class "
    + ", ".join(f"{c} {zs['per_class'][c]['f1']:.3f}" for c in schema.names)
    + "\n"
)
