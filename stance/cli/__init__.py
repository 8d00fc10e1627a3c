"""The typer app: one small function per command; errors are reported here once.

`app.py` holds the app, the shared options and helpers; the commands live in
`pipeline.py`, `labelling.py` and `debate.py`, registered in that order (the
order of `stance --help`)."""

from __future__ import annotations

import contextlib
import os
import sys

import typer

from stance.cli.app import _DEBUG, _console, app
from stance.core.errors import StanceError

# Importing the command modules registers their commands, in this order.
# isort: off
from stance.cli import pipeline  # noqa: F401
from stance.cli import reporting  # noqa: F401
from stance.cli import labelling  # noqa: F401
from stance.cli import debate  # noqa: F401
# isort: on


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
