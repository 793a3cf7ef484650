"""Your own Keras models under the suite's property checks, in the manner of scikit-learn's
`parametrize_with_checks`.

- `@variant(name=..., dataset=..., tags=...)` registers `build(input_shape) -> keras.Model`.
- `parametrize_with_checks([...])` turns every check that applies (decided from tags, fields and
  `baseline`, as for the built-in variants) into parametrised pytest cases; known failures,
  ``{check: reason}``, become strict xfails.
- `check_variants([...])` runs the same checks without pytest and returns the results.

Nothing here imports pytest or TensorFlow at module level.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import os
import re
import sys
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from .checks import CHECKS, CheckResult, bindings
from .config import TrainConfig, parse_seeds
from .data import check_dataset_name
from .errors import ConfigError, invalid
from .suite import DATA_KINDS, Case
from .variants import USER_BUILDERS, VARIANTS, VariantSpec

DEFAULT_SEEDS = "0-2"  # as the pytest plugin's --seeds; OVERFIT_SEEDS overrides both

# Tags a variant may carry, and what each makes apply. A user's builder cannot set the model fields
# (dropout, regularizer, batchnorm), so the tags `dropout`, `l1`, `l2`, `batchnorm` stand in for them.
TAGS: Mapping[str, str] = MappingProxyType({
    "baseline": "a reference model; binds nothing by itself",
    "overparameterised": "val_loss_diverges; with a baseline: bigger_overfits_more",
    "l1": "with a baseline: l1_shrinks_weights, regularisation_narrows_gap; with an l2 variant: l1_sparser_than_l2",
    "l2": "with a baseline: l2_shrinks_weights, regularisation_narrows_gap",
    "dropout": "with a baseline: dropout_narrows_gap",
    "batchnorm": "with a baseline: batchnorm_speeds_convergence (not together with init_scale)",
    "init_scale": "a scaled-up initialisation; keeps batchnorm_speeds_convergence off",
    "lr_too_high": "with a baseline: lr_too_high_is_jittery; keeps learns off",
    "regularised": "descriptive", "stochastic": "descriptive", "regression": "descriptive",
    "random_labels": "descriptive (shuffle_labels=True is what binds memorises_random_labels)",
    "early_stopping": "descriptive (early_stopping_patience is what binds early_stopping_matches_min)",
})

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")  # names end up in run ids and record file names
_REGISTRY: dict[str, VariantSpec] = {}
_EPOCHS: dict[str, dict[str, int]] = {}  # name -> tier (or "*": every tier) -> epochs


def _stable_repr(value) -> str:
    text = repr(value)
    return type(value).__qualname__ if " at 0x" in text else text


def builder_key(fn: Callable) -> str:
    """'module:qualname@hash': the hash covers the source and the bound arguments, so editing the builder
    gives the variant a new digest and new cache keys (helpers it calls are not covered: use --retrain)."""
    bound: list = []
    while isinstance(fn, functools.partial):
        bound += [fn.args, sorted(fn.keywords.items())]
        fn = fn.func
    h = hashlib.sha256()
    try:
        h.update(inspect.getsource(fn).encode())
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        h.update(code.co_code + repr(code.co_consts).encode() if code is not None else repr(type(fn)).encode())
    bound += [getattr(fn, "__defaults__", None), getattr(fn, "__kwdefaults__", None)]
    bound += [cell.cell_contents for cell in getattr(fn, "__closure__", None) or ()]
    h.update(repr([_stable_repr(v) for v in bound]).encode())
    where = f"{getattr(fn, '__module__', None) or '?'}:{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    return f"{where}@{h.hexdigest()[:12]}"


def _positive_int(argument: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(invalid(argument, value, "a positive integer" + (" or None" if allow_none else "")))
    return value


def _epochs_table(epochs) -> dict[str, int]:
    from .config import TIERS

    if epochs is None:
        return {}
    if isinstance(epochs, Mapping):
        for tier, n in epochs.items():
            if tier not in TIERS:
                raise ConfigError(invalid("epochs", dict(epochs), f"tier names from {', '.join(TIERS)} as keys"))
            _positive_int(f"epochs[{tier!r}]", n)
        return dict(epochs)
    return {"*": _positive_int("epochs", epochs)}


def variant(*, name: str, dataset: str, tags: Iterable[str] = (), baseline: str | None = None,
            optimizer: str = "adam", learning_rate: float | None = None, batch_size: int = 32,
            shuffle_labels: bool = False, early_stopping_patience: int | None = None,
            epochs: int | Mapping[str, int] | None = None, description: str = "") -> Callable:
    """Register `build(input_shape) -> keras.Model` as variant `name`; returns the builder, with `.spec`.

    `epochs`: one number for every tier, or ``{"smoke": 2, "fast": 20, "full": 100}``; a tier that
    sets none for the variant falls back to the tier's epochs for `dataset` (imdb has none).
    The model must end in the dataset's output layer; the suite compiles it (loss, metrics, optimizer).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(invalid("name", name, "a letter followed by letters, digits or underscores"))
    check_dataset_name(dataset)
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    unknown = [t for t in tags if t not in TAGS]
    if unknown:
        raise ConfigError(invalid("tags", tags, f"tags from {', '.join(TAGS)}",
                                  f"Unknown: {', '.join(map(repr, unknown))}. Put free text in `description`."))
    if baseline is not None and (not isinstance(baseline, str) or baseline == name):
        raise ConfigError(invalid("baseline", baseline, "the name of another variant, or None"))
    if not isinstance(optimizer, str) or not optimizer:
        raise ConfigError(invalid("optimizer", optimizer, "a Keras optimizer identifier such as 'adam'"))
    if learning_rate is not None and (isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float))
                                      or not learning_rate > 0):
        raise ConfigError(invalid("learning_rate", learning_rate, "a positive number, or None for Keras' default"))
    _positive_int("batch_size", batch_size)
    _positive_int("early_stopping_patience", early_stopping_patience, allow_none=True)
    table = _epochs_table(epochs)

    def register(build: Callable) -> Callable:
        if not callable(build):
            raise ConfigError(invalid("build", build, "a function build(input_shape) -> keras.Model"))
        doc = (inspect.getdoc(build) or "").split("\n")[0]
        spec = VariantSpec(name, dataset, hidden=(), optimizer=optimizer, learning_rate=learning_rate,
                           batch_size=batch_size, shuffle_labels=bool(shuffle_labels),
                           early_stopping_patience=early_stopping_patience, baseline=baseline, tags=tags,
                           description=description or doc, builder=builder_key(build))
        _register(spec, build, table)

        @functools.wraps(build)
        def builder(input_shape):
            return build(input_shape)

        builder.spec = spec
        return builder

    return register


def _register(spec: VariantSpec, build: Callable, epochs: dict[str, int]) -> None:
    if spec.name in VARIANTS:
        raise ConfigError(f"Variant name {spec.name!r} is taken by the built-in variant of that name "
                          f"({VARIANTS[spec.name].description}). Choose another name.")
    old = _REGISTRY.get(spec.name)
    if old is not None and old.builder.split("@")[0] != spec.builder.split("@")[0]:
        raise ConfigError(f"Variant name {spec.name!r} is registered already, by {old.builder.split('@')[0]}; "
                          f"{spec.builder.split('@')[0]} cannot take it too. Choose another name.")
    _REGISTRY[spec.name] = spec
    _EPOCHS[spec.name] = epochs
    USER_BUILDERS[spec.builder] = build


def registered() -> Mapping[str, VariantSpec]:
    """The variants registered with `@variant` in this process."""
    return MappingProxyType(dict(_REGISTRY))


def resolve(v) -> VariantSpec:
    """A spec from a decorated builder, a VariantSpec, or a name (registered with @variant, or built in)."""
    if isinstance(v, VariantSpec):
        return v
    if isinstance(v, str):
        spec = _REGISTRY.get(v) or VARIANTS.get(v)
        if spec is None:
            names = [*_REGISTRY, *VARIANTS]
            raise ConfigError(invalid("variant", v, f"one of {', '.join(names)}",
                                      "Register it with @overfit_core.variant before the tests are collected."))
        return spec
    spec = getattr(v, "spec", None)
    if callable(v) and isinstance(spec, VariantSpec):
        return spec
    raise ConfigError(invalid("variants", v, "builders decorated with @overfit_core.variant, VariantSpecs or "
                              "variant names"))


def config_for(config: TrainConfig, spec: VariantSpec) -> TrainConfig:
    """`config` plus the epochs `spec` was registered with for `config.tier` (unchanged for the registry)."""
    table = _EPOCHS.get(spec.name, {}) if spec.builder else {}
    epochs = table.get(config.tier, table.get("*"))
    if epochs is not None:
        return dataclasses.replace(config, epochs=(*config.epochs, (spec.name, epochs)))
    if spec.builder and dict(config.epochs).get(spec.dataset) is None:
        raise ConfigError(f"Variant {spec.name!r} has no epochs for tier {config.tier!r}, which sets none for dataset "
                          f"{spec.dataset!r}. Pass epochs=N or epochs={{{config.tier!r}: N}} to @overfit_core.variant.")
    return config


def _selection(variants) -> tuple[dict[str, VariantSpec], Mapping[str, VariantSpec]]:
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
        base = _REGISTRY.get(s.baseline) or VARIANTS.get(s.baseline)
        if base is None:
            raise ConfigError(f"Variant {s.name!r} names baseline={s.baseline!r}, which is not registered. Expected a "
                              f"variant registered with @overfit_core.variant (imported before the tests are "
                              f"collected) or a built-in one: {', '.join(VARIANTS)}.")
        if base.dataset != s.dataset:
            raise ConfigError(f"Variant {s.name!r} (dataset {s.dataset!r}) names baseline={s.baseline!r}, which trains "
                              f"on {base.dataset!r}. Expected a baseline on the same dataset.")
        specs[base.name] = base
        todo.append(base)
    return chosen, MappingProxyType(specs)


def _seeds(seeds) -> tuple[int, ...]:
    if seeds is None:
        seeds = os.environ.get("OVERFIT_SEEDS") or DEFAULT_SEEDS
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = str(seeds)
    if not isinstance(seeds, str):
        seeds = ",".join(str(s) for s in seeds)
    return parse_seeds(seeds)


def _kinds(kinds) -> tuple[str, ...]:
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or any(k not in DATA_KINDS for k in kinds):
        raise ConfigError(invalid("kinds", kinds, f"a non-empty subset of {', '.join(DATA_KINDS)}"))
    return kinds


def check_cases(variants, *, seeds=None, kinds=DATA_KINDS,
                expected_failures: Mapping[str, str] | None = None) -> list[tuple[Case, str | None]]:
    """(case, reason it is expected to fail or None) for every check that applies to `variants`.

    A check binds when one of `variants` plays a role in it; baselines they name take part but get no
    checks of their own. `seeds` default to $OVERFIT_SEEDS or 0-2.
    """
    chosen, specs = _selection(variants)
    seeds, kinds = _seeds(seeds), _kinds(kinds)
    found = [b for b in bindings(specs) if set(b.variants) & set(chosen)]
    if not found:
        raise ConfigError(f"No check applies to {', '.join(chosen)}. Give it tags (overfit_core.user_variants.TAGS) "
                          "and a baseline, or leave out shuffle_labels / lr_too_high.")
    expected = dict(expected_failures or {})
    applicable = {b.check.name for b in found}
    for check, reason in expected.items():
        if check not in CHECKS:
            raise ConfigError(invalid("expected_failures", check, f"check names from {', '.join(CHECKS)}"))
        if check not in applicable:
            raise ConfigError(f"expected_failures names {check!r}, which applies to none of {', '.join(chosen)} "
                              f"(these get: {', '.join(sorted(applicable)) or 'no check'}). Remove the entry.")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(invalid(f"expected_failures[{check!r}]", reason, "a reason, as a non-empty string"))
    return [(Case(b, kind, seed, specs), expected.get(b.check.name)) for b in found for kind in kinds for seed in seeds]


def case_id(case: Case) -> str:
    """'l2_shrinks_weights-my_mlp_l2-my_mlp-synthetic_imdb-seed0'."""
    return f"{case.binding.check.name}-{case.id}"


def parametrize_with_checks(variants, *, expected_failures: Mapping[str, str] | None = None, seeds=None,
                            kinds=DATA_KINDS):
    """A `pytest.mark.parametrize` of `case` over every check that applies to `variants`.

    Decorate a test taking `case` and the plugin's `suite` fixture::

        @parametrize_with_checks([my_small, my_big], expected_failures={"val_loss_diverges": "why"})
        def test_my_models(case, suite):
            suite.assert_holds(case)

    Expected failures are strict xfails: a check that starts to hold fails the run until its entry
    is removed. Seeds come from --seeds / $OVERFIT_SEEDS (default 0-2) unless given here.
    """
    import pytest

    from .pytest_plugin import uncalibrated_marks

    params = []
    for case, reason in check_cases(variants, seeds=seeds, kinds=kinds, expected_failures=expected_failures):
        marks = [pytest.mark.training]
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        else:
            marks.extend(uncalibrated_marks(case))
        params.append(pytest.param(case, marks=marks, id=case_id(case)))
    return pytest.mark.parametrize("case", params)


# --- how many checks ran per variant ----------------------------------------------------------

OUTCOMES = ("passed", "failed", "xfailed", "xpassed")  # ran; anything else ("skipped") did not


class Tally:
    """Outcomes of property cases, per variant taking part: what the run reports at its end."""

    def __init__(self):
        self.checks: dict[str, set[str]] = {}
        self.outcomes: dict[str, dict[str, int]] = {}
        self.not_run: dict[str, int] = {}  # "skipped" or "error" -> cases

    def add(self, variants: Iterable[str], check: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
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
            states = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o))
            out.append(f"{v}: {len(checks)} check{'s' * (len(checks) != 1)} ran ({', '.join(sorted(checks))}) "
                       f"in {n} case{'s' * (n != 1)}: {states}")
        if self.not_run:
            out.append("not run: " + ", ".join(f"{n} case{'s' * (n != 1)} {why}" for why, n in self.not_run.items()))
        return out


class CheckReport(list):
    """The `CheckResult`s of `check_variants` (a list), with `.summary` (per variant) and `.unexpected`:
    failures not in `expected_failures`, and expected failures that held (strict, as in pytest)."""

    def __init__(self, results: Iterable[CheckResult] = (), summary: str = "",
                 unexpected: Iterable[CheckResult] = ()):
        super().__init__(results)
        self.summary, self.unexpected = summary, list(unexpected)

    @property
    def ok(self) -> bool:
        return not self.unexpected


def check_variants(variants, *, seeds=None, tier: str = "fast", kinds=None, cache_dir=None, retrain: bool = False,
                   expected_failures: Mapping[str, str] | None = None,
                   log: Callable[[str], None] | None = None) -> CheckReport:
    """Run every check that applies to `variants`, without pytest, and return the results.

    Records are trained once and cached as in the pytest suite (`cache_dir`, default
    $OVERFIT_CACHE_DIR or ~/.cache/overfit-bench/records). `kinds` default to synthetic data, plus
    the real datasets when OVERFIT_DATA_DIR or OVERFIT_DOWNLOAD is set. The per-variant summary is
    passed to `log` (default: stderr) and kept in `.summary`.
    """
    from pathlib import Path

    from .records import default_cache_dir
    from .suite import PropertySuite

    suite = PropertySuite.create(tier, Path(cache_dir).expanduser() if cache_dir else default_cache_dir(),
                                 retrain=retrain)
    if kinds is None:
        kinds = DATA_KINDS if suite.real_available() else ("synthetic",)
    report, tally = CheckReport(), Tally()
    for case, reason in check_cases(variants, seeds=seeds, kinds=kinds, expected_failures=expected_failures):
        if case.kind == "real" and not suite.real_available():
            tally.add(case.binding.variants, case.binding.check.name, "skipped")
            continue
        result = suite.result(case)
        report.append(result)
        outcome = ("xpassed" if result.passed else "xfailed") if reason else ("passed" if result.passed else "failed")
        tally.add(case.binding.variants, case.binding.check.name, outcome)
        if outcome in ("failed", "xpassed"):
            report.unexpected.append(result)
    report.summary = "\n".join([f"overfit-bench: checks run per variant (tier {tier}, seeds "
                                f"{','.join(map(str, _seeds(seeds)))}):", *tally.lines()])
    (log or (lambda text: print(text, file=sys.stderr, flush=True)))(report.summary)
    return report


__all__ = ["TAGS", "CheckReport", "CheckResult", "Tally", "builder_key", "case_id", "check_cases", "check_variants",
           "config_for", "parametrize_with_checks", "registered", "resolve", "variant"]
