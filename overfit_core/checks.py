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

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import ConfigError, invalid
from .records import RunRecord
from .variants import VariantSpec, register_tag

TAIL = 3  # "final" values are the mean of the last TAIL epochs: one epoch can sit in a trough
# Gaps are averaged over more epochs: with 3, L2 on the real IMDB subset narrowed the gap on 19 of 20 seeds
# at 40 epochs (its effect is a delay of overfitting, small early on); with 10, on all 20.
GAP_WINDOW = 10

THRESHOLDS: Mapping[str, float] = MappingProxyType({
    "diverge_min_epoch_fraction": 0.34,  # the validation minimum lies in the first third of training
    "diverge_rise_ratio": 1.5,  # final validation loss >= 1.5 x its minimum
    "random_labels_train_accuracy": 0.95,
    "random_labels_val_accuracy_margin": 0.08,  # |val accuracy - 0.5| <= this
    "restored_loss_rtol": 1e-4,
    "lr_rises_ratio": 1.0,  # too-high lr: more epoch-to-epoch rises than the sane lr (strictly)
    "sane_lr_early_drop_share": 0.5,  # the first fifth of epochs gives >= half the total drop
    "learns_drop_ratio": 0.9,  # final training loss <= 0.9 x first-epoch training loss
    # Penalised training loss > ratio x the baseline's, by penalty: 1 + half the smallest excess over 1 seen on
    # calibration seeds 0-19 (real and synthetic IMDB, fast tier), rounded down to 0.05 (docs/properties.md).
    "penalty_train_loss_ratio_l1": 1.4,  # smallest seen: 1.87
    "penalty_train_loss_ratio_l2": 1.0,  # smallest seen: 1.01 (real, seed 0); next 1.11
    "regression_rtol": 1e-4,
})


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

    def __str__(self) -> str:
        state = "SKIP" if self.skipped else ("PASS" if self.passed else "FAIL")
        return f"{state} {self.check}: {self.message}"


def tail(curve: Sequence[float], k: int = TAIL) -> float:
    return float(np.mean(curve[-k:]))


def _key(r: RunRecord) -> str:
    return r.spec.unregularised_metric


def gap(r: RunRecord) -> float:
    """Final (validation - training) gap of the un-regularised loss, averaged over the last GAP_WINDOW epochs."""
    return tail(r.curve(f"val_{_key(r)}"), GAP_WINDOW) - tail(r.curve(_key(r)), GAP_WINDOW)


def rise(r: RunRecord) -> float:
    """Final validation loss minus its minimum."""
    val = r.curve(f"val_{_key(r)}")
    return tail(val) - min(val)


def hidden_kernels(r: RunRecord):
    """Kernel stats of the hidden layers (the output layer is never penalised)."""
    return r.kernels[:-1]


def _name(r: RunRecord) -> str:
    return f"{r.variant} on {r.dataset} ({r.data_kind}), seed {r.seed}"


def slack(low: float, high: float) -> float:
    """Relative room in `low < high` (negative when it does not hold)."""
    return (high - low) / max(abs(high), abs(low), 1e-12)


def _result(check: str, passed: bool, measured: Mapping[str, float], threshold: str, runs: Iterable[RunRecord],
            detail: str, margin: float) -> CheckResult:
    runs = tuple(runs)
    who = "; ".join(_name(r) for r in runs)
    nums = ", ".join(f"{k}={v:.4g}" for k, v in measured.items())
    verdict = "holds" if passed else "does not hold"
    return CheckResult(check, bool(passed), MappingProxyType(dict(measured)), threshold,
                       f"{detail} {verdict} for {who}: {nums} (threshold: {threshold}; margin {margin:.3g})",
                       tuple(r.run_id for r in runs), margin=float(margin))


# --- registry and binding ---------------------------------------------------------------------

Binder = Callable[[Mapping[str, VariantSpec]], list[dict[str, str]]]


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[..., CheckResult]
    bind: Binder = field(repr=False)

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().split("\n")[0] or self.fn.__name__


_CHECKS: dict[str, Check] = {}
CHECKS: Mapping[str, Check] = MappingProxyType(_CHECKS)  # name -> Check, in registration order


def check(name: str | None = None, *, binds: Binder, tags: Mapping[str, str] | None = None) -> Callable:
    """Register a check function `fn(**records by role) -> CheckResult`; returns `fn` unchanged.

    `binds(specs)` lists the role -> variant name dicts it applies to (see `each`, `vs_baseline`,
    `pair`); `tags` declares the variant tags it reads, with what each binds (they join `variants.TAGS`).
    """
    def register(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        key = name or fn.__name__.removeprefix("check_")
        old = _CHECKS.get(key)
        if old is not None and (old.fn.__module__, old.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ConfigError(f"Check name {key!r} is registered already, by {old.fn.__module__}.{old.fn.__qualname__}."
                              " Choose another name.")
        for tag, meaning in (tags or {}).items():
            register_tag(tag, meaning)
        _CHECKS[key] = Check(key, fn, binds)
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


# --- the checks -------------------------------------------------------------------------------

@check(binds=each(lambda s: "overparameterised" in s.tags and _plain(s)),
       tags={"overparameterised": "val_loss_diverges; with a baseline: bigger_overfits_more"})
def check_val_loss_diverges(run: RunRecord) -> CheckResult:
    val, train = run.curve(f"val_{_key(run)}"), run.curve(_key(run))
    best = int(np.argmin(val))
    t = THRESHOLDS
    m = {"min_val_loss": min(val), "min_epoch": best + 1, "epochs": len(val), "final_val_loss": tail(val),
         "train_loss_at_min": train[best], "final_train_loss": tail(train)}
    ok = (best + 1 <= t["diverge_min_epoch_fraction"] * len(val)
          and m["final_val_loss"] >= t["diverge_rise_ratio"] * m["min_val_loss"]
          and m["final_train_loss"] < m["train_loss_at_min"])
    thr = (f"min_epoch <= {t['diverge_min_epoch_fraction']} x epochs, final_val_loss >= "
           f"{t['diverge_rise_ratio']} x min_val_loss, final_train_loss < train_loss_at_min")
    margin = min(slack(best + 1, t["diverge_min_epoch_fraction"] * len(val) + 1e-9),
                 slack(t["diverge_rise_ratio"] * m["min_val_loss"], m["final_val_loss"]),
                 slack(m["final_train_loss"], m["train_loss_at_min"]))
    return _result("val_loss_diverges", ok, m, thr, [run], "validation loss rises after an early minimum", margin)


@check(binds=vs_baseline(lambda s: "overparameterised" in s.tags and _plain(s)))
def check_bigger_overfits_more(run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {"rise": rise(run), "baseline_rise": rise(baseline), "gap": gap(run), "baseline_gap": gap(baseline)}
    ok = m["rise"] > m["baseline_rise"] and m["gap"] > m["baseline_gap"]
    return _result("bigger_overfits_more", ok, m, "rise > baseline_rise and gap > baseline_gap", [run, baseline],
                   "the bigger model overfits more",
                   min(slack(m["baseline_rise"], m["rise"]), slack(m["baseline_gap"], m["gap"])))


@check(binds=vs_baseline(lambda s: s.dropout > 0 or "dropout" in s.tags),
       tags={"dropout": "with a baseline: dropout_narrows_gap"})
def check_dropout_narrows_gap(run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {"gap": gap(run), "baseline_gap": gap(baseline)}
    return _result("dropout_narrows_gap", m["gap"] < m["baseline_gap"], m, "gap < baseline_gap", [run, baseline],
                   "dropout narrows the train/validation gap", slack(m["gap"], m["baseline_gap"]))


def _norm_check(name: str, norm: str, run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {norm: sum(getattr(k, norm) for k in hidden_kernels(run)),
         f"baseline_{norm}": sum(getattr(k, norm) for k in hidden_kernels(baseline))}
    return _result(name, m[norm] < m[f"baseline_{norm}"], m, f"{norm} < baseline_{norm} (hidden kernels)",
                   [run, baseline], f"the {norm.upper()} penalty shrinks the weights",
                   slack(m[norm], m[f"baseline_{norm}"]))


@check(binds=vs_baseline(_penalty("l1")),
       tags={"l1": "with a baseline: l1_shrinks_weights, regularisation_narrows_gap, penalty_raises_train_loss; "
                   "with an l2 variant: l1_sparser_than_l2"})
def check_l1_shrinks_weights(run: RunRecord, baseline: RunRecord) -> CheckResult:
    return _norm_check("l1_shrinks_weights", "l1", run, baseline)


@check(binds=vs_baseline(_penalty("l2")),
       tags={"l2": "with a baseline: l2_shrinks_weights, regularisation_narrows_gap, penalty_raises_train_loss"})
def check_l2_shrinks_weights(run: RunRecord, baseline: RunRecord) -> CheckResult:
    return _norm_check("l2_shrinks_weights", "l2", run, baseline)


@check(binds=vs_baseline(_any_penalty))
def check_regularisation_narrows_gap(run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {"gap": gap(run), "baseline_gap": gap(baseline)}
    return _result("regularisation_narrows_gap", m["gap"] < m["baseline_gap"], m,
                   "gap < baseline_gap (un-regularised loss)", [run, baseline],
                   "the weight penalty narrows the train/validation gap", slack(m["gap"], m["baseline_gap"]))


@check(binds=pair(l1=_penalty("l1"), l2=_penalty("l2")))
def check_l1_sparser_than_l2(l1: RunRecord, l2: RunRecord) -> CheckResult:
    def frac(r):
        ks = hidden_kernels(r)
        return sum(k.near_zero_fraction * k.size for k in ks) / sum(k.size for k in ks)

    m = {"l1_near_zero": frac(l1), "l2_near_zero": frac(l2)}
    return _result("l1_sparser_than_l2", m["l1_near_zero"] > m["l2_near_zero"], m,
                   "share of |w| < 1e-3: L1 > L2", [l1, l2], "L1 gives sparser weights than L2",
                   slack(m["l2_near_zero"], m["l1_near_zero"]))


@check(binds=vs_baseline(lambda s: _batchnorm(s) and not _scaled_init(s)),
       tags={"batchnorm": "with a baseline: batchnorm_speeds_convergence (not together with init_scale)"})
def check_batchnorm_speeds_convergence(run: RunRecord, baseline: RunRecord) -> CheckResult:
    m = {"train_loss": tail(run.curve(_key(run))), "baseline_train_loss": tail(baseline.curve(_key(baseline)))}
    return _result("batchnorm_speeds_convergence", m["train_loss"] < m["baseline_train_loss"], m,
                   "train_loss < baseline_train_loss after the same epochs", [run, baseline],
                   "BatchNormalization reaches a lower training loss", slack(m["train_loss"], m["baseline_train_loss"]))


@check(binds=_batchnorm_and_init_scale,
       tags={"init_scale": "a scaled-up initialisation; keeps batchnorm_speeds_convergence off; with batchnorm and a "
                           "baseline: batchnorm_tames_init_scale"})
def check_batchnorm_tames_init_scale(bn: RunRecord, bn_scaled: RunRecord, plain: RunRecord,
                                     plain_scaled: RunRecord) -> CheckResult:
    def shift(a, b):  # how far a x10 initial weight scale moves the final validation loss
        return abs(tail(b.curve(f"val_{_key(b)}")) - tail(a.curve(f"val_{_key(a)}")))

    m = {"bn_shift": shift(bn, bn_scaled), "plain_shift": shift(plain, plain_scaled)}
    return _result("batchnorm_tames_init_scale", m["bn_shift"] < m["plain_shift"], m,
                   "|val loss(init x10) - val loss(init x1)|: BN < no BN", [bn, bn_scaled, plain, plain_scaled],
                   "BatchNormalization makes training less sensitive to the initial weight scale",
                   slack(m["bn_shift"], m["plain_shift"]))


@check(binds=_optimizer_pair)
def check_optimizers_both_learn(rmsprop: RunRecord, adam: RunRecord) -> CheckResult:
    """RMSprop vs Adam: measured over 20 seeds, neither wins consistently; both must learn and beat chance."""
    m = {"rmsprop_val_accuracy": tail(rmsprop.curve("val_accuracy")), "adam_val_accuracy": tail(adam.curve("val_accuracy"))}
    ok = min(m.values()) > 0.5
    return _result("optimizers_both_learn", ok, m, "val accuracy > 0.5 for both (chance is 0.1)", [rmsprop, adam],
                   "RMSprop and Adam both train model_fn well past chance", slack(0.5, min(m.values())))


@check(binds=vs_baseline(lambda s: "lr_too_high" in s.tags),
       tags={"lr_too_high": "with a baseline: lr_too_high_is_jittery; keeps learns off"})
def check_lr_too_high_is_jittery(run: RunRecord, baseline: RunRecord) -> CheckResult:
    def rises(r):
        return int(np.sum(np.diff(r.curve("val_loss")) > 0))

    sane = np.asarray(baseline.curve("val_loss"))
    fifth = max(1, len(sane) // 5)
    total_drop = sane[0] - sane.min()
    t = THRESHOLDS
    m = {"rises": rises(run), "baseline_rises": rises(baseline),
         "sane_early_drop_share": float((sane[0] - sane[fifth]) / total_drop) if total_drop > 0 else 0.0}
    ok = m["rises"] > t["lr_rises_ratio"] * m["baseline_rises"] and m["sane_early_drop_share"] >= t[
        "sane_lr_early_drop_share"]
    thr = (f"rises > {t['lr_rises_ratio']} x baseline_rises, sane curve drops >= "
           f"{t['sane_lr_early_drop_share']} of its total in the first fifth of epochs")
    margin = min(slack(t["lr_rises_ratio"] * m["baseline_rises"] + 0.5, m["rises"]),
                 slack(t["sane_lr_early_drop_share"], m["sane_early_drop_share"] + 1e-9))
    return _result("lr_too_high_is_jittery", ok, m, thr, [run, baseline],
                   "a far too high learning rate gives a jittery validation curve", margin)


@check(binds=each(lambda s: s.shuffle_labels))
def check_memorises_random_labels(run: RunRecord) -> CheckResult:
    t = THRESHOLDS
    m = {"train_accuracy": max(run.curve("accuracy")), "val_accuracy": tail(run.curve("val_accuracy"))}
    ok = (m["train_accuracy"] >= t["random_labels_train_accuracy"]
          and abs(m["val_accuracy"] - 0.5) <= t["random_labels_val_accuracy_margin"])
    return _result("memorises_random_labels", ok, m,
                   f"train_accuracy >= {t['random_labels_train_accuracy']}, |val_accuracy - 0.5| <= "
                   f"{t['random_labels_val_accuracy_margin']}", [run],
                   "the over-parameterised model memorises shuffled labels",
                   min(slack(t["random_labels_train_accuracy"], m["train_accuracy"] + 1e-9),
                       slack(abs(m["val_accuracy"] - 0.5), t["random_labels_val_accuracy_margin"])))


@check(binds=each(lambda s: s.early_stopping_patience is not None))
def check_early_stopping_matches_min(run: RunRecord) -> CheckResult:
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
    ref = regression_reference(run.predictions, run.targets)
    m = {**{k: run.evaluation[k] for k in ref}, **{f"numpy_{k}": v for k, v in ref.items()}}
    rtol = THRESHOLDS["regression_rtol"]
    ok = bool(ref) and all(math.isclose(run.evaluation[k], v, rel_tol=rtol) for k, v in ref.items())
    worst = max((abs(slack(v, run.evaluation[k])) for k, v in ref.items()), default=math.inf)
    return _result("regression_metrics", ok, m, f"suite == numpy within rtol {rtol}", [run],
                   "RMSE, MAE and MAPE agree with numpy", 1 - worst / rtol)


@check(binds=each(lambda s: not s.shuffle_labels and "lr_too_high" not in s.tags))
def check_learns(run: RunRecord) -> CheckResult:
    train = run.curve(_key(run))
    m = {"first_train_loss": train[0], "final_train_loss": tail(train)}
    ratio = THRESHOLDS["learns_drop_ratio"]
    return _result("learns", m["final_train_loss"] <= ratio * m["first_train_loss"], m,
                   f"final_train_loss <= {ratio} x first_train_loss", [run], "training reduces the training loss",
                   slack(m["final_train_loss"], ratio * m["first_train_loss"] + 1e-12))


@check(binds=vs_baseline(_any_penalty))
def check_penalty_raises_train_loss(run: RunRecord, baseline: RunRecord) -> CheckResult:
    """A weight penalty raises the un-regularised training loss above its baseline's: the price of the narrower gap."""
    m = {"train_loss": tail(run.curve(_key(run)), GAP_WINDOW),
         "baseline_train_loss": tail(baseline.curve(_key(baseline)), GAP_WINDOW)}
    m["ratio"] = m["train_loss"] / max(m["baseline_train_loss"], 1e-12)
    ratio = THRESHOLDS[f"penalty_train_loss_ratio_{'l1' if _penalty('l1')(run.spec) else 'l2'}"]
    return _result("penalty_raises_train_loss", m["ratio"] > ratio, m,
                   f"train_loss > {ratio} x baseline_train_loss (un-regularised, last {GAP_WINDOW} epochs)",
                   [run, baseline], "the weight penalty costs training loss", slack(ratio, m["ratio"]))


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
