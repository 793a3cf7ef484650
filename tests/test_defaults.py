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
