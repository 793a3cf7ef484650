"""Loaders: the real files, corrupt copies of them, the source order and the synthetic data."""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overfit_core.datasets import (DATASETS, DataOptions, DatasetDef, enable_real_text, get_dataset, load_dataset,
                                   load_raw, register_dataset)
from overfit_core.datasets._common import _REGISTRY
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
@pytest.mark.parametrize("name", list(DATASETS))
def test_real_subset_loads_prepared_and_hashed(real_data_dir, name):
    d = load_dataset(name, real(real_data_dir))
    if d.source.endswith("_subset.npz") or d.source.endswith("boston.csv"):
        assert d.sha256 == SHA256[name]
        assert (d.x_train.shape, d.x_val.shape) == SHAPES[name]
    assert d.source.startswith("data-dir:") and d.kind == "real"
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

def test_no_source_names_the_three_ways():
    with pytest.raises(DataError) as info:
        load_raw("imdb", DataOptions(kind="real", data_dir=None, download=False))
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


def test_options_are_explicit_and_the_environment_is_ignored(monkeypatch, tmp_path):
    # Reading OVERFIT_DATA_DIR / OVERFIT_DOWNLOAD into DataOptions is the settings module's job, not the loaders'.
    _boston_table().to_csv(tmp_path / "boston.csv", index=False)
    monkeypatch.setenv("OVERFIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OVERFIT_DOWNLOAD", "1")
    opts = DataOptions(kind="real", data_dir=str(tmp_path), download=True)
    assert opts.data_dir == str(tmp_path) and opts.download and opts.kind == "real"
    assert not hasattr(DataOptions, "from_env")
    assert DataOptions() == DataOptions(kind="synthetic", data_dir=None, download=False)
    with pytest.raises(DataError, match="No source for dataset `boston`"):
        load_raw("boston", DataOptions(kind="real"))


def test_the_datasets_package_reads_no_environment():
    import overfit_core.datasets as package

    for path in Path(package.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bos\.environ\b|\bgetenv\b|\bfrom os import\b", text), path


def test_unknown_dataset_and_kind_list_valid_names():
    with pytest.raises(ConfigError, match="imdb, fashion_mnist, boston"):
        load_raw("mnist", DataOptions())
    with pytest.raises(ConfigError, match="synthetic, real"):
        DataOptions(kind="fake")


def test_real_file_copy_matches_original(real_data_dir, tmp_path):
    shutil.copy(real_data_dir / "boston.csv", tmp_path / "boston.csv")
    assert load_raw("boston", real(tmp_path)).sha256 == SHA256["boston"]


# --- synthetic --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(DATASETS))
def test_synthetic_is_deterministic_and_valid(name):
    a = load_dataset(name, DataOptions(kind="synthetic", synthetic_seed=0))
    b = load_dataset(name, DataOptions(kind="synthetic", synthetic_seed=0))
    c = load_dataset(name, DataOptions(kind="synthetic", synthetic_seed=1))
    assert a.sha256 == b.sha256 != c.sha256
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.source == "synthetic(seed=0)"
    assert a.x_train.dtype == np.float32 and np.isfinite(a.x_train).all()
    assert a.kind == "synthetic"


# --- the registry -----------------------------------------------------------------------------

@pytest.fixture
def registry():
    """The dataset registry, restored after the test: datasets registered in it vanish again."""
    saved = dict(_REGISTRY)
    yield _REGISTRY
    _REGISTRY.clear()
    _REGISTRY.update(saved)


def test_builtin_registry_order_and_heads():
    assert list(DATASETS) == ["imdb", "fashion_mnist", "boston"] and ",".join(DATASETS) == "imdb,fashion_mnist,boston"
    heads = {name: (d.task, d.loss, d.output_units, d.output_activation, d.output_layer) for name, d in DATASETS.items()}
    assert heads == {"imdb": ("binary", "binary_crossentropy", 1, "sigmoid", "Dense(1, 'sigmoid')"),
                     "fashion_mnist": ("multiclass", "sparse_categorical_crossentropy", 10, "softmax",
                                       "Dense(10, 'softmax')"),
                     "boston": ("regression", "mse", 1, None, "Dense(1)")}
    assert get_dataset("boston").fit_validation_split == 0.2 and get_dataset("imdb").fit_validation_split is None
    assert dict(get_dataset("fashion_mnist").epochs) == {"full": 20, "fast": 20, "smoke": 2}
    assert dict(get_dataset("imdb").max_train_samples) == {"smoke": 1000}
    with pytest.raises(TypeError):
        DATASETS["toy"] = get_dataset("imdb")  # a read-only view
    with pytest.raises(TypeError):
        get_dataset("imdb").epochs["smoke"] = 5
    assert len({get_dataset(n) for n in DATASETS}) == 3  # hashable


def _toy_table(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (40, 3))
    return {"table": pd.DataFrame(np.c_[x, x @ [1.0, -2.0, 0.5]], columns=["a", "b", "c", "y"])}


def _toy_prepare(raw, options):
    table = raw.arrays["table"]
    x, y = table[["a", "b", "c"]].to_numpy(np.float32), table[["y"]].to_numpy(np.float32)
    return x[:30], y[:30], x[30:], y[30:], {"validation": "last 10 rows"}


TOY = DatasetDef(name="toy_regression", task="regression", loss="mse", output_units=1, output_activation=None,
                 synthetic=_toy_table, prepare=_toy_prepare, description="a linear toy", input_hint="(3,)")


def test_a_dataset_is_one_registered_definition(registry):
    assert register_dataset(TOY) is TOY and register_dataset(TOY) is TOY  # the same definition again: no-op
    assert list(DATASETS)[-1] == "toy_regression" and get_dataset("toy_regression") is TOY
    d = load_dataset("toy_regression", DataOptions(kind="synthetic", synthetic_seed=3))
    assert (d.x_train.shape, d.y_train.shape, d.x_val.shape, d.y_val.shape) == ((30, 3), (30, 1), (10, 3), (10, 1))
    assert d.kind == "synthetic" and d.source == "synthetic(seed=3)" and len(d.sha256) == 64
    assert d.params == {"validation": "last 10 rows"} and d.input_shape == (3,)
    assert TOY.output_layer == "Dense(1)" and dict(TOY.epochs) == {}
    # A dataset without files or a keras loader has no real source, and says which ways it does have.
    with pytest.raises(DataError, match=r"No source for dataset `toy_regression`. Get it one way: \(1\) the embedded"):
        load_raw("toy_regression", DataOptions(kind="real", data_dir="/nonexistent", download=True))
    assert enable_real_text().count(".npz") == 2  # no file to name for the toy


def test_registered_datasets_leave_the_registry_after_the_test():
    assert "toy_regression" not in DATASETS and list(DATASETS) == ["imdb", "fashion_mnist", "boston"]


def test_a_taken_name_with_a_different_definition_is_refused(registry):
    other = dataclasses.replace(get_dataset("boston"), description="another boston")
    with pytest.raises(ConfigError, match="'boston' is already registered"):
        register_dataset(other)
    assert get_dataset("boston") is not other
    register_dataset(TOY)
    with pytest.raises(ConfigError, match="'toy_regression' is already registered"):
        register_dataset(dataclasses.replace(TOY, output_units=2))


@pytest.mark.parametrize("change,problem", [
    (dict(task="ranking"), "one of binary, multiclass, regression"),
    (dict(name="toy regression"), "identifier"),
    (dict(output_units=0), "positive integer"),
    (dict(files=("toy.csv",)), "together with read_file"),
    (dict(synthetic=None), "at least one source"),
    (dict(epochs={"smoke": 0}), r"epochs\['smoke'\]"),
    (dict(fit_validation_split=1.0), "strictly between 0 and 1"),
])
def test_bad_definitions_are_config_errors(change, problem):
    with pytest.raises(ConfigError, match=problem):
        dataclasses.replace(TOY, **change)


def test_enable_real_text_names_every_registered_first_file(registry, tmp_path):
    text = enable_real_text()
    assert text == ("set OVERFIT_DATA_DIR=DIR (or pass --data-dir DIR) to a folder holding imdb_subset.npz, "
                    "fashion_mnist_subset.npz and boston.csv, or OVERFIT_DOWNLOAD=1 to fetch them with keras.datasets")
    register_dataset(dataclasses.replace(TOY, files=("toy.csv", "toy_full.csv"),
                                         read_file=lambda path: _toy_table(0)))
    text = enable_real_text()
    for d in DATASETS.values():
        assert d.files[0] in text
    assert "boston.csv and toy.csv" in text and "toy_full.csv" not in text
    (tmp_path / "toy_full.csv").write_text("a,b,c,y\n")  # the second file name is tried too
    raw = load_raw("toy_regression", DataOptions(kind="real", data_dir=str(tmp_path)))
    assert raw.source == f"data-dir:{(tmp_path / 'toy_full.csv').resolve()}" and len(raw.arrays["table"]) == 40


def test_a_dataset_module_imports_first_without_tensorflow():
    code = ("import sys; import overfit_core.datasets.boston as b; import overfit_core.datasets as d; "
            "assert b.DATASET is d.get_dataset('boston') and list(d.DATASETS) == ['imdb', 'fashion_mnist', 'boston']; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
