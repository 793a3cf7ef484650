"""Fuzzing: loaders, validation and preprocessing get random bytes and random arrays.

Each returns valid data or raises the documented error (DataError for files, ConfigError for
arguments), never anything else. Nothing here trains. Examples per test follow HYPOTHESIS_PROFILE.
"""
from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from overfit_core import preprocessing as pp
from overfit_core.config import parse_seeds
from overfit_core.datasets import (DATASETS, DataOptions, Dataset, get_dataset, load_raw, prepare, validate_boston_table,
                                   validate_npz_arrays)
from overfit_core.errors import ConfigError, DataError
from overfit_core.records import RecordStore, RunRecord
from tests import strategies as s

quick = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_valid(d: Dataset) -> None:
    """What every prepared dataset promises the trainer."""
    for x, y in ((d.x_train, d.y_train), (d.x_val, d.y_val)):
        assert x.dtype == np.float32 and len(x) == len(y) > 0
        assert np.isfinite(x).all() and np.isfinite(np.asarray(y, np.float64)).all()
    assert d.x_train.shape[1:] == d.x_val.shape[1:] and len(d.sha256) == 64


def load_or_reject(name: str, files: dict[str, bytes]) -> Dataset | None:
    """Write `files` into a fresh data directory and load `name` from it: a valid Dataset or a DataError
    naming the file (a ConfigError only from splitting too few samples)."""
    with tempfile.TemporaryDirectory() as tmp:
        for fname, data in files.items():
            (Path(tmp) / fname).write_bytes(data)
        options = DataOptions(kind="real", data_dir=tmp)
        try:
            raw = load_raw(name, options)
        except DataError as e:
            assert tmp in str(e) and "Expected" in str(e), str(e)
            return None
        try:
            d = prepare(raw, options)
        except ConfigError as e:
            assert "samples" in str(e), str(e)
            return None
        assert_valid(d)
        return d


def npz_bytes(arrays: dict, **kw) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays, **kw)
    return buf.getvalue()


# --- files ------------------------------------------------------------------------------------

@quick
@given(st.sampled_from(sorted(DATASETS)), s.junk_bytes)
def test_random_bytes_in_any_dataset_file(name, data):
    load_or_reject(name, {get_dataset(name).files[0]: data})


@quick
@given(st.sampled_from(["imdb", "fashion_mnist"]), st.dictionaries(s.npz_keys, s.any_arrays, max_size=5))
def test_random_npz_archives(name, arrays):
    load_or_reject(name, {get_dataset(name).files[0]: npz_bytes(arrays)})


@quick
@given(s.fashion_like())
def test_fashion_like_archives(arrays):
    d = load_or_reject("fashion_mnist", {"fashion_mnist.npz": npz_bytes(arrays)})
    if d is not None:
        assert d.x_train.shape[1:] == (28, 28) and 0 <= d.x_train.min() and d.x_train.max() <= 1
        assert set(np.unique(d.y_train)) <= set(range(10))


@quick
@given(s.imdb_like())
def test_imdb_like_archives(arrays):
    d = load_or_reject("imdb", {"imdb.npz": npz_bytes(arrays)})
    if d is not None:
        assert d.x_train.shape[1] == 100 and set(np.unique(d.x_train)) <= {0.0, 1.0}


VALID_FASHION = {"x_train": np.zeros((5, 28, 28), np.uint8), "y_train": np.arange(5, dtype=np.uint8),
                 "x_test": np.full((2, 28, 28), 255, np.uint8), "y_test": np.array([9, 0], np.uint8)}


@quick
@given(st.data())
def test_truncated_or_bit_flipped_npz(data):
    blob = bytearray(npz_bytes(VALID_FASHION))
    if data.draw(st.booleans(), label="truncate"):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1), label="length")]
    else:
        for i in data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=8), label="positions"):
            blob[i] ^= data.draw(st.integers(1, 255), label="mask")
    load_or_reject("fashion_mnist", {"fashion_mnist.npz": bytes(blob)})


@quick
@given(s.boston_like())
def test_boston_like_csv(table):
    d = load_or_reject("boston", {"boston.csv": table.to_csv(index=False).encode()})
    if d is not None:
        assert d.x_train.shape[1] == 12 and d.x_train.min() >= 0 and d.x_train.max() <= 1 + 1e-6


@quick
@given(st.text(max_size=400))
def test_random_text_as_csv(text):
    load_or_reject("boston", {"boston.csv": text.encode("utf-8", "surrogatepass")})


# --- arrays, without files --------------------------------------------------------------------

@quick
@given(st.sampled_from(["imdb", "fashion_mnist"]), st.dictionaries(s.npz_keys, s.any_arrays, max_size=5))
def test_validate_npz_arrays_on_random_arrays(name, arrays):
    try:
        out = validate_npz_arrays(name, arrays, "fuzz.npz")
    except DataError as e:
        assert str(e).startswith("fuzz.npz: ")
        return
    assert set(out) == set(s.NPZ_KEYS)


@quick
@given(s.boston_like())
def test_validate_boston_table_on_random_tables(table):
    try:
        out = validate_boston_table(table, "fuzz.csv")
    except DataError as e:
        assert str(e).startswith("fuzz.csv: ")
        return
    values = out.to_numpy(np.float64)
    assert out.shape[1] == 13 and np.isfinite(values).all()


@quick
@given(st.lists(st.one_of(s.reviews, s.review_items, hnp.arrays(s.numeric_dtypes, st.integers(0, 5))), max_size=6),
       st.one_of(st.integers(-2, 130), st.booleans(), st.floats(0, 10)))
def test_multi_hot_on_random_sequences(sequences, word_num):
    try:
        m = pp.multi_hot(sequences, word_num)
    except ConfigError:
        return
    assert m.shape == (len(sequences), word_num) and m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0}


@quick
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0)))
def test_scale_images_maps_any_uint8_array_into_unit_interval(images):
    x = pp.scale_images(images)
    assert x.dtype == np.float32 and x.shape == images.shape
    assert x.size == 0 or (x.min() >= 0 and x.max() <= 1)


@quick
@given(st.integers(-2, 3000), st.one_of(st.floats(allow_nan=True), st.integers(-1, 2)), st.integers(0, 2**32 - 1))
def test_train_val_split_partitions_or_refuses(n, test_size, random_state):
    try:
        tr, va = pp.train_val_split(n, test_size, random_state)
    except ConfigError:
        return
    assert len(tr) and len(va) and sorted(np.concatenate([tr, va]).tolist()) == list(range(n))


@quick
@given(s.seed_texts)
def test_parse_seeds_on_random_text(text):
    try:
        seeds = parse_seeds(text)
    except ConfigError as e:
        assert repr(text) in str(e)
        return
    assert seeds and len(set(seeds)) == len(seeds) and all(isinstance(x, int) and x >= 0 for x in seeds)


# --- cached records ---------------------------------------------------------------------------

def _load_quietly(content: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        store = RecordStore(tmp)
        path = store.path("tiny-boston-seed0-fast", "k1")
        path.write_bytes(content)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = store.load("tiny-boston-seed0-fast", "k1")
        if record is None:
            assert any("Discarding corrupt cached record" in str(w.message) for w in caught)
            assert not path.exists()
        return record


@quick
@given(s.junk_bytes)
def test_random_bytes_as_cached_record_are_discarded(data):
    assert _load_quietly(data) is None


@quick
@given(st.data())
def test_cached_record_with_one_field_replaced_loads_or_is_discarded(data):
    from tests.test_records import make_record

    d = make_record(cache_key="k1").to_dict()
    field = data.draw(st.sampled_from(sorted(d)), label="field")
    d[field] = data.draw(s.json_values, label="value")
    record = _load_quietly(json.dumps(d).encode())
    assert record is None or isinstance(record, RunRecord)


def test_load_or_reject_accepts_a_valid_file():
    """The fuzz harness itself: a valid file loads (so the tests above can tell valid from rejected)."""
    assert load_or_reject("fashion_mnist", {"fashion_mnist.npz": npz_bytes(VALID_FASHION)}) is not None


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_empty_data_dir_is_a_data_error(name):
    assert load_or_reject(name, {}) is None
