"""Datasets: one module per dataset, registered here; where they come from and how they are prepared.

Each dataset module (`imdb.py`, `fashion_mnist.py`, `boston.py`) holds its file names, validation, reader,
`keras.datasets` loader, embedded synthetic look-alike and preparation, and ends with
`DATASET = register_dataset(DatasetDef(...))`. Adding a dataset is one new module of that shape, imported
once (the built-ins are imported at the bottom of this file).

Sources, in order: a data directory (`DataOptions.data_dir`), then `keras.datasets` when downloads are allowed
(`DataOptions.download`). Embedded synthetic look-alikes are used only when asked for (`kind="synthetic"`);
never as a silent fallback. `DataOptions.subset="calibrated"` cuts real data from either source to the samples of
the shared subsets the thresholds were calibrated on (`DatasetDef.calibrated`); the look-alikes are left as they
are. Data-directory files are read with numpy/pandas, never handed to `keras.datasets` (Keras 3 rejects absolute
paths there, and Keras deletes cached files whose sha256 it does not expect).
Nothing here reads environment variables: callers build `DataOptions` from their settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError, DataError, invalid
from ._common import (  # noqa: F401  re-exported: the shared machinery
    DATA_KINDS,
    DATASETS,
    NPZ_KEYS,
    SUBSETS,
    TASKS,
    DataOptions,
    Dataset,
    DatasetDef,
    Prepared,
    RawData,
    _fail,
    _validate_labels,
    check_dataset_name,
    check_subset,
    get_dataset,
    read_npz,
    register_dataset,
    sha256_arrays,
    sha256_file,
    validate_npz_layout,
)

# --- sources ----------------------------------------------------------------------------------


def _from_data_dir(defn: DatasetDef, data_dir: str) -> RawData:
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(invalid("data_dir", str(data_dir), "an existing directory",
                                "Point --data-dir / OVERFIT_DATA_DIR at the folder holding the dataset files."))
    for fname in defn.files:
        path = root / fname
        if path.is_file():
            arrays = defn.read_file(path)
            return RawData(defn.name, arrays, f"data-dir:{path.resolve()}", sha256_file(path))
    raise DataError(f"{root}: no file for dataset `{defn.name}`. Expected one of {', '.join(defn.files)}.")


def _from_keras(defn: DatasetDef) -> RawData:
    arrays = defn.from_keras()
    return RawData(defn.name, arrays, f"keras.datasets.{defn.name}", sha256_arrays(arrays))


def _synthetic(defn: DatasetDef, seed: int) -> RawData:
    if defn.synthetic is None:
        raise DataError(f"Dataset `{defn.name}` has no embedded synthetic look-alike. " + _three_ways(defn.name))
    arrays = defn.synthetic(seed)
    return RawData(defn.name, arrays, f"synthetic(seed={seed})", sha256_arrays(arrays))


def _subset(defn: DatasetDef, raw: RawData, origin: str, subset: str) -> RawData:
    """`raw` as loaded (subset "full"), or cut to the calibrated subset; the cut arrays get their own sha256."""
    if subset == "full":
        return raw
    arrays = defn.calibrated(raw.arrays, origin) if defn.calibrated is not None else None
    if arrays is None:  # already the calibrated subset (or a dataset that defines none): the data as loaded
        return RawData(raw.name, raw.arrays, raw.source, raw.sha256, subset=subset)
    return RawData(raw.name, arrays, f"{raw.source} ({subset} subset)", sha256_arrays(arrays), subset=subset)


def load_raw(name: str, options: DataOptions) -> RawData:
    """Load a dataset from the first source that has it; raise DataError naming all the ways to get it."""
    defn = get_dataset(name)
    if options.kind == "synthetic":  # `options.subset` does not apply: the look-alikes are subset-sized already
        return _synthetic(defn, options.synthetic_seed)
    if options.data_dir and defn.read_file is not None:
        return _subset(defn, _from_data_dir(defn, options.data_dir), "data-dir", options.subset)
    if options.download and defn.from_keras is not None:
        try:
            raw = _from_keras(defn)
        except DataError:
            raise
        except Exception as e:  # network and cache errors from keras.datasets
            raise DataError(f"keras.datasets could not download `{name}` ({type(e).__name__}: {e}). "
                            + _three_ways(name)) from None
        return _subset(defn, raw, "keras", options.subset)
    raise DataError(f"No source for dataset `{name}`. " + _three_ways(name))


_COUNT = {1: "one way", 2: "one of two ways", 3: "one of three ways"}


def _three_ways(name: str) -> str:
    """The ways to get dataset `name`: data directory, keras.datasets, synthetic (those it has)."""
    defn = get_dataset(name)
    ways = []
    if defn.read_file is not None:
        ways.append(f"a data directory holding {' or '.join(defn.files)} via --data-dir DIR or OVERFIT_DATA_DIR=DIR")
    if defn.from_keras is not None:
        ways.append("download with keras.datasets via --download or OVERFIT_DOWNLOAD=1")
    if defn.synthetic is not None:
        ways.append("the embedded synthetic look-alike via --data synthetic")
    numbered = "; ".join(f"({i}) {way}" for i, way in enumerate(ways, 1))
    return f"Get it {_COUNT[len(ways)]}: {numbered}."


def enable_real_text() -> str:
    """How to get the real datasets, naming the first file of every registered dataset that has files."""
    names = [defn.files[0] for defn in DATASETS.values() if defn.files]
    files = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return (f"set OVERFIT_DATA_DIR=DIR (or pass --data-dir DIR) to a folder holding {files}, "
            "or OVERFIT_DOWNLOAD=1 to fetch them with keras.datasets")


# --- preparation ------------------------------------------------------------------------------

def prepare(raw: RawData, options: DataOptions = DataOptions()) -> Dataset:
    """Preprocess a raw dataset as the course does and split it into train and validation.

    `Dataset.kind` is `options.kind`: pass the options `raw` was loaded with. A calibrated subset is named in
    `params` (`subset`), which are part of every record's cache key.
    """
    x_tr, y_tr, x_val, y_val, params = get_dataset(raw.name).prepare(raw, options)
    if raw.subset != "full":
        params = {**params, "subset": raw.subset}
    return Dataset(raw.name, x_tr, y_tr, x_val, y_val, raw.source, raw.sha256, params, kind=options.kind)


def load_dataset(name: str, options: DataOptions) -> Dataset:
    return prepare(load_raw(name, options), options)


# --- the built-in datasets, in this order -----------------------------------------------------

from . import imdb, fashion_mnist, boston  # noqa: E402,F401  registers the built-in datasets
from .boston import BOSTON_FEATURES, BOSTON_TARGET, validate_boston_table  # noqa: E402

_NPZ_VALIDATORS = {"imdb": imdb.validate_arrays, "fashion_mnist": fashion_mnist.validate_arrays}


def validate_npz_arrays(name: str, arrays: Mapping[str, Any], path: Path | str) -> dict[str, np.ndarray]:
    """Check keys, dtypes, shapes and label ranges of an imdb or fashion_mnist npz; return the arrays."""
    try:
        validate = _NPZ_VALIDATORS[name]
    except (KeyError, TypeError):
        raise ConfigError(invalid("dataset", name, f"one of {', '.join(_NPZ_VALIDATORS)}")) from None
    return validate(arrays, path)


__all__ = [
    "BOSTON_FEATURES", "BOSTON_TARGET", "DATASETS", "DATA_KINDS", "NPZ_KEYS", "SUBSETS", "TASKS", "DataOptions",
    "Dataset", "DatasetDef", "Prepared", "RawData", "check_dataset_name", "check_subset", "enable_real_text",
    "get_dataset", "load_dataset", "load_raw", "prepare", "read_npz", "register_dataset", "sha256_arrays",
    "sha256_file", "validate_boston_table", "validate_npz_arrays", "validate_npz_layout",
]
