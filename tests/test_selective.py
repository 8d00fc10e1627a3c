"""Selective labelling: `--min-confidence` marks the turns the model is unsure of
as `uncertain` instead of guessing, in `stance label` and `stance report`."""

import json

import pytest
from conftest import SEEDS, run_cli

from stance.core.errors import InputError
from stance.core.schema import UNCERTAIN, read_schema
from stance.model.predict import abstain

PAGE = sorted(SEEDS.glob("*.txt"))[0]


def test_abstain_marks_only_scored_rows_under_the_threshold():
    rows = [
        {"id": "a", "stance": "favor", "confidence": 0.9, "skipped": None},
        {"id": "b", "stance": "against", "confidence": 0.5, "skipped": None},
        {"id": "c", "stance": None, "confidence": None, "skipped": "language: ru"},
    ]
    got = list(abstain(rows, 0.6))
    assert [r["stance"] for r in got] == ["favor", UNCERTAIN, None]
    assert got[1]["confidence"] == 0.5  # the guess can still be read
    assert rows[1]["stance"] == "against"  # the input rows are not changed
    assert list(abstain(rows, None)) == rows


def _label(tmp_path, *extra):
    out = tmp_path / f"rows{len(extra)}.jsonl"
    res = run_cli("label", PAGE, "-o", out, *extra)
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()], res


def test_label_min_confidence_abstains_below_it_and_keeps_the_rest(tmp_path):
    plain, _ = _label(tmp_path)
    threshold = sorted(r["confidence"] for r in plain)[len(plain) // 2]
    hedged, res = _label(tmp_path, "--min-confidence", threshold)
    assert len(hedged) == len(plain)
    unsure = [p["confidence"] < threshold for p in plain]
    assert 0 < sum(unsure) < len(plain)
    for p, h, u in zip(plain, hedged, unsure, strict=True):
        assert h["stance"] == (UNCERTAIN if u else p["stance"])
        assert {**h, "stance": p["stance"]} == p  # nothing else changes
    assert f"uncertain {sum(unsure)}" in res.stderr  # the summary line


def test_report_counts_uncertain_turns_for_no_side(tmp_path):
    plain, _ = _label(tmp_path)
    threshold = sorted(r["confidence"] for r in plain)[len(plain) // 2]
    out = tmp_path / "report.md"
    res = run_cli("report", PAGE, "-o", out, "--min-confidence", threshold)
    assert res.returncode == 0, res.stderr
    md = out.read_text(encoding="utf-8")
    assert f"uncertain* when its confidence is below {threshold}" in md
    assert "uncertain turns count for no side" in md
    row = next(x for x in md.splitlines() if x.startswith("| all turns |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    counted = [int(c.split()[0]) for c in cells[2:5]]  # favor, against, none
    unsure = sum(r["confidence"] < threshold for r in plain)
    assert int(cells[5]) == unsure
    assert sum(counted) == len(plain) - unsure


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high"])
def test_min_confidence_outside_0_to_1_is_refused(tmp_path, value):
    res = run_cli("label", PAGE, "-o", tmp_path / "x.jsonl", "--min-confidence", value)
    assert res.returncode == 2
    assert "--min-confidence" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_a_schema_may_not_name_a_label_uncertain(tmp_path):
    path = tmp_path / "schema.toml"
    path.write_text(
        'target = "t"\n[[labels]]\nname = "favor"\n[[labels]]\nname = "uncertain"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="'uncertain' is not a label name"):
        read_schema(path)
