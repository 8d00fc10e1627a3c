"""stance labels check: conflicts, near-duplicates, balance, likely mislabels."""

import csv
import json
import random

import numpy as np
import pytest
from conftest import ROOT, SEEDS, run_cli

from stance.core.schema import read_schema
from stance.labelling.labels import read_label_rows
from stance.labelling.quality import check_labels

SCHEMA_FILE = ROOT / "labels" / "schema.toml"
SCHEMA = read_schema(SCHEMA_FILE)
ENV = {"STANCE_SCHEMA": str(SCHEMA_FILE)}


def _long_seed_text() -> str:
    from stance.ingest.parse import parse_paths

    return next(
        t.text for t in parse_paths([SEEDS], recursive=False).turns if len(t.text) > 250
    )


def _write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "stance"])
        w.writerows(rows)
    return path


@pytest.fixture
def messy(tmp_path):
    text = _long_seed_text()
    edited = text.replace("the", "teh", 1).replace("'", "\u2019")
    a = _write(
        tmp_path / "a.csv",
        [
            ("The pact was a crime.", "against"),
            (text, "favor"),
            ("Pending row", ""),
            ("Only here", "none"),
        ],
    )
    b = _write(
        tmp_path / "b.csv",
        [
            ("the pact  was a crime.", "favor"),  # conflicts with a.csv line 2
            (edited, "none"),  # near-duplicate of a.csv line 3, other label
            ("Only here", "none"),  # the same label twice is no conflict
        ],
    )
    return a, b


def test_check_finds_conflicts_near_duplicates_balance(messy):
    a, b = messy
    rep = check_labels([a, b], SCHEMA, use_model=False)
    assert rep["n_rows"] == 6 and rep["pending"] == {str(a): 1}
    (conflict,) = rep["conflicts"]
    assert [(x["file"], x["line"], x["stance"]) for x in conflict] == [
        (str(a), 2, "against"),
        (str(b), 2, "favor"),
    ]
    (near,) = rep["near_duplicates"]
    assert [(x["file"], x["line"], x["stance"]) for x in near] == [
        (str(a), 3, "favor"),
        (str(b), 3, "none"),
    ]
    balance = {x["file"]: x["counts"] for x in rep["balance"]}
    assert balance[str(a)] == {"favor": 1, "against": 1, "none": 1}
    assert balance["all"] == {"favor": 2, "against": 1, "none": 3}


def test_check_cli_exits_1_on_conflicts_and_names_both_places(messy, tmp_path):
    a, b = messy
    res = run_cli("labels", "check", a, b, "--no-model", env=ENV)
    assert res.returncode == 1, res.stderr
    assert f"{a}:2 against, {b}:2 favor" in res.stdout
    assert f"{a}:3 favor" in res.stdout and f"{b}:3 none" in res.stdout
    assert "a.csv: 1 rows with an empty stance" in res.stdout
    assert "| all | 6 | 2 (33%) | 1 (17%) | 3 (50%) |" in res.stdout
    # no conflict: exit 0; the near-duplicate is advice only
    res = run_cli("labels", "check", a, "--no-model", env=ENV)
    assert res.returncode == 0, res.stdout + res.stderr


def test_check_unknown_label_is_a_one_line_error(tmp_path):
    bad = _write(tmp_path / "bad.csv", [("x", "favor"), ("y", "pro")])
    res = run_cli("labels", "check", bad, "--no-model", env=ENV)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"error: {bad} line 3: unknown label 'pro' (expected favor, against, none)"
    )


@pytest.mark.slow
def test_flipped_labels_rank_among_the_suspects(tmp_path):
    """Real labels with 12 flipped at random: out-of-fold ranking finds most."""
    rng = random.Random(0)
    flipped, files = set(), []
    for name in ("shared_threads.csv", "gathered_a.csv"):
        with open(ROOT / "labels" / name, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for i in rng.sample(range(len(rows)), 6):
            others = [n for n in SCHEMA.names if n != rows[i]["stance"]]
            rows[i]["stance"] = rng.choice(others)
            flipped.add(rows[i]["text"])
        path = tmp_path / name
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        files.append(path)
    res = run_cli("labels", "check", *files, "--json", "--top", 1000, env=ENV)
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    sus = rep["suspects"]
    assert len(sus) == rep["cv"]["n"] > 350
    p = [s["p_given"] for s in sus]
    assert p == sorted(p) and 0 <= p[0] and p[-1] <= 1
    # every suspect points at its own row
    text_at = {
        (str(f), lab.line): lab.text
        for f in files
        for lab in read_label_rows(f, SCHEMA.names)[0]
    }
    assert all(text_at[(s["file"], s["line"])] == s["text"] for s in sus)
    ranks = [k for k, s in enumerate(sus) if s["text"] in flipped]
    assert len(ranks) == 12
    assert np.median(ranks) / len(sus) < 0.25  # random order would give ~0.5
    assert sum(r < 20 for r in ranks) >= 3
    # the text view lists the top ones with file:line
    res = run_cli("labels", "check", *files, "-k", 5, env=ENV)
    assert res.returncode == 0, res.stderr
    assert f"{sus[0]['file']}:{sus[0]['line']} given {sus[0]['stance']}" in res.stdout
