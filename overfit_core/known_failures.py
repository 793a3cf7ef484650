"""Property checks known not to hold in one environment, as data: a TensorFlow minor version or a Keras backend.

A check that truly behaves differently in one environment gets an entry here, never an ``if`` in the check.
Tests turn entries into strict xfails, so a fix upstream shows up as an XPASS failure and the entry must then be
removed. Keys are ``(check, environment)`` for every binding of the check, or ``(check, environment, label)`` for
one binding (`Case.label`: its variants joined by '-'). The environment is a TensorFlow minor version of
``SUPPORTED_TF`` (on the TensorFlow backend) or a Keras 3 backend of ``BACKENDS`` other than tensorflow:

    KNOWN_FAILURES = {
        ("val_loss_diverges", "2.12"): "Keras 2.12's Adam ... (measured: tox -e tf212, seeds 0-2)",
    }

The reason says what differs, why, and how it was measured. TensorFlow versions: none failed on one version
only (``tox -e tf212`` and ``tox -e tf221``, seeds 0-2, real and synthetic data, 2026-11-22).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

BACKENDS = ("tensorflow", "jax", "torch")  # Keras 3's; compat.BACKENDS is the same tuple

KNOWN_FAILURES: Mapping[tuple[str, ...], str] = MappingProxyType({
    ("learns", "jax", "bn_basic_init10"): (
        "Keras on JAX computes sparse_categorical_crossentropy from the softmax's probabilities clipped to "
        "[1e-7, 1 - 1e-7] (keras/src/backend/jax/nn.py); TensorFlow's backend recovers the logits from the Softmax "
        "op (_get_logits in keras/src/backend/tensorflow/nn.py) and stays stable. With the kernels initialised 10x "
        "too large and no BatchNormalization the softmax saturates, the clipped wrong-class probabilities pass no "
        "gradient, and training ends above the constant predictor: train_loss_ratio 2.79, 2.14, 2.88 (synthetic) "
        "and 1.85, 1.59, 3.44 (real), seeds 0-2, against < 0.40 and < 0.44 (tox -e jax, Keras 3.15.1, jax 0.10.2, "
        "2026-11-27). batchnorm_tames_init_scale and beats_chance hold there."),
    ("learns", "torch", "bn_basic_init10"): (
        "As on JAX: Keras on PyTorch computes sparse_categorical_crossentropy from clipped softmax probabilities "
        "(keras/src/backend/torch/nn.py), so a saturated softmax passes no gradient: train_loss_ratio 2.18, 3.41, "
        "1.58 (synthetic) and 2.33, 3.66, 2.32 (real), seeds 0-2, against < 0.40 and < 0.44 (Keras 3.15.1 on torch "
        "2.11.0+cu130, an NVIDIA H100, 2026-11-27; docs/backends.md). PyTorch's CPU wheel is not installable here."),
})


def tf_minor(version: str) -> str:
    """'2.15.1' -> '2.15'."""
    parts = str(version).split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        raise ValueError(f"Invalid value received for argument `version`. Expected a TensorFlow version such as "
                         f"'2.15.1'. Received: version={version!r}")
    return f"{parts[0]}.{parts[1]}"


def installed_tf_version() -> str:
    """TensorFlow's version without importing it (collection stays cheap); '' when none is installed."""
    from importlib.metadata import PackageNotFoundError, version

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"].__version__
    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos", "tf-nightly"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return ""


def configured_backend(environ: Mapping[str, str] = os.environ) -> str:
    """The Keras backend this process runs or will run, without importing Keras where it is not imported yet:
    Keras' own answer once imported; else KERAS_BACKEND, else keras.json's "backend", else tensorflow."""
    keras = sys.modules.get("keras")
    if environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"):
        return "tensorflow"
    if keras is not None and hasattr(keras, "backend") and hasattr(keras.backend, "backend"):
        return keras.backend.backend()
    if environ.get("KERAS_BACKEND"):
        return environ["KERAS_BACKEND"]
    home = Path(environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def known_failure(check: str, tf_version: str, label: str | None = None, backend: str = "tensorflow") -> str | None:
    """The reason `check` (on the binding `label`) is expected to fail here, or None: on the TensorFlow backend
    keyed by `tf_version`'s minor version, on another backend by the backend's name."""
    if backend != "tensorflow":
        env = backend
    elif tf_version:
        env = tf_minor(tf_version)
    else:
        return None
    reason = KNOWN_FAILURES.get((check, env, label)) if label else None
    return reason or KNOWN_FAILURES.get((check, env))
