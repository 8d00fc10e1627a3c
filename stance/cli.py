"""The typer app: one small function per command; errors are reported here once."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import StanceError

app = typer.Typer(
    name="stance",
    help="Label the stance of discussion turns and report the argument chains",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
labels_app = typer.Typer(help="Check, import and export label files", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

_DEBUG = {"on": os.environ.get("STANCE_DEBUG", "") not in ("", "0")}

Paths = Annotated[list[Path], typer.Argument(help="Pages, structured files or folders")]
ModelOpt = Annotated[
    Path | None, typer.Option("--model", "-m", help="Model directory (default: shipped)")
]


def _console(stderr: bool = True):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write turns here (JSONL)")
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
    from .files import check_output_path
    from .parse import parse_paths
    from .thread import turn_to_json, write_turns

    if output is not None:
        check_output_path(output)
    result = parse_paths(paths, dedupe=not no_dedup)
    if output is not None:
        write_turns(output, result.turns)
    else:
        out = sys.stdout
        for turn in result.turns:
            out.write(turn_to_json(turn) + "\n")
    err = _console()
    if explain:
        for page in result.pages:
            err.print(f"[bold]{page.path}[/] encoding={page.encoding} "
                      f"turns={len(page.turns)}")
            for d in page.dropped:
                err.print(f"  line {d.line}: [{d.rule}] {d.text[:100]}", markup=False)
    err.print(
        f"{len(result.pages)} pages, {len(result.turns)} turns, "
        f"{result.merged} duplicates merged, {result.quotes_found} repeated quotes, "
        f"{len(result.dropped)} lines dropped as chrome or metadata"
    )


def main() -> None:
    """Console entry point: run the app, turn library errors into one line + exit 2."""
    try:
        app(standalone_mode=False)
    except StanceError as exc:
        if _DEBUG["on"]:
            raise
        _console().print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _console().print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(exc, click.ClickException):
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
