"""Labelled turns + chains → the report data (distributions, agreement with human
labels, chains, key arguments, what to label next)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance.core.progress import NO_PROGRESS, Progress
from stance.core.schema import UNCERTAIN, Schema
from stance.core.thread import Turn
from stance.ingest.chains import build_chains, describe_chain
from stance.ingest.lang import ENCODER_LANGUAGES
from stance.report.model import (
    Agreement,
    AgreementRow,
    Group,
    Label,
    Report,
)
from stance.report.sections import page_of, period

UNCERTAIN_BELOW = 0.5

NO_STANCE = "–"  # a turn left without a stance (its language), in chains

TOP_CHAINS = 12

TO_LABEL_NEXT = 15

NOTHING_TO_LABEL = (
    "Nothing: every turn of these pages is labelled already (or a near-duplicate "
    "of a labelled one)."
)


def month_of(row: dict) -> str:
    """`YYYY-MM` (UTC) of a row's timestamp in Unix seconds, else `(no date)`."""
    ts = row.get("timestamp")
    if isinstance(ts, str):
        try:
            ts = float(ts)
        except ValueError:
            return "(no date)"
    if not isinstance(ts, int | float) or ts != ts:
        return "(no date)"
    try:
        return period(ts, "month")
    except (OverflowError, OSError, ValueError):
        return "(no date)"


def dataset_report(rows: Sequence[dict], schema: Schema, dataset: str) -> Report:
    """The report data of labelled rows read back (`stance label` output), in
    one process: distributions per page, speaker and month, no chains.
    `scale.report.dataset_report` computes the same with dask.dataframe."""
    names = list(schema.names)
    skipped = Counter(r["skipped"] for r in rows if r.get("skipped"))
    return counted_report(
        schema,
        model=rows[0]["model"] if rows else "model",
        n=len(rows),
        abstained=sum(r.get("stance") == UNCERTAIN for r in rows),
        skipped=dict(skipped.most_common()),
        overall=distribution(rows, names, lambda r: "all turns")[0] if rows else None,
        per_page=distribution(rows, names, page_of),
        per_speaker=distribution(
            rows, names, lambda r: r.get("speaker") or "(unknown)"
        ),
        per_month=distribution(rows, names, month_of),
        dataset=dataset,
    )


def counted_report(
    schema: Schema,
    *,
    model: str,
    n: int,
    abstained: int,
    skipped: dict[str, int],
    overall: dict | None,
    per_page: Sequence[dict],
    per_speaker: Sequence[dict],
    per_month: Sequence[dict],
    dataset: str,
) -> Report:
    """The `Report` of a labelled dataset from its counts (`distribution`'s
    dicts): no chains, key points or suggestions, which need the threads."""
    names = list(schema.names)
    return Report(
        name=schema.name,
        target=schema.target,
        model=model,
        labels=tuple(Label(spec.name, spec.color) for spec in schema.labels),
        sides=tuple(schema.sides),
        n=n,
        counts={k: overall["counts"][k] for k in names}
        if overall
        else dict.fromkeys(names, 0),
        uncertain_below=UNCERTAIN_BELOW,
        abstained=abstained,
        skipped=skipped,
        overall=Group(**overall) if overall else None,
        per_page=tuple(Group(**d) for d in per_page),
        per_speaker=tuple(Group(**d) for d in per_speaker if d["group"] != "(unknown)"),
        agreement=None,
        key_points=(),
        coverage={},
        rebuttals=(),
        timelines=(),
        chains=(),
        chain_warnings=(),
        next_to_label=(),
        per_month=tuple(Group(**d) for d in per_month),
        dataset=dataset,
    )


def distribution(
    rows: Sequence[dict],
    names: Sequence[str],
    key,
    uncertain_below: float = UNCERTAIN_BELOW,
) -> list[dict]:
    """Stance counts per group; shares are of the group's labelled turns, and
    `skipped` counts its turns left without a stance (their language).

    `uncertain` counts the turns under `uncertain_below` confidence, and those
    `--min-confidence` marked `uncertain` (counted for no label)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = []
    for g, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        scored = [r for r in rs if not r.get("skipped")]
        c = Counter(r["stance"] for r in scored)
        out.append(
            {
                "group": g,
                "n": len(rs),
                "counts": {n: c.get(n, 0) for n in names},
                "shares": {n: c.get(n, 0) / max(len(scored), 1) for n in names},
                "uncertain": sum(
                    r["stance"] == UNCERTAIN or r["confidence"] < uncertain_below
                    for r in scored
                ),
                "skipped": len(rs) - len(scored),
            }
        )
    return out


def f1_scores(y_true: Sequence[str], y_pred: Sequence[str], names) -> dict[str, float]:
    """Per-class F1 of the classes labelled or predicted (as scikit-learn's
    macro-F1 without `labels`: a page that lacks a class is not marked down)."""
    out = {}
    for c in [n for n in names if n in set(y_true) | set(y_pred)]:
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred, strict=True))
        n_true, n_pred = sum(t == c for t in y_true), sum(p == c for p in y_pred)
        out[c] = 2 * tp / (n_true + n_pred) if n_true + n_pred else 0.0
    return out


def _agreement_row(group: str, pairs: list[tuple[str, str]], names, extra=None):
    f1 = f1_scores([h for h, _ in pairs], [m for _, m in pairs], names)
    return {
        "group": group,
        "n": len(pairs),
        "agree": sum(h == m for h, m in pairs),
        "accuracy": sum(h == m for h, m in pairs) / len(pairs),
        "macro_f1": sum(f1.values()) / max(len(f1), 1),
        **(extra or {}),
    }


def agreement(rows: Sequence[dict], human: dict, names: Sequence[str]) -> dict | None:
    """Model vs. human labels where a turn has one: per page, per label-file
    status (held out / trained on), overall.

    `human`: turn id -> (stance, label file, status); see `human_labels`.
    """
    pairs_by_page: dict[str, list] = {}
    by_status: dict[str, list] = {}
    files_by_page: dict[str, set] = {}
    unscored = abstained = 0
    for r in rows:
        if r["id"] not in human:
            continue
        stance, file, status = human[r["id"]]
        if r.get("skipped"):
            unscored += 1
            continue
        if r["stance"] == UNCERTAIN:
            abstained += 1
            continue
        pair = (stance, r["stance"])
        pairs_by_page.setdefault(page_of(r), []).append(pair)
        by_status.setdefault(status, []).append(pair)
        files_by_page.setdefault(page_of(r), set()).add(f"{file} ({status})")
    if not by_status:
        return None
    return {
        "overall": _agreement_row(
            "all labelled turns", [p for ps in by_status.values() for p in ps], names
        ),
        "by_status": [
            _agreement_row(status, pairs, names)
            for status, pairs in sorted(by_status.items())
        ],
        "per_page": [
            _agreement_row(
                page, pairs, names, {"files": ", ".join(sorted(files_by_page[page]))}
            )
            for page, pairs in sorted(pairs_by_page.items())
        ],
        "unscored": unscored,
        "abstained": abstained,
    }


HELD_OUT, TRAINED_ON, NOT_TRAINED_ON = (
    "held out: never trained on",
    "trained on",
    "not trained on",
)


def label_file_status(path: Path, model, heldout: Sequence[Path], root: Path) -> str:
    """Whether the model was trained on this label file (by the path its config
    records, relative to the debate folder or here, or by content hash), or the
    file is the held-out set."""
    from stance.core.files import sha256_file

    config = getattr(model, "config_", {}) or {}
    recorded = config.get("label_files")
    recorded = recorded if isinstance(recorded, dict) else {}
    path = Path(path).resolve()
    for key in recorded:
        k = Path(key)
        places = [k] if k.is_absolute() else [root / k, Path.cwd() / k]
        if any(c.resolve() == path for c in places):
            return TRAINED_ON
    if sha256_file(path) in set(recorded.values()):
        return TRAINED_ON
    if path in {Path(h).resolve() for h in heldout}:
        return HELD_OUT
    return NOT_TRAINED_ON


def human_labels(turns: Sequence[Turn], schema: Schema, model) -> dict:
    """Turn id -> (stance, label file, status) for every turn a project label
    file labels (labels/*.csv and labels/heldout/*.csv), joined by text."""
    from stance.core.schema import project_root
    from stance.labelling.labels import (
        heldout_label_files,
        join_by_text,
        read_label_rows,
    )
    from stance.labelling.suggest import project_label_files

    root = project_root(schema) if schema.path else Path(".")
    heldout = heldout_label_files(root / "labels")
    by_key: dict[str, tuple[str, str, str]] = {}
    for f in project_label_files(schema):
        status = label_file_status(f, model, heldout, root)
        try:
            shown = Path(f).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = str(f)
        for lab in read_label_rows(f, schema.names)[0]:
            by_key.setdefault(lab.key, (lab.stance, shown, status))
    return join_by_text(turns, by_key)


def build_report(
    turns: Sequence[Turn],
    rows: Sequence[dict],
    schema: Schema,
    model_name: str,
    labelled: Sequence[str] = (),
    human: dict | None = None,
    uncertain_below: float = UNCERTAIN_BELOW,
    embed=None,
) -> Report:
    """The report's data. `labelled`: texts labelled already, never suggested;
    `human`: the human labels of these turns (`human_labels`); `uncertain_below`:
    the confidence under which a turn counts as uncertain; `embed`: texts ->
    L2-normalised vectors (the model's body) for the key points (None: none)."""
    from stance.report import sections

    names = list(schema.names)
    by_id = {r["id"]: r for r in rows}
    sources = sections.addresses(rows)
    chain_set = build_chains(turns)
    described = [describe_chain(c, by_id, schema.sides) for c in chain_set.chains]
    described.sort(key=lambda d: (-len(d["turning_points"]), -d["length"]))
    next_up = []
    scored = [(t, r) for t, r in zip(turns, rows, strict=True) if not r.get("skipped")]
    if scored:
        from stance.labelling.suggest import rank_turns

        classes = list(scored[0][1]["scores"])
        proba = np.array([[r["scores"][c] for c in classes] for _, r in scored])
        ranked = rank_turns([t for t, _ in scored], proba, classes, labelled)
        next_up = [by_id[c.turn.id] for c in ranked[:TO_LABEL_NEXT]]
    skipped = Counter(r["skipped"] for r in rows if r.get("skipped"))
    points: dict = {side: [] for side in schema.sides}
    if embed is not None:
        from stance.report.keypoints import answered, key_points

        points = key_points([r for r in rows if not r.get("skipped")], schema, embed)
    kps, coverage = sections.key_point_data(points, by_id, sources)
    agree = agreement(rows, human or {}, names)
    counts = Counter(r["stance"] for r in rows if not r.get("skipped"))
    return Report(
        name=schema.name,
        target=schema.target,
        model=model_name,
        labels=tuple(Label(spec.name, spec.color) for spec in schema.labels),
        sides=tuple(schema.sides),
        n=len(rows),
        counts={n: counts.get(n, 0) for n in names},
        uncertain_below=uncertain_below,
        abstained=sum(r.get("stance") == UNCERTAIN for r in rows),
        skipped=dict(skipped.most_common()),
        overall=Group(
            **distribution(rows, names, lambda r: "all turns", uncertain_below)[0]
        )
        if rows
        else None,
        per_page=tuple(
            Group(**d) for d in distribution(rows, names, page_of, uncertain_below)
        ),
        per_speaker=tuple(
            Group(**d)
            for d in distribution(
                rows, names, lambda r: r.get("speaker") or "(unknown)", uncertain_below
            )
            if d["group"] != "(unknown)"
        ),
        agreement=None
        if agree is None
        else Agreement(
            overall=AgreementRow(**agree["overall"]),
            by_status=tuple(AgreementRow(**r) for r in agree["by_status"]),
            per_page=tuple(AgreementRow(**r) for r in agree["per_page"]),
            unscored=agree["unscored"],
            abstained=agree["abstained"],
        ),
        key_points=kps,
        coverage=coverage,
        rebuttals=sections.rebuttal_data(answered(points, chain_set.parent))
        if embed is not None
        else (),
        timelines=sections.timelines(rows, names),
        chains=tuple(
            sections.chain_data(d, chain_set.parent, by_id, sources)
            for d in [d for d in described if d["length"] > 1][:TOP_CHAINS]
        ),
        chain_warnings=tuple(chain_set.warnings),
        next_to_label=tuple(sections.quote(r, sources) for r in next_up),
    )


def report_rows(
    paths,
    model,
    schema: Schema,
    thread_aware: bool = False,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
    min_confidence: float | None = None,
) -> tuple[list[Turn], list[dict], str]:
    """Parse, embed once, and label from those embeddings: the turns, their
    rows (as `stance label` writes them) and the model's name.

    Turns in a language the model does not read (`languages`; None: any) are
    not embedded or labelled; the report counts them. With `min_confidence`, a
    turn under it is `uncertain` (`predict.abstain`) and counted for no side.
    """
    from stance.ingest.parse import parse_paths
    from stance.model.find import model_name
    from stance.model.predict import (
        abstain,
        features_chunked,
        merge_rows,
        split_readable,
    )

    turns = list(parse_paths(paths).turns)
    keep, skipped = split_readable(turns, languages)
    readable = [turns[i] for i in keep]
    texts = [t.text for t in readable]
    task = progress.task("embedding and labelling", total=len(texts))
    X = features_chunked(model, texts, task)
    proba = model.proba_from(texts, X)  # every head, as `stance label`
    suffix = ""
    if thread_aware and readable:
        from stance.model.context import thread_adjust

        proba = thread_adjust(readable, proba, model.classes_, schema.sides)
        suffix = "+thread"
    rows = list(
        abstain(merge_rows(turns, keep, proba, skipped, model, suffix), min_confidence)
    )
    return turns, rows, model_name(model) + suffix


def report_paths(
    paths,
    model,
    schema: Schema,
    thread_aware: bool = False,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
    min_confidence: float | None = None,
) -> Report:
    """`report_rows`, then the report data, with key points from the model's
    body (sentence embeddings through its cache)."""
    from stance.labelling.suggest import labelled_texts, project_label_files

    turns, rows, name = report_rows(
        paths, model, schema, thread_aware, languages, progress, min_confidence
    )
    labelled = labelled_texts(project_label_files(schema), schema.names)
    human = human_labels(turns, schema, model)
    below = UNCERTAIN_BELOW if min_confidence is None else min_confidence
    return build_report(
        turns, rows, schema, name, labelled, human, below, embed=model.features
    )
