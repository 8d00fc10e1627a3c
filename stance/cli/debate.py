"""`stance init`: a new debate folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import _console, app


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
