"""tools/epoch_budget.py: checks judged on records cut to fewer epochs, against a fit of that many epochs."""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from overfit_core import SMOKE, DataOptions, checks, get_variant, load_dataset
from overfit_core.records import RecordStore
from overfit_core.training import train, train_cached

TOOL = Path(__file__).resolve().parents[1] / "tools" / "epoch_budget.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("epoch_budget", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """tiny and tiny_lr_high on synthetic boston at the smoke tier (3 epochs): seed 0 calibrates, seed 1 is held out."""
    folder = tmp_path_factory.mktemp("pool")
    boston = load_dataset("boston", DataOptions(kind="synthetic"))
    for name in ("tiny", "tiny_lr_high"):
        for seed in (0, 1):
            train_cached(get_variant(name), boston, seed, SMOKE, RecordStore(folder))
    return folder, boston


@pytest.mark.training
def test_a_cut_is_judged_as_a_fit_of_that_many_epochs(tool, pool):
    folder, boston = pool
    records = tool.load([folder])
    rows = {r["check"]: r for r in tool.budget(records, "tiny", 2, {0}, {1}) if r["label"] == "tiny"}
    row = rows["learns"]
    assert not rows["regression_metrics"]["exact"]  # it reads the final model's predictions, which a cut cannot give
    two_epochs = train(dataclasses.replace(get_variant("tiny"), epochs=(("smoke", 2),)), boston, 0, SMOKE)
    [learns] = [b for b in checks.bindings({"tiny": get_variant("tiny")}) if b.check.name == "learns"]
    assert row["exact"] and row["median"] == checks.evaluate(learns, {"tiny": two_epochs}).effect
    # cut to the epochs they ran, the records are judged as they are
    whole = {(r["check"], r["label"], r["kind"]): r["in_force"] for r in tool.budget(records, "tiny", 3, {0}, {1})}
    as_run = tool.verify(records, {0}), tool.verify(records, {1})
    assert whole and all(v == (as_run[0][(c, l, k, "smoke")], as_run[1][(c, l, k, "smoke")])
                         for (c, l, k), v in whole.items())
    assert {label for _, label, _ in whole} == {"tiny", "tiny_lr_high-tiny"}


@pytest.mark.training
def test_the_command_writes_its_table_and_names_bad_input(tool, pool, tmp_path, capsys):
    folder, _ = pool
    seeds = ["--calibration-seeds", "0", "--held-out-seeds", "1"]
    doc = tmp_path / "budget.md"
    assert tool.main([str(folder), "--variant", "tiny", "--epochs", "2,3", *seeds, "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "| 2 | learns | tiny | synthetic |" in text and "| 3 | lr_too_high_is_jittery | tiny_lr_high-tiny |" in text
    assert tool.main([str(folder), "--variant", "tiny", "--epochs", "5", *seeds]) == 2
    assert "Received: epochs=5" in capsys.readouterr().err
    assert tool.main([str(folder), "--epochs", "two"]) == 2
    assert "Received: --epochs='two'" in capsys.readouterr().err
    assert tool.main([str(folder), "--variant", "overfit"]) == 2
    assert "no records of variant 'overfit'" in capsys.readouterr().err
