"""Textbook behaviours as property tests: every registered check on every built-in variant it applies to.

The built-in suite goes through `parametrize_with_checks`, the same route a third party's variants take
(as scikit-learn's own test_common.py does); ids read check-variants-data-seed. Each case reads run
records trained once per session (and cached on disk); see overfit_core/checks.py for the checks and
their thresholds, docs/properties.md for their measured pass rates.
"""
from __future__ import annotations

import dataclasses

import pytest

from overfit_core import CHECKS, cases_for, parametrize_with_checks
from overfit_core.effects import sequential
from overfit_core.variants import builtin_variants


@parametrize_with_checks(builtin_variants())
def test_property(case, suite):
    suite.assert_holds(case)


def test_every_registered_check_has_a_case():
    covered = {c.check for c in cases_for(builtin_variants(), seeds=[0], kinds=["synthetic"])}
    assert not set(CHECKS) - covered, (f"checks with no case among the built-in variants: "
                                       f"{sorted(set(CHECKS) - covered)}; give one variant the tags or fields "
                                       "its binder reads (overfit-bench list shows what binds)")


def _properties():
    """One (check, variants, data kind) per comparative property of the built-in variants."""
    seen = {}
    for case in cases_for(builtin_variants(), seeds=[0]):
        if case.binding.check.effect is not None:
            seen.setdefault((case.check, case.label, case.kind), case)
    return list(seen.values())


def pytest_generate_tests(metafunc):
    if metafunc.function.__name__ == "test_across_seeds":  # only under --sequential: it trains up to 20 seeds
        props = _properties() if metafunc.config.getoption("--sequential") else []
        metafunc.parametrize("first", props, ids=lambda c: f"{c.check}-{c.label}-{c.data}")


@pytest.mark.training
def test_across_seeds(first, suite):
    """With --sequential: the property's median effect over seeds clears its calibrated threshold; more seeds
    (looks at 3, 5, 8, 12, 20) while inconclusive."""
    if first.kind == "real" and not suite.settings.real_available:
        suite.settings.missing_real(suite.enable_real)

    def at(seed):
        return suite.result(dataclasses.replace(first, seed=seed))

    verdict, = sequential([at(s) for s in suite.settings.seeds], lambda pending, seeds: [at(s) for s in seeds])
    assert verdict.state == "pass", str(verdict)
