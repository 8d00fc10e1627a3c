"""Experiment 4: target-aware cross-encoder (target statement, turn) from the packaged MiniLM.

Stage 1 (`pretrain`): 3-way head on public pairs: (topic, text) -> pro / con, and
  (another topic of the same corpus, text) -> none. Time-bounded, seeded, 1 thread.
Stage 2 (`folds`): for each training fold of the FIRST grouped split (seed 0, the same
  folds as cross_validate's first repeat), fine-tune all layers on our labels inside the
  training fold (class-balanced CE, 2 epochs, lr 2e-5, batch 16, max 256 tokens;
  favor=pro, against=con, none=none, so the pretrained head is kept), predict the test
  fold. Writes results/exp4_<tag>_oof.json; nothing is chosen on a test fold.

Run:
  nice -n 10 .venv/bin/python bench/body/exp4_crossenc.py pretrain --out bodies/ce-public --minutes 15
  nice -n 10 .venv/bin/python bench/body/exp4_crossenc.py folds --init bodies/ce-public --tag ce-public
"""

import argparse
import csv
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
import numpy as np
import torch

torch.set_num_threads(1)
PACKAGED = str(__import__("stance.model.embed", fromlist=["model_path"]).model_path())
LABELS = ["pro", "con", "none"]
OURS = {"favor": 0, "against": 1, "none": 2}


def seed_all(s):
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def load_model(path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    m = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=3, ignore_mismatched_sizes=True
    )
    return tok, m


def batches(tok, pairs, max_len):
    a, b = zip(*pairs, strict=False)
    return tok(
        list(a),
        list(b),
        truncation="only_second",
        max_length=max_len,
        padding=True,
        return_tensors="pt",
    )


def train_loop(
    tok, m, data, epochs, lr, bs, max_len, weights=None, budget_s=None, seed=0
):
    rng = random.Random(seed)
    opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)
    total = epochs * ((len(data) + bs - 1) // bs)
    warm = max(1, int(0.1 * total))
    lossf = torch.nn.CrossEntropyLoss(weight=weights)
    m.train()
    step, t0 = 0, time.time()
    for _ep in range(epochs):
        order = list(range(len(data)))
        rng.shuffle(order)
        for i in range(0, len(order), bs):
            b = [data[j] for j in order[i : i + bs]]
            enc = batches(tok, [(x[0], x[1]) for x in b], max_len)
            out = m(**enc).logits
            loss = lossf(out, torch.tensor([x[2] for x in b]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            f = (
                (step + 1) / warm
                if step < warm
                else max(0.0, (total - step) / (total - warm))
            )
            for g in opt.param_groups:
                g["lr"] = lr * f
            opt.step()
            opt.zero_grad()
            step += 1
            if step % 50 == 0:
                print(
                    f"  step {step}/{total} loss {loss.item():.3f} {time.time() - t0:.0f}s",
                    flush=True,
                )
            if budget_s and time.time() - t0 > budget_s:
                return step, time.time() - t0
    return step, time.time() - t0


@torch.no_grad()
def predict(tok, m, pairs, max_len, bs=32):
    m.eval()
    out = []
    for i in range(0, len(pairs), bs):
        out.append(
            torch.softmax(m(**batches(tok, pairs[i : i + bs], max_len)).logits, -1)
        )
    m.train()
    return torch.cat(out).numpy()


def pretrain(a):
    seed_all(a.seed)
    rows = list(csv.DictReader(open("data/public_stance.csv", encoding="utf-8")))
    rng = random.Random(a.seed)
    topics = defaultdict(set)
    for r in rows:
        topics[r["corpus"]].add(r["topic"])
    topics = {k: sorted(v) for k, v in topics.items()}
    data, held = [], []
    for r in rows:
        dest = held if r["split"] in ("test", "dev") else data
        dest.append((r["topic"], r["text"], LABELS.index(r["stance"])))
        if rng.random() < 0.5:  # unrelated-topic pair -> none
            t = rng.choice(topics[r["corpus"]])
            if t != r["topic"]:
                dest.append((t, r["text"], 2))
    rng.shuffle(data)
    held = random.Random(1).sample(held, 1200)
    print(f"pretrain pairs {len(data)}, held {len(held)}", flush=True)
    tok, m = load_model(PACKAGED)
    steps, secs = train_loop(
        tok, m, data, 1, a.lr, 16, 128, budget_s=a.minutes * 60, seed=a.seed
    )
    p = predict(tok, m, [(x[0], x[1]) for x in held], 128)
    acc = float((p.argmax(1) == np.array([x[2] for x in held])).mean())
    side = [i for i, x in enumerate(held) if x[2] < 2]
    acc_side = float(
        (p[side][:, :2].argmax(1) == np.array([held[i][2] for i in side])).mean()
    )
    print(
        f"held-out acc {acc:.3f}, pro-vs-con acc {acc_side:.3f}; {steps} steps {secs:.0f}s"
    )
    Path(a.out).mkdir(parents=True, exist_ok=True)
    m.save_pretrained(a.out)
    tok.save_pretrained(a.out)
    json.dump(
        {
            "args": vars(a),
            "steps": steps,
            "train_s": secs,
            "pairs": len(data),
            "heldout_acc": acc,
            "heldout_pro_con_acc": acc_side,
        },
        open(Path(a.out) / "train_info.json", "w"),
        indent=1,
    )


def folds(a):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import load

    from stance.model.evaluate import grouped_folds

    schema, labels, texts, y, groups = load()
    target = schema.target
    yi = np.array([OURS[v] for v in y])
    oof = np.zeros((len(y), 3))
    fit_s = []
    for k, (tr, te) in enumerate(grouped_folds(groups, 5, seed=0)):
        if a.only_folds and k not in a.only_folds:
            continue
        seed_all(a.seed)
        tok, m = load_model(a.init)
        cnt = np.bincount(yi[tr], minlength=3)
        w = torch.tensor(len(tr) / (3 * np.maximum(cnt, 1)), dtype=torch.float32)
        data = [(target, texts[i], int(yi[i])) for i in tr]
        t0 = time.time()
        train_loop(tok, m, data, a.epochs, a.lr, 16, 256, weights=w, seed=a.seed)
        fit_s.append(time.time() - t0)
        oof[te] = predict(tok, m, [(target, texts[i]) for i in te], 256)
        print(f"fold {k}: fit {fit_s[-1]:.0f}s", flush=True)
        json.dump(
            {"oof": oof.tolist(), "done_folds": k, "fit_s": fit_s},
            open(f"results/exp4_{a.tag}_oof.json", "w"),
        )
    print("done")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=["pretrain", "folds"])
    p.add_argument("--out")
    p.add_argument("--init", default=PACKAGED)
    p.add_argument("--tag", default="ce")
    p.add_argument("--minutes", type=float, default=15)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only-folds", type=int, nargs="*")
    a = p.parse_args()
    pretrain(a) if a.stage == "pretrain" else folds(a)
