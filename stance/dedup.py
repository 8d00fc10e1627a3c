"""Exact and near-duplicate merging of turns, with provenance.

Exact duplicates share `normalize_text`. Near-duplicates are found with MinHash
LSH (datasketch) over character 5-gram shingles of the normalised text
(NUM_PERM permutations, LSH candidate threshold LSH_THRESHOLD) and confirmed by the exact
Jaccard similarity of the shingle sets (>= JACCARD_THRESHOLD, or LONG_JACCARD_THRESHOLD when both texts have at least
LONG_CHARS characters: the three cross-posted "What if" opening posts, cut off at
different points, score 0.72-0.83). On the seeds' edited Telegraph copies ("who led" / "who lead", straight vs curly quotes) the
pairs score 0.93-0.99; distinct comments on the same subject stay below 0.5.
"""

from __future__ import annotations

import numpy as np

from .normalize import normalize_text
from .thread import Turn

SHINGLE = 5
NUM_PERM = 128
LSH_THRESHOLD = 0.5  # candidates only; recall at J=0.7 is then >99%
JACCARD_THRESHOLD = 0.8
LONG_CHARS = 800  # long cross-posts with edits and different cut-offs score lower:
LONG_JACCARD_THRESHOLD = 0.7  # 1.5k shared 5-grams at 0.7 are no coincidence
MIN_CHARS = 40  # shorter texts only merge when identical
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


def shingle_hashes(norm: str, chunk: int = 1 << 20) -> np.ndarray:
    """Sorted unique 32-bit hashes of the character 5-grams of a normalised text.

    Hashed `chunk` shingles at a time, so a page-sized text needs a few arrays
    of `chunk` elements, not several of its own length.
    """
    raw = np.frombuffer(norm.encode("utf-8"), dtype=np.uint8)
    if raw.size < SHINGLE:
        raw = np.pad(raw, (0, SHINGLE - raw.size))
    n = raw.size - SHINGLE + 1
    parts = []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        data = raw[start : stop + SHINGLE - 1].astype(np.uint64)
        h = np.zeros(stop - start, dtype=np.uint64)
        for k in range(SHINGLE):
            h = h * np.uint64(1_000_003) + data[k : k + stop - start]
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
        parts.append(np.unique(h & _MAX_HASH))
    return parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))


def _permutations(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    a = gen.randint(1, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64)
    b = gen.randint(0, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64)
    return a, b


def minhash_signature(hashes: np.ndarray, perms, chunk: int = 4096) -> np.ndarray:
    """Minimum of each permutation over the hashes, `chunk` rows at a time."""
    a, b = perms
    sig = np.full(a.shape, _MAX_HASH, dtype=np.uint64)
    for start in range(0, hashes.size, chunk):
        hv = hashes[start : start + chunk, None]
        phv = ((hv * a[None, :] + b[None, :]) % _MERSENNE) & _MAX_HASH
        np.minimum(sig, phv.min(axis=0), out=sig)
    return sig


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter) if (a.size + b.size) else 1.0


def find_duplicates(texts: list[str]) -> list[int]:
    """For each text, the index of the first text it duplicates (itself if none)."""
    from datasketch import MinHash, MinHashLSH

    norms = [normalize_text(t) for t in texts]
    rep = list(range(len(texts)))
    first_exact: dict[str, int] = {}
    perms = _permutations()
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    shingles: dict[int, np.ndarray] = {}
    for i, norm in enumerate(norms):
        if norm in first_exact:
            rep[i] = first_exact[norm]
            continue
        first_exact[norm] = i
        if len(norm) < MIN_CHARS:
            continue
        sh = shingle_hashes(norm)
        sig = MinHash(hashvalues=minhash_signature(sh, perms), scheme="legacy")
        best, best_j = None, 0.0
        for j in lsh.query(sig):
            score = jaccard(sh, shingles[j])
            long_pair = min(len(norm), len(norms[j])) >= LONG_CHARS
            needed = LONG_JACCARD_THRESHOLD if long_pair else JACCARD_THRESHOLD
            if score >= needed and (
                best is None or score > best_j or (score == best_j and j < best)
            ):
                best, best_j = j, score
        if best is not None:
            rep[i] = rep[best]
            continue
        shingles[i] = sh
        lsh.insert(i, sig)
    return rep


def dedupe_turns(turns: list[Turn]) -> tuple[list[Turn], int]:
    """Merge duplicate turns; keep the first, list every place in `meta.sources`.

    Within one conversation a block pasted twice merges into one sequence in
    thread order: a turn found only in the second copy is placed after the
    turn that precedes it there.
    """
    rep = find_duplicates([t.text for t in turns])
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
