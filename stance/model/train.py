"""Training: labels → grouped-CV metrics (with baselines) → a saved model directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from stance.core.errors import InputError
from stance.core.files import sha256_file
from stance.core.progress import NO_PROGRESS, Progress
from stance.core.schema import Schema
from stance.labelling.labels import label_groups, load_labels
from stance.model.classify import StanceClassifier
from stance.model.estimators import LexicalHead, StanceHead
from stance.model.evaluate import (
    C_GRID,
    Scored,
    choose_C,
    coverage_scores,
    cross_validate,
    grouped_folds,
    majority_method,
    metrics,
    tfidf_method,
)
from stance.model.heads import fit_temperature, softmax
from stance.model.persist import check_model_output
from stance.model.zeroshot import METHOD as ZERO_SHOT
from stance.model.zeroshot import zero_shot_head, zero_shot_method

# Share of the TF-IDF head in the ensemble; never 0 or 1, so both halves count.
LEXICAL_WEIGHTS = (0.3, 0.5, 0.7)

METHOD = "embedding+tfidf"

EMBEDDING_ONLY = "embedding+logreg"

TFIDF, MAJORITY = "tfidf+logreg", "majority"  # baselines: no sentence embedding

REPEATS = 3  # grouped CV on this many random splits; scores are their mean

ENCODE_SAMPLE = 64  # label texts encoded without the cache to time the body


def choose_lexical_weight(texts, X, y, groups, C: float, sides) -> float:
    """Pick the ensemble weight by grouped CV inside the given rows only.

    Both heads are fitted without calibration on 3 of 4 folds (by conversation)
    and give logits for the fourth. Each head's out-of-fold logits are then
    calibrated by one temperature fitted on all of them (the final heads are
    calibrated the same way, on their own out-of-fold logits), and each weight
    in `LEXICAL_WEIGHTS` is scored by the macro-F1 of the mixed probabilities.
    Ties go to the weight nearest 0.5.
    """
    classes = sorted(set(y))
    try:
        folds = grouped_folds(groups, n_folds=4, seed=1)
    except ValueError:
        return LEXICAL_WEIGHTS[len(LEXICAL_WEIGHTS) // 2]
    emb = np.zeros((len(y), len(classes)))
    lex = np.zeros((len(y), len(classes)))
    for tr, te in folds:
        if len(set(y[tr])) < len(classes):
            return LEXICAL_WEIGHTS[len(LEXICAL_WEIGHTS) // 2]
        head = StanceHead(C=C, calibrate=False).fit(X[tr], y[tr]).to_head()
        emb[te] = head.decision_function(X[te])
        lexical = LexicalHead(calibrate=False).fit(texts[tr], y[tr]).to_head()
        lex[te] = lexical.decision_function(texts[te])
    idx = np.searchsorted(classes, y)
    emb = softmax(emb / fit_temperature(emb, idx))
    lex = softmax(lex / fit_temperature(lex, idx))
    scores = {
        w: metrics(
            y,
            np.array(classes)[((1 - w) * emb + w * lex).argmax(axis=1)],
            classes,
            sides,
        )["macro_f1"]
        for w in LEXICAL_WEIGHTS
    }
    return max(LEXICAL_WEIGHTS, key=lambda w: (scores[w], -abs(w - 0.5)))


def fit_default(texts, X, y, groups, sides, embedder=None, backend="onnx"):
    """The default method on these rows, hyperparameters chosen on them alone."""
    texts = np.asarray(texts, dtype=object)
    C = choose_C(X, y, groups, sides)
    w = choose_lexical_weight(texts, X, y, groups, C, sides)
    model = StanceClassifier(backend=backend, C=C, embedder=embedder, lexical_weight=w)
    return model.fit(list(texts), y, groups, X=X)


def default_method(texts, X, y, groups, sides, embedder):
    texts = np.asarray(texts, dtype=object)

    def fit(train):
        m = fit_default(
            texts[train], X[train], y[train], groups[train], sides, embedder
        )

        def predict(test):
            proba = m.proba_from(list(texts[test]), X[test])
            return Scored(m.classes_[proba.argmax(axis=1)], proba.max(axis=1))

        return predict

    return fit


def nested_head_method(X, y, groups, sides):
    def fit(train):
        C = choose_C(X[train], y[train], groups[train], sides)
        head = StanceHead(C=C, calibrate=False).fit(X[train], y[train])
        return lambda test: head.predict(X[test])

    return fit


def thread_aware_method(
    texts, X, y, groups, labels, schema, page_turns, embed, embedder
):
    """The default method, then `context.thread_adjust` over whole test threads.

    Every turn of each test conversation (labelled or not) is scored, so the
    adjustment sees the same neighbours it would see when labelling a page.
    """
    from stance.core.normalize import normalize_text
    from stance.model.context import thread_adjust

    texts = np.asarray(texts, dtype=object)
    by_conv: dict[str, list] = {}
    for t in page_turns:
        by_conv.setdefault(t.conversation_id, []).append(t)
    position = {}
    for conv, ts in by_conv.items():
        for i, t in enumerate(ts):
            position.setdefault((conv, normalize_text(t.text)), i)
    vectors = {conv: embed([t.text for t in ts]) for conv, ts in by_conv.items()}

    def fit(train):
        m = fit_default(
            texts[train], X[train], y[train], groups[train], schema.sides, embedder
        )
        return lambda test: predict(m, test)

    def predict(m, test):
        classes = list(m.classes_)
        proba = m.proba_from(list(texts[test]), X[test])
        for conv in set(groups[test]):
            if conv not in by_conv:
                continue
            ts = by_conv[conv]
            adj = thread_adjust(
                ts,
                m.proba_from([t.text for t in ts], vectors[conv]),
                classes,
                schema.sides,
            )
            for j, i in enumerate(test):
                k = position.get((conv, labels[i].key))
                if groups[i] == conv and k is not None:
                    proba[j] = adj[k]
        return np.array(classes)[proba.argmax(axis=1)]

    return fit


def train(
    label_paths: list[Path],
    schema: Schema,
    output: Path | None,
    backend: str = "onnx",
    embedder=None,
    previous: Path | None = None,
    threads: list[Path] | None = None,
    repeats: int | None = None,
    heldout: list[Path] | None = None,
    include_heldout: bool = False,
    progress: Progress = NO_PROGRESS,
) -> dict:
    """Cross-validate, then fit on all labels and save; return the report dict.

    `heldout`: label files of the held-out test set. They are scored with the
    final model (the `heldout` entry of the report, config and model card) and
    never trained on, unless `include_heldout`: then they join the training
    labels and there is no held-out score.

    BLAS runs on one thread: hundreds of small logistic regressions are several
    times faster that way than with threads contending for 2 cores (measured on
    the shipped labels: 4.6 s against 13.9 s to fit the default on a fold).
    """
    from threadpoolctl import threadpool_limits

    heldout = [Path(p) for p in heldout or []]
    if include_heldout:
        label_paths = list(label_paths) + [
            p for p in heldout if p not in set(map(Path, label_paths))
        ]
        heldout = []
    else:  # a held-out file given as training labels is trained on
        trained = {Path(p).resolve() for p in label_paths}
        include_heldout = any(p.resolve() in trained for p in heldout)
        heldout = [p for p in heldout if p.resolve() not in trained]
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(
            label_paths,
            schema,
            output,
            backend,
            embedder,
            previous,
            threads,
            repeats,
            heldout,
            include_heldout,
            progress,
        )


def _train(
    label_paths,
    schema,
    output,
    backend,
    embedder,
    previous,
    threads,
    repeats,
    heldout,
    include_heldout,
    progress,
):
    from stance.model.predict import features_chunked

    repeats = repeats or REPEATS
    if output is not None:
        check_model_output(output)  # before minutes of work
    labels = load_labels(label_paths, schema.names)
    if len(labels) < 10:
        raise InputError(
            label_paths[0] if label_paths else "labels",
            f"only {len(labels)} labels; need at least 10 to train",
        )
    held = load_labels(heldout, schema.names) if heldout else []
    texts = [lab.text for lab in labels]
    y = np.array([lab.stance for lab in labels])
    groups = np.array(label_groups(labels))
    classes = [c for c in schema.names if c in set(y)]
    body = StanceClassifier(backend=backend, embedder=embedder)
    t0 = time.perf_counter()
    task = progress.task("embedding labels", total=len(texts))
    X = features_chunked(body, texts, task).astype(np.float64)
    embed_s = time.perf_counter() - t0
    t0 = time.perf_counter()

    def embed(t):
        return body.features(t).astype(np.float64)

    shared = body._embedder()
    methods = {
        METHOD: default_method(texts, X, y, groups, schema.sides, shared),
        EMBEDDING_ONLY: nested_head_method(X, y, groups, schema.sides),
    }
    if threads:
        from stance.ingest.parse import parse_paths

        page_turns = parse_paths(threads).turns
        methods[METHOD + "+thread"] = thread_aware_method(
            texts, X, y, groups, labels, schema, page_turns, embed, shared
        )
    methods[ZERO_SHOT] = zero_shot_method(X, zero_shot_head(schema, embed))
    methods[TFIDF] = tfidf_method(texts, y)
    methods[MAJORITY] = majority_method(y)
    cv = cross_validate(
        methods, y, groups, classes, schema.sides, repeats=repeats, progress=progress
    )
    cv_s = time.perf_counter() - t0
    encode_ms = encode_ms_per_turn(shared, texts)
    for name, row in cv.items():
        body_ms = 0.0 if name in (TFIDF, MAJORITY) else encode_ms
        row["label_turns_per_s"] = round(
            1000 / max(body_ms + row["predict_ms_per_turn"], 1e-6), 1
        )
    t0 = time.perf_counter()
    task = progress.task("final fit on all labels", total=1, unit="fits")
    model = fit_default(texts, X, y, groups, schema.sides, shared, backend)
    task.advance()
    fit_s = time.perf_counter() - t0
    C, weight = model.C, model.lexical_weight
    held_scores = (
        score_heldout(model, labels, held, heldout, schema, progress) if held else None
    )
    counts = {c: int((y == c).sum()) for c in classes}
    report = {
        "method": METHOD,
        "n_labels": len(labels),
        "n_conversations": int(len(set(groups))),
        "label_counts": counts,
        "C": C,
        "lexical_weight": weight,
        "lexical_C": model.lexical_C,
        "encoder": {"id": model.encoder_id_, "backend": model.backend},
        "repeats": repeats,
        "command": " ".join(
            ["stance train"]
            + [f"--threads {_shown(t)}" for t in threads or []]
            + ([f"--repeats {repeats}"] if repeats != REPEATS else [])
            + (["--include-heldout"] if include_heldout else [])
        ),
        "include_heldout": include_heldout,
        "heldout": held_scores,
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
        "timing_s": {
            "embed": round(embed_s, 2),
            "cv": round(cv_s, 2),
            "fit": round(fit_s, 2),
            "encode_ms_per_turn": round(encode_ms, 2),
        },
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
                "lexical_weight": weight,
                "lexical_weight_grid": list(LEXICAL_WEIGHTS),
                "cv": f"GroupKFold({min(5, len(set(groups)))}) by conversation, "
                f"{repeats} random splits",
                "n_labels": len(labels),
                "label_counts": counts,
                "include_heldout": include_heldout,
            },
            "label_files": {_shown(p): sha256_file(p) for p in label_paths},
            "metrics": report["cv"],
        }
        if held_scores is not None:
            extra["heldout"] = held_scores
        from stance.model.card import model_card  # card.py reads ENCODE_SAMPLE

        model.save(output, extra_config=extra, card=model_card(report, schema, extra))
        report["output"] = str(output)
    return report


def score_heldout(model, labels, held, files, schema, progress=NO_PROGRESS) -> dict:
    """The final model and the baselines (fitted on all training labels) on the
    held-out labels.

    A held-out text that is also a training label is left out of the scores
    (`n_also_trained`): it would not be held out.
    """
    from stance.model.predict import predict_proba_chunked

    trained = {lab.key for lab in labels}
    test = [lab for lab in held if lab.key not in trained]
    out = {
        "files": {_shown(p): sha256_file(p) for p in files},
        "n": len(test),
        "n_conversations": len(set(label_groups(test))) if test else 0,
        "n_also_trained": len(held) - len(test),
        "metrics": {},
    }
    if not test:
        return out
    y_test = [lab.stance for lab in test]
    texts = [lab.text for lab in test]
    names = [c for c in schema.names if c in set(model.classes_) | set(y_test)]
    task = progress.task("held-out labels", total=len(texts))
    proba = predict_proba_chunked(model, texts, task)
    preds = {METHOD: model.classes_[proba.argmax(axis=1)]}
    out["coverage"] = coverage_scores(
        y_test, [str(p) for p in preds[METHOD]], proba.max(axis=1), names, schema.sides
    )
    all_texts = np.array([lab.text for lab in labels], dtype=object)
    y_all = np.array([lab.stance for lab in labels])
    everything = np.arange(len(labels))
    tfidf = tfidf_method(list(all_texts) + texts, np.concatenate([y_all, y_test]))
    test_rows = np.arange(len(labels), len(labels) + len(texts))
    preds[TFIDF] = tfidf(everything)(test_rows)
    preds[MAJORITY] = majority_method(y_all)(everything)(test_rows)
    for name, pred in preds.items():
        out["metrics"][name] = metrics(
            y_test, [str(p) for p in pred], names, schema.sides
        )
    return out


def encode_ms_per_turn(embedder, texts: list[str]) -> float:
    """Milliseconds to encode one turn with no cache, timed on a spread of labels."""
    sample = texts[:: max(1, len(texts) // ENCODE_SAMPLE)][:ENCODE_SAMPLE]
    encoder = embedder.encoder
    encoder.encode(sample[:2])  # load the weights and warm up before timing
    t0 = time.perf_counter()
    encoder.encode(sample)
    return 1000 * (time.perf_counter() - t0) / len(sample)


def _shown(path: Path) -> str:
    """A label file's path relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _previous_metrics(path: Path) -> dict | None:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return None
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, RecursionError):
        return None
    training = data.get("training") if isinstance(data, dict) else None
    method = training.get("method") if isinstance(training, dict) else None
    # configs with no training section come from the first releases
    method = method if isinstance(method, str) else EMBEDDING_ONLY
    metrics = data.get("metrics") if isinstance(data, dict) else None
    found = metrics.get(method) if isinstance(metrics, dict) else None
    ok = isinstance(found, dict) and all(
        isinstance(found.get(k), int | float) for k in ("macro_f1", "f_avg")
    )
    if not ok:
        return None  # a previous model we cannot compare with
    n_labels = training.get("n_labels") if isinstance(training, dict) else None
    repeats = found.get("repeats")
    return {
        **found,
        "method": method,
        "n_labels": n_labels if isinstance(n_labels, int) else None,
        # configs before repeated cross-validation scored one split
        "repeats": repeats if isinstance(repeats, int) else 1,
    }
