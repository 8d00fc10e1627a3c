"""Issue 20, round 3: decision offsets for macro-F1 on top of the soft vote.

The soft vote of the frozen-MiniLM head and the TF-IDF head (exp7's
`embedding+tfidf`, vote weight chosen inside the training fold) picks argmax of
the averaged probabilities. Macro-F1 rewards the rare `favor` class more than
argmax does; this adds per-class log-offsets b (grid -1..1 step 0.25 for each
side, `none` fixed at 0), chosen on the inner out-of-fold probabilities of the
training fold only, then applied to the test fold. Same 3 grouped 5-fold splits.

  BODY_WORK=/work/exp20 nice python bench/body/exp8_bias.py
"""

import itertools
import json

import numpy as np
from common import EXP, frozen_X, load
from exp7_heads import WEIGHTS, emb_lr, inner_oof, tfidf_lr

from stance.model.evaluate import grouped_folds, metrics

GRID = np.arange(-1.0, 1.01, 0.25)


def choose(y, emb, lex, classes, sides):
    best, best_s = (0.5, np.zeros(len(classes))), -1
    none = [i for i, c in enumerate(classes) if c not in sides]
    for w in WEIGHTS:
        logp = np.log((1 - w) * emb + w * lex + 1e-12)
        for offs in itertools.product(GRID, repeat=len(classes) - len(none)):
            b = np.zeros(len(classes))
            b[[i for i in range(len(classes)) if i not in none]] = offs
            s = metrics(y, classes[(logp + b).argmax(1)], list(classes), sides)[
                "macro_f1"
            ]
            if s > best_s + 1e-9:
                best, best_s = (w, b), s
    return best


def main():
    schema, labels, texts, y, groups = load()
    sides = list(schema.sides)
    X = frozen_X(texts)
    classes = np.unique(y)
    out = {"plain": [], "offsets": [], "chosen": []}
    for r in range(3):
        plain = np.empty(len(y), dtype=object)
        off = np.empty(len(y), dtype=object)
        for tr, te in grouped_folds(groups, n_folds=5, seed=r):
            emb, lex = inner_oof(texts[tr], X[tr], y[tr], groups[tr], tfidf_lr)
            # the plain vote: weight by inner macro-F1, no offsets (as exp7)
            wp = max(
                WEIGHTS,
                key=lambda w: (
                    metrics(
                        y[tr],
                        classes[((1 - w) * emb + w * lex).argmax(1)],
                        list(classes),
                        sides,
                    )["macro_f1"],
                    -abs(w - 0.5),
                ),
            )
            w, b = choose(y[tr], emb, lex, classes, sides)
            out["chosen"].append([w, b.tolist()])
            p, _ = emb_lr(X[tr], y[tr])
            q, _ = tfidf_lr(texts[tr], y[tr])
            pe, pl = p(X[te]), q(texts[te])
            plain[te] = classes[((1 - wp) * pe + wp * pl).argmax(1)]
            off[te] = classes[(np.log((1 - w) * pe + w * pl + 1e-12) + b).argmax(1)]
        for k, pred in (("plain", plain), ("offsets", off)):
            m = metrics(y, pred.astype(str), list(classes), sides)
            out[k].append(round(m["macro_f1"], 4))
            print(
                r,
                k,
                round(m["macro_f1"], 4),
                {c: round(v["f1"], 3) for c, v in m["per_class"].items()},
                flush=True,
            )
    for k in ("plain", "offsets"):
        print(k, np.mean(out[k]).round(4), np.std(out[k], ddof=1).round(4))
    (EXP / "exp8_bias.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
