"""Across-seed verdicts and the sequential design, on hand-made check results (no training)."""
from __future__ import annotations

import pytest

from overfit_core.checks import CheckResult
from overfit_core.effects import across_seeds, sequential, table


def result(effect, seed, check="dropout_narrows_gap", threshold=0.8, passed=None, kind="real"):  # noqa: D103
    return CheckResult(check, effect < threshold if passed is None else passed, {}, "", "", effect=effect,
                       effect_threshold=threshold, variants=("dropout", "reg_base"), data_kind=kind, seed=seed)


def test_a_clear_effect_passes_and_a_shrunk_one_fails():
    strong = [result(0.4 + 0.01 * s, s) for s in range(5)]
    (v,) = across_seeds(strong)
    assert v.state == "pass" and v.seeds == (0, 1, 2, 3, 4) and v.seeds_passed == 5 and v.median == pytest.approx(0.42)
    fifth = [result(0.9 + 0.01 * s, s) for s in range(5)]  # a fifth of a 0.5 ratio's effect sits near 0.9
    assert across_seeds(fifth)[0].state == "fail"
    assert "FAIL dropout_narrows_gap [dropout-reg_base, real]" in str(across_seeds(fifth)[0])


def test_too_few_seeds_or_a_straddling_interval_is_inconclusive():
    assert across_seeds([result(0.4, 0), result(0.41, 1)])[0].state == "inconclusive"
    straddle = [result(v, s) for s, v in enumerate((0.6, 0.95, 0.7, 0.9, 0.75))]
    assert across_seeds(straddle)[0].state == "inconclusive"


def test_exact_checks_and_skipped_results_have_no_across_seed_verdict():
    exact = CheckResult("regression_metrics", True, {}, "", "", variants=("tiny",), data_kind="real", seed=0)
    skipped = CheckResult("dropout_narrows_gap", False, {}, "", "", skipped=True, seed=1)
    assert across_seeds([exact, skipped]) == []


def test_sequential_adds_seeds_until_decided_and_stops_at_the_last_look():
    asked = []

    def more(pending, seeds):
        asked.append(list(seeds))
        return [result(0.4, s) for s in seeds]

    start = [result(v, s) for s, v in enumerate((0.5, 0.95, 0.45))]
    (v,) = sequential(start, more)
    assert asked[0] == [3, 4] and v.state in ("pass", "inconclusive") and len(v.seeds) == 3 + sum(map(len, asked))
    noisy = iter([0.5, 0.95] * 20)
    asked.clear()
    (v,) = sequential([result(next(noisy), s) for s in range(3)],
                      lambda pending, seeds: (asked.append(seeds), [result(next(noisy), s) for s in seeds])[1])
    assert v.state == "inconclusive" and len(v.seeds) == 20 and [len(a) for a in asked] == [2, 3, 4, 8]


def test_table_has_a_row_per_property():
    rows = table(across_seeds([result(0.4, s) for s in range(3)] + [result(0.4, s, kind="synthetic") for s in range(3)]))
    assert len(rows) == 4 and "| dropout_narrows_gap | dropout-reg_base | synthetic |" in rows[3]
