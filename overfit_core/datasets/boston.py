"""Boston housing: regression of the median home value `medv` from 12 features (course: learning rates).

File in a data directory: `boston.csv`, a header row with (case and spaces ignored) crim, zn, indus, chas, nox,
rm, age, dis, rad, tax, ptratio, lstat and the target medv; other columns (such as `b`) are dropped.
Preparation: MinMax scaling (or standardisation) fitted on the training part of a seeded 0.2 split.

`keras.datasets.boston_housing.load_data()` returns the same 506 rows shuffled by `np.random.RandomState(113)` and
split 404/102; the loader joins the two parts. The calibrated subset (`DataOptions.subset="calibrated"`,
:func:`calibrated`) is all 506 rows in the original order of `boston.csv` (the seeded split picks rows by position),
so from keras.datasets it undoes that shuffle.

Embedded look-alike, :func:`synthetic_boston` -- 506 rows of plausible-range, correlated housing features and a
nonlinear noisy ``medv`` target (5..50, censored at 50 like the original).  Deterministic and numpy-only:
the same ``seed`` always gives byte-identical output.  ``docs/synthetic.md`` describes how it is built and the
behaviour measured on it, side by side with the real file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preprocessing as pp
from ..errors import DataError
from ._common import DataOptions, DatasetDef, Prepared, RawData, _fail, register_dataset

NAME = "boston"
FILES = ("boston.csv",)
BOSTON_FEATURES = ("crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad", "tax", "ptratio", "lstat")
BOSTON_TARGET = "medv"
BOSTON_COLUMNS = [*BOSTON_FEATURES, BOSTON_TARGET]  # the look-alike's columns, in this order
VALIDATION_FRACTION = 0.2
SPLIT_RANDOM_STATE = 20
N_ROWS = 506  # the calibrated subset is the whole dataset
KERAS_SEED = 113  # keras.datasets.boston_housing.load_data()'s shuffle


# --------------------------------------------------------------------------- boston
def synthetic_boston(seed: int = 0):
    """Boston-housing look-alike: a ``pandas.DataFrame`` of 506 rows, columns
    :data:`BOSTON_COLUMNS` (all float64, no NaN), target ``medv`` in 5..50."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 506
    u = rng.standard_normal(n)  # latent "inner-city" factor driving most correlations
    crim = np.clip(np.exp(-1.3 + 2.0 * u + 0.9 * rng.standard_normal(n)), 0.006, 89.0)
    zn = np.where(u + 0.5 * rng.standard_normal(n) < -0.55,
                  rng.choice([12.5, 20.0, 22.0, 25.0, 30.0, 40.0, 45.0, 55.0, 60.0, 75.0, 80.0, 90.0, 95.0, 100.0], n),
                  0.0)
    indus = np.clip(10.5 + 6.0 * u + 3.0 * rng.standard_normal(n), 0.46, 27.74)
    chas = (rng.random(n) < 0.07).astype(np.float64)
    nox = np.clip(0.55 + 0.085 * u + 0.06 * rng.standard_normal(n), 0.385, 0.871)
    rm = np.clip(6.28 - 0.2 * u + 0.65 * rng.standard_normal(n), 3.56, 8.78)
    age = np.clip(70.0 + 22.0 * u + 18.0 * rng.standard_normal(n), 2.9, 100.0)
    dis = np.clip(np.exp(1.2 - 0.45 * u + 0.25 * rng.standard_normal(n)), 1.13, 12.13)
    high_rad = u + 0.6 * rng.standard_normal(n) > 0.75
    rad = np.where(high_rad, 24.0, rng.integers(1, 9, n).astype(np.float64))
    tax = np.where(high_rad, 666.0, np.clip(np.round(300.0 + 60.0 * u + 50.0 * rng.standard_normal(n)), 187.0, 711.0))
    ptratio = np.clip(np.round(18.5 + 1.4 * u + 1.5 * rng.standard_normal(n), 1), 12.6, 22.0)
    lstat = np.clip(np.exp(2.4 + 0.35 * u - 0.35 * (rm - 6.28) + 0.3 * rng.standard_normal(n)), 1.73, 37.97)
    log_medv = (3.05 + 0.12 * (rm - 6.28) + 0.09 * np.maximum(rm - 6.8, 0.0) * 3.0
                - 0.55 * (np.log(lstat) - 2.4) - 0.012 * crim - 0.018 * (ptratio - 18.5)
                - 0.35 * (nox - 0.55) + 0.06 * chas - 0.02 * (dis - 3.8) * (dis < 3.8)
                + 0.12 * rng.standard_normal(n))
    medv = np.clip(np.round(np.exp(log_medv), 1), 5.0, 50.0)
    cols = [crim, zn, indus, chas, nox, rm, age, dis, rad, tax, ptratio, lstat, medv]
    df = pd.DataFrame({name: np.asarray(c, dtype=np.float64) for name, c in zip(BOSTON_COLUMNS, cols)})
    return df


# --------------------------------------------------------------------------- validation and sources
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


def read_file(path: Path) -> dict:
    import pandas as pd

    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty", f"a CSV with a header row and target column `{BOSTON_TARGET}`")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"cannot be parsed as CSV ({type(e).__name__}: {e})",
                    f"a CSV with a header row and target column `{BOSTON_TARGET}`") from None
    return {"table": validate_boston_table(table, path)}


def from_keras() -> dict:
    import pandas as pd

    from ..compat import keras

    (xtr, ytr), (xte, yte) = keras.datasets.boston_housing.load_data()
    x, y = np.concatenate([xtr, xte]), np.concatenate([ytr, yte])
    cols = list(BOSTON_FEATURES[:11]) + ["b", "lstat"]  # keras' 13 columns include `b`
    table = pd.DataFrame(x, columns=cols).drop(columns="b").assign(medv=y)
    return {"table": validate_boston_table(table, "keras.datasets.boston_housing")}


def synthetic(seed: int) -> dict:
    return {"table": validate_boston_table(synthetic_boston(seed), "synthetic_boston")}


# --------------------------------------------------------------------------- the calibrated subset
def keras_order(n: int = N_ROWS, seed: int = KERAS_SEED) -> np.ndarray:
    """The original row of each row `keras.datasets.boston_housing.load_data()` returns (train, then test)."""
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    return order


def calibrated(arrays, origin: str) -> dict | None:
    """All 506 rows in the original order (from keras.datasets: its shuffle undone); None for a data directory's
    `boston.csv`, which holds them so."""
    table = arrays["table"]
    if len(table) != N_ROWS:
        raise DataError(f"boston from {origin} has {len(table)} rows; the calibrated subset is the whole dataset, "
                        f"{N_ROWS} rows. Use subset `full` with this data, or give the full dataset.")
    if origin != "keras":
        return None
    return {"table": table.iloc[np.argsort(keras_order())].reset_index(drop=True)}


# --------------------------------------------------------------------------- preparation
def prepare(raw: RawData, options: DataOptions) -> Prepared:
    """Seeded split; MinMax (or, with `options.standardize`, z-score) scaling fitted on the training part."""
    frac, seed = VALIDATION_FRACTION, SPLIT_RANDOM_STATE
    table = raw.arrays["table"]
    x = table[list(BOSTON_FEATURES)].to_numpy(np.float64)
    y = table[BOSTON_TARGET].to_numpy(np.float32).reshape(-1, 1)
    tr, va = pp.train_val_split(len(x), frac, seed)
    scaler = (pp.Standardizer if options.standardize else pp.MinMaxScaler).fit(x[tr])
    params = {"scaling": "standardize" if options.standardize else "minmax",
              "validation": f"split {frac}, random_state {seed}"}
    return scaler.transform(x[tr]), y[tr], scaler.transform(x[va]), y[va], params


DATASET = register_dataset(DatasetDef(
    name=NAME,
    description="Boston housing, median home value from 12 features",
    files=FILES,
    task="regression",
    loss="mse",
    output_units=1,
    output_activation=None,
    output_layer="Dense(1)",
    input_hint="(12,) scaled features",
    epochs={"full": 50, "fast": 50, "smoke": 3},
    max_train_samples={},
    fit_validation_split=0.2,  # the course calls fit(validation_split=0.2) on Boston
    read_file=read_file,
    from_keras=from_keras,
    synthetic=synthetic,
    calibrated=calibrated,
    prepare=prepare,
))
