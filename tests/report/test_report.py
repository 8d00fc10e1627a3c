"""The stance report: agreement with human labels, what to label next, the
rendered HTML."""

import shutil
import subprocess

import numpy as np
import pytest

from stance.core.thread import Turn


def t(i, reply=None, conv="c", text="x", speaker=None, quotes=()):
    return Turn(i, speaker, conv, reply, None, text, {"quotes": list(quotes)})


def test_html_report_renders_in_headless_chromium(tmp_path):
    """The seed and held-out pages (45 pages, dated turns, both sides): every
    section renders, and the page a browser draws is not blank."""
    from conftest import SEEDS, run_cli

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip(
            "chromium not installed (apt-get install chromium); .ci/run installs it"
        )
    report = tmp_path / "report.html"
    res = run_cli("report", SEEDS, SEEDS / "heldout", "--no-recursive", "-o", report)
    assert res.returncode == 0, res.stderr
    page = report.read_text()
    for section in (
        "Key points of each side",
        "Stance over time",
        "Argument chains",
        '<ul class="tree">',
        "<details><summary>",  # more than 15 pages
        'class="kp"',
    ):
        assert section in page, section
    assert (tmp_path / "report_pages.csv").is_file()
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,4000",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert '<svg class="chart"' in page and "class='chain'" in page
    from matplotlib.image import imread

    img = imread(str(shot))
    assert img.std() > 0.05  # not a blank page
    assert np.asarray(img).shape[1] == 1200


@pytest.mark.slow
@pytest.mark.parametrize("thread_aware", [False, True])
def test_report_labels_equal_stance_labels_with_the_shipped_model(thread_aware):
    """The report labels from its one embedding pass with every head of the
    model (the default has a TF-IDF head too), so its rows are `stance label`'s."""
    from conftest import SEEDS

    from stance.core.schema import find_schema
    from stance.ingest.parse import parse_paths
    from stance.model.find import load_model
    from stance.model.predict import predict_rows, thread_aware_rows
    from stance.report.data import report_rows

    schema = find_schema(None)
    model = load_model(None, schema)
    assert model.lexical_weight > 0  # the shipped default is the ensemble
    pages = sorted(SEEDS.glob("*.txt"))[:2]
    _, got_rows, _ = report_rows(pages, model, schema, thread_aware=thread_aware)
    data = {"rows": {r["id"]: r for r in got_rows}}
    turns = parse_paths(pages).turns
    if thread_aware:
        rows = list(thread_aware_rows(turns, model, schema.sides))
    else:
        rows = list(predict_rows(turns, model))
    assert len(rows) == len(data["rows"]) > 10
    for row in rows:
        got = data["rows"][row["id"]]
        assert got["stance"] == row["stance"]
        assert got["model"] == row["model"]
        for label, score in row["scores"].items():
            assert got["scores"][label] == pytest.approx(score, abs=1e-4)


def test_worth_labelling_next_skips_labelled_turns_and_spreads_over_threads():
    """The report's list is `stance suggest`'s order: unlabelled turns only,
    most uncertain first, round-robin over threads."""
    from stance.core.schema import find_schema
    from stance.report.data import NOTHING_TO_LABEL, build_report
    from stance.report.render import render_html, render_markdown

    schema = find_schema(None)
    names = list(schema.names)
    turns, rows = [], []
    for conv in ("a", "b"):
        for i in range(6):
            text = f"thread {conv} turn {i} says something quite different {i * 7}"
            turns.append(t(f"{conv}{i}", conv=conv, text=text))
            top = 0.34 + 0.1 * i if conv == "a" else 0.9  # thread a: unsure
            rest = (1 - top) / (len(names) - 1)
            scores = {n: (top if k == 0 else rest) for k, n in enumerate(names)}
            best = max(scores, key=scores.get)
            rows.append(
                {
                    **turns[-1].to_dict(),
                    "stance": best,
                    "confidence": scores[best],
                    "scores": scores,
                    "model": "m",
                }
            )
    labelled = [turns[0].text]  # the most uncertain turn is labelled already
    rep = build_report(turns, rows, schema, "m", labelled)
    ids = [q.turn_id for q in rep.next_to_label]
    assert "a0" not in ids
    # b has no label yet, so its most unsure turn comes first; then one more of
    # each thread in turn, the more uncertain first
    assert ids[:4] == ["b0", "a1", "b1", "a2"]

    every = [x.text for x in turns]
    done = build_report(turns, rows, schema, "m", every)
    assert done.next_to_label == ()
    assert NOTHING_TO_LABEL in render_markdown(done)
    assert NOTHING_TO_LABEL in render_html(done)


def _rows_and_turns(spec):
    """spec: (id, page, model stance or None for a skipped turn)."""
    turns, rows = [], []
    for tid, page, stance in spec:
        turn = t(tid, conv=page, text=f"turn {tid} of {page}")
        turn = turn.with_meta(sources=[{"file": f"/x/{page}.txt", "line": 1}])
        turns.append(turn)
        rows.append(
            {
                **turn.to_dict(),
                "stance": stance,
                "confidence": None if stance is None else 0.9,
                "scores": None
                if stance is None
                else {"favor": 0.05, "against": 0.05, "none": 0.9},
                "model": "m",
                "skipped": "language: ru" if stance is None else None,
            }
        )
    return turns, rows


def test_agreement_with_human_labels_per_page_per_status_and_overall():
    from stance.core.schema import find_schema
    from stance.report.data import HELD_OUT, TRAINED_ON, agreement, build_report
    from stance.report.render import render_html, render_markdown

    turns, rows = _rows_and_turns(
        [
            ("a1", "pa", "none"),
            ("a2", "pa", "favor"),
            ("a3", "pa", "against"),
            ("b1", "pb", "none"),
            ("b2", "pb", None),  # labelled, but not scored (its language)
            ("b3", "pb", "favor"),  # no human label
        ]
    )
    human = {
        "a1": ("none", "labels/heldout/h.csv", HELD_OUT),
        "a2": ("against", "labels/heldout/h.csv", HELD_OUT),
        "a3": ("against", "labels/heldout/h.csv", HELD_OUT),
        "b1": ("none", "labels/x.csv", TRAINED_ON),
        "b2": ("favor", "labels/x.csv", TRAINED_ON),
    }
    names = ["favor", "against", "none"]
    a = agreement(rows, human, names)
    assert a["overall"] == {
        "group": "all labelled turns",
        "n": 4,
        "agree": 3,
        "accuracy": 0.75,
        # favor: 0 (predicted once, never right); against 2/3; none 1
        "macro_f1": pytest.approx((0 + 2 / 3 + 1) / 3),
    }
    by_status = {r["group"]: (r["n"], r["agree"]) for r in a["by_status"]}
    assert by_status == {HELD_OUT: (3, 2), TRAINED_ON: (1, 1)}
    pages = {r["group"]: (r["n"], r["agree"], r["files"]) for r in a["per_page"]}
    assert pages == {
        "pa.txt": (3, 2, f"labels/heldout/h.csv ({HELD_OUT})"),
        "pb.txt": (1, 1, f"labels/x.csv ({TRAINED_ON})"),
    }
    assert a["unscored"] == 1
    assert agreement(rows, {}, names) is None

    rep = build_report(turns, rows, find_schema(None), "m", human=human)
    md, page = render_markdown(rep), render_html(rep)
    for text in (md, page):
        assert "Model vs. human labels" in text
        assert "The model agrees with 3 of them (75%)" in text
        assert "1 labelled turns have no stance" in text
        assert "language: ru (1)" in text  # the turn without a stance
    assert f"| {HELD_OUT} | 3 | 2 | 67% |" in md
    assert "| pa.txt | 3 | 2 | 67% |" in md
    assert f"<td>{HELD_OUT}</td><td>3</td><td>2</td><td>67%</td>" in page
    assert "| all turns | 6 | 2 (40%) | 1 (20%) | 2 (40%) | 0 | 1 |" in md


def test_a_label_file_is_trained_on_by_its_recorded_path_or_content(tmp_path):
    from types import SimpleNamespace

    from stance.core.files import sha256_file
    from stance.report.data import (
        HELD_OUT,
        NOT_TRAINED_ON,
        TRAINED_ON,
        label_file_status,
    )

    (tmp_path / "labels" / "heldout").mkdir(parents=True)
    a, b, c = (tmp_path / "labels" / n for n in ("a.csv", "b.csv", "c.csv"))
    held = tmp_path / "labels" / "heldout" / "h.csv"
    for i, f in enumerate((a, b, c, held)):
        f.write_text(f"text,stance\nrow {i},none\n")
    moved = tmp_path / "elsewhere.csv"
    moved.write_text(b.read_text())
    model = SimpleNamespace(
        config_={"label_files": {"labels/a.csv": "0" * 64, "old/b.csv": sha256_file(b)}}
    )
    assert label_file_status(a, model, [held], tmp_path) == TRAINED_ON  # its path
    assert label_file_status(moved, model, [held], tmp_path) == TRAINED_ON  # content
    assert label_file_status(c, model, [held], tmp_path) == NOT_TRAINED_ON
    assert label_file_status(held, model, [held], tmp_path) == HELD_OUT
    zero_shot = SimpleNamespace(config_={"training": {"method": "zero-shot"}})
    assert label_file_status(a, zero_shot, [held], tmp_path) == NOT_TRAINED_ON


@pytest.mark.slow
def test_demo_report_on_the_heldout_pages_shows_real_agreement(tmp_path):
    from conftest import ROOT, run_cli

    out = tmp_path / "report.md"
    res = run_cli("report", ROOT / "seeds" / "heldout", "-o", out)
    assert res.returncode == 0, res.stderr
    md = out.read_text(encoding="utf-8")
    assert "| held out: never trained on | 254 |" in md
    assert "labels/heldout/heldout.csv (held out: never trained on)" in md
    assert "trained on |" not in md.replace("never trained on |", "")
    assert "model agrees with" in res.stderr and "of 254 human labels" in res.stderr
