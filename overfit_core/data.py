"""Datasets: where they come from, how each file is validated, and how each is prepared.

Sources, in order: a data directory (`--data-dir` / `OVERFIT_DATA_DIR`), then `keras.datasets`
when downloads are allowed (`--download` / `OVERFIT_DOWNLOAD=1`). Embedded synthetic look-alikes
(`synthetic.py`) are used only when asked for (`kind="synthetic"`); never as a silent fallback.
Data-directory files are read with numpy/pandas, never handed to `keras.datasets` (Keras 3
rejects absolute paths there, and Keras deletes cached files whose sha256 it does not expect).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import preprocessing as pp
from .errors import ConfigError, DataError, invalid

DATASETS = ("imdb", "fashion_mnist", "boston")
DATA_KINDS = ("synthetic", "real")
FILES = {
    "imdb": ("imdb_subset.npz", "imdb.npz"),
    "fashion_mnist": ("fashion_mnist_subset.npz", "fashion_mnist.npz"),
    "boston": ("boston.csv",),
}
BOSTON_FEATURES = ("crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad", "tax", "ptratio", "lstat")
BOSTON_TARGET = "medv"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLITS = {"fashion_mnist": (0.2, 42), "boston": (0.2, 20)}  # (validation fraction, random_state)


@dataclass(frozen=True)
class DataOptions:
    """Where datasets come from. `from_env` fills unset fields from OVERFIT_* variables."""

    kind: str = "synthetic"
    data_dir: str | None = None
    download: bool = False
    synthetic_seed: int = 0
    word_num: int = 100
    standardize: bool = False

    def __post_init__(self):
        if self.kind not in DATA_KINDS:
            raise ConfigError(invalid("data", self.kind, f"one of {', '.join(DATA_KINDS)}"))

    @classmethod
    def from_env(cls, kind: str = "real", data_dir: str | None = None, download: bool | None = None,
                 **kw: Any) -> "DataOptions":
        env = os.environ
        if data_dir is None:
            data_dir = env.get("OVERFIT_DATA_DIR") or None
        if download is None:
            download = env.get("OVERFIT_DOWNLOAD", "").lower() in ("1", "true", "yes")
        return cls(kind=kind, data_dir=data_dir, download=download, **kw)


@dataclass(frozen=True, eq=False)
class RawData:
    """A dataset as loaded, before preprocessing: arrays (npz layout) or a table (boston)."""

    name: str
    arrays: Mapping[str, Any]
    source: str
    sha256: str


@dataclass(frozen=True, eq=False)
class Dataset:
    """A prepared dataset: float32 model inputs and targets, split into train and validation."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    source: str
    sha256: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def check_dataset_name(name: str) -> str:
    if name not in DATASETS:
        raise ConfigError(invalid("dataset", name, f"one of {', '.join(DATASETS)}"))
    return name


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_arrays(arrays: Mapping[str, Any]) -> str:
    """Content hash for data that has no file (synthetic, or arrays returned by keras.datasets)."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        value = arrays[key]
        h.update(key.encode())
        if hasattr(value, "to_numpy"):  # a pandas table
            h.update(",".join(map(str, value.columns)).encode())
            value = value.to_numpy()
        value = np.asarray(value)
        if value.dtype == object:
            for item in value:
                h.update(np.asarray(item, dtype=np.int64).tobytes())
                h.update(b"|")
        else:
            h.update(str(value.dtype).encode() + str(value.shape).encode())
            h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


# --- validation -------------------------------------------------------------------------------

def _fail(path: Path | str, problem: str, expected: str) -> DataError:
    return DataError(f"{path}: {problem}. Expected {expected}.")


def _validate_labels(path, key, y, allowed: range, n: int) -> np.ndarray:
    if y.ndim != 1 or y.shape[0] != n:
        raise _fail(path, f"`{key}` has shape {y.shape} for {n} samples", f"a 1-D array of {n} labels")
    if not np.issubdtype(y.dtype, np.integer):
        raise _fail(path, f"`{key}` has dtype {y.dtype}", "integer labels")
    if n and (y.min() < allowed.start or y.max() >= allowed.stop):
        raise _fail(path, f"`{key}` has labels in {int(y.min())}..{int(y.max())}",
                    f"labels in {allowed.start}..{allowed.stop - 1}")
    return y


def validate_npz_arrays(name: str, arrays: Mapping[str, Any], path: Path | str) -> dict[str, np.ndarray]:
    """Check keys, dtypes, shapes and label ranges of an imdb or fashion_mnist npz; return the arrays."""
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise _fail(path, f"missing keys {missing} (found {sorted(arrays)})", f"keys {list(NPZ_KEYS)}")
    out = {}
    for part in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{part}"]), np.asarray(arrays[f"y_{part}"])
        if x.ndim == 0 or x.shape[0] == 0:
            raise _fail(path, f"`x_{part}` is empty", "at least one sample in each of x_train and x_test")
        n = x.shape[0]
        if name == "imdb":
            x = _validate_imdb_sequences(path, f"x_{part}", x)
            y = _validate_labels(path, f"y_{part}", y, range(0, 2), n)
        else:
            if x.dtype != np.uint8 or x.shape[1:] != (28, 28):
                raise _fail(path, f"`x_{part}` is {x.dtype} with shape {x.shape}", "uint8 images of shape (N, 28, 28)")
            y = _validate_labels(path, f"y_{part}", y, range(0, 10), n)
        out[f"x_{part}"], out[f"y_{part}"] = x, y
    return out


def _validate_imdb_sequences(path, key: str, x: np.ndarray) -> np.ndarray:
    if x.dtype != object and not (x.ndim == 2 and np.issubdtype(x.dtype, np.integer)):
        raise _fail(path, f"`{key}` is {x.dtype} with shape {x.shape}",
                    "an object array of integer word-id lists (Keras' imdb.npz layout)")
    seqs = list(x) if x.dtype == object else [row for row in x]
    for i, s in enumerate(seqs):
        try:
            a = np.asarray(s)
        except (ValueError, TypeError):  # ragged nesting such as [[1, 2], [3]]
            raise _fail(path, f"`{key}[{i}]` is a ragged nested list", "a 1-D list of integer word ids") from None
        if a.ndim != 1 or not (a.size == 0 or np.issubdtype(a.dtype, np.integer)):
            raise _fail(path, f"`{key}[{i}]` is {a.dtype} with shape {a.shape}", "a 1-D list of integer word ids")
        if a.size and a.min() < 0:
            raise _fail(path, f"`{key}[{i}]` holds the negative word id {int(a.min())}", "word ids >= 0")
        if a.size and int(a.max()) > np.iinfo(np.int64).max:  # Python ints: numpy 1 compares uint64 as float
            raise _fail(path, f"`{key}[{i}]` holds the word id {int(a.max())}", "word ids below 2**63")
    out = np.empty(len(seqs), dtype=object)
    out[:] = [np.asarray(s, dtype=np.int64) for s in seqs]
    return out


def validate_boston_table(table, path: Path | str):
    """Check columns, numeric values, NaN/inf and row count of the Boston table."""
    columns = [str(c).strip().lower() for c in table.columns]
    table = table.set_axis(columns, axis=1)
    missing = [c for c in (*BOSTON_FEATURES, BOSTON_TARGET) if c not in columns]
    if missing:
        raise _fail(path, f"missing columns {missing} (found {columns})",
                    f"a header with {', '.join(BOSTON_FEATURES)} and target `{BOSTON_TARGET}`")
    twice = sorted({c for c in columns if columns.count(c) > 1} & {*BOSTON_FEATURES, BOSTON_TARGET})
    if twice:
        raise _fail(path, f"columns {twice} appear more than once (found {columns})", "each column once")
    table = table[list(BOSTON_FEATURES) + [BOSTON_TARGET]]
    if len(table) < 10:
        raise _fail(path, f"only {len(table)} rows", "at least 10 rows (the full file has 506)")
    from pandas.api.types import is_numeric_dtype

    bad = [c for c in table.columns if not is_numeric_dtype(table[c].dtype)]
    if bad:
        raise _fail(path, f"non-numeric values in columns {bad}", "numbers in every column")
    values = table.to_numpy(np.float64)
    if not np.isfinite(values).all():
        rows, cols = np.nonzero(~np.isfinite(values))
        raise _fail(path, f"NaN or inf at row {int(rows[0])}, column `{table.columns[cols[0]]}`",
                    "finite numbers in every cell")
    if np.abs(values).max() > np.finfo(np.float32).max:  # the model reads float32: such a cell becomes inf
        rows, cols = np.nonzero(np.abs(values) > np.finfo(np.float32).max)
        raise _fail(path, f"{values[rows[0], cols[0]]:g} at row {int(rows[0])}, column `{table.columns[cols[0]]}` "
                    "is beyond float32", "numbers within +-3.4e38 in every cell")
    return table.astype(np.float64)


# --- sources ----------------------------------------------------------------------------------

def _unpickle_context(name: str):
    """Object arrays (imdb) may be pickled by another numpy major; compat reads both (imports TF)."""
    if name != "imdb":
        return contextlib.nullcontext()
    from .compat import numpy2_pickles

    return numpy2_pickles()


def _read_npz(name: str, path: Path) -> dict[str, np.ndarray]:
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty", f"a .npz archive with keys {list(NPZ_KEYS)}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # with allow_pickle, np.load would unpickle any other file
        raise _fail(path, f"is not a .npz (zip) archive: it starts with {magic!r}",
                    f"a .npz archive with keys {list(NPZ_KEYS)}")
    try:
        # allow_pickle: Keras' own imdb.npz stores reviews as object arrays.
        with _unpickle_context(name), np.load(path, allow_pickle=(name == "imdb")) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # a damaged member fails in zipfile, zlib, numpy or pickle, in many ways
        raise _fail(path, f"cannot be read as .npz ({type(e).__name__}: {e})",
                    f"a .npz archive with keys {list(NPZ_KEYS)}") from None
    return validate_npz_arrays(name, arrays, path)


def _read_csv(path: Path):
    import pandas as pd

    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty", f"a CSV with a header row and target column `{BOSTON_TARGET}`")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"cannot be parsed as CSV ({type(e).__name__}: {e})",
                    f"a CSV with a header row and target column `{BOSTON_TARGET}`") from None
    return validate_boston_table(table, path)


def _from_data_dir(name: str, data_dir: str) -> RawData:
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(invalid("data_dir", str(data_dir), "an existing directory",
                                "Point --data-dir / OVERFIT_DATA_DIR at the folder holding the dataset files."))
    for fname in FILES[name]:
        path = root / fname
        if path.is_file():
            arrays = {"table": _read_csv(path)} if name == "boston" else _read_npz(name, path)
            return RawData(name, arrays, f"data-dir:{path.resolve()}", sha256_file(path))
    raise DataError(f"{root}: no file for dataset `{name}`. Expected one of {', '.join(FILES[name])}.")


def _from_keras(name: str) -> RawData:
    from .compat import keras

    if name == "imdb":
        (xtr, ytr), (xte, yte) = keras.datasets.imdb.load_data()
        arrays = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    elif name == "fashion_mnist":
        (xtr, ytr), (xte, yte) = keras.datasets.fashion_mnist.load_data()
        arrays = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    else:
        import pandas as pd

        (xtr, ytr), (xte, yte) = keras.datasets.boston_housing.load_data()
        x, y = np.concatenate([xtr, xte]), np.concatenate([ytr, yte])
        cols = list(BOSTON_FEATURES[:11]) + ["b", "lstat"]  # keras' 13 columns include `b`
        table = pd.DataFrame(x, columns=cols).drop(columns="b").assign(medv=y)
        arrays = {"table": validate_boston_table(table, "keras.datasets.boston_housing")}
    if name != "boston":
        arrays = validate_npz_arrays(name, arrays, f"keras.datasets.{name}")
    return RawData(name, arrays, f"keras.datasets.{name}", sha256_arrays(arrays))


def _synthetic(name: str, seed: int) -> RawData:
    from . import synthetic

    if name == "boston":
        arrays = {"table": validate_boston_table(synthetic.synthetic_boston(seed), "synthetic_boston")}
    else:
        gen = synthetic.synthetic_imdb if name == "imdb" else synthetic.synthetic_fashion
        arrays = validate_npz_arrays(name, gen(seed), f"synthetic_{name}")
    return RawData(name, arrays, f"synthetic(seed={seed})", sha256_arrays(arrays))


def load_raw(name: str, options: DataOptions) -> RawData:
    """Load a dataset from the first source that has it; raise DataError naming all three ways."""
    check_dataset_name(name)
    if options.kind == "synthetic":
        return _synthetic(name, options.synthetic_seed)
    if options.data_dir:
        return _from_data_dir(name, options.data_dir)
    if options.download:
        try:
            return _from_keras(name)
        except DataError:
            raise
        except Exception as e:  # network and cache errors from keras.datasets
            raise DataError(f"keras.datasets could not download `{name}` ({type(e).__name__}: {e}). "
                            + _three_ways(name)) from None
    raise DataError(f"No source for dataset `{name}`. " + _three_ways(name))


def _three_ways(name: str) -> str:
    return ("Get it one of three ways: (1) a data directory holding "
            f"{' or '.join(FILES[name])} via --data-dir DIR or OVERFIT_DATA_DIR=DIR; "
            "(2) download with keras.datasets via --download or OVERFIT_DOWNLOAD=1; "
            "(3) the embedded synthetic look-alike via --data synthetic.")


# --- preparation ------------------------------------------------------------------------------

def prepare(raw: RawData, options: DataOptions = DataOptions()) -> Dataset:
    """Preprocess a raw dataset as the course does and split it into train and validation."""
    a = raw.arrays
    if raw.name == "imdb":
        x_tr, x_val = (pp.multi_hot(a[k], options.word_num) for k in ("x_train", "x_test"))
        y_tr, y_val = (np.asarray(a[k], np.float32).reshape(-1, 1) for k in ("y_train", "y_test"))
        params = {"word_num": options.word_num, "validation": "x_test"}
    elif raw.name == "fashion_mnist":
        frac, seed = SPLITS["fashion_mnist"]
        tr, va = pp.train_val_split(len(a["x_train"]), frac, seed)
        x = pp.scale_images(a["x_train"])
        y = np.asarray(a["y_train"], np.int64)
        x_tr, x_val, y_tr, y_val = x[tr], x[va], y[tr], y[va]
        params = {"validation": f"split {frac} of x_train, random_state {seed}"}
    else:
        frac, seed = SPLITS["boston"]
        table = a["table"]
        x = table[list(BOSTON_FEATURES)].to_numpy(np.float64)
        y = table[BOSTON_TARGET].to_numpy(np.float32).reshape(-1, 1)
        tr, va = pp.train_val_split(len(x), frac, seed)
        scaler = (pp.Standardizer if options.standardize else pp.MinMaxScaler).fit(x[tr])
        x_tr, x_val, y_tr, y_val = scaler.transform(x[tr]), scaler.transform(x[va]), y[tr], y[va]
        params = {"scaling": "standardize" if options.standardize else "minmax",
                  "validation": f"split {frac}, random_state {seed}"}
    return Dataset(raw.name, x_tr, y_tr, x_val, y_val, raw.source, raw.sha256, params)


def load_dataset(name: str, options: DataOptions) -> Dataset:
    return prepare(load_raw(name, options), options)
