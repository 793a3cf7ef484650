"""Exception types raised by overfit_core; the CLI maps them to exit code 2."""
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
