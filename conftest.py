"""Root pytest configuration: hypothesis profiles.

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
