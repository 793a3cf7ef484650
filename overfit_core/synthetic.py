"""Embedded synthetic look-alikes of the three datasets the benchmark studies.

Deterministic, numpy-only generators (no files, no TensorFlow, no network) that reproduce the
*layout* of the real datasets and, after the suite's standard preprocessing, the same textbook
training behaviour:

* :func:`synthetic_imdb` -- reviews in Keras' word-index encoding (vocabulary cap 500).
  Sixteen frequent "sentiment" ids among 10..99 carry the signal; every other id is nuisance
  (topic mixture + per-review noise).  Exactly :data:`IMDB_LABEL_NOISE` of each split's labels
  are flipped, so a large MLP that memorises the training set overfits: its validation loss
  bottoms out early and then climbs while its training loss goes to 0.
* :func:`synthetic_fashion` -- 28x28 uint8 images of ten garment-like silhouettes with
  per-sample shape variation, prints, stripes, affine deformation, texture and pixel noise;
  most garments are blended with a look-alike class, which keeps accuracy well below 100%.
* :func:`synthetic_boston` -- 506 rows of plausible-range, correlated housing features and a
  nonlinear noisy ``medv`` target (5..50, censored at 50 like the original).

The same ``seed`` always gives byte-identical output.  ``docs/synthetic.md`` describes how each
dataset is built and the behaviour measured on it, side by side with the real subsets.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IMDB_LABEL_NOISE",
    "IMDB_VOCAB",
    "synthetic_imdb",
    "synthetic_fashion",
    "synthetic_boston",
    "BOSTON_COLUMNS",
]

#: Fraction of imdb labels (train and test alike) that are flipped relative to the
#: sentiment that generated the review's words.  Exactly ``round(rate * n)`` labels are
#: flipped in each split, so no model can beat this error rate on either split.
IMDB_LABEL_NOISE = 0.2

#: Vocabulary cap of the imdb look-alike, as in ``imdb_subset.npz``: every id is < 500.
IMDB_VOCAB = 500

_IMDB_N_TRAIN = 2500
_IMDB_N_TEST = 1000
_IMDB_OOV_SHARE = 0.31  # share of tokens mapped to id 2 (out-of-vocabulary), as in the real subset
_IMDB_SENTIMENT_IDS = 16  # sentiment-bearing ids among 10..99
_IMDB_SENTIMENT_STRENGTH = 0.9  # log-odds boost of a sentiment word for its own polarity
_IMDB_TOPICS = 8
_IMDB_TOPIC_SCALE = 0.8
_IMDB_WORD_NOISE = 0.5

BOSTON_COLUMNS = ["crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad",
                  "tax", "ptratio", "lstat", "medv"]


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


# --------------------------------------------------------------------------- fashion
_FASHION_N_TRAIN = 1100
_FASHION_N_TEST = 300
_FASHION_VARIANT = 1.0  # range of the per-sample shape variants (sleeve length, width, height, detail)
_FASHION_PRINT_BLOBS = 3  # at most this many print blobs per garment
_FASHION_STRIPES = 0.3  # maximal stripe amplitude
_FASHION_TEXTURE = 0.15  # low-frequency texture amplitude
_FASHION_PIXEL_NOISE = 0.04
_FASHION_BLEND = 0.6  # maximal blending weight of a look-alike class
_FASHION_BLEND_P = 0.8  # share of garments blended at all
# look-alike classes of each class (two per class; a class may repeat)
_FASHION_PARTNERS = np.array([[6, 2], [3, 3], [4, 6], [4, 1], [2, 6], [7, 9], [0, 4], [5, 9], [2, 4], [7, 5]])
_G = np.arange(28, dtype=np.float64) + 0.5  # pixel centres
_RR = _G[None, :, None]  # row coordinate, broadcasts against per-sample (n, 1, 1) parameters
_CC = _G[None, None, :]  # column coordinate


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _box(r0, r1, c0, c1, soft=0.8):
    """Soft box, rows r0..r1 and columns c0..c1 (scalars or (n, 1, 1) arrays)."""
    return (_sig((_RR - r0) / soft) * _sig((r1 - _RR) / soft)
            * _sig((_CC - c0) / soft) * _sig((c1 - _CC) / soft))


def _trapezoid(r0, r1, half_top, half_bottom, centre=14.0, soft=0.8):
    t = np.clip((_RR - r0) / (r1 - r0), 0.0, 1.0)
    half = half_top + t * (half_bottom - half_top)
    return _sig((half - np.abs(_CC - centre)) / soft) * _sig((_RR - r0) / soft) * _sig((r1 - _RR) / soft)


def _ellipse(rc, c0, a, b, soft=0.8):
    d = np.sqrt(((_RR - rc) / a) ** 2 + ((_CC - c0) / b) ** 2)
    return _sig((1.0 - d) * np.minimum(a, b) / soft)


def _union(*m):
    out = m[0]
    for a in m[1:]:
        out = np.maximum(out, a)
    return out


def _fashion_class(c, v):
    """Silhouettes of class ``c`` for shape variants ``v`` (n, 4) in [-1, 1]: sleeve length,
    width, height, detail.  Returns (n, 28, 28) intensities in [0, 1]."""
    s, w, h, d = (v[:, j, None, None] for j in range(4))

    def torso():
        return _box(5, 25 + 1.5 * h, 8 - w, 20 + w)

    def short_sleeves():
        return _union(_box(5, 11 + 1.5 * s, 3 - w, 9), _box(5, 11 + 1.5 * s, 19, 25 + w))

    def long_sleeves():
        return _union(_box(5, 23 + 2 * s, 3 - w, 8), _box(5, 23 + 2 * s, 20, 25 + w))

    def collar_gap():
        return 1.0 - 0.8 * _ellipse(5, 14, 2.0, 2.5 + d)

    if c == 0:  # t-shirt/top
        return _union(torso(), short_sleeves()) * collar_gap() * 0.85
    if c == 1:  # trouser
        return _union(_box(3, 26 + h, 8 - w / 2, 13.3), _box(3, 26 + h, 14.7, 20 + w / 2),
                      _box(3, 8, 8 - w / 2, 20 + w / 2)) * 0.8
    if c == 2:  # pullover
        return _union(torso(), long_sleeves()) * 0.7 * (1.0 - 0.25 * _box(22, 26, 8, 20))
    if c == 3:  # dress
        return _trapezoid(3, 26 + h, 3.5 + d, 9.5 + 1.5 * w) * 0.75
    if c == 4:  # coat
        return (_union(_box(4, 26 + h, 7 - w, 21 + w), long_sleeves())
                * (1.0 - 0.6 * _box(6, 26, 13.4, 14.6)) * 0.65)
    if c == 5:  # sandal
        return _union(*[_box(15 + 2.5 * i, 16.2 + 2.5 * i, 3 + 2 * i + d, 25) for i in range(3)],
                      _box(13, 22, 4, 6)) * 0.7
    if c == 6:  # shirt
        return (_union(torso(), long_sleeves()) * (0.55 + 0.25 * _box(5, 26, 13, 15))
                * collar_gap() * (1.0 - 0.3 * _box(8, 12, 9, 12)))
    if c == 7:  # sneaker
        return _union(_trapezoid(14 - s, 22, 7 + d, 12), _box(19, 23, 2, 26)) * 0.8
    if c == 8:  # bag
        return _union(_box(9 - h, 25, 4 - w, 24 + w),
                      _ellipse(9 - h, 14, 4.5, 6.0 + d) * (1.0 - _ellipse(9 - h, 14, 2.8, 4.3 + d))) * 0.75
    # ankle boot
    return _union(_box(4 + h, 23, 11, 22), _box(15, 24, 3 - w, 22),
                  _trapezoid(13, 24, 4, 10, centre=9)) * 0.75


def _smooth_noise(rng, n, scale=4):
    """Low-frequency noise field per sample (bilinear upsampling of a coarse grid)."""
    k = 28 // scale + 2
    coarse = rng.standard_normal((n, k, k))
    pos = _G / scale
    i0 = np.floor(pos).astype(int)
    f = pos - i0
    a = coarse[:, i0, :] * (1 - f)[None, :, None] + coarse[:, i0 + 1, :] * f[None, :, None]
    return a[:, :, i0] * (1 - f)[None, None, :] + a[:, :, i0 + 1] * f[None, None, :]


def _warp(img, rng):
    """Bilinear resampling of each image under a random affine map (scale, shear, shift)."""
    n = img.shape[0]
    sc = rng.uniform(0.88, 1.12, (n, 2))
    sh = rng.normal(0.0, 0.08, n)
    rot = rng.normal(0.0, 0.07, n)
    t = rng.normal(0.0, 1.3, (n, 2))
    rr, cc = np.meshgrid(_G - 14.0, _G - 14.0, indexing="ij")
    cos, sin = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
    r_src = (cos * rr - sin * cc) / sc[:, 0, None, None] + sh[:, None, None] * cc + 14.0 - 0.5 - t[:, 0, None, None]
    c_src = (sin * rr + cos * cc) / sc[:, 1, None, None] + 14.0 - 0.5 - t[:, 1, None, None]
    r0 = np.floor(r_src).astype(np.int64)
    c0 = np.floor(c_src).astype(np.int64)
    fr, fc = r_src - r0, c_src - c0
    flat = np.pad(img, ((0, 0), (2, 2), (2, 2))).reshape(n, -1)  # zero border: 32 x 32
    r0 = np.clip(r0 + 2, 0, 30)  # off-image corners land on the zero border
    c0 = np.clip(c0 + 2, 0, 30)
    base = (r0 * 32 + c0).reshape(n, -1)

    def at(offset):
        return np.take_along_axis(flat, base + offset, axis=1).reshape(n, 28, 28)

    return ((1 - fr) * (1 - fc) * at(0) + (1 - fr) * fc * at(1)
            + fr * (1 - fc) * at(32) + fr * fc * at(33))


def _prints(rng, n):
    """Per-sample surface pattern: a few soft blobs (prints/logos) plus stripes of random
    frequency and orientation; multiplies the garment intensity."""
    out = np.ones((n, 28, 28))
    n_blobs = rng.integers(0, _FASHION_PRINT_BLOBS + 1, n)
    for j in range(_FASHION_PRINT_BLOBS):
        on = (j < n_blobs)[:, None, None]
        rc = rng.uniform(8, 22, (n, 1, 1))
        cc = rng.uniform(8, 20, (n, 1, 1))
        rad = rng.uniform(1.5, 4.0, (n, 1, 1))
        amp = rng.uniform(-0.6, 0.6, (n, 1, 1))
        # separable Gaussian: (n, 28, 1) x (n, 1, 28)
        out += (on * amp) * np.exp(-(_RR - rc) ** 2 / (2 * rad ** 2)) * np.exp(-(_CC - cc) ** 2 / (2 * rad ** 2))
    theta = rng.uniform(0, np.pi, (n, 1, 1))
    freq = rng.uniform(0.4, 1.6, (n, 1, 1))
    amp = _FASHION_STRIPES * rng.random((n, 1, 1)) ** 2
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    a, b = freq * np.cos(theta) * _RR + phase, freq * np.sin(theta) * _CC  # sin(a + b), separably
    out += amp * (np.sin(a) * np.cos(b) + np.cos(a) * np.sin(b))
    return out


def synthetic_fashion(seed: int = 0) -> dict[str, np.ndarray]:
    """Fashion-MNIST look-alike: ``x_*`` uint8 (N, 28, 28), ``y_*`` uint8 in 0..9.

    1,100 training and 300 test images, classes balanced up to sampling noise.
    """
    rng = np.random.default_rng(seed)
    n = _FASHION_N_TRAIN + _FASHION_N_TEST
    y = rng.integers(0, 10, n).astype(np.uint8)
    variants = rng.uniform(-_FASHION_VARIANT, _FASHION_VARIANT, (n, 4))
    # Each garment is blended with a look-alike class (shirt/t-shirt, pullover/coat, sneaker/
    # sandal/boot, ...) at a random weight up to _FASHION_BLEND: near the top of that range two
    # classes are genuinely ambiguous, which keeps accuracy well below 100% and gives the
    # network something to memorise.
    partner = _FASHION_PARTNERS[y, rng.integers(0, _FASHION_PARTNERS.shape[1], n)]
    w = rng.uniform(0.0, _FASHION_BLEND, (n, 1, 1)) * (rng.random((n, 1, 1)) < _FASHION_BLEND_P)
    img = np.zeros((n, 28, 28))
    for c in range(10):
        sel = y == c
        img[sel] = (1.0 - w[sel]) * _fashion_class(c, variants[sel])
        sel = partner == c
        img[sel] += w[sel] * _fashion_class(c, variants[sel])
    img = img * _prints(rng, n)
    img = _warp(img, rng)
    texture = 1.0 + _FASHION_TEXTURE * (_smooth_noise(rng, n, 4) + 0.5 * _smooth_noise(rng, n, 2))
    brightness = rng.uniform(0.7, 1.35, (n, 1, 1))
    img = img * texture * brightness + _FASHION_PIXEL_NOISE * rng.standard_normal((n, 28, 28)) * (img > 0.05)
    x = np.clip(np.round(255.0 * img), 0, 255).astype(np.uint8)
    ntr = _FASHION_N_TRAIN
    return {"x_train": x[:ntr], "y_train": y[:ntr], "x_test": x[ntr:], "y_test": y[ntr:]}


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
