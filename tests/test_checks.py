"""The checks as plain functions: on hand-made records (no training), and against broken variants."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from overfit_core import VARIANTS, SMOKE, get_variant
from overfit_core.cases import run_records
from overfit_core.checks import (CHECKS, THRESHOLDS, bindings, check_dropout_narrows_gap,
                                 check_early_stopping_matches_min, check_l1_shrinks_weights,
                                 check_penalty_raises_train_loss, check_regression_metrics, check_val_loss_diverges,
                                 evaluate, get_check, summarise)
from overfit_core.errors import ConfigError
from overfit_core.records import KernelStats
from overfit_core.variants import builtin_variants
from tests.test_records import make_record


@pytest.fixture
def registered_checks():
    """Checks registered inside a test are removed after it (the registry is process-wide)."""
    from overfit_core import checks, variants

    before, tags = dict(checks._CHECKS), dict(variants._TAGS)
    yield
    for store, old in ((checks._CHECKS, before), (variants._TAGS, tags)):
        store.clear()
        store.update(old)


def rec(variant="overfit", train=(0.7, 0.5, 0.3, 0.1, 0.05, 0.01), val=(0.69, 0.6, 0.7, 0.9, 1.2, 1.5), seed=0,
        **over):
    key = get_variant(variant).unregularised_metric
    history = {"loss": train, "val_loss": val, key: train, f"val_{key}": val}
    return make_record(spec=get_variant(variant), seed=seed, history=history, **over)


def test_every_check_applies_to_the_registry():
    applied = {b.check.name for b in bindings(VARIANTS)}
    assert applied == set(CHECKS)


def test_registry_bindings():
    """Which built-in variants each check binds (a new check adds its line here)."""
    got = {name: [b.label for b in bindings({s.name: s for s in builtin_variants()}, [name])] for name in CHECKS}
    assert got == {
        "val_loss_diverges": ["overfit"], "bigger_overfits_more": ["overfit-basic"],
        "dropout_narrows_gap": ["dropout-reg_base", "adam_dropout-adam"], "l1_shrinks_weights": ["l1-reg_base"],
        "l2_shrinks_weights": ["l2-reg_base"], "regularisation_narrows_gap": ["l1-reg_base", "l2-reg_base"],
        "l1_sparser_than_l2": ["l1-l2"], "batchnorm_speeds_convergence": ["bn-bn_basic"],
        "batchnorm_tames_init_scale": ["bn-bn_init10-bn_basic-bn_basic_init10"],
        "optimizers_both_learn": ["rmsprop-adam"], "lr_too_high_is_jittery": ["tiny_lr_high-tiny"],
        "memorises_random_labels": ["overfit_random_labels"], "early_stopping_matches_min": ["overfit_early_stop"],
        "regression_metrics": ["tiny", "tiny_lr_high"],
        "learns": ["basic", "overfit", "reg_base", "l1", "l2", "dropout", "overfit_early_stop", "rmsprop", "adam",
                   "adam_dropout", "bn_basic", "bn", "bn_basic_init10", "bn_init10", "tiny"],
        "penalty_raises_train_loss": ["l1-reg_base", "l2-reg_base"],
    }


def test_unknown_check_lists_valid_names():
    with pytest.raises(ConfigError, match="val_loss_diverges"):
        get_check("val_loss_explodes")


def test_val_loss_diverges_passes_on_textbook_curve_and_fails_on_healthy_one():
    assert check_val_loss_diverges(rec()).passed
    healthy = rec(val=(0.69, 0.6, 0.55, 0.5, 0.45, 0.44))
    result = check_val_loss_diverges(healthy)
    assert not result.passed
    assert "overfit on imdb" in result.message and "seed 0" in result.message and "threshold" in result.message
    assert result.measured["min_epoch"] == 6


def test_late_minimum_is_not_divergence():
    late = rec(val=(0.9, 0.8, 0.7, 0.6, 0.5, 1.2))  # minimum at epoch 5 of 6
    assert not check_val_loss_diverges(late).passed


def test_dropout_check_compares_gaps():
    base = rec("reg_base", val=(0.7, 0.8, 0.9, 1.0, 1.1, 1.2))
    narrow = rec("dropout", val=(0.7, 0.6, 0.5, 0.4, 0.3, 0.2))
    assert check_dropout_narrows_gap(narrow, base).passed
    assert not check_dropout_narrows_gap(base, narrow).passed


def test_l1_check_ignores_output_layer():
    def with_norms(variant, hidden_l1, out_l1):
        ks = tuple(KernelStats(f"d{i}", 10, v, v, 0.0) for i, v in enumerate([*hidden_l1, out_l1]))
        return rec(variant, kernels=ks)

    assert check_l1_shrinks_weights(with_norms("l1", [1, 1], 100), with_norms("reg_base", [5, 5], 0)).passed
    assert not check_l1_shrinks_weights(with_norms("l1", [5, 5], 0), with_norms("reg_base", [1, 1], 100)).passed


def test_early_stopping_check_needs_exact_stop_and_restore():
    val = (0.7, 0.6, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8)  # min at epoch 3, patience 5 -> stop at 8
    train = tuple(np.linspace(0.7, 0.1, len(val)))
    good = rec("overfit_early_stop", train=train, val=val, evaluation={"restored_val_loss": 0.5}, epochs_run=8)
    assert check_early_stopping_matches_min(good).passed
    not_restored = rec("overfit_early_stop", train=train, val=val, evaluation={"restored_val_loss": 0.8})
    assert not check_early_stopping_matches_min(not_restored).passed
    too_late = rec("overfit_early_stop", train=train + (0.1,), val=val + (0.9,), evaluation={"restored_val_loss": 0.5})
    assert not check_early_stopping_matches_min(too_late).passed


def test_regression_metrics_detects_a_wrong_rmse():
    pred, target = (1.0, 2.0, 4.0), (1.5, 2.0, 3.0)
    err = np.subtract(pred, target)
    good = {"rmse": float(np.sqrt(np.mean(err**2))), "mae": 0.5, "mape": 100 * np.mean(np.abs(err) / target)}
    r = rec("tiny", predictions=pred, targets=target, evaluation=good)
    assert check_regression_metrics(r).passed
    bad = rec("tiny", predictions=pred, targets=target, evaluation={**good, "rmse": good["mae"]})
    assert not check_regression_metrics(bad).passed


def test_diverged_run_is_not_judged_and_other_checks_go_on():
    diverged = rec(status="diverged", val=(0.7, float("nan")), train=(0.7, float("nan")))
    results, _ = run_records([diverged, rec("basic")])
    by_check = {r.check: r for r in results if "overfit" in r.runs[0]}
    assert by_check["val_loss_diverges"].skipped and "diverged" in by_check["val_loss_diverges"].message
    assert any(r.check == "learns" and r.runs == ("basic-imdb-seed0-fast",) and not r.skipped for r in results)
    assert ("val_loss_diverges", 0, 0, 1) in summarise(results)


def test_evaluate_groups_by_seed():
    results, _ = run_records([rec(seed=0), rec("basic", seed=0), rec(seed=1)])
    pairs = [r for r in results if r.check == "bigger_overfits_more"]
    assert len(pairs) == 1  # seed 1 has no basic run
    assert [r.check for r in results].count("val_loss_diverges") == 2


def test_penalty_raises_train_loss_compares_the_unregularised_training_loss():
    flat = (0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2)
    base = rec("reg_base", train=tuple(v / 4 for v in flat), val=flat)
    ratio = THRESHOLDS["penalty_train_loss_ratio_l2"]
    result = check_penalty_raises_train_loss(rec("l2", train=flat, val=flat), base)
    assert result.passed and result.measured["ratio"] == pytest.approx(4.0) and result.margin > 0
    barely = rec("l2", train=tuple(v / 4 * ratio * 0.99 for v in flat), val=flat)
    assert not check_penalty_raises_train_loss(barely, base).passed
    # Keras' `loss` holds the penalty: a huge one there must not count
    penalised_only = rec("l2", train=tuple(v / 4 for v in flat), val=flat)
    penalised_only = dataclasses.replace(penalised_only, history={**penalised_only.history,
                                                                  "loss": tuple(v * 100 for v in flat)})
    assert not check_penalty_raises_train_loss(penalised_only, base).passed
    l1_small = rec("l1", train=tuple(v / 4 * 1.2 for v in flat), val=flat)  # L1's threshold is its own (1.4)
    assert check_penalty_raises_train_loss(l1_small, base).measured["ratio"] == pytest.approx(1.2)
    assert not check_penalty_raises_train_loss(l1_small, base).passed


def test_a_third_party_can_register_a_check_that_binds_from_tags(registered_checks):
    from overfit_core.checks import _result, check, each
    from overfit_core.variants import TAGS

    @check(binds=each(lambda s: "regression" in s.tags), tags={"regression": "with_a_user_check"})
    def check_user_made(run):
        """A user's check: the final validation loss is finite."""
        ok = np.isfinite(run.curve("val_loss")[-1])
        return _result("user_made", ok, {"final_val_loss": run.curve("val_loss")[-1]}, "finite", [run],
                       "the final validation loss is finite", 1.0 if ok else -1.0)

    builtin = {s.name: s for s in builtin_variants()}
    assert [b.label for b in bindings(builtin, ["user_made"])] == ["tiny", "tiny_lr_high"]
    assert "with_a_user_check" in TAGS["regression"]
    assert get_check("user_made").description == "A user's check: the final validation loss is finite."
    with pytest.raises(ConfigError, match="registered already"):
        check("learns", binds=each(lambda s: True))(check_user_made)


def test_thresholds_are_published():
    assert THRESHOLDS["diverge_rise_ratio"] >= 1.0
    with pytest.raises(TypeError):
        THRESHOLDS["diverge_rise_ratio"] = 0.0


# --- broken variants make the matching check fail ---------------------------------------------

@pytest.fixture(scope="module")
def imdb_synthetic():
    from overfit_core import DataOptions, load_dataset

    return load_dataset("imdb", DataOptions(kind="synthetic"))


@pytest.mark.training
@pytest.mark.parametrize("treated,field,value,check", [
    ("dropout", "dropout", 0.0, "dropout_narrows_gap"),
    ("l1", "reg_strength", 0.0, "l1_shrinks_weights"),
    ("l2", "reg_strength", 0.0, "l2_shrinks_weights"),
], ids=["dropout_rate_0", "l1_penalty_removed", "l2_penalty_removed"])
def test_broken_variant_fails_its_check(imdb_synthetic, treated, field, value, check):
    from overfit_core.training import train

    def five_epochs(spec):
        return dataclasses.replace(spec, epochs=(("*", 5),))

    broken = five_epochs(dataclasses.replace(get_variant(treated), **{field: value}))
    baseline = train(five_epochs(get_variant("reg_base")), imdb_synthetic, 0, SMOKE)
    honest = train(five_epochs(get_variant(treated)), imdb_synthetic, 0, SMOKE)
    binding = next(b for b in bindings(VARIANTS, [check]) if b.roles["run"] == treated)
    assert not evaluate(binding, {treated: train(broken, imdb_synthetic, 0, SMOKE), "reg_base": baseline}).passed
    if check != "dropout_narrows_gap":  # weights shrink after 5 epochs already; the gap needs longer training
        assert evaluate(binding, {treated: honest, "reg_base": baseline}).passed
