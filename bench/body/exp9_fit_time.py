"""Where the default method's fit spends its time, on all the shipped labels.

    STANCE_CACHE=DIR python bench/body/exp9_fit_time.py

Times `choose_C`, a calibrated embedding head, the lexical head with and
without calibration, and the nested TF-IDF weight search, each on every label
in `labels/*.csv` (one fit each, no CV). Results in RESULTS.md ("Shipped since").
"""

import time
from pathlib import Path

import numpy as np

from stance.core.schema import find_schema
from stance.labelling.labels import label_groups, load_labels
from stance.model import train
from stance.model.classify import StanceClassifier
from stance.model.estimators import LexicalHead, StanceHead
from stance.model.evaluate import choose_C

ROOT = Path(__file__).resolve().parents[2]


def timed(name, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def main() -> None:
    schema = find_schema(ROOT / "labels" / "schema.toml")
    labels = load_labels(sorted((ROOT / "labels").glob("*.csv")), schema.names)
    texts = np.array([lab.text for lab in labels], dtype=object)
    y = np.array([lab.stance for lab in labels])
    groups = np.array(label_groups(labels))
    X = StanceClassifier().features(list(texts)).astype(np.float64)
    print(f"{len(y)} labels, {len(set(groups))} conversations", flush=True)
    C = timed("choose_C", lambda: choose_C(X, y, groups, schema.sides))
    timed("StanceHead, calibrated", lambda: StanceHead(C=C).fit(X, y, groups))
    timed(
        "LexicalHead, uncalibrated",
        lambda: LexicalHead(calibrate=False).fit(texts, y, groups),
    )
    timed("LexicalHead, calibrated", lambda: LexicalHead().fit(texts, y, groups))
    w = timed(
        "choose_lexical_weight",
        lambda: train.choose_lexical_weight(texts, X, y, groups, C, schema.sides),
    )
    print(f"C {C}, TF-IDF weight {w}")


if __name__ == "__main__":
    main()
