"""Hypothesis strategies shared by the preprocessing and loader tests."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

word_ids = st.integers(min_value=0, max_value=600)
reviews = st.lists(word_ids, max_size=60)
review_lists = st.lists(reviews, min_size=0, max_size=30)
word_nums = st.integers(min_value=1, max_value=120)

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)
tables = hnp.arrays(np.float64, shape=st.tuples(st.integers(2, 40), st.integers(1, 6)), elements=finite_floats)
split_sizes = st.integers(min_value=2, max_value=500)
fractions = st.floats(min_value=0.05, max_value=0.95)
random_states = st.integers(min_value=0, max_value=2**31 - 1)
