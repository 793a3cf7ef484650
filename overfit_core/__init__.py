"""overfit-bench: regression tests for textbook TensorFlow/Keras training behaviour.

Importing this package does not import TensorFlow; training and model building do.
"""
from __future__ import annotations

from .config import FAST, FULL, SMOKE, TIERS, TrainConfig, get_config
from .data import DATASETS, DataOptions, Dataset, load_dataset, load_raw, prepare
from .errors import ConfigError, DataError, OverfitBenchError
from .records import KernelStats, RecordStore, RunRecord
from .variants import EXPERIMENTS, VARIANTS, VariantSpec, get_variant, variants_for
from .user_variants import CheckReport, check_variants, parametrize_with_checks, variant

__version__ = "0.1.0"
# TensorFlow minor versions the suite supports (one tox env each).
SUPPORTED_TF = ("2.12", "2.13", "2.14", "2.15", "2.16", "2.17", "2.18", "2.19", "2.20", "2.21")


def train(spec, dataset, seed, config):
    """Train `spec` on `dataset` with `seed` under `config`; see `overfit_core.training.train`."""
    from .training import train as _train

    return _train(spec, dataset, seed, config)


__all__ = [
    "DATASETS", "EXPERIMENTS", "FAST", "FULL", "SMOKE", "SUPPORTED_TF", "TIERS", "VARIANTS", "CheckReport", "ConfigError",
    "DataError", "DataOptions", "Dataset", "KernelStats", "OverfitBenchError", "RecordStore", "RunRecord", "TrainConfig",
    "VariantSpec", "check_variants", "get_config", "get_variant", "load_dataset", "load_raw", "parametrize_with_checks",
    "prepare", "train", "variant", "variants_for",
]
