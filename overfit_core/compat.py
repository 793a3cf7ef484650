"""The one place that knows Keras 2 (TF 2.12-2.15) from Keras 3 (TF 2.16+).

Everything else imports ``keras`` and ``tf`` from here and never branches on versions.
"""
from __future__ import annotations

import contextlib
import os
import platform
import sys

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


@contextlib.contextmanager
def numpy2_pickles():
    """Lets numpy 1 (TF <= 2.17) unpickle object arrays saved by numpy 2, which name ``numpy._core``."""
    if hasattr(np, "_core"):
        yield
        return
    import numpy.core.multiarray
    import numpy.core.numeric

    aliases = {"numpy._core": np.core, "numpy._core.multiarray": np.core.multiarray,
               "numpy._core.numeric": np.core.numeric}
    added = [name for name in aliases if name not in sys.modules]
    sys.modules.update({name: aliases[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def multiworker_fit_problem() -> str | None:
    """Why `model.fit` cannot train under MultiWorkerMirroredStrategy with this Keras, or None if it can."""
    if KERAS_MAJOR < 3:
        return None
    minor = ".".join(tf.__version__.split(".")[:2])
    return (f"Keras {keras.__version__}'s model.fit fails under MultiWorkerMirroredStrategy (it reduces whole "
            f"batches and scalar logs along axis 0; keras-team/keras#20585). Use the legacy Keras 2 there: "
            f"pip install 'tf-keras~={minor}.0' and set TF_USE_LEGACY_KERAS=1 in every worker.")


def distributed_compile_kwargs(strategy, kwargs: dict) -> dict:
    """`model.compile` arguments that work under `strategy`: Keras 3 fails to fit with steps_per_execution > 1
    over several replicas ("You must feed a value for placeholder tensor", keras-team/keras#19246)."""
    if strategy is None or KERAS_MAJOR < 3 or strategy.num_replicas_in_sync == 1:
        return kwargs
    return {**kwargs, "steps_per_execution": 1}
