"""Compiled models reused between fits (`training.CompiledModels`): the same records as a new model for every fit."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json

import pytest

from overfit_core import SMOKE, DataOptions, get_variant, load_dataset, training
from overfit_core.compat import BACKEND, KERAS_MAJOR, clear_session, keras

REUSES = pytest.mark.skipif(KERAS_MAJOR < 3 or BACKEND != "tensorflow",
                            reason=f"models are reused on Keras 3 with TensorFlow only (here Keras {KERAS_MAJOR} on "
                                   f"{BACKEND}): run with tox -e tf221")
# Dropout (its seed state), BatchNormalization (moving statistics), Adam (its step and two slots), RMSprop with
# early stopping (restored weights, then evaluate), a regression (predict).
VARIANTS = ("adam_dropout", "bn", "overfit_early_stop", "tiny")


def _numbers(record) -> dict:
    d = json.loads(record.to_json())
    for timing in ("wall_time_s", "samples_per_s"):
        d.pop(timing)
    return d


@pytest.fixture(scope="module")
def data():
    return {name: load_dataset(name, DataOptions(kind="synthetic")) for name in ("fashion_mnist", "imdb", "boston")}


def _take_a_name():
    """Reset Keras' names, then take one: a model built now is named after it, unlike one kept from before."""
    clear_session()
    keras.layers.Dense(1)


@contextlib.contextmanager
def _compiled(kept: training.CompiledModels):
    """`kept` as the suite's compiled models, for the fits in this block."""
    before, training.COMPILED = training.COMPILED, kept
    try:
        yield kept
    finally:
        training.COMPILED = before


@pytest.fixture(scope="module")
def new_record(data):
    """name -> seed 1 of that variant trained on a new model (nothing kept), once per variant in this module."""
    @functools.lru_cache(maxsize=None)
    def train_new(name):
        spec = get_variant(name)
        with _compiled(training.CompiledModels(enabled=False)):
            _take_a_name()
            return training.train(spec, data[spec.dataset], 1, SMOKE)

    return train_new


def _fit_seed1(name, data, kept: training.CompiledModels):
    """Seed 1 trained with `kept` as the suite's compiled models (seed 0 first when it keeps no model yet)."""
    spec = get_variant(name)
    with _compiled(kept):
        if not kept.models:
            training.train(spec, data[spec.dataset], 0, SMOKE)
        [model] = kept.models.values()
        step = model.train_function
        _take_a_name()
        record = training.train(spec, data[spec.dataset], 1, SMOKE)
    assert list(kept.models.values()) == [model] and model.train_function is step  # no new model, no new trace
    return record


@pytest.fixture(scope="module")
def reused(data):
    """name -> (its compiled models, seed 1 trained on the model kept from seed 0), once per variant in this module."""
    @functools.lru_cache(maxsize=None)
    def reuse(name):
        kept = training.CompiledModels()
        return kept, _fit_seed1(name, data, kept)

    return reuse


@REUSES
@pytest.mark.training
@pytest.mark.parametrize("name", VARIANTS)
def test_a_reused_model_trains_the_same_record_as_a_new_one(name, new_record, reused):
    assert _numbers(reused(name)[1]) == _numbers(new_record(name))


class _SkipsState(training.CompiledModels):
    """A reset that leaves the variables `skip` picks as the last fit left them."""

    def __init__(self, skip):
        super().__init__()
        self.skip = skip

    def state_pairs(self, model, fresh, optimizer):
        return [(kept, new) for kept, new in super().state_pairs(model, fresh, optimizer)
                if not self.skip(kept, model)]


@REUSES
@pytest.mark.training
@pytest.mark.parametrize("name,missed", [
    ("adam_dropout", "optimizer"), ("adam_dropout", "seed_generator"), ("bn", "moving")])
def test_the_comparison_fails_when_the_reset_misses_some_state(name, missed, data, new_record, reused):
    """The test above can fail: leave the optimizer's step and slots, Dropout's seed state or BatchNormalization's
    moving statistics out of the reset (of the model the test above kept, as its last fit left it), and seed 1's
    record differs from a new model's."""
    def skip(variable, model):
        if missed == "optimizer":
            return any(variable is v for v in model.optimizer.variables)
        return missed in variable.path

    skipping = _SkipsState(skip)
    skipping.models.update(reused(name)[0].models)
    assert _numbers(_fit_seed1(name, data, skipping))["history"] != _numbers(new_record(name))["history"]


def test_reuse_is_off_for_strategies_users_builders_other_backends_and_when_disabled():
    kept, tiny = training.CompiledModels(), get_variant("tiny")
    assert (kept._key(tiny, SMOKE, (13,), None) is not None) == (KERAS_MAJOR >= 3 and BACKEND == "tensorflow")
    assert kept._key(tiny, SMOKE, (13,), strategy=object()) is None
    assert kept._key(dataclasses.replace(tiny, builder=lambda input_shape: None), SMOKE, (13,), None) is None
    assert training.CompiledModels(enabled=False)._key(tiny, SMOKE, (13,), None) is None
