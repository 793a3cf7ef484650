"""The checks as plain functions: on hand-made records (no training), and against broken variants."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from overfit_core import VARIANTS, SMOKE, get_variant
from overfit_core.cases import run_records
from overfit_core.checks import (CHECKS, THRESHOLDS, bindings, check_dropout_narrows_gap, effect_threshold,
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


CONSTANT = {"constant_train_loss": 0.693, "constant_val_loss": 0.693, "chance_val_accuracy": 0.5}


def rec(variant="overfit", train=(0.7, 0.5, 0.3, 0.1, 0.05, 0.01), val=(0.69, 0.6, 0.7, 0.9, 1.2, 1.5), seed=0,
        evaluation=None, **over):
    key = get_variant(variant).unregularised_metric
    acc = tuple(0.9 for _ in train)
    history = {"loss": train, "val_loss": val, key: train, f"val_{key}": val, "accuracy": acc, "val_accuracy": acc}
    return make_record(spec=get_variant(variant), seed=seed, history=history,
                       evaluation={**CONSTANT, **(evaluation or {})}, **over)


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
        "beats_chance": ["basic", "overfit", "reg_base", "l1", "l2", "dropout", "overfit_early_stop", "rmsprop",
                         "adam", "adam_dropout", "bn_basic", "bn", "bn_basic_init10", "bn_init10"],
        "beats_constant_predictor": ["tiny"],
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
    thr, _ = effect_threshold("penalty_raises_train_loss", "l2-reg_base", "synthetic")
    result = check_penalty_raises_train_loss(rec("l2", train=flat, val=flat), base)
    assert result.passed and result.effect == pytest.approx(4.0) and result.margin > 0
    barely = rec("l2", train=tuple(v / 4 * thr * 0.99 for v in flat), val=flat)
    assert not check_penalty_raises_train_loss(barely, base).passed
    # Keras' `loss` holds the penalty: a huge one there must not count
    penalised_only = rec("l2", train=tuple(v / 4 for v in flat), val=flat)
    penalised_only = dataclasses.replace(penalised_only, history={**penalised_only.history,
                                                                  "loss": tuple(v * 100 for v in flat)})
    assert not check_penalty_raises_train_loss(penalised_only, base).passed


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


def test_fixed_thresholds_are_read_only():
    assert THRESHOLDS["diverge_min_epoch_fraction"] < 0.5
    with pytest.raises(TypeError):
        THRESHOLDS["diverge_min_epoch_fraction"] = 1.0


@pytest.mark.parametrize("kind", ["real", "synthetic"])
def test_every_comparative_binding_has_a_calibrated_threshold(kind):
    """tools/calibrate.py wrote a threshold for each built-in binding of every check with an effect size."""
    specs = {s.name: s for s in builtin_variants()}
    missing = [f"{b.check.name}|{b.label}" for b in bindings(specs) if b.check.effect is not None
               and (not effect_threshold(b.check.name, b.label, kind)[1].startswith(("calibrated", "sign only: the "))
                    or effect_threshold(b.check.name, b.label, kind, across=True)[1] != "calibrated")]
    assert not missing, f"not calibrated on {kind} data: {missing}; run tools/calibrate.py --write (docs/properties.md)"


def test_effect_strength_and_value_are_inverse_and_signed():
    from overfit_core.checks import Effect

    ratio, diff = Effect("r", "<", 1.0), Effect("d", ">", 0.0, "linear")
    assert ratio.strength(0.5) == pytest.approx(np.log(2)) and ratio.strength(2.0) < 0
    assert ratio.value(ratio.strength(0.37)) == pytest.approx(0.37)
    assert diff.strength(0.3) == pytest.approx(0.3) and diff.value(-0.2) == pytest.approx(-0.2)


def test_a_fifth_of_the_effect_fails_where_the_rule_allows():
    """The calibrated thresholds separate the weakest calibration seed from a fifth of the median effect."""
    from overfit_core.checks import calibration

    for key, e in calibration().items():
        if "threshold" not in e or not e["rule"].startswith("sqrt"):
            continue
        effect = CHECKS[e["check"]].effect
        assert not effect.passes(e["fifth_of_median"], e["threshold"]), key
        assert effect.passes(e["values"]["min" if effect.direction == ">" else "max"], e["threshold"]), key


def test_generalisation_checks_need_more_than_chance():
    from overfit_core.checks import check_beats_chance, check_beats_constant_predictor, check_learns

    at_chance = rec("basic", evaluation={"chance_val_accuracy": 0.9})
    assert not check_beats_chance(at_chance).passed
    assert check_beats_chance(rec("basic", evaluation={"chance_val_accuracy": 0.5})).passed
    dead = rec("tiny", val=(100.0,) * 6, train=(90.0,) * 6, evaluation={"constant_val_loss": 100.0,
                                                                      "constant_train_loss": 90.0})
    assert not check_beats_constant_predictor(dead).passed and not check_learns(dead).passed
    live = rec("tiny", val=(100.0, 50, 20, 10, 10, 10), train=(90.0, 40, 15, 8, 8, 8),
               evaluation={"constant_val_loss": 100.0, "constant_train_loss": 90.0})
    assert check_beats_constant_predictor(live).passed and check_learns(live).passed


def test_lr_too_high_needs_a_live_sane_model():
    from overfit_core.checks import check_lr_too_high_is_jittery

    jitter = (100.0,) + (30.0, 60.0) * 15  # 15 rises in 31 epochs
    live_sane = (100.0, 20, 12, 11) + tuple(10.0 - 0.01 * i for i in range(27))
    consts = {"constant_val_loss": 100.0, "constant_train_loss": 90.0}
    high = rec("tiny_lr_high", val=jitter, train=jitter, evaluation=consts, data_kind="real")
    sane = rec("tiny", val=live_sane, train=live_sane, evaluation=consts, data_kind="real")
    assert check_lr_too_high_is_jittery(high, sane).passed
    dead_sane = (100.0, 99, 98.5) + tuple(98.4 - 0.001 * i for i in range(28))
    result = check_lr_too_high_is_jittery(high, rec("tiny", val=dead_sane, train=dead_sane, evaluation=consts,
                                                    data_kind="real"))
    assert not result.passed and "live" in result.threshold


def test_bigger_overfits_more_compares_equal_lengths():
    from overfit_core.checks import check_bigger_overfits_more

    short = rec("basic", train=(0.7, 0.6, 0.5, 0.45), val=(0.7, 0.65, 0.66, 0.68))
    long_ = rec("overfit", train=(0.7, 0.4, 0.2, 0.1, 0.01, 0.001), val=(0.69, 0.62, 0.7, 0.9, 3.0, 5.0))
    result = check_bigger_overfits_more(long_, short)
    assert result.measured["epochs_compared"] == 4


def test_the_gap_reads_the_inference_mode_training_loss():
    from overfit_core.checks import gap

    r = rec("dropout", train=(0.5,) * 20, val=(0.9,) * 20)
    assert gap(r) == pytest.approx(0.4)
    probed = dataclasses.replace(r, history={**r.history, "train_eval_binary_crossentropy": (0.3,) * 20})
    assert gap(probed) == pytest.approx(0.6)
    dip = rec("dropout", train=(0.5,) * 20, val=(0.9,) * 17 + (0.1,) * 3)  # a short late dip does not flip it
    assert gap(dip) == pytest.approx(0.4)


# Broken variants (dropout 0, penalty 0) made a model identical to its baseline and only showed that x < x is
# false; faults injected into Keras itself replace them (tests/test_faults.py, `overfit-bench faults`).
