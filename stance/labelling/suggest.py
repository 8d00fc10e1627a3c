"""Choosing what to label next: uncertainty sampling spread over threads.

The order (shared by `stance suggest`, `stance annotate`, `stance labels export`
and the learning-curve benchmark):

1. turns whose text is labelled already, exactly or as a near-duplicate
   (`dedup.find_duplicates`), are left out;
2. of a group of near-duplicate turns only the most informative one stays, so
   a batch never holds two near-duplicates;
3. informativeness is the uncertainty of the calibrated probabilities:
   `margin` = 1 - (p_top1 - p_top2) (default) or `entropy` normalised to [0, 1];
4. round-robin over conversations: first the most informative turn of every
   conversation (most informative first), then each conversation's second, and
   so on; turns of the inputs that are labelled already count as taken, so a
   conversation with k labelled turns joins at round k + 1. A batch of N is the
   first N of that order. Because labelled turns keep their place in the
   rounds, labelling the first turns leaves the order of the rest unchanged:
   `stance annotate` resumes exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stance.core.errors import StanceError
from stance.core.progress import NO_PROGRESS, Progress
from stance.core.thread import Turn
from stance.ingest.lang import ENCODER_LANGUAGES

METHODS = ("margin", "entropy")
EXTRA_COLUMNS = ("guess", "confidence", "uncertainty")


def uncertainty(proba: np.ndarray, method: str = "margin") -> np.ndarray:
    """Per row, how unsure the model is (higher = more worth labelling), in [0, 1]."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise ValueError("need a 2-D probability matrix with at least two classes")
    if method == "margin":
        top = np.sort(proba, axis=1)[:, ::-1]
        return 1.0 - (top[:, 0] - top[:, 1])
    if method == "entropy":
        p = np.clip(proba, 1e-12, 1.0)
        return -(p * np.log(p)).sum(axis=1) / np.log(proba.shape[1])
    raise StanceError(f"unknown method {method!r} (expected {', '.join(METHODS)})")


def diverse_order(
    scores: Sequence[float],
    conversations: Sequence[str],
    groups: Sequence[int] | None = None,
    taken: dict[str, int] | None = None,
) -> list[int]:
    """Indices by decreasing score, one per near-duplicate group, round-robin
    over conversations (each conversation's best, then each one's second...);
    `taken` counts turns a conversation has had labelled already."""
    scores = np.asarray(scores, dtype=np.float64)
    by_score = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    seen_groups: set[int] = set()
    rank_in_conv: dict[int, int] = {}
    taken = dict(taken or {})
    for i in by_score:
        if groups is not None:
            if groups[i] in seen_groups:
                continue
            seen_groups.add(groups[i])
        conv = conversations[i]
        rank_in_conv[i] = taken.get(conv, 0)
        taken[conv] = rank_in_conv[i] + 1
    return sorted(rank_in_conv, key=lambda i: (rank_in_conv[i], -scores[i], i))


def duplicate_groups(texts: Sequence[str], labelled: Sequence[str]) -> list[int]:
    """For each text, its near-duplicate group; -1 when it duplicates a label."""
    from stance.ingest.dedup import find_duplicates

    labelled = list(labelled)
    rep = find_duplicates(labelled + list(texts))
    n = len(labelled)
    return [-1 if rep[n + i] < n else rep[n + i] for i in range(len(texts))]


@dataclass(frozen=True)
class Candidate:
    """An unlabelled turn with the model's view of it."""

    turn: Turn
    scores: dict[str, float]
    guess: str
    confidence: float
    uncertainty: float


def rank_turns(
    turns: Sequence[Turn],
    proba: np.ndarray,
    classes: Sequence[str],
    labelled_texts: Sequence[str] = (),
    method: str = "margin",
) -> list[Candidate]:
    """Every unlabelled turn worth asking about, most informative first (see top)."""
    turns = list(turns)
    if not turns:
        return []
    unc = uncertainty(proba, method)
    groups = duplicate_groups([t.text for t in turns], labelled_texts)
    keep = [i for i, g in enumerate(groups) if g >= 0]
    labelled: dict[str, int] = {}
    for t, g in zip(turns, groups, strict=True):
        if g < 0:
            labelled[t.conversation_id] = labelled.get(t.conversation_id, 0) + 1
    order = diverse_order(
        unc[keep],
        [turns[i].conversation_id for i in keep],
        [groups[i] for i in keep],
        taken=labelled,
    )
    out = []
    for k in order:
        i = keep[k]
        p = proba[i]
        top = int(np.argmax(p))
        out.append(
            Candidate(
                turn=turns[i],
                scores={str(c): float(v) for c, v in zip(classes, p, strict=True)},
                guess=str(classes[top]),
                confidence=float(p[top]),
                uncertainty=float(unc[i]),
            )
        )
    return out


def labelled_texts(label_paths: Sequence[Path], allowed: Sequence[str]) -> list[str]:
    """The texts of every labelled row (pending rows excluded)."""
    from stance.labelling.labels import read_label_rows

    return [lab.text for p in label_paths for lab in read_label_rows(p, allowed)[0]]


def project_label_files(schema, extra: Sequence[Path] = ()) -> list[Path]:
    """Every label file of the project: labels/*.csv, the held-out set
    (labels/heldout/*.csv) and `extra` (those that exist). Their texts are
    known, so never suggested again. Unlike `labels.label_files`, a missing or
    empty folder is no error: there is nothing to leave out."""
    from stance.core.schema import project_root
    from stance.labelling.labels import folder_label_files, heldout_label_files

    folder = project_root(schema) / "labels" if schema.path else Path("labels")
    found = folder_label_files(folder) + heldout_label_files(folder)
    for p in extra:
        p = Path(p)
        if p.is_dir():
            found += folder_label_files(p)
        elif p.exists():
            found.append(p)
    return list(dict.fromkeys(Path(f).resolve() for f in found))


def score_readable(
    turns: Sequence[Turn],
    model,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
) -> tuple[list[Turn], np.ndarray, dict[str, int]]:
    """The turns the model reads, their probabilities (columns: classes_), and
    how many turns were left out for each reason (`language: ru`)."""
    from collections import Counter

    from stance.model.predict import predict_proba_chunked, split_readable

    keep, skipped = split_readable(list(turns), languages)
    readable = [turns[i] for i in keep]
    task = progress.task("labelling", total=len(readable))
    proba = predict_proba_chunked(model, [t.text for t in readable], task)
    return readable, proba, dict(Counter(skipped.values()))


def predict_turns(
    paths: Sequence[Path],
    model,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
) -> tuple[list[Turn], np.ndarray, dict[str, int]]:
    """`score_readable` on the turns of the inputs."""
    from stance.ingest.parse import iter_turns

    return score_readable(list(iter_turns(paths)), model, languages, progress)


def candidates(
    paths: Sequence[Path],
    model,
    schema,
    label_paths: Sequence[Path],
    method: str = "margin",
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
) -> tuple[list[Candidate], dict[str, int]]:
    """Parse the inputs, predict, and rank their unlabelled turns; with the
    count of turns left out for their language."""
    if method not in METHODS:
        raise StanceError(f"unknown method {method!r} (expected {', '.join(METHODS)})")
    turns, proba, skipped = predict_turns(paths, model, languages, progress)
    texts = labelled_texts(label_paths, schema.names)
    return rank_turns(turns, proba, list(model.classes_), texts, method), skipped


def turn_source(turn: Turn) -> str:
    sources = turn.meta.get("sources") or []
    if sources and isinstance(sources[0], dict):
        return str(sources[0].get("file", ""))
    return ""


def batch_rows(cands: Sequence[Candidate]) -> list[dict]:
    """Rows with the label-file columns (`stance` empty) + guess and confidence."""
    from stance.labelling.labels import LABEL_COLUMNS

    rows = []
    for c in cands:
        row = dict.fromkeys(LABEL_COLUMNS, "")
        row.update(
            text=c.turn.text,
            id=c.turn.id,
            conversation_id=c.turn.conversation_id,
            source=turn_source(c.turn),
            guess=c.guess,
            confidence=f"{c.confidence:.3f}",
            uncertainty=f"{c.uncertainty:.3f}",
        )
        rows.append(row)
    return rows


def suggest(
    paths: Sequence[Path],
    model,
    schema,
    n: int = 20,
    label_paths: Sequence[Path] = (),
    method: str = "margin",
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
) -> tuple[list[dict], dict[str, int]]:
    """The N unlabelled turns that would teach the model most, as batch rows;
    and how many turns were left out for their language (never suggested)."""
    if n < 1:
        raise StanceError("-n must be at least 1")
    cands, skipped = candidates(
        paths, model, schema, label_paths, method, languages, progress
    )
    return batch_rows(cands[:n]), skipped


# What `stance suggest -o` writes: a label file.
BATCH_FORMATS = (".csv",)


def write_batch(path: Path | str | None, rows: Sequence[dict]) -> None:
    """Write batch rows as CSV to `path` (atomically), or stdout when None."""
    import csv

    from stance.core.files import atomic_open
    from stance.labelling.labels import LABEL_COLUMNS

    fields = [*LABEL_COLUMNS, *EXTRA_COLUMNS]
    with atomic_open(path if path is not None else "-") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
