"""Label Studio and Prodigy: import labels, export tasks, round-trip."""

import json

import pytest
from conftest import HELD_OUT_PAGES, ROOT, run_cli

from stance.core.normalize import normalize_text
from stance.core.schema import read_schema
from stance.labelling.labels import read_labels

SCHEMA_FILE = ROOT / "labels" / "schema.toml"
NAMES = read_schema(SCHEMA_FILE).names
ENV = {"STANCE_SCHEMA": str(SCHEMA_FILE)}


def _choice(label, cancelled=False, who=1):
    return {
        "completed_by": who,
        "was_cancelled": cancelled,
        "result": [
            {
                "from_name": "stance",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [label]},
            }
        ],
    }


def _ls_tasks():
    return [
        {
            "id": 11,
            "data": {"text": "The pact bought time."},
            "annotations": [_choice("favor")],
        },
        {
            "id": 12,
            "data": {"text": "Stalin invaded Poland.", "conversation_id": "c2"},
            "annotations": [
                _choice("favor", cancelled=True),
                _choice("against", who=7),
            ],
        },
        {  # a model guess is no label
            "id": 13,
            "data": {"text": "Who signed it?"},
            "annotations": [],
            "predictions": [{"result": _choice("none")["result"], "score": 0.9}],
        },
        {
            "id": 14,
            "data": {"text": "Here is a book list.", "id": "t14", "source": "s.txt"},
            "annotations": [_choice("none", who=1), _choice("none", who=2)],
        },
    ]


def test_label_studio_import_cli(tmp_path):
    src = tmp_path / "export.json"
    src.write_text(json.dumps(_ls_tasks()), encoding="utf-8")
    target = tmp_path / "studio.csv"
    res = run_cli("labels", "import", src, "--to", target, env=ENV)
    assert res.returncode == 0, res.stderr
    assert "3 labels added" in res.stdout and "1 without a label left out" in res.stdout
    labs = read_labels(target, NAMES)
    assert [(lab.text, lab.stance) for lab in labs] == [
        ("The pact bought time.", "favor"),
        ("Stalin invaded Poland.", "against"),
        ("Here is a book list.", "none"),
    ]
    assert labs[1].conversation_id == "c2" and labs[1].annotator == "label-studio:7"
    assert labs[2].id == "t14" and labs[2].source == "s.txt"
    # importing again adds nothing; the file is unchanged
    before = target.read_bytes()
    res = run_cli("labels", "import", src, "--to", target, env=ENV)
    assert res.returncode == 0 and "0 labels added" in res.stdout
    assert "3 already there" in res.stdout and target.read_bytes() == before


def _one_line_error(res):
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr
    return lines[0]


@pytest.mark.parametrize(
    "change,expected",
    [
        (
            lambda t: t[1]["annotations"].append(_choice("maybe")),
            "export.json: task 2 (id 12): unknown label 'maybe' "
            "(expected favor, against, none)",
        ),
        (
            lambda t: t[3]["annotations"].append(_choice("favor")),
            "task 4 (id 14): annotations disagree (none, none, favor)",
        ),
        (lambda t: t[0]["data"].pop("text"), "task 1 (id 11): no 'data.text'"),
        (
            lambda t: t[0]["annotations"][0]["result"][0]["value"]["choices"].append(
                "none"
            ),
            "task 1 (id 11): an annotation has 2 choices (favor, none); expected one",
        ),
    ],
)
def test_label_studio_bad_input_is_one_line(tmp_path, change, expected):
    tasks = _ls_tasks()
    change(tasks)
    src = tmp_path / "export.json"
    src.write_text(json.dumps(tasks), encoding="utf-8")
    target = tmp_path / "studio.csv"
    line = _one_line_error(run_cli("labels", "import", src, "--to", target, env=ENV))
    assert expected in line
    assert not target.exists()


def test_prodigy_import_accepts_only_accepted_answers(tmp_path):
    records = [
        {"text": "Binary accept", "label": "favor", "answer": "accept"},
        {"text": "Binary reject", "label": "favor", "answer": "reject"},
        {"text": "Ignored one", "label": "none", "answer": "ignore"},
        {
            "text": "Choice accept",
            "options": [{"id": "f", "text": "favor"}, {"id": "a", "text": "against"}],
            "accept": ["a"],
            "answer": "accept",
            "meta": {"conversation_id": "m1", "source": "page.txt"},
            "_annotator_id": "ann-1",
        },
        {"text": "Choice plain", "accept": ["none"], "answer": "accept"},
        {"text": "Nothing chosen", "accept": [], "answer": "accept"},
    ]
    src = tmp_path / "prodigy.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    target = tmp_path / "p.csv"
    res = run_cli("labels", "import", src, "--to", target, env=ENV)
    assert res.returncode == 0, res.stderr
    assert "3 labels added" in res.stdout and "3 without a label left out" in res.stdout
    labs = read_labels(target, NAMES)
    assert [(lab.text, lab.stance) for lab in labs] == [
        ("Binary accept", "favor"),
        ("Choice accept", "against"),
        ("Choice plain", "none"),
    ]
    assert labs[1].conversation_id == "m1" and labs[1].annotator == "prodigy:ann-1"


@pytest.mark.parametrize(
    "line5,expected",
    [
        (
            {"text": "x", "label": "FAVOR", "answer": "accept"},
            "prodigy.jsonl line 5: unknown label 'FAVOR'",
        ),
        (
            {"text": "x", "accept": ["favor", "none"], "answer": "accept"},
            "line 5: 2 options accepted; expected one",
        ),
        ({"label": "none", "answer": "accept"}, "line 5: no 'text'"),
        ({"text": "x", "answer": "accept"}, "line 5: no 'label' or 'accept'"),
    ],
)
def test_prodigy_bad_record_names_its_line(tmp_path, line5, expected):
    ok = {"text": "fine", "label": "none", "answer": "accept"}
    src = tmp_path / "prodigy.jsonl"
    lines = [json.dumps(ok)] * 3 + [""] + [json.dumps(line5)]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = _one_line_error(
        run_cli("labels", "import", src, "--to", tmp_path / "p.csv", env=ENV)
    )
    assert expected in line


def test_import_conflicting_with_the_target_changes_nothing(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("text,stance\nThe pact bought time.,none\n", encoding="utf-8")
    before = target.read_bytes()
    src = tmp_path / "export.json"
    src.write_text(json.dumps(_ls_tasks()), encoding="utf-8")
    line = _one_line_error(run_cli("labels", "import", src, "--to", target, env=ENV))
    assert "'favor' here but 'none' in" in line and "line 2" in line
    assert target.read_bytes() == before


def test_import_unknown_suffix_and_bad_json(tmp_path):
    src = tmp_path / "labels.txt"
    src.write_text("[]", encoding="utf-8")
    line = _one_line_error(
        run_cli("labels", "import", src, "--to", tmp_path / "t.csv", env=ENV)
    )
    assert "--format label-studio or prodigy" in line
    bad = tmp_path / "bad.json"
    bad.write_text('[{"data": {"text": "a"}},\n oops]', encoding="utf-8")
    line = _one_line_error(
        run_cli("labels", "import", bad, "--to", tmp_path / "t.csv", env=ENV)
    )
    assert "bad.json line 2: malformed JSON" in line


@pytest.mark.slow
def test_export_then_label_studio_then_import_round_trips(project):
    """Held-out turns -> tasks -> annotated as their human labels -> same labels."""
    root, held = project
    tasks_path = root / "tasks.json"
    config = root / "stance.xml"
    res = run_cli(
        "labels",
        "export",
        *HELD_OUT_PAGES,
        "-o",
        tasks_path,
        "--config",
        config,
        cwd=root,
    )
    assert res.returncode == 0, res.stderr
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert len(tasks) >= 20 and f"{len(tasks)} tasks" in res.stderr
    xml = config.read_text(encoding="utf-8")
    assert all(f'<Choice value="{n}"/>' in xml for n in NAMES)
    for t in tasks:
        (pred,) = t["predictions"]
        (result,) = pred["result"]
        assert result["from_name"] == "stance" and result["to_name"] == "text"
        assert result["value"]["choices"][0] in NAMES
        assert 1 / len(NAMES) <= pred["score"] <= 1
    # a human fills in each task in Label Studio (here: the held-out labels)
    truth = {normalize_text(r["text"]): r["stance"] for r in held}
    for k, t in enumerate(tasks):
        t["id"] = 100 + k
        t["annotations"] = [_choice(truth[normalize_text(t["data"]["text"])])]
    export = root / "project-1-at-2026.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    target = root / "labels" / "studio.csv"
    res = run_cli("labels", "import", export, "--to", target, cwd=root)
    assert res.returncode == 0, res.stderr
    got = read_labels(target, NAMES)
    assert [
        (lab.text, lab.stance, lab.id, lab.conversation_id, lab.source) for lab in got
    ] == [
        (
            t["data"]["text"],
            truth[normalize_text(t["data"]["text"])],
            t["data"]["id"],
            t["data"]["conversation_id"],
            t["data"]["source"],
        )
        for t in tasks
    ]
    # exported turns are now labelled: a new export leaves them out
    res = run_cli("labels", "export", *HELD_OUT_PAGES, "-o", root / "t2.json", cwd=root)
    assert res.returncode == 0, res.stderr
    again = {t["data"]["id"] for t in json.loads((root / "t2.json").read_text())}
    assert not again & {t["data"]["id"] for t in tasks}


def test_import_into_a_cp1252_label_file_is_a_one_line_error(tmp_path):
    """Issue 15 row 15: UnicodeDecodeError came out as an internal error."""
    target = tmp_path / "labels.csv"
    target.write_bytes(
        "text,stance\r\nLe pacte signé à Moscou,favor\r\n".encode("cp1252")
    )
    before = target.read_bytes()
    src = tmp_path / "p.jsonl"
    src.write_text('{"text": "A new text", "label": "none", "answer": "accept"}\n')
    res = run_cli("labels", "import", src, "--to", target)
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"error: {target}: not UTF-8: convert it (to UTF-8) before adding labels to it"
    ]
    assert target.read_bytes() == before


# ---------------------------------------------- exports of a real Label Studio

LS_DATA = ROOT / "tests" / "data" / "label_studio"  # how they were made: README.md


@pytest.mark.parametrize(
    "name", ["export_json.json", "export_json_min.json", "export.csv"]
)
def test_real_label_studio_exports_import_alike(name, tmp_path):
    from stance.labelling.interchange import import_labels

    schema = read_schema(SCHEMA_FILE)
    res = import_labels(LS_DATA / name, tmp_path / "studio.csv", schema)
    got = [(r["stance"], r["text"][:30]) for r in res["rows"]]
    assert got == [
        ("against", "On this day On September 17, t"),
        ("against", "There is a long-standing myth "),
        ("none", "People (rightfully) remember t"),
    ]
    full = name == "export_json.json"  # one task a record, else one annotation
    assert res["duplicates"] == (0 if full else 1)  # task 2: two that agree
    # JSON holds the skipped task 4, JSON_MIN and CSV the unlabelled task 5
    assert res["left_out"] == 1
    assert all(r["annotator"] == "label-studio:1" for r in res["rows"])
    assert {r["conversation_id"] for r in res["rows"]} == {
        "reddit-europe_16ks7r6_sept17-stalin-joined-hitler"
    }
    labels = read_labels(tmp_path / "studio.csv", NAMES)
    assert [lab.stance for lab in labels] == ["against", "against", "none"]


def test_json_min_and_csv_via_cli(tmp_path):
    for name in ("export_json_min.json", "export.csv"):
        res = run_cli(
            "labels",
            "import",
            LS_DATA / name,
            "--to",
            tmp_path / f"{name}.csv",
            env=ENV,
        )
        assert res.returncode == 0, res.stderr
        assert "3 labels added" in res.stdout and "1 without a label" in res.stdout


def _min_record(**kw):
    return {"text": "The pact bought time.", "id": 1, "annotator": 1, **kw}


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ([_min_record(stance={"choices": ["favor", "none"]})], "2 choices"),
        ([_min_record(stance="maybe")], "unknown label 'maybe'"),
        ([_min_record(stance="favor", text="")], "record 1: no 'text'"),
        ([_min_record(a="favor", b="none")], "other columns: a, b"),
    ],
)
def test_json_min_errors_name_the_record(records, problem, tmp_path):
    from stance.core.errors import InputError
    from stance.labelling.interchange import read_label_studio

    p = tmp_path / "min.json"
    p.write_text(json.dumps(records))
    with pytest.raises(InputError, match=problem):
        read_label_studio(p, NAMES)


def test_json_min_with_another_choice_name(tmp_path):
    from stance.labelling.interchange import read_label_studio

    p = tmp_path / "min.json"
    p.write_text(json.dumps([_min_record(sentiment="favor")]))
    rows, left_out = read_label_studio(p, NAMES)
    assert [r["stance"] for r in rows] == ["favor"] and left_out == 0
