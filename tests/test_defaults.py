"""The Keras defaults that decide the experiments (overfit_core/defaults.py): recorded as data, diffed."""
from __future__ import annotations

import json

from overfit_core.defaults import diff_defaults, experiment_defaults


def test_the_defaults_that_decide_the_experiments_are_recorded_as_json():
    d = experiment_defaults()
    assert json.loads(json.dumps(d)) == d
    assert {"optimizers", "layers", "initializers", "regularizers", "fit", "compile", "backend", "versions"} <= set(d)
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
