"""Fault injection: known regressions patched into Keras itself, to measure which property checks catch them.

Each `Fault` monkeypatches a Keras class or function as `overfit_core.compat.keras` exposes it (never the
suite's own specs or code), names the built-in variants it can change (a run trains only those and the
baselines they name) and the checks expected to catch it; `apply()` patches and returns an undo.

A fault must reach every process that trains (pytest-xdist workers, the recycled training children of
`overfit-bench run`, any subprocess), so it is injected at interpreter start-up: `environment(name)` gives a
child process PYTHONPATH with `overfit_core/_faults_site` first (its `sitecustomize.py` calls
`inject_from_environment`) and ``OVERFIT_FAULT=name``. An injected fault also appends ``+fault.<name>`` to
``keras.__version__``, which every run record states and every record cache key holds, so a record trained
under a fault is never reused by a clean run (and says what it was trained under).

`run_faults` is ``overfit-bench faults``: a clean control run and one run per fault, each in a fresh
process with a fresh record folder, judged here (without the fault) by the case pipeline. A fault is caught
by a check when the check passes in the control and fails under the fault. Results: docs/faults.md.

Keras 2 (tf.keras 2.12-2.15) and Keras 3 differ in a few class paths and signatures; each difference is
marked below. Exercised on Keras 3.15 (TF 2.21) and Keras 2.15 (TF 2.15); not yet on Keras 2.12-2.14 (docs/faults.md).

Nothing here imports TensorFlow at module level.
"""
from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from .errors import ConfigError, invalid
from .records import stack

ENV = "OVERFIT_FAULT"  # names the fault the start-up hook injects (read by `inject_from_environment` only)
SITE_DIR = Path(__file__).resolve().parent / "_faults_site"  # holds the start-up hook, sitecustomize.py
VERSION_MARK = "+fault."  # keras.__version__ under a fault: "3.15.1+fault.dropout_off"

Undo = Callable[[], None]


# --- patching helpers -------------------------------------------------------------------------

def _patch(owner, attr: str, new) -> Undo:
    """Set `owner.attr = new`; the undo restores the old value, or removes it when it was inherited."""
    had_own = attr in vars(owner)
    old = vars(owner)[attr] if had_own else None
    setattr(owner, attr, new)

    def undo() -> None:
        if had_own:
            setattr(owner, attr, old)
        else:
            delattr(owner, attr)
    return undo


def _undo_all(undos: Sequence[Undo]) -> Undo:
    def undo() -> None:
        for u in reversed(undos):
            u()
    return undo


def _keras():
    from .compat import KERAS_MAJOR, keras

    return keras, KERAS_MAJOR


# --- the faults -------------------------------------------------------------------------------

def _dropout_off() -> Undo:
    keras, _ = _keras()

    # Same signature as Dropout.call on Keras 2 and 3: Keras 2 reads the call's arguments with
    # getfullargspec (which ignores functools.wraps) to decide whether to pass `training`.
    def call(self, inputs, training=None):
        return inputs
    return _patch(keras.layers.Dropout, "call", call)


def _dropout_fifth() -> Undo:
    keras, _ = _keras()
    init = keras.layers.Dropout.__init__

    # Dropout(rate, noise_shape=None, seed=None, **kwargs) on Keras 2 and 3, spelled out: Keras 3's Operation.__new__
    # reads the argument names of __init__ (with getfullargspec, which ignores functools.wraps). The layer's `rate`
    # (and get_config) shows the reduced rate.
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        init(self, rate / 5, noise_shape=noise_shape, seed=seed, **kwargs)
    return _patch(keras.layers.Dropout, "__init__", __init__)


def _penalty(kind: str, factor: float) -> Callable[[], Undo]:
    def apply() -> Undo:
        keras, _ = _keras()
        # keras.regularizers.L1 / L2 are their own classes (not L1L2) on Keras 2.12+ and 3; layers call the
        # instance, so the class's __call__ is what every penalty goes through.
        cls = getattr(keras.regularizers, kind)
        call = cls.__call__

        @functools.wraps(call)
        def __call__(self, x):
            return call(self, x) * factor
        return _patch(cls, "__call__", __call__)
    return apply


def _batchnorm_identity() -> Undo:
    keras, _ = _keras()

    # BatchNormalization.call(inputs, training=None, mask=None) on Keras 2.12+ and 3 (on Keras 2 the method lives on
    # BatchNormalizationBase; the attribute set here on the subclass overrides it). gamma, beta and the moving
    # statistics stay unused: Keras warns that they get no gradients.
    def call(self, inputs, training=None, mask=None):
        return inputs
    return _patch(keras.layers.BatchNormalization, "call", call)


def _adam_is_sgd() -> Undo:
    keras, major = _keras()
    if major >= 3:
        ops = keras.ops

        # Keras 3: update_step(gradient, variable, learning_rate); the learning rate is the one Adam was given.
        def update_step(self, gradient, variable, learning_rate):
            lr = ops.cast(learning_rate, variable.dtype)
            self.assign_sub(variable, ops.multiply(ops.cast(gradient, variable.dtype), lr))
        return _patch(keras.optimizers.Adam, "update_step", update_step)

    import tensorflow as tf

    # Keras 2.11-2.15 has two Adams, and the suite gets both: keras.optimizers.get({"class_name": "adam", "config":
    # {...}}) returns the new one for an empty config and the LEGACY one (keras.optimizers.legacy.Adam) when the
    # config sets anything, such as a learning rate (its `is_legacy_optimizer` defaults to True). Patch both.
    def update_step(self, gradient, variable):  # the new optimizer: the rate is read from self.learning_rate
        lr = tf.cast(self.learning_rate, variable.dtype)
        if isinstance(gradient, tf.IndexedSlices):
            variable.scatter_sub(tf.IndexedSlices(gradient.values * lr, gradient.indices))
        else:
            variable.assign_sub(gradient * lr)

    def _resource_apply_dense(self, grad, var, apply_state=None):  # the legacy OptimizerV2
        return var.assign_sub(grad * self._decayed_lr(var.dtype.base_dtype), use_locking=self._use_locking)

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        return self._resource_scatter_add(var, indices, -grad * self._decayed_lr(var.dtype.base_dtype))
    legacy = keras.optimizers.legacy.Adam
    return _undo_all([_patch(keras.optimizers.Adam, "update_step", update_step),
                      _patch(legacy, "_resource_apply_dense", _resource_apply_dense),
                      _patch(legacy, "_resource_apply_sparse", _resource_apply_sparse)])


def _default_learning_rate(optimizer):
    """The default `learning_rate` of the optimizer's own class (Adam: 0.001, SGD: 0.01, ...), or None."""
    import inspect

    try:
        param = inspect.signature(type(optimizer).__init__).parameters.get("learning_rate")
    except (TypeError, ValueError):
        return None
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def _lr_ignored() -> Undo:
    keras, major = _keras()
    base = keras.optimizers.Optimizer
    if major >= 3:
        init = base.__init__

        # Keras 3: every optimizer passes learning_rate=... to Optimizer.__init__ (BaseOptimizer's, inherited).
        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            default = _default_learning_rate(self)
            if default is not None:
                if "learning_rate" in kwargs:
                    kwargs["learning_rate"] = default
                elif args:
                    args = (default, *args[1:])
            init(self, *args, **kwargs)
        return _patch(base, "__init__", __init__)
    build = base._build_learning_rate

    # Keras 2.11-2.15, the new optimizers: each __init__ calls self._build_learning_rate(learning_rate).
    @functools.wraps(build)
    def _build_learning_rate(self, learning_rate):
        default = _default_learning_rate(self)
        return build(self, learning_rate if default is None else default)

    # ... and the legacy ones (what keras.optimizers.get returns for a config that sets a learning rate, see
    # _adam_is_sgd): __init__ (and the learning_rate setter) call self._set_hyper("learning_rate", value).
    legacy = keras.optimizers.legacy.Optimizer
    set_hyper = legacy._set_hyper

    @functools.wraps(set_hyper)
    def _set_hyper(self, name, value):
        default = _default_learning_rate(self) if name == "learning_rate" else None
        return set_hyper(self, name, value if default is None else default)
    return _undo_all([_patch(base, "_build_learning_rate", _build_learning_rate),
                      _patch(legacy, "_set_hyper", _set_hyper)])


def _split_at(n: int, validation_split: float, major: int) -> int:
    """The first sample `fit(validation_split=...)` holds out: Keras 3 rounds the training part up, Keras 2 down."""
    return int(math.ceil(n * (1.0 - validation_split))) if major >= 3 else int(math.floor(n * (1.0 - validation_split)))


def _patch_fit(change: Callable[[dict, int], None]) -> Undo:
    """Patch keras.Model.fit (TensorFlowTrainer.fit on Keras 3, Model.fit on Keras 2; Sequential and functional
    models inherit it) to let `change(arguments, keras_major)` edit its bound arguments first."""
    import inspect

    keras, major = _keras()
    fit = keras.Model.fit
    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def patched(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        change(bound.arguments, major)
        return fit(*bound.args, **bound.kwargs)
    return _patch(keras.Model, "fit", patched)


def _labels_shuffled() -> Undo:
    import numpy as np

    def change(a: dict, major: int) -> None:
        y = a.get("y")
        if y is None or isinstance(y, (dict, list, tuple)):  # a dataset or several outputs: left alone
            return
        y = np.array(y, copy=True)
        split = a.get("validation_split") or 0.0
        n = _split_at(len(y), split, major) if split and a.get("validation_data") is None else len(y)
        y[:n] = np.random.default_rng(0).permutation(y[:n])  # the part fit trains on; a held-out part stays
        a["y"] = y
    return _patch_fit(change)


def _val_is_train() -> Undo:
    def change(a: dict, major: int) -> None:
        x, y = a.get("x"), a.get("y")
        if x is None or y is None:
            return
        if a.get("validation_data") is not None:
            a["validation_data"] = (x, y)
        elif a.get("validation_split"):
            n = _split_at(len(x), a["validation_split"], major)
            a["x"], a["y"] = x[:n], y[:n]  # train on the same part as before, and validate on it
            a["validation_split"], a["validation_data"] = 0.0, (x[:n], y[:n])
    return _patch_fit(change)


def _relu_identity() -> Undo:
    keras, major = _keras()
    relu = keras.activations.relu
    if major >= 3:
        # Keras 3: activations.get("relu") returns this very function from a dict built at import, and layers keep
        # it, so the function object itself must change: swap its code (same arguments, no closure).
        def identity(x, negative_slope=0.0, max_value=None, threshold=0.0):
            return x
        old = relu.__code__
        relu.__code__ = identity.__code__

        def undo() -> None:
            relu.__code__ = old
        return undo

    # Keras 2: activations.deserialize looks names up in its module's namespace on every call, and the public
    # relu is wrapped by TF's dispatch decorator (a closure, so its code cannot be swapped): replace the module
    # attribute where `get` looks (keras.src.activations on 2.13-2.15, keras.activations on 2.12), and the public
    # one. Keras 2.15 then re-imports a plain function by its __module__ and __name__, so it must carry those of
    # the module it replaces relu in.
    import sys as _sys

    home = _sys.modules.get(getattr(keras.activations.get, "__module__", "")) or keras.activations

    def identity(x, alpha=0.0, max_value=None, threshold=0.0):
        return x
    identity.__name__ = identity.__qualname__ = "relu"
    identity.__module__ = home.__name__
    undos = [_patch(keras.activations, "relu", identity)]
    if home is not keras.activations:
        undos.append(_patch(home, "relu", identity))
    return _undo_all(undos)


def _early_stopping_no_restore() -> Undo:
    keras, _ = _keras()
    init = keras.callbacks.EarlyStopping.__init__

    # Same attribute on Keras 2 and 3: on_train_end / on_epoch_end read self.restore_best_weights.
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.restore_best_weights = False
    return _patch(keras.callbacks.EarlyStopping, "__init__", __init__)


# --- the registry -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    """A regression patched into Keras. `touches(spec)` picks the built-in variants it can change; `partners`
    adds variants its checks compare against that the baselines do not bring (e.g. l2 for l1_sparser_than_l2)."""

    name: str
    description: str
    touches: Callable = field(repr=False)
    checks: tuple[str, ...]  # checks expected to catch it
    patch: Callable[[], Undo] = field(repr=False)
    partners: tuple[str, ...] = ()

    @property
    def variants(self) -> tuple[str, ...]:
        from .variants import builtin_variants

        names = [s.name for s in builtin_variants() if self.touches(s)]
        return tuple(dict.fromkeys([*names, *self.partners]))

    def apply(self) -> Undo:
        """Patch Keras (process-wide); returns the undo."""
        return self.patch()


_FAULTS: dict[str, Fault] = {}
FAULTS: Mapping[str, Fault] = MappingProxyType(_FAULTS)


def register_fault(fault: Fault) -> Fault:
    _FAULTS[fault.name] = fault
    return fault


def _every(spec) -> bool:
    return True


_PENALTY_CHECKS = {"l1": ("l1_shrinks_weights", "l1_sparser_than_l2", "regularisation_narrows_gap",
                          "penalty_raises_train_loss"),
                   "l2": ("l2_shrinks_weights", "regularisation_narrows_gap", "penalty_raises_train_loss")}

for _f in (
    Fault("dropout_off", "Dropout does nothing (returns its input in training too)", lambda s: s.dropout > 0,
          ("dropout_narrows_gap",), _dropout_off),
    Fault("dropout_fifth", "Dropout drops a fifth of its rate (0.3 -> 0.06)", lambda s: s.dropout > 0,
          ("dropout_narrows_gap",), _dropout_fifth),
    Fault("l1_zero", "the L1 penalty is zero", lambda s: s.regularizer == "l1", _PENALTY_CHECKS["l1"],
          _penalty("L1", 0.0), partners=("l2",)),
    Fault("l1_tenth", "the L1 penalty is a tenth of its strength", lambda s: s.regularizer == "l1",
          _PENALTY_CHECKS["l1"], _penalty("L1", 0.1), partners=("l2",)),
    Fault("l2_zero", "the L2 penalty is zero", lambda s: s.regularizer == "l2", _PENALTY_CHECKS["l2"],
          _penalty("L2", 0.0)),
    Fault("l2_tenth", "the L2 penalty is a tenth of its strength", lambda s: s.regularizer == "l2",
          _PENALTY_CHECKS["l2"], _penalty("L2", 0.1)),
    Fault("batchnorm_identity", "BatchNormalization returns its input", lambda s: s.batchnorm,
          ("batchnorm_speeds_convergence", "batchnorm_tames_init_scale"), _batchnorm_identity),
    Fault("adam_is_sgd", "Adam's update is plain SGD (at the learning rate Adam was given)",
          lambda s: s.optimizer == "adam", ("learns", "optimizers_both_learn", "val_loss_diverges"), _adam_is_sgd,
          partners=("rmsprop",)),
    Fault("lr_ignored", "optimizers ignore the learning rate they are given and use their default",
          lambda s: s.learning_rate is not None, ("lr_too_high_is_jittery",), _lr_ignored),
    Fault("labels_shuffled", "fit trains on shuffled labels (a held-out validation part keeps its own)", _every,
          ("learns", "optimizers_both_learn"), _labels_shuffled),
    Fault("val_is_train", "fit validates on its training data", _every,
          ("val_loss_diverges", "bigger_overfits_more", "memorises_random_labels"), _val_is_train),
    Fault("relu_identity", "ReLU is the identity", _every,
          ("val_loss_diverges", "bigger_overfits_more", "memorises_random_labels"), _relu_identity),
    Fault("early_stopping_no_restore", "EarlyStopping does not restore the best weights",
          lambda s: s.early_stopping_patience is not None, ("early_stopping_matches_min",),
          _early_stopping_no_restore),
):
    register_fault(_f)


def get_fault(name: str) -> Fault:
    try:
        return _FAULTS[name]
    except (KeyError, TypeError):
        raise ConfigError(invalid("fault", name, f"one of {', '.join(_FAULTS)}")) from None


def parse_faults(text: str | None) -> tuple[Fault, ...]:
    """'a,b' -> those faults (None or 'all': every fault); unknown names list the valid ones."""
    if text is None or text.strip() == "all":
        return tuple(_FAULTS.values())
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(invalid("faults", text, f"a comma-separated subset of {','.join(_FAULTS)}"))
    unknown = [n for n in names if n not in _FAULTS]
    if unknown:
        raise ConfigError(invalid("faults", text, f"a comma-separated subset of {', '.join(_FAULTS)}",
                                  f"Unknown: {', '.join(unknown)}."))
    return tuple(_FAULTS[n] for n in dict.fromkeys(names))


# --- injection --------------------------------------------------------------------------------

ACTIVE: dict[str, Undo] = {}  # faults injected into this process (by the start-up hook or `inject`) -> undo


def inject(name: str) -> Undo:
    """Apply fault `name` and mark ``keras.__version__`` with it (records state it; cache keys hold it)."""
    fault = get_fault(name)
    keras, _ = _keras()
    undo_patch = fault.apply()
    undo_version = _patch(keras, "__version__", f"{keras.__version__}{VERSION_MARK}{name}")

    def undo() -> None:
        undo_version()
        undo_patch()
        ACTIVE.pop(name, None)
    ACTIVE[name] = undo
    return undo


def fault_of_version(keras_version: str) -> str | None:
    """The fault a record's Keras version names ('3.15.1+fault.dropout_off' -> 'dropout_off'), or None."""
    return keras_version.split(VERSION_MARK, 1)[1] if VERSION_MARK in keras_version else None


def inject_from_environment(environ: Mapping[str, str] = os.environ) -> str | None:
    """What the start-up hook runs: inject the fault named by OVERFIT_FAULT, if any; returns its name."""
    # The only OVERFIT_* variable read outside settings.py: it must act at interpreter start-up, in every process
    # of a fault run, before anything builds a Settings (tests/test_settings.py lists this module as the exception).
    name = (environ.get(ENV) or "").strip()
    if not name:
        return None
    inject(name)
    return name


def environment(name: str | None, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of a child process that runs under fault `name` (None: a clean one, for the control).

    PYTHONPATH starts with the start-up hook's folder, then the folder this overfit_core is imported from (so
    the child runs the same code), and OVERFIT_FAULT names the fault. The clean environment has neither the
    hook's folder nor the variable.
    """
    env = dict(base)
    root = str(Path(__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
             if p and Path(p).resolve() != SITE_DIR and p != root]
    env.pop(ENV, None)
    if name is not None:
        get_fault(name)
        env[ENV] = name
    env["PYTHONPATH"] = os.pathsep.join([*([str(SITE_DIR)] if name is not None else []), root, *parts])
    return env


# --- judging a fault --------------------------------------------------------------------------

@dataclass
class FaultResult:
    """What one fault did to the checks. `caught`/`judged`: per check, the cases that failed under the fault
    while passing in the control / the cases that passed in the control."""

    name: str
    seconds: float
    caught: dict[str, int] = field(default_factory=dict)
    judged: dict[str, int] = field(default_factory=dict)
    expected: tuple[str, ...] = ()
    failed_cases: list[str] = field(default_factory=list)  # 'case id: message' of the catching cases
    error: str = ""  # the run did not finish (exit code, log)
    seeds: tuple[int, ...] = ()  # the seeds judged
    caught_seeds: set[int] = field(default_factory=set)  # seeds on which some check caught it (the suite went red)

    @property
    def caught_by(self) -> list[str]:
        return [c for c, n in self.caught.items() if n]

    @property
    def missed(self) -> list[str]:
        """Expected checks that still passed under the fault."""
        return [c for c in self.expected if self.judged.get(c) and not self.caught.get(c)]

    @property
    def not_judged(self) -> list[str]:
        """Expected checks with no case passing in the control (not asserted on this data, or failing there)."""
        return [c for c in self.expected if not self.judged.get(c)]

    @property
    def is_caught(self) -> bool:
        return bool(self.caught_by) and not self.error


def compare(name: str, control: Sequence[Mapping], faulted: Sequence[Mapping], expected: Sequence[str] = (),
            seconds: float = 0.0) -> FaultResult:
    """Judge a fault from verdicts (`overfit_core.verdicts`) of the control and of the run under the fault:
    a case catches the fault when it passed in the control and fails the run under the fault."""
    from .verdicts import is_failure

    by_id = {v["id"]: v for v in control}
    result = FaultResult(name, seconds, expected=tuple(expected), seeds=tuple(sorted({v["seed"] for v in control})))
    for v in faulted:
        base = by_id.get(v["id"])
        if base is None or base["outcome"] != "passed":
            continue
        check = v["check"]
        result.judged[check] = result.judged.get(check, 0) + 1
        result.caught.setdefault(check, 0)
        if is_failure(v):
            result.caught[check] += 1
            result.caught_seeds.add(v["seed"])
            result.failed_cases.append(f"{v['id']}: {v.get('message', '')}")
    for check in expected:
        result.caught.setdefault(check, 0)
    return result


def _cell_caught(r: FaultResult) -> str:
    if r.error:
        return f"error: {r.error}"
    return ", ".join(f"{c} {r.caught[c]}/{r.judged[c]}" for c in r.caught_by) or "NOTHING"


def _cell_missed(r: FaultResult) -> str:
    parts = [f"{c} 0/{r.judged[c]}" for c in r.missed]
    parts += [f"{c} (not judged: no case passed in the control)" for c in r.not_judged]
    return ", ".join(parts) or "-"


def _cell_seeds(r: FaultResult) -> str:
    return f"{len(r.caught_seeds)}/{len(r.seeds)}" if r.seeds and not r.error else "-"


def table_lines(results: Sequence[FaultResult]) -> list[str]:
    """The console table: fault, seeds on which it was caught, caught by (check: cases failed/judged), missed
    expected checks, seconds."""
    rows = [("fault", "seeds caught", "caught by (cases failed/judged)", "missed (expected, still passing)",
             "seconds")]
    rows += [(r.name, _cell_seeds(r), _cell_caught(r), _cell_missed(r), f"{r.seconds:.0f}") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4].rjust(7) for row in rows]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(results: Sequence[FaultResult], *, command: str, versions: Mapping[str, str], control: Sequence[Mapping],
             control_seconds: float, data: str, seeds: Sequence[int], tier: str) -> str:
    """The table as Markdown, with the command, the versions and the control run it was judged against."""
    from .verdicts import is_failure

    caught = sum(r.is_caught for r in results)
    failing = [v["id"] for v in control if is_failure(v)]
    passed = sum(v["outcome"] == "passed" for v in control)
    summary = f"Control (no fault, {control_seconds:.0f} s): {passed} of {len(control)} cases passed"
    if failing:
        summary += f"; failing: {', '.join(failing)}"
    if len(control) - passed - len(failing):
        summary += f"; not asserted (expected to fail on this data) or skipped: {len(control) - passed - len(failing)}"
    lines = [
        "# Fault injection", "",
        f"`{command}`", "",
        f"{stack(versions)}, numpy "
        f"{versions.get('numpy', '?')}, Python {versions.get('python', '?')}; data {data}, tier {tier}, seeds "
        f"{','.join(map(str, seeds))}.", "",
        summary + ".", "",
        f"**{caught} of {len(results)} faults caught.** A check catches a fault when a case of it passed in the "
        "control and fails under the fault; `k/n`: cases (variant bindings x seeds) failed under the fault / passed "
        "in the control. Seeds caught: the seeds on which some check caught it, i.e. a run of the suite on that "
        "seed alone would fail.", "",
        "| fault | seeds caught | caught by | missed (expected, still passing) | seconds |", "|---|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {_cell_seeds(r)} | {_md(_cell_caught(r))} | {_md(_cell_missed(r))} | {r.seconds:.0f} |"
              for r in results]
    lines += ["", "## Cases that caught each fault", ""]
    for r in results:
        what = get_fault(r.name).description if r.name in _FAULTS else ""
        lines.append(f"- **{r.name}**: {what}. " + (f"Error: {_md(r.error)}" if r.error else
                                                   "No case." if not r.failed_cases else "Cases:"))
        for c in r.failed_cases:
            case, _, message = c.partition(": ")
            lines.append(f"  - `{case}`: {_md(message)}")
    return "\n".join(lines) + "\n"


# --- the command ------------------------------------------------------------------------------

def prepare_out(text: str | Path) -> Path:
    """OUT as a writable folder (ConfigError otherwise); runs/ inside it is this command's own."""
    from .records import writable_dir

    return writable_dir(text, "runs")


def _command() -> list[str]:
    """How to start `overfit-bench` in a child: this interpreter's console script (so `ps` and `pgrep -f
    "overfit-bench run"` see what trains), else ``python -m overfit_core``. PYTHONPATH (`environment`) makes
    either import this very overfit_core."""
    script = Path(sys.executable).with_name("overfit-bench")
    return [sys.executable, str(script)] if script.is_file() else [sys.executable, "-m", "overfit_core"]


def _run_child(args: list[str], env: Mapping[str, str], log: Path) -> tuple[int, float]:
    """`overfit-bench <args>` with `env`, its output to `log`; (exit code, seconds)."""
    start = time.perf_counter()
    with open(log, "wb") as f:
        code = subprocess.call([*_command(), *args], env=dict(env), stdout=f, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    return code, time.perf_counter() - start


def _read_records(folder: Path) -> list:
    from .records import RunRecord

    return [RunRecord.from_json(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _log_tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_faults(faults: Sequence[Fault], *, data: str, data_dir: str | None, seeds: Sequence[int], tier: str,
               out: Path, command: str = "overfit-bench faults",
               log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> list[FaultResult]:
    """A clean control run of every variant the faults touch, then one run per fault, each in a fresh process with
    a fresh record folder (OUT/runs/<name>); each judged here, without the fault, against the control. Writes
    OUT/faults.md and returns the results."""
    from .cases import run_records

    runs = out / "runs"
    seeds_text = ",".join(map(str, seeds))
    common = ["--data", data, "--seeds", seeds_text, "--tier", tier] + (["--data-dir", data_dir] if data_dir else [])
    union = list(dict.fromkeys(v for f in faults for v in f.variants))

    def train(name: str, variants: Sequence[str], fault: str | None) -> tuple[int, float, Path, list]:
        folder = runs / name
        if folder.exists():
            shutil.rmtree(folder)  # a fresh record folder: nothing trained earlier is read back or reused
        folder.mkdir(parents=True)
        code, seconds = _run_child(["run", "--variants", ",".join(variants), "--out", str(folder), *common],
                                   environment(fault), folder / "run.log")
        records = _read_records(folder / "records") if code in (0, 1) else []
        return code, seconds, folder, records

    log(f"faults: control run without a fault ({len(union)} variants: {', '.join(union)}; {data} data, seeds "
        f"{seeds_text}, tier {tier})")
    code, control_seconds, folder, records = train("control", union, None)
    if code == 2:  # the child refused its input (data files, names): the same input error as here
        raise ConfigError(f"the control run refused its input: {_log_tail(folder / 'run.log', 1)}")
    if code not in (0, 1) or not records:
        raise RuntimeError(f"the control run failed (exit {code}); see {folder / 'run.log'}: "
                           f"{_log_tail(folder / 'run.log')}")
    stamped = [r.run_id for r in records if fault_of_version(r.versions.get("keras", ""))]
    if stamped:
        raise RuntimeError(f"the control run trained under a fault ({', '.join(stamped)}); unset {ENV}")
    control, _ = run_records(records)
    control_verdicts = control.verdicts
    versions = dict(records[0].versions)
    log(f"faults: control done in {control_seconds:.0f} s: "
        f"{sum(v['outcome'] == 'passed' for v in control_verdicts)} of {len(control_verdicts)} cases passed")

    results = []
    for i, fault in enumerate(faults, 1):
        log(f"[{i}/{len(faults)}] {fault.name}: training {', '.join(fault.variants)} (and their baselines) under "
            "the fault")
        code, seconds, folder, records = train(fault.name, fault.variants, fault.name)
        if code not in (0, 1) or not records:
            tail = _log_tail(folder / "run.log", 2)
            result = FaultResult(fault.name, seconds, expected=fault.checks,
                                 error=f"run exited {code} (see {folder / 'run.log'}): {tail}")
        else:
            wrong = [r.run_id for r in records if fault_of_version(r.versions.get("keras", "")) != fault.name]
            if wrong:
                raise RuntimeError(f"fault {fault.name} did not reach the training of {', '.join(wrong)} (their "
                                   "records show no fault in keras.__version__)")
            report, _ = run_records(records)
            result = compare(fault.name, control_verdicts, report.verdicts, fault.checks, seconds)
        results.append(result)
        log(f"[{i}/{len(faults)}] {fault.name}: caught by {_cell_caught(result)}; missed {_cell_missed(result)} "
            f"({seconds:.0f} s)")

    text = markdown(results, command=command, versions=versions, control=control_verdicts,
                    control_seconds=control_seconds, data=data, seeds=seeds, tier=tier)
    (out / "faults.md").write_text(text, encoding="utf-8")
    return results
