"""`train` on the smoke tier: what a record holds, seeding, and the cache."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from overfit_core import FAST, SMOKE, DataOptions, get_variant, load_dataset
from overfit_core.errors import ConfigError
from overfit_core.records import RecordStore
from overfit_core.training import check_seed, plan, train, train_cached

from ._shared import session_dir

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def synthetic():
    opts = DataOptions(kind="synthetic")
    return {name: load_dataset(name, opts) for name in ("imdb", "fashion_mnist", "boston")}


@pytest.fixture(scope="module")
def tiny_boston(synthetic, tmp_path_factory):
    """`tiny` on boston, seed 0, smoke: trained once for the tests that only read it (xdist workers share the file)."""
    store = RecordStore(session_dir(tmp_path_factory) / "test_training-records")
    return train_cached(get_variant("tiny"), synthetic["boston"], 0, SMOKE, store)[0]


def test_record_holds_history_kernels_versions_and_throughput(synthetic):
    r = train(get_variant("l1"), synthetic["imdb"], 0, SMOKE)
    assert r.status == "ok" and r.epochs_run == 2
    # the smoke tier: imdb's 2 epochs on its first 1000 reviews (the dataset's defaults; l1 sets only fast/full)
    assert r.data_kind == "synthetic" and dict(r.plan) == plan(get_variant("l1"), SMOKE) == {
        "epochs": 2, "max_train_samples": 1000, "validation_split": None}
    assert {"loss", "val_loss", "binary_crossentropy", "val_binary_crossentropy", "accuracy"} <= set(r.history)
    # Keras' loss includes the L1 penalty; the added metric does not.
    assert r.history["loss"][-1] > r.history["binary_crossentropy"][-1]
    assert [k.size for k in r.kernels] == [100 * 128, 128 * 128, 128]
    assert all(k.l1 > 0 and 0 < k.l2 <= k.l1 and 0 <= k.near_zero_fraction <= 1 for k in r.kernels)
    assert r.versions["tensorflow"] and r.versions["keras"] and r.data_source == "synthetic(seed=0)"
    assert r.n_train == 1000 and r.samples_per_s > 0 and r.wall_time_s > 0 and len(r.cache_key) == 24


def test_unregularised_metric_equals_loss_without_penalty(synthetic):
    r = train(get_variant("reg_base"), synthetic["imdb"], 0, SMOKE)
    np.testing.assert_allclose(r.history["val_loss"], r.history["val_binary_crossentropy"], rtol=1e-5)


def test_fewer_epochs_train_the_first_epochs_of_a_longer_fit(synthetic):
    """tools/epoch_budget.py judges a shorter tier on the first epochs of longer records: the same shuffles, Dropout
    masks and updates, so every curve of the shorter fit is the beginning of the longer one's, bit for bit."""
    spec = get_variant("adam_dropout")
    fits = [train(dataclasses.replace(spec, epochs=(("smoke", n),)), synthetic["fashion_mnist"], 4, SMOKE) for n in (3, 2)]
    long, short = ({k: list(v) for k, v in r.history.items()} for r in fits)
    assert [r.epochs_run for r in fits] == [3, 2] and short == {k: v[:2] for k, v in long.items()}


def test_same_seed_same_history_other_seed_differs(synthetic):
    a, b, c = (train(get_variant("adam"), synthetic["fashion_mnist"], s, SMOKE) for s in (1, 1, 2))
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    assert a.history["loss"] != c.history["loss"]


def test_regression_record_has_rmse_mae_mape_on_held_out_part(tiny_boston):
    r = tiny_boston
    assert set(r.evaluation) == {"rmse", "mae", "mape", "constant_train_loss", "constant_val_loss"}
    assert len(r.predictions) == len(r.targets) == 102
    err = np.subtract(r.predictions, r.targets)
    assert r.evaluation["rmse"] == pytest.approx(math.sqrt(np.mean(err**2)), rel=1e-4)
    assert r.n_train == int(404 * 0.8)  # validation_split 0.2 inside fit, as the course does
    assert r.plan["validation_split"] == 0.2 and r.epochs_run == r.plan["epochs"] == 3


def test_wrong_dataset_and_bad_seed_are_rejected(synthetic):
    with pytest.raises(ConfigError, match="'imdb'"):
        train(get_variant("basic"), synthetic["boston"], 0, SMOKE)
    with pytest.raises(ConfigError, match="seed=-1"):
        train(get_variant("tiny"), synthetic["boston"], -1, SMOKE)
    for bad in (-1, True, 1.0, "0"):
        with pytest.raises(ConfigError, match="Expected an integer >= 0"):
            check_seed(bad)
    assert check_seed(np.int64(7)) == 7 and type(check_seed(np.int64(7))) is int


def test_train_cached_trains_once(synthetic, tiny_boston, tmp_path, monkeypatch):
    from overfit_core import training

    fits = []  # calls of `train`; each returns the record that `train` makes of these arguments

    def fit(spec, dataset, seed, config, **kw):
        fits.append((spec.name, dataset.name, seed, config.tier))
        return tiny_boston

    monkeypatch.setattr(training, "train", fit)
    store = RecordStore(tmp_path)
    first, cached1 = train_cached(get_variant("tiny"), synthetic["boston"], 0, SMOKE, store)
    second, cached2 = train_cached(get_variant("tiny"), synthetic["boston"], 0, SMOKE, store)
    assert (cached1, cached2) == (False, True) and second == first and fits == [("tiny", "boston", 0, "smoke")]
    _, cached3 = train_cached(get_variant("tiny"), synthetic["boston"], 0, SMOKE, store, retrain=True)
    assert cached3 is False and len(fits) == 2


def test_plan_reads_the_spec_then_the_dataset_and_caps_by_both():
    import dataclasses

    l1 = get_variant("l1")
    assert plan(l1, FAST)["epochs"] == 40  # the spec's own fast epochs
    assert plan(dataclasses.replace(l1, epochs=(("*", 5),)), SMOKE)["epochs"] == 5  # "*": every tier
    assert plan(dataclasses.replace(l1, epochs=(("smoke", 1), ("*", 5))), SMOKE)["epochs"] == 1  # the tier wins
    assert plan(dataclasses.replace(l1, max_train_samples=500), SMOKE)["max_train_samples"] == 500
    assert plan(dataclasses.replace(l1, max_train_samples=5000), SMOKE)["max_train_samples"] == 1000  # smoke cap
    assert plan(get_variant("overfit_random_labels"), FAST)["max_train_samples"] == 1000
    assert plan(get_variant("adam"), FAST) == {"epochs": 20, "max_train_samples": None, "validation_split": None}


def test_cache_keys_follow_the_training_code(tmp_path):
    from overfit_core import training

    for name in training.TRAINING_SOURCES:
        target = tmp_path / name
        if name.endswith(".py"):
            target.write_text(f"# {name}\n")
        else:
            target.mkdir()
            (target / "__init__.py").write_text("# package\n")
    before = training.code_digest(tmp_path)
    (tmp_path / "training.py").write_text("# training.py, edited\n")
    assert training.code_digest.__wrapped__(tmp_path) != before
    assert training.code_digest() == training.code_digest()  # computed once per process
    assert len(training.code_digest()) == 16


def test_train_eval_probe_observes_without_changing_training(synthetic, monkeypatch):
    """The inference-mode training-slice probe adds curves and leaves every Keras-logged curve bit-identical."""
    import overfit_core.training as training

    spec = get_variant("dropout")
    with_probe = train(spec, synthetic["imdb"], 0, SMOKE)
    monkeypatch.setattr(training, "_train_eval_callback", lambda *a, **k: None)
    without = train(spec, synthetic["imdb"], 0, SMOKE)
    assert set(with_probe.history) - set(without.history) == {"train_eval_binary_crossentropy", "train_eval_accuracy"}
    for k, curve in without.history.items():
        assert with_probe.history[k] == curve, k
    assert len(with_probe.history["train_eval_accuracy"]) == with_probe.epochs_run


def test_pointwise_scores_match_keras_metrics():
    from overfit_core.compat import keras
    from overfit_core.training import pointwise_scores

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (50, 1)).astype(np.float64)
    p = rng.uniform(0, 1, (50, 1))
    ours = pointwise_scores("binary_crossentropy", y, p)
    assert ours["binary_crossentropy"] == pytest.approx(float(np.mean(keras.losses.binary_crossentropy(y, p))), rel=1e-5)
    assert ours["accuracy"] == pytest.approx(float(np.mean((p > 0.5) == y)))
    labels = rng.integers(0, 10, (50, 1)).astype(np.float64)
    probs = rng.dirichlet(np.ones(10), 50)
    ours = pointwise_scores("sparse_categorical_crossentropy", labels, probs)
    ref = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels[:, 0], probs)))
    assert ours["sparse_categorical_crossentropy"] == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match="hinge"):
        pointwise_scores("hinge", y, p)


def test_constant_predictor_is_the_training_mean_or_prior():
    from overfit_core.training import constant_predictor

    reg = constant_predictor("regression", [1.0, 3.0], [2.0, 6.0])
    assert reg == {"constant_train_loss": 1.0, "constant_val_loss": 8.0}
    cls = constant_predictor("classification", [0, 1, 1, 1], [1, 0])
    assert cls["chance_val_accuracy"] == 0.5
    assert cls["constant_val_loss"] == pytest.approx(-(math.log(0.75) + math.log(0.25)) / 2)


GRAPH_SETTING_CHILD = """
import json, sys
from overfit_core import SMOKE, DataOptions, get_variant, load_dataset
from overfit_core.compat import tf
from overfit_core.training import train
opts = DataOptions(kind="synthetic")
out = {"min_graph_nodes": tf.config.optimizer.get_experimental_options().get("min_graph_nodes")}
for name in sys.argv[1:]:
    spec = get_variant(name)
    out[name] = train(spec, load_dataset(spec.dataset, opts), 0, SMOKE).to_dict()
print(json.dumps(out))
"""


def test_the_graph_optimizer_setting_keeps_every_number(synthetic, tiny_boston):
    """compat sets TF's min_graph_nodes to 50 before TF starts (Keras 3 re-optimises tf.data's small functions every
    epoch); a process on TensorFlow's default (0) trains bit-identical records: histories, kernels, predictions."""
    from overfit_core import compat

    if compat.BACKEND != "tensorflow":
        pytest.skip("a TensorFlow setting; Keras runs on " + compat.BACKEND)
    assert compat.tf.config.optimizer.get_experimental_options().get("min_graph_nodes") == 50, \
        "this worker's TensorFlow started before overfit_core.compat could set min_graph_nodes"
    names = ("tiny", "bn")
    env = {**os.environ, compat.MIN_GRAPH_NODES: "0"}
    child = subprocess.run([sys.executable, "-c", GRAPH_SETTING_CHILD, *names], env=env, capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    theirs = json.loads(child.stdout.strip().splitlines()[-1])
    assert not theirs["min_graph_nodes"]  # 0: TF reports it as unset
    for name in names:
        spec = get_variant(name)
        ours = (tiny_boston if name == "tiny" else train(spec, synthetic[spec.dataset], 0, SMOKE)).to_dict()
        for field in ("history", "kernels", "evaluation", "predictions"):
            assert ours[field] == theirs[name][field], f"{name}: {field} differs with TF's default min_graph_nodes"


@pytest.mark.parametrize("value", ["fifty", "-1", "1.5", "²"])
def test_a_bad_min_graph_nodes_is_named(value):
    from overfit_core.compat import MIN_GRAPH_NODES, min_graph_nodes

    with pytest.raises(ConfigError, match=rf"{MIN_GRAPH_NODES}='{value}'.*Expected a whole number"):
        min_graph_nodes({MIN_GRAPH_NODES: value})
    assert min_graph_nodes({}) == 50 and min_graph_nodes({MIN_GRAPH_NODES: " 0 "}) == 0
