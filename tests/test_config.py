"""Training configs, presets and seed parsing."""
from __future__ import annotations

import dataclasses

import pytest

from overfit_core import FAST, FULL, get_config, get_variant
from overfit_core.config import TrainConfig, parse_seeds
from overfit_core.errors import ConfigError


def test_full_preset_is_the_course_settings():
    epochs = {n: FULL.epochs_for(get_variant(n)) for n in ("basic", "overfit", "reg_base", "l1", "l2", "dropout",
                                                           "adam", "bn", "tiny")}
    assert epochs == {"basic": 20, "overfit": 300, "reg_base": 100, "l1": 100, "l2": 100, "dropout": 100,
                      "adam": 20, "bn": 20, "tiny": 50}
    assert FULL.validation_split_for(get_variant("tiny")) == 0.2
    assert FULL.validation_split_for(get_variant("overfit")) is None


def test_fast_differs_from_full_only_in_epochs_and_samples():
    diff = {f.name for f in dataclasses.fields(TrainConfig) if getattr(FAST, f.name) != getattr(FULL, f.name)}
    assert diff <= {"tier", "epochs", "max_train_samples"}


def test_config_round_trip():
    assert TrainConfig.from_dict(FAST.to_dict()) == FAST
    assert FAST.digest() != FULL.digest()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_non_positive_epochs_are_rejected(bad):
    with pytest.raises(ConfigError, match="positive integer"):
        dataclasses.replace(FAST, epochs=(("imdb", bad),))


def test_unknown_tier_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="fast, full, smoke"):
        get_config("medium")


@pytest.mark.parametrize("text,seeds", [("0", (0,)), ("0,1,2", (0, 1, 2)), ("0-2", (0, 1, 2)), ("3-5,0,4", (3, 4, 5, 0)),
                                        (" 1 , 2 ", (1, 2))])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["3-1", "abc", "-1", "1,,2", "", "0-x"])
def test_parse_seeds_rejects_bad_specs_naming_the_value(text):
    with pytest.raises(ConfigError) as info:
        parse_seeds(text)
    assert repr(text) in str(info.value) and "'0-2'" in str(info.value)
