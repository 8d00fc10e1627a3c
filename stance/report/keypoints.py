"""Key points per side: what each side argues, how often, with quotes.

A side's turns (the model's stance) are split into sentences and encoded with
the model's body (through the embedding cache). Each sentence is first matched
to the schema's known moves of that side: it takes the move whose phrasings it
is most similar to, when that cosine is at least `MOVE_THRESHOLD`. Of the other
sentences, those leaning to the side (nearer its label's prototype, the mean of
its description, examples and phrasings, than any other label's) are clustered
with k-means (seeded; k from 3 up to what is left of `MAX_POINTS`, chosen by
silhouette on a seeded sample); a sentence is under a found key point when its
cosine to the cluster's centre is at least `CLUSTER_THRESHOLD`. A turn is under
a key point when one of its sentences is.

A key point's statement is the move's name, or a real sentence of its cluster:
of the `CENTRAL_SHARE` nearest the centre, the one leaning most to the side
(extractive: nothing is generated). Its quotes are the sentences of different
turns nearest its phrasings or centre.

The move threshold is measured: `bench/moves_bench.py` on the shipped labelled
turns (BENCHMARKS.md, "Known moves and key points").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from stance.core.schema import Schema

# Cosine of a sentence to a move's nearest phrasing. On the 4106 shipped
# labelled turns (bench/moves_bench.py): at 0.45 moves catch 2763 turns and the
# move's label is the human label for 37% of catches, at 0.55 1827 turns and
# 42%, at 0.65 776 turns and 48%. 0.55 keeps most catches; the moves match a
# topic more than a side (base rates favor 15%, against 26%), so the report
# matches them only within a side's turns (the classifier's stance).
MOVE_THRESHOLD = 0.55
# Cosine of a sentence to its cluster's centre to count as under that point.
CLUSTER_THRESHOLD = 0.5
MIN_POINTS, MAX_POINTS = 3, 12
MIN_WORDS, MAX_WORDS = 5, 60  # sentences outside this are not arguments
STATEMENT_WORDS = (6, 25)  # a statement a reader can take in at a glance
MAX_SENTENCES = 40  # per turn: an article's tail adds cost, not points
QUOTES = 3
CENTRAL_SHARE = 0.1
LEAN_MIN = 0.0
SILHOUETTE_SAMPLE = 2000
SEED = 0

SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")


@dataclass(frozen=True)
class Sentence:
    turn_id: str
    text: str


@dataclass(frozen=True)
class Point:
    """One key point before it becomes report data: its sentences by index."""

    side: str
    statement: str
    kind: str  # "move" (from the schema) or "found" (a cluster)
    turn_ids: tuple[str, ...]
    quotes: tuple[Sentence, ...]
    members: tuple[int, ...]


def split_sentences(text: str) -> list[str]:
    """The sentences of a turn worth reading as arguments (MIN_WORDS..MAX_WORDS)."""
    out = []
    for part in SENTENCE_END.split(text):
        part = " ".join(part.split()).lstrip("-*•>#+ ")
        if MIN_WORDS <= len(part.split()) <= MAX_WORDS:
            out.append(part)
        if len(out) >= MAX_SENTENCES:
            break
    return out


def turn_sentences(turns: Sequence[tuple[str, str]]) -> list[Sentence]:
    """(turn id, text) pairs → their sentences, in order."""
    return [Sentence(tid, s) for tid, text in turns for s in split_sentences(text)]


def match_moves(
    vectors: np.ndarray, phrasing_vectors: Sequence[np.ndarray], threshold: float
) -> np.ndarray:
    """Per sentence, the index of the move it matches (nearest phrasing's cosine
    at least `threshold`, the best move winning), or -1."""
    if not len(vectors) or not phrasing_vectors:
        return np.full(len(vectors), -1)
    best = np.stack([(vectors @ P.T).max(axis=1) for P in phrasing_vectors], axis=1)
    out = best.argmax(axis=1)
    out[best.max(axis=1) < threshold] = -1
    return out


def _choose_k(X: np.ndarray, k_max: int) -> int:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(SEED)
    sample = X[rng.choice(len(X), min(len(X), SILHOUETTE_SAMPLE), replace=False)]
    best_k, best_score = MIN_POINTS, -2.0
    for k in range(MIN_POINTS, k_max + 1):
        if k >= len(sample):
            break
        labels = KMeans(k, n_init=2, random_state=SEED).fit_predict(sample)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(sample, labels, metric="cosine")
        if score > best_score:
            best_k, best_score = k, score
    return best_k


def _quotes(members: np.ndarray, sims: np.ndarray, sents) -> tuple[Sentence, ...]:
    chosen, seen = [], set()
    for i in members[np.argsort(-sims[members], kind="stable")]:
        key = " ".join(sents[i].text.lower().split())
        if sents[i].turn_id not in seen and key not in seen:
            seen.update((sents[i].turn_id, key))  # a page copied is no second quote
            chosen.append(sents[i])
        if len(chosen) == QUOTES:
            break
    return tuple(chosen)


def _statement(members: np.ndarray, sims: np.ndarray, lean: np.ndarray, sents) -> str:
    """Of the members nearest the centre (the top `CENTRAL_SHARE`), the one that
    leans most to the side: a cluster's centre is its topic, the lean makes
    the statement an argument rather than a neutral sentence on that topic."""
    lo, hi = STATEMENT_WORDS
    order = members[np.argsort(-sims[members], kind="stable")]
    fit = [i for i in order if lo <= len(sents[i].text.split()) <= hi] or list(order)
    central = fit[: max(1, int(len(fit) * CENTRAL_SHARE))]
    return sents[max(central, key=lambda i: lean[i])].text


def side_points(
    side: str,
    sents: Sequence[Sentence],
    vectors: np.ndarray,
    moves: Sequence[tuple[str, np.ndarray]],
    lean: np.ndarray | None = None,
    move_threshold: float = MOVE_THRESHOLD,
    cluster_threshold: float = CLUSTER_THRESHOLD,
) -> list[Point]:
    """The key points of one side: its known moves that match, then clusters of
    the rest, largest first within each kind."""
    points: list[Point] = []
    lean = np.zeros(len(vectors)) if lean is None else lean
    matched = match_moves(vectors, [P for _, P in moves], move_threshold)
    for m, (name, P) in enumerate(moves):
        members = np.flatnonzero(matched == m)
        if len(members):
            sims = (vectors @ P.T).max(axis=1)
            points.append(_point(side, name, "move", members, sims, lean, sents))
    points.sort(key=lambda p: -len(p.turn_ids))
    # Only sentences leaning to the side are clustered: a side's turns also
    # narrate and quote, and those sentences would make topics, not arguments.
    rest = np.flatnonzero((matched == -1) & (lean > LEAN_MIN))
    k_max = MAX_POINTS - len(points)
    if len(rest) > MIN_POINTS * 2 and k_max >= 1:
        from sklearn.cluster import KMeans

        X = vectors[rest]
        k = _choose_k(X, max(k_max, MIN_POINTS)) if k_max >= MIN_POINTS else k_max
        km = KMeans(k, n_init=4, random_state=SEED).fit(X)
        centres = km.cluster_centers_ / np.clip(
            np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12, None
        )
        found = []
        for c in range(k):
            sims = np.zeros(len(vectors))
            sims[rest] = X @ centres[c]
            members = rest[(km.labels_ == c) & (sims[rest] >= cluster_threshold)]
            if len(members):
                found.append(_point(side, "", "found", members, sims, lean, sents))
        found.sort(key=lambda p: (-len(p.turn_ids), p.statement))
        points += found
    return points[:MAX_POINTS]


def _point(side, name, kind, members, sims, lean, sents) -> Point:
    turn_ids = tuple(dict.fromkeys(sents[i].turn_id for i in members))
    return Point(
        side=side,
        statement=name or _statement(members, sims, lean, sents),
        kind=kind,
        turn_ids=turn_ids,
        quotes=_quotes(members, sims, sents),
        members=tuple(int(i) for i in members),
    )


def key_points(
    rows: Sequence[dict],
    schema: Schema,
    embed: Callable[[list[str]], np.ndarray],
) -> dict[str, list[Point]]:
    """Side label → its key points, from the rows' model stances."""
    out = {}
    specs = {spec.name: spec for spec in schema.labels}
    protos = _prototypes(schema, embed)
    for side in schema.sides:
        turns = [(r["id"], r["text"]) for r in rows if r.get("stance") == side]
        sents = turn_sentences(turns)
        if not sents:
            out[side] = []
            continue
        vectors = embed([s.text for s in sents])
        others = [protos[n] for n in protos if n != side]
        lean = vectors @ protos[side] - np.max([vectors @ o for o in others], axis=0)
        moves = [(m.name, embed(list(m.phrasings))) for m in specs[side].moves]
        out[side] = side_points(side, sents, vectors, moves, lean)
    return out


def _prototypes(schema: Schema, embed) -> dict[str, np.ndarray]:
    """Per label, the normalised mean of its description, examples and moves'
    phrasings: how far a sentence leans to a label."""
    out = {}
    for spec in schema.labels:
        texts = [spec.description or spec.name, *spec.examples]
        texts += [p for m in spec.moves for p in m.phrasings]
        v = embed(texts).mean(axis=0)
        out[spec.name] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def answered(
    points: dict[str, list[Point]], parent: dict[str, str | None]
) -> dict[tuple[str, str, str, str], int]:
    """Rebuttals: (side, statement of a reply's point, side, statement of the
    point it answers) → how many reply links join the two, for replies whose
    side differs from their parent's."""
    under: dict[str, list[tuple[str, str]]] = {}
    for side, ps in points.items():
        for p in ps:
            for tid in p.turn_ids:
                under.setdefault(tid, []).append((side, p.statement))
    counts: dict[tuple[str, str, str, str], int] = {}
    for child, par in parent.items():
        if par is None or child not in under or par not in under:
            continue
        for cs, cp in under[child]:
            for ps_, pp in under[par]:
                if cs != ps_:
                    counts[(cs, cp, ps_, pp)] = counts.get((cs, cp, ps_, pp), 0) + 1
    return counts
