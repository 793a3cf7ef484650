"""Root pytest configuration: hypothesis profiles, and how many workers `pytest -n auto` starts here.

Options, markers and fixtures come from the overfit-bench pytest plugin (overfit_core/pytest_plugin.py,
the `pytest11` entry point `overfit_bench`), installed with the package.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_xdist_auto_num_workers(config):
    """`-n auto` in this repository: one worker more than the cores (PYTEST_XDIST_AUTO_NUM_WORKERS overrides).

    Each worker trains with one TensorFlow thread per core it gets (overfit_core.parallel.xdist_threads), and
    a worker that is between ops, or waiting for a child process, leaves its core idle; on 2 cores a third worker
    took the idle time from 28% to 11% and the cold suite from 6 min 35 s to 5 min 58 s (README: Suite time).
    """
    from overfit_core.parallel import available_cores

    env = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if env:
        return int(env)
    return available_cores() + 1
