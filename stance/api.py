"""The notebook API: pages in, pandas DataFrames out, ConvoKit corpora both ways.

    import stance
    turns = stance.parse(["seeds", "seeds/threads"])      # one row a turn
    rows = stance.label(turns)                             # + stance, confidence, scores
    stance.to_convokit(rows, "corpus")                     # convokit.Corpus(filename="corpus")

The CLI commands call the same functions (`parse_paths`, `load_model`,
`iter_turns` + `predict_rows`, `write_corpus`). Every import here is lazy, so
`import stance` loads no pandas, scikit-learn or torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stance.core.thread import Turn as _Turn

if TYPE_CHECKING:
    import pandas as pd

    from stance.core.thread import Turn

# The turn's fields are the file format (`core.thread.Turn` owns them).
TURN_COLUMNS = tuple(f.name for f in fields(_Turn))
LABEL_COLUMNS = ("stance", "confidence", "scores", "model", "skipped")

PathsLike = str | Path | Iterable[str | Path]


def _paths(paths: PathsLike) -> list[Path]:
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows (turn fields, maybe labels) as a DataFrame; values keep their Python type.

    Columns are `object` (confidence `float`), so integer timestamps next to
    missing ones stay integers and None stays None (not NaN).
    """
    import pandas as pd

    rows = list(rows)
    columns = list(TURN_COLUMNS)
    if rows and "stance" in rows[0]:
        columns += LABEL_COLUMNS
    data = {c: pd.Series([r.get(c) for r in rows], dtype=object) for c in columns}
    df = pd.DataFrame(data, columns=columns)
    if "confidence" in df:
        df["confidence"] = df["confidence"].astype(float)
    return df


def _clean(value: Any) -> Any:
    """A DataFrame cell back to a plain value: NaN/NA -> None, numpy -> Python."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def frame_rows(df: pd.DataFrame) -> list[dict]:
    """A DataFrame of turns (or labelled rows) back to plain row dicts."""
    missing = [c for c in ("id", "text") if c not in df.columns]
    if missing:
        from stance.core.errors import StanceError

        raise StanceError(
            f"DataFrame has no {', '.join(missing)} column (stance.parse makes one)"
        )
    rows = []
    for record in df.to_dict("records"):
        row = {k: _clean(v) for k, v in record.items()}
        row["meta"] = row.get("meta") or {}
        if row.get("conversation_id") is None:
            row["conversation_id"] = row["id"]
        if row.get("timestamp") is not None and isinstance(row["timestamp"], float):
            if row["timestamp"].is_integer():
                row["timestamp"] = int(row["timestamp"])
        rows.append(row)
    return rows


def frame_turns(df: pd.DataFrame) -> list[Turn]:
    from stance.core.thread import Turn

    return [Turn.from_dict(r) for r in frame_rows(df)]


def parse(paths: PathsLike, *, dedupe: bool = True) -> pd.DataFrame:
    """Pages, structured files or ConvoKit corpora → one row a turn (as `stance parse`)."""
    from stance.ingest.parse import parse_paths

    return frame(t.to_dict() for t in parse_paths(_paths(paths), dedupe=dedupe).turns)


def load_model(
    path: str | Path | None = None,
    *,
    schema: str | Path | None = None,
    trust_unsigned: bool = False,
):
    """A trained model directory, `"zero-shot"`, or (None) the debate's models/default.

    `schema` is the schema file (default: ./labels/schema.toml, as the CLI).
    """
    from stance.core.schema import find_schema
    from stance.model.find import load_model as _load

    return _load(
        None if path is None else Path(path),
        find_schema(schema),
        trust_unsigned=trust_unsigned,
    )


def label(
    data: PathsLike | pd.DataFrame,
    model=None,
    *,
    schema: str | Path | None = None,
    thread_aware: bool = False,
    min_confidence: float | None = None,
    any_language: bool = False,
) -> pd.DataFrame:
    """Label turns: paths (as `stance label`) or a DataFrame from `parse`.

    `model`: a loaded model, a model directory, "zero-shot", or None for the
    debate's default. Adds `stance`, `confidence`, `scores`, `model` and
    `skipped` columns (as `stance label`, whose options the keywords mirror).
    """
    from stance.core.schema import find_schema
    from stance.ingest.lang import ENCODER_LANGUAGES, with_languages
    from stance.ingest.parse import iter_turns
    from stance.model.predict import abstain, predict_rows, thread_aware_rows

    sch = find_schema(schema)
    if model is None or isinstance(model, (str, Path)):
        from stance.model.find import load_model as _load

        model = _load(None if model is None else Path(model), sch)
    languages = None if any_language else ENCODER_LANGUAGES
    if _is_frame(data):  # a frame made elsewhere may lack meta.lang: as a file's turns
        turns: Sequence[Turn] | Iterable[Turn] = list(with_languages(frame_turns(data)))
    else:
        turns = iter_turns(_paths(data))
    rows = (
        thread_aware_rows(turns, model, sch.sides, languages)
        if thread_aware
        else predict_rows(turns, model, languages=languages)
    )
    return frame(abstain(rows, min_confidence))


def to_convokit(data: pd.DataFrame | Iterable[dict], directory: str | Path) -> dict:
    """Write turns or labelled rows as a ConvoKit corpus directory (as `--format convokit`).

    Returns the counts and any reasons a conversation is not one reply tree.
    """
    from stance.ingest.convokit import write_corpus

    rows = frame_rows(data) if _is_frame(data) else data
    return write_corpus(directory, rows)


def read_convokit(directory: str | Path) -> pd.DataFrame:
    """A ConvoKit corpus directory (any version) as one row a turn."""
    from stance.ingest.convokit import read_corpus

    return frame(t.to_dict() for t in read_corpus(directory))


def _is_frame(data) -> bool:
    return hasattr(data, "to_dict") and hasattr(data, "columns")
