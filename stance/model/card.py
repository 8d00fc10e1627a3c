"""What training reports, as text: the model card (README.md of the model
folder), the metrics tables, and the summary `stance train` prints."""

from __future__ import annotations

from pathlib import Path

from stance.core.files import previous_path
from stance.core.schema import Schema
from stance.model.heads import TFIDF
from stance.model.train import ENCODE_SAMPLE


def model_card(report: dict, schema: Schema, extra: dict) -> str:
    # the body's name from the encoder id the config records ("name@weights")
    body = report["encoder"]["id"].split("@")[0]
    lines = [
        f"# stance model: {schema.name}",
        "",
        f"Target: {schema.target}",
        "",
        f"Method: {report['method']}. Body: {body} sentence embeddings "
        "(packaged weights, offline). Heads: logistic regression on the embeddings "
        f"(balanced class weights, C={report['C']}) and logistic regression on TF-IDF "
        f"word {TFIDF['ngram_range'][0]}-{TFIDF['ngram_range'][1]} grams "
        f"(C={report['lexical_C']:g}); each head's probabilities are temperature-calibrated "
        f"on out-of-fold logits, then averaged with TF-IDF weight "
        f"{report['lexical_weight']}. C and the weight are chosen by grouped CV inside "
        "the training rows (nested in the table below).",
        "",
        "Rows of the table: `embedding+tfidf` is this model's method; "
        "`embedding+logreg` the embedding head alone; `+thread` adds thread context "
        "(speaker consistency, rebuttal; `--thread-aware`); `zero-shot` scores by "
        "similarity to the schema's label prototypes (no labels); `tfidf+logreg` and "
        "`majority` are baselines.",
        "",
        f"Trained on {report['n_labels']} labels from {report['n_conversations']} "
        f"conversations: {report['label_counts']}.",
        "",
        "## Grouped cross-validation (folds by conversation, same folds for every row)",
        "",
        f"Mean ± sd over {report['repeats']} random grouped 5-fold splits "
        "(per-class F1: the mean).",
        "",
        metrics_table(report["cv"], schema),
        "",
        f"Reproduce: `{report['command']}` on the label files listed below.",
        "",
        *heldout_section(report, schema),
        *coverage_section(report),
        "`train s/fold`: mean seconds to fit the method on one training fold "
        "(about 4/5 of the labels), nested hyperparameter search included. "
        "`label turns/s`: turns labelled per second on a cold cache, i.e. "
        f"encoding ({report['timing_s']['encode_ms_per_turn']} ms a turn, timed "
        f"on {ENCODE_SAMPLE} label texts without the cache) plus the head.",
        "",
        f"Time: embedding {report['timing_s']['embed']} s (cached texts are not "
        f"encoded again), cross-validation {report['timing_s']['cv']} s, final fit "
        f"{report['timing_s']['fit']} s.",
        "",
        "## Label files",
        "",
        *[f"- `{p}` sha256 {h[:16]}" for p, h in extra.get("label_files", {}).items()],
        "",
    ]
    return "\n".join(lines)


def heldout_section(report: dict, schema: Schema) -> list[str]:
    """The model card's held-out lines: the scores, or why there are none."""
    if report.get("include_heldout"):
        return [
            "## Held-out test set",
            "",
            "None: this model was trained with `--include-heldout`, so the held-out "
            "labels (labels/heldout/) are among its training labels and no score on "
            "unseen pages is given.",
            "",
        ]
    held = report.get("heldout")
    if not held:
        return []
    files = ", ".join(f"`{p}`" for p in held["files"])
    lines = [
        "## Held-out test set (pages no model was trained on)",
        "",
        f"{held['n']} labelled turns from {held['n_conversations']} conversations "
        f"in {files}, never used in training or in choosing hyperparameters; "
        "the final model (trained on all the labels above) and the baselines "
        "fitted on the same labels, scored once.",
        "",
    ]
    if held.get("n_also_trained"):
        lines += [
            f"{held['n_also_trained']} held-out texts that are also training labels "
            "are left out.",
            "",
        ]
    if held["metrics"]:
        lines += [
            metrics_table(held["metrics"], schema),
            "",
            "Accuracy: "
            + ", ".join(
                f"{name} {m['accuracy']:.3f}" for name, m in held["metrics"].items()
            )
            + f" (n = {held['n']}).",
            "",
        ]
    return lines


def coverage_section(report: dict) -> list[str]:
    """The model card's selective-labelling table: accuracy and macro-F1 on the
    most confident 100/80/50% of the turns, with the `--min-confidence` that
    keeps that share (cross-validation, and the held-out set when scored)."""
    cv = report["cv"].get(report["method"], {}).get("coverage")
    if not cv:
        return []
    held = (report.get("heldout") or {}).get("coverage")
    cols = ["coverage", "CV: min-confidence", "CV: accuracy", "CV: macro-F1"]
    if held:
        cols += ["held-out: min-confidence", "accuracy", "macro-F1"]
    lines = [
        "## Selective labelling",
        "",
        "`stance label --min-confidence X` marks the turns the model is less sure "
        "of than X as `uncertain` instead of guessing. Accuracy and macro-F1 of "
        f"`{report['method']}` on its most confident turns: out-of-fold in the "
        "cross-validation above (mean over the splits)"
        + (", and on the held-out set" if held else "")
        + ". `min-confidence`: the confidence of the least sure turn kept.",
        "",
        "| " + " | ".join(cols) + " |",
        "|---" * len(cols) + "|",
    ]
    for k, c in enumerate(cv):
        cells = [f"{c['coverage']:.0%}", f"{c['min_confidence']:.2f}"]
        cells += [f"{c['accuracy']:.3f}", f"{c['macro_f1']:.3f}"]
        if held:
            h = held[k]
            cells += [f"{h['min_confidence']:.2f}", f"{h['accuracy']:.3f}"]
            cells += [f"{h['macro_f1']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _score(m: dict, key: str) -> str:
    sd = m.get(key + "_sd") if m.get("repeats", 1) > 1 else None
    return f"{m[key]:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")


def metrics_table(cv: dict, schema: Schema) -> str:
    """Markdown rows: scores per method, and its timing where cross-validation
    measured it (train seconds per fold; turns labelled per second, cold cache)."""
    names = list(schema.names)
    timed = all("label_turns_per_s" in m for m in cv.values())
    cols = ["method", "macro-F1", "F_avg", *(f"F1 {n}" for n in names)]
    if timed:
        cols += ["train s/fold", "label turns/s"]
    rows = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for method, m in cv.items():
        cells = [method, _score(m, "macro_f1"), _score(m, "f_avg")]
        cells += [f"{m['per_class'].get(n, {}).get('f1', 0):.3f}" for n in names]
        if timed:
            rate = m["label_turns_per_s"]
            cells += [
                f"{m['fit_s']:.2f}",
                f"{rate:,.0f}" if rate < 100_000 else "> 100,000",
            ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def train_summary(
    report: dict,
    schema: Schema,
    pending: dict[str, int],
    output: Path,
    replacing: bool,
) -> list[str]:
    """What `stance train` prints: label counts, the cross-validation table, the
    change against the model it replaces, the held-out score, where the model went.

    `pending`: rows with an empty stance per label file; `replacing`: an older
    model was in `output` (now in its `.prev` folder).
    """
    lines: list[str] = []
    for path, n in pending.items():
        lines.append(
            f"{path}: {n} rows with an empty stance skipped (not labelled yet)"
        )
    lines.append(
        f"{report['n_labels']} labels from {report['n_conversations']} "
        f"conversations {report['label_counts']}; method {report['method']}, "
        f"C={report['C']}, TF-IDF weight {report['lexical_weight']}"
    )
    lines.append(
        "grouped cross-validation (folds by conversation; mean ± sd over "
        f"{report['repeats']} random splits):"
    )
    lines.append(metrics_table(report["cv"], schema))
    m = report["cv"][report["method"]]
    lines.append(
        f"confusion (rows true, columns predicted, {report['repeats']} splits "
        "summed): "
        f"{m['confusion']['labels']} {m['confusion']['matrix']}"
    )
    prev = report.get("previous")
    if prev:
        if prev.get("n_labels") is not None:
            lines.append(
                f"labels against the model it replaces: {prev['n_labels']} -> "
                f"{report['n_labels']} ({report['n_labels'] - prev['n_labels']:+d})"
            )
        lines.append(
            f"change against the model it replaces ({prev['method']}): macro-F1 "
            f"{prev['macro_f1']:.3f} -> {m['macro_f1']:.3f} "
            f"({m['macro_f1'] - prev['macro_f1']:+.3f}), F_avg "
            f"{prev['f_avg']:.3f} -> {m['f_avg']:.3f} "
            f"({m['f_avg'] - prev['f_avg']:+.3f})"
            + (
                f" (that model was scored on {prev['repeats']} split(s), this one "
                f"on {report['repeats']}: part of the change is the scoring)"
                if prev["repeats"] != report["repeats"]
                else ""
            )
        )
    held = report.get("heldout")
    if report["include_heldout"]:
        lines.append(
            "held-out labels trained on (--include-heldout): no held-out score"
        )
    elif held and held["metrics"]:
        h = held["metrics"][report["method"]]
        lines.append(
            f"held-out test set ({held['n']} labels from {held['n_conversations']} "
            f"conversations never trained on): macro-F1 {h['macro_f1']:.3f}, F_avg "
            f"{h['f_avg']:.3f}, accuracy {h['accuracy']:.3f}"
        )
        lines.append(metrics_table(held["metrics"], schema))
    lines.append(
        f"model written to {output}"
        + (
            f" (the model it replaced is in {previous_path(output)})"
            if replacing
            else ""
        )
    )
    return lines
