"""Choosing what to label: uncertainty, spread over threads, no near-duplicates."""

import csv
import io
import json

import numpy as np
import pytest
from conftest import HELD_OUT_PAGES, ROOT, SEEDS, run_cli
from hypothesis import given
from hypothesis import strategies as st

from stance.core.normalize import normalize_text
from stance.ingest.dedup import find_duplicates
from stance.labelling.suggest import diverse_order, duplicate_groups, uncertainty


def test_margin_and_entropy_values():
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.3, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    assert uncertainty(p, "margin") == pytest.approx([0.0, 0.8, 1.0])
    ent = uncertainty(p, "entropy")
    assert ent[0] == pytest.approx(0.0, abs=1e-9) and ent[2] == pytest.approx(1.0)
    assert 0 < ent[1] < 1


@given(
    st.lists(
        st.lists(st.floats(0.001, 1), min_size=3, max_size=3), min_size=1, max_size=20
    )
)
def test_uncertainty_is_in_unit_interval_and_top_when_tied(rows):
    p = np.array(rows)
    p = p / p.sum(axis=1, keepdims=True)
    for method in ("margin", "entropy"):
        u = uncertainty(p, method)
        assert np.all(u >= -1e-9) and np.all(u <= 1 + 1e-9)
    # a row whose two best classes tie is as uncertain as a margin can be, so
    # it ranks at or above every other row; a uniform row tops entropy too
    a, c = p[:, 0], p[:, 2]
    tied = np.column_stack([np.maximum(a, c), np.maximum(a, c), np.minimum(a, c)])
    tied = tied / tied.sum(axis=1, keepdims=True)
    both = np.vstack([p, tied])
    margin = uncertainty(both, "margin")
    assert margin[len(p) :] == pytest.approx(np.ones(len(p)))
    assert margin.max() == pytest.approx(1.0)
    uniform = np.vstack([p, np.full((1, 3), 1 / 3)])
    entropy = uncertainty(uniform, "entropy")
    assert entropy[-1] == pytest.approx(1.0) == entropy.max()


def test_diverse_order_is_round_robin_over_conversations():
    scores = [0.9, 0.8, 0.7, 0.5, 0.95, 0.1]
    convs = ["a", "a", "a", "b", "c", "c"]
    # round 1: best of each conversation (c .95, a .9, b .5); round 2: a .8, c .1
    assert diverse_order(scores, convs) == [4, 0, 3, 1, 5, 2]


def test_diverse_order_keeps_one_per_near_duplicate_group():
    scores = [0.2, 0.9, 0.5]
    convs = ["a", "b", "c"]
    assert diverse_order(scores, convs, groups=[7, 7, 3]) == [1, 2]


def _edited_copy(text: str) -> str:
    """A near-duplicate as pages hold them: one word changed, quotes restyled."""
    words = text.split()
    words[len(words) // 2] = words[len(words) // 2].upper() + "s"
    return " ".join(words).replace("'", "\u2019")


def test_duplicate_groups_against_labels_and_each_other():
    from stance.ingest.parse import parse_paths

    texts = [
        t.text for t in parse_paths([SEEDS], recursive=False).turns if len(t.text) > 200
    ][:4]
    labelled = [texts[0]]
    batch = [_edited_copy(texts[0]), texts[1], _edited_copy(texts[1]), texts[2]]
    groups = duplicate_groups(batch, labelled)
    assert groups[0] == -1  # near-duplicate of a label
    assert groups[1] == groups[2] >= 0
    assert len({groups[1], groups[3]}) == 2


def _label_rows(project):
    from stance.core.schema import read_schema
    from stance.labelling.labels import load_labels

    names = read_schema(project / "labels" / "schema.toml").names
    return load_labels(sorted((project / "labels").glob("*.csv")), names)


def _read_csv(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_suggest_cli_batch(project):
    root, held = project
    # the held-out threads (not the seeds: those share turns with labelled seeds)
    pages = HELD_OUT_PAGES[2:]
    out = root / "batch.csv"
    res = run_cli("suggest", *pages, "-n", 10, "-o", out, cwd=root)
    assert res.returncode == 0, res.stderr
    assert "10 turns suggested" in res.stderr
    rows = _read_csv(out)
    assert len(rows) == 10
    assert list(rows[0]) == [
        "text",
        "stance",
        "id",
        "conversation_id",
        "source",
        "annotator",
        "note",
        "guess",
        "confidence",
        "uncertainty",
    ]
    assert all(r["stance"] == "" and r["text"] and r["id"] for r in rows)
    # nothing already labelled; no two near-duplicates in the batch
    known = {lab.key for lab in _label_rows(root)}
    assert not known & {normalize_text(r["text"]) for r in rows}
    assert find_duplicates([r["text"] for r in rows]) == list(range(10))
    # the guesses are the model's: same as `stance label` on the same pages
    lab = run_cli("label", *pages, cwd=root)
    assert lab.returncode == 0, lab.stderr
    by_id = {}
    for line in lab.stdout.splitlines():
        row = json.loads(line)
        by_id[row["id"]] = row
    for r in rows:
        assert r["guess"] == by_id[r["id"]]["stance"]
        assert float(r["confidence"]) == pytest.approx(
            by_id[r["id"]]["confidence"], abs=1e-3
        )
    # first round: the most uncertain turn of each conversation, most uncertain
    # first; the single most uncertain unlabelled turn leads the batch
    unlabelled = list(by_id.values())
    texts = [lab.text for lab in _label_rows(root)]
    assert duplicate_groups([r["text"] for r in unlabelled], texts).count(-1) == 0
    margins = {
        row["id"]: 1 - np.diff(sorted(row["scores"].values())[-2:])[0]
        for row in unlabelled
    }
    n_conv = len({row["conversation_id"] for row in unlabelled})
    first = rows[: min(n_conv, 10)]
    assert len({r["conversation_id"] for r in first}) == len(first)
    assert float(rows[0]["uncertainty"]) == pytest.approx(
        max(margins.values()), abs=2e-3
    )
    for r in first:
        same = [
            m
            for i, m in margins.items()
            if by_id[i]["conversation_id"] == r["conversation_id"]
        ]
        assert float(r["uncertainty"]) == pytest.approx(max(same), abs=2e-3)
    u = [float(r["uncertainty"]) for r in first]
    assert u == sorted(u, reverse=True)
    # a larger batch starts with the same turns (the order is stable)
    res = run_cli("suggest", *pages, "-n", 30, "--method", "margin", cwd=root)
    assert res.returncode == 0, res.stderr
    bigger = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["id"] for r in bigger[:10]] == [r["id"] for r in rows]


@pytest.mark.slow
def test_suggest_skips_near_duplicates_in_structured_input(project, tmp_path):
    root, _ = project
    labelled = _label_rows(root)
    long_labelled = [lab.text for lab in labelled if len(lab.text) > 300][:1]
    from stance.ingest.parse import parse_paths

    pages = [p for p in HELD_OUT_PAGES if "reddit" in p.name or "lemmygrad" in p.name]
    fresh = [t.text for t in parse_paths(pages).turns if len(t.text) > 200]
    texts = fresh[:6] + [_edited_copy(fresh[0]), _edited_copy(fresh[1])]
    texts += [_edited_copy(long_labelled[0])]  # a near-duplicate of a label
    src = tmp_path / "turns.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "conversation_id", "text"])
        for i, t in enumerate(texts):
            w.writerow([f"u{i}", f"conv{i % 3}", t])
    res = run_cli("suggest", src, "-n", 50, "--method", "entropy", cwd=root)
    assert res.returncode == 0, res.stderr
    got = list(csv.DictReader(io.StringIO(res.stdout)))
    ids = {r["id"] for r in got}
    assert len(got) == 6  # 9 texts - 2 near-duplicate pairs - 1 near a label
    assert "u8" not in ids
    assert len(ids & {"u0", "u6"}) == 1 and len(ids & {"u1", "u7"}) == 1


@pytest.mark.slow
def test_filled_batch_drops_into_labels(project):
    """Filled rows count as labels, empty ones are pending: check and train agree."""
    root, held = project
    base = len(_label_rows(root))
    batch = root / "labels" / "batch1.csv"
    res = run_cli("suggest", *HELD_OUT_PAGES, "-n", 8, "-o", batch, cwd=root)
    assert res.returncode == 0, res.stderr
    truth = {normalize_text(r["text"]): r["stance"] for r in held}
    rows = _read_csv(batch)
    filled = 0
    for r in rows[:5]:  # a person fills in some rows with the held-out labels
        if normalize_text(r["text"]) in truth:
            r["stance"] = truth[normalize_text(r["text"])]
            filled += 1
    assert filled >= 3
    with open(batch, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert len(_label_rows(root)) == base + filled
    res = run_cli("labels", "check", "--no-model", cwd=root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{base + filled} labelled rows" in res.stdout
    assert f"batch1.csv: {8 - filled} rows with an empty stance" in res.stdout


def test_suggest_bad_method_is_one_line(project):
    root, _ = project
    res = run_cli("suggest", HELD_OUT_PAGES[0], "--method", "magic", cwd=root)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: unknown method 'magic' (expected margin, entropy)"
    )
    res = run_cli("suggest", HELD_OUT_PAGES[0], "-n", 0, cwd=root)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_suggest_output_dir_missing_fails_before_work(project):
    root, _ = project
    res = run_cli("suggest", ROOT / "seeds", "-o", root / "no" / "b.csv", cwd=root)
    assert res.returncode == 2 and "does not exist" in res.stderr


def test_diverse_order_counts_labelled_turns_as_taken():
    scores = [0.9, 0.8, 0.5, 0.4]
    convs = ["a", "a", "b", "b"]
    assert diverse_order(scores, convs) == [0, 2, 1, 3]
    # conversation a has one labelled turn: its best now comes in round 2
    assert diverse_order(scores, convs, taken={"a": 1}) == [2, 0, 3, 1]
    # labelling the first turn leaves the order of the rest unchanged
    assert diverse_order(scores[1:], convs[1:], taken={"a": 1}) == [1, 0, 2]
