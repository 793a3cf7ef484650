"""Textbook behaviours as property tests: one test per property, one case per variant, data kind and seed.

Each case reads run records trained once per session (and cached on disk); see overfit_core/checks.py
for the checks and their thresholds, docs/properties.md for their measured pass rates.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.training


@pytest.mark.check("val_loss_diverges")
def test_val_loss_diverges(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("bigger_overfits_more")
def test_bigger_overfits_more(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("dropout_narrows_gap")
def test_dropout_narrows_gap(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("l1_shrinks_weights")
def test_l1_shrinks_weights(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("l2_shrinks_weights")
def test_l2_shrinks_weights(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("l1_sparser_than_l2")
def test_l1_sparser_than_l2(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("regularisation_narrows_gap")
def test_regularisation_narrows_gap(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("batchnorm_speeds_convergence")
def test_batchnorm_speeds_convergence(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("batchnorm_tames_init_scale")
def test_batchnorm_tames_init_scale(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("optimizers_both_learn")
def test_optimizers_both_learn(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("lr_too_high_is_jittery")
def test_lr_too_high_is_jittery(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("memorises_random_labels")
def test_memorises_random_labels(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("early_stopping_matches_min")
def test_early_stopping_matches_min(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("regression_metrics")
def test_regression_metrics(case, suite):
    suite.assert_holds(case)


@pytest.mark.check("learns")
def test_learns(case, suite):
    suite.assert_holds(case)
