"""The typer app, the options commands share, and the helpers they call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

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

MinConfidenceOpt = Annotated[
    float | None,
    typer.Option(
        "--min-confidence",
        min=0.0,
        max=1.0,
        help="Mark turns the model is less sure of than this as `uncertain` "
        "instead of guessing (the model card shows the accuracy at each coverage)",
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


MethodOpt = Annotated[
    str,
    typer.Option(
        "--method", help="Uncertainty measure of the probabilities: margin or entropy"
    ),
]


SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run on this Dask scheduler (tcp://HOST:PORT); the inputs, model "
        "and --cache-dir must be on storage its workers see",
    ),
]

WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Run on a local Dask cluster of this many worker processes",
    ),
]


def _distributed(scheduler: str | None, workers: int | None) -> bool:
    """Whether the command runs on Dask (`stance.scale`); never imports dask."""
    return bool(scheduler) or workers is not None
