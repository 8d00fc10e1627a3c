"""Experiment 6 (issue 20, way 4): self-training with the default recipe.

The gathered pages hold no unlabelled pool: `stance parse` finds 3,846 turns on
the 720 training pages, and 3,851 texts are labelled. So self-training is
measured the way it would be used: inside each training fold, only the turns of
`--labelled` randomly drawn conversations keep their labels; the rest of the
training fold is the unlabelled pool. Three fits per fold, scored on the test
fold (which is never pseudo-labelled or looked at):

- `supervised`: the default recipe (`train.fit_default`: C and TF-IDF weight
  nested inside its rows) on the labelled turns;
- `self-trained`: that model labels the pool; pool turns with confidence at or
  above `--tau` join with their pseudo-label; the default recipe is refitted
  (one round; `--rounds` for more);
- `all labels`: the default recipe on the whole training fold (what real labels
  for the pool would give).

The random grouped 5-fold splits of `stance train` (seeds 0, 1, 2; `--repeats`).

Run (from the checkout; STANCE_CACHE pointing at a cache that holds the label
texts makes it minutes instead of an hour of encoding):
  nice -n 5 .venv/bin/python bench/body/exp6_selftrain.py --labelled 800 --tau 0.7
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import EXP, REPEATS, load  # noqa: E402


def features(texts):
    from stance.model.classify import StanceClassifier

    return StanceClassifier(backend="onnx").features(list(texts)).astype(np.float64)


def main(a):
    from threadpoolctl import threadpool_limits

    from stance.model.evaluate import grouped_folds, mean_metrics, metrics
    from stance.model.train import fit_default

    schema, _labels, texts, y, groups = load()
    t0 = time.time()
    X = features(texts)
    print(f"{len(y)} labels, features {time.time() - t0:.0f}s", flush=True)
    classes, sides = list(schema.names), schema.sides
    runs = {"supervised": [], "self-trained": [], "all labels": []}
    added = []
    for rep in range(a.repeats):
        preds = {k: np.empty(len(y), dtype=object) for k in runs}
        for k, (tr, te) in enumerate(grouped_folds(groups, 5, seed=rep)):
            rng = np.random.default_rng(1000 * rep + k)
            convs = rng.permutation(sorted(set(groups[tr])))
            keep, n = set(), 0
            for c in convs:  # whole conversations, until --labelled turns
                if n >= a.labelled:
                    break
                keep.add(c)
                n += int((groups[tr] == c).sum())
            lab = tr[np.isin(groups[tr], list(keep))]
            pool = tr[~np.isin(groups[tr], list(keep))]
            with threadpool_limits(limits=1, user_api="blas"):
                m = fit_default(texts[lab], X[lab], y[lab], groups[lab], sides)
                preds["supervised"][te] = predict(m, texts, X, te)
                rows, pseudo = lab, y.copy()
                for _ in range(a.rounds):
                    proba = m.proba_from(list(texts[pool]), X[pool])
                    sure = proba.max(axis=1) >= a.tau
                    pseudo[pool] = m.classes_[proba.argmax(axis=1)]
                    rows = np.concatenate([lab, pool[sure]])
                    m = fit_default(
                        texts[rows], X[rows], pseudo[rows], groups[rows], sides
                    )
                added.append(
                    {
                        "rep": rep,
                        "fold": k,
                        "labelled": len(lab),
                        "pool": len(pool),
                        "pseudo": int(len(rows) - len(lab)),
                        "pseudo_accuracy": float(
                            np.mean(pseudo[rows[len(lab) :]] == y[rows[len(lab) :]])
                        )
                        if len(rows) > len(lab)
                        else None,
                    }
                )
                preds["self-trained"][te] = predict(m, texts, X, te)
                full = fit_default(texts[tr], X[tr], y[tr], groups[tr], sides)
                preds["all labels"][te] = predict(full, texts, X, te)
            print(f"split {rep} fold {k}: {added[-1]}", flush=True)
        for name, p in preds.items():
            runs[name].append(metrics(y, p.astype(str), classes, sides))
    out = {name: mean_metrics(r) for name, r in runs.items()}
    res = {"args": vars(a), "folds": added, "metrics": out}
    path = EXP / "results" / f"exp6_{a.labelled}_{a.tau}_{a.rounds}_{a.repeats}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    json.dump(res, open(path, "w"), indent=1)
    for name, m in out.items():
        print(
            f"| {name} | {m['macro_f1']:.3f} ± {m['macro_f1_sd']:.3f} | "
            f"{m['f_avg']:.3f} | "
            + " | ".join(f"{m['per_class'][c]['f1']:.3f}" for c in classes)
            + " |"
        )
    print(
        "pseudo-labels per fold: "
        f"{np.mean([f['pseudo'] for f in added]):.0f} of "
        f"{np.mean([f['pool'] for f in added]):.0f} pool turns, accuracy "
        f"{np.mean([f['pseudo_accuracy'] for f in added if f['pseudo_accuracy'] is not None]):.3f}"
    )


def predict(m, texts, X, te):
    return m.classes_[m.proba_from(list(texts[te]), X[te]).argmax(axis=1)]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--labelled", type=int, default=800)
    p.add_argument("--tau", type=float, default=0.7)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--repeats", type=int, default=REPEATS, help="random splits")
    main(p.parse_args())
