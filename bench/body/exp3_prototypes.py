"""Experiment 3: sentence-level prototype features on the frozen MiniLM.

Each turn is split into sentences (embedded once with the project's onnx MiniLM; cache
in $BODY_WORK/cache/stance). Features per turn: max and mean cosine of its sentences to
  (a) fixed prototypes: the guideline's typical moves as short statements, per side;
  (b) k-means centroids (k=K per class) of the TRAINING fold's labelled sentences (each
      sentence takes its turn's label). Training rows get their centroid features
      cross-fitted (centroids from the other inner grouped folds), test rows from
      centroids of the whole training fold, so LR never sees optimistic features.
Plus per-class max over that class's prototypes. Standardised, then LR with C chosen by
grouped CV inside the training fold (stance.model.evaluate.choose_C).

Run: nice -n 10 .venv/bin/python bench/body/exp3_prototypes.py
"""

import re
import time

import numpy as np
from common import baselines, frozen_X, load, run

K = 8
MOVES = {
    "favor": [
        "The Soviet Union had no choice after Munich.",
        "The pact bought Stalin time to prepare for war.",
        "The West rebuffed every Soviet offer of an alliance against Hitler.",
        "Britain and France sent junior delegates who could not sign anything.",
        "It was not an alliance, just a non-aggression pact.",
        "The Red Army did not invade Poland, it took back Ukrainian and Belarusian land.",
        "Poland helped carve up Czechoslovakia too.",
        "The Soviet offer of troops was sincere and the West's refusal caused the war.",
        "Appeasement by Britain and France left Moscow no alternative.",
        "Everyone signed deals with Hitler, the Soviets were the last to do so.",
        "Western powers wanted Hitler to attack the USSR.",
        "Poland refused to let Soviet troops pass, so no alliance was possible.",
    ],
    "against": [
        "Stalin was Hitler's ally and co-aggressor.",
        "They divided Poland between them.",
        "The Soviets murdered Polish officers at Katyn.",
        "The Soviet Union annexed the Baltic states.",
        "The Soviet Union invaded Poland in September 1939.",
        "The Soviet offer was an imperialist ultimatum to march through Poland.",
        "Nobody could trust Stalin.",
        "The Soviet offer of an alliance was never real.",
        "Russia is rewriting history to whitewash the pact.",
        "The secret protocol carved up Eastern Europe into spheres of influence.",
        "The USSR supplied Nazi Germany with oil and grain until 1941.",
        "The Soviet Union attacked Finland in the Winter War.",
        "Poland was right to refuse Soviet troops on its soil.",
    ],
    "none": [
        "The pact was signed on 23 August 1939.",
        "Does anyone have a good book on the 1939 negotiations?",
        "The documents were declassified by the archives.",
        "What do you think about this?",
        "This is off topic.",
        "Thanks for the link.",
    ],
}


def split_sentences(text):
    parts = re.split(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+", text)
    parts = [s.strip() for s in parts if len(s.strip().split()) >= 3]
    return parts or [text.strip()]


def main():
    from sklearn.cluster import KMeans

    from stance.model.embed import Embedder
    from stance.model.estimators import StanceHead
    from stance.model.evaluate import choose_C, grouped_folds
    from stance.model.train import default_method

    schema, labels, texts, y, groups = load()
    X = frozen_X(texts)
    emb = Embedder(backend="onnx")
    sents = [split_sentences(t) for t in texts]
    flat = [s for ss in sents for s in ss]
    owner = np.array([i for i, ss in enumerate(sents) for _ in ss])
    t0 = time.time()
    S = emb.embed(flat).astype(np.float64)
    print(
        f"{len(flat)} sentences from {len(texts)} turns, embedded in {time.time() - t0:.0f}s"
    )
    classes = list(schema.names)
    move_names = [c for c in classes for _ in MOVES[c]]
    M = emb.embed([m for c in classes for m in MOVES[c]]).astype(np.float64)

    def pool(P, cls_of_proto, rows):
        """max/mean cosine of each row's sentences to each prototype + per-class max."""
        sim = S @ P.T
        out = []
        for i in rows:
            s = sim[owner == i]
            per = np.concatenate([s.max(0), s.mean(0)])
            cm = [
                s[:, [j for j, c in enumerate(cls_of_proto) if c == k]].max()
                for k in classes
            ]
            out.append(np.concatenate([per, cm]))
        return np.array(out)

    def centroids(rows):
        P, names = [], []
        for k in classes:
            idx = np.where(np.isin(owner, rows[y[rows] == k]))[0]
            n = min(K, len(idx))
            km = KMeans(n_clusters=n, n_init=4, random_state=0).fit(S[idx])
            c = km.cluster_centers_
            P.append(c / np.linalg.norm(c, axis=1, keepdims=True))
            names += [k] * n
        return np.vstack(P), names

    fixed = pool(M, move_names, np.arange(len(texts)))

    def features(train, test):
        """Centroid features: cross-fitted for train rows, full-fold for test rows."""
        ftr = np.zeros((len(train), 2 * K * len(classes) + len(classes)))
        for a, b in grouped_folds(groups[train], n_folds=4, seed=1):
            P, nm = centroids(train[a])
            ftr[b] = pool(P, nm, train[b])
        P, nm = centroids(train)
        return ftr, pool(P, nm, test)

    def method(kind):
        def fit(train):
            parts_tr = [fixed[train]] if "fixed" in kind else []
            P = nm = None
            if "cent" in kind:
                ftr = np.zeros((len(train), 2 * K * len(classes) + len(classes)))
                for a, b in grouped_folds(groups[train], n_folds=4, seed=1):
                    Pa, na = centroids(train[a])
                    ftr[b] = pool(Pa, na, train[b])
                parts_tr.append(ftr)
                P, nm = centroids(train)
            A = np.hstack(parts_tr)
            mu, sd = A.mean(0), A.std(0) + 1e-6
            A = (A - mu) / sd
            if "minilm" in kind:
                A = np.hstack([X[train], 0.05 * A])
            C = choose_C(A, y[train], groups[train], schema.sides)
            head = StanceHead(C=C, calibrate=False).fit(A, y[train])

            def predict(test):
                parts = [fixed[test]] if "fixed" in kind else []
                if "cent" in kind:
                    parts.append(pool(P, nm, test))
                B = (np.hstack(parts) - mu) / sd
                if "minilm" in kind:
                    B = np.hstack([X[test], 0.05 * B])
                return head.predict(B)

            return predict

        return fit

    methods = baselines(texts, X, y, groups, schema.sides)
    methods["prototypes: guideline moves (sentence max/mean) + logreg"] = method(
        "fixed"
    )
    methods["prototypes: moves + train-fold k-means centroids + logreg"] = method(
        "fixed+cent"
    )
    methods["minilm ⊕ prototype features (moves + centroids) + logreg"] = method(
        "fixed+cent+minilm"
    )
    methods["minilm ⊕ moves + logreg"] = method("fixed+minilm")
    # default recipe (nested C + TF-IDF soft vote, nested weight) on minilm ⊕ fixed moves
    sc = (fixed - fixed.mean(0)) / (fixed.std(0) + 1e-6)  # unsupervised scaling only
    methods["default recipe on minilm ⊕ moves (+ tfidf)"] = default_method(
        texts, np.hstack([X, 0.05 * sc]), y, groups, schema.sides, None
    )
    # cold encoding cost, onnx, no cache: the turn itself vs its sentences
    enc = emb.encoder
    sample = list(texts[:: max(1, len(texts) // 64)][:64])
    enc.encode(sample[:2])
    t1 = time.perf_counter()
    enc.encode(sample)
    turn_ms = 1000 * (time.perf_counter() - t1) / len(sample)
    t1 = time.perf_counter()
    enc.encode([s for t in sample for s in split_sentences(t)])
    sent_ms = 1000 * (time.perf_counter() - t1) / len(sample)
    print(f"cold onnx encode: turn {turn_ms:.1f} ms, its sentences {sent_ms:.1f} ms")
    ms = {
        k: (
            turn_ms + sent_ms
            if ("minilm" in k or "default" in k) and "prototype" in k or "⊕" in k
            else sent_ms
            if "prototypes" in k
            else turn_ms
        )
        for k in methods
        if k != "tfidf+logreg"
    }
    run(methods, y, groups, schema, "exp3_prototypes", ms)


if __name__ == "__main__":
    main()
