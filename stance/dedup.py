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

Shingles and signatures of all texts are computed at once with numpy; the texts
are then compared in input order against an index of the texts kept so far, as
datasketch's MinHashLSH would (same signatures, same bands, same candidates).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .normalize import normalize_text
from .thread import Turn

SHINGLE = 5
NUM_PERM = 128
LSH_THRESHOLD = 0.5  # candidates only; recall at J=0.7 is then 99%
BANDS, ROWS = 25, 5  # datasketch MinHashLSH(LSH_THRESHOLD, NUM_PERM).b, .r
JACCARD_THRESHOLD = 0.8
LONG_CHARS = 800  # long cross-posts with edits and different cut-offs score lower:
LONG_JACCARD_THRESHOLD = 0.7  # 1.5k shared 5-grams at 0.7 are no coincidence
MIN_CHARS = 40  # shorter texts only merge when identical
BUCKETS = 256  # hash ranges counted per set for the Jaccard upper bound
_BUCKET_BITS = 8
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_BLOCK_BYTES = 1 << 20
_BLOCK_HASHES = 4096


def shingle_hashes(norm: str) -> np.ndarray:
    """Sorted unique 32-bit hashes of the character 5-grams of a normalised text."""
    data = np.frombuffer(norm.encode("utf-8"), dtype=np.uint8).astype(np.uint64)
    if data.size < SHINGLE:
        data = np.pad(data, (0, SHINGLE - data.size))
    h = np.zeros(data.size - SHINGLE + 1, dtype=np.uint64)
    for k in range(SHINGLE):
        h = h * np.uint64(1_000_003) + data[k : data.size - SHINGLE + 1 + k]
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    return np.unique(h & _MAX_HASH)


def _permutations(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    a = gen.randint(1, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64)
    b = gen.randint(0, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64)
    return a, b


def minhash_signature(hashes: np.ndarray, perms) -> np.ndarray:
    """The MinHash of one set (datasketch's legacy scheme); see minhash_signatures."""
    a, b = perms
    hv = hashes[:, None]
    phv = ((hv * a[None, :] + b[None, :]) % _MERSENNE) & _MAX_HASH
    return phv.min(axis=0)


def shingle_sets(norms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`shingle_hashes` of many texts at once, as (offsets, hashes) in CSR form.

    Text k's hashes are `hashes[offsets[k]:offsets[k + 1]]` (uint32, sorted, unique).
    Every text must be at least SHINGLE bytes long.
    """
    enc = [n.encode("utf-8") for n in norms]
    nbytes = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
    if nbytes.size and nbytes.min() < SHINGLE:
        raise ValueError(f"shingle_sets needs texts of at least {SHINGLE} bytes")
    data = np.frombuffer(b"".join(enc), dtype=np.uint8)
    ends = np.cumsum(nbytes)
    parts, counts = [], np.zeros(len(enc), dtype=np.int64)
    d0 = 0
    while d0 < len(enc):  # blocks of ~1 MB keep the temporaries small
        d1 = int(np.searchsorted(ends, ends[d0] + _BLOCK_BYTES, side="right"))
        d1 = max(d1, d0 + 1)
        lo = int(ends[d0] - nbytes[d0])
        block = data[lo : int(ends[d1 - 1])].astype(np.uint64)
        n = block.size - SHINGLE + 1
        h = np.zeros(n, dtype=np.uint64)
        for k in range(SHINGLE):
            h *= np.uint64(1_000_003)
            h += block[k : k + n]
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
        h &= _MAX_HASH
        # window starts of each text: its first len - SHINGLE + 1 bytes
        per = nbytes[d0:d1] - SHINGLE + 1
        doc = np.repeat(np.arange(d1 - d0, dtype=np.uint64), per)
        valid = np.ones(n, dtype=bool)
        tail = (ends[d0 : d1 - 1] - lo)[:, None] - np.arange(1, SHINGLE)[None, :]
        valid[tail.ravel()] = False
        keys = np.sort((doc << np.uint64(32)) | h[valid])
        keep = np.ones(keys.size, dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keys = keys[keep]
        counts[d0:d1] = np.bincount(
            (keys >> np.uint64(32)).astype(np.int64), minlength=d1 - d0
        )
        parts.append((keys & _MAX_HASH).astype(np.uint32))
        d0 = d1
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return offsets, hashes


def minhash_signatures(
    offsets: np.ndarray,
    hashes: np.ndarray,
    perms,
    num: int = NUM_PERM,
    workers: int | None = None,
) -> np.ndarray:
    """The first `num` values of `minhash_signature` for every set of a CSR, as uint32.

    (h * a + b) mod 2**64 mod (2**61 - 1) uses the Mersenne identity
    x mod M = (x & M) + (x >> 61), minus M once if that reaches M, instead of a
    64-bit division; sets are taken a few thousand hashes at a time so the
    (num, n) temporaries stay in cache. numpy releases the GIL, so `workers`
    threads (default: the CPU count, at most 4) share the sets.
    """
    a = np.ascontiguousarray(perms[0][:num, None])
    b = np.ascontiguousarray(perms[1][:num, None])
    m = offsets.size - 1
    sig = np.empty((m, num), dtype=np.uint32)
    workers = workers or min(os.cpu_count() or 1, 4)
    cuts = np.searchsorted(offsets, np.linspace(0, offsets[-1], workers + 1)[1:-1])
    bounds = [0, *sorted(set(cuts.tolist()) - {0, m}), m]
    parts = list(zip(bounds[:-1], bounds[1:], strict=True))
    if len(parts) == 1:
        _minhash_part(offsets, hashes, a, b, sig, *parts[0])
    else:
        with ThreadPoolExecutor(len(parts)) as pool:
            jobs = [
                pool.submit(_minhash_part, offsets, hashes, a, b, sig, d0, d1)
                for d0, d1 in parts
            ]
            for job in jobs:
                job.result()
    return sig


def _minhash_part(offsets, hashes, a, b, sig, first: int, stop: int) -> None:
    num = a.shape[0]
    cap = 0
    d0 = first
    while d0 < stop:
        d1 = int(np.searchsorted(offsets, offsets[d0] + _BLOCK_HASHES, side="right"))
        d1 = min(max(d1 - 1, d0 + 1), stop)
        lo, hi = int(offsets[d0]), int(offsets[d1])
        n = hi - lo
        if n > cap:
            cap = max(n, _BLOCK_HASHES)
            xbuf = np.empty(num * cap, dtype=np.uint64)
            ybuf = np.empty(num * cap, dtype=np.uint64)
            rbuf = np.empty(num * cap, dtype=np.uint32)
        x = xbuf[: num * n].reshape(num, n)
        y = ybuf[: num * n].reshape(num, n)
        r = rbuf[: num * n].reshape(num, n)
        np.multiply(hashes[None, lo:hi].astype(np.uint64), a, out=x)
        x += b
        np.bitwise_and(x, _MERSENNE, out=y)
        x >>= np.uint64(61)
        y += x  # x mod M, or x mod M + M when this reaches M (rare)
        if y.max() >= _MERSENNE:
            y -= _MERSENNE * (y >= _MERSENNE)
        np.copyto(r, y, casting="unsafe")  # the low 32 bits: & _MAX_HASH
        sig[d0:d1] = np.minimum.reduceat(r, offsets[d0:d1] - lo, axis=1).T
        d0 = d1


def band_groups(sig: np.ndarray) -> list[list[int]]:
    """For each signature, ids of the LSH bands it shares with another signature.

    Two signatures get the same id when their ROWS values in one of the BANDS
    bands are equal; a band value no other signature has gets no id, since it
    can never make a candidate.
    """
    m = sig.shape[0]
    ids = np.full((m, BANDS), -1, dtype=np.int64)
    first_id = 0
    for k in range(BANDS):
        band = sig[:, k * ROWS : (k + 1) * ROWS]
        order = np.lexsort(band.T[::-1])
        s = band[order]
        new = np.ones(m, dtype=bool)
        new[1:] = (s[1:] != s[:-1]).any(axis=1)
        run = np.cumsum(new) - 1
        shared = np.bincount(run)[run] > 1
        dense = np.cumsum(new & shared) - 1 + first_id
        ids[order, k] = np.where(shared, dense, -1)
        first_id = int(dense[-1]) + 1 if m else first_id
    return [[g for g in row if g >= 0] for row in ids.tolist()]


def bucket_counts(offsets: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """How many hashes of each set fall in each of BUCKETS ranges of hash values.

    sum(min(count_a, count_b)) >= |A & B| bounds the Jaccard similarity from
    above, cheaply enough to test every LSH candidate before the exact check.
    """
    m = offsets.size - 1
    sizes = np.diff(offsets)
    doc = np.repeat(np.arange(m, dtype=np.int64), sizes)
    flat = np.bincount(
        doc * BUCKETS + (hashes >> np.uint32(32 - _BUCKET_BITS)).astype(np.int64),
        minlength=m * BUCKETS,
    )
    dtype = np.uint16 if (sizes.max(initial=0) < 1 << 16) else np.uint32
    return flat.astype(dtype).reshape(m, BUCKETS)


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """|a & b| of two sorted arrays of unique values."""
    if not a.size or not b.size:
        return 0
    pos = np.searchsorted(a, b)
    pos[pos == a.size] = 0
    return int(np.count_nonzero(a[pos] == b))


def find_duplicates(texts: Sequence[str]) -> list[int]:
    """For each text, the index of the first text it duplicates (itself if none).

    A text is compared, in input order, with the texts kept so far (neither
    exact nor near copies of an earlier one) that share at least one LSH band
    of its MinHash signature; the most similar one that passes the Jaccard
    threshold wins, the earliest on ties.
    """
    norms = [normalize_text(t) for t in texts]
    rep = list(range(len(texts)))
    first_exact: dict[str, int] = {}
    elig: list[int] = []  # first copies long enough for near-duplicate search
    for i, norm in enumerate(norms):
        j = first_exact.setdefault(norm, i)
        if j != i:
            rep[i] = j
        elif len(norm) >= MIN_CHARS:
            elig.append(i)
    if len(elig) < 2:
        return rep
    offsets, hashes = shingle_sets([norms[i] for i in elig])
    sig = minhash_signatures(offsets, hashes, _permutations(), BANDS * ROWS)
    groups = band_groups(sig)
    del sig
    counts = bucket_counts(offsets, hashes)
    sizes = np.diff(offsets)
    nchars = np.fromiter((len(norms[i]) for i in elig), np.int64, count=len(elig))
    members: dict[int, list[int]] = {}  # band id -> kept texts with it
    for k, mine in enumerate(groups):
        if not mine:
            continue  # shares no band with any text: never a candidate
        cands: set[int] = set()
        for g in mine:
            kept = members.get(g)
            if kept:
                cands.update(kept)
        if cands:
            best = _best_match(k, cands, offsets, hashes, counts, sizes, nchars)
            if best is not None:
                rep[elig[k]] = elig[best]
                continue
        for g in mine:
            members.setdefault(g, []).append(k)
    return rep


def _best_match(k, cands, offsets, hashes, counts, sizes, nchars) -> int | None:
    """The candidate most similar to set k above its threshold (earliest on ties)."""
    c = np.fromiter(cands, dtype=np.int64, count=len(cands))
    needed = np.where(
        np.minimum(nchars[c], nchars[k]) >= LONG_CHARS,
        LONG_JACCARD_THRESHOLD,
        JACCARD_THRESHOLD,
    )
    upper = np.minimum(counts[c], counts[k]).sum(axis=1, dtype=np.int64)
    # Division rounds monotonically, so the bound stays a bound in floats.
    possible = upper / (sizes[c] + sizes[k] - upper) >= needed
    if not possible.any():
        return None
    mine = hashes[offsets[k] : offsets[k + 1]]
    best, best_j = None, 0.0
    for j, need in zip(c[possible].tolist(), needed[possible].tolist(), strict=True):
        other = hashes[offsets[j] : offsets[j + 1]]
        inter = intersection_size(mine, other)
        score = inter / (mine.size + other.size - inter)
        if score >= need and (
            best is None or score > best_j or (score == best_j and j < best)
        ):
            best, best_j = j, score
    return best


def dedupe_turns(turns: list[Turn]) -> tuple[list[Turn], int]:
    """Merge duplicate turns; keep the first, list every place in `meta.sources`.

    Within one conversation a block pasted twice merges into one sequence in
    thread order: a turn found only in the second copy is placed after the
    turn that precedes it there.
    """
    rep = find_duplicates([t.text for t in turns])
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
