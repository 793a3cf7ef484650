"""Root pytest configuration: options, markers, hypothesis profiles and data fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ENABLE_REAL = ("set OVERFIT_DATA_DIR=DIR (or pass --data-dir DIR) to a folder holding imdb_subset.npz, "
               "fashion_mnist_subset.npz and boston.csv, or OVERFIT_DOWNLOAD=1 to fetch them with keras.datasets")


def pytest_addoption(parser):
    group = parser.getgroup("overfit-bench")
    group.addoption("--data-dir", default=None, help="folder with the real datasets (default: $OVERFIT_DATA_DIR)")
    group.addoption("--tier", default=None, help="training tier for property tests: fast (default) or full "
                    "(the course's own epochs; tens of minutes)")
    group.addoption("--seeds", default=None, help="seeds for property tests, e.g. 0-19 (default: $OVERFIT_SEEDS or 0-2)")
    group.addoption("--retrain", action="store_true", help="ignore cached run records and train again")
    group.addoption("--cache-dir", default=None, help="run-record cache (default: $OVERFIT_CACHE_DIR or "
                    "~/.cache/overfit-bench/records)")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_data: needs the real datasets (" + ENABLE_REAL + ")")
    config.addinivalue_line("markers", "training: trains Keras models (seconds to minutes)")
    config.addinivalue_line("markers", "check(name): a property test of the named check; parametrised over "
                            "its variants, the data kinds and the seeds")
    data_dir = config.getoption("--data-dir")
    if data_dir:
        os.environ["OVERFIT_DATA_DIR"] = str(Path(data_dir).resolve())


def _seeds(config) -> tuple[int, ...]:
    from overfit_core.config import parse_seeds

    return parse_seeds(config.getoption("--seeds") or os.environ.get("OVERFIT_SEEDS") or "0-2")


def _tier(config) -> str:
    return config.getoption("--tier") or os.environ.get("OVERFIT_TIER") or "fast"


def _cache_dir(config) -> Path:
    from overfit_core.records import default_cache_dir

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
    from overfit_core.suite import cases

    params = cases(marker.args[0], _seeds(metafunc.config))
    metafunc.parametrize("case", params, ids=[c.id for c in params])


@pytest.fixture(scope="session")
def suite(pytestconfig):
    """Trains each (variant, data kind, seed) once per session, reusing the on-disk record cache."""
    from overfit_core.suite import PropertySuite

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
