"""One path from a variant to a verdict, shared by every consumer.

`cases_for(variants)` yields a `Case` (check binding, data kind, seed) for every check that applies;
`expected_failure(case)` says whether it is expected to fail (a user's expectation, a known failure on
this TensorFlow, or a look-alike not calibrated for it); a `RecordProvider` trains or loads each record
once; `evaluate_case` runs the check; `classify` turns a result into an outcome, and a `Tally` counts
them per variant. The pytest plugin (built-in and users' variants alike), ``overfit-bench run``,
`check_variants` and the distributed runner all go through here. Nothing imports pytest at module level.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

from .checks import CHECKS, Binding, CheckResult, bindings, evaluate, measured_failures
from .datasets import DATA_KINDS
from .errors import ConfigError, invalid
from .known_failures import configured_backend, installed_tf_version, known_failure
from .records import RunRecord
from .variants import VariantSpec, resolve
from .verdicts import is_failure

RAN = ("passed", "failed", "xfailed", "xpassed")  # outcomes of cases that ran; "skipped" or "error" did not


@dataclass(frozen=True)
class Case:
    """One check on one set of variants, one data kind and one seed."""

    binding: Binding
    kind: str  # "synthetic" or "real"
    seed: int
    # where the binding's variant names resolve: the chosen specs and every baseline they reach
    specs: Mapping[str, VariantSpec] = field(compare=False, repr=False)
    tier: str = "fast"  # the training tier (calibrated thresholds and measured failures are per tier)

    @property
    def check(self) -> str:
        return self.binding.check.name

    @property
    def variants(self) -> tuple[str, ...]:
        return self.binding.variants

    @property
    def label(self) -> str:
        return self.binding.label

    @property
    def dataset(self) -> str:
        return self.specs[self.binding.variants[0]].dataset

    @property
    def data(self) -> str:
        """'imdb' for the real dataset, 'synthetic_imdb' for its look-alike."""
        return self.dataset if self.kind == "real" else f"{self.kind}_{self.dataset}"

    @property
    def id(self) -> str:
        """check-variants-data-seed, e.g. 'l2_shrinks_weights-l2-reg_base-synthetic_imdb-seed0'."""
        return f"{self.check}-{self.label}-{self.data}-seed{self.seed}"


def selection(variants) -> tuple[dict[str, VariantSpec], Mapping[str, VariantSpec]]:
    """The chosen specs by name, and those plus every baseline they reach (which bindings resolve in)."""
    if isinstance(variants, (str, VariantSpec)) or callable(variants):
        variants = [variants]
    chosen: dict[str, VariantSpec] = {}
    for v in variants:
        spec = resolve(v)
        if chosen.get(spec.name, spec) != spec:
            raise ConfigError(f"Two different variants are named {spec.name!r}. Give each its own name.")
        chosen[spec.name] = spec
    if not chosen:
        raise ConfigError(invalid("variants", list(variants), "at least one variant"))
    specs, todo = dict(chosen), list(chosen.values())
    while todo:
        s = todo.pop()
        if s.baseline is None or s.baseline in specs:
            continue
        try:
            base = resolve(s.baseline)
        except ConfigError:
            raise ConfigError(f"Variant {s.name!r} names baseline={s.baseline!r}, which is not registered. Expected a "
                              "variant registered with @overfit_core.variant (imported before the tests are "
                              "collected) or a built-in one.") from None
        if base.dataset != s.dataset:
            raise ConfigError(f"Variant {s.name!r} (dataset {s.dataset!r}) names baseline={s.baseline!r}, which trains "
                              f"on {base.dataset!r}. Expected a baseline on the same dataset.")
        specs[base.name] = base
        todo.append(base)
    return chosen, MappingProxyType(specs)


def _kinds(kinds) -> tuple[str, ...]:
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or any(k not in DATA_KINDS for k in kinds):
        raise ConfigError(invalid("kinds", kinds, f"a non-empty subset of {', '.join(DATA_KINDS)}"))
    return kinds


def cases_for(variants, *, seeds: Sequence[int], kinds=DATA_KINDS, checks: Iterable[str] | None = None,
              allow_none: bool = False, tier: str = "fast") -> list[Case]:
    """Every case in which one of `variants` takes part: check by check, then data kind, then seed.

    Baselines the variants name take part in their bindings but get no checks of their own unless chosen.
    No case at all is an error (a variant without tags or baseline), unless `allow_none`.
    """
    from .config import parse_seeds

    chosen, specs = selection(variants)
    seeds, kinds = parse_seeds(seeds), _kinds(kinds)
    found = [b for b in bindings(specs, checks) if set(b.variants) & set(chosen)]
    if not found and not allow_none:
        raise ConfigError(f"No check applies to {', '.join(chosen)}. Give it tags (overfit_core.TAGS) and a "
                          "baseline, or leave out shuffle_labels / lr_too_high.")
    return [Case(b, kind, seed, specs, tier) for b in found for kind in kinds for seed in seeds]


def check_expected_failures(expected: Mapping[str, str] | None, cases: Sequence[Case]) -> dict[str, str]:
    """A user's ``{check: reason}``, validated against the cases it is for."""
    expected = dict(expected or {})
    applicable = {c.check for c in cases}
    variants = ", ".join(dict.fromkeys(v for c in cases for v in c.variants))
    for name, reason in expected.items():
        if name not in CHECKS:
            raise ConfigError(invalid("expected_failures", name, f"check names from {', '.join(CHECKS)}"))
        if name not in applicable:
            raise ConfigError(f"expected_failures names {name!r}, which applies to none of {variants} "
                              f"(these get: {', '.join(sorted(applicable)) or 'no check'}). Remove the entry.")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(invalid(f"expected_failures[{name!r}]", reason, "a reason, as a non-empty string"))
    return expected


def expected_failure(case: Case, expected: Mapping[str, str] | None = None,
                     tf_version: str | None = None, backend: str | None = None) -> tuple[str, bool] | None:
    """(reason, strict) when `case` is expected to fail, else None.

    In order: the user's `expected` ``{check: reason}`` (strict), a known failure in this environment, its
    TensorFlow version or Keras backend (`known_failures.py`, strict), and on the TensorFlow backend, where the
    thresholds were calibrated, a seed on which the calibration measured this binding failing
    (`checks.measured_failures`, strict: same seed, same data, same failure on this machine).
    """
    if expected and case.check in expected:
        return expected[case.check], True
    version = installed_tf_version() if tf_version is None else tf_version
    backend = configured_backend() if backend is None else backend
    reason = known_failure(case.check, version, case.label, backend)
    if reason is not None:
        where = "this TensorFlow" if backend == "tensorflow" else f"the {backend} backend"
        return f"known failure on {where}: {reason}", True
    measured = measured_failures(case.check, case.label, case.kind, case.tier).get(case.seed)
    if measured is not None and backend == "tensorflow":
        return f"measured failing on this seed in the calibration (docs/effects.md): {measured}", True
    return None


def classify(result: CheckResult, expectation: tuple[str, bool] | None) -> str:
    """'passed', 'failed', 'xfailed' or 'xpassed'; an xpass counts against a run only when strict."""
    if expectation is None:
        return "passed" if result.passed else "failed"
    return "xpassed" if result.passed else "xfailed"


def evaluate_case(case: Case, records: Mapping[str, RunRecord]) -> CheckResult:
    """The case's check on `records` (variant name -> record of the case's kind and seed)."""
    return evaluate(case.binding, records)


def verdict(case: Case, result: CheckResult | None, outcome: str,
            expectation: tuple[str, bool] | None = None) -> dict:
    """One case's verdict as a plain mapping (`overfit_core.verdicts`), for reports and CI annotations."""
    message = result.message if result else ""
    if expectation is not None:
        message += f" (expected to fail: {expectation[0]})"
    return {"id": case.id, "check": case.check, "variants": list(case.variants), "dataset": case.dataset,
            "kind": case.kind, "seed": case.seed, "outcome": outcome, "message": message,
            "measured": dict(result.measured) if result else {}, "threshold": result.threshold if result else "",
            "margin": result.margin if result else float("nan"),
            "strict": True if expectation is None else expectation[1]}


class Tally:
    """Outcomes of cases, per variant taking part: what a run reports at its end."""

    def __init__(self):
        self.checks: dict[str, set[str]] = {}
        self.outcomes: dict[str, dict[str, int]] = {}
        self.not_run: dict[str, int] = {}  # "skipped" or "error" -> cases

    def add(self, variants: Iterable[str], check: str, outcome: str) -> None:
        if outcome not in RAN:
            self.not_run[outcome] = self.not_run.get(outcome, 0) + 1
            return
        for v in dict.fromkeys(variants):
            self.checks.setdefault(v, set()).add(check)
            counts = self.outcomes.setdefault(v, {})
            counts[outcome] = counts.get(outcome, 0) + 1

    def lines(self) -> list[str]:
        out = []
        for v, checks in sorted(self.checks.items()):  # reports from xdist workers arrive in any order
            counts = self.outcomes[v]
            n = sum(counts.values())
            states = ", ".join(f"{counts[o]} {o}" for o in RAN if counts.get(o))
            out.append(f"{v}: {len(checks)} check{'s' * (len(checks) != 1)} ran ({', '.join(sorted(checks))}) "
                       f"in {n} case{'s' * (n != 1)}: {states}")
        if self.not_run:
            out.append("not run: " + ", ".join(f"{n} case{'s' * (n != 1)} {why}" for why, n in self.not_run.items()))
        return out


class Suite:
    """Records for both data kinds, trained once per process and cached on disk, and the checks on them."""

    def __init__(self, settings, *, enable_real: str = ""):
        from .records import RecordStore
        from .runner import RecordProvider

        self.settings, self.enable_real = settings, enable_real
        self.results: dict[str, CheckResult] = {}  # case id -> its last result (the plugin reports them)
        options = {kind: settings.data_options(kind) for kind in DATA_KINDS}
        self.provider = RecordProvider(settings.config, options, RecordStore(settings.cache_dir),
                                       retrain=settings.retrain)

    def records(self, case: Case) -> dict[str, RunRecord]:
        return {name: self.provider.record(case.specs[name], case.kind, case.seed) for name in case.variants}

    def result(self, case: Case) -> CheckResult:
        return evaluate_case(case, self.records(case))

    def assert_holds(self, case: Case) -> CheckResult:
        """The pytest assertion of a case (skips a real-data case when no real data is configured)."""
        if case.kind == "real" and not self.settings.real_available:
            self.settings.missing_real(self.enable_real)
        result = self.results[case.id] = self.result(case)
        assert result.passed, str(result)
        return result


class CheckReport(list):
    """The `CheckResult`s of `check_variants` (a list), with `.summary` (per variant) and `.unexpected`:
    failures not expected, and expected failures that held (strict, as in pytest)."""

    def __init__(self, results: Iterable[CheckResult] = (), summary: str = "",
                 unexpected: Iterable[CheckResult] = ()):
        super().__init__(results)
        self.summary, self.unexpected = summary, list(unexpected)
        self.verdicts: list[dict] = []

    @property
    def ok(self) -> bool:
        return not self.unexpected


def run_cases(cases: Sequence[Case], records: Callable[[Case], Mapping[str, RunRecord] | None],
              expected: Mapping[str, str] | None = None) -> tuple[CheckReport, Tally]:
    """Evaluate `cases` on `records(case)` (None: the case cannot run, e.g. no real data) and classify them."""
    report, tally = CheckReport(), Tally()
    for case in cases:
        recs = records(case)
        if recs is None:
            tally.add(case.variants, case.check, "skipped")
            report.verdicts.append(verdict(case, None, "skipped"))
            continue
        result = evaluate_case(case, recs)
        expectation = expected_failure(case, expected)
        outcome = classify(result, expectation)
        report.append(result)
        report.verdicts.append(verdict(case, result, outcome, expectation))
        tally.add(case.variants, case.check, outcome)
        if is_failure(report.verdicts[-1]):
            report.unexpected.append(result)
    return report, tally


def run_records(records: Sequence[RunRecord], expected: Mapping[str, str] | None = None,
                checks: Iterable[str] | None = None) -> tuple[CheckReport, Tally]:
    """Every case that `records` can judge, grouped by data kind and seed (what ``overfit-bench run`` does)."""
    groups: dict[tuple[str, int], dict[str, RunRecord]] = {}
    for r in records:
        groups.setdefault((r.data_kind, r.seed), {})[r.variant] = r
    cases, lookup = [], {}
    for (kind, seed), by_variant in sorted(groups.items()):
        tier = next(iter(by_variant.values())).config.tier
        for case in cases_for([r.spec for r in by_variant.values()], seeds=[seed], kinds=[kind], checks=checks,
                              allow_none=True, tier=tier):
            if all(v in by_variant for v in case.variants):  # a baseline of another seed or kind judges nothing
                cases.append(case)
                lookup[case.id] = by_variant
    return run_cases(cases, lambda c: lookup[c.id], expected)


def check_variants(variants, *, seeds=None, tier: str | None = None, kinds=None, cache_dir=None,
                   retrain: bool = False, expected_failures: Mapping[str, str] | None = None,
                   log: Callable[[str], None] | None = None, settings=None) -> CheckReport:
    """Run every check that applies to `variants`, without pytest, and return the results.

    Records are trained once and cached as in the pytest suite. Unset arguments come from `settings`
    (default: `Settings.resolve()`, i.e. OVERFIT_* variables, then tier fast, seeds 0-2,
    ~/.cache/overfit-bench/records). `kinds` default to synthetic data, plus the real datasets when a
    data directory or downloads are configured. The per-variant summary goes to `log` (default: stderr).
    """
    import dataclasses
    from pathlib import Path

    from .config import get_config, parse_seeds
    from .settings import Settings

    base = settings or Settings.resolve()
    overrides = {"tier": get_config(tier).tier if tier else None,
                 "seeds": parse_seeds(seeds) if seeds is not None else None,
                 "cache_dir": Path(cache_dir).expanduser() if cache_dir else None, "retrain": retrain or None}
    settings = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    suite = Suite(settings)
    if kinds is None:
        kinds = DATA_KINDS if settings.real_available else ("synthetic",)
    cases = cases_for(variants, seeds=settings.seeds, kinds=kinds, tier=settings.tier)
    expected = check_expected_failures(expected_failures, cases)
    report, tally = run_cases(cases, lambda c: suite.records(c) if c.kind != "real" or settings.real_available
                              else None, expected)
    report.summary = "\n".join([f"overfit-bench: checks run per variant (tier {settings.tier}, seeds "
                                f"{','.join(map(str, settings.seeds))}):", *tally.lines()])
    (log or (lambda text: print(text, file=sys.stderr, flush=True)))(report.summary)
    return report


def parametrize_with_checks(variants, *, expected_failures: Mapping[str, str] | None = None, seeds=None,
                            kinds=DATA_KINDS, checks: Iterable[str] | None = None):
    """A pytest mark that parametrises `case` over every check that applies to `variants`.

    Decorate a test taking `case` and the plugin's `suite` fixture::

        @parametrize_with_checks([my_small, my_big], expected_failures={"val_loss_diverges": "why"})
        def test_my_models(case, suite):
            suite.assert_holds(case)

    The overfit-bench pytest plugin expands it at collection, with the session's --seeds (unless
    `seeds` is given here). Expected failures are strict xfails: a check that starts to hold fails
    the run until its entry is removed. `checks` limits the cases to the named checks.
    """
    import pytest

    from .checks import get_check

    chosen, _ = selection(variants)  # bad input fails at import, where the user wrote it
    checks = None if checks is None else tuple(get_check(c).name for c in ([checks] if isinstance(checks, str)
                                                                          else checks))
    return pytest.mark.overfit_checks(variants=tuple(chosen.values()), expected_failures=dict(expected_failures or {}),
                                      seeds=seeds, kinds=_kinds(kinds), checks=checks)
