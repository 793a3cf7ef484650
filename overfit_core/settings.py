"""Settings, resolved once: explicit values (CLI or pytest options), then OVERFIT_* variables, then defaults.

Every consumer (the CLI, the pytest plugin, `check_variants`, the benchmarks) builds one `Settings`
and passes it down; nothing below reads the environment for these.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .config import TrainConfig, get_config, parse_seeds
from .datasets import DataOptions, check_subset
from .errors import ConfigError, invalid, positive_int

DEFAULT_SEEDS = "0-2"
TRUE = ("1", "true", "yes")


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "overfit-bench" / "records"


@dataclass(frozen=True)
class Settings:
    """What a run of the suite trains, on which data, and where records are kept."""

    tier: str = "fast"
    seeds: tuple[int, ...] = (0, 1, 2)
    data_dir: str | None = None  # the real datasets' folder
    download: bool = False  # allow keras.datasets to fetch the real datasets
    cache_dir: Path = default_cache_dir()
    retrain: bool = False
    tf_threads: int | None = None  # TF threads per pytest-xdist worker (None: cores // workers)
    require_real: bool = False  # a missing real dataset fails the real-data tests instead of skipping them
    subset: str = "full"  # real data: "calibrated" cuts full datasets to the shared subsets' samples (DataOptions)

    def __post_init__(self):
        get_config(self.tier)
        check_subset(self.subset)

    @classmethod
    def resolve(cls, *, tier: str | None = None, seeds=None, data_dir: str | None = None, download: bool | None = None,
                cache_dir: str | Path | None = None, retrain: bool = False, require_real: bool | None = None,
                subset: str | None = None, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Explicit arguments win; unset ones come from OVERFIT_TIER, OVERFIT_SEEDS, OVERFIT_DATA_DIR,
        OVERFIT_DOWNLOAD, OVERFIT_CACHE_DIR, OVERFIT_TF_THREADS, OVERFIT_REQUIRE_REAL and OVERFIT_SUBSET, then from
        the defaults."""
        threads = environ.get("OVERFIT_TF_THREADS") or None
        if threads is not None:
            try:
                threads = positive_int("OVERFIT_TF_THREADS", int(threads))
            except ValueError:
                raise ConfigError(invalid("OVERFIT_TF_THREADS", threads, "a positive integer")) from None
        if data_dir is None:
            data_dir = environ.get("OVERFIT_DATA_DIR") or None
        cache = cache_dir if cache_dir is not None else environ.get("OVERFIT_CACHE_DIR") or default_cache_dir(environ)
        if not str(cache).strip():
            raise ConfigError(invalid("cache_dir", cache_dir, "a folder path", "Pass --cache-dir DIR or unset it."))
        if subset is None:
            subset = check_subset(environ.get("OVERFIT_SUBSET") or "full", "OVERFIT_SUBSET")
        return cls(
            tier=tier if tier is not None else environ.get("OVERFIT_TIER") or "fast",
            seeds=parse_seeds(seeds if seeds is not None else environ.get("OVERFIT_SEEDS") or DEFAULT_SEEDS),
            data_dir=str(Path(data_dir).expanduser().resolve()) if data_dir else None,
            download=download if download is not None else environ.get("OVERFIT_DOWNLOAD", "").lower() in TRUE,
            cache_dir=Path(cache).expanduser(), retrain=bool(retrain), tf_threads=threads,
            require_real=(require_real if require_real is not None
                          else environ.get("OVERFIT_REQUIRE_REAL", "").lower() in TRUE),
            subset=subset)

    @property
    def config(self) -> TrainConfig:
        return get_config(self.tier)

    @property
    def real_available(self) -> bool:
        return bool(self.data_dir or self.download)

    def missing_real(self, how_to_enable: str) -> None:
        """Skip a real-data test, saying how to enable it; fail it instead under OVERFIT_REQUIRE_REAL=1."""
        import pytest

        if self.require_real:
            pytest.fail("real datasets required (OVERFIT_REQUIRE_REAL=1) but not configured: " + how_to_enable)
        pytest.skip("real datasets not configured: " + how_to_enable)

    def data_options(self, kind: str) -> DataOptions:
        if kind == "real":
            return DataOptions(kind="real", data_dir=self.data_dir, download=self.download, subset=self.subset)
        return DataOptions(kind=kind)
