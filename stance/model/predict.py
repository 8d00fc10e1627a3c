"""Labelling: turns + model → rows with stance, confidence and per-class scores.

Structured inputs (JSONL, CSV) are streamed in batches, so memory stays flat on
millions of turns; raw pages go through the parser (quotes, dedup) first.

Every row has the turn's fields plus `stance`, `confidence`, `scores` (one per
class), `model` and `skipped`. A turn in a language the model does not read
(`meta.lang`, see `lang.py`) is not scored: its row has `stance`, `confidence`
and `scores` null and `skipped` says why (`"language: ru"`); on every other row
`skipped` is null. `languages=None` (`--any-language`) scores every turn.
With `--min-confidence X` a scored turn under X gets the stance `uncertain`
(`abstain`); the model card gives accuracy and macro-F1 at 50/80/100% coverage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from stance.core.progress import NO_PROGRESS, Progress
from stance.core.schema import UNCERTAIN
from stance.core.thread import Turn
from stance.ingest.lang import ENCODER_LANGUAGES, skip_reason
from stance.model.find import model_name

BATCH = 2048

PROGRESS_BATCH = 256  # turns between two moves of a progress bar


def rows_from_proba(
    turns: Iterable[Turn], probs: np.ndarray, model, suffix: str = ""
) -> Iterator[dict]:
    """Output rows: each turn's fields + stance, confidence, per-class scores."""
    classes = [str(c) for c in model.classes_]
    name = model_name(model) + suffix
    for t, p in zip(turns, probs, strict=True):
        k = int(np.argmax(p))
        row = t.to_dict()
        row["stance"] = classes[k]
        row["confidence"] = round(float(p[k]), 4)
        row["scores"] = {c: round(float(v), 4) for c, v in zip(classes, p, strict=True)}
        row["model"] = name
        row["skipped"] = None
        yield row


def abstain(rows: Iterable[dict], min_confidence: float | None) -> Iterator[dict]:
    """Rows with `stance` set to `uncertain` where `confidence` < `min_confidence`:
    the model abstains. `confidence` and `scores` stay, so its guess can still be
    read. Skipped rows (no stance) pass unchanged; `None` changes nothing.
    """
    for row in rows:
        if (
            min_confidence is not None
            and row.get("stance") is not None
            and row["confidence"] < min_confidence
        ):
            row = {**row, "stance": UNCERTAIN}
        yield row


def skipped_row(turn: Turn, reason: str, model, suffix: str = "") -> dict:
    """The row of a turn the model gives no stance, with the reason."""
    row = turn.to_dict()
    row.update(
        stance=None,
        confidence=None,
        scores=None,
        model=model_name(model) + suffix,
        skipped=reason,
    )
    return row


def split_readable(
    turns: Sequence[Turn], languages: Sequence[str] | None = ENCODER_LANGUAGES
) -> tuple[list[int], dict[int, str]]:
    """Positions of the turns to score, and the reason for each other position."""
    if languages is None:
        return list(range(len(turns))), {}
    keep, skipped = [], {}
    for i, t in enumerate(turns):
        reason = skip_reason(t, languages)
        if reason is None:
            keep.append(i)
        else:
            skipped[i] = reason
    return keep, skipped


def merge_rows(
    turns: Sequence[Turn],
    keep: Sequence[int],
    proba: np.ndarray,
    skipped: dict[int, str],
    model,
    suffix: str = "",
) -> Iterator[dict]:
    """Rows in input order: scored turns from `proba`, the others skipped."""
    scored = rows_from_proba([turns[i] for i in keep], proba, model, suffix)
    for i, t in enumerate(turns):
        if i in skipped:
            yield skipped_row(t, skipped[i], model, suffix)
        else:
            yield next(scored)


def predict_rows(
    turns: Iterable[Turn],
    model,
    batch: int = BATCH,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
    total: int | None = None,
) -> Iterator[dict]:
    """Label turns in batches: memory stays flat however many turns stream in.

    With progress bars the batches are of `PROGRESS_BATCH` turns, so the bar
    moves; the rows are the same.
    """
    if progress is not NO_PROGRESS:
        batch = min(batch, PROGRESS_BATCH)
    task = progress.task("labelling", total=total)
    buf: list[Turn] = []

    def flush():
        keep, skipped = split_readable(buf, languages)
        proba = model.predict_proba([buf[i].text for i in keep])
        rows = list(merge_rows(buf, keep, proba, skipped, model))
        task.advance(len(buf))
        return rows

    for t in turns:
        buf.append(t)
        if len(buf) >= batch:
            yield from flush()
            buf = []
    if buf:
        yield from flush()


def thread_aware_rows(
    turns: Iterable[Turn],
    model,
    sides,
    languages: Sequence[str] | None = ENCODER_LANGUAGES,
    progress: Progress = NO_PROGRESS,
) -> Iterator[dict]:
    """Label with thread context (`context.thread_adjust`); holds all turns in memory.

    Skipped turns take no part in the adjustment.
    """
    from stance.model.context import thread_adjust

    turns = list(turns)
    keep, skipped = split_readable(turns, languages)
    readable = [turns[i] for i in keep]
    task = progress.task("labelling", total=len(turns))
    proba = predict_proba_chunked(model, [t.text for t in readable], task)
    task.advance(len(turns) - len(readable))
    if len(readable):
        proba = thread_adjust(readable, proba, model.classes_, sides)
    return merge_rows(turns, keep, proba, skipped, model, suffix="+thread")


def features_chunked(model, texts: Sequence[str], task=None) -> np.ndarray:
    """The body's features, `PROGRESS_BATCH` texts at a time when a task watches."""
    if task is None or len(texts) <= PROGRESS_BATCH:
        out = model.features(list(texts))
        if task is not None:
            task.advance(len(texts))
        return out
    parts = []
    for start in range(0, len(texts), PROGRESS_BATCH):
        chunk = list(texts[start : start + PROGRESS_BATCH])
        parts.append(model.features(chunk))
        task.advance(len(chunk))
    return np.concatenate(parts)


def predict_proba_chunked(model, texts: Sequence[str], task=None) -> np.ndarray:
    """`model.predict_proba`, advancing `task` as the texts are encoded."""
    if not len(texts):
        return np.zeros((0, len(model.classes_)))
    return model.proba_from(list(texts), features_chunked(model, texts, task))
