"""Fault injection (overfit_core/faults.py, `overfit-bench faults`): every patch changes Keras and its undo restores
it; the start-up hook injects a fault into a child process; the command's bad input and its table.

The patches are process-wide, so they are exercised in ONE child process (started under a fault, to test the
start-up hook too), which reports JSON. The end-to-end command trains; it runs only with OVERFIT_FAULTS_E2E=1.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from overfit_core import faults
from overfit_core.checks import CHECKS
from overfit_core.cli import main
from overfit_core.config import parse_seeds
from overfit_core.faults import FAULTS, FaultResult, compare, environment, markdown, table_lines
from overfit_core.variants import VARIANTS, get_variant

from ._shared import once_per_session

# Runs in the child: each probe measures one behaviour of Keras; the child reports it clean, under the fault and
# after the undo. The child starts under relu_identity (the start-up hook), reports that, and undoes it first.
PROBE = r'''
import json
import os
import numpy as np
from overfit_core import faults
from overfit_core.compat import KERAS_MAJOR, keras

ONES = np.ones((10, 10), "float32")


def variable(value):
    return keras.Variable(value) if KERAS_MAJOR >= 3 else __import__("tensorflow").Variable(value)


def fit(offset=0.0, **kw):
    """A Dense(1) fixed at the identity (SGD at rate 0) on y = x: losses are 0 unless fit changes the data."""
    keras.utils.set_random_seed(0)
    x = np.arange(20, dtype="float32").reshape(-1, 1)
    y = x.reshape(-1).copy()
    y[10:] += offset  # the last half: the part validation_split holds out
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    if kw.pop("val_offset", None):
        kw["validation_data"] = (x, y + 10.0)
    h = model.fit(x, y, batch_size=20, epochs=1, verbose=0, shuffle=False, **kw).history
    return {k: float(v[-1]) for k, v in h.items()}


def labels_shuffled():
    loss, split = fit()["loss"], fit(validation_split=0.5)  # one fit with the split gives both of its losses
    return {"loss": loss, "split_loss": split["loss"], "split_val_loss": split["val_loss"]}


def zeros(rate):
    out = np.asarray(keras.layers.Dropout(rate)(np.ones((1, 4000), "float32"), training=True))
    return float((out == 0).mean())


def adam_step(optimizer):
    w = variable([1.0])
    grad = keras.ops.convert_to_tensor([3.0]) if KERAS_MAJOR >= 3 else __import__("tensorflow").constant([3.0])
    optimizer.apply_gradients([(grad, w)])
    return float(np.asarray(w)[0])


def lr(opt):
    return float(np.asarray(opt.learning_rate))


def relu_dense():
    layer = keras.layers.Dense(1, activation="relu", kernel_initializer="ones", bias_initializer="zeros")
    return float(np.asarray(layer(np.array([[-1.0]], "float32")))[0, 0])


def batchnorm():
    x = np.random.RandomState(0).normal(3.0, 5.0, (64, 4)).astype("float32")
    return float(np.abs(np.asarray(keras.layers.BatchNormalization()(x, training=True)) - x).max())


PROBES = {
    "dropout_off": lambda: {"zeros": zeros(0.5)},
    "dropout_fifth": lambda: {"zeros": zeros(0.5)},
    "l1_zero": lambda: {"penalty": float(keras.regularizers.L1(0.01)(ONES))},
    "l1_tenth": lambda: {"penalty": float(keras.regularizers.L1(0.01)(ONES))},
    "l2_zero": lambda: {"penalty": float(keras.regularizers.L2(0.001)(ONES))},
    "l2_tenth": lambda: {"penalty": float(keras.regularizers.L2(0.001)(ONES))},
    "batchnorm_identity": lambda: {"max_change": batchnorm()},
    # both ways to get an Adam (on Keras 2 the suite's way, a config with a learning rate, gives the legacy Adam)
    "adam_is_sgd": lambda: {"w": adam_step(keras.optimizers.Adam(learning_rate=0.1)),
                            "w_get": adam_step(keras.optimizers.get({"class_name": "adam",
                                                                     "config": {"learning_rate": 0.1}}))},
    "lr_ignored": lambda: {
        "adam": lr(keras.optimizers.get({"class_name": "adam", "config": {"learning_rate": 0.5}})),  # the suite's way
        "adam_new": lr(keras.optimizers.Adam(learning_rate=0.5)), "sgd": lr(keras.optimizers.SGD(learning_rate=0.5)),
        "rmsprop": lr(keras.optimizers.RMSprop(0.5))},
    "labels_shuffled": labels_shuffled,
    "val_is_train": lambda: {"val_loss": fit(val_offset=True)["val_loss"],
                             "split_val_loss": fit(offset=10.0, validation_split=0.5)["val_loss"]},
    "relu_identity": lambda: {"relu": float(keras.activations.relu(-1.0)), "dense": relu_dense()},
    "early_stopping_no_restore": lambda: {
        "restore": float(keras.callbacks.EarlyStopping(restore_best_weights=True).restore_best_weights)},
}

report = {"startup": {"active": sorted(faults.ACTIVE), "keras": keras.__version__,
                      "relu": float(keras.activations.relu(-1.0))}}
for undo in list(faults.ACTIVE.values()):
    undo()
report["startup"]["undone"] = {"active": sorted(faults.ACTIVE), "keras": keras.__version__,
                               "relu": float(keras.activations.relu(-1.0))}
report["missing_probes"] = sorted(set(faults.FAULTS) - set(PROBES))
report["faults"] = {}
for name, probe in PROBES.items():
    clean = probe()
    undo = faults.FAULTS[name].apply()
    try:
        faulted = probe()
    finally:
        undo()
    report["faults"][name] = {"clean": clean, "faulted": faulted, "undone": probe()}
print(json.dumps(report), flush=True)
os._exit(0)  # skips tearing TensorFlow down at exit (about 0.8 s CPU); the report is all the test reads
'''

# name -> (clean, faulted): what each probe must read without the fault and under it (approximately)
EXPECTED = {
    "dropout_off": ({"zeros": 0.5}, {"zeros": 0.0}),
    "dropout_fifth": ({"zeros": 0.5}, {"zeros": 0.1}),
    "l1_zero": ({"penalty": 1.0}, {"penalty": 0.0}),
    "l1_tenth": ({"penalty": 1.0}, {"penalty": 0.1}),
    "l2_zero": ({"penalty": 0.1}, {"penalty": 0.0}),
    "l2_tenth": ({"penalty": 0.1}, {"penalty": 0.01}),
    # Adam's first step is the learning rate; SGD's is the rate x the gradient
    "adam_is_sgd": ({"w": 0.9, "w_get": 0.9}, {"w": 0.7, "w_get": 0.7}),
    "lr_ignored": ({"adam": 0.5, "adam_new": 0.5, "sgd": 0.5, "rmsprop": 0.5},
                   {"adam": 0.001, "adam_new": 0.001, "sgd": 0.01, "rmsprop": 0.001}),
    "val_is_train": ({"val_loss": 100.0, "split_val_loss": 100.0}, {"val_loss": 0.0, "split_val_loss": 0.0}),
    "relu_identity": ({"relu": 0.0, "dense": 0.0}, {"relu": -1.0, "dense": -1.0}),
    "early_stopping_no_restore": ({"restore": 1.0}, {"restore": 0.0}),
}


def _probe() -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE], env=environment("relu_identity"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"the child printed more than its report on stdout: {proc.stdout[:2000]!r}"
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """The child's report: started under relu_identity through `faults.environment` (the start-up hook).

    pytest-xdist workers share one child: the first worker to need the report writes it, under a lock, into the
    run's temporary folder (the parent of each worker's own), and the others read it there.
    """
    return once_per_session(tmp_path_factory, "faults-probed", _probe)


def test_the_start_up_hook_injects_the_named_fault_in_a_child(probed):
    start = probed["startup"]
    assert start["active"] == ["relu_identity"] and start["relu"] == -1.0
    assert start["keras"].endswith("+fault.relu_identity")  # records state it; cache keys hold it
    assert faults.fault_of_version(start["keras"]) == "relu_identity"
    assert start["undone"] == {"active": [], "keras": start["keras"].split("+")[0], "relu": 0.0}


def test_every_fault_has_a_probe(probed):
    assert probed["missing_probes"] == []
    assert set(probed["faults"]) == set(FAULTS)


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_patch_changes_keras_and_its_undo_restores_it(probed, name):
    got = probed["faults"][name]
    assert got["undone"] == pytest.approx(got["clean"], rel=0.2, abs=1e-6), "the undo did not restore Keras"
    assert got["faulted"] != pytest.approx(got["clean"], rel=0.05, abs=1e-6), "the patch changed nothing"
    if name in EXPECTED:
        clean, faulted = EXPECTED[name]
        assert got["clean"] == pytest.approx(clean, rel=0.2, abs=0.02)
        assert got["faulted"] == pytest.approx(faulted, rel=0.2, abs=0.02)


def test_the_probes_read_what_the_remaining_faults_change(probed):
    bn = probed["faults"]["batchnorm_identity"]
    assert bn["faulted"]["max_change"] == 0.0 and bn["clean"]["max_change"] > 1.0  # normalised vs returned as is
    shuffled = probed["faults"]["labels_shuffled"]
    assert shuffled["clean"] == {"loss": 0.0, "split_loss": 0.0, "split_val_loss": 0.0}
    assert shuffled["faulted"]["loss"] > 1.0 and shuffled["faulted"]["split_loss"] > 1.0
    assert shuffled["faulted"]["split_val_loss"] == 0.0  # the held-out part of validation_split keeps its labels


def test_an_unknown_fault_stops_the_child_instead_of_running_clean():
    env = {**environment("dropout_off"), faults.ENV: "no_such_fault"}
    proc = subprocess.run([sys.executable, "-c", "print('ran')"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and proc.stdout == ""
    assert "no_such_fault" in proc.stderr and "dropout_off" in proc.stderr  # the valid names


def test_environment_puts_the_hook_first_and_a_clean_one_drops_it():
    base = {"PYTHONPATH": "/somewhere", "HOME": "/root", faults.ENV: "l1_zero"}
    env = environment("l2_zero", base)
    parts = env["PYTHONPATH"].split(os.pathsep)
    assert parts[0] == str(faults.SITE_DIR) and (faults.SITE_DIR / "sitecustomize.py").is_file()
    assert "/somewhere" in parts and env[faults.ENV] == "l2_zero" and env["HOME"] == "/root"
    assert parts[1] == str(Path(faults.__file__).resolve().parent.parent)  # the child imports this overfit_core
    clean = environment(None, env)
    assert faults.ENV not in clean and str(faults.SITE_DIR) not in clean["PYTHONPATH"].split(os.pathsep)
    assert environment(None, {"PYTHONPATH": str(faults.SITE_DIR)})["PYTHONPATH"] == parts[1]
    with pytest.raises(faults.ConfigError, match="dropout_off"):
        environment("nope", base)


def test_the_registry_names_built_in_variants_and_checks_that_apply_to_them():
    from overfit_core.cases import cases_for

    assert len(FAULTS) >= 10
    for fault in FAULTS.values():
        assert fault.variants and all(get_variant(v) and not VARIANTS[v].builder for v in fault.variants), fault.name
        assert fault.checks and set(fault.checks) <= set(CHECKS), fault.name
        bound = {c.check for c in cases_for(list(fault.variants), seeds=[0], kinds=["synthetic"])}
        assert set(fault.checks) <= bound, f"{fault.name}: {set(fault.checks) - bound} bind none of its variants"
    assert FAULTS["dropout_off"].variants == ("dropout", "adam_dropout")
    assert FAULTS["l1_zero"].variants == ("l1", "l2")  # l2: the partner of l1_sparser_than_l2
    assert FAULTS["early_stopping_no_restore"].variants == ("overfit_early_stop",)


def _verdict(check, variants, seed, outcome, message="m"):
    return {"id": f"{check}-{variants}-synthetic_imdb-seed{seed}", "check": check, "variants": variants.split("-"),
            "dataset": "imdb", "kind": "synthetic", "seed": seed, "outcome": outcome, "message": message}


def test_caught_means_passing_in_the_control_and_failing_under_the_fault():
    control = [_verdict("dropout_narrows_gap", "dropout-reg_base", s, "passed") for s in (0, 1)]
    control += [_verdict("learns", "dropout", s, "passed") for s in (0, 1)]
    control += [_verdict("learns", "reg_base", 0, "failed"), _verdict("lr_too_high_is_jittery", "x-y", 0, "xfailed")]
    faulted = [_verdict("dropout_narrows_gap", "dropout-reg_base", 0, "failed", "gap 1 vs 1"),
               _verdict("dropout_narrows_gap", "dropout-reg_base", 1, "passed"),
               _verdict("learns", "dropout", 0, "passed"), _verdict("learns", "dropout", 1, "passed"),
               _verdict("learns", "reg_base", 0, "failed"),  # failed in the control too: catches nothing
               _verdict("lr_too_high_is_jittery", "x-y", 0, "xfailed")]
    r = compare("dropout_off", control, faulted, ("dropout_narrows_gap", "learns", "lr_too_high_is_jittery"), 12.0)
    assert r.caught_by == ["dropout_narrows_gap"] and r.caught["dropout_narrows_gap"] == 1
    assert r.judged == {"dropout_narrows_gap": 2, "learns": 2}
    assert r.missed == ["learns"] and r.not_judged == ["lr_too_high_is_jittery"] and r.is_caught
    assert r.failed_cases == ["dropout_narrows_gap-dropout-reg_base-synthetic_imdb-seed0: gap 1 vs 1"]
    assert r.seeds == (0, 1) and r.caught_seeds == {0}  # a suite run on seed 1 alone stays green
    nothing = compare("l2_tenth", control, control, ("learns",))
    assert not nothing.is_caught and nothing.caught_by == [] and nothing.missed == ["learns"]


def test_the_table_and_the_markdown():
    results = [FaultResult("dropout_off", 81.4, caught={"dropout_narrows_gap": 2}, judged={"dropout_narrows_gap": 2},
                           expected=("dropout_narrows_gap",), failed_cases=["dropout_narrows_gap-a-b-seed0: x | y"],
                           seeds=(0, 1, 2), caught_seeds={0, 2}),
               FaultResult("l2_tenth", 40.0, caught={"l2_shrinks_weights": 0, "learns": 0},
                           judged={"l2_shrinks_weights": 1, "learns": 2}, expected=("l2_shrinks_weights", "lr_x")),
               FaultResult("relu_identity", 3.0, expected=("learns",), error="run exited 3")]
    lines = table_lines(results)
    assert lines[0].split()[:3] == ["fault", "seeds", "caught"] and len(lines) == 4
    assert lines[1].split()[:2] == ["dropout_off", "2/3"]
    assert "dropout_narrows_gap 2/2" in lines[1] and lines[1].rstrip().endswith("81")
    assert "NOTHING" in lines[2] and "l2_shrinks_weights 0/1" in lines[2] and "lr_x (not judged" in lines[2]
    assert "error: run exited 3" in lines[3]
    control = [_verdict("learns", "l2", 0, "passed"), _verdict("learns", "reg_base", 0, "failed")]
    text = markdown(results, command="overfit-bench faults --seeds 0", control=control, control_seconds=60,
                    versions={"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2", "python": "3.11"},
                    data="synthetic", seeds=parse_seeds("0"), tier="fast")
    assert "`overfit-bench faults --seeds 0`" in text and "TensorFlow 2.21.0, Keras 3.15.1" in text
    assert "**1 of 3 faults caught.**" in text and "failing: learns-reg_base-synthetic_imdb-seed0." in text
    assert "Control (no fault, 60 s): 1 of 2 cases passed" in text
    assert "| dropout_off | 2/3 | dropout_narrows_gap 2/2 | - | 81 |" in text
    assert "x \\| y" in text  # a pipe in a message does not break the table


@pytest.mark.parametrize("argv,message", [
    (["--faults", "dropout_off,nope"], "Unknown: nope"),
    (["--faults", ","], "comma-separated subset"),
    (["--seeds", "3-1"], "seeds"),
    (["--tier", "huge"], "tier"),
    (["--data", "real"], "data_dir"),
    (["--data", "real", "--data-dir", "/no/such/folder"], "an existing folder"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("OVERFIT_DATA_DIR", raising=False)
    monkeypatch.delenv("OVERFIT_DOWNLOAD", raising=False)
    assert main(["faults", *argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("overfit-bench: error: ") and "\n" not in err and message in err
    if "nope" in argv[1]:
        assert all(name in err for name in FAULTS)  # the valid names
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["faults", "--faults", "dropout_off", "--out", str(tmp_path / "f")]) == 2
    assert "directory" in capsys.readouterr().err


@pytest.mark.training
@pytest.mark.skipif(os.environ.get("OVERFIT_FAULTS_E2E") != "1",
                    reason="trains for about a minute (control + one fault, smoke tier); set OVERFIT_FAULTS_E2E=1")
def test_the_command_end_to_end_on_the_smoke_tier(tmp_path, capsys):
    """Two faults under `overfit-bench faults`: faults.md names both; every record of a fault run states its fault
    in keras.__version__ (set in the process that trained it), no record of the control does."""
    code = main(["faults", "--faults", "dropout_off,early_stopping_no_restore", "--tier", "smoke", "--seeds", "0",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    text = (tmp_path / "faults.md").read_text()
    assert "| dropout_off |" in text and "| early_stopping_no_restore |" in text
    for name in ("dropout_off", "early_stopping_no_restore"):
        records = list((tmp_path / "runs" / name / "records").glob("*.json"))
        assert records and all(json.loads(p.read_text())["versions"]["keras"].endswith(f"+fault.{name}")
                               for p in records)
    control = list((tmp_path / "runs" / "control" / "records").glob("*.json"))
    assert control and not any("+fault." in json.loads(p.read_text())["versions"]["keras"] for p in control)


@pytest.mark.training
@pytest.mark.skipif(os.environ.get("OVERFIT_FAULTS_E2E") != "1", reason="trains; set OVERFIT_FAULTS_E2E=1")
def test_the_fault_reaches_recycled_training_children(tmp_path):
    """`overfit-bench run --fits-per-process 1` trains each fit in a new spawned process: all carry the fault."""
    proc = subprocess.run([sys.executable, "-m", "overfit_core", "run", "--variants", "tiny_lr_high", "--tier", "smoke",
                           "--seeds", "0-1", "--fits-per-process", "1", "--no-checks", "--out", str(tmp_path)],
                          env=environment("lr_ignored"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "records").glob("*.json")]
    assert len(records) == 4 and all(r["versions"]["keras"].endswith("+fault.lr_ignored") for r in records)
    assert not math.isnan(records[0]["wall_time_s"])
