"""Property checks of training dynamics, as plain functions over run records (no pytest needed), and their registry.

Each check takes the records of one seed, keyed by role (e.g. ``run`` and ``baseline``), and
returns a `CheckResult` with the measured numbers, the threshold and a message naming variant,
dataset and seed. `@check(binds=...)` registers it: the binder decides from the specs (tags,
fields, `baseline`), never from names or architectures, which variants play its roles, so
third-party variants get the same checks, and a third party can register a check of its own.
Thresholds are data in `THRESHOLDS`; each was kept only at a value that passed on every one of 20
seeds (docs/properties.md).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import ConfigError, invalid
from .records import RunRecord
from .variants import VariantSpec, register_tag

TAIL = 3  # "final" values are the mean of the last TAIL epochs: one epoch can sit in a trough
# Gaps are the median over the last half of training (at least GAP_WINDOW epochs): a late dip of a few
# epochs (an Adam collapse-and-recovery at the full tier) cannot flip them.
GAP_WINDOW = 10

# Fixed parts of the properties (definitions, not calibrated effect sizes).
THRESHOLDS: Mapping[str, float] = MappingProxyType({
    "diverge_min_epoch_fraction": 0.34,  # the validation minimum lies in the first third of training
    "random_labels_val_accuracy_margin": 0.08,  # |val accuracy - guessing's| <= this
    "restored_loss_rtol": 1e-4,
    "sane_lr_early_drop_share": 0.5,  # the first fifth of epochs gives >= half the total drop
    "regression_rtol": 1e-4,
})

CALIBRATION_FILE = Path(__file__).with_name("effect_thresholds.json")


@dataclass(frozen=True)
class Effect:
    """What a comparative check measures: its name, its passing side, and its value when the mechanism does nothing.

    `scale` says how effect sizes compare: "log" for ratios (a fifth of the effect is a fifth of |log ratio|),
    "linear" for differences.
    """

    name: str
    direction: str  # ">": the effect must exceed its threshold; "<": stay below it
    null: float
    scale: str = "log"
    default: float | None = None  # the threshold of an uncalibrated binding; None: the sign (`null`)

    def strength(self, value: float) -> float:
        """How far `value` lies from no effect, towards the passing side (negative on the wrong side)."""
        if self.scale == "log":
            if not value > 0:
                return -math.inf if self.direction == ">" else math.inf
            d = math.log(value / self.null)
        else:
            d = value - self.null
        return d if self.direction == ">" else -d

    def value(self, strength: float) -> float:
        """The effect value at `strength` (the inverse of `strength`)."""
        d = strength if self.direction == ">" else -strength
        return self.null * math.exp(d) if self.scale == "log" else self.null + d

    def passes(self, value: float, threshold: float) -> bool:
        return bool(value > threshold) if self.direction == ">" else bool(value < threshold)


@functools.lru_cache(maxsize=1)
def calibration() -> Mapping[str, Mapping]:
    """The calibrated effect thresholds (`effect_thresholds.json`, written by tools/calibrate.py)."""
    try:
        return json.loads(CALIBRATION_FILE.read_text())["entries"]
    except FileNotFoundError:
        return {}


def _specs(runs) -> tuple:
    return tuple(r.spec for r in runs)


def effect_threshold(check: str, label: str, kind: str, tier: str = "fast", *, across: bool = False,
                     specs: Sequence[VariantSpec] | None = None) -> tuple[float, str]:
    """(threshold, where it came from) for `check` on the variants `label` with `kind` data at `tier`: per seed,
    or with `across` the one the median over seeds must clear (`effects.py`).

    Thresholds are calibrated for the built-in variants' bindings as registered (tools/calibrate.py); any other
    binding (a user's variants, or `specs` that differ from the registered ones, e.g. fewer epochs) or tier is
    judged on the sign of its effect (or the property's definition) until calibrated.
    """
    from .variants import VARIANTS

    registered = specs is None or all(VARIANTS.get(s.name) == s for s in specs)
    entry = calibration().get(f"{check}|{label}|{kind}|{tier}") if registered else None
    field = "median_threshold" if across else "threshold"
    if entry is None:
        effect = CHECKS[check].effect
        if effect.default is not None:
            return effect.default, "the definition's (not calibrated)"
        return effect.null, "sign only (not calibrated)"
    if field in entry:
        return float(entry[field]), "calibrated"
    return CHECKS[check].effect.null, "sign only: the calibration seeds did not all show the effect"


def measured_failures(check: str, label: str, kind: str, tier: str = "fast") -> Mapping[int, str]:
    """Seeds on which the calibration measured this binding failing per seed, with the evidence."""
    entry = calibration().get(f"{check}|{label}|{kind}|{tier}", {})
    return {int(seed): why for seed, why in entry.get("failures", {}).items()}


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check on one seed. `measured` and `threshold` hold the numbers compared."""

    check: str
    passed: bool
    measured: Mapping[str, float]
    threshold: str
    message: str
    runs: tuple[str, ...] = ()
    skipped: bool = False  # a run diverged: the property cannot be judged
    margin: float = math.nan  # relative slack to the threshold: > 0 passes with room, < 0 fails
    effect: float = math.nan  # the check's effect size (`Check.effect`), nan for exact checks
    effect_threshold: float = math.nan
    variants: tuple[str, ...] = ()  # in role order
    data_kind: str = ""
    seed: int = -1
    tier: str = "fast"
    calibrated: bool = False  # its effect threshold comes from the calibration (effect_thresholds.json)

    @property
    def label(self) -> str:
        """The variants, as `Binding.label`."""
        return "-".join(self.variants)

    def __str__(self) -> str:
        state = "SKIP" if self.skipped else ("PASS" if self.passed else "FAIL")
        return f"{state} {self.check}: {self.message}"


def tail(curve: Sequence[float], k: int = TAIL) -> float:
    return float(np.mean(curve[-k:]))


def _key(r: RunRecord) -> str:
    return r.spec.unregularised_metric


def train_curve(r: RunRecord) -> tuple[float, ...]:
    """The un-regularised training loss at each epoch's end in inference mode, on a fixed training slice
    (`training.TRAIN_EVAL`); records without that probe (distributed fits) fall back to Keras' running mean."""
    return r.history.get(f"train_eval_{_key(r)}") or r.curve(_key(r))


def late_median(curve: Sequence[float]) -> float:
    """Median over the last half of `curve` (at least GAP_WINDOW values): a late collapse-and-recovery of a few
    epochs cannot move it."""
    n = len(curve)
    window = min(n, max(GAP_WINDOW, n // 2))
    return float(np.median(curve[n - window:]))


def gap(r: RunRecord, epochs: int | None = None) -> float:
    """Median (validation - training) gap of the un-regularised loss over the last half of the first `epochs`
    epochs (all by default; at least GAP_WINDOW epochs)."""
    val, train = r.curve(f"val_{_key(r)}")[:epochs], train_curve(r)[:epochs]
    n = min(len(val), len(train))
    return late_median(np.subtract(val[:n], train[:n]))


def rise(r: RunRecord, epochs: int | None = None) -> float:
    """Final validation loss minus its minimum (over the first `epochs` epochs)."""
    val = r.curve(f"val_{_key(r)}")[:epochs]
    return tail(val) - min(val)


def hidden_kernels(r: RunRecord):
    """Kernel stats of the hidden layers (the output layer is never penalised)."""
    return r.kernels[:-1]


def _name(r: RunRecord) -> str:
    return f"{r.variant} on {r.dataset} ({r.data_kind}), seed {r.seed}"


def slack(low: float, high: float) -> float:
    """Relative room in `low < high` (negative when it does not hold)."""
    return (high - low) / max(abs(high), abs(low), 1e-12)


def ratio(a: float, b: float) -> float:
    """a / b for a positive b; nan otherwise (the ratio says nothing then)."""
    return a / b if b > 0 else math.nan


def _result(check: str, passed: bool, measured: Mapping[str, float], threshold: str, runs: Iterable[RunRecord],
            detail: str, margin: float, effect: float = math.nan, effect_threshold: float = math.nan) -> CheckResult:
    runs = tuple(runs)
    who = "; ".join(_name(r) for r in runs)
    nums = ", ".join(f"{k}={v:.4g}" for k, v in measured.items())
    verdict = "holds" if passed else "does not hold"
    return CheckResult(check, bool(passed), MappingProxyType(dict(measured)), threshold,
                       f"{detail} {verdict} for {who}: {nums} (threshold: {threshold}; margin {margin:.3g})",
                       tuple(r.run_id for r in runs), margin=float(margin), effect=float(effect),
                       effect_threshold=float(effect_threshold), variants=tuple(dict.fromkeys(r.variant for r in runs)),
                       data_kind=runs[0].data_kind if runs else "", seed=runs[0].seed if runs else -1,
                       tier=runs[0].config.tier if runs else "fast")


def judged(check: str, value: float, runs: Sequence[RunRecord], detail: str, measured: Mapping[str, float],
           conditions: Sequence[tuple[bool, float, str]] = ()) -> CheckResult:
    """A comparative check's result: its effect `value` against the calibrated threshold, and side `conditions`
    (holds, margin, description) that must hold too. The margin is the effect's room to its threshold as a share
    of the threshold's strength (0.5: the effect is 1.5x as strong as required), or a condition's if smaller."""
    effect = CHECKS[check].effect
    label = "-".join(dict.fromkeys(r.variant for r in runs))
    thr, source = effect_threshold(check, label, runs[0].data_kind, runs[0].config.tier, specs=_specs(runs))
    s_thr = effect.strength(thr)
    s_val = effect.strength(value) if not math.isnan(value) else -math.inf
    margin = (s_val - s_thr) / s_thr if s_thr > 0 else slack(s_thr, s_val)
    ok = not math.isnan(value) and effect.passes(value, thr)
    for holds, m, _ in conditions:
        ok = ok and holds
        margin = min(margin, m)
    text = f"{effect.name} {effect.direction} {thr:.4g} ({source})"
    text = "; ".join([text, *(c for _, _, c in conditions)])
    result = _result(check, ok, {**measured, effect.name: value}, text, runs, detail, margin, value, thr)
    return dataclasses.replace(result, calibrated=source.startswith(("calibrated", "sign only: the calibration")))


# --- registry and binding ---------------------------------------------------------------------

Binder = Callable[[Mapping[str, VariantSpec]], list[dict[str, str]]]


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[..., CheckResult]
    bind: Binder = field(repr=False)
    effect: Effect | None = None  # None: an exact check (equality within a tolerance), not an effect size

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().split("\n")[0] or self.fn.__name__


_CHECKS: dict[str, Check] = {}
CHECKS: Mapping[str, Check] = MappingProxyType(_CHECKS)  # name -> Check, in registration order


def check(name: str | None = None, *, binds: Binder, tags: Mapping[str, str] | None = None,
          effect: Effect | None = None) -> Callable:
    """Register a check function `fn(**records by role) -> CheckResult`; returns `fn` unchanged.

    `binds(specs)` lists the role -> variant name dicts it applies to (see `each`, `vs_baseline`,
    `pair`); `tags` declares the variant tags it reads, with what each binds (they join `variants.TAGS`);
    `effect` names the effect size a comparative check judges with `judged`.
    """
    def register(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        key = name or fn.__name__.removeprefix("check_")
        old = _CHECKS.get(key)
        if old is not None and (old.fn.__module__, old.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ConfigError(f"Check name {key!r} is registered already, by {old.fn.__module__}.{old.fn.__qualname__}."
                              " Choose another name.")
        for tag, meaning in (tags or {}).items():
            register_tag(tag, meaning)
        _CHECKS[key] = Check(key, fn, binds, effect)
        return fn

    return register


def each(pred: Callable[[VariantSpec], bool]) -> Binder:
    """One binding per variant matching `pred`, in the role ``run``."""
    return lambda specs: [{"run": s.name} for s in specs.values() if pred(s)]


def vs_baseline(pred: Callable[[VariantSpec], bool]) -> Binder:
    """``run`` matching `pred` against its ``baseline`` (when the baseline is among the specs)."""
    return lambda specs: [{"run": s.name, "baseline": s.baseline} for s in specs.values()
                          if pred(s) and s.baseline in specs]


def _find(specs, pred) -> str | None:
    return next((s.name for s in specs.values() if pred(s)), None)


def pair(**preds: Callable[[VariantSpec], bool]) -> Binder:
    """One binding per dataset where every role finds a variant (the first that matches its predicate)."""
    def bind(specs):
        out = []
        for ds in dict.fromkeys(s.dataset for s in specs.values()):
            names = {role: _find(specs, lambda s, p=p: s.dataset == ds and p(s)) for role, p in preds.items()}
            if all(names.values()):
                out.append(names)
        return out
    return bind


def _plain(s: VariantSpec) -> bool:
    return not (s.shuffle_labels or s.early_stopping_patience is not None)


def _healthy(s: VariantSpec) -> bool:
    """Trained on true labels at a sane learning rate: it should learn, and generalise."""
    return not s.shuffle_labels and "lr_too_high" not in s.tags


# A user's builder cannot set model fields (dropout, regularizer, batchnorm): a tag of the same name stands in.
def _penalty(kind: str) -> Callable[[VariantSpec], bool]:
    return lambda s: s.regularizer == kind or kind in s.tags


def _any_penalty(s: VariantSpec) -> bool:
    return _penalty("l1")(s) or _penalty("l2")(s)


def _batchnorm(s: VariantSpec) -> bool:
    return s.batchnorm or "batchnorm" in s.tags


def _scaled_init(s: VariantSpec) -> bool:
    return s.init_scale != 1.0 or "init_scale" in s.tags


def _batchnorm_and_init_scale(specs: Mapping[str, VariantSpec]) -> list[dict[str, str]]:
    """A scaled-init BN model and its scaled plain baseline, with a BN model at the usual init and its baseline."""
    out = []
    for s in specs.values():
        if not (_batchnorm(s) and _scaled_init(s) and s.baseline in specs):
            continue
        bn = _find(specs, lambda b: b.dataset == s.dataset and _batchnorm(b) and not _scaled_init(b)
                   and b.baseline in specs)
        if bn:
            out.append({"bn": bn, "bn_scaled": s.name, "plain": specs[bn].baseline, "plain_scaled": s.baseline})
    return out


def _optimizer_pair(specs: Mapping[str, VariantSpec]) -> list[dict[str, str]]:
    """An RMSprop model against its Adam baseline (neither with dropout)."""
    return [{"rmsprop": s.name, "adam": s.baseline} for s in specs.values()
            if s.optimizer == "rmsprop" and not s.dropout and s.baseline in specs
            and specs[s.baseline].optimizer == "adam" and not specs[s.baseline].dropout]


def _constant(r: RunRecord, key: str) -> float:
    """The constant predictor's `key` (`training.constant_predictor`), nan for records made before it existed."""
    return float(r.evaluation.get(key, math.nan))


# --- the checks -------------------------------------------------------------------------------

@check(binds=each(lambda s: "overparameterised" in s.tags and _plain(s)),
       tags={"overparameterised": "val_loss_diverges; with a baseline: bigger_overfits_more"},
       effect=Effect("rise_ratio", ">", 1.0))
def check_val_loss_diverges(run: RunRecord) -> CheckResult:
    """Validation loss rises after an early minimum while training loss keeps falling."""
    val, train = run.curve(f"val_{_key(run)}"), run.curve(_key(run))
    best = int(np.argmin(val))
    frac = THRESHOLDS["diverge_min_epoch_fraction"]
    m = {"min_val_loss": min(val), "min_epoch": best + 1, "epochs": len(val), "final_val_loss": tail(val),
         "train_loss_at_min": train[best], "final_train_loss": tail(train)}
    return judged("val_loss_diverges", ratio(m["final_val_loss"], m["min_val_loss"]), [run],
                  "validation loss rises after an early minimum", m, [
                      (best + 1 <= frac * len(val), slack(best + 1, frac * len(val) + 1e-9),
                       f"min_epoch <= {frac} x epochs"),
                      (m["final_train_loss"] < m["train_loss_at_min"], slack(m["final_train_loss"],
                                                                            m["train_loss_at_min"]),
                       "final_train_loss < train_loss_at_min")])


@check(binds=vs_baseline(lambda s: "overparameterised" in s.tags and _plain(s)),
       effect=Effect("gap_ratio", ">", 1.0))
def check_bigger_overfits_more(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """Over the same epochs, the bigger model's train/validation gap is wider and its validation loss rises more."""
    epochs = min(len(run.curve("val_loss")), len(baseline.curve("val_loss")))  # equal training lengths
    m = {"epochs_compared": epochs, "gap": gap(run, epochs), "baseline_gap": gap(baseline, epochs),
         "rise": rise(run, epochs), "baseline_rise": rise(baseline, epochs)}
    return judged("bigger_overfits_more", ratio(m["gap"], m["baseline_gap"]), [run, baseline],
                  "the bigger model overfits more", m,
                  [(m["rise"] > m["baseline_rise"], slack(m["baseline_rise"], m["rise"]), "rise > baseline_rise")])


def _narrows_gap(name: str, detail: str, run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {"gap": gap(run), "baseline_gap": gap(baseline)}
    return judged(name, ratio(m["gap"], m["baseline_gap"]), [run, baseline], detail, m,
                  [(m["baseline_gap"] > 0, slack(0.0, m["baseline_gap"]), "baseline_gap > 0")])


@check(binds=vs_baseline(lambda s: s.dropout > 0 or "dropout" in s.tags),
       tags={"dropout": "with a baseline: dropout_narrows_gap"}, effect=Effect("gap_ratio", "<", 1.0))
def check_dropout_narrows_gap(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """Dropout narrows the train/validation gap (training loss in inference mode)."""
    return _narrows_gap("dropout_narrows_gap", "dropout narrows the train/validation gap", run, baseline)


def _norm_check(name: str, norm: str, run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {norm: sum(getattr(k, norm) for k in hidden_kernels(run)),
         f"baseline_{norm}": sum(getattr(k, norm) for k in hidden_kernels(baseline))}
    return judged(name, ratio(m[norm], m[f"baseline_{norm}"]), [run, baseline],
                  f"the {norm.upper()} penalty shrinks the hidden kernels' {norm.upper()} norm", m)


@check(binds=vs_baseline(_penalty("l1")),
       tags={"l1": "with a baseline: l1_shrinks_weights, regularisation_narrows_gap, penalty_raises_train_loss; "
                   "with an l2 variant: l1_sparser_than_l2"}, effect=Effect("norm_ratio", "<", 1.0))
def check_l1_shrinks_weights(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """The L1 penalty shrinks the hidden kernels' L1 norm."""
    return _norm_check("l1_shrinks_weights", "l1", run, baseline)


@check(binds=vs_baseline(_penalty("l2")),
       tags={"l2": "with a baseline: l2_shrinks_weights, regularisation_narrows_gap, penalty_raises_train_loss"},
       effect=Effect("norm_ratio", "<", 1.0))
def check_l2_shrinks_weights(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """The L2 penalty shrinks the hidden kernels' L2 norm."""
    return _norm_check("l2_shrinks_weights", "l2", run, baseline)


@check(binds=vs_baseline(_any_penalty), effect=Effect("gap_ratio", "<", 1.0))
def check_regularisation_narrows_gap(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """A weight penalty narrows the train/validation gap of the un-regularised loss."""
    return _narrows_gap("regularisation_narrows_gap", "the weight penalty narrows the train/validation gap",
                        run, baseline)


@check(binds=pair(l1=_penalty("l1"), l2=_penalty("l2")), effect=Effect("near_zero_share_difference", ">", 0.0,
                                                                        "linear"))
def check_l1_sparser_than_l2(l1: RunRecord, l2: RunRecord) -> CheckResult:
    """L1 leaves a larger share of near-zero hidden weights (|w| < 1e-3) than L2."""
    def frac(r):
        ks = hidden_kernels(r)
        return sum(k.near_zero_fraction * k.size for k in ks) / sum(k.size for k in ks)

    m = {"l1_near_zero": frac(l1), "l2_near_zero": frac(l2)}
    return judged("l1_sparser_than_l2", m["l1_near_zero"] - m["l2_near_zero"], [l1, l2],
                  "L1 gives sparser weights than L2", m)


@check(binds=vs_baseline(lambda s: _batchnorm(s) and not _scaled_init(s)),
       tags={"batchnorm": "with a baseline: batchnorm_speeds_convergence (not together with init_scale)"},
       effect=Effect("train_loss_ratio", "<", 1.0))
def check_batchnorm_speeds_convergence(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """BatchNormalization reaches a lower training loss in the same epochs."""
    m = {"train_loss": tail(run.curve(_key(run))), "baseline_train_loss": tail(baseline.curve(_key(baseline)))}
    return judged("batchnorm_speeds_convergence", ratio(m["train_loss"], m["baseline_train_loss"]), [run, baseline],
                  "BatchNormalization reaches a lower training loss", m)


@check(binds=_batchnorm_and_init_scale,
       tags={"init_scale": "a scaled-up initialisation; keeps batchnorm_speeds_convergence off; with batchnorm and a "
                           "baseline: batchnorm_tames_init_scale"}, effect=Effect("shift_ratio", "<", 1.0))
def check_batchnorm_tames_init_scale(bn: RunRecord, bn_scaled: RunRecord, plain: RunRecord,
                                     plain_scaled: RunRecord) -> CheckResult:
    """A x10 initial weight scale moves the final validation loss less with BatchNormalization than without."""
    def shift(a, b):
        return abs(tail(b.curve(f"val_{_key(b)}")) - tail(a.curve(f"val_{_key(a)}")))

    m = {"bn_shift": shift(bn, bn_scaled), "plain_shift": shift(plain, plain_scaled)}
    return judged("batchnorm_tames_init_scale", ratio(m["bn_shift"], m["plain_shift"]),
                  [bn, bn_scaled, plain, plain_scaled],
                  "BatchNormalization makes training less sensitive to the initial weight scale", m)


@check(binds=_optimizer_pair, effect=Effect("min_accuracy_over_chance", ">", 0.0, "linear"))
def check_optimizers_both_learn(rmsprop: RunRecord, adam: RunRecord) -> CheckResult:
    """RMSprop vs Adam: measured over 20 seeds, neither wins consistently; both must beat chance by a margin."""
    chance = _constant(adam, "chance_val_accuracy")
    m = {"rmsprop_val_accuracy": tail(rmsprop.curve("val_accuracy")), "adam_val_accuracy": tail(adam.curve("val_accuracy")),
         "chance_val_accuracy": chance}
    return judged("optimizers_both_learn", min(m["rmsprop_val_accuracy"], m["adam_val_accuracy"]) - chance,
                  [rmsprop, adam], "RMSprop and Adam both train model_fn well past chance", m)


def _live(r: RunRecord) -> tuple[bool, float, str]:
    """A side condition: `r` beats the constant predictor on validation as `beats_constant_predictor` requires."""
    value = ratio(tail(r.curve("val_loss")), _constant(r, "constant_val_loss"))
    thr, _ = effect_threshold("beats_constant_predictor", r.variant, r.data_kind, r.config.tier, specs=_specs([r]))
    return (bool(value < thr), slack(value, thr), f"{r.variant} live: val_loss < {thr:.3g} x the constant predictor's")


@check(binds=vs_baseline(lambda s: "lr_too_high" in s.tags),
       tags={"lr_too_high": "with a baseline: lr_too_high_is_jittery; keeps learns and the generalisation checks off"},
       effect=Effect("extra_rises", ">", 0.0, "linear"))
def check_lr_too_high_is_jittery(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """A far too high learning rate gives more epoch-to-epoch rises of validation loss than a sane, live one."""
    def rises(r):
        return int(np.sum(np.diff(r.curve("val_loss")) > 0))

    sane = np.asarray(baseline.curve("val_loss"))
    fifth = max(1, len(sane) // 5)
    total_drop = sane[0] - sane.min()
    share = THRESHOLDS["sane_lr_early_drop_share"]
    m = {"rises": rises(run), "baseline_rises": rises(baseline),
         "sane_early_drop_share": float((sane[0] - sane[fifth]) / total_drop) if total_drop > 0 else 0.0}
    return judged("lr_too_high_is_jittery", m["rises"] - m["baseline_rises"], [run, baseline],
                  "a far too high learning rate gives a jittery validation curve", m, [
                      (m["sane_early_drop_share"] >= share, slack(share, m["sane_early_drop_share"] + 1e-9),
                       f"sane curve drops >= {share} of its total in the first fifth of epochs"),
                      _live(baseline)])


@check(binds=each(lambda s: s.shuffle_labels), effect=Effect("final_train_accuracy", ">", 0.5, "linear", default=0.95))
def check_memorises_random_labels(run: RunRecord) -> CheckResult:
    """The over-parameterised model memorises shuffled labels (training accuracy, inference mode, final epochs)
    while staying at chance on validation."""
    acc = run.history.get("train_eval_accuracy") or run.curve("accuracy")
    # Guessing: a coin for two classes (the majority class's share would hold a model that learnt nothing to the
    # validation set's class balance, 0.526 on the real subset).
    chance = 0.5 if run.spec.task == "binary" else _constant(run, "chance_val_accuracy")
    band = THRESHOLDS["random_labels_val_accuracy_margin"]
    m = {"train_accuracy": tail(acc), "val_accuracy": tail(run.curve("val_accuracy")), "guess_val_accuracy": chance}
    off = abs(m["val_accuracy"] - chance)
    return judged("memorises_random_labels", m["train_accuracy"], [run],
                  "the over-parameterised model memorises shuffled labels", m,
                  [(off <= band, (band - off) / band, f"|val_accuracy - guess_val_accuracy| <= {band}")])


@check(binds=each(lambda s: s.early_stopping_patience is not None))
def check_early_stopping_matches_min(run: RunRecord) -> CheckResult:
    """EarlyStopping stops `patience` epochs after the minimum and restores the best weights."""
    val = run.curve("val_loss")
    best = int(np.argmin(val))
    patience = run.spec.early_stopping_patience
    max_epochs = run.plan["epochs"]
    restored = run.evaluation.get("restored_val_loss", math.nan)
    m = {"min_epoch": best + 1, "stopped_epoch": len(val), "patience": patience, "min_val_loss": val[best],
         "restored_val_loss": restored}
    stopped_right = len(val) == best + 1 + patience or (len(val) == max_epochs and len(val) - best - 1 < patience)
    ok = stopped_right and math.isclose(restored, val[best], rel_tol=THRESHOLDS["restored_loss_rtol"])
    return _result("early_stopping_matches_min", ok, m,
                   f"stopped_epoch == min_epoch + patience, restored_val_loss == min_val_loss "
                   f"(rtol {THRESHOLDS['restored_loss_rtol']})", [run],
                   "EarlyStopping stops `patience` epochs after the minimum and restores it",
                   (1 - abs(slack(val[best], restored)) / THRESHOLDS["restored_loss_rtol"]) if stopped_right else -1.0)


def regression_reference(predictions: Sequence[float], targets: Sequence[float]) -> dict[str, float]:
    """numpy RMSE, MAE and MAPE (in percent, as Keras reports it)."""
    p, y = np.asarray(predictions, np.float64), np.asarray(targets, np.float64)
    err = p - y
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))),
            "mape": float(100 * np.mean(np.abs(err) / np.maximum(np.abs(y), 1e-7)))}


@check(binds=each(lambda s: s.task == "regression"))
def check_regression_metrics(run: RunRecord) -> CheckResult:
    """RMSE, MAE and MAPE agree with numpy."""
    ref = regression_reference(run.predictions, run.targets)
    m = {**{k: run.evaluation[k] for k in ref}, **{f"numpy_{k}": v for k, v in ref.items()}}
    rtol = THRESHOLDS["regression_rtol"]
    ok = bool(ref) and all(math.isclose(run.evaluation[k], v, rel_tol=rtol) for k, v in ref.items())
    worst = max((abs(slack(v, run.evaluation[k])) for k, v in ref.items()), default=math.inf)
    return _result("regression_metrics", ok, m, f"suite == numpy within rtol {rtol}", [run],
                   "RMSE, MAE and MAPE agree with numpy", 1 - worst / rtol)


@check(binds=each(_healthy), effect=Effect("train_loss_ratio", "<", 1.0))
def check_learns(run: RunRecord) -> CheckResult:
    """The final training loss is well below the constant predictor's (the training mean, or the class frequencies)."""
    m = {"final_train_loss": tail(run.curve(_key(run))), "constant_train_loss": _constant(run, "constant_train_loss")}
    return judged("learns", ratio(m["final_train_loss"], m["constant_train_loss"]), [run],
                  "training beats the constant predictor's training loss", m)


@check(binds=vs_baseline(_any_penalty), effect=Effect("train_loss_ratio", ">", 1.0))
def check_penalty_raises_train_loss(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """A weight penalty raises the un-regularised training loss above its baseline's: the price of the narrower gap
    (median over the last half of training, as the gap: at the full tier the baseline collapses late on some seeds)."""
    m = {"train_loss": late_median(run.curve(_key(run))), "baseline_train_loss": late_median(baseline.curve(_key(baseline)))}
    return judged("penalty_raises_train_loss", ratio(m["train_loss"], m["baseline_train_loss"]), [run, baseline],
                  "the weight penalty costs training loss", m)


@check(binds=each(lambda s: _healthy(s) and s.task != "regression"),
       effect=Effect("val_accuracy_over_chance", ">", 0.0, "linear"))
def check_beats_chance(run: RunRecord) -> CheckResult:
    """A healthy classifier's final validation accuracy beats the majority class's by a margin."""
    m = {"val_accuracy": tail(run.curve("val_accuracy")), "chance_val_accuracy": _constant(run, "chance_val_accuracy")}
    return judged("beats_chance", m["val_accuracy"] - m["chance_val_accuracy"], [run],
                  "the model generalises beyond chance", m)


@check(binds=each(lambda s: _healthy(s) and s.task == "regression"), effect=Effect("val_loss_ratio", "<", 1.0))
def check_beats_constant_predictor(run: RunRecord) -> CheckResult:
    """A healthy regression model's final validation loss is well below the training mean's."""
    m = {"val_loss": tail(run.curve("val_loss")), "constant_val_loss": _constant(run, "constant_val_loss")}
    return judged("beats_constant_predictor", ratio(m["val_loss"], m["constant_val_loss"]), [run],
                  "the model beats the constant (training-mean) predictor on validation", m)


def get_check(name: str) -> Check:
    try:
        return CHECKS[name]
    except KeyError:
        raise ConfigError(invalid("check", name, f"one of {', '.join(CHECKS)}")) from None


@dataclass(frozen=True)
class Binding:
    """One application of a check: role -> variant name."""

    check: Check
    roles: Mapping[str, str]

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.roles.values())

    @property
    def label(self) -> str:
        return "-".join(dict.fromkeys(self.roles.values()))


def bindings(specs: Mapping[str, VariantSpec], checks: Iterable[str] | None = None) -> list[Binding]:
    """Every (check, variants) pair that applies to `specs`."""
    chosen = [get_check(n) for n in checks] if checks is not None else list(CHECKS.values())
    return [Binding(c, MappingProxyType(roles)) for c in chosen for roles in c.bind(specs)]


def evaluate(binding: Binding, records: Mapping[str, RunRecord]) -> CheckResult:
    """Run one bound check on the records (keyed by variant name) of one seed."""
    runs = {role: records[name] for role, name in binding.roles.items()}
    diverged = [r for r in runs.values() if r.status != "ok"]
    if diverged:
        who = ", ".join(f"{r.run_id} ({r.status})" for r in diverged)
        return CheckResult(binding.check.name, False, MappingProxyType({}), "-",
                           f"cannot judge {binding.check.name}: training diverged in {who}",
                           tuple(r.run_id for r in runs.values()), skipped=True)
    return binding.check.fn(**runs)


def summarise(results: Sequence[CheckResult]) -> list[tuple[str, int, int, int]]:
    """(check, passed, failed, skipped) per check, in registry order."""
    out = []
    for name in dict.fromkeys([*CHECKS, *(r.check for r in results)]):
        rs = [r for r in results if r.check == name]
        if rs:
            out.append((name, sum(r.passed for r in rs), sum(not r.passed and not r.skipped for r in rs),
                        sum(r.skipped for r in rs)))
    return out


def worst_margin(results: Sequence[CheckResult], check: str) -> float:
    """The smallest margin of `check` over the judged results (nan if none)."""
    margins = [r.margin for r in results if r.check == check and not r.skipped and not math.isnan(r.margin)]
    return min(margins) if margins else math.nan
