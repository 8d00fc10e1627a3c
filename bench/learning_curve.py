"""Learning curve: grouped-CV macro-F1 against the number of training labels,
labels added at random versus in `stance suggest` order.

Run with `make bench-curve` (python bench/learning_curve.py [--seeds N]).

`--methods` draws the curve of `stance train`'s methods instead, labels added in
random order: the default `embedding+tfidf` (`train.fit_default`, its C and TF-IDF
weight chosen inside the training labels), the embedding head alone, and the
TF-IDF baseline, in the same folds and orders (bench/results/method_curve.*).

For each seed the labels are split into 5 grouped folds (by conversation, as in
`stance train`); every test fold is held out whole. Inside the other folds:

- random: the labels in a random order;
- suggest: the first STEP labels of that same random order, then rounds of STEP
  labels chosen the way `stance suggest` chooses them (`suggest.uncertainty`
  margin + `suggest.diverse_order`: round-robin over conversations, no
  near-duplicates of each other or of labels already taken) by a calibrated head
  trained on the labels taken so far (C by `evaluate.choose_C`, as `stance train`).

At each size the first N labels of the order train a head (C by
`evaluate.choose_C`), which predicts the held-out fold; the out-of-fold predictions
of the 5 folds give one macro-F1 per seed and size. Writes
bench/results/learning_curve.{md,png,json} and the table into BENCHMARKS.md.
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
# Hundreds of small logistic regressions: one BLAS thread each is several times
# faster than two threads contending (measured 0.011 s vs 0.14 s a fit at 320).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

from stance.core.progress import NO_PROGRESS, on_terminal, progress_bars  # noqa: E402

SIZES = (20, 40, 80, 160, 320)
STEP = 20
STRATEGIES = ("random", "suggest", "margin only")
COLORS = {"random": "#8c8c8c", "suggest": "#2b7bba", "margin only": "#e67e22"}
N_FOLDS = 5
BEGIN, END = "<!-- learning-curve:begin -->", "<!-- learning-curve:end -->"
METHOD_MARKERS = ("<!-- method-curve:begin -->", "<!-- method-curve:end -->")
METHOD_COLORS = {
    "embedding+tfidf": "#2b7bba",
    "embedding+logreg": "#8c8c8c",
    "tfidf+logreg": "#e67e22",
}


def load_data():
    from stance.core.schema import read_schema
    from stance.ingest.dedup import find_duplicates
    from stance.labelling.labels import label_files, label_groups, load_labels
    from stance.model.classify import StanceClassifier

    schema = read_schema(ROOT / "labels" / "schema.toml")
    labels = load_labels(label_files(None, ROOT / "labels"), schema.names)
    texts = [lab.text for lab in labels]
    X = StanceClassifier(backend="onnx").features(texts).astype(np.float64)
    y = np.array([lab.stance for lab in labels])
    groups = np.array(label_groups(labels))
    dup = np.array(find_duplicates(texts))
    return schema, X, y, groups, dup, np.array(texts, dtype=object)


def fit_head(X, y, groups, sides, calibrate: bool):
    from stance.model.estimators import StanceHead
    from stance.model.evaluate import choose_C

    C = choose_C(X, y, groups, sides)
    return StanceHead(C=C, calibrate=calibrate).fit(X, y, groups if calibrate else None)


def first_holding(order, y: np.ndarray, n: int, classes: int) -> list[int]:
    """The first n of the order, longer if needed to hold `classes` labels."""
    k = n
    while len(set(y[order[:k]])) < classes and k < len(order):
        k += 1
    return list(order[:k])


def random_start(perm: np.ndarray, y: np.ndarray) -> list[int]:
    """The first STEP of the random order, longer if needed to hold two labels."""
    return first_holding(perm, y, STEP, 2)


def suggest_order(
    perm, X, y, groups, dup, sides, upto: int, spread: bool = True
) -> list[int]:
    """Training indices in the order uncertainty sampling would label them.

    `spread=False` is plain uncertainty sampling: the STEP most uncertain, with
    no round-robin over conversations and no near-duplicate rule.
    """
    from stance.labelling.suggest import diverse_order, uncertainty

    chosen = random_start(perm, y)
    taken = set(chosen)
    pool = [i for i in perm if i not in taken]
    while len(chosen) < upto and pool:
        head = fit_head(X[chosen], y[chosen], groups[chosen], sides, calibrate=True)
        taken_groups = {dup[i] for i in chosen}
        fresh = [i for i in pool if dup[i] not in taken_groups] if spread else pool
        if not fresh:
            fresh = pool
        unc = uncertainty(head.predict_proba(X[fresh]), "margin")
        if spread:
            order = diverse_order(unc, list(groups[fresh]), list(dup[fresh]))
        else:
            order = diverse_order(unc, list(range(len(fresh))))
        batch = [fresh[k] for k in order[:STEP]]
        chosen += batch
        taken.update(batch)
        pool = [i for i in pool if i not in taken]
    return chosen + [i for i in perm if i not in taken]


def run(n_seeds: int, progress=NO_PROGRESS) -> dict:
    from stance.model.evaluate import grouped_folds, metrics

    t0 = time.perf_counter()
    schema, X, y, groups, dup, _ = load_data()
    embed_s = time.perf_counter() - t0
    names, sides = list(schema.names), list(schema.sides)
    sizes = [*SIZES, "all"]
    scores = {s: {str(n): [] for n in sizes} for s in STRATEGIES}
    n_train = []
    task = progress.task("seeds x folds", total=n_seeds * N_FOLDS, unit="folds")
    for seed in range(n_seeds):
        folds = grouped_folds(groups, N_FOLDS, seed=seed)
        preds = {
            s: {str(n): np.empty(len(y), dtype=object) for n in sizes} for s in scores
        }
        for f, (train, test) in enumerate(folds):
            task.advance()
            n_train.append(len(train))
            perm = np.random.default_rng(seed * 100 + f).permutation(train)
            orders = {
                "random": list(perm),
                "suggest": suggest_order(perm, X, y, groups, dup, sides, max(SIZES)),
                "margin only": suggest_order(
                    perm, X, y, groups, dup, sides, max(SIZES), spread=False
                ),
            }
            for strategy, order in orders.items():
                for n in sizes:
                    sel = order if n == "all" else order[:n]
                    head = fit_head(X[sel], y[sel], groups[sel], sides, calibrate=False)
                    preds[strategy][str(n)][test] = head.predict(X[test])
        for strategy in scores:
            for n in sizes:
                p = preds[strategy][str(n)].astype(str)
                scores[strategy][str(n)].append(metrics(y, p, names, sides)["macro_f1"])
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {
        "n_labels": int(len(y)),
        "n_conversations": int(len(set(groups))),
        "train_fold_sizes": [int(min(n_train)), int(max(n_train))],
        "seeds": n_seeds,
        "step": STEP,
        "sizes": [str(n) for n in sizes],
        "macro_f1": scores,
        "embed_s": round(embed_s, 1),
        "total_s": round(time.perf_counter() - t0, 1),
    }


def method_predictors(texts, X, y, groups, sides):
    """name -> fit(train indices) -> predict(test indices), as `stance train`."""
    from stance.model.evaluate import tfidf_method
    from stance.model.train import (
        EMBEDDING_ONLY,
        METHOD,
        TFIDF,
        fit_default,
        nested_head_method,
    )

    class Shared:  # the texts are embedded already; the models only need its id
        id = "bench"

    def default(train):
        m = fit_default(texts[train], X[train], y[train], groups[train], sides, Shared)
        return lambda test: m.classes_[
            m.proba_from(list(texts[test]), X[test]).argmax(axis=1)
        ]

    return {
        METHOD: default,
        EMBEDDING_ONLY: nested_head_method(X, y, groups, sides),
        TFIDF: tfidf_method(list(texts), y),
    }


def run_methods(n_seeds: int, progress=NO_PROGRESS, sizes_=SIZES) -> dict:
    """Macro-F1 against training labels (random order) for each train method."""
    from stance.model.evaluate import grouped_folds, metrics

    t0 = time.perf_counter()
    schema, X, y, groups, _, texts = load_data()
    embed_s = time.perf_counter() - t0
    names, sides = list(schema.names), list(schema.sides)
    methods = method_predictors(texts, X, y, groups, sides)
    sizes = [*sizes_, "all"]
    scores = {m: {str(n): [] for n in sizes} for m in methods}
    fit_s = {m: {str(n): [] for n in sizes} for m in methods}
    n_train = []
    task = progress.task("seeds x folds", total=n_seeds * N_FOLDS, unit="folds")
    for seed in range(n_seeds):
        folds = grouped_folds(groups, N_FOLDS, seed=seed)
        preds = {
            m: {str(n): np.empty(len(y), dtype=object) for n in sizes} for m in methods
        }
        for f, (train, test) in enumerate(folds):
            task.advance()
            n_train.append(len(train))
            order = np.random.default_rng(seed * 100 + f).permutation(train)
            for n in sizes:
                every = len(set(y))
                sel = order if n == "all" else first_holding(order, y, n, every)
                for name, fit in methods.items():
                    t1 = time.perf_counter()
                    predict = fit(np.asarray(sel))
                    fit_s[name][str(n)].append(time.perf_counter() - t1)
                    preds[name][str(n)][test] = predict(test)
        for name in methods:
            for n in sizes:
                p = preds[name][str(n)].astype(str)
                scores[name][str(n)].append(metrics(y, p, names, sides)["macro_f1"])
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {
        "n_labels": int(len(y)),
        "n_conversations": int(len(set(groups))),
        "train_fold_sizes": [int(min(n_train)), int(max(n_train))],
        "seeds": n_seeds,
        "sizes": [str(n) for n in sizes],
        "macro_f1": scores,
        "fit_s": {
            m: {n: float(np.mean(v)) for n, v in d.items()} for m, d in fit_s.items()
        },
        "embed_s": round(embed_s, 1),
        "total_s": round(time.perf_counter() - t0, 1),
    }


def method_table(res: dict) -> str:
    lo, hi = res["train_fold_sizes"]
    names = list(res["macro_f1"])
    lines = [
        "| training labels | "
        + " | ".join(f"{m} macro-F1" for m in names)
        + " | embedding+tfidf fit s |",
        "|---" * (len(names) + 2) + "|",
    ]
    first = names[0]
    for n in res["sizes"]:
        label = f"all ({lo}-{hi})" if n == "all" else n
        cells = [
            f"{np.mean(res['macro_f1'][m][n]):.3f} ± {_sd(res['macro_f1'][m][n]):.3f}"
            for m in names
        ]
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {res['fit_s'][first][n]:.1f} |"
        )
    return "\n".join(lines)


def _sd(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def table(res: dict) -> str:
    lo, hi = res["train_fold_sizes"]
    lines = [
        "| training labels | random order | suggest order | margin only | "
        "suggest − random | seeds where suggest wins |",
        "|---|---|---|---|---|---|",
    ]
    for n in res["sizes"]:
        cell = {k: np.array(v[n]) for k, v in res["macro_f1"].items()}
        r, s = cell["random"], cell["suggest"]
        label = f"all ({lo}-{hi})" if n == "all" else n
        lines.append(
            f"| {label} | "
            + " | ".join(
                f"{cell[k].mean():.3f} ± {_sd(cell[k]):.3f}" for k in STRATEGIES
            )
            + f" | {s.mean() - r.mean():+.3f} | {int((s > r).sum())} of {len(r)} |"
        )
    return "\n".join(lines)


def plot(res: dict, path: Path, colors: dict | None = None, suffix=" order") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = res["train_fold_sizes"]
    xs = [int(n) if n != "all" else (lo + hi) // 2 for n in res["sizes"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colors = colors or COLORS
    for strategy in colors:
        color = colors[strategy]
        m = np.array([np.mean(res["macro_f1"][strategy][n]) for n in res["sizes"]])
        sd = np.array([_sd(res["macro_f1"][strategy][n]) for n in res["sizes"]])
        ax.plot(xs, m, "o-", color=color, label=f"{strategy}{suffix}")
        ax.fill_between(xs, m - sd, m + sd, color=color, alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [n for n in res["sizes"]])
    ax.set_xlabel("training labels (log scale)")
    ax.set_ylabel("macro-F1, grouped CV by conversation")
    ax.set_title(f"Learning curve, {res['seeds']} seeds × {N_FOLDS} grouped folds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def publish(section: str, path: Path, benchmarks_md: bool, *where) -> None:
    """Print a bench's section, write it to path and (unless told not to) into
    BENCHMARKS.md between its markers (`where`: markers, title)."""
    path.write_text(section + "\n")
    print(section)
    if benchmarks_md:
        write_benchmarks(section, *where)


def write_benchmarks(
    section: str,
    markers=(BEGIN, END),
    title: str = "Learning curve: active vs random",
) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    begin, end_marker = markers
    block = f"{begin}\n{section}\n{end_marker}"
    if begin in text and end_marker in text:
        start, end = text.index(begin), text.index(end_marker) + len(end_marker)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n" + block
    path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--no-benchmarks-md", action="store_true")
    ap.add_argument(
        "--methods", action="store_true", help="curve of each train method instead"
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="with --methods: training-label counts, comma-separated (all is added)",
    )
    args = ap.parse_args()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    with progress_bars(on_terminal() and not args.quiet) as bars:
        if args.methods:
            main_methods(args, out, bars)
            return
        res = run(args.seeds, bars)
    (out / "learning_curve.json").write_text(json.dumps(res, indent=2) + "\n")
    plot(res, out / "learning_curve.png")
    head = (
        f"Command: `make bench-curve` (python bench/learning_curve.py --seeds "
        f"{res['seeds']}); {res['n_labels']} labels from {res['n_conversations']} "
        f"conversations; {res['seeds']} seeds × {N_FOLDS} grouped folds, suggest "
        f"order in rounds of {res['step']}; run time {res['total_s']:.0f} s on "
        f"{os.cpu_count()} cores ({res['embed_s']:.0f} s of it embedding). "
        "Plot: bench/results/learning_curve.png."
    )
    section = head + "\n\n" + table(res)
    publish(section, out / "learning_curve.md", not args.no_benchmarks_md)


def main_methods(args, out: Path, progress=NO_PROGRESS) -> None:
    sizes = tuple(int(s) for s in args.sizes.split(","))
    res = run_methods(args.seeds, progress, sizes)
    (out / "method_curve.json").write_text(json.dumps(res, indent=2) + "\n")
    plot(res, out / "method_curve.png", METHOD_COLORS, suffix="")
    head = (
        f"Command: `make bench-curve-methods` (python bench/learning_curve.py "
        f"--methods --seeds {res['seeds']} --sizes "
        f"{','.join(res['sizes'][:-1])}); {res['n_labels']} labels from "
        f"{res['n_conversations']} conversations; {res['seeds']} seeds × {N_FOLDS} "
        "grouped folds, labels taken in random order inside the training folds, "
        "every method on the same labels; hyperparameters chosen inside those "
        f"labels as in `stance train`; run time {res['total_s']:.0f} s on "
        f"{os.cpu_count()} cores. Plot: bench/results/method_curve.png."
    )
    section = head + "\n\n" + method_table(res)
    publish(
        section,
        out / "method_curve.md",
        not args.no_benchmarks_md,
        METHOD_MARKERS,
        "Learning curve of the train methods",
    )


if __name__ == "__main__":
    main()
