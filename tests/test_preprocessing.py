"""Invariants of the preprocessing, checked with hypothesis (no TensorFlow)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from overfit_core import preprocessing as pp
from overfit_core.datasets import boston, fashion_mnist
from overfit_core.errors import ConfigError
from tests import strategies as s


@given(s.review_lists, s.word_nums)
def test_multi_hot_shape_values_and_row_sums(reviews, word_num):
    m = pp.multi_hot(reviews, word_num)
    assert m.shape == (len(reviews), word_num) and m.dtype == np.float32
    assert set(np.unique(m)) <= {0.0, 1.0}
    expected = [len({i for i in r if i < word_num}) for r in reviews]
    assert m.sum(axis=1).tolist() == expected


@given(s.review_lists, s.word_nums, st.randoms(use_true_random=False))
def test_multi_hot_ignores_order_and_repeats(reviews, word_num, rnd):
    shuffled = [rnd.sample(r, len(r)) + r[: len(r) // 2] for r in reviews]
    np.testing.assert_array_equal(pp.multi_hot(reviews, word_num), pp.multi_hot(shuffled, word_num))


def test_multi_hot_keeps_reserved_ids_and_drops_rare_ones():
    m = pp.multi_hot([[1, 14, 2, 99, 150]], 100)
    assert np.flatnonzero(m[0]).tolist() == [1, 2, 14, 99]


@pytest.mark.parametrize("word_num", [0, -3, 2.5, True])
def test_multi_hot_rejects_bad_word_num(word_num):
    with pytest.raises(ConfigError, match="word_num"):
        pp.multi_hot([[1, 2]], word_num)


@given(s.tables)
def test_minmax_maps_training_part_into_unit_interval(x):
    scaled = pp.MinMaxScaler.fit(x).transform(x)
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0 + 1e-6


@given(s.tables, st.data())
def test_minmax_is_fitted_on_training_part_alone(x, data):
    n_train = data.draw(st.integers(1, len(x) - 1))
    fitted = pp.MinMaxScaler.fit(x[:n_train])
    np.testing.assert_array_equal(fitted.data_min, x[:n_train].min(axis=0))
    # Rows outside the fitted part do not move the fit: the training rows map the same either way.
    np.testing.assert_array_equal(fitted.transform(x)[:n_train], fitted.transform(x[:n_train]))
    assert fitted.transform(x[:n_train]).max() <= 1.0 + 1e-6


@given(s.tables)
def test_standardizer_gives_zero_mean_unit_std(x):
    z = pp.Standardizer.fit(x).transform(x).astype(np.float64)
    varying = x.std(axis=0) > 1e-3 * (np.abs(x).max(axis=0) + 1)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0)[varying], 1, atol=1e-3)


@given(s.split_sizes, s.fractions, s.random_states)
def test_split_is_disjoint_complete_sized_and_reproducible(n, frac, seed):
    if math.ceil(frac * n) >= n:
        with pytest.raises(ConfigError):
            pp.train_val_split(n, frac, seed)
        return
    tr, va = pp.train_val_split(n, frac, seed)
    assert len(va) == math.ceil(frac * n) and len(tr) == n - len(va)
    assert not set(tr) & set(va) and sorted([*tr, *va]) == list(range(n))
    tr2, va2 = pp.train_val_split(n, frac, seed)
    np.testing.assert_array_equal(tr, tr2)
    np.testing.assert_array_equal(va, va2)


@pytest.mark.parametrize("n,frac,seed", [(506, boston.VALIDATION_FRACTION, boston.SPLIT_RANDOM_STATE),
                                         (1129, fashion_mnist.VALIDATION_FRACTION, fashion_mnist.SPLIT_RANDOM_STATE),
                                         (10, 0.3, 0)])
def test_split_matches_sklearn(n, frac, seed):
    sk = pytest.importorskip("sklearn.model_selection", reason="install scikit-learn to compare splits")
    idx = np.arange(n)
    sk_tr, sk_va = sk.train_test_split(idx, test_size=frac, random_state=seed)
    tr, va = pp.train_val_split(n, frac, seed)
    np.testing.assert_array_equal(tr, sk_tr)
    np.testing.assert_array_equal(va, sk_va)


@given(st.integers(0, 255))
def test_scale_images_maps_pixels_to_unit_interval(v):
    img = np.full((2, 28, 28), v, dtype=np.uint8)
    out = pp.scale_images(img)
    assert out.dtype == np.float32 and np.allclose(out, v / 255.0)
