"""Dedup on Dask workers gives `ingest.dedup`'s answer exactly: the same
representative for every text, the same merged turns and `meta.sources`."""

import random

import numpy as np
import pytest
from conftest import SEEDS

from stance.ingest import dedup
from stance.ingest.parse import parse_paths
from stance.scale import dedup as scale_dedup


def near_copy(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 25)):
        i = rng.randrange(len(words))
        words[i] = words[i][::-1] if rng.random() < 0.5 else words[i] + "s"
    return " ".join(words)


@pytest.fixture(scope="module")
def texts():
    """Real turns, their near and exact copies, halves of two turns, short ones."""
    real = [t.text for t in parse_paths(sorted(SEEDS.glob("*.txt"))).turns]
    rng = random.Random(5)
    out = list(real)
    for _ in range(1500):
        a, b = rng.sample(real, 2)
        kind = rng.random()
        if kind < 0.3:
            out.append(near_copy(a, rng))
        elif kind < 0.5:
            out.append(a.upper())  # an exact copy once normalised
        elif kind < 0.8:
            wa, wb = a.split(), b.split()
            out.append(" ".join(wa[: len(wa) // 2] + wb[len(wb) // 2 :]))
        else:
            out.append(rng.choice(["yes", "Agreed.", "source?", a[:30]]))
    rng.shuffle(out)
    return out


def test_pairs_replayed_in_order_give_find_duplicates(texts):
    """The pure pieces the Dask path uses, without Dask: every band-sharing pair
    checked by passing_pairs, then resolve_near."""
    from stance.core.normalize import normalize_text

    norms = [normalize_text(t) for t in texts]
    rep, elig = dedup.exact_copies(norms)
    offsets, hashes, sig = dedup.band_signatures([norms[i] for i in elig])
    members: dict[int, list[int]] = {}
    pairs = set()
    for k, groups in enumerate(dedup.band_groups(sig)):
        for g in groups:
            pairs.update((k, j) for j in members.setdefault(g, []))
            members[g].append(k)
    k_of, j_of = (np.array(x, dtype=np.int64) for x in zip(*sorted(pairs), strict=True))
    nchars = np.array([len(norms[i]) for i in elig])
    for k, j in dedup.resolve_near(
        dedup.passing_pairs(k_of, j_of, offsets, hashes, nchars)
    ):
        rep[elig[k]] = elig[j]
    want = dedup.find_duplicates(texts)
    assert rep == want
    assert sum(r != i for i, r in enumerate(want)) > 300  # near and exact merges


def test_dask_find_duplicates_is_the_single_process_answer(
    dask_client, texts, monkeypatch
):
    monkeypatch.setattr(scale_dedup, "PARTITION_TEXTS", 400)  # several partitions
    monkeypatch.setattr(scale_dedup, "PAIRS_PER_TASK", 500)
    assert scale_dedup.find_duplicates(dask_client, texts) == dedup.find_duplicates(
        texts
    )


def test_dask_parse_is_the_single_process_parse(dask_client):
    pages = [
        *sorted(SEEDS.glob("*.txt")),
        *sorted((SEEDS / "threads").glob("*.txt"))[:6],
    ]
    here = parse_paths(pages)
    there = scale_dedup.parse_paths(dask_client, pages)
    assert there.turns == here.turns  # ids, order, meta.sources of every turn
    assert there.merged == here.merged > 0
