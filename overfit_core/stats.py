"""Statistics over seeds: bootstrap intervals of medians, threshold verdicts with more seeds when inconclusive,
Mann-Whitney U and multiple-comparison corrections. numpy and scipy only (no TensorFlow).

One implementation for everyone: the property verdicts (an effect's median over seeds against a threshold)
and `overfit-bench compare` (two sets of seeds against each other, docs/compare.md) both use these.

Intervals are percentile bootstraps (`scipy.stats.bootstrap(method="percentile")`) of the median. Caveat: at
very small n they undercover. The bootstrap median of n values is always one of those values, so at n = 3
every level above about 0.5 gives [min, max], which holds the true median with probability 1 - 2 / 2**3 = 0.75
only; at n = 5 every level above 0.89 gives [min, max], which holds it with 0.94. So the Bonferroni bound of
`look_level` holds only approximately at the first looks: read a verdict of 3 or 5 seeds as a screen, not at
its nominal level. Towards 20 seeds the coverage approaches the nominal level.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import ConfigError, invalid

# Seeds at which a sequential verdict looks at its data: an inconclusive verdict at one look trains seeds up to
# the next. `look_level` spreads the error over the looks (Bonferroni).
LOOKS = (3, 5, 8, 12, 20)
DIRECTIONS = (">", "<")
STATES = ("pass", "fail", "inconclusive")


@dataclass(frozen=True)
class Interval:
    """A point estimate (a median, or a difference of medians) with its bootstrap interval at some level; `n`
    is the number of values (for a difference: the smaller sample's)."""

    median: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class ThresholdVerdict:
    """Whether an effect's median over seeds lies beyond `threshold` in `direction` (">": must exceed it):
    "pass" when the whole interval is on the passing side, "fail" when it is all on the failing side (the
    threshold itself counts as failing), else "inconclusive"."""

    state: str
    median: float
    low: float
    high: float
    n: int
    level: float
    threshold: float
    direction: str


def values_of(argument: str, values) -> np.ndarray:
    """`values` as a 1-D float array of finite numbers; ConfigError naming `argument` otherwise."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(invalid(argument, values, "a sequence of numbers")) from None
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(invalid(argument, values, "a non-empty 1-D sequence of numbers",
                                  "Pass one value per seed."))
    if not np.all(np.isfinite(arr)):
        bad = [i for i, v in enumerate(arr) if not math.isfinite(v)]
        raise ConfigError(invalid(argument, values, "finite numbers only",
                                  f"Positions {bad} are NaN or infinite: leave out the seeds that diverged."))
    return arr


def _level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(invalid("level", level, "a confidence level strictly between 0 and 1, e.g. 0.95"))
    return float(level)


def _alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ConfigError(invalid("alpha", alpha, "a significance level strictly between 0 and 1, e.g. 0.05"))
    return float(alpha)


def _rng_kwargs(seed: int) -> dict:
    """scipy >= 1.15 takes `rng` (SPEC 7); older scipy `random_state`."""
    name = "rng" if "rng" in inspect.signature(_scipy_stats().bootstrap).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def _scipy_stats():
    import scipy.stats

    return scipy.stats


def _median(x, axis=-1):
    return np.median(x, axis=axis)


def _constant(x: np.ndarray) -> bool:
    return x.size == 1 or bool(np.all(x == x[0]))


def median_ci(values, level: float = 0.95, n_resamples: int = 9999, seed: int = 0) -> Interval:
    """The median of `values` with its percentile-bootstrap interval at `level` (deterministic for one `seed`).

    One value or a constant sample give low = high = median (no resampling, no warning of scipy's about a
    degenerate sample)."""
    x, level = values_of("values", values), _level(level)
    med = float(np.median(x))
    if _constant(x):
        return Interval(med, med, med, int(x.size))
    res = _scipy_stats().bootstrap((x,), _median, n_resamples=n_resamples, confidence_level=level,
                                   method="percentile", vectorized=True, **_rng_kwargs(seed))
    ci = res.confidence_interval
    return Interval(med, float(ci.low), float(ci.high), int(x.size))


def diff_of_medians_ci(a, b, level: float = 0.95, n_resamples: int = 9999, seed: int = 0) -> Interval:
    """median(b) - median(a) with its percentile-bootstrap interval (a and b resampled independently);
    `n` is the smaller sample's size. A sample of one value or of one repeated value is taken as exact."""
    a, b, level = values_of("a", a), values_of("b", b), _level(level)
    diff, n = float(np.median(b) - np.median(a)), int(min(a.size, b.size))
    if _constant(a) and _constant(b):
        return Interval(diff, diff, diff, n)
    if _constant(a):
        ci = median_ci(b, level, n_resamples, seed)
        return Interval(diff, ci.low - a[0], ci.high - a[0], n)
    if _constant(b):
        ci = median_ci(a, level, n_resamples, seed)
        return Interval(diff, b[0] - ci.high, b[0] - ci.low, n)
    res = _scipy_stats().bootstrap((a, b), lambda x, y, axis=-1: np.median(y, axis=axis) - np.median(x, axis=axis),
                                   n_resamples=n_resamples, confidence_level=level, method="percentile",
                                   vectorized=True, **_rng_kwargs(seed))
    ci = res.confidence_interval
    return Interval(diff, float(ci.low), float(ci.high), n)


def threshold_verdict(values, threshold: float, direction: str, level: float = 0.95, *, n_resamples: int = 9999,
                      seed: int = 0) -> ThresholdVerdict:
    """Judge the median of `values` (an effect per seed) against `threshold` by its interval at `level`."""
    if direction not in DIRECTIONS:
        raise ConfigError(invalid("direction", direction, "'>' (the effect must exceed the threshold) or '<' "
                                                          "(it must stay below it)"))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ConfigError(invalid("threshold", threshold, "a finite number"))
    ci = median_ci(values, level, n_resamples, seed)
    if direction == ">":
        state = "pass" if ci.low > threshold else "fail" if ci.high <= threshold else "inconclusive"
    else:
        state = "pass" if ci.high < threshold else "fail" if ci.low >= threshold else "inconclusive"
    return ThresholdVerdict(state, ci.median, ci.low, ci.high, ci.n, float(level), float(threshold), direction)


def look_level(alpha: float = 0.05, looks: Sequence[int] = LOOKS) -> float:
    """The interval level of each look of a sequential verdict: 1 - alpha / len(looks).

    By Bonferroni over the looks, the chance of any wrong pass or fail over all of them is at most `alpha`,
    if each interval has its nominal coverage (see the module's caveat for very few seeds)."""
    alpha = _alpha(alpha)
    if not looks:
        raise ConfigError(invalid("looks", looks, "a non-empty sequence of seed counts, e.g. (3, 5, 8, 12, 20)"))
    return 1 - alpha / len(looks)


def next_look(n: int, looks: Sequence[int] = LOOKS) -> int | None:
    """The seed count of the next look after `n` seeds, or None after the last look."""
    return next((k for k in looks if k > n), None)


def mann_whitney(a, b) -> float:
    """Two-sided Mann-Whitney U p-value of `a` against `b`: exact without ties (and at most 50 values a side),
    else the normal approximation with tie correction; 1.0 when all values are equal."""
    a, b = values_of("a", a), values_of("b", b)
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return 1.0
    ties = np.unique(both).size < both.size
    method = "exact" if not ties and max(a.size, b.size) <= 50 else "asymptotic"
    return float(_scipy_stats().mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


def min_exact_p(n: int, m: int | None = None) -> float:
    """The smallest two-sided exact Mann-Whitney p of `n` against `m` values (default n): 2 / C(n + m, n)."""
    m = n if m is None else m
    return min(1.0, 2 / math.comb(n + m, n))


def min_seeds_per_side(alpha: float = 0.05) -> int:
    """The fewest seeds per side (n against n) at which Mann-Whitney can reach p < `alpha` at all: 2/C(2n,n) < alpha.

    3 against 3 gives at best 0.10, so at alpha 0.05 it takes 4 (2/70 = 0.029)."""
    alpha = _alpha(alpha)
    n = 1
    while min_exact_p(n) >= alpha:
        n += 1
    return n


def _pvalues(pvalues) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ConfigError(invalid("pvalues", pvalues, "a 1-D sequence of p-values between 0 and 1"))
    return p


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input's order."""
    p = _pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def benjamini_hochberg(pvalues) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input's order."""
    p = _pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


def correct(pvalues, method: str = "holm") -> list[float]:
    """`pvalues` adjusted by `method`: "holm" (family-wise) or "bh" (false discovery rate)."""
    if method not in CORRECTIONS:
        raise ConfigError(invalid("correction", method, f"one of {', '.join(CORRECTIONS)}"))
    return CORRECTIONS[method](pvalues) if len(pvalues) else []
