"""Fashion-MNIST: ten-class classification of 28x28 grey-scale garment images (course: optimisers, batch norm).

Files in a data directory, tried in order: `fashion_mnist_subset.npz` (the shared subset), `fashion_mnist.npz`.
Both hold `x_train`, `x_test` (uint8, (N, 28, 28)) and `y_train`, `y_test` (integer labels 0..9).
Preparation: pixels scaled to [0, 1]; validation on a seeded 0.2 split of `x_train` (`x_test` is not used).

Calibrated subset (`DataOptions.subset="calibrated"`, :func:`calibrated`): the sizes and make-up of
`fashion_mnist_subset.npz` -- 1,413 images of the official training split, `x_test` a held-out stratified 284 of
them (per class in proportion, as in that file), `x_train` the other 1,129. Which 1,413 images the shared file holds
was not recorded, so the calibrated subset takes the first 1,413 and splits them with a fixed seed: the same sizes and
class make-up, not the same images.

Embedded look-alike, :func:`synthetic_fashion` -- 28x28 uint8 images of ten garment-like silhouettes with
per-sample shape variation, prints, stripes, affine deformation, texture and pixel noise;
most garments are blended with a look-alike class, which keeps accuracy well below 100%.
Deterministic and numpy-only: the same ``seed`` always gives byte-identical output.  ``docs/synthetic.md``
describes how it is built and the behaviour measured on it, side by side with the real subset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preprocessing as pp
from ..errors import DataError
from ._common import (DataOptions, DatasetDef, Prepared, RawData, _fail, _validate_labels, read_npz,
                      register_dataset, validate_npz_layout)

NAME = "fashion_mnist"
FILES = ("fashion_mnist_subset.npz", "fashion_mnist.npz")
VALIDATION_FRACTION = 0.2  # of x_train, as the course's train_test_split
SPLIT_RANDOM_STATE = 42
#: The calibrated subset (fashion_mnist_subset.npz): this many images of the official training split, of which
#: CALIBRATED_TEST are held out as x_test (per class in proportion) and CALIBRATED_TRAIN are x_train.
CALIBRATED_IMAGES, CALIBRATED_TRAIN, CALIBRATED_TEST = 1413, 1129, 284
CALIBRATED_SEED = 0  # of the held-out split and the order of each part


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


# --------------------------------------------------------------------------- validation and sources
def _validate_part(path, part: str, x: np.ndarray, y: np.ndarray, n: int):
    if x.dtype != np.uint8 or x.shape[1:] != (28, 28):
        raise _fail(path, f"`x_{part}` is {x.dtype} with shape {x.shape}", "uint8 images of shape (N, 28, 28)")
    return x, _validate_labels(path, f"y_{part}", y, range(0, 10), n)


def validate_arrays(arrays, path: Path | str) -> dict[str, np.ndarray]:
    """Check keys, uint8 (N, 28, 28) images, label shapes and labels 0..9; return the arrays."""
    return validate_npz_layout(arrays, path, _validate_part)


def read_file(path: Path) -> dict[str, np.ndarray]:
    return read_npz(path, validate_arrays)


def from_keras() -> dict[str, np.ndarray]:
    from ..compat import keras

    (xtr, ytr), (xte, yte) = keras.datasets.fashion_mnist.load_data()
    return validate_arrays({"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte},
                           "keras.datasets.fashion_mnist")


def synthetic(seed: int) -> dict[str, np.ndarray]:
    return validate_arrays(synthetic_fashion(seed), "synthetic_fashion_mnist")


# --------------------------------------------------------------------------- the calibrated subset
def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices, each in random order: `n_test` held out, each class in proportion to its count
    (largest remainders), as `fashion_mnist_subset.npz` holds 284 of its 1,413 images."""
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * n_test / counts.sum()
    per_class = np.floor(quota).astype(np.int64)
    per_class[np.argsort(-(quota - per_class), kind="stable")[: n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, per_class)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return rng.permutation(train), rng.permutation(test)


def calibrated(arrays, origin: str) -> dict[str, np.ndarray] | None:
    """The first 1,413 images of the training split, 284 of them held out as x_test (stratified, seeded); None when
    `arrays` already have the shared subset's sizes (1,129 and 284). `origin` ("keras" or "data-dir") is not used."""
    n_train, n_test = len(arrays["x_train"]), len(arrays["x_test"])
    if (n_train, n_test) == (CALIBRATED_TRAIN, CALIBRATED_TEST):
        return None  # fashion_mnist_subset.npz itself
    if n_train < CALIBRATED_IMAGES:
        raise DataError(f"fashion_mnist from {origin} has {n_train:,} training images: too few for the calibrated "
                        f"subset, the first {CALIBRATED_IMAGES:,} of the official training split. Use subset `full` "
                        "with this data, or give the full dataset.")
    x, y = arrays["x_train"][:CALIBRATED_IMAGES], arrays["y_train"][:CALIBRATED_IMAGES]
    train, test = stratified_split(np.asarray(y), CALIBRATED_TEST, CALIBRATED_SEED)
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


# --------------------------------------------------------------------------- preparation
def prepare(raw: RawData, options: DataOptions) -> Prepared:
    """Pixels scaled to [0, 1]; a seeded split of x_train gives the validation part."""
    a = raw.arrays
    frac, seed = VALIDATION_FRACTION, SPLIT_RANDOM_STATE
    tr, va = pp.train_val_split(len(a["x_train"]), frac, seed)
    x = pp.scale_images(a["x_train"])
    y = np.asarray(a["y_train"], np.int64)
    params = {"validation": f"split {frac} of x_train, random_state {seed}"}
    return x[tr], y[tr], x[va], y[va], params


DATASET = register_dataset(DatasetDef(
    name=NAME,
    description="Fashion-MNIST, ten garment classes from 28x28 grey-scale images",
    files=FILES,
    task="multiclass",
    loss="sparse_categorical_crossentropy",
    output_units=10,
    output_activation="softmax",
    output_layer="Dense(10, 'softmax')",
    input_hint="(28, 28) images",
    epochs={"full": 20, "fast": 20, "smoke": 2},
    max_train_samples={"smoke": 300},
    fit_validation_split=None,
    read_file=read_file,
    from_keras=from_keras,
    synthetic=synthetic,
    calibrated=calibrated,
    prepare=prepare,
))
