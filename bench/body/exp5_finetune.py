"""Experiment 5 (issue 20, way 2): end-to-end fine-tuning on our labels alone.

The control for the public-corpus bodies: the packaged MiniLM as a target-aware
cross-encoder (schema target, turn) -> favor / against / none, all layers trained,
class-balanced cross-entropy, AdamW with warm-up and linear decay, seeded.

Two protocols, both honest:
- `heldout`: fit on every training label (`labels/*.csv`), score once on the
  held-out set (`labels/heldout/heldout.csv`, 39 pages never trained on), beside the
  shipped default and TF-IDF fitted on the same labels (model card figures).
- `folds`: the first grouped split of `stance train` (seed 0, 5 folds by
  conversation); fine-tune inside each training fold, predict its test fold. The
  default and TF-IDF are scored in the same folds by `compare`.

Nothing is chosen on a test fold or on the held-out set: the recipe (epochs, lr,
max length) is fixed before the run.

Run (from $BODY_WORK, or set BODY_WORK):
  nice -n 5 .venv/bin/python bench/body/exp5_finetune.py heldout --seed 0
  nice -n 5 .venv/bin/python bench/body/exp5_finetune.py folds --seed 0
  .venv/bin/python bench/body/exp5_finetune.py compare --tag ft-s0
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import EXP, ROOT, load  # noqa: E402
from exp4_crossenc import (  # noqa: E402
    OURS,
    PACKAGED,
    load_model,
    predict,
    seed_all,
    train_loop,
)

NAMES = ["favor", "against", "none"]  # index order of OURS


def heldout_labels(schema):
    from stance.labelling.labels import read_labels

    held = read_labels(ROOT / "labels" / "heldout" / "heldout.csv", schema.names)
    return [lab.text for lab in held], [lab.stance for lab in held]


def fit(texts, yi, target, a):
    seed_all(a.seed)
    tok, m = load_model(a.init)
    cnt = np.bincount(yi, minlength=3)
    w = torch.tensor(len(yi) / (3 * np.maximum(cnt, 1)), dtype=torch.float32)
    data = [(target, t, int(k)) for t, k in zip(texts, yi, strict=True)]
    t0 = time.time()
    steps, _ = train_loop(
        tok, m, data, a.epochs, a.lr, 16, a.max_len, weights=w, seed=a.seed
    )
    return tok, m, steps, time.time() - t0


def scores(y_true, proba, schema):
    from stance.model.evaluate import metrics

    pred = [NAMES[k] for k in proba.argmax(1)]
    return metrics(y_true, pred, list(schema.names), schema.sides)


def run_heldout(a):
    schema, _labels, texts, y, _groups = load()
    yi = np.array([OURS[v] for v in y])
    tok, m, steps, secs = fit(list(texts), yi, schema.target, a)
    ht, hy = heldout_labels(schema)
    t0 = time.time()
    proba = predict(tok, m, [(schema.target, t) for t in ht], a.max_len)
    ms = 1000 * (time.time() - t0) / len(ht)
    res = scores(hy, proba, schema)
    res.update(
        train_s=secs, steps=steps, predict_ms_per_turn=ms, args=vars(a), n_train=len(y)
    )
    out = EXP / "results" / f"exp5_heldout_{a.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    json.dump({**res, "proba": proba.tolist()}, open(out, "w"), indent=1)
    print(
        f"held-out n={len(hy)} macro-F1 {res['macro_f1']:.3f} F_avg {res['f_avg']:.3f}"
        f" acc {res['accuracy']:.3f} | "
        + " ".join(f"{c} {res['per_class'][c]['f1']:.3f}" for c in schema.names)
        + f" | train {secs:.0f}s ({steps} steps), {ms:.1f} ms/turn"
    )
    if a.save:
        m.save_pretrained(a.save)
        tok.save_pretrained(a.save)


def run_folds(a):
    from stance.model.evaluate import grouped_folds

    schema, _labels, texts, y, groups = load()
    yi = np.array([OURS[v] for v in y])
    out = EXP / "results" / f"exp5_folds_{a.tag}.json"
    state = json.load(open(out)) if out.is_file() else {"oof": None, "done": []}
    oof = np.array(state["oof"]) if state["oof"] else np.zeros((len(y), 3))
    for k, (tr, te) in enumerate(grouped_folds(groups, 5, seed=0)):
        if k in state["done"]:
            continue
        tok, m, steps, secs = fit(list(texts[tr]), yi[tr], schema.target, a)
        oof[te] = predict(tok, m, [(schema.target, texts[i]) for i in te], a.max_len)
        state["done"].append(k)
        state.setdefault("fit_s", []).append(secs)
        state["oof"] = oof.tolist()
        state["args"] = vars(a)
        json.dump(state, open(out, "w"))
        print(f"fold {k}: fit {secs:.0f}s ({steps} steps)", flush=True)
    print("done")


def run_compare(a):
    """The fine-tuned folds beside the default and TF-IDF in the same folds
    (`cross_validate`'s first split is `grouped_folds(groups, 5, seed=0)`)."""
    from common import frozen_X

    from stance.model.evaluate import cross_validate, tfidf_method
    from stance.model.train import default_method

    schema, _labels, texts, y, groups = load()
    st = json.load(open(EXP / "results" / f"exp5_folds_{a.tag}.json"))
    assert sorted(st["done"]) == [0, 1, 2, 3, 4], "folds not finished"
    X = frozen_X(texts)
    rows = cross_validate(
        {
            "tfidf+logreg": tfidf_method(texts, y),
            "embedding+tfidf (default)": default_method(
                texts, X, y, groups, schema.sides, None
            ),
        },
        y,
        groups,
        list(schema.names),
        schema.sides,
    )
    rows[f"fine-tuned cross-encoder ({a.tag})"] = scores(
        list(y), np.array(st["oof"]), schema
    )
    for n, r in rows.items():
        print(
            f"| {n} | {r['macro_f1']:.3f} | {r['f_avg']:.3f} | "
            + " | ".join(f"{r['per_class'][c]['f1']:.3f}" for c in schema.names)
            + " |"
        )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=["heldout", "folds", "compare"])
    p.add_argument("--init", default=PACKAGED)
    p.add_argument("--tag", default=None)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save", help="keep the fine-tuned weights here (heldout)")
    a = p.parse_args()
    a.tag = a.tag or f"ft-s{a.seed}"
    torch.set_num_threads(a.threads)
    {"heldout": run_heldout, "folds": run_folds, "compare": run_compare}[a.stage](a)
