import random

import numpy as np
import pytest
from conftest import SEEDS, shared_thread_files
from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.normalize import normalize_text
from stance.core.thread import Turn
from stance.ingest.dedup import (
    JACCARD_THRESHOLD,
    dedupe_turns,
    find_duplicates,
    shingle_hashes,
)


def mk(texts, conv="c"):
    return [
        Turn(
            f"{conv}:{i}",
            None,
            conv,
            None,
            None,
            t,
            {"kind": "comment", "sources": [{"file": "f", "line": i}], "quotes": []},
        )
        for i, t in enumerate(texts)
    ]


BASE = (
    "But Admiral Sir Reginald Drax, who led the British delegation, told his Soviet "
    "counterparts that he authorised only to talk, not to make deals."
)


def test_near_duplicate_edit_merges():
    edited = BASE.replace("who led", "who lead")
    assert find_duplicates([BASE, edited]) == [0, 0]


def test_curly_quotes_and_case_are_exact_duplicates():
    a = "It wasn’t just a pact of non-aggression. They divided Poland!"
    b = "it wasn't just a pact of non-aggression.  They divided Poland!"
    assert find_duplicates([a, b]) == [0, 0]


def test_different_comments_do_not_merge():
    a = "The Soviet Union had no other option but to reach an agreement with Hitler."
    b = "The Soviet Union had every option but chose to reach an agreement with Hitler."
    c = "Britain and France never took the Soviet offers seriously at any stage."
    assert find_duplicates([a, b, c]) == [0, 1, 2]


def test_sources_of_merged_copies_are_kept():
    turns, merged = dedupe_turns(mk([BASE, "Something else entirely here.", BASE]))
    assert merged == 1
    assert [s["line"] for s in turns[0].meta["sources"]] == [0, 2]


def test_exact_copy_of_a_near_copy_keeps_its_source():
    edited = BASE.replace("who led", "who lead")
    assert find_duplicates([BASE, edited, edited]) == [0, 0, 1]
    turns, merged = dedupe_turns(mk([BASE, edited, "Something else entirely.", edited]))
    assert merged == 2
    assert [s["line"] for s in turns[0].meta["sources"]] == [0, 1, 3]


sentences = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "Zs", "P"]),
    min_size=1,
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(sentences, min_size=1, max_size=25))
def test_dedup_idempotent_and_lossless(texts):
    texts = [t for t in texts if t.strip()] or ["x"]
    once, _ = dedupe_turns(mk(texts))
    twice, merged_again = dedupe_turns(once)
    assert merged_again == 0
    assert [t.text for t in twice] == [t.text for t in once]
    kept = {normalize_text(t.text) for t in once}
    for t in texts:  # no distinct text is lost: each is kept or near a kept one
        n = normalize_text(t)
        assert n in kept or find_duplicates([*[x.text for x in once], t])[-1] != len(
            once
        )


# ------------------------------------------- the vectorised path vs the previous one


def _previous_find_duplicates(texts):
    """find_duplicates as it was before the numpy rewrite (datasketch, per text)."""
    from datasketch import MinHash, MinHashLSH

    from stance.ingest import dedup as d
    from stance.ingest import minhash as mh

    mersenne, max_hash = np.uint64((1 << 61) - 1), np.uint64((1 << 32) - 1)

    def shingle_hashes(norm):
        data = np.frombuffer(norm.encode("utf-8"), dtype=np.uint8).astype(np.uint64)
        if data.size < mh.SHINGLE:
            data = np.pad(data, (0, mh.SHINGLE - data.size))
        h = np.zeros(data.size - mh.SHINGLE + 1, dtype=np.uint64)
        for k in range(mh.SHINGLE):
            h = h * np.uint64(1_000_003) + data[k : data.size - mh.SHINGLE + 1 + k]
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
        return np.unique(h & max_hash)

    gen = np.random.RandomState(1)
    a = gen.randint(1, int(mersenne), size=mh.NUM_PERM, dtype=np.uint64)
    b = gen.randint(0, int(mersenne), size=mh.NUM_PERM, dtype=np.uint64)

    def signature(hashes):
        phv = ((hashes[:, None] * a[None, :] + b[None, :]) % mersenne) & max_hash
        return phv.min(axis=0)

    def jaccard(x, y):
        inter = np.intersect1d(x, y, assume_unique=True).size
        return inter / (x.size + y.size - inter) if (x.size + y.size) else 1.0

    norms = [normalize_text(t) for t in texts]
    rep = list(range(len(texts)))
    first_exact = {}
    lsh = MinHashLSH(threshold=mh.LSH_THRESHOLD, num_perm=mh.NUM_PERM)
    shingles = {}
    for i, norm in enumerate(norms):
        if norm in first_exact:
            rep[i] = first_exact[norm]
            continue
        first_exact[norm] = i
        if len(norm) < d.MIN_CHARS:
            continue
        sh = shingle_hashes(norm)
        sig = MinHash(hashvalues=signature(sh), scheme="legacy")
        best, best_j = None, 0.0
        for j in lsh.query(sig):
            score = jaccard(sh, shingles[j])
            long_pair = min(len(norm), len(norms[j])) >= d.LONG_CHARS
            needed = d.LONG_JACCARD_THRESHOLD if long_pair else d.JACCARD_THRESHOLD
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


def _edit(text, rng):
    words = text.split()
    for _ in range(rng.randint(1, 4)):
        k = rng.randrange(len(words))
        op = rng.random()
        if op < 0.4 and len(words) > 8:
            del words[k]
        elif op < 0.7:
            words[k] = words[k][::-1]
        else:
            words.insert(k, rng.choice(words))
    return " ".join(words)


def recombined_turns(real, n, seed=0):
    """Real turns cut and joined, with edited, truncated and exact copies mixed in."""
    rng = random.Random(seed)
    mid = [t for t in real if 40 <= len(t.split()) <= 150]
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.5 or len(out) < 10:
            x, y = rng.sample(mid, 2)
            wx, wy = x.split(), y.split()
            out.append(" ".join(wx[: len(wx) // 2] + wy[len(wy) // 2 :]))
        elif r < 0.65:
            out.append(" ".join(rng.sample(real, 3)))  # often >= LONG_CHARS
        elif r < 0.85:
            out.append(_edit(rng.choice(out), rng))
        elif r < 0.95:
            words = rng.choice(out).split()
            cut = rng.uniform(0.7, 0.95)
            out.append(_edit(" ".join(words[: max(8, int(len(words) * cut))]), rng))
        else:
            out.append(rng.choice(out).upper().replace(" ", "  "))
    return out


@pytest.fixture(scope="module")
def real_texts():
    from stance.ingest.parse import parse_paths

    res = parse_paths([*sorted(SEEDS.glob("*.txt")), *shared_thread_files()])
    return [t.text for t in res.turns]


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_path_matches_previous_algorithm(real_texts, seed):
    texts = recombined_turns(real_texts, 3000, seed)
    rep = find_duplicates(texts)
    assert rep == _previous_find_duplicates(texts)
    norms = [normalize_text(t) for t in texts]
    near = [(i, r) for i, r in enumerate(rep) if r != i and norms[i] != norms[r]]
    long_near = [p for p in near if min(len(norms[p[0]]), len(norms[p[1]])) >= 800]

    def score(i, j):
        x, y = shingle_hashes(norms[i]), shingle_hashes(norms[j])
        inter = np.intersect1d(x, y).size
        return inter / (x.size + y.size - inter)

    # The data exercises every branch: exact copies, near copies, long pairs
    # merged at the lower threshold only.
    assert len(near) > 200 and len(long_near) > 20
    assert sum(score(i, r) < JACCARD_THRESHOLD for i, r in long_near) > 5
    assert len(set(rep)) < len(texts) - len(near) - 50


def test_band_layout_is_datasketchs():
    from datasketch import MinHashLSH

    from stance.ingest import minhash as mh

    lsh = MinHashLSH(threshold=mh.LSH_THRESHOLD, num_perm=mh.NUM_PERM)
    assert (lsh.b, lsh.r) == (mh.BANDS, mh.ROWS)
    assert lsh.hashranges[-1][1] == mh.BANDS * mh.ROWS


@pytest.mark.parametrize("small_blocks", [False, True])
def test_bulk_shingles_and_signatures_equal_per_text_ones(
    real_texts, small_blocks, monkeypatch
):
    from stance.ingest import dedup as d
    from stance.ingest import minhash as mh

    if small_blocks:  # texts and sets larger than a block take the chunked paths
        monkeypatch.setattr(mh, "_BLOCK_BYTES", 700)
        monkeypatch.setattr(mh, "_BLOCK_HASHES", 300)
    norms = [normalize_text(t) for t in real_texts if len(t) >= d.MIN_CHARS]
    assert max(map(len, norms)) > 2 * 700
    offsets, hashes = mh.shingle_sets(norms)
    perms = mh._permutations()
    sig = mh.minhash_signatures(offsets, hashes, perms, workers=2)
    assert np.array_equal(sig, mh.minhash_signatures(offsets, hashes, perms, workers=1))
    counts = mh.bucket_counts(offsets, hashes)
    for k, norm in enumerate(norms):
        mine = mh.shingle_hashes(norm)
        assert np.array_equal(hashes[offsets[k] : offsets[k + 1]], mine)
        assert np.array_equal(sig[k], mh.minhash_signature(mine, perms))
        top = (mine >> np.uint64(32 - 8)).astype(np.int64)
        assert np.array_equal(counts[k], np.bincount(top, minlength=mh.BUCKETS))
    texts = recombined_turns(real_texts, 600, seed=3)
    assert find_duplicates(texts) == _previous_find_duplicates(texts)


def test_signature_mod_reduction_handles_the_rare_wraparound():
    from stance.ingest import minhash as mh

    # a=1, b=M-3: h=3 gives x=M exactly, h=4..9 give x mod M = 1..6 via the
    # correction branch, h=10 gives x>>61 = 1. Compare with plain % M.
    mersenne = (1 << 61) - 1
    perms = (np.array([1, 1], np.uint64), np.array([mersenne - 3, 5], np.uint64))
    sets = [np.arange(3, 12, dtype=np.uint64), np.array([4, 9, 1 << 31], np.uint64)]
    offsets = np.array([0, sets[0].size, sets[0].size + sets[1].size])
    hashes = np.concatenate(sets).astype(np.uint32)
    sig = mh.minhash_signatures(offsets, hashes, perms, num=2)
    assert sig.tolist() == [mh.minhash_signature(s, perms).tolist() for s in sets]
    assert sig[0, 0] == 0


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(0, 2**32 - 1), min_size=1, max_size=300),
    st.sets(st.integers(0, 2**32 - 1), max_size=300),
    st.integers(0, 300),
)
def test_bucket_bound_never_below_true_intersection(x, extra, shared):
    from stance.ingest import minhash as mh

    y = set(list(x)[:shared]) | extra
    if not y:
        return
    sets = [np.array(sorted(x), np.uint32), np.array(sorted(y), np.uint32)]
    offsets = np.array([0, len(x), len(x) + len(y)])
    counts = mh.bucket_counts(offsets, np.concatenate(sets)).astype(np.int64)
    upper = np.minimum(counts[0], counts[1]).sum()
    inter = mh.intersection_size(*sets)
    assert inter == len(x & y)
    assert inter <= upper <= min(len(x), len(y))
