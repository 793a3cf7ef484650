"""The overfit-bench pytest plugin, registered through the ``pytest11`` entry point ``overfit_bench``.

A repository with overfit-bench installed gets the options --tier, --seeds, --data-dir, --subset, --cache-dir
and --retrain (resolved once, with the OVERFIT_* variables, into one `Settings`); the markers
``training``, ``real_data`` and ``overfit_checks`` (what `parametrize_with_checks` returns, expanded
here into one case per check, variants, data kind and seed); the fixtures ``suite``,
``overfit_settings`` and ``real_data_dir``; a report header that says how to reproduce a run; and, at
the end, how many checks ran per variant. Loading it does not import TensorFlow.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .settings import Settings

CASE_PROPERTY = "overfit_bench_case"  # user_properties entries: travel with reports from pytest-xdist workers
VERDICT_PROPERTY = "overfit_bench_verdict"
SETTINGS = pytest.StashKey["Settings"]()


def _enable_real() -> str:
    from .datasets import enable_real_text

    return enable_real_text()


def pytest_addoption(parser):
    group = parser.getgroup("overfit-bench")
    group.addoption("--data-dir", default=None, help="folder with the real datasets (default: $OVERFIT_DATA_DIR)")
    group.addoption("--subset", default=None,
                    help="real data: full (default; or $OVERFIT_SUBSET) or calibrated (full datasets cut to the "
                         "sizes and samples of the shared subsets the thresholds were calibrated on)")
    group.addoption("--tier", default=None, help="training tier for property tests: fast (default; or "
                    "$OVERFIT_TIER), full (the course's own epochs; tens of minutes) or smoke (seconds; plumbing only)")
    group.addoption("--seeds", default=None,
                    help="seeds for property tests, e.g. 0-19 (default: $OVERFIT_SEEDS or 0-2)")
    group.addoption("--retrain", action="store_true", help="ignore cached run records and train again")
    group.addoption("--cache-dir", default=None, help="run-record cache (default: $OVERFIT_CACHE_DIR or "
                    "~/.cache/overfit-bench/records)")
    group.addoption("--sequential", action="store_true",
                    help="also judge each property across seeds, training more seeds while inconclusive (up to 20; "
                         "tests/test_properties.py::test_across_seeds)")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_data: needs the real datasets (" + _enable_real() + ")")
    config.addinivalue_line("markers", "training: trains Keras models (seconds to minutes)")
    config.addinivalue_line("markers", "overfit_checks(variants, expected_failures, seeds, kinds): parametrise `case` "
                            "over every check that applies to the variants (see overfit_core.parametrize_with_checks)")
    from .errors import ConfigError
    from .parallel import configure_xdist_worker
    from .settings import Settings

    try:
        settings = Settings.resolve(tier=config.getoption("--tier"), seeds=config.getoption("--seeds"),
                                    data_dir=config.getoption("--data-dir"), cache_dir=config.getoption("--cache-dir"),
                                    retrain=config.getoption("--retrain"), subset=config.getoption("--subset"))
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[SETTINGS] = settings
    configure_xdist_worker(settings.tf_threads)  # pytest -n N: cores // N TF threads per worker, set before TF starts
    config.pluginmanager.register(_CheckCounter(settings), "overfit_bench_check_counter")


def settings_of(config) -> "Settings":
    return config.stash[SETTINGS]


def pytest_report_header(config):
    s = settings_of(config)
    return (f"overfit-bench: tier {s.tier}, seeds {','.join(map(str, s.seeds))} (reproduce one with "
            f"--seeds N or OVERFIT_SEEDS=N), real data {s.data_dir or ('download' if s.download else 'off')}"
            f"{f' ({s.subset} subset)' if s.subset != 'full' and s.real_available else ''}, record cache {s.cache_dir}")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("overfit_checks")
    if marker is None:
        return
    if "case" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} uses parametrize_with_checks but takes no `case` "
                                "argument. Expected: def test_...(case, suite).")
    from .cases import cases_for, check_expected_failures, expected_failure

    kw = marker.kwargs
    seeds = kw.get("seeds")
    settings = settings_of(metafunc.config)
    cases = cases_for(kw["variants"], seeds=settings.seeds if seeds is None else seeds,
                      kinds=kw["kinds"], checks=kw.get("checks"), tier=settings.tier)
    expected = check_expected_failures(kw.get("expected_failures"), cases)
    params = []
    grouped = metafunc.config.pluginmanager.hasplugin("xdist")
    for case in cases:
        marks = [pytest.mark.training]
        if grouped:  # with --dist loadgroup, one worker trains all records of one dataset, kind and seed; a mark
            # added in pytest_collection_modifyitems would come after xdist's own hook has read the groups
            marks.append(pytest.mark.xdist_group(f"{case.dataset}-{case.kind}-seed{case.seed}"))
        expectation = expected_failure(case, expected)
        if expectation is not None:
            marks.append(pytest.mark.xfail(strict=expectation[1], reason=expectation[0]))
        params.append(pytest.param(case, marks=marks, id=case.id))
    metafunc.parametrize("case", params)


def _case_of(item):
    from .cases import Case

    case = getattr(getattr(item, "callspec", None), "params", {}).get("case")
    return case if isinstance(case, Case) else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        case = _case_of(item) if "case" in getattr(item, "fixturenames", ()) else None
        if case is None:
            continue
        item.user_properties.append((CASE_PROPERTY, {"check": case.check, "variants": list(case.variants)}))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the case's verdict (numbers, threshold, margin) to its report, for CI annotations and summaries."""
    outcome = yield
    report = outcome.get_result()
    case = _case_of(item) if call.when == "call" else None
    suite = getattr(item, "funcargs", {}).get("suite") if case is not None else None
    result = getattr(suite, "results", {}).get(case.id) if suite is not None else None
    state = _outcome(report)
    if result is not None and state is not None:
        from .cases import verdict

        mark = item.get_closest_marker("xfail")  # what pytest_generate_tests put there from expected_failure()
        expectation = (mark.kwargs.get("reason", ""), mark.kwargs.get("strict", True)) if mark else None
        report.user_properties.append((VERDICT_PROPERTY, verdict(case, result, state, expectation)))


def _outcome(report) -> str | None:
    """A pytest report as a case outcome (`cases.RAN`, or 'skipped'/'error'); None: not the case's verdict."""
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xpassed" if report.passed else "xfailed"
        if report.failed and str(report.longrepr).startswith("[XPASS(strict)]"):
            return "xpassed"
        return report.outcome
    if report.when == "setup" and not report.passed:
        return "skipped" if report.skipped else "error"
    return None


class _CheckCounter:
    """Counts property cases by variant and outcome (on the pytest-xdist controller too)."""

    def __init__(self, settings):
        self.settings, self.tally, self.verdicts = settings, None, []

    def pytest_runtest_logreport(self, report):
        props = dict(tuple(p) for p in report.user_properties)
        if VERDICT_PROPERTY in props:
            self.verdicts.append(props[VERDICT_PROPERTY])
        info = props.get(CASE_PROPERTY)
        outcome = _outcome(report) if info else None
        if outcome is None:
            return
        if self.tally is None:
            from .cases import Tally

            self.tally = Tally()
        self.tally.add(info["variants"], info["check"], outcome)

    def pytest_terminal_summary(self, terminalreporter):
        if self.tally is None:
            return
        terminalreporter.write_sep("-", f"overfit-bench: checks run per variant (tier {self.settings.tier}, seeds "
                                        f"{','.join(map(str, self.settings.seeds))})")
        for line in self.tally.lines():
            terminalreporter.write_line(line)
        from .ci import publish

        publish(self.verdicts, write=terminalreporter.write_line)  # GitHub Actions only: annotations, job summary


@pytest.fixture(scope="session")
def overfit_settings(pytestconfig):
    """The session's `Settings` (tier, seeds, data, record cache)."""
    return settings_of(pytestconfig)


@pytest.fixture(scope="session")
def suite(overfit_settings):
    """Trains each (variant, data kind, seed) once per session, reusing the on-disk record cache."""
    from .cases import Suite

    return Suite(overfit_settings, enable_real=_enable_real())


@pytest.fixture(scope="session")
def real_data_dir(overfit_settings) -> Path:
    """The real data folder; tests that need it skip with a reason that says how to enable them."""
    if not overfit_settings.data_dir:
        if overfit_settings.download:  # the real data comes from keras.datasets: none missing, but no folder to read
            pytest.skip("no real data folder (--data-dir or OVERFIT_DATA_DIR); the real data comes from keras.datasets")
        overfit_settings.missing_real(_enable_real())
    path = Path(overfit_settings.data_dir)
    if not path.is_dir():
        pytest.fail(f"The real data folder {str(path)!r} (--data-dir or OVERFIT_DATA_DIR) is not a directory; fix it "
                    "or unset it to skip.")
    return path
