"""Preprocessing as the course material does it, in numpy (no TF import).

IMDB reserved ids: Keras encodes 0 = padding (never present in `imdb.npz`), 1 = start of review,
2 = out-of-vocabulary, real words from 3 on. `multi_hot` keeps them like any other id below
`word_num`, exactly as the course's `vectorize_sequences` does: column 1 is 1.0 in every review
(the start token) and column 2 is 1.0 in every review that contains a word outside the
vocabulary of the file. Ids >= `word_num` are dropped (not remapped to 2).
"""
from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import ConfigError, invalid


def multi_hot(sequences: Sequence[Sequence[int]], word_num: int) -> np.ndarray:
    """(n, word_num) float32 matrix with 1.0 at every id < word_num present in review i."""
    if isinstance(word_num, bool) or not isinstance(word_num, (int, np.integer)) or word_num < 1:
        raise ConfigError(invalid("word_num", word_num, "a positive integer", "Use e.g. word_num=100."))
    n = len(sequences)
    out = np.zeros((n, word_num), dtype=np.float32)
    if n == 0:
        return out
    arrays = [_word_ids(i, s, word_num) for i, s in enumerate(sequences)]
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=n)
    ids = np.concatenate(arrays) if lengths.sum() else np.zeros(0, dtype=np.int64)
    if ids.size and ids.min() < 0:
        raise ConfigError(invalid("sequences", int(ids.min()), "word ids >= 0 (Keras word-index encoding)"))
    rows = np.repeat(np.arange(n), lengths)
    keep = ids < word_num
    out[rows[keep], ids[keep]] = 1.0
    return out


def _word_ids(i: int, review, word_num: int) -> np.ndarray:
    """Review `i` as int64 ids below `word_num`; a ConfigError for anything but integer word ids."""
    try:
        a = np.asarray(review).ravel()
    except (ValueError, TypeError):  # ragged nesting such as [[1, 2], [3]]
        a = np.asarray([None])
    if a.size and not np.issubdtype(a.dtype, np.integer):  # floats, text, None, ints beyond 64 bits
        raise ConfigError(f"Invalid value received for `sequences[{i}]`. Expected a sequence of integer word ids "
                          f"(Keras word-index encoding). Received: sequences[{i}]={reprlib.repr(review)}.")
    return a[a < word_num].astype(np.int64)  # larger ids are dropped anyway (uint64 ones may not fit int64)


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels in 0..255 to float32 in [0, 1]."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def train_val_split(n: int, test_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): the same indices as sklearn's `train_test_split(..., shuffle=True)`."""
    if not 0.0 < test_size < 1.0:
        raise ConfigError(invalid("test_size", test_size, "a float strictly between 0 and 1"))
    n_val = math.ceil(test_size * n)
    if n < 2 or n_val >= n:
        raise ConfigError(invalid("n", n, f"at least 2 samples so that a {test_size} split leaves both parts non-empty"))
    perm = np.random.RandomState(random_state).permutation(n)
    return perm[n_val:], perm[:n_val]


@dataclass(frozen=True, eq=False)
class MinMaxScaler:
    """Per-column affine map of the fitted data onto [0, 1]; constant columns map to 0."""

    data_min: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "MinMaxScaler":
        x = np.asarray(x, dtype=np.float64)
        lo, hi = x.min(axis=0), x.max(axis=0)
        rng = hi - lo
        return cls(lo, np.where(rng > 0, rng, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.data_min) / self.scale).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Per-column mean 0, std 1 on the fitted data; constant columns keep std 1."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        x = np.asarray(x, dtype=np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0)
        # A constant column can get a std of a few ulps from rounding in the mean: treat it as 0.
        constant = std <= 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
        return cls(mean, np.where(constant, 1.0, std))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)
