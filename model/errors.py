"""Errors a user can act on. Each message names the file or value at fault."""

import errno
import math
from numbers import Real


class CA2SISError(Exception):
    """Base class of the errors ca2sis raises for bad input."""


class DataError(CA2SISError, ValueError):
    """An image, mask or dataset folder that cannot be used (the message names the file)."""


class NotARegularFile(DataError, OSError):
    """An output that exists as a device, a FIFO, a socket or a folder: ca2sis writes only regular
    files. An OSError too, so that a caller that handles a failed write handles this one."""


class WeightsError(CA2SISError, ValueError):
    """A weights file or folder that cannot be loaded into the networks asked for."""


def check_fraction(value: object, what: str) -> float:
    """``value`` as a float in [0, 1] (a strength, a slider, an interpolation α), or a
    DataError that starts with ``what``. Text, booleans and NaN are refused."""
    try:
        number = float(value) if isinstance(value, Real) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer beyond float's range (10**400)
        number = math.inf
    if not 0.0 <= number <= 1.0:  # False for NaN too
        raise DataError(f"{what} {value!r} is outside 0..1 (give a number between 0 and 1)")
    return number


class TrainingDiverged(CA2SISError):
    """A training step gave a non-finite loss or weights; nothing of it was saved."""


# Write errors that mean "no room left", whatever wording the layer below chose.
DISK_FULL_ERRNOS = frozenset(code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None)


def describe_error(error: BaseException) -> str:
    """One line a person reads; an OSError names its file (a disk-full write does not by itself)."""
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        said = error.strerror or "No space left on device"
        where = f"{said}: {error.filename}" if error.filename else said
        room = "the disk is full" if error.errno == errno.ENOSPC else "the disk quota is used up"
        return f"{where} ({room}: free some space, or write elsewhere)"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)
