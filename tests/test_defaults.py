"""The Keras defaults that decide the experiments (overfit_core/defaults.py): recorded as data, diffed."""
from __future__ import annotations

import json

import pytest

from overfit_core.defaults import (RESHUFFLED, diff_defaults, experiment_defaults, fit_epoch_orders,
                                   reshuffled_fraction)


def keras3_on_tensorflow() -> bool:
    from overfit_core.compat import BACKEND, KERAS_MAJOR

    return KERAS_MAJOR >= 3 and BACKEND == "tensorflow"


SAME_ORDER_EVERY_EPOCH = (
    "Keras 3 on TensorFlow, after keras.utils.set_random_seed: model.fit(shuffle=True) on numpy arrays visits the "
    "samples in the same order every epoch (reshuffled fraction 0.0 on seeds 0-4; Keras 3.15.1 with TF 2.16 to "
    "2.21). Its array adapter draws the epoch's index permutation with a seeded tf.random.shuffle in a dataset "
    "iterated anew each epoch, so the op restarts from the same state; Keras 2's adapter repeats that dataset for "
    "all epochs in one iterator (data_adapter.py: indices_dataset.repeat(epochs)) and draws a new permutation each "
    "epoch. Keras 2 (tf.keras 2.12-2.21) and Keras 3 on JAX move 97-100% of the samples between epochs, and "
    "without a seed Keras 3 on TensorFlow reshuffles too. "
    "Its first epoch's order equals Keras 2's. This is what moved the BatchNormalization rows between tf215 and "
    "tf216 (docs/matrix.md). An XPASS means Keras fixed it: remove this xfail and recalibrate.")


def test_the_defaults_that_decide_the_experiments_are_recorded_as_json():
    d = experiment_defaults()
    assert json.loads(json.dumps(d)) == d
    assert {"optimizers", "layers", "initializers", "regularizers", "fit", "compile", "backend", "versions",
            "fit_behaviour"} <= set(d)
    assert d["fit_behaviour"] == {"reshuffles_each_epoch": not keras3_on_tensorflow(),
                                  "order_follows_the_seed": not keras_nightly_on_tensorflow()}
    assert d["optimizers"]["Adam"]["epsilon"] > 0 and d["optimizers"]["RMSprop"]["rho"] > 0
    bn = d["layers"]["BatchNormalization"]
    assert 0 < bn["momentum"] < 1 and bn["epsilon"] > 0
    assert d["layers"]["Dropout"]["rate"] == 0.5 and d["fit"]["shuffle"] is True
    assert "name" not in d["optimizers"]["Adam"]  # names and dtypes are not settings


def test_diff_names_each_changed_setting_and_ignores_versions():
    before = experiment_defaults()
    after = json.loads(json.dumps(before))
    after["optimizers"]["Adam"]["epsilon"] = 1e-8
    after["layers"]["BatchNormalization"]["new_option"] = True
    after["versions"] = {"keras": "99"}
    assert diff_defaults(before, after) == [
        ("layers.BatchNormalization.new_option", "(absent)", True),
        ("optimizers.Adam.epsilon", before["optimizers"]["Adam"]["epsilon"], 1e-8)]
    assert diff_defaults(before, before) == []


def test_float32_round_off_and_serialisation_keys_are_not_changes_and_the_line_names_what_moved():
    from overfit_core.defaults import describe_diff

    before = {"optimizers": {"Adam": {"learning_rate": 0.001, "epsilon": 1e-7, "decay": 0.0}},
              "layers": {"Dense": {"kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform"}}}}
    after = {"optimizers": {"Adam": {"learning_rate": 0.0010000000474974513, "epsilon": 1e-8, "use_ema": False}},
             "layers": {"Dense": {"kernel_initializer": {"class_name": "GlorotUniform"}}}}
    changes = diff_defaults(before, after)
    assert [k for k, _, _ in changes] == ["optimizers.Adam.decay", "optimizers.Adam.epsilon", "optimizers.Adam.use_ema"]
    assert describe_diff(changes) == ("`optimizers.Adam.epsilon` 1e-07 -> 1e-08; 1 new settings "
                                      "(`optimizers.Adam.use_ema`); 1 gone (`optimizers.Adam.decay`)")

ONE_ORDER_FOR_EVERY_SEED = (
    "keras-nightly 3.16.0.dev (measured: 3.16.0.dev2026102704 with tf-nightly 2.23.0.dev20261026) on TensorFlow: "
    "fit's sample order ignores the seed. Its array adapter now shuffles with tf.random.experimental."
    "stateless_shuffle seeded by (self._epoch, 0) (array_data_adapter.py: _tf_shuffle), and the dataset is built "
    "once, so seeds 0, 1 and 2 all train on one permutation ([14, 4, 44, 13, 30, ...] of 64), every epoch, in every "
    "run. The matrix saw it as tf221 -> nightly moving adam and rmsprop on the real data (docs/matrix.md). An XPASS "
    "means it was fixed: remove this xfail.")


def keras_nightly_on_tensorflow() -> bool:
    from overfit_core.compat import keras

    return keras.__version__.startswith("3.16.0.dev") and keras3_on_tensorflow()


def test_fit_order_follows_the_seed(request):
    if keras_nightly_on_tensorflow():
        request.applymarker(pytest.mark.xfail(reason=ONE_ORDER_FOR_EVERY_SEED, strict=True))
    firsts = [fit_epoch_orders(seed)[0] for seed in (0, 1, 2)]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        moved = reshuffled_fraction([firsts[a], firsts[b]])
        assert moved > RESHUFFLED, f"seeds {a} and {b} train on nearly one order ({moved:.0%} of positions differ)"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_reshuffles_the_training_samples_every_epoch(seed, request):
    if keras3_on_tensorflow():
        request.applymarker(pytest.mark.xfail(reason=SAME_ORDER_EVERY_EPOCH, strict=True))
    orders = fit_epoch_orders(seed)
    assert [sorted(o) for o in orders] == [list(range(64))] * 3  # every sample once per epoch
    moved = reshuffled_fraction(orders)
    assert moved > RESHUFFLED, f"only {moved:.0%} of the positions changed between epochs: fit repeats its order"


def test_the_reshuffled_fraction_is_zero_for_a_fixed_order_and_near_one_for_fresh_shuffles():
    import numpy as np

    rng = np.random.default_rng(0)
    assert reshuffled_fraction([list(range(64))] * 3) == 0.0
    assert reshuffled_fraction([list(rng.permutation(64)) for _ in range(3)]) > 0.9
    with pytest.raises(ValueError, match="two or more epochs"):
        reshuffled_fraction([list(range(4))])
