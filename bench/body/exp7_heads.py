"""Issue 20, round 3: cheap head-side levers on the 3,851 labels, in stance train's
grouped folds (3 random grouped 5-fold splits, seeds 0..2).

Lexical heads compared: the shipped TF-IDF word 1-2 gram LR; NB-SVM (Wang & Manning
2012: binary 1-2 gram features scaled by the class log-count ratio, one-vs-rest LR);
TF-IDF words + char_wb 2-5 grams. Each is also put in the soft vote with the frozen
MiniLM head, the vote weight chosen by grouped CV inside the training fold only
(4 inner folds, grid 0.3..0.8), as `stance train` does. No hyperparameter is chosen
on a test fold; C values are fixed (the shipped 10 for TF-IDF, 1 for NB-SVM as in
the paper, the shipped 0.3 for the embedding head).

  BODY_WORK=/work/exp20 nice python bench/body/exp7_heads.py [--repeats 3]
"""

import argparse
import json
import time

import numpy as np
from common import EXP, frozen_X, load
from scipy import sparse

from stance.model.evaluate import grouped_folds, metrics

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def tfidf_lr(texts_tr, y_tr, char=False):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from stance.model.heads import TFIDF

    vecs = [TfidfVectorizer(**TFIDF)]
    if char:
        vecs.append(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
            )
        )
    Xtr = sparse.hstack([v.fit_transform(texts_tr) for v in vecs]).tocsr()
    lr = LogisticRegression(class_weight="balanced", max_iter=3000, C=10.0).fit(
        Xtr, y_tr
    )

    def proba(texts):
        return lr.predict_proba(
            sparse.hstack([v.transform(texts) for v in vecs]).tocsr()
        )

    return proba, lr.classes_


def nbsvm(texts_tr, y_tr, C=1.0, alpha=1.0):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(ngram_range=(1, 2), binary=True, lowercase=True)
    X = vec.fit_transform(texts_tr)
    classes = np.unique(y_tr)
    models = []
    for c in classes:
        pos = np.asarray(X[y_tr == c].sum(axis=0)).ravel() + alpha
        neg = np.asarray(X[y_tr != c].sum(axis=0)).ravel() + alpha
        r = np.log((pos / pos.sum()) / (neg / neg.sum()))
        R = sparse.diags(r)
        lr = LogisticRegression(class_weight="balanced", max_iter=3000, C=C)
        lr.fit(X @ R, (y_tr == c).astype(int))
        models.append((R, lr))

    def proba(texts):
        Xt = vec.transform(texts)
        s = np.column_stack([lr.decision_function(Xt @ R) for R, lr in models])
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return proba, classes


def emb_lr(X_tr, y_tr, C=0.3):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(class_weight="balanced", max_iter=3000, C=C).fit(X_tr, y_tr)
    return lr.predict_proba, lr.classes_


LEXICAL = {
    "tfidf": lambda t, y: tfidf_lr(t, y),
    "nbsvm": lambda t, y: nbsvm(t, y),
    "tfidf+char": lambda t, y: tfidf_lr(t, y, char=True),
}


def inner_oof(texts, X, y, groups, lexical):
    """Both heads' out-of-fold probabilities inside these rows (4 grouped folds)."""
    classes = np.unique(y)
    emb = np.zeros((len(y), len(classes)))
    lex = np.zeros((len(y), len(classes)))
    for tr, te in grouped_folds(groups, n_folds=4, seed=1):
        p, _ = emb_lr(X[tr], y[tr])
        emb[te] = p(X[te])
        q, _ = lexical(texts[tr], y[tr])
        lex[te] = q(texts[te])
    return emb, lex


def vote_weight(texts, X, y, groups, lexical, sides):
    """The vote weight chosen by grouped CV inside these rows only."""
    classes = np.unique(y)
    emb, lex = inner_oof(texts, X, y, groups, lexical)
    score = {
        w: metrics(y, classes[((1 - w) * emb + w * lex).argmax(1)], classes, sides)[
            "macro_f1"
        ]
        for w in WEIGHTS
    }
    return max(WEIGHTS, key=lambda w: (score[w], -abs(w - 0.5)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma list of lexical heads")
    args = ap.parse_args()
    schema, labels, texts, y, groups = load()
    sides = list(schema.sides)
    X = frozen_X(texts)
    classes = np.unique(y)
    names = args.only.split(",") if args.only else list(LEXICAL)
    rows = {}
    for name in ["embedding"] + names + [f"embedding+{n}" for n in names]:
        scores, t0, weights = [], time.time(), []
        for r in range(args.repeats):
            pred = np.empty(len(y), dtype=object)
            for tr, te in grouped_folds(groups, n_folds=5, seed=r):
                if name == "embedding":
                    p, cl = emb_lr(X[tr], y[tr])
                    pred[te] = cl[p(X[te]).argmax(1)]
                elif name in LEXICAL:
                    p, cl = LEXICAL[name](texts[tr], y[tr])
                    pred[te] = cl[p(texts[te]).argmax(1)]
                else:
                    lexical = LEXICAL[name.split("+", 1)[1]]
                    w = vote_weight(texts[tr], X[tr], y[tr], groups[tr], lexical, sides)
                    weights.append(w)
                    p, cl = emb_lr(X[tr], y[tr])
                    q, _ = lexical(texts[tr], y[tr])
                    pred[te] = cl[((1 - w) * p(X[te]) + w * q(texts[te])).argmax(1)]
            m = metrics(y, pred.astype(str), list(classes), sides)
            scores.append((m["macro_f1"], m["f_avg"]))
            print(name, r, round(m["macro_f1"], 4), flush=True)
        s = np.array(scores)
        rows[name] = {
            "macro_f1": round(float(s[:, 0].mean()), 4),
            "macro_f1_sd": round(float(s[:, 0].std(ddof=1)) if len(s) > 1 else 0.0, 4),
            "f_avg": round(float(s[:, 1].mean()), 4),
            "weights": weights,
            "seconds": round(time.time() - t0, 1),
        }
        print(name, rows[name], flush=True)
    out = EXP / "exp7_heads.json"
    out.write_text(
        json.dumps(
            {"n_labels": len(y), "repeats": args.repeats, "rows": rows}, indent=1
        )
    )
    print("wrote", out)


if __name__ == "__main__":
    main()
