"""IMDB movie reviews: binary sentiment from a multi-hot bag of words (course: overfitting and regularisation).

Files in a data directory, tried in order: `imdb_subset.npz` (the shared subset), `imdb.npz` (Keras' own file).
Both hold `x_train`, `x_test` (object arrays of integer word-id lists in Keras' word-index encoding) and
`y_train`, `y_test` (0/1). Preparation: `multi_hot` over ids < `word_num`; validation on `x_test`.

Calibrated subset (`DataOptions.subset="calibrated"`, :func:`calibrated`): what `imdb_subset.npz` holds, made from
the full data -- the first 5,000 training and first 1,000 test reviews of `keras.datasets.imdb.load_data()`, ids
>= 500 mapped to 2 (out-of-vocabulary). Keras' own `imdb.npz` as downloaded (ids by frequency, no start token) is
first encoded as `load_data()` does (:func:`keras_encoding`).

Embedded look-alike, :func:`synthetic_imdb` -- reviews in Keras' word-index encoding (vocabulary cap 500).
Sixteen frequent "sentiment" ids among 10..99 carry the signal; every other id is nuisance
(topic mixture + per-review noise).  Exactly :data:`IMDB_LABEL_NOISE` of each split's labels
are flipped, so a large MLP that memorises the training set overfits: its validation loss
bottoms out early and then climbs while its training loss goes to 0.  Deterministic and numpy-only:
the same ``seed`` always gives byte-identical output.  ``docs/synthetic.md`` describes how it is built
and the behaviour measured on it, side by side with the real subset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preprocessing as pp
from ..errors import DataError
from ._common import (DataOptions, DatasetDef, Prepared, RawData, _fail, _validate_labels, read_npz,
                      register_dataset, validate_npz_layout)

NAME = "imdb"
FILES = ("imdb_subset.npz", "imdb.npz")

#: Fraction of imdb labels (train and test alike) that are flipped relative to the
#: sentiment that generated the review's words.  Exactly ``round(rate * n)`` labels are
#: flipped in each split, so no model can beat this error rate on either split.
IMDB_LABEL_NOISE = 0.2

#: Vocabulary cap of the imdb look-alike, as in ``imdb_subset.npz``: every id is < 500.
IMDB_VOCAB = 500

#: The calibrated subset (imdb_subset.npz): the first this many training and test reviews of `load_data()`.
CALIBRATED_TRAIN, CALIBRATED_TEST = 5000, 1000
# keras.datasets.imdb.load_data()'s defaults: shuffle seed, start token, out-of-vocabulary id, offset of word ids
KERAS_SEED, START, OOV, INDEX_FROM = 113, 1, 2, 3

_IMDB_N_TRAIN = 2500
_IMDB_N_TEST = 1000
_IMDB_OOV_SHARE = 0.31  # share of tokens mapped to id 2 (out-of-vocabulary), as in the real subset
_IMDB_SENTIMENT_IDS = 16  # sentiment-bearing ids among 10..99
_IMDB_SENTIMENT_STRENGTH = 0.9  # log-odds boost of a sentiment word for its own polarity
_IMDB_TOPICS = 8
_IMDB_TOPIC_SCALE = 0.8
_IMDB_WORD_NOISE = 0.5


# --------------------------------------------------------------------------- imdb
def _imdb_split(rng, n, sent_ids, polarity, strength, topic_load, head_logit, tail_mass, tail_cdf):
    """One split: ``n`` reviews and their (noisy) labels."""
    n_head = head_logit.size  # ids 4..99: per-review word distribution
    # review length: log-normal, median ~180, mean ~245 tokens, heavy tail (start token included)
    length = np.clip(np.round(np.exp(rng.normal(np.log(180.0), 0.78, n))), 16, 1800).astype(np.int64)
    y_true = rng.integers(0, 2, n)
    sign = 2.0 * y_true - 1.0
    intensity = rng.uniform(0.4, 1.6, n)
    topics = rng.dirichlet(np.full(_IMDB_TOPICS, 0.3), n)  # (n, K)
    logit = (head_logit[None, :]
             + _IMDB_TOPIC_SCALE * topics @ topic_load
             + _IMDB_WORD_NOISE * rng.standard_normal((n, n_head)))
    logit[:, sent_ids] += (sign * intensity)[:, None] * (strength * polarity)[None, :]
    # columns: OOV (id 2) | head ids 4..99 | one bucket for the tail ids 100..499
    p = np.empty((n, n_head + 2))
    p[:, 0] = _IMDB_OOV_SHARE
    p[:, 1:-1] = np.exp(logit)
    p[:, -1] = tail_mass
    p[:, 1:] *= (1.0 - _IMDB_OOV_SHARE) / p[:, 1:].sum(axis=1, keepdims=True)
    # Every token by inverse-CDF lookup in one flat searchsorted: row i's CDF is shifted by i,
    # so a uniform draw u + i falls in row i.  Tokens come out in random order.
    n_tok = length - 1
    row = np.repeat(np.arange(n), n_tok)
    cdf = np.cumsum(p, axis=1)
    cdf[:, -1] = 1.0
    col = np.searchsorted((cdf + np.arange(n)[:, None]).ravel(), rng.random(row.size) + row, side="right")
    col = np.minimum(col - row * p.shape[1], p.shape[1] - 1)
    tokens = np.where(col == 0, 2, col + 3)
    in_tail = col == p.shape[1] - 1
    tokens[in_tail] = 100 + np.minimum(np.searchsorted(tail_cdf, rng.random(int(in_tail.sum())), side="right"),
                                       tail_cdf.size - 1)
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    seq = np.ones(int(length.sum()), dtype=np.int64)  # 1 = start token at each review's position 0
    seq[np.delete(np.arange(seq.size), start)] = tokens
    flat = seq.tolist()  # Python ints, as in Keras' imdb.npz
    x = np.empty(n, dtype=object)
    for i, (s, e) in enumerate(zip(start.tolist(), (start + length).tolist())):
        x[i] = flat[s:e]
    n_flip = int(round(IMDB_LABEL_NOISE * n))
    y = y_true.copy()
    y[rng.permutation(n)[:n_flip]] ^= 1
    return x, y.astype(np.int64)


def synthetic_imdb(seed: int = 0) -> dict[str, np.ndarray]:
    """IMDB look-alike in the layout of Keras' ``imdb.npz`` (and ``imdb_subset.npz``).

    Returns ``x_train``, ``x_test`` (object arrays of Python ``int`` lists; 1 = start token at
    position 0, 2 = out-of-vocabulary, all ids < 500, id 3 unused as in Keras' encoding) and
    ``y_train``, ``y_test`` (int64 0/1): 2,500 training and 1,000 test reviews.  Exactly
    ``round(IMDB_LABEL_NOISE * n)`` labels of each split are flipped.
    """
    rng = np.random.default_rng(seed)
    zipf = -1.13 * np.log(np.arange(4, IMDB_VOCAB) + 2.0)  # Zipf-like profile fitted to the real subset
    head_logit, tail_p = zipf[:96], np.exp(zipf[96:])  # ids 4..99 | ids 100..499
    tail_cdf = np.cumsum(tail_p) / tail_p.sum()
    sent_ids = np.sort(rng.choice(np.arange(10, 100), _IMDB_SENTIMENT_IDS, replace=False)) - 4
    polarity = np.where(np.arange(_IMDB_SENTIMENT_IDS) % 2 == 0, 1.0, -1.0)
    rng.shuffle(polarity)
    strength = _IMDB_SENTIMENT_STRENGTH * rng.uniform(0.6, 1.4, _IMDB_SENTIMENT_IDS)
    topic_load = rng.standard_normal((_IMDB_TOPICS, head_logit.size))
    out = {}
    for split, n in (("train", _IMDB_N_TRAIN), ("test", _IMDB_N_TEST)):
        out["x_" + split], out["y_" + split] = _imdb_split(
            rng, n, sent_ids, polarity, strength, topic_load, head_logit, tail_p.sum(), tail_cdf)
    return {k: out[k] for k in ("x_train", "y_train", "x_test", "y_test")}


# --------------------------------------------------------------------------- validation and sources
def _validate_sequences(path, key: str, x: np.ndarray) -> np.ndarray:
    if x.dtype != object and not (x.ndim == 2 and np.issubdtype(x.dtype, np.integer)):
        raise _fail(path, f"`{key}` is {x.dtype} with shape {x.shape}",
                    "an object array of integer word-id lists (Keras' imdb.npz layout)")
    seqs = list(x) if x.dtype == object else [row for row in x]
    for i, s in enumerate(seqs):
        try:
            a = np.asarray(s)
        except (ValueError, TypeError):  # ragged nesting such as [[1, 2], [3]]
            raise _fail(path, f"`{key}[{i}]` is a ragged nested list", "a 1-D list of integer word ids") from None
        if a.ndim != 1 or not (a.size == 0 or np.issubdtype(a.dtype, np.integer)):
            raise _fail(path, f"`{key}[{i}]` is {a.dtype} with shape {a.shape}", "a 1-D list of integer word ids")
        if a.size and a.min() < 0:
            raise _fail(path, f"`{key}[{i}]` holds the negative word id {int(a.min())}", "word ids >= 0")
        if a.size and int(a.max()) > np.iinfo(np.int64).max:  # Python ints: numpy 1 compares uint64 as float
            raise _fail(path, f"`{key}[{i}]` holds the word id {int(a.max())}", "word ids below 2**63")
    out = np.empty(len(seqs), dtype=object)
    out[:] = [np.asarray(s, dtype=np.int64) for s in seqs]
    return out


def _validate_part(path, part: str, x: np.ndarray, y: np.ndarray, n: int):
    return _validate_sequences(path, f"x_{part}", x), _validate_labels(path, f"y_{part}", y, range(0, 2), n)


def validate_arrays(arrays, path: Path | str) -> dict[str, np.ndarray]:
    """Check keys, word-id lists, label shapes and 0/1 labels; return the arrays (reviews as int64 arrays)."""
    return validate_npz_layout(arrays, path, _validate_part)


def _unpickle_context():
    """Object arrays may be pickled by another numpy major; compat reads both (imports TensorFlow: lazily)."""
    from ..compat import numpy2_pickles

    return numpy2_pickles()


def read_file(path: Path) -> dict[str, np.ndarray]:
    # allow_pickle: Keras' own imdb.npz stores reviews as object arrays.
    return read_npz(path, validate_arrays, allow_pickle=True, context=_unpickle_context)


def from_keras() -> dict[str, np.ndarray]:
    from ..compat import keras

    (xtr, ytr), (xte, yte) = keras.datasets.imdb.load_data()
    return validate_arrays({"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}, "keras.datasets.imdb")


def synthetic(seed: int) -> dict[str, np.ndarray]:
    return validate_arrays(synthetic_imdb(seed), "synthetic_imdb")


# --------------------------------------------------------------------------- the calibrated subset
def _reviews(seqs) -> np.ndarray:
    seqs = list(seqs)
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def is_raw_keras_file(arrays) -> bool:
    """Keras' own `imdb.npz` as downloaded: word ids by frequency (3 is "a"), no start token.

    `load_data()` starts every review with 1 and offsets word ids by 3, so 3 never occurs in its output; the raw
    file holds 3 in nearly every review.
    """
    seqs = (*arrays["x_train"], *arrays["x_test"])
    return (any(len(s) == 0 or s[0] != START for s in seqs)
            and any(bool((np.asarray(s) == INDEX_FROM).any()) for s in seqs))


def keras_encoding(arrays) -> dict[str, np.ndarray]:
    """What `keras.datasets.imdb.load_data()` makes of Keras' raw `imdb.npz`: the training and then the test part
    shuffled by one `np.random.RandomState(113)`, each review given the start token 1 and its ids offset by 3."""
    rng = np.random.RandomState(KERAS_SEED)
    out = {}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], np.asarray(arrays[f"y_{part}"])
        order = np.arange(len(x))
        rng.shuffle(order)
        out[f"x_{part}"] = _reviews(np.concatenate([[START], np.asarray(x[i], np.int64) + INDEX_FROM]) for i in order)
        out[f"y_{part}"] = y[order]
    return out


def calibrated(arrays, origin: str) -> dict[str, np.ndarray] | None:
    """The first 5,000 training and 1,000 test reviews, ids >= 500 mapped to 2, as `imdb_subset.npz` was made;
    None when `arrays` already are that subset. `origin`: "keras" (load_data()'s output) or "data-dir"."""
    encoded = origin == "data-dir" and is_raw_keras_file(arrays)
    if encoded:
        arrays = keras_encoding(arrays)
    n_train, n_test = len(arrays["x_train"]), len(arrays["x_test"])
    if n_train < CALIBRATED_TRAIN or n_test < CALIBRATED_TEST:
        raise DataError(f"imdb from {origin} has {n_train:,} training and {n_test:,} test reviews: too few for the "
                        f"calibrated subset, the first {CALIBRATED_TRAIN:,} and {CALIBRATED_TEST:,} of "
                        "keras.datasets.imdb.load_data(). Use subset `full` with this data, or give the full dataset.")
    x_train, x_test = arrays["x_train"][:CALIBRATED_TRAIN], arrays["x_test"][:CALIBRATED_TEST]
    if (not encoded and (n_train, n_test) == (CALIBRATED_TRAIN, CALIBRATED_TEST)
            and all(np.asarray(s).max(initial=0) < IMDB_VOCAB for s in (*x_train, *x_test))):
        return None  # imdb_subset.npz itself
    capped = {k: _reviews(np.where(np.asarray(s) >= IMDB_VOCAB, OOV, np.asarray(s)) for s in x)
              for k, x in (("x_train", x_train), ("x_test", x_test))}
    return {"x_train": capped["x_train"], "y_train": np.asarray(arrays["y_train"])[:CALIBRATED_TRAIN],
            "x_test": capped["x_test"], "y_test": np.asarray(arrays["y_test"])[:CALIBRATED_TEST]}


# --------------------------------------------------------------------------- preparation
def prepare(raw: RawData, options: DataOptions) -> Prepared:
    """Multi-hot rows over ids < `options.word_num`, as the course's `vectorize_sequences`; validate on x_test."""
    a = raw.arrays
    x_tr, x_val = (pp.multi_hot(a[k], options.word_num) for k in ("x_train", "x_test"))
    y_tr, y_val = (np.asarray(a[k], np.float32).reshape(-1, 1) for k in ("y_train", "y_test"))
    params = {"word_num": options.word_num, "validation": "x_test"}
    return x_tr, y_tr, x_val, y_val, params


DATASET = register_dataset(DatasetDef(
    name=NAME,
    description="IMDB reviews, binary sentiment from a multi-hot bag of words",
    files=FILES,
    task="binary",
    loss="binary_crossentropy",
    output_units=1,
    output_activation="sigmoid",
    output_layer="Dense(1, 'sigmoid')",
    input_hint="(word_num,) multi-hot rows",
    epochs={"smoke": 2},
    max_train_samples={"smoke": 1000},
    fit_validation_split=None,
    read_file=read_file,
    from_keras=from_keras,
    synthetic=synthetic,
    calibrated=calibrated,
    prepare=prepare,
))
