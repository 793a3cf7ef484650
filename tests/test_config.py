"""Training configs, presets and seed parsing."""
from __future__ import annotations

import dataclasses

import pytest

from overfit_core import FAST, FULL, SMOKE, get_config, get_variant
from overfit_core.config import TrainConfig, parse_seeds
from overfit_core.errors import ConfigError
from overfit_core.training import plan


def test_full_tier_is_the_course_settings():
    epochs = {n: plan(get_variant(n), FULL)["epochs"] for n in ("basic", "overfit", "reg_base", "l1", "l2", "dropout",
                                                               "adam", "bn", "tiny")}
    assert epochs == {"basic": 20, "overfit": 300, "reg_base": 100, "l1": 100, "l2": 100, "dropout": 100,
                      "adam": 20, "bn": 20, "tiny": 50}
    assert plan(get_variant("tiny"), FULL)["validation_split"] == 0.2
    assert plan(get_variant("overfit"), FULL)["validation_split"] is None
    assert plan(get_variant("overfit_random_labels"), FULL)["max_train_samples"] == 1000


def test_fast_and_smoke_shorten_only_what_the_specs_and_datasets_say():
    diff = {f.name for f in dataclasses.fields(TrainConfig) if getattr(FAST, f.name) != getattr(FULL, f.name)}
    assert diff == {"tier"}
    assert plan(get_variant("overfit"), FAST) == {"epochs": 50, "max_train_samples": None, "validation_split": None}
    assert plan(get_variant("overfit"), SMOKE) == {"epochs": 2, "max_train_samples": 1000, "validation_split": None}
    assert plan(get_variant("adam"), SMOKE)["max_train_samples"] == 300


def test_config_round_trip():
    assert TrainConfig.from_dict(FAST.to_dict()) == FAST
    assert FAST.digest() != FULL.digest()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_non_positive_fit_options_are_rejected(bad):
    with pytest.raises(ConfigError, match="positive integer"):
        dataclasses.replace(FAST, steps_per_execution=bad)


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
