"""Commands on threads and models: parse, train, label, evaluate, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import (
    AnyLanguageOpt,
    EncoderOpt,
    MinConfidenceOpt,
    ModelOpt,
    NoRecursiveOpt,
    Paths,
    QuietOpt,
    SchedulerOpt,
    SchemaOpt,
    SkipBadOpt,
    ThreadOpt,
    TrustOpt,
    WorkersOpt,
    _console,
    _distributed,
    _inputs,
    _languages,
    _list_skipped,
    _load_model,
    _skipped_summary,
    app,
)

FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="jsonl, or convokit: a corpus directory (-o DIR) that "
        "convokit.Corpus(filename=DIR) loads",
    ),
]


def _check_format(fmt: str, output: Path, suffixes, what: str) -> bool:
    """Whether the output is a ConvoKit corpus directory; bad combinations fail early."""
    from stance.core.errors import StanceError
    from stance.core.files import check_output_path

    if fmt not in ("jsonl", "convokit"):
        raise StanceError(f"unknown --format '{fmt}' (expected jsonl or convokit)")
    if fmt == "jsonl":
        check_output_path(output, suffixes=suffixes, what=what)
        return False
    if str(output) == "-":
        raise StanceError("--format convokit needs -o DIR (the corpus directory)")
    check_output_path(output, directory=True)
    return True


def _print_corpus(summary: dict, output: Path) -> None:
    err = _console()
    err.print(
        f"ConvoKit corpus: {summary['utterances']} utterances, {summary['speakers']} "
        f"speakers, {summary['conversations']} conversations -> {output}",
        markup=False,
    )
    for problem in summary["problems"][:20]:
        err.print(f"warning: not a valid reply tree: {problem}", markup=False)
    if len(summary["problems"]) > 20:
        err.print(f"warning: ... {len(summary['problems']) - 20} more", markup=False)


@app.command("parse")
def parse_cli(
    paths: Paths,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write turns here (.jsonl; - or none: stdout; the corpus "
            "directory with --format convokit)",
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="List every dropped line and its rule")
    ] = False,
    no_dedup: Annotated[
        bool, typer.Option("--no-dedup", help="Keep duplicate turns")
    ] = False,
    fmt: FormatOpt = "jsonl",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Split pages into deduplicated turns.

    Example: stance parse seeds/*.txt -o turns.jsonl
    (or --format convokit -o corpus/ for a ConvoKit corpus directory;
    --workers 2 or --scheduler tcp://HOST:8786: pages read and duplicates
    found on Dask workers, with the same result)
    """
    from stance.core.writers import TURN_FORMATS, write_turns
    from stance.ingest.parse import parse_paths

    output = output or Path("-")
    corpus = _check_format(fmt, output, TURN_FORMATS, "stance parse")
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    if _distributed(scheduler, workers):
        from stance.scale.cluster import connect
        from stance.scale.dedup import parse_paths as parse_on_dask

        with connect(scheduler, workers) as client:
            result = parse_on_dask(client, paths, dedupe=not no_dedup)
    else:
        result = parse_paths(paths, dedupe=not no_dedup)
    if corpus:
        from stance.ingest.convokit import write_corpus

        _print_corpus(write_corpus(output, result.turns), output)
    else:
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
            help="Write rows here (.jsonl, .csv or .parquet; - or none: stdout; "
            "the corpus directory with --format convokit, or a partitioned "
            "Parquet dataset with --partitioned)",
        ),
    ] = None,
    schema: SchemaOpt = None,
    thread_aware: ThreadOpt = False,
    min_confidence: MinConfidenceOpt = None,
    any_language: AnyLanguageOpt = False,
    quiet: QuietOpt = False,
    fmt: FormatOpt = "jsonl",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Embedding cache folder of the Dask workers (default: each "
            "worker's own cache; point it at shared storage to share it)",
        ),
    ] = None,
    partitioned: Annotated[
        bool,
        typer.Option(
            "--partitioned",
            help="Write -o DIR as a partitioned Parquet dataset, one file per block",
        ),
    ] = False,
) -> None:
    """Label every turn with a stance, a confidence and a score per class.

    Turns in a language the model does not read get `stance` null and
    `skipped` (`language: ru`). Example: stance label seeds/*.txt -o labelled.jsonl
    (or --format convokit -o corpus/: the labels go in each utterance's meta;
    --workers 2 or --scheduler tcp://HOST:8786: on Dask workers)
    """
    from stance.core.errors import StanceError
    from stance.core.progress import on_terminal, progress_bars
    from stance.core.schema import find_schema
    from stance.core.writers import ROW_FORMATS, write_row_dataset, write_rows
    from stance.ingest.parse import STRUCTURED_SUFFIXES, expand_paths, iter_turns
    from stance.model.predict import abstain, predict_rows, thread_aware_rows

    output = output or Path("-")
    dataset = partitioned
    if dataset:
        from stance.core.files import check_directory_output
        from stance.core.writers import not_a_row_dataset

        if fmt != "jsonl":
            raise StanceError("--partitioned writes Parquet: drop --format")
        check_directory_output(output, not_a_row_dataset)
        corpus = False
    else:
        corpus = _check_format(fmt, output, ROW_FORMATS, "stance label")
    on_dask = _distributed(scheduler, workers)
    if on_dask and thread_aware:
        raise StanceError("--thread-aware needs whole threads: run it without Dask")
    if cache_dir is not None and not on_dask:
        raise StanceError("--cache-dir is for Dask workers (else set STANCE_CACHE)")
    sch = find_schema(schema)
    mdl = _load_model(model, sch, trust_unsigned)
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    counts: dict[str, int] = {}
    skipped: dict[str, int] = {}

    def counted(rows):
        for row in rows:
            if row["skipped"]:
                skipped[row["skipped"]] = skipped.get(row["skipped"], 0) + 1
            else:
                counts[row["stance"]] = counts.get(row["stance"], 0) + 1
            yield row

    def write(blocks) -> int:
        if dataset:
            return write_row_dataset(
                output, (list(counted(b)) for b in blocks), list(mdl.classes_)
            )
        rows = (row for b in blocks for row in b)
        if corpus:
            from stance.ingest.convokit import write_corpus

            summary = write_corpus(output, counted(rows))
            _print_corpus(summary, output)
            return summary["utterances"]
        return write_rows(output, counted(rows), classes=list(mdl.classes_))

    languages = _languages(any_language)
    workers_used: dict[str, int] = {}
    if on_dask:
        from stance.scale.cluster import connect
        from stance.scale.label import label_blocks, make_job

        job = make_job(model, sch, trust_unsigned, cache_dir, languages, min_confidence)
        with connect(scheduler, workers) as client:

            def blocks():
                for result in label_blocks(client, paths, job):
                    workers_used[result.worker] = workers_used.get(
                        result.worker, 0
                    ) + len(result.rows)
                    yield result.rows

            n = write(blocks())
    else:
        turns = iter_turns(paths)
        total = None
        if not any(
            f.suffix.lower() in STRUCTURED_SUFFIXES for f in expand_paths(paths)
        ):
            turns = list(turns)  # pages are parsed whole anyway: the bar has a total
            total = len(turns)
        with progress_bars(on_terminal() and not quiet) as bars:
            rows = (
                thread_aware_rows(turns, mdl, sch.sides, languages, bars)
                if thread_aware
                else predict_rows(
                    turns, mdl, languages=languages, progress=bars, total=total
                )
            )
            rows = abstain(rows, min_confidence)
            n = write(_blocks_of(rows))
    err = _console()
    for name, k in sorted(workers_used.items()):
        err.print(f"worker {name}: {k} turns", markup=False)
    err.print(
        f"{n} turns, {n - sum(skipped.values())} labelled: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + _skipped_summary(skipped)
        + (f" -> {output}" if str(output) != "-" else ""),
        markup=False,
    )
    _list_skipped(bad)


def _blocks_of(rows, size: int = 5000):
    """Rows in lists of `size` (the parts of a partitioned dataset)."""
    buf = []
    for row in rows:
        buf.append(row)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


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
