"""The calibrated subset (`--subset calibrated`, OVERFIT_SUBSET): full real data cut to the shared subsets' samples.

No internet and no training: `keras.datasets` loaders are replaced by fakes that return larger arrays in the
official layout (and, for imdb, follow `load_data()`'s own steps), and full-size files are written to a temporary
data directory.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from overfit_core.config import get_config
from overfit_core.datasets import SUBSETS, DataOptions, boston, fashion_mnist, imdb, load_dataset, load_raw
from overfit_core.errors import ConfigError, DataError
from overfit_core.settings import Settings

CALIBRATED = DataOptions(kind="real", download=True, subset="calibrated")
FULL = DataOptions(kind="real", download=True)
SHAPES = {  # (x_train, x_val) after preparation, as of the shared subsets (tests/test_data.py)
    "imdb": ((5000, 100), (1000, 100)),
    "fashion_mnist": ((903, 28, 28), (226, 28, 28)),
    "boston": ((404, 12), (102, 12)),
}


def in_dir(path, subset="calibrated") -> DataOptions:
    return DataOptions(kind="real", data_dir=str(path), subset=subset)


def _objects(seqs) -> np.ndarray:
    out = np.empty(len(seqs), dtype=object)
    out[:] = list(seqs)
    return out


# --- fakes of the official datasets ------------------------------------------------------------

@pytest.fixture(scope="module")
def raw_imdb() -> dict:
    """Keras' own imdb.npz, in small: word ids by frequency from 1 (3 is common), no start token, ragged reviews."""
    rng = np.random.default_rng(0)

    def reviews(n):
        return _objects([list(np.minimum(rng.zipf(1.3, rng.integers(5, 40)), 1200).tolist()) for _ in range(n)])

    return {"x_train": reviews(6000), "y_train": rng.integers(0, 2, 6000).astype(np.int64),
            "x_test": reviews(1500), "y_test": rng.integers(0, 2, 1500).astype(np.int64)}


def keras_imdb_load_data(raw):
    """keras.datasets.imdb.load_data, step by step as Keras writes it, on `raw` instead of the download."""
    def load_data(num_words=None, seed=113, start_char=1, oov_char=2, index_from=3):
        x_train, labels_train, x_test, labels_test = raw["x_train"], raw["y_train"], raw["x_test"], raw["y_test"]
        rng = np.random.RandomState(seed)
        indices = np.arange(len(x_train))
        rng.shuffle(indices)
        x_train, labels_train = x_train[indices], labels_train[indices]
        indices = np.arange(len(x_test))
        rng.shuffle(indices)
        x_test, labels_test = x_test[indices], labels_test[indices]
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
        xs = x_train + x_test
        labels = np.concatenate([labels_train, labels_test])
        num_words = num_words or max(max(x) for x in xs)
        xs = [[w if w < num_words else oov_char for w in x] for x in xs]
        idx = len(x_train)
        return ((np.array(xs[:idx], dtype="object"), labels[:idx]),
                (np.array(xs[idx:], dtype="object"), labels[idx:]))

    return load_data


@pytest.fixture(scope="module")
def official_fashion() -> dict:
    """3,000 training and 500 test images; pixels (0, 0) and (0, 1) hold each image's index in its split."""
    rng = np.random.default_rng(1)
    out = {}
    for part, n in (("train", 3000), ("test", 500)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        x[:, 0, 0], x[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
        out[f"x_{part}"], out[f"y_{part}"] = x, rng.integers(0, 10, n).astype(np.uint8)
    return out


def image_index(x: np.ndarray) -> np.ndarray:
    return x[:, 0, 0].astype(np.int64) + 256 * x[:, 0, 1].astype(np.int64)


@pytest.fixture(scope="module")
def boston_table() -> pd.DataFrame:
    """506 rows in the original order (what boston.csv holds)."""
    return boston.synthetic_boston(0)


@pytest.fixture
def fake_keras(monkeypatch, raw_imdb, official_fashion, boston_table):
    """keras.datasets' three loaders, returning the fakes in the official layout (boston shuffled and split 404/102
    by RandomState(113), as Keras does)."""
    from overfit_core.compat import keras

    def boston_load_data(test_split=0.2, seed=113):
        x = boston_table[list(boston.BOSTON_FEATURES)].assign(b=396.9)
        x = x[[*boston.BOSTON_FEATURES[:11], "b", "lstat"]].to_numpy(np.float64)
        y = boston_table[boston.BOSTON_TARGET].to_numpy(np.float64)
        indices = np.arange(len(x))
        np.random.RandomState(seed).shuffle(indices)
        x, y = x[indices], y[indices]
        n = int(len(x) * (1 - test_split))
        return (x[:n], y[:n]), (x[n:], y[n:])

    f = official_fashion
    monkeypatch.setattr(keras.datasets.imdb, "load_data", keras_imdb_load_data(raw_imdb))
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data",
                        lambda: ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])))
    monkeypatch.setattr(keras.datasets.boston_housing, "load_data", boston_load_data)
    return keras


# --- imdb ---------------------------------------------------------------------------------------

def test_imdb_is_the_first_5000_and_1000_reviews_of_load_data_capped_at_500(fake_keras, raw_imdb):
    (xtr, ytr), (xte, yte) = keras_imdb_load_data(raw_imdb)(num_words=500)  # how imdb_subset.npz was made
    raw = load_raw("imdb", CALIBRATED)
    a = raw.arrays
    assert (len(a["x_train"]), len(a["x_test"])) == (5000, 1000) and raw.subset == "calibrated"
    assert [list(s) for s in a["x_train"]] == [list(s) for s in xtr[:5000]]
    assert [list(s) for s in a["x_test"]] == [list(s) for s in xte[:1000]]
    np.testing.assert_array_equal(a["y_train"], ytr[:5000])
    np.testing.assert_array_equal(a["y_test"], yte[:1000])
    ids = np.concatenate([*a["x_train"], *a["x_test"]])
    assert ids.max() < 500 and (ids == 2).any() and all(s[0] == 1 for s in a["x_train"])
    full = load_raw("imdb", FULL)
    assert raw.sha256 != full.sha256 and raw.source == full.source + " (calibrated subset)"
    d = load_dataset("imdb", CALIBRATED)
    assert (d.x_train.shape, d.x_val.shape) == SHAPES["imdb"]


def test_imdb_from_full_files_in_a_data_dir_equals_the_download(fake_keras, raw_imdb, tmp_path):
    downloaded = load_raw("imdb", CALIBRATED)
    np.savez(tmp_path / "imdb.npz", **raw_imdb)  # Keras' own file as downloaded
    from_raw = load_raw("imdb", in_dir(tmp_path))
    assert imdb.is_raw_keras_file(raw_imdb) and from_raw.sha256 == downloaded.sha256
    (xtr, ytr), (xte, yte) = keras_imdb_load_data(raw_imdb)()
    encoded = tmp_path / "encoded"
    encoded.mkdir()
    np.savez(encoded / "imdb.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)  # load_data()'s output, saved
    assert not imdb.is_raw_keras_file({"x_train": xtr, "x_test": xte})
    assert load_raw("imdb", in_dir(encoded)).sha256 == downloaded.sha256


def test_imdb_subset_file_is_left_as_it_is_and_too_few_reviews_are_an_error(fake_keras, raw_imdb, tmp_path):
    a = load_raw("imdb", CALIBRATED).arrays
    np.savez(tmp_path / "imdb_subset.npz", **a)
    as_is, cut = load_raw("imdb", in_dir(tmp_path, "full")), load_raw("imdb", in_dir(tmp_path))
    assert cut.sha256 == as_is.sha256 and cut.source == as_is.source and cut.subset == "calibrated"
    assert imdb.calibrated(as_is.arrays, "data-dir") is None
    small = tmp_path / "small"
    small.mkdir()
    np.savez(small / "imdb.npz", x_train=a["x_train"][:100], y_train=a["y_train"][:100], x_test=a["x_test"],
             y_test=a["y_test"])
    with pytest.raises(DataError, match=r"100 training and 1,000 test reviews: too few for the calibrated subset"):
        load_raw("imdb", in_dir(small))
    assert load_raw("imdb", in_dir(small, "full")).arrays["x_train"].shape == (100,)


# --- fashion_mnist ------------------------------------------------------------------------------

def test_fashion_is_1413_training_images_split_1129_284_by_class(fake_keras, official_fashion, tmp_path):
    raw = load_raw("fashion_mnist", CALIBRATED)
    a = raw.arrays
    assert (a["x_train"].shape, a["x_test"].shape) == ((1129, 28, 28), (284, 28, 28))
    assert a["x_train"].dtype == np.uint8 and a["y_train"].dtype == official_fashion["y_train"].dtype
    train, test = image_index(a["x_train"]), image_index(a["x_test"])
    assert sorted([*train, *test]) == list(range(1413))  # the first 1,413 official training images, each once
    np.testing.assert_array_equal(a["y_train"], official_fashion["y_train"][train])
    np.testing.assert_array_equal(a["y_test"], official_fashion["y_train"][test])
    counts = np.bincount(official_fashion["y_train"][:1413], minlength=10)
    held = np.bincount(a["y_test"], minlength=10)
    assert (np.abs(held - counts * 284 / 1413) < 1).all()  # stratified: each class in proportion
    assert load_raw("fashion_mnist", CALIBRATED).sha256 == raw.sha256  # seeded: the same every time
    np.savez(tmp_path / "fashion_mnist.npz", **official_fashion)  # the full file in a data directory
    assert load_raw("fashion_mnist", in_dir(tmp_path)).sha256 == raw.sha256
    d = load_dataset("fashion_mnist", CALIBRATED)
    assert (d.x_train.shape, d.x_val.shape) == SHAPES["fashion_mnist"]


def test_fashion_split_gives_the_shared_subsets_class_counts():
    # the class counts of fashion_mnist_subset.npz (x_train and x_test together) and its x_test
    counts = [154, 134, 139, 144, 158, 122, 154, 143, 138, 127]
    y = np.repeat(np.arange(10), counts)
    train, test = fashion_mnist.stratified_split(y, 284, 0)
    assert np.bincount(y[test]).tolist() == [31, 27, 28, 29, 32, 24, 31, 29, 28, 25]
    assert len(train) == 1129 and not set(train) & set(test)


def test_fashion_subset_file_is_left_as_it_is_and_too_few_images_are_an_error(fake_keras, tmp_path):
    a = load_raw("fashion_mnist", CALIBRATED).arrays
    np.savez(tmp_path / "fashion_mnist_subset.npz", **a)
    as_is, cut = load_raw("fashion_mnist", in_dir(tmp_path, "full")), load_raw("fashion_mnist", in_dir(tmp_path))
    assert cut.sha256 == as_is.sha256 and cut.subset == "calibrated"
    small = tmp_path / "small"
    small.mkdir()
    np.savez(small / "fashion_mnist.npz", x_train=a["x_train"][:1000], y_train=a["y_train"][:1000],
             x_test=a["x_test"], y_test=a["y_test"])
    with pytest.raises(DataError, match="1,000 training images: too few for the calibrated subset"):
        load_raw("fashion_mnist", in_dir(small))


# --- boston -------------------------------------------------------------------------------------

def test_boston_from_keras_gets_back_the_original_row_order(fake_keras, boston_table, tmp_path):
    full, cut = load_raw("boston", FULL).arrays["table"], load_raw("boston", CALIBRATED).arrays["table"]
    assert len(full) == len(cut) == 506
    assert full["medv"].iloc[0] == boston_table["medv"].iloc[boston.keras_order()[0]]  # keras' shuffled order
    pd.testing.assert_frame_equal(cut, boston_table.reset_index(drop=True))
    boston_table.to_csv(tmp_path / "boston.csv", index=False)
    from_csv = load_dataset("boston", in_dir(tmp_path))
    downloaded = load_dataset("boston", CALIBRATED)
    np.testing.assert_array_equal(downloaded.x_train, from_csv.x_train)  # the same rows in the same split
    np.testing.assert_array_equal(downloaded.y_val, from_csv.y_val)
    assert (downloaded.x_train.shape, downloaded.x_val.shape) == SHAPES["boston"]
    csv = load_raw("boston", in_dir(tmp_path))
    assert csv.sha256 == load_raw("boston", in_dir(tmp_path, "full")).sha256  # boston.csv: all of it already


def test_boston_with_other_than_506_rows_is_an_error(boston_table, tmp_path):
    boston_table.iloc[:505].to_csv(tmp_path / "boston.csv", index=False)
    with pytest.raises(DataError, match="505 rows; the calibrated subset is the whole dataset, 506 rows"):
        load_raw("boston", in_dir(tmp_path))
    assert len(load_raw("boston", in_dir(tmp_path, "full")).arrays["table"]) == 505


# --- identity, synthetic data, settings ---------------------------------------------------------

@pytest.mark.parametrize("name", ["imdb", "fashion_mnist", "boston"])
def test_the_subset_is_part_of_the_data_identity(fake_keras, name):
    from overfit_core.training import record_key
    from overfit_core.variants import builtin_variants

    full, cut = load_dataset(name, FULL), load_dataset(name, CALIBRATED)
    assert cut.params["subset"] == "calibrated" and "subset" not in full.params
    assert cut.sha256 != full.sha256
    spec = next(s for s in builtin_variants() if s.dataset == name)
    config = get_config("fast")
    assert record_key(spec, cut, 0, config) != record_key(spec, full, 0, config)


@pytest.mark.parametrize("name", ["imdb", "fashion_mnist", "boston"])
def test_synthetic_data_ignores_the_subset(name):
    a = load_dataset(name, DataOptions(kind="synthetic"))
    b = load_dataset(name, DataOptions(kind="synthetic", subset="calibrated"))
    assert (a.sha256, dict(a.params), a.source) == (b.sha256, dict(b.params), b.source)


def test_settings_resolve_the_subset_and_reject_other_values(tmp_path):
    assert SUBSETS == ("full", "calibrated")
    s = Settings.resolve(environ={"OVERFIT_SUBSET": "calibrated", "OVERFIT_DOWNLOAD": "1"})
    assert s.subset == "calibrated" and s.data_options("real").subset == "calibrated"
    assert s.data_options("synthetic").subset == "full"
    assert Settings.resolve(environ={}).data_options("real").subset == "full"
    assert Settings.resolve(subset="full", environ={"OVERFIT_SUBSET": "calibrated"}).subset == "full"
    for make, needle in [(lambda: Settings.resolve(environ={"OVERFIT_SUBSET": "half"}), "OVERFIT_SUBSET='half'"),
                         (lambda: Settings.resolve(subset="all", environ={}), "subset='all'"),
                         (lambda: DataOptions(kind="real", subset="Calibrated"), "subset='Calibrated'")]:
        with pytest.raises(ConfigError) as info:
            make()
        assert needle in str(info.value) and "Expected one of full, calibrated" in str(info.value)


@pytest.mark.real_data
@pytest.mark.parametrize("name", ["imdb", "fashion_mnist", "boston"])
def test_the_shared_subsets_are_their_own_calibrated_subsets(real_data_dir, name):
    full, cut = load_raw(name, in_dir(real_data_dir, "full")), load_raw(name, in_dir(real_data_dir))
    if not full.source.endswith(("_subset.npz", "boston.csv")):
        pytest.skip(f"{full.source} is not a shared subset file")
    assert (cut.sha256, cut.source, cut.subset) == (full.sha256, full.source, "calibrated")


def test_download_tool_prints_the_calibrated_sizes(fake_keras, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "download_datasets.py"  # the workflow's download step
    spec = importlib.util.spec_from_file_location("download_datasets", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main() == 0
    out = capsys.readouterr().out
    assert "imdb: keras.datasets.imdb (calibrated subset)" in out and "5,000 training and 1,000 test samples" in out
    assert "1,129 training and 284 test samples" in out and "boston: " in out and "506 rows" in out
