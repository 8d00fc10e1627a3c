"""Commands for human labels: suggest, annotate, labels import/export/check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import (
    AnyLanguageOpt,
    EncoderOpt,
    MethodOpt,
    ModelOpt,
    NoRecursiveOpt,
    Paths,
    QuietOpt,
    SchemaOpt,
    SkipBadOpt,
    TrustOpt,
    _console,
    _inputs,
    _languages,
    _list_skipped,
    _load_model,
    _skipped_summary,
    app,
)


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
    file: Annotated[
        Path,
        typer.Argument(
            help="Label Studio export (JSON, JSON_MIN or CSV) or Prodigy JSONL"
        ),
    ],
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
