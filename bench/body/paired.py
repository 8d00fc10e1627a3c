"""Per-split macro-F1 of the LR heads on frozen MiniLM vs the stance-tuned body, same folds.
Run: nice -n 10 .venv/bin/python bench/body/paired.py"""

import numpy as np
from common import EXP, frozen_X, load
from threadpoolctl import threadpool_limits

from stance.model.evaluate import cross_validate
from stance.model.train import nested_head_method

schema, labels, texts, y, groups = load()
X = frozen_X(texts)
Z = np.load(EXP / "cache/stance-mnrl_turns.npy")
cl = [c for c in schema.names if c in set(y)]
rows = []
with threadpool_limits(limits=1, user_api="blas"):
    for s in range(3):
        cv = cross_validate(
            {
                "frozen": nested_head_method(X, y, groups, schema.sides),
                "tuned": nested_head_method(Z, y, groups, schema.sides),
            },
            y,
            groups,
            cl,
            schema.sides,
            seed=s,
            repeats=1,
        )
        rows.append((s, cv["frozen"]["macro_f1"], cv["tuned"]["macro_f1"]))
        print(
            f"split {s}: frozen {rows[-1][1]:.3f} tuned {rows[-1][2]:.3f} diff {rows[-1][2] - rows[-1][1]:+.3f}",
            flush=True,
        )
d = [r[2] - r[1] for r in rows]
print(f"mean diff {np.mean(d):+.3f} (sd {np.std(d, ddof=1):.3f})")
