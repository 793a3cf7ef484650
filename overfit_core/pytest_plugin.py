"""The overfit-bench pytest plugin, registered through the ``pytest11`` entry point ``overfit_bench``.

A repository with overfit-bench installed gets the options --tier, --seeds, --data-dir, --cache-dir
and --retrain; the markers ``training``, ``real_data`` and ``check(name)``; the fixtures ``suite``
and ``real_data_dir``; a report header that says how to reproduce a run; and, at the end, how many
checks ran per variant. Loading it does not import TensorFlow.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ENABLE_REAL = ("set OVERFIT_DATA_DIR=DIR (or pass --data-dir DIR) to a folder holding imdb_subset.npz, "
               "fashion_mnist_subset.npz and boston.csv, or OVERFIT_DOWNLOAD=1 to fetch them with keras.datasets")
CASE_PROPERTY = "overfit_bench_case"  # user_properties entry: travels with reports from pytest-xdist workers


def pytest_addoption(parser):
    group = parser.getgroup("overfit-bench")
    group.addoption("--data-dir", default=None, help="folder with the real datasets (default: $OVERFIT_DATA_DIR)")
    group.addoption("--tier", default=None, help="training tier for property tests: fast (default; or "
                    "$OVERFIT_TIER), full (the course's own epochs; tens of minutes) or smoke (seconds; plumbing only)")
    group.addoption("--seeds", default=None,
                    help="seeds for property tests, e.g. 0-19 (default: $OVERFIT_SEEDS or 0-2)")
    group.addoption("--retrain", action="store_true", help="ignore cached run records and train again")
    group.addoption("--cache-dir", default=None, help="run-record cache (default: $OVERFIT_CACHE_DIR or "
                    "~/.cache/overfit-bench/records)")


def _set_env(config, name: str, value: str) -> None:
    """Set for this session only (pytester runs many sessions in one process)."""
    old = os.environ.get(name)
    os.environ[name] = value
    config.add_cleanup(lambda: os.environ.__setitem__(name, old) if old is not None else os.environ.pop(name, None))


def pytest_configure(config):
    config.addinivalue_line("markers", "real_data: needs the real datasets (" + ENABLE_REAL + ")")
    config.addinivalue_line("markers", "training: trains Keras models (seconds to minutes)")
    config.addinivalue_line("markers", "check(name): a property test of the named check; parametrised over "
                            "its variants, the data kinds and the seeds")
    from .config import get_config, parse_seeds
    from .errors import ConfigError

    try:
        get_config(_tier(config))
        parse_seeds(_seeds_text(config))
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from None
    data_dir = config.getoption("--data-dir")
    if data_dir:
        _set_env(config, "OVERFIT_DATA_DIR", str(Path(data_dir).resolve()))
    if config.getoption("--seeds"):  # parametrize_with_checks runs at import, before any fixture: it reads this
        _set_env(config, "OVERFIT_SEEDS", config.getoption("--seeds"))
    from .parallel import configure_xdist_worker

    configure_xdist_worker()  # pytest -n N: cores // N TF threads per worker, set before TF starts
    config.pluginmanager.register(_CheckCounter(config), "overfit_bench_check_counter")


def _seeds_text(config) -> str:
    return config.getoption("--seeds") or os.environ.get("OVERFIT_SEEDS") or "0-2"


def _seeds(config) -> tuple[int, ...]:
    from .config import parse_seeds

    return parse_seeds(_seeds_text(config))


def _tier(config) -> str:
    return config.getoption("--tier") or os.environ.get("OVERFIT_TIER") or "fast"


def _cache_dir(config) -> Path:
    from .records import default_cache_dir

    value = config.getoption("--cache-dir")
    return Path(value).expanduser() if value else default_cache_dir()


def pytest_report_header(config):
    seeds = _seeds(config)
    return (f"overfit-bench: tier {_tier(config)}, seeds {','.join(map(str, seeds))} (reproduce one with "
            f"--seeds N or OVERFIT_SEEDS=N), real data {os.environ.get('OVERFIT_DATA_DIR') or 'off'}, "
            f"record cache {_cache_dir(config)}")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("check")
    if marker is None or "case" not in metafunc.fixturenames:
        return
    from .known_failures import installed_tf_version, known_failure
    from .suite import cases

    if len(marker.args) != 1:
        raise pytest.UsageError(f"Invalid value received for `@pytest.mark.check`. Expected one check name. "
                                f"Received: args={marker.args!r} on {metafunc.definition.nodeid}.")
    check = marker.args[0]
    tf_version = installed_tf_version()
    reason = known_failure(check, tf_version) if tf_version else None
    known = () if reason is None else (pytest.mark.xfail(strict=True, reason=f"known failure on this TensorFlow: {reason}"),)
    metafunc.parametrize("case", [pytest.param(c, id=c.id, marks=known or uncalibrated_marks(c))
                                  for c in cases(check, _seeds(metafunc.config))])


def uncalibrated_marks(case) -> tuple:
    from .suite import not_calibrated

    reason = not_calibrated(case)
    return () if reason is None else (pytest.mark.xfail(strict=False, reason=reason),)


def _case_of(item):
    from .suite import Case

    case = getattr(getattr(item, "callspec", None), "params", {}).get("case")
    return case if isinstance(case, Case) else None


def pytest_collection_modifyitems(config, items):
    grouped = config.pluginmanager.hasplugin("xdist")
    for item in items:
        case = _case_of(item) if "case" in getattr(item, "fixturenames", ()) else None
        if case is None:
            continue
        item.user_properties.append((CASE_PROPERTY, {"check": case.binding.check.name,
                                                     "variants": list(case.binding.variants)}))
        if grouped:  # with --dist loadgroup, one worker trains all records of one dataset, kind and seed
            item.add_marker(pytest.mark.xdist_group(f"{case.dataset}-{case.kind}-seed{case.seed}"))


def _outcome(report) -> str | None:
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

    def __init__(self, config):
        self.config, self.tally = config, None

    def pytest_runtest_logreport(self, report):
        info = dict(tuple(p) for p in report.user_properties).get(CASE_PROPERTY)
        outcome = _outcome(report) if info else None
        if outcome is None:
            return
        if self.tally is None:
            from .user_variants import Tally

            self.tally = Tally()
        self.tally.add(info["variants"], info["check"], outcome)

    def pytest_terminal_summary(self, terminalreporter):
        if self.tally is None:
            return
        terminalreporter.write_sep("-", f"overfit-bench: checks run per variant (tier {_tier(self.config)}, seeds "
                                        f"{','.join(map(str, _seeds(self.config)))})")
        for line in self.tally.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def suite(pytestconfig):
    """Trains each (variant, data kind, seed) once per session, reusing the on-disk record cache."""
    from .suite import PropertySuite

    return PropertySuite.create(_tier(pytestconfig), _cache_dir(pytestconfig),
                                retrain=pytestconfig.getoption("--retrain"), enable_real=ENABLE_REAL)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real data folder; tests that need it skip with a reason that says how to enable them."""
    value = os.environ.get("OVERFIT_DATA_DIR")
    if not value:
        pytest.skip("real datasets not configured: " + ENABLE_REAL)
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"OVERFIT_DATA_DIR={value!r} is not a directory; fix the variable or unset it to skip.")
    return path
