"""Exception types raised by overfit_core (the CLI maps them to exit code 2) and the shared argument checks."""
from __future__ import annotations


class OverfitBenchError(Exception):
    """Base class for errors caused by user input (exit code 2 from the CLI)."""


class DataError(OverfitBenchError, ValueError):
    """A dataset could not be found, read or validated."""


class ConfigError(OverfitBenchError, ValueError):
    """An argument, name or setting is invalid."""


def invalid(argument: str, value: object, expected: str, fix: str = "") -> str:
    """Keras-style message: what was received, what was expected, how to fix it."""
    msg = f"Invalid value received for `{argument}`. Expected {expected}. Received: {argument}={value!r}."
    return f"{msg} {fix}".rstrip()


def positive_int(argument: str, value, *, allow_none: bool = False, minimum: int = 1):
    """`value` if it is an int >= `minimum` (bools are not ints here), else ConfigError naming `argument`."""
    import numbers

    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(invalid(argument, value, expected + (", or None" if allow_none else "")))
    return int(value)
