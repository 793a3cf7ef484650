"""`overfit-bench repro`: one standalone plain-Keras script that reproduces a check, for an upstream bug report.

`write_repro` resolves which variants a check binds on a dataset (`checks.bindings`, as `cases_for` does),
writes the arrays the suite trains on beside the script (an .npz, after the suite's preprocessing) and renders
the script from the `VariantSpec` fields: seeding, the model as `variants.build_model` builds it, the optimizer,
compile, fit (as `training.train` runs it), the inference-mode probe of the training loss where the check reads
a gap, and the numbers the check reads (`SNIPPETS`, one code template per check). The script imports numpy,
TensorFlow and Keras only; it exits 0 when the property holds and 1 when it does not.
"""
from __future__ import annotations

import inspect

import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Callable, Mapping, Sequence

import numpy as np

from .cases import selection
from .checks import CHECKS, GAP_WINDOW, TAIL, THRESHOLDS, Binding, bindings, effect_threshold, get_check
from .config import get_config
from .datasets import DATASETS, DataOptions, Dataset, check_dataset_name, get_dataset, load_dataset
from .errors import ConfigError, invalid
from .training import (EPSILON, NEAR_ZERO, PROBE_BATCH, TRAIN_EVAL, check_seed, constant_predictor, plan,
                       pointwise_scores)
from .variants import VariantSpec, variants_for


@dataclass(frozen=True)
class Snippet:
    """How a script computes one check from the runs of one binding, named by role (dicts: history, evaluation,
    kernels, ...). `code`, a `string.Template` over `THRESHOLDS`, sets `m` (the numbers the check reads, its
    effect size under the effect's name) and `conditions` (holds, text): the side conditions, or for an exact check
    every condition. A comparative check's effect is compared with its threshold by the script's common code.
    `probe`: the check reads the inference-mode training curve (`train_eval_*`). `limits(roles, kind)`: thresholds
    besides the effect's own, resolved when rendering, which the code reads from `limits`."""

    code: str
    probe: bool = False
    limits: Callable[[Mapping[str, str], str], dict] | None = None


def _live_limit(roles: Mapping[str, str], kind: str) -> dict:
    return {"live_threshold": effect_threshold("beats_constant_predictor", roles["baseline"], kind)[0]}


_NARROWS_GAP = Snippet("""
    m = {"gap": gap(run), "baseline_gap": gap(baseline)}
    m["gap_ratio"] = ratio(m["gap"], m["baseline_gap"])
    conditions = [(m["baseline_gap"] > 0, "baseline_gap > 0")]
    """, probe=True)


def _norm(norm: str) -> Snippet:
    return Snippet(f"""
    m = {{"{norm}": sum(k["{norm}"] for k in hidden_kernels(run)),
         "baseline_{norm}": sum(k["{norm}"] for k in hidden_kernels(baseline))}}
    m["norm_ratio"] = ratio(m["{norm}"], m["baseline_{norm}"])
    conditions = []
    """)


SNIPPETS: Mapping[str, Snippet] = {
    "val_loss_diverges": Snippet("""
    val, train = run["history"]["val_" + LOSS_KEY], run["history"][LOSS_KEY]
    best = int(np.argmin(val))
    m = {"min_val_loss": min(val), "min_epoch": best + 1, "epochs": len(val), "final_val_loss": tail(val),
         "train_loss_at_min": train[best], "final_train_loss": tail(train)}
    m["rise_ratio"] = ratio(m["final_val_loss"], m["min_val_loss"])
    conditions = [(best + 1 <= $diverge_min_epoch_fraction * len(val), "min_epoch <= $diverge_min_epoch_fraction x epochs"),
                  (m["final_train_loss"] < m["train_loss_at_min"], "final_train_loss < train_loss_at_min")]
    """),
    "bigger_overfits_more": Snippet("""
    epochs = min(len(run["history"]["val_loss"]), len(baseline["history"]["val_loss"]))  # equal training lengths
    m = {"epochs_compared": epochs, "gap": gap(run, epochs), "baseline_gap": gap(baseline, epochs),
         "rise": rise(run, epochs), "baseline_rise": rise(baseline, epochs)}
    m["gap_ratio"] = ratio(m["gap"], m["baseline_gap"])
    conditions = [(m["rise"] > m["baseline_rise"], "rise > baseline_rise")]
    """, probe=True),
    "dropout_narrows_gap": _NARROWS_GAP,
    "l1_shrinks_weights": _norm("l1"),
    "l2_shrinks_weights": _norm("l2"),
    "regularisation_narrows_gap": _NARROWS_GAP,
    "l1_sparser_than_l2": Snippet("""
    def near_zero(r):  # the share of hidden weights with |w| < NEAR_ZERO
        ks = hidden_kernels(r)
        return sum(k["near_zero_fraction"] * k["size"] for k in ks) / sum(k["size"] for k in ks)

    m = {"l1_near_zero": near_zero(l1), "l2_near_zero": near_zero(l2)}
    m["near_zero_share_difference"] = m["l1_near_zero"] - m["l2_near_zero"]
    conditions = []
    """),
    "batchnorm_speeds_convergence": Snippet("""
    m = {"train_loss": tail(run["history"][LOSS_KEY]), "baseline_train_loss": tail(baseline["history"][LOSS_KEY])}
    m["train_loss_ratio"] = ratio(m["train_loss"], m["baseline_train_loss"])
    conditions = []
    """),
    "batchnorm_tames_init_scale": Snippet("""
    def shift(a, b):  # how far a scaled-up initial weight scale moves the final validation loss
        return abs(tail(b["history"]["val_" + LOSS_KEY]) - tail(a["history"]["val_" + LOSS_KEY]))

    m = {"bn_shift": shift(bn, bn_scaled), "plain_shift": shift(plain, plain_scaled)}
    m["shift_ratio"] = ratio(m["bn_shift"], m["plain_shift"])
    conditions = []
    """),
    "optimizers_both_learn": Snippet("""
    chance = adam["evaluation"].get("chance_val_accuracy", math.nan)
    m = {"rmsprop_val_accuracy": tail(rmsprop["history"]["val_accuracy"]),
         "adam_val_accuracy": tail(adam["history"]["val_accuracy"]), "chance_val_accuracy": chance}
    m["min_accuracy_over_chance"] = min(m["rmsprop_val_accuracy"], m["adam_val_accuracy"]) - chance
    conditions = []
    """),
    "lr_too_high_is_jittery": Snippet("""
    def rises(r):  # epoch-to-epoch rises of the validation loss
        return int(np.sum(np.diff(r["history"]["val_loss"]) > 0))

    sane = np.asarray(baseline["history"]["val_loss"])
    fifth = max(1, len(sane) // 5)
    total_drop = sane[0] - sane.min()
    m = {"rises": rises(run), "baseline_rises": rises(baseline),
         "sane_early_drop_share": float((sane[0] - sane[fifth]) / total_drop) if total_drop > 0 else 0.0}
    m["extra_rises"] = m["rises"] - m["baseline_rises"]
    live = ratio(tail(baseline["history"]["val_loss"]), baseline["evaluation"].get("constant_val_loss", math.nan))
    conditions = [(m["sane_early_drop_share"] >= $sane_lr_early_drop_share,
                   "sane curve drops >= $sane_lr_early_drop_share of its total in the first fifth of epochs"),
                  (live < limits["live_threshold"], f"{baseline['name']} live: val_loss < "
                   f"{limits['live_threshold']:.3g} x the constant predictor's")]
    """, limits=_live_limit),
    "memorises_random_labels": Snippet("""
    acc = run["history"].get("$train_eval" + "accuracy") or run["history"]["accuracy"]
    chance = run["evaluation"].get("chance_val_accuracy", math.nan)
    m = {"train_accuracy": tail(acc), "val_accuracy": tail(run["history"]["val_accuracy"]),
         "chance_val_accuracy": chance}
    m["final_train_accuracy"] = m["train_accuracy"]
    conditions = [(abs(m["val_accuracy"] - chance) <= $random_labels_val_accuracy_margin,
                   "|val_accuracy - chance| <= $random_labels_val_accuracy_margin")]
    """, probe=True),
    "early_stopping_matches_min": Snippet("""
    val = run["history"]["val_loss"]
    best = int(np.argmin(val))
    patience, max_epochs = run["early_stopping_patience"], run["epochs"]
    restored = run["evaluation"].get("restored_val_loss", math.nan)
    m = {"min_epoch": best + 1, "stopped_epoch": len(val), "patience": patience, "min_val_loss": val[best],
         "restored_val_loss": restored}
    stopped_right = len(val) == best + 1 + patience or (len(val) == max_epochs and len(val) - best - 1 < patience)
    conditions = [(stopped_right, "stopped_epoch == min_epoch + patience (or ran all epochs within patience)"),
                  (math.isclose(restored, val[best], rel_tol=$restored_loss_rtol),
                   "restored_val_loss == min_val_loss (rtol $restored_loss_rtol)")]
    """),
    "regression_metrics": Snippet("""
    p, y = np.asarray(run["predictions"], np.float64), np.asarray(run["targets"], np.float64)
    err = p - y
    ref = {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))),
           "mape": float(100 * np.mean(np.abs(err) / np.maximum(np.abs(y), 1e-7)))}
    m = {**{k: run["evaluation"][k] for k in ref}, **{"numpy_" + k: v for k, v in ref.items()}}
    conditions = [(math.isclose(run["evaluation"][k], v, rel_tol=$regression_rtol),
                   f"Keras {k} == numpy {k} (rtol $regression_rtol)") for k, v in ref.items()]
    """),
    "learns": Snippet("""
    m = {"final_train_loss": tail(run["history"][LOSS_KEY]),
         "constant_train_loss": run["evaluation"].get("constant_train_loss", math.nan)}
    m["train_loss_ratio"] = ratio(m["final_train_loss"], m["constant_train_loss"])
    conditions = []
    """),
    "penalty_raises_train_loss": Snippet("""
    m = {"train_loss": tail(run["history"][LOSS_KEY], GAP_WINDOW),
         "baseline_train_loss": tail(baseline["history"][LOSS_KEY], GAP_WINDOW)}
    m["train_loss_ratio"] = ratio(m["train_loss"], m["baseline_train_loss"])
    conditions = []
    """),
    "beats_chance": Snippet("""
    m = {"val_accuracy": tail(run["history"]["val_accuracy"]),
         "chance_val_accuracy": run["evaluation"].get("chance_val_accuracy", math.nan)}
    m["val_accuracy_over_chance"] = m["val_accuracy"] - m["chance_val_accuracy"]
    conditions = []
    """),
    "beats_constant_predictor": Snippet("""
    m = {"val_loss": tail(run["history"]["val_loss"]),
         "constant_val_loss": run["evaluation"].get("constant_val_loss", math.nan)}
    m["val_loss_ratio"] = ratio(m["val_loss"], m["constant_val_loss"])
    conditions = []
    """),
}

# What a real dataset is in keras.datasets, for the script's comment (the suite reads the same arrays from files).
KERAS_DATASETS: Mapping[str, str] = {
    "imdb": "(x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data()",
    "fashion_mnist": "(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()",
    "boston": "(x_train, y_train), (x_test, y_test) = keras.datasets.boston_housing.load_data()  "
              "(the suite joins both parts, drops column `b`, splits and scales them itself)",
}

_OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD", "adagrad": "Adagrad", "adadelta": "Adadelta",
               "adamax": "Adamax", "nadam": "Nadam", "adamw": "AdamW", "ftrl": "Ftrl"}


def _template_values() -> dict[str, str]:
    return {**{k: repr(v) for k, v in THRESHOLDS.items()}, "train_eval": TRAIN_EVAL}


def snippet_for(check: str) -> Snippet:
    """The script template of `check`; a clear error for a check registered without one."""
    get_check(check)
    try:
        return SNIPPETS[check]
    except KeyError:
        raise ConfigError(f"Check {check!r} cannot be rendered as a standalone script: overfit_core.repro.SNIPPETS "
                          f"has no entry for it (it covers {', '.join(SNIPPETS)}). Add one: the code that computes "
                          "its numbers `m` and `holds` from the runs of one binding.") from None


# --- which variants -----------------------------------------------------------------------------

def resolve(check: str, dataset: str, variants: Sequence[str] | str | None = None
            ) -> tuple[list[Binding], dict[str, VariantSpec]]:
    """The bindings of `check` on `dataset` (those with one of `variants`, when given) and the specs they train."""
    get_check(check)
    check_dataset_name(dataset)
    if isinstance(variants, str):
        variants = [v.strip() for v in variants.split(",") if v.strip()]
    names = list(variants) if variants else [s.name for s in variants_for(dataset)]
    if not names:
        raise ConfigError(f"Dataset {dataset!r} has no built-in variant. Name the variants with --variants.")
    chosen, specs = selection(names)
    other = [f"{s.name} ({s.dataset})" for s in chosen.values() if s.dataset != dataset]
    if other:
        raise ConfigError(invalid("variants", ",".join(chosen), f"variants of dataset {dataset!r}",
                                  f"These train on another dataset: {', '.join(other)}."))
    found = [b for b in bindings(specs, [check]) if set(b.variants) & set(chosen)]
    if not found:
        where = [d for d in DATASETS if bindings({s.name: s for s in variants_for(d)}, [check])]
        raise ConfigError(f"Check {check!r} binds no variant of dataset {dataset!r}"
                          + (f" among {', '.join(chosen)} and their baselines" if variants else "")
                          + f" (its built-in variants are on: {', '.join(where) or 'none'}). "
                          "See `overfit-bench list` for the variants each check binds.")
    used = dict.fromkeys(n for b in found for n in b.variants)
    return found, {n: specs[n] for n in used}


# --- rendering ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataInfo:
    """What the script's comment says about its data."""

    npz_name: str
    dataset: str
    kind: str
    source: str
    sha256: str
    params: Mapping
    shapes: Mapping[str, str]

    @classmethod
    def of(cls, npz_name: str, ds: Dataset, arrays: Mapping[str, np.ndarray]) -> "DataInfo":
        shapes = {k: f"{tuple(a.shape)} {a.dtype}" for k, a in arrays.items()}
        return cls(npz_name, ds.name, ds.kind, ds.source, ds.sha256, dict(ds.params), shapes)


def file_stem(check: str, dataset: str, seed: int) -> str:
    return f"repro_{check}_{dataset}_seed{seed}"


def _build_function(spec: VariantSpec) -> str:
    """`build_<name>(input_shape)`: the model `variants.build_model` builds for `spec`, as plain Keras code."""
    if spec.builder:
        raise ConfigError(f"Variant {spec.name!r} is built by a user's function ({spec.builder.split('@')[0]}), "
                          "which repro cannot render from its spec. Reproduce it with its own code.")
    ds = get_dataset(spec.dataset)
    reg = {None: None, "l1": "keras.regularizers.L1", "l2": "keras.regularizers.L2"}[spec.regularizer]
    lines = [f"def build_{spec.name}(input_shape):",
             f"    {(spec.description or spec.name)!r}",
             "    inputs = keras.Input(shape=input_shape)",
             f"    h = {'layers.Flatten()(inputs)' if spec.flatten else 'inputs'}"]
    for units in spec.hidden:
        args = [str(units), f"activation={None if spec.batchnorm else 'relu'!r}",
                f"kernel_initializer=keras.initializers.VarianceScaling({spec.init_scale**2!r}, 'fan_avg', 'uniform')",
                f"kernel_regularizer={f'{reg}({spec.reg_strength!r})' if reg else None}"]
        lines.append(f"    h = layers.Dense({args[0]}, {args[1]},\n" + ",\n".join(" " * 21 + a for a in args[2:]) + ")(h)")
        if spec.batchnorm:
            lines.append("    h = layers.Activation('relu')(layers.BatchNormalization()(h))")
        if spec.dropout:
            lines.append(f"    h = layers.Dropout({spec.dropout!r})(h)")
    lines.append(f"    outputs = layers.Dense({ds.output_units}, activation={ds.output_activation!r})(h)")
    lines.append(f"    return keras.Model(inputs, outputs, name={spec.name!r})")
    return "\n".join(lines)


def _optimizer(spec: VariantSpec) -> str:
    lr = "" if spec.learning_rate is None else f"learning_rate={spec.learning_rate!r}"
    cls = _OPTIMIZERS.get(spec.optimizer.lower())
    if cls:
        return f"keras.optimizers.{cls}({lr})"
    config = {} if spec.learning_rate is None else {"learning_rate": spec.learning_rate}
    return f"keras.optimizers.get({{'class_name': {spec.optimizer!r}, 'config': {config!r}}})"


def _metrics(task: str, unreg: str) -> str:
    if task == "binary":
        return f"[keras.metrics.BinaryAccuracy(name='accuracy'), keras.metrics.BinaryCrossentropy(name={unreg!r})]"
    if task == "multiclass":
        return (f"[keras.metrics.SparseCategoricalAccuracy(name='accuracy'), "
                f"keras.metrics.SparseCategoricalCrossentropy(name={unreg!r})]")
    return f"[keras.metrics.MeanSquaredError(name={unreg!r}), keras.metrics.MeanAbsoluteError(name='mae')]"


_PROBE = '''
PROBE_BATCH = $probe_batch
EPSILON = $epsilon  # Keras' backend epsilon, which its cross-entropies clip probabilities to


$pointwise_scores

class TrainEval(keras.callbacks.Callback):
    """The training loss (and accuracy) in inference mode on a fixed training slice after every epoch.

    Keras' logged `loss` is a running mean over the epoch with Dropout active; a train/validation gap needs the
    training loss at the epoch's end without it. History keys: "$train_eval" + the loss name (and accuracy).
    """

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, np.asarray(y, np.float64).reshape(len(y), -1)
        self.curves = {}

    def on_train_begin(self, logs=None):
        self.curves = {}

    def on_epoch_end(self, epoch, logs=None):
        x, y = self.x, self.y
        pred = np.concatenate([to_numpy(self.model(x[i:i + PROBE_BATCH], training=False)).astype(np.float64)
                               for i in range(0, len(x), PROBE_BATCH)]).reshape(len(y), -1)
        for k, v in pointwise_scores(LOSS, y, pred).items():
            self.curves.setdefault("$train_eval" + k, []).append(v)
'''

_FIT = '''
def fit(name, build, make_optimizer, batch_size, epochs, max_train_samples, shuffle_labels, early_stopping_patience,
        data, **facts):
    """Seed, build, compile and fit one variant as the suite does; its history, kernels and evaluation."""
    x_train, y_train, x_val, y_val = data
    x, y = x_train[:max_train_samples], y_train[:max_train_samples]
    if shuffle_labels:  # a seeded permutation of the training labels
        y = np.random.default_rng(SEED).permutation(y)
    fit_kwargs = {"validation_split": VALIDATION_SPLIT} if VALIDATION_SPLIT else {"validation_data": (x_val, y_val)}
    n_fit = int(x.shape[0] * (1 - (VALIDATION_SPLIT or 0)))  # validation_split holds out the last samples
    x_v, y_v = (x[n_fit:], y[n_fit:]) if VALIDATION_SPLIT else (x_val, y_val)
$deterministic
    keras.utils.set_random_seed(SEED)  # python, numpy and TensorFlow
    try:
        model = build(tuple(x.shape[1:]))
        model.compile(optimizer=make_optimizer(), loss=LOSS, metrics=make_metrics(), **COMPILE_OPTIONS)
        callbacks = [keras.callbacks.TerminateOnNaN()]
$probe_setup
        if early_stopping_patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_patience,
                                                           restore_best_weights=True))
        hist = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True, callbacks=callbacks,
                         **fit_kwargs)
        history = {k: [float(v) for v in vs] for k, vs in hist.history.items() if k not in ("lr", "learning_rate")}
$probe_curves
        evaluation, predictions, targets = {}, [], []
        if TASK == "regression":
            predictions = np.asarray(model.predict(x_val, verbose=0), np.float64).reshape(-1)
            targets = np.asarray(y_val, np.float64).reshape(-1)
            for key, metric in (("rmse", keras.metrics.RootMeanSquaredError()),
                                ("mae", keras.metrics.MeanAbsoluteError()),
                                ("mape", keras.metrics.MeanAbsolutePercentageError())):
                metric.update_state(targets.reshape(-1, 1), predictions.reshape(-1, 1))
                evaluation[key] = float(metric.result())
        elif early_stopping_patience is not None:  # the restored (best) weights, evaluated afresh
            scores = model.evaluate(x_val, y_val, batch_size=batch_size, verbose=0, return_dict=True)
            evaluation["restored_val_loss"] = float(scores["loss"])
        evaluation.update(constant_predictor(TASK, y[:n_fit], y_v))
        kernels = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                w = to_numpy(layer.kernel).astype(np.float64)
                kernels.append({"layer": layer.name, "size": int(w.size), "l1": float(np.abs(w).sum()),
                                "l2": float(np.sqrt((w**2).sum())),
                                "near_zero_fraction": float((np.abs(w) < NEAR_ZERO).mean())})
    finally:
        keras.backend.clear_session()
    diverged = not all(math.isfinite(v) for v in history.get("loss", [math.nan]))
    return {"name": name, "history": history, "kernels": kernels, "evaluation": evaluation,
            "predictions": list(predictions), "targets": list(targets), "epochs": epochs,
            "early_stopping_patience": early_stopping_patience, "status": "diverged" if diverged else "ok", **facts}
'''

_HELPERS = '''
def tail(curve, k=TAIL):
    """A "final" value: the mean of the last k epochs (one epoch can sit in a trough)."""
    return float(np.mean(curve[-k:]))


def ratio(a, b):
    """a / b for a positive b; nan otherwise (the ratio says nothing then)."""
    return a / b if b > 0 else math.nan


def train_curve(run):
    """The un-regularised training loss at each epoch's end in inference mode (TrainEval), else Keras' running mean."""
    return run["history"].get("$train_eval" + LOSS_KEY) or run["history"][LOSS_KEY]


def gap(run, epochs=None):
    """Median (validation - training) gap of the un-regularised loss over the last half of the first `epochs`
    epochs (all by default; at least GAP_WINDOW epochs)."""
    val, train = run["history"]["val_" + LOSS_KEY][:epochs], train_curve(run)[:epochs]
    n = min(len(val), len(train))
    window = min(n, max(GAP_WINDOW, n // 2))
    return float(np.median(np.subtract(val[n - window:n], train[n - window:n])))


def rise(run, epochs=None):
    """Final validation loss minus its minimum (over the first `epochs` epochs)."""
    val = run["history"]["val_" + LOSS_KEY][:epochs]
    return tail(val) - min(val)


def hidden_kernels(run):
    """Kernel stats of the hidden Dense layers (the output layer is never penalised)."""
    return run["kernels"][:-1]
'''

_MAIN = '''
def main():
    print(f"keras {keras.__version__} on {BACKEND} {sys.modules[BACKEND].__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}")
    with np.load(DATA) as npz:
        data = tuple(npz[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    runs = {}
    for name, kwargs in VARIANTS.items():
        run = runs[name] = fit(name, data=data, **kwargs)
        print(f"{name}: {len(run['history']['loss'])} epochs ({run['status']})")
        for key, curve in sorted(run["history"].items()):
            print(f"RESULT {name} {key}={curve[-1]!r}")
        for key, value in sorted(run["evaluation"].items()):
            print(f"RESULT {name} {key}={value!r}")
    all_hold = True
    for label, roles, limits in BINDINGS:
        who = ", ".join(f"{name} ({role})" for role, name in roles.items())
        diverged = [name for name in roles.values() if runs[name]["status"] != "ok"]
        if diverged:
            print(f"VERDICT {label} cannot-judge: training diverged in {', '.join(diverged)}")
            all_hold = False
            continue
        m, conditions = judge(limits, **{role: runs[name] for role, name in roles.items()})
        if EFFECT is not None:
            effect, direction, _ = EFFECT
            value, threshold = m[effect], limits["threshold"]
            passes = not math.isnan(value) and (value > threshold if direction == ">" else value < threshold)
            conditions.insert(0, (passes, f"{effect} {direction} {threshold:.4g} ({limits['source']})"))
        for key, value in m.items():
            print(f"MEASURED {label} {key}={value!r}")
        holds = all(ok for ok, _ in conditions)
        print(f"VERDICT {label} {'holds' if holds else 'fails'}: {STATEMENT} -- {who}; {DATASET} ({DATA_KIND}), "
              f"seed {SEED}")
        for ok, text in conditions:
            print(f"  [{'ok' if ok else 'FAILS'}] {text}")
        all_hold = all_hold and holds
    print(f"PROPERTY {CHECK} {'holds' if all_hold else 'does not hold'}")
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
'''

_EMPTY = "\0"  # a template placeholder left out: its line goes


def _drop_empty(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line != _EMPTY) + "\n"


def _comment(text: str) -> str:
    return "\n".join(("# " + line).rstrip() for line in text.splitlines())


def _judge_code(check: str, roles: Sequence[str]) -> str:
    """`def judge(limits, <roles>)` from the check's snippet, with its fixed thresholds filled in."""
    snippet, effect = snippet_for(check), CHECKS[check].effect
    try:
        body = Template(textwrap.dedent(snippet.code)).substitute(_template_values())
    except (KeyError, ValueError) as e:
        raise ConfigError(f"The repro snippet of check {check!r} names a threshold that checks.THRESHOLDS lacks: "
                          f"{e}. Update overfit_core.repro.SNIPPETS[{check!r}].") from None
    if effect is not None and f'm["{effect.name}"]' not in body:
        raise ConfigError(f"The repro snippet of check {check!r} does not compute its effect {effect.name!r}. Update "
                          f"overfit_core.repro.SNIPPETS[{check!r}].")
    return (f"def judge(limits, {', '.join(roles)}):\n"
            f'    """The numbers `{check}` reads (`m`) and its conditions (holds, text)."""\n'
            + textwrap.indent(body.strip("\n"), "    ") + "\n    return m, conditions")


def _limits(check: str, label: str, roles: Mapping[str, str], kind: str) -> dict:
    """The thresholds of one binding, as the suite resolves them now (calibrated effect thresholds)."""
    out = {}
    if CHECKS[check].effect is not None:
        out["threshold"], out["source"] = effect_threshold(check, label, kind)
    limits = snippet_for(check).limits
    return {**out, **(limits(roles, kind) if limits else {})}


_DETERMINISM = {  # the suite's --deterministic on each backend (overfit_core.compat.enable_op_determinism)
    "tensorflow": "    __import__('tensorflow').config.experimental.enable_op_determinism()  # as --deterministic",
    "torch": "    __import__('torch').use_deterministic_algorithms(True)  # as the suite's --deterministic",
    "jax": "    pass  # JAX on a CPU is deterministic; on a GPU: XLA_FLAGS=--xla_gpu_deterministic_ops=true",
}


def render(check: str, dataset: str, seed: int, tier: str, data: DataInfo, *,
           variants: Sequence[str] | str | None = None, command: str = "",
           versions: Mapping[str, str] | None = None) -> str:
    """The standalone script's text (the arrays go beside it, in `data.npz_name`)."""
    from .compat import versions as current_versions

    seed = check_seed(seed)
    config = get_config(tier)
    snippet = snippet_for(check)
    found, specs = resolve(check, dataset, variants)
    builds = [_build_function(s) for s in specs.values()]  # a user's builder fails here
    judge = _judge_code(check, list(found[0].roles))
    ds = get_dataset(dataset)
    versions = dict(versions or current_versions())
    backend = versions.get("backend", "tensorflow")
    unreg = {s.unregularised_metric for s in specs.values()}
    if len(unreg) != 1:
        raise ConfigError(f"Check {check!r} on {dataset!r}: the variants log different un-regularised losses {unreg}.")
    loss_key = unreg.pop()
    statement = CHECKS[check].description
    effect = CHECKS[check].effect
    bindings_rows = [(b.label, dict(b.roles), _limits(check, b.label, b.roles, data.kind)) for b in found]
    probe = snippet.probe

    real = KERAS_DATASETS.get(dataset, "no keras.datasets equivalent is recorded for this dataset")
    prep = (ds.prepare.__doc__ or "-").strip().splitlines()[0]
    shapes = "\n".join(f"  {k}: {v}" for k, v in data.shapes.items())
    roles_text = "\n".join(f"  {label}: " + ", ".join(f"{n} ({r})" for r, n in rs.items())
                           for label, rs, _ in bindings_rows)
    generated = command or (f"overfit-bench repro --check {check} --dataset {dataset} --seed {seed} --tier {tier} "
                            f"--data {data.kind}")
    header = f"""\
Reproduction of the overfit-bench check `{check}` on {dataset} ({data.kind} data), seed {seed}, tier {tier}.
Property: {statement}
Variants (role), per binding of the check:
{roles_text}

Generated by: {generated}
With: tensorflow {versions.get('tensorflow')}, keras {versions.get('keras')} on backend {backend}, numpy \
{versions.get('numpy')}, python {versions.get('python')}

Standalone: numpy and Keras on its backend only (Keras 3 on {backend}: KERAS_BACKEND, set below unless set
already; or Keras 2 via TF <= 2.15; TF_USE_LEGACY_KERAS=1 uses the tf_keras package). Run: python {data.npz_name[:-4]}.py
Prints "RESULT <variant> <key>=<final value>" for each history key and evaluation number, "MEASURED <binding>
<number>=<value>" for the numbers the check reads, and a verdict with each condition.
Exit status 0: the property holds; 1: it does not.

Data: {data.npz_name}, beside this script, holds exactly the arrays the suite trained on, after its
preprocessing (training samples cut to the largest cap among the variants; each variant cuts its own):
{shapes}
  dataset {dataset}: {ds.description}
  data kind {data.kind}, source {data.source}, sha256 {data.sha256}
  preparation: {prep}
  parameters: {', '.join(f'{k}={v}' for k, v in data.params.items()) or '-'}
  {'real data; keras.datasets has it as' if data.kind == 'real' else 'a synthetic look-alike generated by overfit-bench (docs/synthetic.md); the real data is'}:
    {real}"""

    variant_rows = []
    for name, s in specs.items():
        p = plan(s, config)
        variant_rows.append(
            f"    {name!r}: dict(build=build_{name}, make_optimizer=lambda: {_optimizer(s)}, "
            f"batch_size={s.batch_size},\n        epochs={p['epochs']}, max_train_samples={p['max_train_samples']!r}, "
            f"shuffle_labels={s.shuffle_labels}, early_stopping_patience={s.early_stopping_patience!r},\n"
            f"        regularizer={s.regularizer!r}, tags={tuple(s.tags)!r}),")
    fit = _drop_empty(Template(_FIT).substitute(
        deterministic=(_DETERMINISM[backend] if config.deterministic else _EMPTY),
        probe_setup=("        n_probe = min(n_fit, len(y_v))  # a training slice the size of the validation set\n"
                     "        probe = TrainEval(x[:n_probe], y[:n_probe])\n"
                     "        callbacks.append(probe)") if probe else _EMPTY,
        probe_curves="        history.update(probe.curves)" if probe else _EMPTY))
    effect_row = (f"EFFECT = {(effect.name, effect.direction, effect.null)!r}  # (effect size, passing side, value "
                  "without the mechanism)" if effect is not None else "EFFECT = None  # an exact check")

    parts = [
        "#!/usr/bin/env python3\n" + _comment(header),
        '"""Standalone reproduction generated by `overfit-bench repro` (see the comment above)."""\n'
        "import math\nimport os\nimport platform\nimport sys\nfrom pathlib import Path\n\n"
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")\n'
        f'os.environ.setdefault("KERAS_BACKEND", {backend!r})  # the backend the numbers were produced on\n\n'
        "import numpy as np  # noqa: E402\n\n"
        'if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"):\n'
        "    import tf_keras as keras  # the legacy Keras 2 package that tf.keras then points to\n"
        "else:\n"
        "    import keras  # Keras 2 on TF <= 2.15, where TF pins the `keras` package; Keras 3 after\n\n"
        "layers = keras.layers\n"
        'BACKEND = keras.backend.backend() if int(keras.__version__.split(".")[0]) >= 3 else "tensorflow"\n'
        'to_numpy = keras.ops.convert_to_numpy if hasattr(keras, "ops") else np.asarray  # GPU tensors too\n\n'
        + "\n".join([
            f"CHECK = {check!r}",
            f"STATEMENT = {statement!r}",
            effect_row,
            f"DATASET, DATA_KIND = {dataset!r}, {data.kind!r}",
            f"SEED = {seed}",
            f"DATA = Path(__file__).resolve().parent / {data.npz_name!r}",
            f"TASK = {ds.task!r}",
            f"LOSS = {ds.loss!r}",
            f"LOSS_KEY = {loss_key!r}  # the loss without L1/L2 penalties: a metric named as the loss",
            f"VALIDATION_SPLIT = {ds.fit_validation_split!r}  # None: validation_data=(x_val, y_val)",
            f"COMPILE_OPTIONS = {config.compile_kwargs()!r}  # as the suite's tier {tier!r}",
            f"TAIL, GAP_WINDOW = {TAIL}, {GAP_WINDOW}  # epochs averaged for final values; least epochs of a gap",
            f"NEAR_ZERO = {NEAR_ZERO!r}",
        ]),
        "\n\n\n".join(builds),
        f"def make_metrics():\n    return {_metrics(ds.task, loss_key)}",
        "VARIANTS = {  # in the order trained; each is seeded afresh\n" + "\n".join(variant_rows) + "\n}\n"
        "# (binding, role -> variant, thresholds as the suite resolved them when this script was generated)\n"
        f"BINDINGS = {bindings_rows!r}",
    ]
    if probe:
        parts.append(Template(_PROBE).substitute(probe_batch=PROBE_BATCH, epsilon=repr(EPSILON),
                                                 pointwise_scores=inspect.getsource(pointwise_scores).strip(),
                                                 train_eval=TRAIN_EVAL).strip("\n"))
    parts += [
        inspect.getsource(constant_predictor).strip("\n"),
        fit.strip("\n"),
        Template(_HELPERS).substitute(train_eval=TRAIN_EVAL).strip("\n"),
        judge,
        _MAIN.strip("\n"),
    ]
    return "\n\n\n".join(parts) + "\n"


def write_repro(check: str, dataset: str, seed: int, tier: str, options: DataOptions, out: Path | str, *,
                variants: Sequence[str] | str | None = None, command: str = "") -> tuple[Path, Path]:
    """Write `repro_<check>_<dataset>_seed<N>.py` and its .npz into `out`; (script, npz).

    Everything is checked (check, dataset, variants, bindings, renderability) before `out` is made or data loaded.
    """
    from .records import writable_dir

    seed = check_seed(seed)
    config = get_config(tier)
    snippet_for(check)
    found, specs = resolve(check, dataset, variants)
    for s in specs.values():
        _build_function(s)  # a user's builder fails before anything is written
    _judge_code(check, list(found[0].roles))
    out = writable_dir(out, ".")
    caps = [plan(s, config)["max_train_samples"] for s in specs.values()]
    n = None if None in caps else max(caps)
    ds = load_dataset(dataset, options)
    arrays = {"x_train": ds.x_train[:n], "y_train": ds.y_train[:n], "x_val": ds.x_val, "y_val": ds.y_val}
    stem = file_stem(check, dataset, seed)
    text = render(check, dataset, seed, tier, DataInfo.of(stem + ".npz", ds, arrays), variants=variants,
                  command=command)
    npz, script = out / (stem + ".npz"), out / (stem + ".py")
    np.savez_compressed(npz, **arrays)
    script.write_text(text, encoding="utf-8")
    return script, npz
