"""Property checks known not to hold on one TensorFlow minor version, as data.

A check that truly behaves differently on one version gets an entry here, never an ``if`` in the
check. Tests turn entries into strict xfails, so a fix upstream shows up as an XPASS failure and
the entry must then be removed. To add one:

    KNOWN_FAILURES = {
        ("val_loss_diverges", "2.12"): "Keras 2.12's Adam ... (measured: tox -e tf212, seeds 0-2)",
    }

The check is a name in ``overfit_core.checks.CHECKS``, the version one of ``SUPPORTED_TF``; the
reason says what differs and how it was measured. Empty: no check failed on one version only
(``tox -e tf212`` and ``tox -e tf221``, seeds 0-2, real and synthetic data, 2026-11-22).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

KNOWN_FAILURES: Mapping[tuple[str, str], str] = MappingProxyType({})


def tf_minor(version: str) -> str:
    """'2.15.1' -> '2.15'."""
    parts = str(version).split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        raise ValueError(f"Invalid value received for argument `version`. Expected a TensorFlow version such as "
                         f"'2.15.1'. Received: version={version!r}")
    return f"{parts[0]}.{parts[1]}"


def installed_tf_version() -> str:
    """TensorFlow's version without importing it (collection stays cheap); '' when none is installed."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"].__version__
    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos", "tf-nightly"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return ""


def known_failure(check: str, tf_version: str) -> str | None:
    """The reason `check` is expected to fail on TensorFlow `tf_version`, or None."""
    return KNOWN_FAILURES.get((check, tf_minor(tf_version)))
