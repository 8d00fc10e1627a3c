"""The typer app: one small function per command; errors are reported here once."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from stance.core.errors import StanceError

app = typer.Typer(
    name="stance",
    help="Label the stance of discussion turns and report the argument chains",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DEBUG = {"on": os.environ.get("STANCE_DEBUG", "") not in ("", "0")}

Paths = Annotated[list[Path], typer.Argument(help="Pages, structured files or folders")]
NoRecursiveOpt = Annotated[
    bool,
    typer.Option("--no-recursive", help="Read only the files directly in each folder"),
]
SkipBadOpt = Annotated[
    bool,
    typer.Option(
        "--skip-bad", help="Leave out unreadable input files and list them at the end"
    ),
]


def _inputs(paths, no_recursive: bool, skip_bad: bool):
    """The input files, and the bad ones `--skip-bad` left out (see parse.select_inputs)."""
    from stance.ingest.parse import select_inputs

    return select_inputs(paths, recursive=not no_recursive, skip_bad=skip_bad)


def _list_skipped(bad) -> None:
    if bad:
        err = _console()
        err.print(
            f"{len(bad)} bad file{'s' if len(bad) > 1 else ''} skipped:", markup=False
        )
        for exc in bad:
            err.print(f"  {exc}", markup=False)


TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust-unsigned",
        help="Load a model whose config.json has no config_sha256 (edited by hand "
        "or made by an older stance)",
    ),
]
ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="Model directory, or 'zero-shot' (default: the debate's models/default; "
        "zero-shot from the schema when there is none)",
    ),
]


def _console(stderr: bool = True):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _load_model(model, sch, trust_unsigned: bool = False):
    """Load the model; say so once when the labels will be zero-shot."""
    from stance.model.find import load_model, model_name

    mdl = load_model(model, sch, trust_unsigned=trust_unsigned)
    if model_name(mdl) == "zero-shot":
        _console().print(
            f"warning: no trained model for schema '{sch.name}': zero-shot labels from "
            "the schema's descriptions and examples; provisional until you label some "
            "turns and run `stance train`",
            markup=False,
        )
    return mdl


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks (also STANCE_DEBUG=1)")
    ] = False,
) -> None:
    if debug:
        _DEBUG["on"] = True


@app.command("parse")
def parse_cli(
    paths: Paths,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write turns here (.jsonl; - or none: stdout)"
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="List every dropped line and its rule")
    ] = False,
    no_dedup: Annotated[
        bool, typer.Option("--no-dedup", help="Keep duplicate turns")
    ] = False,
) -> None:
    """Split pages into deduplicated turns.

    Example: stance parse seeds/*.txt -o turns.jsonl
    """
    from stance.core.files import check_output_path
    from stance.core.writers import TURN_FORMATS, write_turns
    from stance.ingest.parse import parse_paths

    output = output or Path("-")
    check_output_path(output, suffixes=TURN_FORMATS, what="stance parse")
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    result = parse_paths(paths, dedupe=not no_dedup)
    write_turns(output, result.turns)
    err = _console()
    if explain:
        for page in result.pages:
            err.print(
                f"[bold]{page.path}[/] encoding={page.encoding} turns={len(page.turns)}"
            )
            for d in page.dropped:
                err.print(f"  line {d.line}: [{d.rule}] {d.text[:100]}", markup=False)
    err.print(
        f"{len(result.pages)} pages, {len(result.turns)} turns, "
        f"{result.merged} duplicates merged, {result.quotes_found} repeated quotes, "
        f"{len(result.dropped)} lines dropped as chrome or metadata"
    )
    _list_skipped(bad)


ThreadOpt = Annotated[
    bool,
    typer.Option(
        "--thread-aware",
        help="Adjust scores by thread context (speaker consistency, rebuttals); "
        "off by default: it did not raise grouped-CV macro-F1 (see model card)",
    ),
]
SchemaOpt = Annotated[
    Path | None,
    typer.Option("--schema", help="Schema file (default: labels/schema.toml)"),
]
EncoderOpt = Annotated[
    str, typer.Option("--encoder", help="Encoder backend: onnx, torch or onnx-int8")
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No progress bars (drawn only when stderr is a terminal)"
    ),
]
AnyLanguageOpt = Annotated[
    bool,
    typer.Option(
        "--any-language",
        help="Label turns in every language (default: turns in a language the "
        "English-only encoder does not read get no stance, with the reason)",
    ),
]


def _languages(any_language: bool):
    from stance.ingest.lang import ENCODER_LANGUAGES

    return None if any_language else ENCODER_LANGUAGES


def _skipped_summary(reasons: dict[str, int]) -> str:
    """`; 3 skipped (language: ru 2, language: de 1)` or nothing."""
    if not reasons:
        return ""
    n = sum(reasons.values())
    parts = ", ".join(
        f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])
    )
    return f"; {n} skipped, no stance ({parts}; --any-language labels them)"


@app.command("train")
def train_cli(
    labels: Annotated[
        list[Path] | None,
        typer.Argument(help="Label files or folders (default: labels/)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Model directory to write (default: models/default)"
        ),
    ] = None,
    schema: SchemaOpt = None,
    encoder: EncoderOpt = "onnx",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print metrics as JSON")
    ] = False,
    threads: Annotated[
        list[Path] | None,
        typer.Option(
            "--threads",
            help="Pages the labels come from: adds the thread-aware method to the "
            "cross-validation table (repeatable)",
        ),
    ] = None,
    repeats: Annotated[
        int | None,
        typer.Option(
            "--repeats",
            min=1,
            help="Random grouped 5-fold splits to average the scores over [default: 3]",
        ),
    ] = None,
    include_heldout: Annotated[
        bool,
        typer.Option(
            "--include-heldout",
            help="Train on the held-out labels (labels/heldout/) too; the model card "
            "then has no held-out score",
        ),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Cross-validate on the labels, then train on all of them and save the model.

    The held-out labels (labels/heldout/*.csv) are not trained on: the final
    model is scored on them. Example: stance train labels/ -o models/default
    """
    from stance.core.progress import on_terminal, progress_bars
    from stance.core.schema import find_schema, project_root
    from stance.labelling.labels import heldout_label_files, label_files, pending_rows
    from stance.model.card import train_summary
    from stance.model.persist import check_model_output
    from stance.model.train import train

    sch = find_schema(schema)
    if output is None:
        output = project_root(sch) / "models" / "default"
        output.parent.mkdir(exist_ok=True)
    check_model_output(output)
    replacing = output.is_dir() and any(output.iterdir())
    files = label_files(labels, project_root(sch) / "labels")
    with progress_bars(on_terminal() and not quiet) as bars:
        report = train(
            files,
            sch,
            output,
            backend=encoder,
            previous=output,
            threads=threads,
            repeats=repeats,
            heldout=heldout_label_files(project_root(sch) / "labels"),
            include_heldout=include_heldout,
            progress=bars,
        )
    if json_out:
        import json

        print(json.dumps({k: v for k, v in report.items() if k != "oof"}, indent=2))
        return
    out = _console(stderr=False)
    for line in train_summary(
        report, sch, pending_rows(files, sch.names), output, replacing
    ):
        out.print(line, markup=False)


@app.command("label")
def label_cli(
    paths: Paths,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write rows here (.jsonl, .csv or .parquet; - or none: stdout)",
        ),
    ] = None,
    schema: SchemaOpt = None,
    thread_aware: ThreadOpt = False,
    any_language: AnyLanguageOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Label every turn with a stance, a confidence and a score per class.

    Turns in a language the model does not read get `stance` null and
    `skipped` (`language: ru`). Example: stance label seeds/*.txt -o labelled.jsonl
    """
    from stance.core.files import check_output_path
    from stance.core.progress import on_terminal, progress_bars
    from stance.core.schema import find_schema
    from stance.core.writers import ROW_FORMATS, write_rows
    from stance.ingest.parse import STRUCTURED_SUFFIXES, expand_paths, iter_turns
    from stance.model.predict import predict_rows, thread_aware_rows

    output = output or Path("-")
    check_output_path(output, suffixes=ROW_FORMATS, what="stance label")
    sch = find_schema(schema)
    mdl = _load_model(model, sch, trust_unsigned)
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    turns = iter_turns(paths)
    total = None
    if not any(f.suffix.lower() in STRUCTURED_SUFFIXES for f in expand_paths(paths)):
        turns = list(turns)  # pages are parsed whole anyway: the bar has a total
        total = len(turns)
    counts: dict[str, int] = {}
    skipped: dict[str, int] = {}

    def counted(rows):
        for row in rows:
            if row["skipped"]:
                skipped[row["skipped"]] = skipped.get(row["skipped"], 0) + 1
            else:
                counts[row["stance"]] = counts.get(row["stance"], 0) + 1
            yield row

    languages = _languages(any_language)
    with progress_bars(on_terminal() and not quiet) as bars:
        rows = (
            thread_aware_rows(turns, mdl, sch.sides, languages, bars)
            if thread_aware
            else predict_rows(
                turns, mdl, languages=languages, progress=bars, total=total
            )
        )
        n = write_rows(output, counted(rows), classes=list(mdl.classes_))
    _console().print(
        f"{n} turns, {n - sum(skipped.values())} labelled: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + _skipped_summary(skipped)
        + (f" -> {output}" if str(output) != "-" else ""),
        markup=False,
    )
    _list_skipped(bad)


@app.command("evaluate")
def evaluate_cli(
    labels: Annotated[list[Path], typer.Argument(help="Label files to score against")],
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    schema: SchemaOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print metrics as JSON")
    ] = False,
) -> None:
    """Score a model on labelled files: macro-F1, F_avg, per class, confusion.

    Example: stance evaluate labels/seeds.csv --model models/default
    """
    from stance.core.schema import find_schema
    from stance.labelling.labels import label_files, load_labels
    from stance.model.card import metrics_table
    from stance.model.evaluate import metrics

    sch = find_schema(schema)
    mdl = _load_model(model, sch, trust_unsigned)
    labs = load_labels(label_files(labels, "labels"), sch.names)
    pred = mdl.predict([lab.text for lab in labs])
    m = metrics([lab.stance for lab in labs], pred, sch.names, sch.sides)
    if json_out:
        import json

        print(json.dumps(m, indent=2))
        return
    out = _console(stderr=False)
    out.print(f"{len(labs)} labels", markup=False)
    out.print(metrics_table({"model": m}, sch), markup=False)
    out.print(
        f"confusion (rows true, columns predicted): {m['confusion']['labels']} "
        f"{m['confusion']['matrix']}",
        markup=False,
    )


@app.command("report")
def report_cli(
    paths: Paths,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="report.html or report.md (-: stdout)"),
    ] = Path("report.html"),
    schema: SchemaOpt = None,
    thread_aware: ThreadOpt = False,
    any_language: AnyLanguageOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the stance summary report: distribution, chains, key arguments,
    agreement with the human labels of these pages.

    Example: stance report seeds/heldout -o report.html
    """
    from stance.core.files import atomic_write_text, check_output_path
    from stance.core.progress import on_terminal, progress_bars
    from stance.core.schema import find_schema
    from stance.report.data import REPORT_FORMATS, render_report, report_paths

    check_output_path(output, suffixes=REPORT_FORMATS, what="stance report")
    sch = find_schema(schema)
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    mdl = _load_model(model, sch, trust_unsigned)
    with progress_bars(on_terminal() and not quiet) as bars:
        rep = report_paths(
            paths, mdl, sch, thread_aware, _languages(any_language), progress=bars
        )
    atomic_write_text(output, render_report(rep, output))
    agree = rep["agreement"]
    _console().print(
        f"{rep['n']} turns, {len(rep['chains'])} chains"
        + (
            f"; model agrees with {agree['overall']['agree']} of "
            f"{agree['overall']['n']} human labels"
            if agree
            else ""
        )
        + _skipped_summary(rep["skipped"])
        + f" -> {output}",
        markup=False,
    )
    _list_skipped(bad)


MethodOpt = Annotated[
    str,
    typer.Option(
        "--method", help="Uncertainty measure of the probabilities: margin or entropy"
    ),
]


@app.command("suggest")
def suggest_cli(
    paths: Paths,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
    n: Annotated[int, typer.Option("-n", min=1, help="How many turns")] = 20,
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the batch here (.csv; - or none: stdout)"
        ),
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            "--labels", help="More label files or folders whose texts are known"
        ),
    ] = None,
    method: MethodOpt = "margin",
    schema: SchemaOpt = None,
    any_language: AnyLanguageOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The unlabelled turns the model is least sure of, spread over threads.

    Fill in the stance column and drop the file into labels/ (rows left empty
    are skipped). Example: stance suggest seeds/threads -n 20 -o labels/batch1.csv
    """
    from stance.core.files import check_output_path
    from stance.core.progress import on_terminal, progress_bars
    from stance.core.schema import find_schema
    from stance.labelling.suggest import (
        BATCH_FORMATS,
        project_label_files,
        suggest,
        write_batch,
    )

    output = output or Path("-")
    check_output_path(output, suffixes=BATCH_FORMATS, what="stance suggest")
    sch = find_schema(schema)
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    mdl = _load_model(model, sch, trust_unsigned)
    with progress_bars(on_terminal() and not quiet) as bars:
        rows, skipped = suggest(
            paths,
            mdl,
            sch,
            n=n,
            label_paths=project_label_files(sch, labels or []),
            method=method,
            languages=_languages(any_language),
            progress=bars,
        )
    write_batch(output, rows)
    _console().print(
        f"{len(rows)} turns suggested"
        + _skipped_summary(skipped)
        + (f" -> {output}" if str(output) != "-" else ""),
        markup=False,
    )
    _list_skipped(bad)


@app.command("annotate")
def annotate_cli(
    paths: Paths,
    labels: Annotated[
        Path, typer.Option("--labels", "-l", help="Label file to append answers to")
    ],
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    method: MethodOpt = "margin",
    annotator: Annotated[
        str, typer.Option("--annotator", help="Recorded in the annotator column")
    ] = "",
    include_skipped: Annotated[
        bool,
        typer.Option("--include-skipped", help="Ask turns skipped before again"),
    ] = False,
    schema: SchemaOpt = None,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Label turns in the terminal, most informative first; each answer saved at once.

    Keys: digits 1..N in schema order (and unambiguous first letters), s skip,
    u undo, q quit. Piped stdin is read one key per line.
    Example: stance annotate seeds/threads --labels labels/mine.csv
    """
    import getpass

    from stance.core.schema import find_schema
    from stance.labelling.annotate import annotate

    try:
        who = annotator or getpass.getuser()
    except (KeyError, OSError):
        who = ""
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    summary = annotate(
        paths,
        labels,
        model_dir=model,
        schema=find_schema(schema),
        method=method,
        annotator=who,
        include_skipped=include_skipped,
        trust_unsigned=trust_unsigned,
    )
    _console(stderr=False).print(
        f"{summary.labelled} labels added to {labels}, {summary.skipped} skipped, "
        f"{summary.undone} undone; {summary.remaining} turns left",
        markup=False,
    )
    _list_skipped(bad)


labels_app = typer.Typer(
    help="Label files: import, export and quality checks", no_args_is_help=True
)
app.add_typer(labels_app, name="labels")


@labels_app.command("import")
def labels_import_cli(
    file: Annotated[Path, typer.Argument(help="Label Studio JSON or Prodigy JSONL")],
    to: Annotated[Path, typer.Option("--to", help="Label file to add the labels to")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="label-studio or prodigy (default: by suffix)"),
    ] = None,
    schema: SchemaOpt = None,
) -> None:
    """Add the labels of a Label Studio export or Prodigy JSONL to a label file.

    Example: stance labels import export.json --to labels/studio.csv
    """
    from stance.core.schema import find_schema
    from stance.labelling.interchange import import_labels

    res = import_labels(file, to, find_schema(schema), fmt)
    _console(stderr=False).print(
        f"{res['added']} labels added to {to} from {res['format']} file {file} "
        f"({res['duplicates']} already there, {res['left_out']} without a label "
        "left out)",
        markup=False,
    )


@labels_app.command("export")
def labels_export_cli(
    paths: Paths,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Label Studio tasks file (.json; -: stdout)"
        ),
    ],
    n: Annotated[
        int | None, typer.Option("-n", min=1, help="At most this many tasks")
    ] = None,
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Also write the Label Studio labelling config"),
    ] = None,
    method: MethodOpt = "margin",
    schema: SchemaOpt = None,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Write unlabelled turns with the model's guesses as Label Studio tasks.

    Example: stance labels export seeds/threads -o tasks.json --config stance.xml
    """
    from stance.core.files import atomic_write_text, check_output_path
    from stance.core.schema import find_schema
    from stance.labelling.interchange import (
        TASK_FORMATS,
        export_tasks,
        label_config,
        write_tasks,
    )
    from stance.labelling.suggest import project_label_files

    check_output_path(output, suffixes=TASK_FORMATS, what="stance labels export")
    if config is not None:
        check_output_path(config)
    sch = find_schema(schema)
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    tasks = export_tasks(
        paths,
        _load_model(model, sch, trust_unsigned),
        sch,
        project_label_files(sch),
        n=n,
        method=method,
    )
    write_tasks(output, tasks)
    if config is not None:
        atomic_write_text(config, label_config(sch))
    _console().print(f"{len(tasks)} tasks -> {output}", markup=False)
    _list_skipped(bad)


@labels_app.command("check")
def labels_check_cli(
    labels: Annotated[
        list[Path] | None,
        typer.Argument(help="Label files or folders (default: labels/)"),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", "-k", min=0, help="How many suspects to list")
    ] = 20,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Skip the cross-validated suspects")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    schema: SchemaOpt = None,
    encoder: EncoderOpt = "onnx",
) -> None:
    """Conflicts, near-duplicates labelled differently, balance, likely mislabels.

    Exits 1 when a text is labelled two ways (training refuses such files).
    Example: stance labels check labels/
    """
    from stance.core.schema import find_schema, project_root
    from stance.labelling.labels import label_files
    from stance.labelling.quality import check_labels, render_check

    sch = find_schema(schema)
    files = label_files(labels, project_root(sch) / "labels")
    rep = check_labels(files, sch, top=top, use_model=not no_model, backend=encoder)
    if json_out:
        import json

        print(json.dumps(rep, indent=2, ensure_ascii=False))
    else:
        _console(stderr=False).print(render_check(rep, sch.names), markup=False)
    if rep["conflicts"]:
        raise typer.Exit(1)


@app.command("init")
def init_cli(
    directory: Annotated[Path, typer.Argument(help="New debate folder")],
    target: Annotated[
        str, typer.Option("--target", help="The statement stance is taken toward")
    ],
    labels: Annotated[
        str, typer.Option("--labels", help="Label names in order, comma-separated")
    ],
    sides: Annotated[
        str | None,
        typer.Option("--sides", help="Labels averaged as F_avg (default: all)"),
    ] = None,
) -> None:
    """Start a new debate: schema, empty label file and README in DIRECTORY.

    Example: stance init rumours --target "The rumour is true" --labels support,deny,query,comment
    """
    from stance.core.schema import init_debate

    written = init_debate(
        directory,
        target,
        labels.split(","),
        sides.split(",") if sides else None,
    )
    for path in written:
        _console().print(f"wrote {path}", markup=False)


def _print_warnings() -> None:
    """Library warnings (`errors.warn`) become `warning: ...` lines on stderr."""
    import logging

    from stance.core.errors import LOGGER

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _console().print(f"warning: {record.getMessage()}", markup=False)

    log = logging.getLogger(LOGGER)
    log.handlers[:] = [_Handler()]
    log.propagate = False


def main() -> None:
    """Console entry point: run the app, turn library errors into one line + exit 2."""
    _print_warnings()
    try:
        code = app(standalone_mode=False)  # a typer.Exit(n) comes back as n
        if isinstance(code, int) and code:
            sys.exit(code)
    except StanceError as exc:
        if _DEBUG["on"]:
            raise
        _console().print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _console().print("interrupted", markup=False)
        sys.exit(130)
    except BrokenPipeError:
        # The reader of stdout went away (`stance label ... | head`): stop quietly,
        # and keep Python from failing again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except Exception as exc:  # click usage errors and the like
        import click

        # typer >= 0.2x vendors click: its exceptions are not click's classes
        if isinstance(exc, (click.exceptions.Exit, typer.Exit)):
            sys.exit(exc.exit_code)
        if isinstance(exc, (click.exceptions.Abort, typer.Abort)):
            sys.exit(130)
        usage = (click.ClickException, getattr(typer, "TyperException", ()))
        if isinstance(exc, usage) and callable(getattr(exc, "show", None)):
            exc.show()
            sys.exit(2)
        if _DEBUG["on"]:
            raise
        _console().print(
            f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            markup=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
