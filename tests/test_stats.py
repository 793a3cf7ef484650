"""overfit_core.stats: known values, hand-computed corrections, a quick coverage check, verdict states, bad input."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from overfit_core.errors import ConfigError
from overfit_core.stats import (LOOKS, Interval, benjamini_hochberg, correct, diff_of_medians_ci, holm, look_level,
                                mann_whitney, median_ci, min_exact_p, min_seeds_per_side, next_look,
                                threshold_verdict)


def test_smallest_exact_mann_whitney_p():
    assert mann_whitney([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)
    assert mann_whitney([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(2 / 70)
    assert min_exact_p(3) == pytest.approx(0.1) and min_exact_p(4) == pytest.approx(2 / 70)
    assert min_exact_p(2, 3) == pytest.approx(0.2)


def test_min_seeds_per_side():
    assert min_seeds_per_side(0.05) == 4  # 3 v 3 reaches 0.10 at best
    assert min_seeds_per_side(0.2) == 3  # 2 v 2: 2/6 = 0.33; 3 v 3: 0.1 < 0.2
    assert min_seeds_per_side(0.001) == 7  # 2/C(12,6) = 0.0022, 2/C(14,7) = 0.00058


def test_mann_whitney_symmetry_ties_and_equal_samples():
    assert mann_whitney([1, 1, 1], [1, 1, 1]) == 1.0
    assert mann_whitney([1, 2, 3, 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    a, b = [0.1, 0.5, 0.4, 0.9, 0.3], [1.2, 0.8, 1.5, 1.1, 2.0]
    assert mann_whitney(a, b) == pytest.approx(mann_whitney(b, a))
    tied = mann_whitney([1, 1, 2, 2], [3, 3, 4, 4])  # ties: normal approximation
    assert 0 < tied < 0.05


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1 -> 0.04, 0.06, 0.06, 0.04 -> running max 0.04, 0.06, 0.06, 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.2]) == pytest.approx([0.2])


def test_benjamini_hochberg_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.20 times 4/1, 4/2, 4/3, 4/4 -> 0.04, 0.04, 0.04, 0.20 (running min from the top)
    assert benjamini_hochberg([0.20, 0.03, 0.01, 0.02]) == pytest.approx([0.20, 0.04, 0.04, 0.04])
    assert benjamini_hochberg([0.01, 0.04]) == pytest.approx([0.02, 0.04])
    scipy_stats = pytest.importorskip("scipy.stats")
    if hasattr(scipy_stats, "false_discovery_control"):
        p = np.random.default_rng(1).uniform(size=30) ** 3
        assert benjamini_hochberg(p) == pytest.approx(scipy_stats.false_discovery_control(p).tolist())


def test_correct_names_the_bad_method():
    assert correct([], "holm") == []
    with pytest.raises(ConfigError, match="holm, bh"):
        correct([0.1], "bonferroni")


def test_median_ci_degenerate_samples_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert median_ci([2.5]) == Interval(2.5, 2.5, 2.5, 1)
        assert median_ci([1.0, 1.0, 1.0]) == Interval(1.0, 1.0, 1.0, 3)
        assert diff_of_medians_ci([1.0, 1.0], [3.0]) == Interval(2.0, 2.0, 2.0, 1)


def test_median_ci_is_deterministic_and_brackets_the_median():
    x = [0.3, 1.2, 0.7, 0.9, 1.1, 0.4, 0.8]
    ci = median_ci(x, n_resamples=999)
    assert ci == median_ci(x, n_resamples=999) and ci.low <= ci.median <= ci.high and ci.n == 7
    assert ci.median == 0.8
    # three seeds: the percentile interval is [min, max] (the small-n caveat of the module docstring)
    assert median_ci([3.0, 1.0, 2.0], level=0.99, n_resamples=999) == Interval(2.0, 1.0, 3.0, 3)


def test_diff_of_medians_ci():
    a, b = [1.0, 1.1, 0.9, 1.05, 0.95], [2.0, 2.1, 1.9, 2.05, 1.95]
    ci = diff_of_medians_ci(a, b, n_resamples=999)
    assert ci.median == pytest.approx(1.0) and 0.8 < ci.low <= 1.0 <= ci.high < 1.2 and ci.n == 5
    one_sided = diff_of_medians_ci([1.0], b, n_resamples=999)  # a single value on one side: b's interval, shifted
    shifted = median_ci(b, n_resamples=999)
    assert (one_sided.low, one_sided.high) == pytest.approx((shifted.low - 1.0, shifted.high - 1.0))


def test_coverage_is_near_nominal_at_twenty_values():
    """200 normal samples of 20: a 90% interval should hold the true median (0) about 90% of the time."""
    rng = np.random.default_rng(7)
    hits = sum(ci.low <= 0 <= ci.high for ci in (median_ci(rng.standard_normal(20), 0.9, 999, seed=i)
                                                  for i in range(200)))
    assert 0.8 <= hits / 200 <= 0.98


def test_threshold_verdict_states():
    high, low = [2.0, 2.1, 2.2, 1.9, 2.05], [0.5, 0.6, 0.4, 0.55, 0.45]
    assert threshold_verdict(high, 1.0, ">").state == "pass"
    assert threshold_verdict(low, 1.0, ">").state == "fail"
    assert threshold_verdict(low, 1.0, "<").state == "pass"
    assert threshold_verdict(high, 1.0, "<").state == "fail"
    v = threshold_verdict([0.5, 1.5, 0.8, 1.2, 1.0], 1.0, ">", 0.9)
    assert v.state == "inconclusive" and v.level == 0.9 and v.n == 5 and v.low < 1.0 < v.high
    assert threshold_verdict([1.0, 1.0], 1.0, ">").state == "fail"  # on the threshold: not beyond it


def test_sequential_design():
    assert LOOKS == (3, 5, 8, 12, 20)
    assert look_level(0.05) == pytest.approx(0.99)
    assert look_level(0.1, (5, 10)) == pytest.approx(0.95)
    assert next_look(3) == 5 and next_look(4) == 5 and next_look(20) is None


@pytest.mark.parametrize("call,match", [
    (lambda: median_ci([]), "non-empty"),
    (lambda: median_ci([1.0, math.nan]), r"Positions \[1\]"),
    (lambda: median_ci([[1.0, 2.0]]), "1-D"),
    (lambda: median_ci(["a"]), "numbers"),
    (lambda: median_ci([1.0, 2.0], level=95), "between 0 and 1"),
    (lambda: threshold_verdict([1.0, 2.0], 1.0, ">="), "direction"),
    (lambda: threshold_verdict([1.0, 2.0], math.nan, ">"), "finite number"),
    (lambda: mann_whitney([], [1.0]), "non-empty"),
    (lambda: mann_whitney([1.0, math.inf], [1.0]), "NaN or infinite"),
    (lambda: min_seeds_per_side(0), "alpha"),
    (lambda: holm([0.1, 1.5]), "p-values"),
])
def test_bad_input_names_the_value(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
