"""`stance parse --scheduler/--workers`: pages read on the workers (one task a
file) and duplicates found with the rule of `ingest.dedup`, exactly.

`find_duplicates` gives what `ingest.dedup.find_duplicates` gives:

1. exact copies (`dedup.exact_copies`) here: a dict of normalised texts;
2. each partition of the texts long enough for the near search gets its
   shingle sets and MinHash band values on a worker (`dedup.band_signatures`),
   as a pandas frame of (band, the ROWS values, a 64-bit key, text index);
3. a dask.dataframe shuffle on the key brings every band value to one
   partition, where texts with equal (band, values) give candidate pairs
   (j < k), deduplicated across bands;
4. the pairs, cut by k, are checked on the workers with `dedup.passing_pairs`
   (the same bucket bound, thresholds and exact Jaccard);
5. `dedup.resolve_near` replays the passing pairs in input order here: the
   first occurrence is kept, a text merges into the most similar kept one.

`dedupe_turns` then merges as it does in one process (`meta.sources` lists
every place). The texts go to the workers with the tasks: each verification
task gets the texts of its pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PARTITION_TEXTS = 20_000  # texts per signature task
PAIRS_PER_TASK = 200_000


def _band_frame(start: int, norms: list[str]):
    """Band values of texts `start`.. as a frame: band, v0..v4, key, k."""
    import pandas as pd

    from stance.ingest.dedup import BANDS, ROWS, band_signatures

    _, _, sig = band_signatures(norms)
    m = sig.shape[0]
    cols = {"band": np.repeat(np.arange(BANDS, dtype=np.int16), m)}
    key = np.zeros(BANDS * m, dtype=np.uint64)
    for r in range(ROWS):
        v = np.concatenate([sig[:, b * ROWS + r] for b in range(BANDS)])
        cols[f"v{r}"] = v
        key ^= v.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(31)
    key ^= cols["band"].astype(np.uint64) * np.uint64(0x94D049BB133111EB)
    cols["key"] = key.astype(np.int64)  # the shuffle's key; equality is on values
    cols["k"] = np.tile(np.arange(start, start + m, dtype=np.int64), BANDS)
    return pd.DataFrame(cols)


def _pairs_of_partition(df):
    """Candidate pairs (k, j), j < k, of the texts sharing a band in this part."""
    import pandas as pd

    from stance.ingest.dedup import ROWS

    if df.empty:
        return pd.DataFrame({"k": np.zeros(0, np.int64), "j": np.zeros(0, np.int64)})
    df = df.sort_values(["band", *[f"v{r}" for r in range(ROWS)], "k"], kind="stable")
    vals = df[["band", *[f"v{r}" for r in range(ROWS)]]].to_numpy(np.int64)
    ks = df["k"].to_numpy()
    new = np.ones(len(df), dtype=bool)
    new[1:] = (vals[1:] != vals[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(df))
    out_k, out_j = [], []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s < 2:
            continue
        g = ks[s:e]  # sorted
        kk, jj = np.triu_indices(e - s, 1)
        out_k.append(g[jj])
        out_j.append(g[kk])
    if not out_k:
        return pd.DataFrame({"k": np.zeros(0, np.int64), "j": np.zeros(0, np.int64)})
    pairs = pd.DataFrame({"k": np.concatenate(out_k), "j": np.concatenate(out_j)})
    return pairs.drop_duplicates()


def _verify(k_of: np.ndarray, j_of: np.ndarray, texts: dict[int, str]):
    """The passing pairs among these candidates (`dedup.passing_pairs`)."""
    from stance.ingest.dedup import passing_pairs, shingle_sets

    ids = np.array(sorted(texts), dtype=np.int64)
    offsets, hashes = shingle_sets([texts[i] for i in ids.tolist()])
    nchars = np.array([len(texts[i]) for i in ids.tolist()], dtype=np.int64)
    local = passing_pairs(
        np.searchsorted(ids, k_of), np.searchsorted(ids, j_of), offsets, hashes, nchars
    )
    return [(int(ids[k]), int(ids[j]), s) for k, j, s in local]


def find_duplicates(client, texts: Sequence[str]) -> list[int]:
    """`ingest.dedup.find_duplicates(texts)`, computed on the Dask workers."""
    import dask
    import dask.dataframe as dd

    from stance.core.normalize import normalize_text
    from stance.ingest.dedup import exact_copies, resolve_near

    norms = [normalize_text(t) for t in texts]
    rep, elig = exact_copies(norms)
    if len(elig) < 2:
        return rep
    long_norms = [norms[i] for i in elig]
    parts = [
        dask.delayed(_band_frame)(s, long_norms[s : s + PARTITION_TEXTS])
        for s in range(0, len(long_norms), PARTITION_TEXTS)
    ]
    meta = _band_frame(0, ["x" * 64])
    bands = dd.from_delayed(parts, meta=meta.iloc[:0], verify_meta=False)
    shuffled = bands.shuffle("key", npartitions=max(len(parts), 2))
    pairs = shuffled.map_partitions(_pairs_of_partition, meta={"k": "i8", "j": "i8"})
    found = client.compute(pairs).result()
    found = found.drop_duplicates().sort_values(["k", "j"]).to_numpy(np.int64)
    futures = []
    for s in range(0, len(found), PAIRS_PER_TASK):
        chunk = found[s : s + PAIRS_PER_TASK]
        need = np.unique(chunk).tolist()
        futures.append(
            client.submit(
                _verify,
                chunk[:, 0],
                chunk[:, 1],
                {i: long_norms[i] for i in need},
                pure=False,
            )
        )
    passing = [p for f in futures for p in f.result()]
    for k, j in resolve_near(passing):
        rep[elig[k]] = elig[j]
    return rep


def read_pages(client, files):
    """`parse.read_page` of each file, one task a file, in order."""
    from stance.ingest.parse import read_page

    futures = client.map(read_page, [str(f) for f in files], pure=False)
    return client.gather(futures)


def parse_paths(client, paths, *, dedupe: bool = True, recursive: bool = True):
    """`parse.parse_paths` with the pages read and the duplicates found on Dask."""
    from stance.ingest.parse import parse_paths as parse_here

    return parse_here(
        paths,
        dedupe=dedupe,
        recursive=recursive,
        read_pages=lambda files: read_pages(client, files),
        find_duplicates=lambda texts: find_duplicates(client, texts),
    )
