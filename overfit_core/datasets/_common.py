"""Shared machinery of `overfit_core.datasets`: options, containers, the registry, hashing and file helpers.

The dataset modules (`imdb.py`, `fashion_mnist.py`, `boston.py`, ...) import from here and never from the
package `__init__`, so any of them can be imported first (`import overfit_core.datasets.boston`) without an
import cycle. Everything here is re-exported by `overfit_core.datasets`; import it from there.
Nothing in this package reads environment variables: callers build `DataOptions` explicitly.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, ContextManager, Mapping, Optional, Tuple

import numpy as np

from ..errors import ConfigError, DataError, invalid

DATA_KINDS = ("synthetic", "real")
TASKS = ("binary", "multiclass", "regression")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: `DataOptions.subset`: "full" uses real data as its source holds it; "calibrated" cuts it to the samples of the
#: shared subsets the thresholds were calibrated on (each dataset's `DatasetDef.calibrated`).
SUBSETS = ("full", "calibrated")


def check_subset(value, argument: str = "subset") -> str:
    """`value` if it is one of `SUBSETS`, else ConfigError naming `argument` and what each value means."""
    if not isinstance(value, str) or value not in SUBSETS:
        raise ConfigError(invalid(argument, value, f"one of {', '.join(SUBSETS)}",
                                  "`calibrated` cuts the real datasets (keras.datasets or full files in the data "
                                  "directory) to the sizes and samples of the shared subsets the thresholds were "
                                  "calibrated on; `full` (the default) uses them as they are."))
    return value


@dataclass(frozen=True)
class DataOptions:
    """Where datasets come from and how they are prepared; every field is explicit (no environment)."""

    kind: str = "synthetic"
    data_dir: str | None = None
    download: bool = False
    synthetic_seed: int = 0
    word_num: int = 100
    standardize: bool = False
    subset: str = "full"  # real data only: "calibrated" (see SUBSETS); the synthetic look-alikes ignore it

    def __post_init__(self):
        if self.kind not in DATA_KINDS:
            raise ConfigError(invalid("data", self.kind, f"one of {', '.join(DATA_KINDS)}"))
        check_subset(self.subset)


@dataclass(frozen=True, eq=False)
class RawData:
    """A dataset as loaded, before preprocessing: arrays (npz layout) or a table (boston)."""

    name: str
    arrays: Mapping[str, Any]
    source: str
    sha256: str
    subset: str = "full"  # "calibrated": cut to the calibrated subset (then `sha256` is that of the arrays cut)


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
    kind: str = "synthetic"  # DataOptions.kind it was loaded with: "synthetic" or "real"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


# (x_train, y_train, x_val, y_val, params), as a dataset's `prepare` returns them
Prepared = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Mapping[str, Any]]


@dataclass(frozen=True)
class DatasetDef:
    """Everything the suite knows about one dataset; each dataset module registers one.

    Sources, tried by `load_dataset` in this order: `read_file(path)` on the first of `files` present in the data
    directory, then `from_keras()` when downloads are allowed; `synthetic(seed)` only for `kind="synthetic"`.
    Each returns the dataset's arrays (a dict; `{"table": DataFrame}` for tabular data) already validated, or
    raises DataError naming the file and what was expected. A source left None does not exist for the dataset.
    `prepare(raw, options)` turns a `RawData` into `(x_train, y_train, x_val, y_val, params)` (float32 inputs).
    `calibrated(arrays, origin)` cuts real arrays (`origin` "data-dir": a file as read, or "keras": what
    `from_keras` returned) to the samples the thresholds were calibrated on, for `DataOptions(subset="calibrated")`;
    it returns None when the arrays already are that subset, and raises DataError when they cannot give it. Left
    None, the dataset is used as loaded under `subset="calibrated"` too.
    The model head (`loss`, `output_units`, `output_activation`) and the training defaults (`epochs`,
    `max_train_samples` per tier, `fit_validation_split`) are read by the variants and the training config.
    """

    name: str
    task: str  # "binary" | "multiclass" | "regression"
    loss: str  # Keras loss id
    output_units: int
    output_activation: Optional[str]
    prepare: Callable[[RawData, DataOptions], Prepared] = field(repr=False)
    files: Tuple[str, ...] = ()  # names tried in the data directory, in order
    read_file: Optional[Callable[[Path], dict]] = field(default=None, repr=False)
    from_keras: Optional[Callable[[], dict]] = field(default=None, repr=False)
    synthetic: Optional[Callable[[int], dict]] = field(default=None, repr=False)
    output_layer: str = ""  # hint for error messages, e.g. "Dense(1, 'sigmoid')"; derived when empty
    input_hint: str = ""  # free text, e.g. "(28, 28) images"
    description: str = ""  # one line
    epochs: Mapping[str, int] = field(default_factory=dict)  # tier -> epochs for variants that set none
    max_train_samples: Mapping[str, int] = field(default_factory=dict)  # tier -> cap on training samples
    fit_validation_split: Optional[float] = None  # fit(validation_split=...) as the course does; None: x_val
    calibrated: Optional[Callable[[Mapping[str, Any], str], Optional[dict]]] = field(default=None, repr=False)

    def __post_init__(self):
        def bad(argument, value, expected):
            return ConfigError(invalid(f"DatasetDef.{argument}", value, expected)
                               + f" (dataset {self.name!r})")

        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise bad("name", self.name, "a Python identifier such as 'toy_regression'")
        if self.task not in TASKS:
            raise bad("task", self.task, f"one of {', '.join(TASKS)}")
        if not isinstance(self.loss, str) or not self.loss:
            raise bad("loss", self.loss, "a Keras loss id such as 'mse'")
        if isinstance(self.output_units, bool) or not isinstance(self.output_units, int) or self.output_units < 1:
            raise bad("output_units", self.output_units, "a positive integer")
        if self.output_activation is not None and not isinstance(self.output_activation, str):
            raise bad("output_activation", self.output_activation, "a Keras activation id or None")
        files = (self.files,) if isinstance(self.files, str) else tuple(self.files)
        if not all(isinstance(f, str) and f for f in files):
            raise bad("files", self.files, "a tuple of file names")
        if bool(files) != (self.read_file is not None):
            raise bad("files", files, "file names together with read_file, or neither")
        for argument in ("prepare", "read_file", "from_keras", "synthetic", "calibrated"):
            fn = getattr(self, argument)
            if (fn is not None or argument == "prepare") and not callable(fn):
                raise bad(argument, fn, "a function")
        if self.read_file is None and self.from_keras is None and self.synthetic is None:
            raise bad("read_file", None, "at least one source: read_file, from_keras or synthetic")
        tables = {}
        for argument in ("epochs", "max_train_samples"):
            table = dict(getattr(self, argument))
            for tier, n in table.items():
                if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                    raise bad(f"{argument}[{tier!r}]", n, "a positive integer")
            tables[argument] = MappingProxyType(table)
        split = self.fit_validation_split
        if split is not None and (isinstance(split, bool) or not isinstance(split, (int, float))
                                  or not 0 < split < 1):
            raise bad("fit_validation_split", split, "a fraction strictly between 0 and 1, or None")
        layer = self.output_layer or (f"Dense({self.output_units}, {self.output_activation!r})"
                                      if self.output_activation else f"Dense({self.output_units})")
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "output_layer", layer)
        for argument, table in tables.items():
            object.__setattr__(self, argument, table)

    def __hash__(self):  # the mapping fields are read-only views, which do not hash
        return hash((self.name, self.files, self.task, self.loss, self.output_units))


# --- the registry -----------------------------------------------------------------------------

_REGISTRY: dict[str, DatasetDef] = {}
#: Read-only live view of the registry, name -> DatasetDef, in registration order.
DATASETS: Mapping[str, DatasetDef] = MappingProxyType(_REGISTRY)


def register_dataset(defn: DatasetDef) -> DatasetDef:
    """Add `defn` to the registry and return it. Registering an equal definition again is a no-op."""
    if not isinstance(defn, DatasetDef):
        raise ConfigError(invalid("dataset definition", defn, "a DatasetDef"))
    taken = _REGISTRY.get(defn.name)
    if taken is None:
        _REGISTRY[defn.name] = defn
    elif taken != defn:
        raise ConfigError(f"Dataset name {defn.name!r} is already registered by a different definition "
                          f"(from {getattr(taken.prepare, '__module__', '?')}). Choose another name.")
    return _REGISTRY[defn.name]


def get_dataset(name: str) -> DatasetDef:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise ConfigError(invalid("dataset", name, f"one of {', '.join(_REGISTRY)}")) from None


def check_dataset_name(name: str) -> str:
    get_dataset(name)
    return name


# --- hashing ----------------------------------------------------------------------------------

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


PartValidator = Callable[[Any, str, np.ndarray, np.ndarray, int], Tuple[np.ndarray, np.ndarray]]


def validate_npz_layout(arrays: Mapping[str, Any], path: Path | str,
                        validate_part: PartValidator) -> dict[str, np.ndarray]:
    """Check the Keras train/test layout (`NPZ_KEYS`, non-empty x) and let `validate_part(path, part, x, y, n)`
    check and return each part's `(x, y)`; return the four arrays."""
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise _fail(path, f"missing keys {missing} (found {sorted(arrays)})", f"keys {list(NPZ_KEYS)}")
    out = {}
    for part in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{part}"]), np.asarray(arrays[f"y_{part}"])
        if x.ndim == 0 or x.shape[0] == 0:
            raise _fail(path, f"`x_{part}` is empty", "at least one sample in each of x_train and x_test")
        out[f"x_{part}"], out[f"y_{part}"] = validate_part(path, part, x, y, x.shape[0])
    return out


# --- files ------------------------------------------------------------------------------------

def read_npz(path: Path, validate: Callable[[dict, Path], dict], *, allow_pickle: bool = False,
             context: Callable[[], ContextManager] = contextlib.nullcontext) -> dict[str, np.ndarray]:
    """Read a .npz in the Keras train/test layout and return `validate(arrays, path)`.

    `allow_pickle` is for object arrays (Keras' imdb.npz); `context()` is entered around the read (inside the
    error handling), e.g. to let numpy 1 unpickle numpy 2 objects.
    """
    expected = f"a .npz archive with keys {list(NPZ_KEYS)}"
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty", expected)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # with allow_pickle, np.load would unpickle any other file
        raise _fail(path, f"is not a .npz (zip) archive: it starts with {magic!r}", expected)
    try:
        with context(), np.load(path, allow_pickle=allow_pickle) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # a damaged member fails in zipfile, zlib, numpy or pickle, in many ways
        raise _fail(path, f"cannot be read as .npz ({type(e).__name__}: {e})", expected) from None
    return validate(arrays, path)
