"""The speed options train the same numbers: histories from `training.train` with and without each one."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from overfit_core import get_variant
from overfit_core.training import train

from ._support import SUITE

# conftest.py parametrises `option` from this (steps_per_execution only with --bench-smoke).
# option -> (compile settings, rtol): steps_per_execution runs the same ops in the same order (bit-identical);
# XLA fuses and reorders float32 sums, so 1e-4 is the round-off it may cost.
OPTIONS = {"steps_per_execution": ({"steps_per_execution": max(SUITE.steps_per_execution, 32)}, 0.0),
           "jit_compile": ({"jit_compile": True}, 1e-4)}
KNOWN = {  # (option, variant tag) -> why the histories differ; strict xfails
    ("jit_compile", "stochastic"): "XLA draws other dropout masks: same distribution, other numbers",
    ("jit_compile", "overparameterised"): "the over-parameterised net amplifies XLA's other rounding along training",
}


def test_speed_option_keeps_the_history(request, bench, data, equivalence_variant, option):
    spec = get_variant(equivalence_variant)
    for tag in spec.tags:
        if (option, tag) in KNOWN:
            request.applymarker(pytest.mark.xfail(reason=KNOWN[option, tag], strict=True))
    settings, rtol = OPTIONS[option]
    spec = dataclasses.replace(spec, epochs=(("*", bench.trainer_epochs),))  # how long it trains is on the spec
    plain = dataclasses.replace(SUITE, tier="bench", jit_compile=None, steps_per_execution=1)
    a = train(spec, data(spec.dataset), 0, plain)
    b = train(spec, data(spec.dataset), 0, dataclasses.replace(plain, **settings))
    assert set(a.history) == set(b.history)
    for key in a.history:
        np.testing.assert_allclose(b.history[key], a.history[key], rtol=rtol, atol=0, err_msg=key)
