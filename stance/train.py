"""Training: labels → grouped-CV metrics (with baselines) → a saved model directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .classify import StanceClassifier, StanceHead
from .errors import InputError
from .evaluate import (
    cross_validate,
    grouped_folds,
    majority_method,
    metrics,
    tfidf_method,
)
from .files import sha256_file
from .labels import Label, load_labels
from .schema import Schema
from .zeroshot import METHOD as ZERO_SHOT
from .zeroshot import zero_shot_head, zero_shot_method

C_GRID = (0.1, 0.3, 1.0, 4.0)
METHOD = "embedding+logreg"


def choose_C(X: np.ndarray, y: np.ndarray, groups: np.ndarray, sides) -> float:
    """Pick C by grouped CV inside the given rows only (never the outer test fold)."""
    classes = sorted(set(y))
    try:
        folds = grouped_folds(groups, n_folds=4, seed=1)
    except ValueError:
        return 1.0
    best, best_score = 1.0, -1.0
    for C in C_GRID:
        pred = np.empty(len(y), dtype=object)
        for tr, te in folds:
            if len(set(y[tr])) < 2:
                pred[te] = y[tr][0]
                continue
            pred[te] = StanceHead(C=C, calibrate=False).fit(X[tr], y[tr]).predict(X[te])
        score = metrics(y, pred.astype(str), classes, sides)["macro_f1"]
        if score > best_score:
            best, best_score = C, score
    return best


def nested_head_method(X, y, groups, sides):
    def run(train, test):
        C = choose_C(X[train], y[train], groups[train], sides)
        return StanceHead(C=C, calibrate=False).fit(X[train], y[train]).predict(X[test])

    return run


def thread_aware_method(X, y, groups, labels, schema, page_turns, embed):
    """The head as above, then `context.thread_adjust` over whole test threads.

    Every turn of each test conversation (labelled or not) is scored, so the
    adjustment sees the same neighbours it would see when labelling a page.
    """
    from .context import thread_adjust
    from .normalize import normalize_text

    by_conv: dict[str, list] = {}
    for t in page_turns:
        by_conv.setdefault(t.conversation_id, []).append(t)
    position = {}
    for conv, ts in by_conv.items():
        for i, t in enumerate(ts):
            position.setdefault((conv, normalize_text(t.text)), i)
    vectors = {conv: embed([t.text for t in ts]) for conv, ts in by_conv.items()}

    def run(train, test):
        C = choose_C(X[train], y[train], groups[train], schema.sides)
        head = StanceHead(C=C)
        head.fit(X[train], y[train], groups[train])
        classes = list(head.classes_)
        proba = head.predict_proba(X[test])
        for conv in set(groups[test]):
            if conv not in by_conv:
                continue
            adj = thread_adjust(
                by_conv[conv],
                head.predict_proba(vectors[conv]),
                classes,
                schema.sides,
            )
            for j, i in enumerate(test):
                k = position.get((conv, labels[i].key))
                if groups[i] == conv and k is not None:
                    proba[j] = adj[k]
        return np.array(classes)[proba.argmax(axis=1)]

    return run


def _groups(labels: list[Label]) -> np.ndarray:
    return np.array(
        [lab.conversation_id or Path(lab.source or lab.file).name for lab in labels]
    )


def train(
    label_paths: list[Path],
    schema: Schema,
    output: Path | None,
    backend: str = "onnx",
    embedder=None,
    previous: Path | None = None,
    threads: list[Path] | None = None,
) -> dict:
    """Cross-validate, then fit on all labels and save; return the report dict."""
    labels = load_labels(label_paths, schema.names)
    if len(labels) < 10:
        raise InputError(
            label_paths[0] if label_paths else "labels",
            f"only {len(labels)} labels; need at least 10 to train",
        )
    texts = [lab.text for lab in labels]
    y = np.array([lab.stance for lab in labels])
    groups = _groups(labels)
    classes = [c for c in schema.names if c in set(y)]
    model = StanceClassifier(backend=backend, embedder=embedder)
    t0 = time.perf_counter()
    X = model.features(texts).astype(np.float64)
    embed_s = time.perf_counter() - t0
    t0 = time.perf_counter()

    def embed(t):
        return model.features(t).astype(np.float64)

    methods = {METHOD: nested_head_method(X, y, groups, schema.sides)}
    if threads:
        from .parse import parse_paths

        page_turns = parse_paths(threads).turns
        methods[METHOD + "+thread"] = thread_aware_method(
            X, y, groups, labels, schema, page_turns, embed
        )
    methods[ZERO_SHOT] = zero_shot_method(X, zero_shot_head(schema, embed))
    methods["tfidf+logreg"] = tfidf_method(texts, y)
    methods["majority"] = majority_method(y)
    cv = cross_validate(
        methods,
        y,
        groups,
        classes,
        schema.sides,
    )
    cv_s = time.perf_counter() - t0
    C = choose_C(X, y, groups, schema.sides)
    model.C = C
    model.head_ = StanceHead(C=C).fit(X, y, groups)
    model.classes_ = model.head_.classes_
    model.encoder_id_ = model._embedder().id
    counts = {c: int((y == c).sum()) for c in classes}
    report = {
        "method": METHOD,
        "n_labels": len(labels),
        "n_conversations": int(len(set(groups))),
        "label_counts": counts,
        "C": C,
        "cv": {
            k: {m: v for m, v in r.items() if m != "oof_pred"} for k, r in cv.items()
        },
        "oof": {
            "texts": texts,
            "y": y.tolist(),
            "groups": groups.tolist(),
            "pred": cv[METHOD]["oof_pred"],
            "files": [lab.file for lab in labels],
            "lines": [lab.line for lab in labels],
        },
        "timing_s": {"embed": round(embed_s, 2), "cv": round(cv_s, 2)},
    }
    if previous is not None:
        report["previous"] = _previous_metrics(previous)
    if output is not None:
        extra = {
            "schema": {
                "name": schema.name,
                "labels": list(schema.names),
                "sides": list(schema.sides),
            },
            "training": {
                "method": METHOD,
                "C": C,
                "C_grid": list(C_GRID),
                "cv": f"GroupKFold({min(5, len(set(groups)))}) by conversation",
                "n_labels": len(labels),
                "label_counts": counts,
            },
            "label_files": {str(p): sha256_file(p) for p in label_paths},
            "metrics": report["cv"],
        }
        model.save(output, extra_config=extra, card=model_card(report, schema, extra))
        report["output"] = str(output)
    return report


def _previous_metrics(path: Path) -> dict | None:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return None
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
        # the replaced model's own method, so a renamed method still compares
        method = data.get("training", {}).get("method", METHOD)
        found = data.get("metrics", {}).get(method)
        if found is None:
            return None
        return {**found, "n_labels": data.get("training", {}).get("n_labels")}
    except (json.JSONDecodeError, OSError):
        return None


def model_card(report: dict, schema: Schema, extra: dict) -> str:
    lines = [
        f"# stance model: {schema.name}",
        "",
        f"Target: {schema.target}",
        "",
        f"Body: {extra.get('training', {}).get('method', METHOD)} on all-MiniLM-L6-v2 "
        "(packaged weights, offline); head: logistic regression, balanced class weights, "
        f"C={report['C']} (chosen by grouped CV), temperature-calibrated probabilities.",
        "",
        f"Trained on {report['n_labels']} labels from {report['n_conversations']} "
        f"conversations: {report['label_counts']}.",
        "",
        "## Grouped cross-validation (folds by conversation, same folds for every row)",
        "",
        metrics_table(report["cv"], schema),
        "",
        "Reproduce: `stance train` (all files in labels/).",
        "",
        "## Label files",
        "",
        *[f"- `{p}` sha256 {h[:16]}" for p, h in extra.get("label_files", {}).items()],
        "",
    ]
    return "\n".join(lines)


def metrics_table(cv: dict, schema: Schema) -> str:
    names = list(schema.names)
    head = (
        "| method | macro-F1 | F_avg | " + " | ".join(f"F1 {n}" for n in names) + " |"
    )
    sep = "|---" * (3 + len(names)) + "|"
    rows = [head, sep]
    for method, m in cv.items():
        per = [f"{m['per_class'].get(n, {}).get('f1', 0):.3f}" for n in names]
        rows.append(
            f"| {method} | {m['macro_f1']:.3f} | {m['f_avg']:.3f} | "
            + " | ".join(per)
            + " |"
        )
    return "\n".join(rows)
