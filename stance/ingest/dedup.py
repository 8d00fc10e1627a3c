"""Exact and near-duplicate merging of turns, with provenance.

Exact duplicates share `normalize_text`. Near-duplicates are found with MinHash
LSH over character 5-gram shingles of the normalised text (NUM_PERM
permutations; BANDS bands of ROWS values, datasketch's choice for the candidate
threshold LSH_THRESHOLD) and confirmed by the exact Jaccard similarity of the
shingle sets (>= JACCARD_THRESHOLD, or LONG_JACCARD_THRESHOLD when both texts have
at least LONG_CHARS characters: the three cross-posted "What if" opening posts, cut
off at different points, score 0.72-0.83). On the seeds' edited Telegraph copies
("who led" / "who lead", straight vs curly quotes) the pairs score 0.93-0.99;
distinct comments on the same subject stay below 0.5.

Shingles and signatures of all texts are computed at once (`minhash.py`); the texts
are then compared in input order against an index of the texts kept so far, as
datasketch's MinHashLSH would (same signatures, same bands, same candidates).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

import numpy as np

from stance.core.normalize import normalize_text
from stance.core.thread import Turn
from stance.ingest.minhash import (  # noqa: F401 (shingle_hashes: part of this API)
    _BLOCK_SETS,
    BANDS,
    ROWS,
    _permutations,
    _sorted_unique,
    band_groups,
    bucket_counts,
    intersection_size,
    minhash_signatures,
    shingle_hashes,
    shingle_sets,
)

JACCARD_THRESHOLD = 0.8
LONG_CHARS = 800  # long cross-posts with edits and different cut-offs score lower:
LONG_JACCARD_THRESHOLD = 0.7  # 1.5k shared 5-grams at 0.7 are no coincidence
MIN_CHARS = 40  # shorter texts only merge when identical


def exact_copies(norms: Sequence[str]) -> tuple[list[int], list[int]]:
    """For each normalised text, the first identical one (itself if none), and
    the first copies long enough (MIN_CHARS) for the near-duplicate search."""
    rep = list(range(len(norms)))
    first_exact: dict[str, int] = {}
    elig: list[int] = []
    for i, norm in enumerate(norms):
        j = first_exact.setdefault(norm, i)
        if j != i:
            rep[i] = j
        elif len(norm) >= MIN_CHARS:
            elig.append(i)
    return rep, elig


def band_signatures(norms: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, hashes, signatures) of texts: their shingle sets in CSR form and
    the BANDS * ROWS MinHash values that make the LSH bands."""
    offsets, hashes = shingle_sets(norms)
    sig = minhash_signatures(offsets, hashes, _permutations(), BANDS * ROWS)
    return offsets, hashes, sig


def needed_jaccard(nchars_a: np.ndarray, nchars_b: np.ndarray) -> np.ndarray:
    """The Jaccard similarity two texts of these lengths need to merge."""
    return np.where(
        np.minimum(nchars_a, nchars_b) >= LONG_CHARS,
        LONG_JACCARD_THRESHOLD,
        JACCARD_THRESHOLD,
    )


def find_duplicates(texts: Sequence[str]) -> list[int]:
    """For each text, the index of the first text it duplicates (itself if none).

    A text is compared, in input order, with the texts kept so far (neither
    exact nor near copies of an earlier one) that share at least one LSH band
    of its MinHash signature; the most similar one that passes the Jaccard
    threshold wins, the earliest on ties.
    """
    norms = [normalize_text(t) for t in texts]
    rep, elig = exact_copies(norms)
    if len(elig) < 2:
        return rep
    offsets, hashes, sig = band_signatures([norms[i] for i in elig])
    groups = band_groups(sig)
    del sig
    nchars = np.fromiter((len(norms[i]) for i in elig), np.int64, count=len(elig))
    for k, best in _near_copies(groups, offsets, hashes, nchars):
        rep[elig[k]] = elig[best]
    return rep


def passing_pairs(
    k_of: np.ndarray, j_of: np.ndarray, offsets, hashes, nchars
) -> list[tuple[int, int, float]]:
    """(k, j, Jaccard) of the candidate pairs whose similarity reaches
    `needed_jaccard`: the bucket bound first, then the exact check, as
    `find_duplicates` decides a pair (indices into the CSR of `offsets`)."""
    counts = bucket_counts(offsets, hashes)
    total = np.uint16 if counts.dtype == np.uint8 else np.int64
    sizes = np.diff(offsets)
    needed = needed_jaccard(nchars[k_of], nchars[j_of])
    upper = counts[k_of]
    np.minimum(upper, counts[j_of], out=upper)
    upper = upper.sum(axis=1, dtype=total)
    possible = upper / (sizes[k_of] + sizes[j_of] - upper) >= needed
    out = []
    for k, j, need in zip(
        k_of[possible].tolist(),
        j_of[possible].tolist(),
        needed[possible].tolist(),
        strict=True,
    ):
        score = _jaccard(hashes, offsets, k, j)
        if score >= need:
            out.append((k, j, score))
    return out


def resolve_near(pairs: Iterable[tuple[int, int, float]]) -> Iterator[tuple[int, int]]:
    """(k, j): set k merges into the earlier set j, from every passing pair
    (k, j, Jaccard), j < k, of sets that share an LSH band.

    The rule of `find_duplicates`, replayed in input order: k merges into the
    most similar j still kept (not merged itself), the earliest on ties.
    """
    merged: set[int] = set()
    for k, group in groupby(sorted(pairs), key=lambda p: p[0]):
        best = None
        for _, j, score in group:  # by j: ties keep the first
            if j not in merged and (best is None or score > best[1]):
                best = (j, score)
        if best is not None:
            merged.add(k)
            yield k, best[0]


def _near_copies(groups, offsets, hashes, nchars) -> Iterator[tuple[int, int]]:
    """(k, j) for each set k that merges into the earlier kept set j, in order.

    Sets are taken in blocks: each set of a block is put in the index as it is
    met (so later sets of the block see it) and taken out again if it merges.
    The Jaccard bound of all the block's candidate pairs is computed at once;
    the few pairs it lets through are then decided in input order.
    """
    m = len(groups)
    counts = bucket_counts(offsets, hashes)
    total = np.uint16 if counts.dtype == np.uint8 else np.int64  # 256 * 255 fits
    sizes = np.diff(offsets)
    kept = np.ones(m, dtype=bool)
    members: dict[int, list[int]] = {}  # band id -> kept sets with it
    for s in range(0, m, _BLOCK_SETS):
        block = range(s, min(s + _BLOCK_SETS, m))
        cands: list[int] = []
        per_set = []
        for k in block:
            before = len(cands)
            for g in groups[k]:
                hit = members.setdefault(g, [])
                cands.extend(hit)
                hit.append(k)
            per_set.append(len(cands) - before)
        if not cands:
            continue
        pair = _sorted_unique(
            np.repeat(np.arange(block.start, block.stop), per_set) * m
            + np.array(cands, dtype=np.int64)
        )
        k_of, j_of = pair // m, pair % m
        needed = needed_jaccard(nchars[k_of], nchars[j_of])
        upper = counts[k_of]
        np.minimum(upper, counts[j_of], out=upper)
        upper = upper.sum(axis=1, dtype=total)
        # Division rounds monotonically, so the bound stays a bound in floats.
        possible = upper / (sizes[k_of] + sizes[j_of] - upper) >= needed
        best: dict[int, tuple[float, int]] = {}
        for k, j, need in zip(
            k_of[possible].tolist(),
            j_of[possible].tolist(),
            needed[possible].tolist(),
            strict=True,
        ):
            if not kept[j]:  # merged earlier in this block
                continue
            score = _jaccard(hashes, offsets, k, j)
            if score >= need and (k not in best or score > best[k][0]):
                best[k] = (score, j)  # pairs come by k, then j: ties keep the first
                if kept[k]:
                    kept[k] = False
                    for g in groups[k]:
                        members[g].remove(k)
        for k in sorted(best):
            yield k, best[k][1]


def _jaccard(hashes, offsets, k: int, j: int) -> float:
    a = hashes[offsets[k] : offsets[k + 1]]
    b = hashes[offsets[j] : offsets[j + 1]]
    inter = intersection_size(a, b)
    return inter / (a.size + b.size - inter)


def dedupe_turns(turns: list[Turn], find=find_duplicates) -> tuple[list[Turn], int]:
    """Merge duplicate turns; keep the first, list every place in `meta.sources`.

    Within one conversation a block pasted twice merges into one sequence in
    thread order: a turn found only in the second copy is placed after the
    turn that precedes it there. `find`: texts -> `find_duplicates`' answer
    (`scale.dedup` gives the same from Dask workers).
    """
    return merge_duplicates(turns, find([t.text for t in turns]))


def merge_duplicates(turns: list[Turn], rep: list[int]) -> tuple[list[Turn], int]:
    """The turns with each duplicate merged into `rep[i]`, the turn it copies."""
    rep = list(rep)
    for i, r in enumerate(rep):  # an exact copy of a near copy: to the kept turn
        rep[i] = rep[r]
    sources: dict[int, list] = {}
    quotes: dict[int, list] = {}
    for i, r in enumerate(rep):
        if r != i:
            sources.setdefault(r, []).extend(turns[i].meta.get("sources", []))
            quotes.setdefault(r, []).extend(turns[i].meta.get("quotes", []))
    order: dict[str, list[int]] = {}
    cursor: dict[str, int | None] = {}
    placed: dict[int, tuple[str, int]] = {}
    for i, turn in enumerate(turns):
        conv = turn.conversation_id
        seq = order.setdefault(conv, [])
        r = rep[i]
        if r != i:
            where = placed.get(r)
            if where is not None and where[0] == conv:
                cursor[conv] = seq.index(r) + 1
            continue
        pos = cursor.get(conv)
        if pos is None or pos >= len(seq):
            seq.append(i)
            cursor[conv] = None
        else:
            seq.insert(pos, i)
            cursor[conv] = pos + 1
        placed[i] = (conv, 0)
    out = []
    for seq in order.values():
        for i in seq:
            t = turns[i]
            if i in sources:
                extra_q = [
                    q for q in quotes.get(i, []) if q not in t.meta.get("quotes", [])
                ]
                t = t.with_meta(
                    sources=list(t.meta.get("sources", [])) + sources[i],
                    quotes=list(t.meta.get("quotes", [])) + extra_q,
                )
            out.append(t)
    return out, len(turns) - len(out)
