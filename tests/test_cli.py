"""The real CLI in subprocesses, on temporary files, with the real encoder."""

import csv
import json
import os

import pytest
from conftest import ROOT, SEEDS, run_cli

from stance.cli import app


def test_every_command_has_help_text():
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        assert cmd.help, name
        for sub in getattr(cmd, "commands", {}).values():
            assert sub.help


def test_help_is_fast_and_imports_no_torch():
    out = run_cli("--help")
    assert out.returncode == 0 and "parse" in out.stdout
    probe = (
        "import sys, stance.cli; "
        "print(any(m in sys.modules for m in ('torch', 'sentence_transformers')))"
    )
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert res.stdout.strip() == "False"


def test_parse_seeds_summary_and_output(tmp_path):
    out = tmp_path / "turns.jsonl"
    res = run_cli("parse", *sorted(SEEDS.glob("*.txt")), "-o", out)
    assert res.returncode == 0, res.stderr
    assert "5 pages" in res.stderr and "duplicates merged" in res.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and set(rows[0]) == {
        "id",
        "speaker",
        "conversation_id",
        "reply_to",
        "timestamp",
        "text",
        "meta",
    }


def test_explain_lists_dropped_lines_and_encoding(tmp_path):
    page = tmp_path / "p.txt"
    page.write_bytes(
        "Reply\nThe pact was a crime against Poland, plain and simple.\n".encode(
            "cp1252"
        )
    )
    res = run_cli("parse", page, "--explain")
    assert "encoding=" in res.stderr and "[action link] Reply" in res.stderr


@pytest.mark.slow
def test_parse_train_label_evaluate_end_to_end(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "schema.toml").write_text((ROOT / "labels" / "schema.toml").read_text())
    with open(ROOT / "labels" / "seeds.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(ROOT / "labels" / "shared_threads.csv", encoding="utf-8") as fh:
        rows += list(csv.DictReader(fh))[:80]
    with open(labels / "small.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    env = {"STANCE_SCHEMA": str(labels / "schema.toml")}
    res = run_cli(
        "train",
        labels / "small.csv",
        "-o",
        tmp_path / "model",
        "--threads",
        SEEDS,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    for method in ("tfidf+logreg", "majority", "zero-shot", "embedding+logreg+thread"):
        assert f"| {method} |" in res.stdout, method
    cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    assert cfg["classes"] and "label_files" in cfg and cfg["metrics"]

    out = tmp_path / "out.jsonl"
    res = run_cli(
        "label",
        *sorted(SEEDS.glob("*.txt")),
        "--model",
        tmp_path / "model",
        "-o",
        out,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(abs(sum(r["scores"].values()) - 1) < 1e-3 for r in got)
    res = run_cli(
        "label",
        *sorted(SEEDS.glob("*.txt")),
        "--model",
        tmp_path / "model",
        "--thread-aware",
        "-o",
        tmp_path / "thread.jsonl",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    threaded = [
        json.loads(x) for x in (tmp_path / "thread.jsonl").read_text().splitlines()
    ]
    assert [r["id"] for r in threaded] == [r["id"] for r in got]
    assert {r["model"] for r in threaded} == {r["model"] + "+thread" for r in got}
    assert any(r["scores"] != g["scores"] for r, g in zip(threaded, got, strict=True))

    # ConvoKit utterances keep their ids.
    utt = tmp_path / "utterances.jsonl"
    utt.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"u{i}",
                    "speaker": "s",
                    "conversation_id": "u0",
                    "reply_to": None if i == 0 else f"u{i - 1}",
                    "timestamp": None,
                    "text": r["text"],
                    "meta": {},
                }
            )
            for i, r in enumerate(rows[:5])
        )
        + "\n"
    )
    res = run_cli(
        "label", utt, "--model", tmp_path / "model", "-o", tmp_path / "u.csv", env=env
    )
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "u.csv", encoding="utf-8") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == [f"u{i}" for i in range(5)]

    res = run_cli(
        "evaluate",
        labels / "small.csv",
        "--model",
        tmp_path / "model",
        "--json",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert 0 <= json.loads(res.stdout)["macro_f1"] <= 1

    report = tmp_path / "r.html"
    res = run_cli("report", SEEDS, "--model", tmp_path / "model", "-o", report, env=env)
    assert res.returncode == 0, res.stderr
    page = report.read_text()
    assert "<svg" in page and "class='chain'" in page


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 20)
    emptydir = tmp_path / "nothing"
    emptydir.mkdir()
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"id": "1", "text": "fine"}\n{oops\n')
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("body,who\nhello there,me\n")
    badlabel = tmp_path / "badlabel.csv"
    badlabel.write_text("text,stance\nsome text,maybe\n")
    conflict = tmp_path / "conflict.csv"
    conflict.write_text("text,stance\nsame,favor\nSame,against\n")
    return [
        ("empty file", ["parse", empty], "empty file"),
        ("binary file", ["parse", binary], "binary"),
        ("directory with no readable files", ["parse", emptydir], "no readable files"),
        ("JSONL with a malformed line", ["parse", jsonl], "line 2: malformed JSON"),
        ("CSV without a text column", ["parse", nocol], "no 'text' column"),
        ("label file with an unknown stance", ["train", badlabel], "unknown stance"),
        (
            "label file with a conflict",
            ["train", conflict],
            "labelled 'favor' at line 2",
        ),
        (
            "output in a missing directory",
            [
                "parse",
                SEEDS / "000_da80d79405789213.txt",
                "-o",
                tmp_path / "no" / "x.jsonl",
            ],
            "does not exist",
        ),
        (
            "model directory that is not a model",
            ["label", SEEDS / "000_da80d79405789213.txt", "--model", emptydir],
            "missing config.json",
        ),
    ]


def test_bad_inputs_one_line_exit_2_no_traceback(tmp_path):
    table = ["| bad input | message |", "|---|---|"]
    for name, args, expected in _bad_inputs(tmp_path):
        res = run_cli(*args)
        assert res.returncode == 2, (name, res.returncode, res.stderr)
        lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
        assert len(lines) == 1, (name, res.stderr)
        assert "Traceback" not in res.stderr
        assert expected in lines[0], (name, lines[0])
        msg = lines[0].replace(str(tmp_path) + os.sep, "")
        table.append(f"| {name} | `{msg}` |")
    (ROOT / "out").mkdir(exist_ok=True)
    (ROOT / "out" / "bad-inputs.md").write_text("\n".join(table) + "\n")


def test_debug_flag_shows_traceback(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    res = run_cli("--debug", "parse", empty)
    assert "Traceback" in res.stderr


def test_usage_errors_exit_2_without_internal_error():
    # typer vendors click: its usage errors must still be reported as such
    for args in (["parse", "--bogus"], ["suggest", "seeds", "-n", "0"]):
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert "Error:" in res.stderr and "internal error" not in res.stderr
