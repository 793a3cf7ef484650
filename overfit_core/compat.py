"""The one place that knows Keras 2 (TF 2.12-2.15) from Keras 3 (TF 2.16+).

Everything else imports ``keras`` and ``tf`` from here and never branches on versions.
"""
from __future__ import annotations

import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"):
    import tf_keras as keras  # noqa: F401  (the legacy Keras 2 package that tf.keras then points to)
else:
    import keras  # noqa: F401  (Keras 2 on TF <= 2.15, where TF pins the `keras` package; Keras 3 after)

KERAS_MAJOR = int(keras.__version__.split(".")[0])


def versions() -> dict[str, str]:
    """Library versions that a run record must state."""
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def enable_op_determinism() -> None:
    """Process-wide and irreversible in TF; on Keras 3 it also disables XLA jit_compile."""
    tf.config.experimental.enable_op_determinism()


def history_dict(history) -> dict[str, list[float]]:
    """``History.history`` as plain floats; Keras 2 may add 'lr' from schedules, which is dropped."""
    return {k: [float(v) for v in vs] for k, vs in history.history.items() if k not in ("lr", "learning_rate")}


def clear_session() -> None:
    keras.backend.clear_session()
