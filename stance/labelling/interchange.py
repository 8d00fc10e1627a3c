"""Label Studio and Prodigy interchange: import their labels, export our tasks.

Import (`stance labels import FILE --to labels/NAME.csv`):

- Label Studio JSON export (`.json`): a list of tasks; the text is `data.text`,
  the label is the single `value.choices` entry of the task's annotations
  (`annotations[].result[]`; cancelled annotations and `predictions` are
  ignored). A task without a choice is left out; annotations of one task that
  disagree are an error. `data.id`, `data.conversation_id`, `data.source` and
  `data.note` are kept when present (our export writes them).
- Label Studio `JSON_MIN` export (`.json`, a list of flat records) and `CSV`
  export (`.csv`): one record per annotation, the task's data fields at the top
  (`text`, and our `conversation_id`, `source`, `note`), the choice under the
  Choices tag's name (`stance` in our config; another single choice column is
  taken when there is no `stance`), `annotator`. A record without a choice
  (a skipped task) is left out; one with several choices is an error. Their
  `id` is Label Studio's task id, not our turn id, so it is not kept (labels
  join turns by text).
- Prodigy JSONL (`.jsonl`): one record a line with `text`, the label in `label`
  (binary textcat) or `accept` (choice interface, exactly one option), and
  `answer`: only `accept` answers become labels; `reject` and `ignore` are
  left out. `id`, `conversation_id`, `source` are read from the record or its
  `meta`.

A label the schema does not know is a one-line error naming the file and the
task (Label Studio, counted from 1) or line (Prodigy). Imported rows are added to
the target label file in one atomic rewrite; a text the target already holds with
the same label is not added twice, with another label it is an error.

Export (`stance labels export PATH... -o tasks.json`): the unlabelled turns in
`stance suggest` order as Label Studio tasks, each with the model's guess as a
prediction (`result` with `choices`, `score` = its probability). `label_config`
gives the matching labelling interface.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from stance.core.errors import InputError
from stance.core.schema import check_label

FORMATS = ("label-studio", "prodigy")
FROM_NAME = "stance"
TO_NAME = "text"


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise InputError(
                path, f"unknown format '{fmt}' (expected {', '.join(FORMATS)})"
            )
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "prodigy"
    if suffix in (".json", ".csv"):
        return "label-studio"
    raise InputError(
        path,
        "cannot tell the format from the suffix; pass --format label-studio or prodigy",
    )


def _str(value) -> str:
    return "" if value is None else str(value).strip()


def _annotator(ann: dict) -> str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return f"label-studio:{who}" if who not in (None, "") else "label-studio"


def read_label_studio(path: Path, allowed: Sequence[str]) -> tuple[list[dict], int]:
    """Label rows from a Label Studio export (JSON, JSON_MIN or CSV), and how many
    tasks were left out without a label."""
    from stance.core.inputfiles import read_text

    text, _ = read_text(path)
    if path.suffix.lower() == ".csv":
        return _read_min(path, _csv_records(path, text), allowed, "row", 2)
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON ({exc.msg})", line=exc.lineno) from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError(path, "expected a list of Label Studio tasks")
    if tasks and all(isinstance(t, dict) and "data" not in t for t in tasks):
        return _read_min(path, tasks, allowed, "record", 1)  # JSON_MIN
    rows, left_out = [], 0
    for n, task in enumerate(tasks, start=1):
        where = f"task {n}" + (
            f" (id {task['id']})" if isinstance(task, dict) and "id" in task else ""
        )
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InputError(path, f"{where}: not a task (no 'data' object)")
        data = task["data"]
        body = data.get("text")
        if not isinstance(body, str) or not body.strip():
            raise InputError(path, f"{where}: no 'data.text'")
        answers = []
        for ann in task.get("annotations") or []:
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue
            choices = [
                c
                for r in ann.get("result") or []
                if isinstance(r, dict) and isinstance(r.get("value"), dict)
                for c in r["value"].get("choices") or []
            ]
            if not choices:
                continue
            if len(choices) != 1:
                raise InputError(
                    path,
                    f"{where}: an annotation has {len(choices)} choices "
                    f"({', '.join(map(str, choices))}); expected one",
                )
            answers.append((str(choices[0]), ann))
        if not answers:
            left_out += 1
            continue
        for stance, _ in answers:
            check_label(stance, allowed, path, where=where)
        if len({s for s, _ in answers}) > 1:
            raise InputError(
                path,
                f"{where}: annotations disagree ({', '.join(s for s, _ in answers)}); "
                "resolve them in Label Studio first",
            )
        stance, ann = answers[-1]
        rows.append(
            {
                "text": body.strip(),
                "stance": stance,
                "id": _str(data.get("id")),
                "conversation_id": _str(data.get("conversation_id")),
                "source": _str(data.get("source")),
                "annotator": _annotator(ann),
                "note": _str(data.get("note")),
            }
        )
    return rows, left_out


# Columns of a JSON_MIN / CSV record that are never the choice.
MIN_META_FIELDS = {
    "id",
    "text",
    "annotator",
    "annotation_id",
    "created_at",
    "updated_at",
    "lead_time",
    "agreement",
    "history",
    "conversation_id",
    "source",
    "note",
}


def _csv_records(path: Path, text: str) -> list[dict]:
    import csv
    import io

    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        records = [dict(r) for r in reader]
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})") from None
    if not reader.fieldnames or "text" not in reader.fieldnames:
        raise InputError(path, "no 'text' column: not a Label Studio CSV export")
    return records


def _choice_field(path: Path, records: list[dict]) -> str:
    keys = {k for r in records for k in r if k is not None}
    if FROM_NAME in keys:
        return FROM_NAME
    others = sorted(k for k in keys - MIN_META_FIELDS if not k.startswith("_data_"))
    if len(others) == 1:
        return others[0]
    raise InputError(
        path,
        f"no '{FROM_NAME}' column (the Choices tag of `stance labels export "
        f"--config`); other columns: {', '.join(others) or 'no other column'}",
    )


def _min_choices(value) -> list[str]:
    """The choices of a JSON_MIN / CSV cell: "LABEL", {"choices": [...]}, JSON text."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if value.lstrip().startswith(("{", "[")):
            try:
                return _min_choices(json.loads(value))
            except json.JSONDecodeError:
                return [value]
        return [value]
    if isinstance(value, dict):
        return [str(c) for c in value.get("choices") or []]
    if isinstance(value, list):
        return [c for v in value for c in _min_choices(v)]
    return [str(value)]


def _read_min(
    path: Path, records: list, allowed: Sequence[str], unit: str, first: int
) -> tuple[list[dict], int]:
    """Label rows of a JSON_MIN or CSV export: one record per annotation."""
    if not records:
        return [], 0
    if not all(isinstance(r, dict) for r in records):
        raise InputError(path, "expected a list of Label Studio records")
    field = _choice_field(path, records)
    rows, left_out = [], 0
    for n, rec in enumerate(records, start=first):
        where = f"{unit} {n}"
        body = rec.get("text")
        if not isinstance(body, str) or not body.strip():
            raise InputError(path, f"{where}: no 'text'")
        choices = _min_choices(rec.get(field))
        if not choices:
            left_out += 1
            continue
        if len(choices) != 1:
            raise InputError(
                path,
                f"{where}: {len(choices)} choices ({', '.join(choices)}); expected one",
            )
        check_label(choices[0], allowed, path, where=where)
        who = _str(rec.get("annotator"))
        rows.append(
            {
                "text": body.strip(),
                "stance": choices[0],
                "id": "",
                "conversation_id": _str(rec.get("conversation_id")),
                "source": _str(rec.get("source")),
                "annotator": f"label-studio:{who}" if who else "label-studio",
                "note": _str(rec.get("note")),
            }
        )
    return rows, left_out


def read_prodigy(path: Path, allowed: Sequence[str]) -> tuple[list[dict], int]:
    """Label rows from Prodigy JSONL (accepted answers only), and the rest's count."""
    from stance.core.inputfiles import read_text
    from stance.core.thread import iter_jsonl_objects

    text, _ = read_text(path)
    rows, left_out = [], 0
    for lineno, rec in iter_jsonl_objects(path, text.split("\n")):
        if rec.get("answer") != "accept":
            left_out += 1
            continue
        body = rec.get("text")
        if not isinstance(body, str) or not body.strip():
            raise InputError(path, "no 'text'", line=lineno)
        if "accept" in rec:
            chosen = rec.get("accept") or []
            names = {
                o.get("id"): o.get("text", o.get("id"))
                for o in rec.get("options") or []
                if isinstance(o, dict)
            }
            chosen = [str(names.get(c, c)) for c in chosen]
            if not chosen:
                left_out += 1
                continue
            if len(chosen) != 1:
                raise InputError(
                    path, f"{len(chosen)} options accepted; expected one", line=lineno
                )
            stance = chosen[0]
        elif rec.get("label") is not None:
            stance = str(rec["label"])
        else:
            raise InputError(path, "no 'label' or 'accept'", line=lineno)
        check_label(stance, allowed, path, line=lineno)
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}

        def field(name, rec=rec, meta=meta):
            return _str(rec.get(name, meta.get(name)))

        who = rec.get("_annotator_id") or rec.get("_session_id")
        rows.append(
            {
                "text": body.strip(),
                "stance": stance,
                "id": field("id"),
                "conversation_id": field("conversation_id"),
                "source": field("source"),
                "annotator": f"prodigy:{who}" if who else "prodigy",
                "note": field("note"),
            }
        )
    return rows, left_out


def import_labels(path: Path, target: Path, schema, fmt: str | None = None) -> dict:
    """Read a Label Studio or Prodigy file and add its labels to `target`."""
    from stance.core.files import check_output_path
    from stance.core.normalize import normalize_text
    from stance.labelling.labels import LabelFile, read_label_rows

    path, target = Path(path), Path(target)
    fmt = detect_format(path, fmt)
    reader = read_label_studio if fmt == "label-studio" else read_prodigy
    rows, left_out = reader(path, schema.names)
    check_output_path(target)
    file = LabelFile(target)
    with file.lock():
        data = file.text_for_update()  # a non-UTF-8 target: one line, before work
        existing = (
            read_label_rows(target, schema.names)[0]
            if target.exists() and target.stat().st_size
            else []
        )
        known = {lab.key: lab for lab in existing}
        new: list[dict] = []
        seen: dict[str, dict] = {}
        duplicates = 0
        for row in rows:
            key = normalize_text(row["text"])
            prev = known.get(key)
            if prev is not None:
                if prev.stance != row["stance"]:
                    raise InputError(
                        path,
                        f"'{row['text'][:60]}' is '{row['stance']}' here but "
                        f"'{prev.stance}' in {target} line {prev.line}",
                    )
                duplicates += 1
                continue
            if key in seen:
                if seen[key]["stance"] != row["stance"]:
                    raise InputError(
                        path,
                        f"'{row['text'][:60]}' is labelled both "
                        f"'{seen[key]['stance']}' and '{row['stance']}'",
                    )
                duplicates += 1
                continue
            seen[key] = row
            new.append(row)
        file.add_rows(data, new)
    return {
        "format": fmt,
        "added": len(new),
        "duplicates": duplicates,
        "left_out": left_out,
        "target": str(target),
        "rows": new,
    }


def label_config(schema) -> str:
    """The Label Studio labelling interface matching our tasks and predictions."""
    from xml.sax.saxutils import quoteattr

    choices = "\n".join(f"    <Choice value={quoteattr(n)}/>" for n in schema.names)
    return (
        "<View>\n"
        f'  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" '
        'showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def candidate_task(cand, model_version: str) -> dict:
    from stance.labelling.suggest import turn_source

    t = cand.turn
    return {
        "data": {
            "text": t.text,
            "id": t.id,
            "conversation_id": t.conversation_id,
            "source": turn_source(t),
        },
        "predictions": [
            {
                "model_version": model_version,
                "score": round(cand.confidence, 4),
                "result": [
                    {
                        "from_name": FROM_NAME,
                        "to_name": TO_NAME,
                        "type": "choices",
                        "value": {"choices": [cand.guess]},
                        "score": round(cand.confidence, 4),
                    }
                ],
            }
        ],
    }


def export_tasks(
    paths: Sequence[Path],
    model,
    schema,
    label_paths: Sequence[Path] = (),
    n: int | None = None,
    method: str = "margin",
) -> list[dict]:
    """Unlabelled turns (most informative first) as Label Studio tasks."""
    from stance.labelling.suggest import candidates
    from stance.model.find import model_name

    cands, _ = candidates(paths, model, schema, label_paths, method)
    if n is not None:
        cands = cands[:n]
    return [candidate_task(c, model_name(model)) for c in cands]


# What `stance labels export -o` writes.
TASK_FORMATS = (".json",)


def write_tasks(path: Path, tasks: list[dict]) -> None:
    from stance.core.files import atomic_write_text

    atomic_write_text(path, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
