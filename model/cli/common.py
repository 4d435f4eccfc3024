"""What every console script shares: its exit codes, how an error becomes one, and the
check that no output is one of the command's inputs.

Exit codes (README "Exit codes" lists them once):
    0    done
    1    a check found a problem (``ca2sis-export --check``, a failed ``ca2sis-bench`` row),
         or an unexpected error (a traceback)
    2    bad arguments or input, a file that cannot be read or written (disk full...)
    3    weights missing or unusable
    4    the studio (``ca2sis``): no display, or Qt's libraries for a window are missing
    5    training diverged (a non-finite loss); the last good checkpoint is kept
    6    ``ca2sis-edit --paste-back DIR``: some photos of the folder were written, some failed
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NoReturn

from ..errors import CA2SISError, TrainingDiverged, WeightsError, describe_error
from ..io.images import check_output_paths

EXIT_OK, EXIT_CHECK_FAILED, EXIT_INPUT, EXIT_WEIGHTS = 0, 1, 2, 3
EXIT_NO_DISPLAY, EXIT_DIVERGED, EXIT_INTERRUPTED = 4, 5, 130
EXIT_SOME_FAILED = 6  # a batch in which some inputs failed and others were done


class ArgumentParser(argparse.ArgumentParser):
    """The parser of every console script: no abbreviated options (``--face`` is not taken for
    ``--face-out``, so a misspelt or future option is an error, never a silent write), and an
    argument error is one line starting with "error:" and exit code 2, like every other error."""

    def __init__(self, *args, allow_abbrev: bool = False, **kwargs) -> None:
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def error_exit_code(error: BaseException) -> int | None:
    """The exit code of an error a user can act on; None for a bug (let it raise). Input
    problems are ``CA2SISError``s (``DataError``...) or a file that cannot be read or written
    (``OSError``); any other ValueError is a bug, not bad input."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, WeightsError):
        return EXIT_WEIGHTS
    if isinstance(error, TrainingDiverged):
        return EXIT_DIVERGED
    if isinstance(error, (CA2SISError, OSError)):
        return EXIT_INPUT
    return None


def run_cli(body: Callable[[], int], hint: Callable[[BaseException], str] | None = None) -> int:
    """Run a console script's ``body`` and map its errors to exit codes, one line on stderr
    starting with "error:" (``hint`` may add to it). Errors that are bugs (a ValueError from
    numpy included) keep their traceback: they raise on, and the script exits with 1."""
    try:
        return body()
    except (KeyboardInterrupt, CA2SISError, OSError) as error:
        code = error_exit_code(error)
        message = "interrupted" if isinstance(error, KeyboardInterrupt) else describe_error(error)
        print(f"error: {message}{hint(error) if hint else ''}", file=sys.stderr)
        return code


def check_outputs(outputs: Sequence[tuple[str, str | Path | None]], inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse, before anything runs, an output that is one of ``inputs`` (a weights folder
    or data folder given as an input stands for every file in it) or another output."""
    files: list[Path] = []
    for value in inputs:
        if value is None or not str(value):
            continue
        path = Path(value)
        files.append(path)
        if path.is_dir():
            files += [entry for entry in path.iterdir() if entry.is_file()]
    check_output_paths([(option, path) for option, path in outputs if path is not None], files)


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value
    return parse


def finite_number(minimum: float, strictly_above: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite number at least ``minimum`` (above it when ``strictly_above``).
    NaN and infinities are refused (a ``< 0`` check lets NaN through)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < minimum or (strictly_above and value == minimum):
            bound = f"above {minimum:g}" if strictly_above else f"at least {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
        return value
    return parse
