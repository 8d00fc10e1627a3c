"""The report command: `stance report` (pages, or a labelled dataset on Dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import (
    AnyLanguageOpt,
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


@app.command("report")
def report_cli(
    paths: Paths,
    no_recursive: NoRecursiveOpt = False,
    skip_bad: SkipBadOpt = False,
    model: ModelOpt = None,
    trust_unsigned: TrustOpt = False,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="report.html, report.md or report.json (-: stdout)"
        ),
    ] = Path("report.html"),
    schema: SchemaOpt = None,
    thread_aware: ThreadOpt = False,
    min_confidence: MinConfidenceOpt = None,
    any_language: AnyLanguageOpt = False,
    quiet: QuietOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Write the stance summary report: distribution, key points per side,
    rebuttals, stance over time, chains, agreement with the human labels of
    these pages (HTML, Markdown or JSON; the page and speaker tables also as
    CSV beside it).

    Example: stance report seeds/heldout -o report.html
    (or stance report labelled/ -o report.md: a dataset of `stance label
    --partitioned`, counted with dask.dataframe per page, speaker and month)
    """
    from stance.core.files import check_output_path
    from stance.core.progress import on_terminal, progress_bars
    from stance.core.schema import find_schema
    from stance.report.data import report_paths
    from stance.report.render import REPORT_FORMATS, write_report

    check_output_path(output, suffixes=REPORT_FORMATS, what="stance report")
    sch = find_schema(schema)
    if len(paths) == 1 and (paths[0] / "part-00000.parquet").is_file():
        from stance.scale.report import dataset_report, is_row_dataset

        if is_row_dataset(paths[0]):
            if _distributed(scheduler, workers):
                from stance.scale.cluster import connect

                with connect(scheduler, workers) as client:
                    rep = dataset_report(paths[0], sch, client)
            else:
                rep = dataset_report(paths[0], sch)
            write_report(rep, output)
            _console().print(
                f"{rep.n} turns of the dataset {paths[0]}"
                + _skipped_summary(rep.skipped)
                + f" -> {output}",
                markup=False,
            )
            return
    if _distributed(scheduler, workers):
        from stance.core.errors import StanceError

        raise StanceError(
            "--scheduler/--workers: stance report runs on Dask for a labelled "
            "dataset (stance label --partitioned -o DIR)"
        )
    paths, bad = _inputs(paths, no_recursive, skip_bad)
    mdl = _load_model(model, sch, trust_unsigned)
    with progress_bars(on_terminal() and not quiet) as bars:
        rep = report_paths(
            paths,
            mdl,
            sch,
            thread_aware,
            _languages(any_language),
            progress=bars,
            min_confidence=min_confidence,
        )
    write_report(rep, output)
    agree = rep.agreement
    _console().print(
        f"{rep.n} turns, {len(rep.key_points)} key points, {len(rep.chains)} chains"
        + (
            f"; model agrees with {agree.overall.agree} of "
            f"{agree.overall.n} human labels"
            if agree
            else ""
        )
        + _skipped_summary(rep.skipped)
        + f" -> {output}",
        markup=False,
    )
    _list_skipped(bad)
