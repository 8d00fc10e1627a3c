"""Exceptions the library raises; only cli.py catches them and exits."""


class StanceError(Exception):
    """A user-facing error: the message names the thing and the problem."""

    exit_code = 2


class InputError(StanceError):
    """A file the user gave cannot be read as what it should be."""

    def __init__(self, path, problem: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path} line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class ModelError(StanceError):
    """A model directory is missing, incompatible or tampered with."""


class EncoderMissingError(StanceError):
    """The embedding weights are not installed."""


LOGGER = "stance"


def warn(message: str) -> None:
    """Report a problem the run continues past (a skipped turn, an unusable cache).

    Goes to the `stance` logger; cli.py prints each as one `warning: ...` line
    on stderr, tests read them with caplog.
    """
    import logging

    logging.getLogger(LOGGER).warning(message)
