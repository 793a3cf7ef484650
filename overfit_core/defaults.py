"""The Keras defaults that decide these experiments, as plain data, and their differences between environments.

A behaviour change between two versions is often a changed default (Adam's epsilon, BatchNormalization's
momentum, an initializer, fit's shuffling); `experiment_defaults()` records them in one environment and
`diff_defaults` names what moved. `python -m overfit_core.defaults` prints them as JSON.
"""
from __future__ import annotations

import inspect
import json
import math
import sys
from typing import Any, Mapping

import numpy as np

# What the variants use: their optimizers, layers, initializers, regularizers and fit.
OPTIMIZERS = ("Adam", "RMSprop", "SGD")
LAYERS = {"Dense": (1,), "Dropout": (0.5,), "BatchNormalization": ()}
INITIALIZERS = ("GlorotUniform", "HeNormal", "Zeros")
REGULARIZERS = {"L1": (), "L2": ()}
FIT_ARGUMENTS = ("batch_size", "epochs", "shuffle", "validation_split", "validation_freq", "class_weight",
                 "steps_per_epoch", "initial_epoch")
COMPILE_ARGUMENTS = ("steps_per_execution", "jit_compile", "run_eagerly")
VOLATILE = {"name", "dtype", "trainable", "dtype_policy"}  # names and dtypes are not experiment settings
SERIALISATION = {"module", "registered_name"}  # how Keras 3 serialises a nested object, not a setting


def _plain(value: Any) -> Any:
    """JSON-able: numbers, strings, lists and dicts; anything else by its repr."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return value if not (isinstance(value, float) and not math.isfinite(value)) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if k not in SERIALISATION}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    try:
        return float(value)  # numpy and backend scalars
    except (TypeError, ValueError):
        return repr(value)


def _config(obj) -> dict:
    return {k: _plain(v) for k, v in sorted(obj.get_config().items()) if k not in VOLATILE}


def _signature_defaults(fn, names) -> dict:
    params = inspect.signature(fn).parameters
    return {n: _plain(params[n].default) if n in params and params[n].default is not inspect.Parameter.empty
            else "absent" for n in names}


def experiment_defaults() -> dict:
    """{section: {name: config}} for this environment's Keras, with its versions."""
    from .compat import keras, versions

    out: dict[str, Any] = {"versions": versions()}
    out["optimizers"] = {n: _config(getattr(keras.optimizers, n)()) for n in OPTIMIZERS}
    out["layers"] = {n: _config(getattr(keras.layers, n)(*args)) for n, args in LAYERS.items()}
    out["initializers"] = {n: _config(getattr(keras.initializers, n)()) for n in INITIALIZERS}
    out["regularizers"] = {n: _config(getattr(keras.regularizers, n)()) for n in REGULARIZERS}
    out["fit"] = _signature_defaults(keras.Model.fit, FIT_ARGUMENTS)
    out["compile"] = _signature_defaults(keras.Model.compile, COMPILE_ARGUMENTS)
    out["backend"] = {"epsilon": _plain(keras.backend.epsilon()), "floatx": keras.backend.floatx()}
    first, other = fit_epoch_orders(0), fit_epoch_orders(1)
    out["fit_behaviour"] = {"reshuffles_each_epoch": reshuffled_fraction(first) > RESHUFFLED,
                            "order_follows_the_seed": reshuffled_fraction([first[0], other[0]]) > RESHUFFLED}
    return out


RESHUFFLED = 0.5  # a fixed order moves no sample (0.0); independent shuffles of 64 samples move 1 - 1/64 on average


def fit_epoch_orders(seed: int = 0, n: int = 64, epochs: int = 3, batch_size: int = 16) -> list[list[int]]:
    """The order in which `model.fit(x, y, shuffle=True)` on numpy arrays visits the samples, per epoch, after
    `keras.utils.set_random_seed(seed)` as the suite (and the course) seeds a run."""
    from .compat import keras, to_numpy

    orders: list[list[int]] = []

    class Recorder(keras.layers.Layer):
        def call(self, inputs, training=None):
            if training:
                orders[-1].extend(int(i) for i in np.asarray(to_numpy(inputs)).ravel())
            return inputs

    class NewEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            orders.append([])

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(Recorder()(inputs)))
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)  # eager: the recorder sees each batch's samples
    x = np.arange(n, dtype="float32").reshape(n, 1)
    model.fit(x, np.zeros((n, 1), "float32"), batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
              callbacks=[NewEpoch()])
    return orders


def reshuffled_fraction(orders: list[list[int]]) -> float:
    """Mean, over consecutive epochs, of the fraction of positions that hold another sample than the epoch before."""
    pairs = list(zip(orders, orders[1:]))
    if not pairs:
        raise ValueError(f"Invalid value received for argument `orders`. Expected two or more epochs' orders. "
                         f"Received: orders of {len(orders)} epochs")
    return float(np.mean([np.mean(np.asarray(a) != np.asarray(b)) for a, b in pairs]))


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            flat.update(_flatten(v, key))
        else:
            flat[key] = v
    return flat


def diff_defaults(before: Mapping, after: Mapping) -> list[tuple[str, Any, Any]]:
    """(setting, value before, value after) for every setting that differs; versions are left out."""
    def settings(d):
        return {k: v for k, v in _flatten({s: x for s, x in d.items() if s != "versions"}).items()
                if k.rsplit(".", 1)[-1] not in SERIALISATION}
    a, b = settings(before), settings(after)
    return [(k, a.get(k, ABSENT), b.get(k, ABSENT)) for k in sorted(set(a) | set(b))
            if not _same(a.get(k, ABSENT), b.get(k, ABSENT))]


ABSENT = "(absent)"


def _same(x, y) -> bool:
    """Equal, with numbers equal to float32 round-off (0.001 and 0.0010000000474974513 are one setting)."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12) if numbers else x == y


def describe_diff(changes: list[tuple[str, Any, Any]]) -> str:
    """One line: the values that changed, then the settings that appeared or went (names only)."""
    moved = [f"`{k}` {x!r} -> {y!r}" for k, x, y in changes if ABSENT not in (x, y)]
    added = [k for k, x, _ in changes if x == ABSENT]
    gone = [k for k, _, y in changes if y == ABSENT]
    parts = [", ".join(moved) if moved else "no value changed"]
    if added:
        parts.append(f"{len(added)} new settings ({', '.join(f'`{k}`' for k in added[:8])}{', ...' if len(added) > 8 else ''})")
    if gone:
        parts.append(f"{len(gone)} gone ({', '.join(f'`{k}`' for k in gone[:8])}{', ...' if len(gone) > 8 else ''})")
    return "; ".join(parts)


if __name__ == "__main__":
    json.dump(experiment_defaults(), sys.stdout, indent=1, sort_keys=True)
    print()
