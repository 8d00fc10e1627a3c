"""The real CLI in subprocesses, on temporary files, with the real encoder."""

import csv
import json
import os
from pathlib import Path

import numpy as np
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
        *[a for page in sorted(SEEDS.glob("*.txt")) for a in ("--threads", page)],
        "--repeats",  # one split: the plumbing is under test, not the scores
        1,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    for method in (
        "embedding+tfidf",
        "embedding+logreg",
        "embedding+tfidf+thread",
        "zero-shot",
        "tfidf+logreg",
        "majority",
    ):
        assert f"| {method} |" in res.stdout, method
    cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    assert cfg["classes"] and "label_files" in cfg and cfg["metrics"]
    card = (tmp_path / "model" / "README.md").read_text()
    assert (
        "Reproduce: `stance train --threads seeds/000_da80d79405789213.txt --threads"
        in card
    )
    assert "| train s/fold | label turns/s |" in card

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
    scored = json.loads(res.stdout)
    # the same scores as the model's own predictions on those labels, by sklearn
    from sklearn.metrics import accuracy_score, f1_score

    from stance.core.schema import read_schema
    from stance.labelling.labels import load_labels
    from stance.model.find import load_model

    schema = read_schema(labels / "schema.toml")
    mdl = load_model(tmp_path / "model", schema)
    labs = load_labels([labels / "small.csv"], schema.names)  # repeats merged
    truth = [lab.stance for lab in labs]
    pred = list(mdl.predict([lab.text for lab in labs]))
    assert scored["n"] == len(labs) > 100
    assert scored["macro_f1"] == pytest.approx(
        f1_score(truth, pred, labels=list(schema.names), average="macro")
    )
    assert scored["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    assert np.sum(scored["confusion"]["matrix"]) == len(labs)

    report = tmp_path / "r.html"
    res = run_cli(
        "report",
        SEEDS,
        "--no-recursive",
        "--model",
        tmp_path / "model",
        "-o",
        report,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    page = report.read_text()
    assert "<svg" in page and "class='chain'" in page


# ------------------------------------------------------------ bad inputs

BAD_INPUTS = [
    "empty file",
    "binary file",
    "directory with no readable files",
    "JSONL with one malformed line",
    "CSV without a `text` column",
    "label file with an unknown stance",
    "label file with a conflict",
    "model from another encoder",
    "model from another stance version",
    "model with a missing file",
    "model with an altered file",
    "output in a missing directory",
    "output in a read-only directory",
    # issue 15
    "output with an extension it cannot write",
    "output is a folder of the user's files",
    "JSONL nested too deeply",
    "JSONL whose `meta.sources` is a string",
    "character device as input (`/dev/zero`)",
    "model config without its digest",
    "model config with a TF-IDF weight of 1.5",
    "model head of the wrong width",
    "cache folder is a file",
]
CACHES = {"parse", "train", "label", "evaluate", "report"}  # languages, embeddings
# What each command takes: `pages` (threads), `labels` (label CSVs),
# `model` (--model), `out` (-o: a file, or a model directory for train).
TAKES = {
    "parse": {"pages", "out"},
    "train": {"labels", "out"},
    "label": {"pages", "model", "out"},
    "evaluate": {"labels", "model"},
    "report": {"pages", "model", "out"},
    "init": {"out"},
}
NOT_APPLICABLE = {
    "inputs": "takes no input files",
    "labels": "a label file is read as a CSV of turns (valid input)",
    "model": "takes no model",
    "out": "writes no file",
    "folder": "writes a folder, whatever its name",
    "jsonl": "label files are CSV",
    "cache": "uses no cache",
}
TESTING_MD = ROOT / "TESTING.md"
TABLE_START = "<!-- bad-inputs table: generated by tests/test_cli.py -->"
TABLE_END = "<!-- end of bad-inputs table -->"


def _model_variant(src, dst, change):
    """A copy of a model directory with one thing changed, as it would arrive."""
    import shutil

    from stance.model.persist import config_digest

    shutil.copytree(src, dst)
    cfg_path = dst / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if change == "encoder":
        cfg["encoder"]["id"] = "all-MiniLM-L12-v2@0123456789ab"
    elif change == "version":
        cfg["stance_version"] = "0.9.0"
    elif change == "missing":
        (dst / "head.npz").unlink()
    elif change == "altered":
        data = bytearray((dst / "head.npz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (dst / "head.npz").write_bytes(bytes(data))
    elif change == "unsigned":
        del cfg["config_sha256"]
    elif change == "weight":
        cfg["lexical"]["weight"] = 1.5
    elif change == "width":  # a forger rewrites the head and every hash
        import numpy as np

        from stance.core.files import sha256_file

        arrays = dict(np.load(dst / "head.npz"))
        arrays["coef"] = arrays["coef"][:, :100]
        np.savez(dst / "head.npz", **arrays)
        cfg["files"]["head.npz"] = sha256_file(dst / "head.npz")
    if change in ("encoder", "version", "weight", "width"):  # its own digest holds
        if "config_sha256" in cfg:
            cfg["config_sha256"] = config_digest(cfg)
    if change in ("encoder", "version", "unsigned", "weight", "width"):
        cfg_path.write_text(json.dumps(cfg, indent=2))
    return dst


def bad_input_cases(tmp_path):
    """(command, bad input, argv, expected part of the message, output to check)."""
    d = tmp_path / "in"
    d.mkdir()
    empty = d / "empty.txt"
    empty.write_text("")
    empty_csv = d / "empty.csv"
    empty_csv.write_text("")
    blob = d / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 20)
    nothing = d / "nothing"
    nothing.mkdir()
    (nothing / ".hidden").write_text("a dot-file is not read")
    jsonl = d / "bad.jsonl"
    jsonl.write_text('{"id": "1", "text": "fine"}\n{oops\n')
    nocol = d / "nocol.csv"
    nocol.write_text("body,who\nhello there,me\n")
    unknown = d / "unknown.csv"
    unknown.write_text("text,stance\nsome text,maybe\n")
    conflict = d / "conflict.csv"
    conflict.write_text("text,stance\nsame,favor\nSame,against\n")
    models = {
        c: _model_variant(ROOT / "models" / "default", d / f"model-{c}", c)
        for c in (
            "encoder",
            "version",
            "missing",
            "altered",
            "unsigned",
            "weight",
            "width",
        )
    }
    deep = d / "deep.jsonl"
    deep.write_text(
        '{"id": "1", "text": "x", "meta": {"a": ' + "[" * 5000 + "]" * 5000 + "}}\n"
    )
    sources = d / "sources.jsonl"
    sources.write_text(
        '{"id": "1", "text": "some text", "meta": {"sources": "p.txt"}}\n'
    )
    cache_file = tmp_path / "cache-file"
    cache_file.write_text("a file where the cache folder should be")
    ro = tmp_path / "read-only"
    ro.mkdir()
    os.chmod(ro, 0o555)
    page = SEEDS / "000_da80d79405789213.txt"
    labels = ROOT / "labels" / "seeds.csv"

    cases = []
    for cmd, takes in TAKES.items():
        for k, bad in enumerate(BAD_INPUTS):
            out_dir = tmp_path / f"out-{cmd}-{k}"
            out_dir.mkdir()
            out = out_dir / {"train": "model", "report": "report.html"}.get(
                cmd, "result.jsonl"
            )
            if cmd == "init":
                out = out_dir / "debate"
            if not takes & {"pages", "labels"} and not bad.startswith(
                ("model", "output", "embedding")
            ):
                cases.append((cmd, bad, None, NOT_APPLICABLE["inputs"], None, None))
                continue
            inputs = [labels] if "labels" in takes else [page]
            model, expected, env = [], None, None
            if bad in ("empty file", "binary file"):
                inputs = [empty_csv if "labels" in takes else empty]
                expected = "empty file"
                if bad == "binary file":
                    inputs, expected = [blob], "binary"
            elif bad == "directory with no readable files":
                inputs = [nothing]
                expected = (
                    "no label files (*.csv) in folder"
                    if "labels" in takes
                    else "directory has no readable files"
                )
            elif bad == "JSONL with one malformed line":
                inputs = [jsonl]
                expected = (
                    "needs 'text' and 'stance' columns"
                    if "labels" in takes
                    else "line 2: malformed JSON"
                )
            elif bad == "CSV without a `text` column":
                inputs = [nocol]
                expected = (
                    "needs 'text' and 'stance' columns"
                    if "labels" in takes
                    else "CSV has no 'text' column"
                )
            elif bad == "output with an extension it cannot write":
                if "out" not in takes or cmd in ("train", "init"):
                    why = "out" if "out" not in takes else "folder"
                    cases.append((cmd, bad, None, NOT_APPLICABLE[why], None, None))
                    continue
                out = out_dir / "result.xlsx"
                expected = "cannot write '.xlsx'"
            elif bad == "output is a folder of the user's files":
                if "out" not in takes:
                    cases.append((cmd, bad, None, NOT_APPLICABLE["out"], None, None))
                    continue
                out = out_dir / "mine"
                (out / "labels").mkdir(parents=True)
                (out / "labels" / "schema.toml").write_text('name = "mine"\n')
                (out / "notes.csv").write_text("text,stance\nmine,favor\n")
                expected = {
                    "train": "not a stance model folder",
                    "init": "a schema already exists",
                }.get(cmd, "output path is a directory")
            elif bad.startswith("JSONL") and bad != "JSONL with one malformed line":
                if "labels" in takes:
                    cases.append((cmd, bad, None, NOT_APPLICABLE["jsonl"], None, None))
                    continue
                if "deep" in bad:
                    inputs, expected = [deep], "line 1: JSON nested too deeply"
                else:
                    inputs = [sources]
                    expected = "line 1: not a turn: 'meta.sources' must be a list"
            elif bad.startswith("character device"):
                inputs, expected = [Path("/dev/zero")], "binary stream (NUL bytes)"
            elif bad == "cache folder is a file":
                if cmd not in CACHES:
                    cases.append((cmd, bad, None, NOT_APPLICABLE["cache"], None, None))
                    continue
                env = {"STANCE_CACHE": str(cache_file)}
                expected = "cache-file: cache folder is a file"
            elif bad.startswith("label file"):
                if "labels" not in takes:
                    cases.append((cmd, bad, None, NOT_APPLICABLE["labels"], None, None))
                    continue
                inputs = [unknown if "unknown" in bad else conflict]
                expected = (
                    "line 2: unknown label 'maybe'"
                    if "unknown" in bad
                    else "line 3: the same text is labelled 'favor' at line 2"
                )
            elif bad.startswith("model"):
                if "model" not in takes:
                    cases.append((cmd, bad, None, NOT_APPLICABLE["model"], None, None))
                    continue
                change = {
                    "model from another encoder": "encoder",
                    "model from another stance version": "version",
                    "model with a missing file": "missing",
                    "model with an altered file": "altered",
                    "model config without its digest": "unsigned",
                    "model config with a TF-IDF weight of 1.5": "weight",
                    "model head of the wrong width": "width",
                }[bad]
                model = ["--model", models[change]]
                expected = {
                    "encoder": "trained with encoder all-MiniLM-L12-v2@0123456789ab",
                    "version": "made by stance 0.9.0",
                    "missing": "missing head.npz",
                    "altered": "head.npz: sha256 does not match config.json",
                    "unsigned": "no config_sha256",
                    "weight": "'lexical.weight' must be between 0 and 1",
                    "width": "the head takes 100 features, but the encoder gives 384",
                }[change]
            elif bad.startswith("output"):
                if "out" not in takes:
                    cases.append((cmd, bad, None, NOT_APPLICABLE["out"], None, None))
                    continue
                parent = out_dir / "missing" if "missing" in bad else ro
                out = parent / out.name
                expected = "does not exist" if "missing" in bad else "is read-only"
            argv = [cmd, *inputs, *model]
            if cmd == "init":
                argv = [cmd, out, "--target", "The rumour is true", "--labels", "a,b"]
            elif "out" in takes:
                argv += ["-o", out]
            cases.append((cmd, bad, argv, expected, out_dir, env))
    return cases


def _code(text: str) -> str:
    """A Markdown code span that may itself hold backticks."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _run_case(case):
    argv, env = case[2], case[5]
    return case, (run_cli(*argv, env=env) if argv else None)


def _snapshot(folder):
    if folder is None:
        return None
    return {
        str(p.relative_to(folder)): p.is_file() and p.read_bytes()
        for p in folder.rglob("*")
    }


def test_every_command_refuses_every_bad_input_in_one_line(tmp_path):
    """Each bad input of issue 6, given to each command that takes it.

    One line on stderr naming the file (and line) and the problem, exit 2, no
    traceback, nothing on stdout, nothing written (not even a temporary file).
    The table of messages is TESTING.md's: this test checks it and never writes
    it, unless STANCE_UPDATE_DOCS=1 (`make docs`).
    """
    from concurrent.futures import ThreadPoolExecutor

    cases = bad_input_cases(tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()}
    outputs = {case[4]: _snapshot(case[4]) for case in cases if case[4] is not None}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run_case, cases))
    os.chmod(tmp_path / "read-only", 0o755)
    rows = []
    for (cmd, bad, _argv, expected, out_dir, _env), res in results:
        if res is None:
            rows.append(f"| `{cmd}` | {bad} | n/a: {expected} |")
            continue
        where = f"{cmd} / {bad}"
        assert res.returncode == 2, (where, res.returncode, res.stderr)
        assert "Traceback" not in res.stderr, where
        lines = [x for x in res.stderr.splitlines() if x.strip()]
        assert len(lines) == 1, (where, res.stderr)
        assert expected in lines[0], (where, lines[0])
        assert res.stdout == "", where
        assert _snapshot(out_dir) == outputs[out_dir], (where, "wrote something")
        assert list((tmp_path / "read-only").iterdir()) == []
        msg = (
            lines[0].replace(str(tmp_path) + os.sep, "").replace(str(ROOT) + os.sep, "")
        )
        rows.append(f"| `{cmd}` | {bad} | {_code(msg)} |")
    after = {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()}
    assert after == before  # inputs, label files and models untouched
    table = "\n".join(["| command | bad input | message |", "|---|---|---|", *rows])
    fresh = tmp_path / "bad-inputs.md"
    fresh.write_text(table + "\n", encoding="utf-8")
    doc = TESTING_MD.read_text(encoding="utf-8")
    head, rest = doc.split(TABLE_START + "\n", 1)
    current, tail = rest.split(TABLE_END, 1)
    if os.environ.get("STANCE_UPDATE_DOCS"):  # `make docs`: the one run that writes
        TESTING_MD.write_text(
            head + TABLE_START + "\n" + table + "\n" + TABLE_END + tail,
            encoding="utf-8",
        )
    else:
        assert current.strip() == table, (
            f"TESTING.md's table is stale (the new one is in {fresh}): "
            "`make docs` rewrites it"
        )


def test_debug_flag_shows_traceback(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    res = run_cli("--debug", "parse", empty)
    assert "Traceback" in res.stderr


def test_stance_debug_env_shows_traceback(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    res = run_cli("parse", empty, env={"STANCE_DEBUG": "1"})
    assert "Traceback" in res.stderr and "InputError" in res.stderr


def test_usage_errors_exit_2_without_internal_error():
    # typer vendors click: its usage errors must still be reported as such
    for args in (["parse", "--bogus"], ["suggest", "seeds", "-n", "0"]):
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert "Error:" in res.stderr and "internal error" not in res.stderr


# ------------------------------------------------------- output extensions

PAGE = SEEDS / "000_da80d79405789213.txt"


@pytest.mark.parametrize(
    "argv,out,writes",
    [
        (["label", PAGE], "out.xlsx", ".jsonl, .csv, .parquet"),
        (["label", PAGE], "out.json", ".jsonl, .csv, .parquet"),
        (["label", PAGE], "out.tsv", ".jsonl, .csv, .parquet"),
        (["label", PAGE], "out", ".jsonl, .csv, .parquet"),
        (["parse", PAGE], "t.csv", ".jsonl"),
        (["report", PAGE], "r.txt", ".html, .md, .json"),
        (["report", PAGE], "report.pdf", ".html, .md, .json"),
        (["suggest", PAGE], "batch.jsonl", ".csv"),
        (["labels", "export", PAGE], "tasks.csv", ".json"),
    ],
)
def test_an_output_extension_a_command_cannot_write_is_refused(
    tmp_path, argv, out, writes
):
    """Issue 15 row 19 / issue 14 point 4: never a file of another format."""
    res = run_cli(*argv, "-o", tmp_path / out)
    assert res.returncode == 2, res.stderr
    suffix = os.path.splitext(out)[1]
    what = "'" + suffix + "'" if suffix else "no extension"
    command = " ".join(str(a) for a in argv if a != PAGE)
    assert res.stderr.splitlines() == [
        f"error: {tmp_path / out}: stance {command} cannot write {what} "
        f"(it writes {writes})"
    ]
    assert list(tmp_path.iterdir()) == []


def test_report_formats_are_the_renderers_list():
    """One list: a renderer added to RENDERERS is a format `-o` accepts."""
    from stance.report.render import RENDERERS, REPORT_FORMATS

    assert REPORT_FORMATS == tuple(RENDERERS) == (".html", ".md", ".json")
