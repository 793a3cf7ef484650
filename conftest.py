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


def pytest_configure(config):
    config.addinivalue_line("markers", "real_data: needs the real datasets (" + ENABLE_REAL + ")")
    config.addinivalue_line("markers", "training: trains Keras models (seconds to minutes)")
    data_dir = config.getoption("--data-dir")
    if data_dir:
        os.environ["OVERFIT_DATA_DIR"] = str(Path(data_dir).resolve())


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
