"""The variant registry and the models it builds."""
from __future__ import annotations

import dataclasses

import pytest

from overfit_core import VARIANTS, experiments, get_variant, variants_for
from overfit_core.errors import ConfigError
from overfit_core.variants import VariantSpec, build_model

INPUT = {"imdb": (100,), "fashion_mnist": (28, 28), "boston": (12,)}


def test_unknown_variant_lists_every_registered_name():
    with pytest.raises(ConfigError) as info:
        get_variant("huge")
    assert all(name in str(info.value) for name in VARIANTS)


def test_specs_are_frozen_and_round_trip():
    spec = get_variant("l1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.dropout = 0.5
    assert VariantSpec.from_dict(spec.to_dict()) == spec
    assert spec.digest() != get_variant("l2").digest()


def test_every_experiment_names_registered_variants_of_one_dataset():
    for variants in experiments().values():
        assert len({get_variant(v).dataset for v in variants}) == 1
    assert {v for vs in experiments().values() for v in vs} == set(VARIANTS)
    assert list(experiments(variants_for("fashion_mnist"))) == ["optimizer", "batchnorm", "init_scale"]


def test_every_tag_in_use_is_declared():
    from overfit_core import TAGS

    assert {t for s in VARIANTS.values() for t in s.tags} <= set(TAGS)


def _layers(model):
    return [(type(layer).__name__, getattr(layer, "units", None)) for layer in model.layers]


@pytest.mark.parametrize("name", [s.name for d in INPUT for s in variants_for(d)])
def test_model_shape_follows_spec(name):
    spec = get_variant(name)
    model = build_model(spec, INPUT[spec.dataset])
    dense = [u for kind, u in _layers(model) if kind == "Dense"]
    assert tuple(dense[:-1]) == spec.hidden
    assert dense[-1] == (10 if spec.dataset == "fashion_mnist" else 1)
    kinds = [kind for kind, _ in _layers(model)]
    assert kinds.count("Dropout") == (len(spec.hidden) if spec.dropout else 0)
    assert kinds.count("BatchNormalization") == (len(spec.hidden) if spec.batchnorm else 0)


def test_course_architectures():
    assert get_variant("overfit").hidden == (1024, 512, 512, 512)
    assert get_variant("basic").hidden == (256, 128)
    assert {get_variant(n).hidden for n in ("reg_base", "l1", "l2", "dropout")} == {(128, 128)}
    assert get_variant("tiny").learning_rate == 0.02 and get_variant("tiny").hidden == (8,)  # docs/properties.md
    assert {s.batch_size for s in variants_for("imdb")} == {500}


def test_batchnorm_sits_between_dense_and_relu():
    model = build_model(get_variant("bn"), (28, 28))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:6] == ["InputLayer", "Flatten", "Dense", "BatchNormalization", "Activation", "Dense"][: len(kinds[:6])]
    first_dense = model.layers[kinds.index("Dense")]
    assert first_dense.get_config()["activation"] == "linear"


@pytest.mark.parametrize("name,kind", [("l1", "L1"), ("l2", "L2")])
def test_penalty_is_on_every_hidden_kernel_only(name, kind):
    model = build_model(get_variant(name), (100,))
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [type(d.kernel_regularizer).__name__ for d in dense] == [kind, kind, "NoneType"]
