"""Textbook behaviours as property tests: every registered check on every built-in variant it applies to.

The built-in suite goes through `parametrize_with_checks`, the same route a third party's variants take
(as scikit-learn's own test_common.py does); ids read check-variants-data-seed. Each case reads run
records trained once per session (and cached on disk); see overfit_core/checks.py for the checks and
their thresholds, docs/properties.md for their measured pass rates.
"""
from __future__ import annotations

from overfit_core import CHECKS, cases_for, parametrize_with_checks
from overfit_core.variants import builtin_variants


@parametrize_with_checks(builtin_variants())
def test_property(case, suite):
    suite.assert_holds(case)


def test_every_registered_check_has_a_case():
    covered = {c.check for c in cases_for(builtin_variants(), seeds=[0], kinds=["synthetic"])}
    assert not set(CHECKS) - covered, (f"checks with no case among the built-in variants: "
                                       f"{sorted(set(CHECKS) - covered)}; give one variant the tags or fields "
                                       "its binder reads (overfit-bench list shows what binds)")
