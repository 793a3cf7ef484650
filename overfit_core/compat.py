"""The one place that knows Keras 2 (TF 2.12-2.15) from Keras 3 (TF 2.16+), and Keras 3's backends.

Everything else imports ``keras`` (and, for what only TensorFlow has, ``tf``) from here and never branches on
versions or backends. Keras 3 runs on TensorFlow, JAX or PyTorch (``KERAS_BACKEND``); TensorFlow is imported
only on the TensorFlow backend, and ``tf`` on another backend raises `BackendError` naming the feature.
TensorFlow-only here: tf.distribute (``strategies``, ``distribute``), the TF matmul probe, TF op determinism.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from .errors import ConfigError  # noqa: E402

LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")
if LEGACY_KERAS:
    import tf_keras as keras  # noqa: F401  (the legacy Keras 2 package that tf.keras then points to)
else:
    import keras  # noqa: F401  (Keras 2 on TF <= 2.15, where TF pins the `keras` package; Keras 3 after)

KERAS_MAJOR = int(keras.__version__.split(".")[0])
BACKEND = keras.backend.backend() if KERAS_MAJOR >= 3 else "tensorflow"  # Keras 3 reads KERAS_BACKEND

MIN_GRAPH_NODES = "OVERFIT_TF_MIN_GRAPH_NODES"
DEFAULT_MIN_GRAPH_NODES = 50


def min_graph_nodes(environ=os.environ) -> int:
    """The suite's `min_graph_nodes` for TensorFlow's graph optimiser: $OVERFIT_TF_MIN_GRAPH_NODES, else 50."""
    text = environ.get(MIN_GRAPH_NODES, "").strip()
    if not text:
        return DEFAULT_MIN_GRAPH_NODES
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(f"{MIN_GRAPH_NODES}={text!r} is not valid. Expected a whole number of graph nodes >= 0 "
                          f"(0: TensorFlow's own default; unset: {DEFAULT_MIN_GRAPH_NODES}). Fix or unset it.")
    return int(text)


def configure_graph_optimizer(nodes: int | None = None) -> bool:
    """Make TensorFlow's graph optimiser skip graphs of fewer than `nodes` nodes, in this process; False if too late.

    Keras 3 starts new tf.data iterators for training and validation every epoch, and each start optimises the
    pipeline's small functions afresh: about 10 ms, most of a small model's epoch on 2 cores. The train, test and
    predict functions are larger and still optimised, so the numbers stay bit-identical
    (tests/test_training.py::test_the_graph_optimizer_setting_keeps_every_number). tf.data reads the setting when
    TensorFlow's runtime starts, so this runs when this module is imported, before the first TensorFlow operation.
    """
    nodes = min_graph_nodes() if nodes is None else nodes
    if BACKEND != "tensorflow":
        return False
    from tensorflow.python.eager import context

    if getattr(context.context(), "_initialized", False):
        return False
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({"min_graph_nodes": nodes})
    return True


configure_graph_optimizer()


class BackendError(ConfigError):
    """A TensorFlow-only feature was asked for on another Keras backend."""


def tensorflow_only(feature: str):
    """The `tensorflow` module for `feature`, or a BackendError saying how to get the TensorFlow backend."""
    if BACKEND != "tensorflow":
        raise BackendError(
            f"{feature} needs TensorFlow, but Keras runs on backend={BACKEND!r} (KERAS_BACKEND="
            f"{os.environ.get('KERAS_BACKEND', '')!r}). Expected the TensorFlow backend: unset KERAS_BACKEND or "
            "set KERAS_BACKEND=tensorflow (with tensorflow installed) and run again.")
    import tensorflow

    return tensorflow


def __getattr__(name):  # `from .compat import tf` imports TensorFlow only when, and where, it is used
    if name == "tf":
        return tensorflow_only("This feature (tf)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _backend_version() -> str:
    module = sys.modules.get(BACKEND) or __import__(BACKEND)
    return str(getattr(module, "__version__", "?"))


def versions() -> dict[str, str]:
    """Library versions that a run record must state: the backend and its library's version among them."""
    from .known_failures import installed_tf_version

    backend_version = _backend_version()
    return {
        "tensorflow": backend_version if BACKEND == "tensorflow" else installed_tf_version() or "none",
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "backend": BACKEND,
        "backend_version": backend_version,
    }


def accelerator() -> str | None:
    """The GPU (or TPU) the backend trains on, by its device name; None on a CPU."""
    if BACKEND == "tensorflow":
        tf = tensorflow_only("GPU discovery")
        gpus = tf.config.list_physical_devices("GPU")
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None
    if BACKEND == "jax":
        import jax

        return None if jax.default_backend() == "cpu" else jax.devices()[0].device_kind
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def enable_op_determinism() -> None:
    """Deterministic kernels, process-wide: TF's op determinism (on Keras 3 it also disables XLA jit_compile),
    PyTorch's deterministic algorithms; JAX on CPU is deterministic already (on GPU, XLA_FLAGS must say
    --xla_gpu_deterministic_ops=true before JAX starts, which this sets when it can)."""
    if BACKEND == "tensorflow":
        tensorflow_only("op determinism").config.experimental.enable_op_determinism()
    elif BACKEND == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
    elif "--xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()


def to_numpy(x) -> np.ndarray:
    """A backend tensor as a numpy array, from any device (a PyTorch tensor on a GPU needs the copy)."""
    return keras.ops.convert_to_numpy(x) if KERAS_MAJOR >= 3 else np.asarray(x)


def history_dict(history) -> dict[str, list[float]]:
    """``History.history`` as plain floats; Keras 2 may add 'lr' from schedules, which is dropped."""
    return {k: [float(v) for v in vs] for k, vs in history.history.items() if k not in ("lr", "learning_rate")}


def clear_session(collect: bool = False) -> None:
    """Keras' global state reset; the full garbage collection Keras 3 adds by default (0.1-0.3 s a fit) only with
    `collect`: a fit that stopped early leaves a reference cycle holding a tf.data iterator, whose destructor, run by
    a later collection, waits for the iterator's autotuning thread for longer the older it is (seconds)."""
    if KERAS_MAJOR >= 3 and "free_memory" in inspect.signature(keras.backend.clear_session).parameters:
        keras.backend.clear_session(free_memory=collect)
    else:
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
    if BACKEND != "tensorflow":
        return (f"MultiWorkerMirroredStrategy is tf.distribute, TensorFlow-only; Keras runs on {BACKEND}. Run the "
                "workers with KERAS_BACKEND=tensorflow, tensorflow and tf-keras installed.")
    if KERAS_MAJOR < 3:
        return None
    minor = ".".join(versions()["tensorflow"].split(".")[:2])
    return (f"Keras {keras.__version__}'s model.fit fails under MultiWorkerMirroredStrategy (it reduces whole "
            f"batches and scalar logs along axis 0; keras-team/keras#20585). Use the legacy Keras 2 there: "
            f"pip install 'tf-keras~={minor}.0' and set TF_USE_LEGACY_KERAS=1 in every worker.")


def backend_compile_kwargs(kwargs: dict) -> dict:
    """`model.compile` arguments this backend accepts: Keras on PyTorch requires steps_per_execution=1 (its
    trainer raises otherwise); the arithmetic is the same, so records keep their tier's config."""
    if BACKEND == "torch" and kwargs.get("steps_per_execution", 1) != 1:
        return {**kwargs, "steps_per_execution": 1}
    return kwargs


def distributed_compile_kwargs(strategy, kwargs: dict) -> dict:
    """`model.compile` arguments that work under `strategy` (and the backend): Keras 3 fails to fit with
    steps_per_execution > 1 over several replicas ("You must feed a value for placeholder tensor",
    keras-team/keras#19246)."""
    kwargs = backend_compile_kwargs(kwargs)
    if strategy is None or KERAS_MAJOR < 3 or strategy.num_replicas_in_sync == 1:
        return kwargs
    return {**kwargs, "steps_per_execution": 1}
