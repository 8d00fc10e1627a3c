"""Build the unified public stance table data/public_stance.csv from fetched snapshots.

Columns: corpus, split, topic, text, stance (pro / con), group (topic id).
Sources (read straight out of the git snapshots, pinned by commit):
- IBM ArgKP v1 (IBM/KPA_2021_shared_task, kpm_data/, CDLA-Sharing 1.0): arguments + key points
- PERSPECTRUM v1.0 (CogComp/perspectrum, data/dataset/, CC BY-SA 4.0): claim -> perspective
- IBM Debater Claim Stance v1 (re-host nicobari30/argumentativeRelationClaimPolarityDataset,
  CC BY-SA 3.0): topic -> claim
Run: .venv/bin/python bench/body/build_data.py
"""

import csv
import io
import json
import os
import subprocess
from pathlib import Path

# CORPORA: the folder holding the git snapshots named below (owner+name/...).
M = Path(os.environ.get("CORPORA", "corpora"))
SRC = {
    "argkp": (
        "IBM+KPA_2021_shared_task/repo",
        "2f5e2d5ad5a387fe731da2f00b423ce1d845c5d2",
    ),
    "perspectrum": (
        "CogComp+perspectrum/repo",
        "b42c27b85f20f2a35c0a0895698fa242ccf160ab",
    ),
    "claimstance": (
        "nicobari30+argumentativeRelationClaimPolarityDataset/repo/.git",
        "02058a8116c873b7672fae1613c97e768ffc00c5",
    ),
}


def show(corpus, path):
    gitdir, commit = SRC[corpus]
    return subprocess.run(
        ["git", f"--git-dir={M / gitdir}", "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")


rows = []
# ArgKP
for split in ("train", "dev"):
    for fname in (
        f"kpm_data/arguments_{split}.csv",
        f"kpm_data/key_points_{split}.csv",
    ):
        for r in csv.DictReader(io.StringIO(show("argkp", fname))):
            text = r.get("argument") or r.get("key_point")
            rows.append(
                (
                    "argkp",
                    split,
                    r["topic"],
                    text.strip(),
                    "pro" if r["stance"].strip() == "1" else "con",
                )
            )
# PERSPECTRUM
claims = json.loads(
    show("perspectrum", "data/dataset/perspectrum_with_answers_v1.0.json")
)
pool = {
    p["pId"]: p["text"]
    for p in json.loads(show("perspectrum", "data/dataset/perspective_pool_v1.0.json"))
}
split = json.loads(show("perspectrum", "data/dataset/dataset_split_v1.0.json"))
for c in claims:
    for cl in c["perspectives"]:
        lab = cl["stance_label_3"].upper()
        if lab not in ("SUPPORT", "UNDERMINE"):
            continue
        for pid in cl["pids"]:
            if pid in pool:
                rows.append(
                    (
                        "perspectrum",
                        split.get(str(c["cId"]), "train"),
                        c["text"].strip(),
                        pool[pid].strip(),
                        "pro" if lab == "SUPPORT" else "con",
                    )
                )
# Claim Stance: each line is one Excel-quoted record followed by ';;;;'
raw = show("claimstance", "claim_stance_dataset_v1.csv").splitlines()
header = None
for line in raw:
    line = line.rstrip().rstrip(";")
    if line.startswith('"') and line.endswith('"'):
        line = line[1:-1].replace('""', '"')
    rec = next(csv.reader([line]))
    if header is None:
        header = rec
        continue
    if len(rec) != len(header):
        continue
    r = dict(zip(header, rec, strict=False))
    rows.append(
        (
            "claimstance",
            r["split"],
            r["topicText"].strip(),
            r["claims.claimCorrectedText"].strip(),
            "pro" if r["claims.stance"] == "PRO" else "con",
        )
    )

seen, out = set(), []
for r in rows:
    key = (r[2].lower(), r[3].lower())
    if not r[3] or key in seen:
        continue
    seen.add(key)
    out.append(r)
Path("data").mkdir(exist_ok=True)
with open("data/public_stance.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["corpus", "split", "topic", "text", "stance"])
    w.writerows(out)
from collections import Counter  # noqa: E402

print(len(out), Counter((r[0], r[4]) for r in out))
print({c: len({r[2] for r in out if r[0] == c}) for c in SRC}, "topics")
