"""`stance report DATASET`: the report of a labelled Parquet dataset
(`stance label --partitioned`), counted with dask.dataframe partition by
partition, so the rows never sit in one process.

Each partition becomes per-row indicator columns (the group keys, one column a
stance, uncertain, no stance, the row's position); a groupby sums them per
page, speaker, month and skip reason. The result is the dict that
`report.data.dataset_report` builds in one process from the same rows,
groups in the same order (most turns first, then first met).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLUMNS = ["speaker", "conversation_id", "timestamp", "meta", "stance"]
COLUMNS += ["confidence", "skipped", "model"]
_POS = 1 << 40  # rows a partition may hold before positions overlap


def is_row_dataset(path: Path) -> bool:
    """A folder of `part-NNNNN.parquet` files, as `stance label --partitioned` writes."""
    from stance.core.writers import not_a_row_dataset

    return (
        path.is_dir()
        and any(path.glob("part-*.parquet"))
        and not_a_row_dataset(path) is None
    )


def _indicators(df, names: list[str], below: float, partition_info=None):
    import json

    import pandas as pd

    from stance.core.schema import UNCERTAIN
    from stance.report.data import month_of
    from stance.report.sections import page_of

    number = partition_info["number"] if partition_info else 0
    n = len(df)

    def text(v):
        return (
            None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v
        )

    metas = [json.loads(m) if text(m) else {} for m in df["meta"].tolist()]
    convs = [text(c) for c in df["conversation_id"].tolist()]
    speakers = [text(s) for s in df["speaker"].tolist()]
    stamps = [text(t) for t in df["timestamp"].tolist()]
    skipped = [text(s) for s in df["skipped"].tolist()]
    stance = [text(s) for s in df["stance"].tolist()]
    conf = pd.to_numeric(df["confidence"]).to_numpy(dtype=float, na_value=np.nan)
    scored = np.array([not s for s in skipped], dtype=bool)
    out = {
        "page": [
            page_of({"meta": m, "conversation_id": c})
            for m, c in zip(metas, convs, strict=True)
        ],
        "speaker": [s or "(unknown)" for s in speakers],
        "month": [month_of({"timestamp": t}) for t in stamps],
        "reason": [s or "" for s in skipped],
        "n": np.ones(n, dtype=np.int64),
        "scored": scored.astype(np.int64),
        "skipped": (~scored).astype(np.int64),
        "abstained": np.array([s == UNCERTAIN for s in stance], dtype=np.int64),
        "uncertain": (
            scored
            & (
                np.array([s == UNCERTAIN for s in stance], dtype=bool)
                | (np.nan_to_num(conf, nan=1.0) < below)
            )
        ).astype(np.int64),
        "pos": number * _POS + np.arange(n, dtype=np.int64),
    }
    for k, name in enumerate(names):
        out[f"c{k}"] = (
            scored & np.array([s == name for s in stance], dtype=bool)
        ).astype(np.int64)
    return pd.DataFrame(out, index=df.index)


def _groups(frame, names: list[str]) -> list[dict]:
    """`report.data.distribution`'s dicts from the summed indicator columns."""
    frame = frame.sort_values(["n", "pos"], ascending=[False, True], kind="stable")
    out = []
    for group, r in frame.iterrows():
        scored = int(r["scored"])
        counts = {name: int(r[f"c{k}"]) for k, name in enumerate(names)}
        out.append(
            {
                "group": group,
                "n": int(r["n"]),
                "counts": counts,
                "shares": {name: counts[name] / max(scored, 1) for name in names},
                "uncertain": int(r["uncertain"]),
                "skipped": int(r["skipped"]),
            }
        )
    return out


def dataset_report(path: Path, schema, client=None):
    """The report data of the labelled dataset at `path` (see the module doc)."""
    import dask
    import dask.dataframe as dd
    import pandas as pd

    from stance.report.data import UNCERTAIN_BELOW, counted_report

    names = list(schema.names)
    ddf = dd.read_parquet(str(path), columns=COLUMNS)
    meta = _indicators(ddf._meta, names, UNCERTAIN_BELOW)
    ind = ddf.map_partitions(_indicators, names, UNCERTAIN_BELOW, meta=meta)
    sums = [c for c in meta.columns if c not in ("page", "speaker", "month", "reason")]
    agg = {c: "sum" for c in sums}
    agg["pos"] = "min"
    wanted = [
        ind.groupby(key).agg(agg) for key in ("page", "speaker", "month", "reason")
    ]
    wanted.append(ind[sums].sum())
    wanted.append(ddf["model"].head(1, npartitions=-1, compute=False))
    if client is not None:
        page, speaker, month, reason, total, model = client.compute(wanted, sync=True)
    else:
        page, speaker, month, reason, total, model = dask.compute(*wanted)
    n = int(total["n"])
    overall = pd.DataFrame([total], index=["all turns"])
    reasons = reason.drop(index="", errors="ignore")
    reasons = reasons.sort_values(["n", "pos"], ascending=[False, True], kind="stable")
    return counted_report(
        schema,
        model=str(model.iloc[0]) if len(model) else "model",
        n=n,
        abstained=int(total["abstained"]),
        skipped={k: int(v) for k, v in reasons["n"].items()},
        overall=_groups(overall, names)[0] if n else None,
        per_page=_groups(page, names),
        per_speaker=_groups(speaker, names),
        per_month=_groups(month, names),
        dataset=str(path),
    )
