"""Across-seed verdicts: each property's median effect over seeds and its bootstrap interval against the
calibrated median threshold (pass / fail / inconclusive), and the sequential design that adds seeds while a
verdict is inconclusive.

The median threshold lies at the geometric middle between the calibration median and a fifth of it (in effect
strength, `checks.Effect.strength`), so an effect shrunk to a fifth fails and the calibrated one passes.

The per-seed verdicts (`checks`) fail a run on any seed; these say whether the *typical* effect still has its
calibrated size, which is what shrinks when a mechanism weakens. Sequential: looks at `stats.LOOKS` seeds
(3, 5, 8, 12, 20), each interval at level 1 - alpha / 5, so the chance of any wrong pass or fail over all
looks is at most alpha (Bonferroni; see `stats` for the small-n caveat of the bootstrap).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .checks import CHECKS, CheckResult, effect_threshold
from .stats import LOOKS, look_level, next_look, threshold_verdict

Key = tuple[str, str, str]  # (check, variants label, data kind)


@dataclass(frozen=True)
class SeedsVerdict:
    """One property (check on its variants and data kind) over seeds."""

    check: str
    label: str
    data_kind: str
    state: str  # "pass", "fail" or "inconclusive"
    median: float
    low: float
    high: float
    threshold: float
    direction: str
    level: float
    seeds: tuple[int, ...]
    seeds_passed: int  # per-seed verdicts that passed
    variants: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return self.check, self.label, self.data_kind

    def __str__(self) -> str:
        return (f"{self.state.upper()} {self.check} [{self.label}, {self.data_kind}]: median effect {self.median:.4g} "
                f"({self.level:.1%} interval {self.low:.4g}..{self.high:.4g}) {self.direction} {self.threshold:.4g}, "
                f"{len(self.seeds)} seeds ({self.seeds_passed} passed seed-wise)")


def group(results: Iterable[CheckResult]) -> dict[Key, list[CheckResult]]:
    """The judged results of comparative checks (those with an effect), by property."""
    out: dict[Key, list[CheckResult]] = {}
    for r in results:
        if r.skipped or math.isnan(r.effect) or CHECKS.get(r.check) is None or CHECKS[r.check].effect is None:
            continue
        out.setdefault((r.check, r.label, r.data_kind), []).append(r)
    return out


def across_seeds(results: Iterable[CheckResult], level: float | None = None,
                 min_seeds: int = LOOKS[0]) -> list[SeedsVerdict]:
    """Each property's verdict on the median of its per-seed effects (interval at `level`, default one look's);
    inconclusive below `min_seeds` seeds, where an interval of a median means little."""
    level = look_level() if level is None else level
    out = []
    for (check, label, kind), rs in group(results).items():
        effect = CHECKS[check].effect
        # an uncalibrated binding (a user's, or specs changed from the registered ones) keeps its per-seed threshold
        thr = effect_threshold(check, label, kind, rs[0].tier, across=True)[0] if rs[0].calibrated \
            else rs[0].effect_threshold
        v = threshold_verdict([r.effect for r in rs], thr, effect.direction, level)
        state = v.state if len(rs) >= min_seeds else "inconclusive"
        out.append(SeedsVerdict(check, label, kind, state, v.median, v.low, v.high, thr, effect.direction, level,
                                tuple(sorted(r.seed for r in rs)), sum(r.passed for r in rs), rs[0].variants))
    return out


def sequential(results: Sequence[CheckResult], more: Callable[[list[SeedsVerdict], list[int]], Iterable[CheckResult]],
               *, looks: Sequence[int] = LOOKS, alpha: float = 0.05,
               log: Callable[[str], None] | None = None) -> list[SeedsVerdict]:
    """Across-seed verdicts, adding seeds to the inconclusive properties at each look until decided or `looks`
    runs out. `more(pending, seeds)` trains what the pending verdicts' variants need at the new seeds and returns
    the results there."""
    level = look_level(alpha, looks)
    results = list(results)
    across = lambda: across_seeds(results, level, looks[0])  # noqa: E731
    decided: dict[Key, SeedsVerdict] = {}
    while True:
        verdicts = {v.key: v for v in across()}
        for key, v in verdicts.items():
            if v.state != "inconclusive" and key not in decided:
                decided[key] = v
        pending = [v for k, v in verdicts.items() if k not in decided]
        if not pending:
            break
        n = max(len(v.seeds) for v in pending)
        target = next_look(n, looks)
        if target is None:
            break
        top = max(s for v in pending for s in v.seeds)
        seeds = list(range(top + 1, top + 1 + target - n))
        if log:
            log(f"inconclusive at {n} seeds: {', '.join(f'{v.check} [{v.label}, {v.data_kind}]' for v in pending)}; "
                f"adding seeds {seeds[0]}-{seeds[-1]}")
        keys = {v.key for v in pending}
        results += [r for r in more(pending, seeds) if (r.check, r.label, r.data_kind) in keys]
    final = {v.key: v for v in across()}
    return [decided.get(k, v) for k, v in final.items()]


def table(verdicts: Sequence[SeedsVerdict]) -> list[str]:
    """Markdown rows of the across-seed verdicts."""
    lines = ["| property | variants | data | verdict | median effect | interval | threshold | seeds (passed) |",
             "|---|---|---|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v.check} | {v.label} | {v.data_kind} | {v.state} | {v.median:.4g} | {v.low:.4g}..{v.high:.4g} "
                     f"| {v.direction} {v.threshold:.4g} | {len(v.seeds)} ({v.seeds_passed}) |")
    return lines
