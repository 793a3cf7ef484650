"""overfit-bench: regression tests for textbook TensorFlow/Keras training behaviour.

Importing this package does not import TensorFlow; training and model building do.
"""
from __future__ import annotations

from .cases import Case, CheckReport, cases_for, check_variants, expected_failure, parametrize_with_checks
from .checks import CHECKS, CheckResult, check
from .config import FAST, FULL, SMOKE, TIERS, TrainConfig, get_config
from .datasets import DATASETS, DataOptions, Dataset, DatasetDef, load_dataset, load_raw, prepare, register_dataset
from .errors import ConfigError, DataError, OverfitBenchError
from .records import KernelStats, RecordStore, RunRecord
from .settings import Settings
from .variants import TAGS, VARIANTS, VariantSpec, experiments, get_variant, register_variant, variant, variants_for

__version__ = "0.1.0"
# TensorFlow minor versions the suite supports (one tox env each).
SUPPORTED_TF = ("2.12", "2.13", "2.14", "2.15", "2.16", "2.17", "2.18", "2.19", "2.20", "2.21")


def train(spec, dataset, seed, config):
    """Train `spec` on `dataset` with `seed` under `config`; see `overfit_core.training.train`."""
    from .training import train as _train

    return _train(spec, dataset, seed, config)


__all__ = [
    "CHECKS", "DATASETS", "FAST", "FULL", "SMOKE", "SUPPORTED_TF", "TAGS", "TIERS", "VARIANTS", "Case", "CheckReport",
    "CheckResult", "ConfigError", "DataError", "DataOptions", "Dataset", "DatasetDef", "KernelStats",
    "OverfitBenchError", "RecordStore", "RunRecord", "Settings", "TrainConfig", "VariantSpec", "cases_for", "check",
    "check_variants", "expected_failure", "experiments", "get_config", "get_variant", "load_dataset", "load_raw",
    "parametrize_with_checks", "prepare", "register_dataset", "register_variant", "train", "variant", "variants_for",
]
