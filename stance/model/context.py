"""Thread-aware labelling: adjust each turn's scores with its thread neighbours.

Off by default (`--thread-aware` turns it on). Two signals, both from the
chain structure of `chains.build_chains`:

- speaker consistency: a speaker tends to keep one side within a thread, so
  each turn's log-scores get `SPEAKER_WEIGHT` x the log of the mean scores of
  the same speaker's other turns in that conversation;
- rebuttal: a reply tends to answer its parent from the other side, so each
  turn gets `REBUTTAL_WEIGHT` x the log of its parent's scores with the two
  side labels swapped.

Measured in `stance train --threads PAGES` (grouped CV, same folds): see the
model card; on the shipped labels it does not help enough to be the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stance.core.thread import Turn
from stance.ingest.chains import build_chains

SPEAKER_WEIGHT = 0.5
REBUTTAL_WEIGHT = 0.25


def thread_adjust(
    turns: Sequence[Turn],
    proba: np.ndarray,
    classes: Sequence[str],
    sides: Sequence[str],
    speaker_weight: float = SPEAKER_WEIGHT,
    rebuttal_weight: float = REBUTTAL_WEIGHT,
) -> np.ndarray:
    """Scores (rows sum to 1, columns follow `classes`) after thread context."""
    proba = np.asarray(proba, dtype=np.float64)
    if len(turns) != len(proba):
        raise ValueError("one row of scores per turn")
    classes = list(classes)
    pos = {t.id: i for i, t in enumerate(turns)}
    logp = np.log(np.clip(proba, 1e-9, None))
    out = logp.copy()
    if speaker_weight:
        by_speaker: dict[tuple[str, str], list[int]] = {}
        for i, t in enumerate(turns):
            if t.speaker:
                by_speaker.setdefault((t.conversation_id, t.speaker), []).append(i)
        for idx in by_speaker.values():
            if len(idx) < 2:
                continue
            total = proba[idx].sum(axis=0)
            for i in idx:
                others = (total - proba[i]) / (len(idx) - 1)
                out[i] += speaker_weight * np.log(np.clip(others, 1e-9, None))
    swap = [classes.index(s) for s in sides if s in classes]
    if rebuttal_weight and len(swap) == 2:
        a, b = swap
        parent = build_chains(turns).parent
        for i, t in enumerate(turns):
            p = parent.get(t.id)
            if p is None or p not in pos:
                continue
            flipped = logp[pos[p]].copy()
            flipped[[a, b]] = flipped[[b, a]]
            out[i] += rebuttal_weight * flipped
    out -= out.max(axis=1, keepdims=True)
    e = np.exp(out)
    return e / e.sum(axis=1, keepdims=True)
