"""Errors a user can act on. Each message names the file or value at fault."""


class CA2SISError(Exception):
    """Base class of the errors ca2sis raises for bad input."""


class DataError(CA2SISError, ValueError):
    """An image, mask or dataset folder that cannot be used (the message names the file)."""


class WeightsError(CA2SISError, ValueError):
    """A weights file or folder that cannot be loaded into the networks asked for."""
