"""Label quality: conflicts, near-duplicates labelled differently, class balance,
and the labels most likely wrong.

The suspects come from grouped cross-validation (folds by conversation, else
source, as in training): each label's out-of-fold probability of its own label
under the model's body (`StanceClassifier.features`) and head
(`estimators.StanceHead`, C chosen by `evaluate.choose_C`). They are ranked by that
probability, lowest first, and flagged as confident learning (cleanlab's
`find_label_issues`, filter "confident_learning") does: among the labels whose
probability reaches that label's average self-confidence, the most probable one
is not the given label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance.labelling.labels import Label, label_groups, read_label_rows

MIN_FOR_CV = 10


def _where(lab: Label) -> dict:
    return {"file": lab.file, "line": lab.line, "stance": lab.stance, "text": lab.text}


def find_conflicts(rows: Sequence[Label]) -> list[list[dict]]:
    """Texts (normalised) labelled more than one way: every place they occur."""
    by_key: dict[str, list[Label]] = {}
    for lab in rows:
        by_key.setdefault(lab.key, []).append(lab)
    return [
        [_where(x) for x in group]
        for group in by_key.values()
        if len({x.stance for x in group}) > 1
    ]


def find_near_duplicates(rows: Sequence[Label]) -> list[list[dict]]:
    """Groups of near-duplicate (not identical) texts that carry different labels."""
    from stance.ingest.dedup import find_duplicates

    first: dict[str, Label] = {}
    for lab in rows:
        first.setdefault(lab.key, lab)
    uniq = list(first.values())
    rep = find_duplicates([lab.text for lab in uniq])
    groups: dict[int, list[Label]] = {}
    for i, r in enumerate(rep):
        groups.setdefault(r, []).append(uniq[i])
    return [
        [_where(x) for x in g]
        for g in groups.values()
        if len(g) > 1 and len({x.stance for x in g}) > 1
    ]


def class_balance(
    rows_by_file: dict[str, list[Label]], names: Sequence[str]
) -> list[dict]:
    """Label counts per file and in total."""
    out = []
    total = dict.fromkeys(names, 0)
    for file, rows in rows_by_file.items():
        counts = dict.fromkeys(names, 0)
        for lab in rows:
            counts[lab.stance] += 1
            total[lab.stance] += 1
        out.append({"file": file, "n": len(rows), "counts": counts})
    out.append({"file": "all", "n": sum(total.values()), "counts": total})
    return out


def out_of_fold_proba(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: Sequence[str],
    sides: Sequence[str],
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Grouped-CV probabilities (columns in schema order) and the C used."""
    from threadpoolctl import threadpool_limits

    from stance.model.estimators import StanceHead
    from stance.model.evaluate import choose_C, grouped_folds

    # ~70 small logistic regressions: one BLAS thread is faster than several
    # contending (`stance labels check` on 805 labels: 7 s against 20 s, 2 cores).
    with threadpool_limits(limits=1, user_api="blas"):
        C = choose_C(X, y, groups, sides)
        proba = np.zeros((len(y), len(names)))
        for train, test in grouped_folds(groups, seed=seed):
            if len(set(y[train])) < 2:
                continue
            head = StanceHead(C=C).fit(X[train], y[train], groups[train])
            p = head.predict_proba(X[test])
            for k, c in enumerate(head.classes_):
                proba[test, list(names).index(c)] = p[:, k]
    return proba, C


def rank_suspects(
    labels: Sequence[Label], proba: np.ndarray, names: Sequence[str]
) -> list[dict]:
    """Every label with its out-of-fold self-confidence, lowest first."""
    names = list(names)
    y = np.array([names.index(lab.stance) for lab in labels])
    self_conf = proba[np.arange(len(y)), y]
    thresholds = np.array(
        [proba[y == j, j].mean() if (y == j).any() else 1.0 for j in range(len(names))]
    )
    out = []
    for i in np.argsort(self_conf, kind="stable"):
        above = [j for j in range(len(names)) if proba[i, j] >= thresholds[j]]
        confident = max(above, key=lambda j: proba[i, j]) if above else y[i]
        best = int(np.argmax(proba[i]))
        out.append(
            {
                **_where(labels[i]),
                "p_given": float(self_conf[i]),
                "predicted": names[best],
                "p_predicted": float(proba[i, best]),
                "flagged": bool(confident != y[i]),
            }
        )
    return out


def check_labels(
    label_paths: Sequence[Path],
    schema,
    top: int = 20,
    use_model: bool = True,
    backend: str = "onnx",
    embedder=None,
) -> dict:
    """All checks on the label files; see the module docstring."""
    names = list(schema.names)
    rows_by_file: dict[str, list[Label]] = {}
    pending: dict[str, int] = {}
    for p in label_paths:
        rows, pend = read_label_rows(p, names)
        rows_by_file[str(p)] = rows
        if pend:
            pending[str(p)] = len(pend)
    rows = [lab for rs in rows_by_file.values() for lab in rs]
    conflicts = find_conflicts(rows)
    report: dict = {
        "n_rows": len(rows),
        "pending": pending,
        "conflicts": conflicts,
        "near_duplicates": find_near_duplicates(rows),
        "balance": class_balance(rows_by_file, names),
        "suspects": [],
        "n_flagged": 0,
        "cv": None,
    }
    if not use_model:
        return report
    stances: dict[str, set[str]] = {}
    for lab in rows:
        stances.setdefault(lab.key, set()).add(lab.stance)
    uniq: dict[str, Label] = {}
    for lab in rows:  # conflicting texts sit out: they have no given label
        if len(stances[lab.key]) == 1:
            uniq.setdefault(lab.key, lab)
    labels = list(uniq.values())
    groups = np.array(label_groups(labels))
    y = np.array([lab.stance for lab in labels])
    if len(labels) < MIN_FOR_CV or len(set(groups)) < 2 or len(set(y)) < 2:
        report["cv"] = {
            "skipped": f"need {MIN_FOR_CV}+ labels from 2+ conversations and 2+ labels"
        }
        return report
    from stance.model.classify import StanceClassifier
    from stance.model.evaluate import metrics

    X = StanceClassifier(backend=backend, embedder=embedder).features(
        [lab.text for lab in labels]
    )
    proba, C = out_of_fold_proba(X.astype(np.float64), y, groups, names, schema.sides)
    ranked = rank_suspects(labels, proba, names)
    pred = [names[int(k)] for k in proba.argmax(axis=1)]
    m = metrics(list(y), pred, names, schema.sides)
    report["cv"] = {
        "n": len(labels),
        "conversations": int(len(set(groups))),
        "C": C,
        "macro_f1": m["macro_f1"],
    }
    report["n_flagged"] = sum(r["flagged"] for r in ranked)
    report["suspects"] = ranked[:top]
    return report


def _snip(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _rel(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render_check(rep: dict, names: Sequence[str]) -> str:
    """The check report as plain text; every place is `file:line`."""
    lines = [f"{rep['n_rows']} labelled rows"]
    for file, n in rep["pending"].items():
        lines.append(
            f"{file}: {n} rows with an empty stance (skipped, not labelled yet)"
        )
    lines += ["", f"conflicts (one text, different labels): {len(rep['conflicts'])}"]
    for group in rep["conflicts"]:
        places = ", ".join(
            f"{_rel(x['file'])}:{x['line']} {x['stance']}" for x in group
        )
        lines.append(f'  {places}  "{_snip(group[0]["text"])}"')
    near = rep["near_duplicates"]
    lines += ["", f"near-duplicate texts labelled differently: {len(near)}"]
    for group in near:
        lines.append(
            "  "
            + " | ".join(
                f'{_rel(x["file"])}:{x["line"]} {x["stance"]} "{_snip(x["text"], 50)}"'
                for x in group
            )
        )
    lines += [
        "",
        "class balance:",
        "| file | n | " + " | ".join(names) + " |",
        "|---" * (2 + len(names)) + "|",
    ]
    for b in rep["balance"]:
        cells = " | ".join(
            f"{b['counts'][c]} ({b['counts'][c] / b['n']:.0%})" if b["n"] else "0"
            for c in names
        )
        lines.append(f"| {_rel(b['file'])} | {b['n']} | {cells} |")
    cv = rep.get("cv")
    if cv and "skipped" in cv:
        lines += ["", f"likely mislabelled: skipped ({cv['skipped']})"]
    elif cv:
        lines += [
            "",
            f"likely mislabelled (out-of-fold probability of the given label, grouped "
            f"CV over {cv['conversations']} conversations, C={cv['C']}, out-of-fold "
            f"macro-F1 {cv['macro_f1']:.3f}; {rep['n_flagged']} of {cv['n']} flagged "
            "by the confident-learning rule, marked *):",
        ]
        for s in rep["suspects"]:
            lines.append(
                f"  {'*' if s['flagged'] else ' '} {_rel(s['file'])}:{s['line']} given "
                f"{s['stance']} p={s['p_given']:.2f}, model says {s['predicted']} "
                f'{s["p_predicted"]:.2f}  "{_snip(s["text"], 70)}"'
            )
    return "\n".join(lines)
