"""Hypothesis strategies shared by the preprocessing and loader tests."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from overfit_core.datasets import NPZ_KEYS
from overfit_core.datasets.boston import BOSTON_COLUMNS

word_ids = st.integers(min_value=0, max_value=600)
reviews = st.lists(word_ids, max_size=60)
review_lists = st.lists(reviews, min_size=0, max_size=30)
word_nums = st.integers(min_value=1, max_value=120)

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)
tables = hnp.arrays(np.float64, shape=st.tuples(st.integers(2, 40), st.integers(1, 6)), elements=finite_floats)
split_sizes = st.integers(min_value=2, max_value=500)
fractions = st.floats(min_value=0.05, max_value=0.95)
random_states = st.integers(min_value=0, max_value=2**31 - 1)

# --- fuzzing the loaders (tests/test_fuzz.py) ------------------------------------------------

junk_bytes = st.binary(max_size=2048)
npz_keys = st.sampled_from(NPZ_KEYS + ("images", "labels", "x", "arr_0"))
numeric_dtypes = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint64,
                                  np.float16, np.float32, np.float64, np.bool_])
any_arrays = hnp.arrays(numeric_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))


@st.composite
def fashion_like(draw):
    """Fashion-MNIST-shaped arrays, each part valid or broken in one of the ways a file can be."""
    out = {}
    for part in ("train", "test"):
        n = draw(st.integers(0, 5))
        side = draw(st.sampled_from([28, 28, 28, 27]))
        dtype = draw(st.sampled_from([np.uint8, np.uint8, np.uint8, np.float32, np.int64]))
        out[f"x_{part}"] = draw(hnp.arrays(dtype, (n, side, 28), elements=st.integers(0, 255)))
        m = draw(st.sampled_from([n, n, max(0, n - 1), n + 1]))
        labels = draw(hnp.arrays(np.int64, (m,), elements=st.integers(-2, 12)))
        out[f"y_{part}"] = labels.astype(draw(st.sampled_from([np.uint8, np.int64, np.int8, np.float64])))
    if draw(st.booleans()):
        out.pop(draw(st.sampled_from(NPZ_KEYS)))
    return out


def _object_array(items: list) -> np.ndarray:
    a = np.empty(len(items), dtype=object)
    a[:] = items
    return a


review_items = st.one_of(
    st.lists(st.integers(-3, 2**40), max_size=8),  # word ids (negative ones are invalid)
    st.lists(st.floats(allow_nan=True), max_size=3),
    st.lists(st.lists(st.integers(0, 9), max_size=3), max_size=3),  # ragged nesting
    st.text(max_size=5), st.none(), st.integers(-5, 5), st.lists(st.integers(2**63, 2**70), min_size=1, max_size=2),
)


@st.composite
def imdb_like(draw):
    """IMDB-shaped arrays: object arrays of reviews, some of them malformed, and 0/1 labels."""
    out = {}
    for part in ("train", "test"):
        reviews = draw(st.lists(st.one_of(st.lists(st.integers(1, 120), max_size=10), review_items),
                                min_size=0, max_size=5))
        out[f"x_{part}"] = draw(st.one_of(st.just(_object_array(reviews)),
                                          hnp.arrays(np.int64, (len(reviews), 3), elements=st.integers(-1, 200))))
        out[f"y_{part}"] = draw(hnp.arrays(np.int64, (len(reviews),), elements=st.integers(-1, 2)))
    return out


column_names = st.sampled_from([*BOSTON_COLUMNS, " MEDV ", "b", "Unnamed: 0"])
cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20), st.text(max_size=3),
                  st.none())


@st.composite
def boston_like(draw):
    """Boston-like tables: usually the right columns, cells from finite numbers to NaN, huge values and text."""
    import pandas as pd

    full = list(BOSTON_COLUMNS)  # crim..lstat, medv
    columns = draw(st.sampled_from([full, full + [" MEDV "], ["RM"] + full]))  # the last two: a name twice
    if draw(st.booleans()):
        columns = draw(st.lists(column_names, min_size=0, max_size=14, unique=True))
    n = draw(st.integers(0, 14))
    numeric = st.floats(-1e3, 1e3, allow_nan=False)
    huge = st.sampled_from([1e300, -1.7e308, 1.7e308, 3.5e38, -3.5e38])  # finite in float64, not in float32
    element = draw(st.sampled_from([numeric, numeric, st.one_of(numeric, cells), st.one_of(numeric, huge)]))
    rows = draw(st.lists(st.lists(element, min_size=len(columns), max_size=len(columns)), min_size=n, max_size=n))
    return pd.DataFrame(rows, columns=columns)


seed_texts = st.text(alphabet="0123456789-, x", max_size=12)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=3), max_leaves=8)
