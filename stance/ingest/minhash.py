"""MinHash sketches of texts: character 5-gram shingle sets, MinHash
signatures and their LSH bands, and the set arithmetic the near-duplicate check
needs (`dedup.py` decides what is a duplicate; this module only measures).

NUM_PERM permutations; BANDS bands of ROWS values, datasketch's choice for the
candidate threshold LSH_THRESHOLD. Shingles and signatures of all texts are
computed at once with numpy.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SHINGLE = 5
NUM_PERM = 128
LSH_THRESHOLD = 0.5  # candidates only; recall at J=0.7 is then 99%
BANDS, ROWS = 25, 5  # datasketch MinHashLSH(LSH_THRESHOLD, NUM_PERM).b, .r
BUCKETS = 256  # hash ranges counted per set for the Jaccard upper bound
_BUCKET_BITS = 8
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_BLOCK_BYTES = 1 << 16  # text bytes per shingling block: small sorts stay in cache
_BLOCK_HASHES = 1 << 16
_BLOCK_SETS = 512


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
    """MinHash of one set (datasketch's legacy scheme), `chunk` rows at a time.

    The definition; `minhash_signatures` computes the same for many sets at once.
    """
    a, b = perms
    sig = np.full(a.shape, _MAX_HASH, dtype=np.uint64)
    for start in range(0, hashes.size, chunk):
        hv = hashes[start : start + chunk, None]
        phv = ((hv * a[None, :] + b[None, :]) % _MERSENNE) & _MAX_HASH
        np.minimum(sig, phv.min(axis=0), out=sig)
    return sig


def shingle_sets(norms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`shingle_hashes` of many texts at once, as (offsets, hashes) in CSR form.

    Text k's hashes are `hashes[offsets[k]:offsets[k + 1]]` (uint32, sorted, unique).
    Every text must be at least SHINGLE bytes long. Short texts are hashed
    together in blocks of _BLOCK_BYTES; a longer one on its own, by
    `shingle_hashes`, which keeps a page-sized text's memory small.
    """
    enc = [n.encode("utf-8") for n in norms]
    nbytes = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
    if nbytes.size and nbytes.min() < SHINGLE:
        raise ValueError(f"shingle_sets needs texts of at least {SHINGLE} bytes")
    parts: list[np.ndarray] = []
    counts = np.zeros(len(enc), dtype=np.int64)
    d0 = 0
    while d0 < len(enc):
        if nbytes[d0] > _BLOCK_BYTES:
            part = shingle_hashes(norms[d0]).astype(np.uint32)
            parts.append(part)
            counts[d0] = part.size
            d0 += 1
            continue
        d1, size = d0, 0
        while d1 < len(enc) and nbytes[d1] <= _BLOCK_BYTES - size:
            size += int(nbytes[d1])
            d1 += 1
        parts.append(_block_shingles(enc[d0:d1], nbytes[d0:d1], counts[d0:d1]))
        d0 = d1
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return offsets, hashes


def _block_shingles(enc: list[bytes], nbytes: np.ndarray, counts: np.ndarray):
    """Sorted unique shingle hashes of a few texts, one after the other."""
    block = np.frombuffer(b"".join(enc), dtype=np.uint8).astype(np.uint64)
    n = block.size - SHINGLE + 1
    h = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE):
        h *= np.uint64(1_000_003)
        h += block[k : k + n]
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    h &= _MAX_HASH
    # windows starting in a text's last SHINGLE - 1 bytes reach into the next
    ends = np.cumsum(nbytes)
    doc = np.repeat(np.arange(len(enc), dtype=np.uint64), nbytes - SHINGLE + 1)
    valid = np.ones(n, dtype=bool)
    valid[(ends[:-1, None] - np.arange(1, SHINGLE)[None, :]).ravel()] = False
    keys = _sorted_unique((doc << np.uint64(32)) | h[valid])
    counts[:] = np.bincount(
        (keys >> np.uint64(32)).astype(np.int64), minlength=len(enc)
    )
    return (keys & _MAX_HASH).astype(np.uint32)


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
    64-bit division; one permutation at a time over blocks of sets that stay in
    cache. numpy releases the GIL, so `workers` threads (default: the CPU count,
    at most 4) share the sets.
    """
    a = np.ascontiguousarray(perms[0][:num])
    b = np.ascontiguousarray(perms[1][:num])
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
    """Signatures of sets first..stop-1, a block of whole sets (or of one set's
    hashes, when it is larger than a block) at a time."""
    buf = np.empty(3 * _BLOCK_HASHES, dtype=np.uint64)
    low = np.empty(_BLOCK_HASHES, dtype=np.uint32)
    d0 = first
    while d0 < stop:
        d1 = int(np.searchsorted(offsets, offsets[d0] + _BLOCK_HASHES, side="right"))
        d1 = min(max(d1 - 1, d0 + 1), stop)
        lo, hi = int(offsets[d0]), int(offsets[d1])
        if hi - lo <= _BLOCK_HASHES:
            _block_minhash(
                hashes[lo:hi], offsets[d0:d1] - lo, a, b, buf, low, sig[d0:d1]
            )
        else:  # d1 == d0 + 1
            part = np.empty((1, a.size), dtype=np.uint32)
            sig[d0] = np.iinfo(np.uint32).max
            for c in range(lo, hi, _BLOCK_HASHES):
                chunk = hashes[c : min(hi, c + _BLOCK_HASHES)]
                _block_minhash(chunk, np.zeros(1, np.int64), a, b, buf, low, part)
                np.minimum(sig[d0], part[0], out=sig[d0])
        d0 = d1


def _block_minhash(hashes, starts, a, b, buf, low, out) -> None:
    """out[i, k]: minimum of permutation k over set i of a block (sets at starts)."""
    n = hashes.size
    hv, x, y = buf[:n], buf[n : 2 * n], buf[2 * n : 3 * n]
    low = low[:n]
    hv[:] = hashes
    for k in range(a.size):
        np.multiply(hv, a[k], out=x)
        x += b[k]
        np.bitwise_and(x, _MERSENNE, out=y)
        x >>= np.uint64(61)
        y += x  # x mod M, or x mod M + M when this reaches M (rare)
        if y.max() >= _MERSENNE:
            y -= _MERSENNE * (y >= _MERSENNE)
        np.copyto(low, y, casting="unsafe")  # the low 32 bits: & _MAX_HASH
        out[:, k] = np.minimum.reduceat(low, starts)


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
        band = np.ascontiguousarray(sig[:, k * ROWS : (k + 1) * ROWS])
        order = _sort_rows(band)
        s = band[order]
        new = np.ones(m, dtype=bool)
        new[1:] = (s[1:] != s[:-1]).any(axis=1)
        run = np.cumsum(new) - 1
        shared = np.bincount(run)[run] > 1
        dense = np.cumsum(new & shared) - 1 + first_id
        ids[order, k] = np.where(shared, dense, -1)
        first_id = int(dense[-1]) + 1 if m else first_id
    has = ids >= 0
    flat = ids[has].tolist()
    ends = np.cumsum(has.sum(axis=1)).tolist()
    return [flat[s:e] for s, e in zip([0, *ends[:-1]], ends, strict=True)]


def _sort_rows(rows: np.ndarray) -> np.ndarray:
    """An order that puts equal rows (of uint32) next to each other."""
    fp = np.zeros(rows.shape[0], dtype=np.uint64)
    for j in range(rows.shape[1]):  # a 64-bit fingerprint of the row
        fp ^= rows[:, j].astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        fp *= np.uint64(0xBF58476D1CE4E5B9)
        fp ^= fp >> np.uint64(31)
    order = np.argsort(fp, kind="stable")
    f, s = fp[order], rows[order]
    # Equal rows have equal fingerprints; if two different rows ever share one,
    # they might not end up side by side: sort by the values themselves.
    if np.any((f[1:] == f[:-1]) & (s[1:] != s[:-1]).any(axis=1)):
        return np.lexsort(rows.T[::-1])
    return order


def bucket_counts(offsets: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """How many hashes of each set fall in each of BUCKETS ranges of hash values.

    sum(min(count_a, count_b)) >= |A & B| bounds the Jaccard similarity from
    above, cheaply enough to test every LSH candidate before the exact check.
    """
    m = offsets.size - 1
    sizes = np.diff(offsets)
    dtype = np.uint16 if (sizes.max(initial=0) < 1 << 16) else np.uint32
    counts = np.zeros((m, BUCKETS), dtype=dtype)
    for c0 in range(0, hashes.size, _BLOCK_HASHES):
        c1 = min(hashes.size, c0 + _BLOCK_HASHES)
        first = int(np.searchsorted(offsets, c0, side="right")) - 1
        last = int(np.searchsorted(offsets, c1 - 1, side="right")) - 1
        per = np.minimum(offsets[first + 1 : last + 2], c1) - np.maximum(
            offsets[first : last + 1], c0
        )
        doc = np.repeat(np.arange(last - first + 1, dtype=np.int64), per)
        top = hashes[c0:c1] >> np.uint32(32 - _BUCKET_BITS)
        flat = np.bincount(doc * BUCKETS + top, minlength=(last - first + 1) * BUCKETS)
        counts[first : last + 1] += flat.reshape(-1, BUCKETS).astype(dtype)
    # One byte per bucket halves the memory the bound reads, when it is enough.
    return counts.astype(np.uint8) if counts.max(initial=0) < 256 else counts


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (np.unique hashes integers in numpy 2.3+: slower here)."""
    values = np.sort(values)
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """|a & b| of two sorted arrays of unique values."""
    if not a.size or not b.size:
        return 0
    pos = np.searchsorted(a, b)
    pos[pos == a.size] = 0
    return int(np.count_nonzero(a[pos] == b))
