"""Loaders: the real files, corrupt copies of them, the source order and the synthetic data."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from overfit_core.data import DATASETS, DataOptions, load_dataset, load_raw
from overfit_core.errors import ConfigError, DataError

# sha256 published in shared/data/README.md
SHA256 = {
    "imdb": "da99e324dca330e1655b535beaab61c0cfb42f104f48a53b22ca83d2c608c029",
    "fashion_mnist": "b1657cbb177be3898e041d2337641e8c4cc5b15e453c23a87a5399b5ac90a02d",
    "boston": "4e093693d2f9567190a524964a69bd41cfd51b4435d1dd9806f9bc8d430bb93b",
}
SHAPES = {  # (x_train, x_val) after preparation of the shared subsets
    "imdb": ((5000, 100), (1000, 100)),
    "fashion_mnist": ((903, 28, 28), (226, 28, 28)),
    "boston": ((404, 12), (102, 12)),
}


def real(data_dir) -> DataOptions:
    return DataOptions(kind="real", data_dir=str(data_dir))


@pytest.mark.real_data
@pytest.mark.parametrize("name", DATASETS)
def test_real_subset_loads_prepared_and_hashed(real_data_dir, name):
    d = load_dataset(name, real(real_data_dir))
    if d.source.endswith("_subset.npz") or d.source.endswith("boston.csv"):
        assert d.sha256 == SHA256[name]
        assert (d.x_train.shape, d.x_val.shape) == SHAPES[name]
    assert d.source.startswith("data-dir:")
    assert d.x_train.dtype == np.float32 and len(d.x_train) == len(d.y_train)
    assert np.isfinite(d.x_train).all() and np.isfinite(d.x_val).all()


@pytest.mark.real_data
def test_boston_minmax_is_fitted_on_training_part(real_data_dir):
    d = load_dataset("boston", real(real_data_dir))
    assert d.x_train.min() == 0.0 and d.x_train.max() == pytest.approx(1.0)
    np.testing.assert_allclose(d.x_train.min(axis=0), 0)
    assert d.params["scaling"] == "minmax"
    z = load_dataset("boston", DataOptions(kind="real", data_dir=str(real_data_dir), standardize=True))
    np.testing.assert_allclose(z.x_train.mean(axis=0), 0, atol=1e-5)


@pytest.mark.real_data
def test_imdb_multi_hot_columns_hold_the_reserved_ids(real_data_dir):
    d = load_dataset("imdb", real(real_data_dir))
    assert (d.x_train[:, 1] == 1).all()  # the start token is in every review
    assert set(np.unique(d.y_train)) == {0.0, 1.0} and d.y_train.shape == (5000, 1)


# --- corrupt copies ---------------------------------------------------------------------------

@pytest.fixture
def broken_dir(tmp_path):
    return tmp_path


def _fashion(n=12):
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), "y_train": np.arange(n, dtype=np.uint8) % 10,
            "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), "y_test": np.arange(4, dtype=np.uint8)}


def _imdb():
    seqs = np.empty(3, dtype=object)
    seqs[:] = [[1, 14, 22], [1, 5], [1, 2, 2, 99]]
    return {"x_train": seqs, "y_train": np.array([0, 1, 1]), "x_test": seqs, "y_test": np.array([1, 0, 1])}


CORRUPT_NPZ = {
    "wrong keys": ("fashion_mnist", lambda a: {"images": a["x_train"], "labels": a["y_train"]}, "missing keys"),
    "27x28 images": ("fashion_mnist", lambda a: {**a, "x_train": a["x_train"][:, :27]}, r"shape \(12, 27, 28\)"),
    "float images": ("fashion_mnist", lambda a: {**a, "x_train": a["x_train"].astype(np.float32)}, "float32"),
    "labels outside 0..9": ("fashion_mnist", lambda a: {**a, "y_train": a["y_train"] + 5}, r"labels in 5\.\.14"),
    "label count mismatch": ("fashion_mnist", lambda a: {**a, "y_test": a["y_test"][:2]}, "for 4 samples"),
    "empty x_test": ("fashion_mnist", lambda a: {**a, "x_test": a["x_test"][:0], "y_test": a["y_test"][:0]}, "empty"),
    "imdb label 2": ("imdb", lambda a: {**a, "y_train": np.array([0, 1, 2])}, r"labels in 0\.\.1"),
    "imdb float ids": ("imdb", lambda a: {**a, "x_test": np.ones((3, 4), np.float32)}, "word-id lists"),
}


@pytest.mark.parametrize("case", CORRUPT_NPZ, ids=lambda c: c.replace(" ", "_"))
def test_corrupt_npz_is_rejected_with_file_problem_and_expectation(broken_dir, case):
    name, mutate, problem = CORRUPT_NPZ[case]
    arrays = mutate(_imdb() if name == "imdb" else _fashion())
    path = broken_dir / ("imdb.npz" if name == "imdb" else "fashion_mnist.npz")
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=problem) as info:
        load_raw(name, real(broken_dir))
    assert str(path) in str(info.value) and "Expected" in str(info.value)


@pytest.mark.parametrize("name,fname", [("imdb", "imdb_subset.npz"), ("fashion_mnist", "fashion_mnist.npz"),
                                        ("boston", "boston.csv")])
def test_empty_file_is_rejected(broken_dir, name, fname):
    (broken_dir / fname).write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_raw(name, real(broken_dir))


def test_truncated_npz_is_rejected(broken_dir):
    path = broken_dir / "fashion_mnist.npz"
    np.savez(path, **_fashion())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot be read as .npz"):
        load_raw("fashion_mnist", real(broken_dir))


def _boston_table(n=30):
    rng = np.random.default_rng(1)
    cols = ["crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad", "tax", "ptratio", "lstat", "medv"]
    return pd.DataFrame(rng.uniform(1, 50, (n, len(cols))), columns=cols)


@pytest.mark.parametrize("mutate,problem", [
    (lambda t: t.drop(columns="medv"), r"missing columns \['medv'\]"),
    (lambda t: t.assign(rm=[np.nan] + [1.0] * (len(t) - 1)), "NaN or inf at row 0, column `rm`"),
    (lambda t: t.assign(tax=["x"] * len(t)), r"non-numeric values in columns \['tax'\]"),
    (lambda t: t.head(3), "only 3 rows"),
], ids=["missing_medv", "nan", "text", "too_short"])
def test_bad_boston_csv_is_rejected(broken_dir, mutate, problem):
    mutate(_boston_table()).to_csv(broken_dir / "boston.csv", index=False)
    with pytest.raises(DataError, match=problem):
        load_raw("boston", real(broken_dir))


def test_valid_hand_made_files_load(broken_dir):
    np.savez(broken_dir / "fashion_mnist.npz", **_fashion())
    np.savez(broken_dir / "imdb.npz", **_imdb())
    _boston_table().to_csv(broken_dir / "boston.csv", index=False)
    for name in DATASETS:
        assert load_dataset(name, real(broken_dir)).sha256


# --- source order -----------------------------------------------------------------------------

def test_no_source_names_the_three_ways(monkeypatch):
    monkeypatch.delenv("OVERFIT_DATA_DIR", raising=False)
    monkeypatch.delenv("OVERFIT_DOWNLOAD", raising=False)
    with pytest.raises(DataError) as info:
        load_raw("imdb", DataOptions.from_env(kind="real"))
    msg = str(info.value)
    assert "OVERFIT_DATA_DIR" in msg and "OVERFIT_DOWNLOAD=1" in msg and "--data synthetic" in msg


def test_missing_data_dir_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="an existing directory"):
        load_raw("boston", real(tmp_path / "nope"))
    with pytest.raises(DataError, match="imdb_subset.npz, imdb.npz"):
        load_raw("imdb", real(tmp_path))


def test_data_dir_wins_over_download(tmp_path):
    _boston_table().to_csv(tmp_path / "boston.csv", index=False)
    raw = load_raw("boston", DataOptions(kind="real", data_dir=str(tmp_path), download=True))
    assert raw.source.startswith("data-dir:")


def test_env_fills_options(monkeypatch, tmp_path):
    monkeypatch.setenv("OVERFIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OVERFIT_DOWNLOAD", "1")
    opts = DataOptions.from_env()
    assert opts.data_dir == str(tmp_path) and opts.download and opts.kind == "real"


def test_unknown_dataset_and_kind_list_valid_names():
    with pytest.raises(ConfigError, match="imdb, fashion_mnist, boston"):
        load_raw("mnist", DataOptions())
    with pytest.raises(ConfigError, match="synthetic, real"):
        DataOptions(kind="fake")


def test_real_file_copy_matches_original(real_data_dir, tmp_path):
    shutil.copy(real_data_dir / "boston.csv", tmp_path / "boston.csv")
    assert load_raw("boston", real(tmp_path)).sha256 == SHA256["boston"]


# --- synthetic --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
def test_synthetic_is_deterministic_and_valid(name):
    a = load_dataset(name, DataOptions(kind="synthetic", synthetic_seed=0))
    b = load_dataset(name, DataOptions(kind="synthetic", synthetic_seed=0))
    c = load_dataset(name, DataOptions(kind="synthetic", synthetic_seed=1))
    assert a.sha256 == b.sha256 != c.sha256
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.source == "synthetic(seed=0)"
    assert a.x_train.dtype == np.float32 and np.isfinite(a.x_train).all()
