"""Reliability: bad input gets a clear error and loses nothing; a diverging run is recorded and the
others go on; an interrupted run keeps what it wrote and resumes; a corrupt cached record is retrained.

What is covered elsewhere (not repeated here): tests/test_data.py (corrupt files through the API),
tests/test_cli.py (bad seeds, tier, dataset, data directory; --out that is a file), tests/test_records.py
(corrupt records in RecordStore, atomic writes), tests/test_config.py (unknown tier).
"""
from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from overfit_core import DataOptions, VariantSpec, get_variant, variant
from overfit_core.cases import Suite, cases_for, run_records
from overfit_core.checks import get_check
from overfit_core.cli import main
from overfit_core.datasets import get_dataset, load_raw
from overfit_core.errors import ConfigError, DataError
from overfit_core.parallel import RecyclingTrainer, recycled_trainer
from overfit_core.records import RunRecord
from overfit_core.settings import Settings
from tests.test_data import _boston_table, _fashion

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (hidden lock and temp files aside), by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


@pytest.fixture
def earlier_output(tmp_path) -> Path:
    """An output folder holding what an earlier run wrote: a record and a report."""
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    (out / "records" / "tiny-boston-seed0-fast--abc.json").write_text('{"kept": true}')
    (out / "report.md").write_text("# earlier report\n")
    return out


# --- bad input: exit 2, one line naming value, expectation and fix; nothing written is lost ----

def _npz(path, arrays):
    np.savez(path, **arrays)


def _truncated(path):
    _npz(path, _fashion())
    path.write_bytes(path.read_bytes()[:300])


BAD_DATA = {  # case: (dataset, file name, writer or None, words the message must contain)
    "missing_file": ("boston", "boston.csv", None, "no file for dataset `boston`"),
    "empty_file": ("boston", "boston.csv", lambda p: p.write_bytes(b""), "the file is empty"),
    "truncated_npz": ("fashion_mnist", "fashion_mnist.npz", _truncated, "cannot be read as .npz"),
    "not_a_zip": ("imdb", "imdb.npz", lambda p: p.write_bytes(b"\x80\x04garbage"), "is not a .npz (zip) archive"),
    "wrong_keys": ("fashion_mnist", "fashion_mnist.npz",
                   lambda p: _npz(p, {"images": _fashion()["x_train"], "labels": _fashion()["y_train"]}),
                   "missing keys"),
    "27x28_images": ("fashion_mnist", "fashion_mnist.npz",
                     lambda p: _npz(p, {**_fashion(), "x_train": _fashion()["x_train"][:, :27]}), "(12, 27, 28)"),
    "labels_outside_0..9": ("fashion_mnist", "fashion_mnist.npz",
                            lambda p: _npz(p, {**_fashion(), "y_train": _fashion()["y_train"] + 5}),
                            "labels in 5..14"),
    "nan_in_csv": ("boston", "boston.csv",
                   lambda p: _boston_table().assign(rm=[math.nan] + [1.0] * 29).to_csv(p, index=False),
                   "NaN or inf at row 0, column `rm`"),
    "missing_medv": ("boston", "boston.csv", lambda p: _boston_table().drop(columns="medv").to_csv(p, index=False),
                     "missing columns ['medv']"),
    "medv_twice": ("boston", "boston.csv",
                   lambda p: _boston_table().assign(MEDV=1.0).to_csv(p, index=False), "appear more than once"),
    "beyond_float32": ("boston", "boston.csv",
                       lambda p: _boston_table().assign(medv=[1e300] + [1.0] * 29).to_csv(p, index=False),
                       "beyond float32"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_file_exits_2_naming_file_and_problem_and_keeps_earlier_output(tmp_path, capsys, earlier_output,
                                                                              case):
    dataset, fname, write, needle = BAD_DATA[case]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if write:
        write(data_dir / fname)
    before = snapshot(earlier_output)
    code = main(["run", "--data", "real", "--data-dir", str(data_dir), "--datasets", dataset, "--tier", "smoke",
                 "--out", str(earlier_output)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("overfit-bench: error: ") and "\n" not in err and "Traceback" not in err
    assert needle in err and str(data_dir) in err and "Expected" in err
    assert snapshot(earlier_output) == before


@pytest.mark.parametrize("argv,needle", [
    (["--fits-per-process", "-1"], "fits_per_process='-1'"),
    (["--fits-per-process", "many"], "fits_per_process='many'"),
    (["--seeds", "0-99999"], "at most 10000 seeds"),
    (["--datasets", ","], "a comma-separated subset of imdb,fashion_mnist,boston"),
    (["--tier", ""], "tier=''"),
])
def test_more_usage_errors_exit_2_with_one_line_and_keep_earlier_output(capsys, monkeypatch, earlier_output, argv,
                                                                       needle):
    from overfit_core import runner

    def trains(*a, **k):  # a usage error must stop the run before any training (and fail this test fast)
        raise AssertionError(f"run {argv} went on to train instead of exiting with a usage error")

    monkeypatch.setattr(runner, "run_jobs", trains)
    before = snapshot(earlier_output)
    assert main(["run", *argv, "--out", str(earlier_output)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Expected" in err and "\n" not in err
    assert snapshot(earlier_output) == before


def test_out_path_below_a_file_is_not_writable(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert main(["run", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "a writable directory" in err and "Pass another --out" in err and blocker.read_text() == "keep me"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_dir_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert main(["run", "--out", str(out)]) == 2
        assert "a writable directory" in capsys.readouterr().err
    finally:
        out.chmod(0o700)


def test_a_pickle_posing_as_imdb_npz_is_never_unpickled(tmp_path):
    """np.load(allow_pickle=True) unpickles any non-zip file: the loader checks the zip magic first."""
    marker = tmp_path / "code-ran"

    class Touch:
        def __reduce__(self):
            return (marker.touch, ())

    (tmp_path / "imdb.npz").write_bytes(pickle.dumps(Touch()))
    with pytest.raises(DataError, match=r"is not a \.npz \(zip\) archive"):
        load_raw("imdb", DataOptions(kind="real", data_dir=str(tmp_path)))
    assert not marker.exists()


@pytest.mark.parametrize("call,needle", [
    (lambda: get_variant("giant"), "variant='giant'"),
    (lambda: get_check("overfits"), "check='overfits'"),
    (lambda: cases_for(["tiny"], seeds=(0,), checks=["overfits"]), "check='overfits'"),
    (lambda: Suite(Settings.resolve(tier="medium", cache_dir="unused")), "tier='medium'"),
    # how long a variant trains is on its spec now: `variant(epochs=...)` and the spec itself (as loaded from a record)
    (lambda: variant(name="zero_epochs", dataset="boston", epochs={"smoke": 0}), "epochs['smoke']=0"),
    (lambda: variant(name="negative_epochs", dataset="imdb", epochs=-3), "epochs=-3"),
    (lambda: VariantSpec.from_dict({**get_variant("tiny").to_dict(), "epochs": [["smoke", 0]]}), "epochs"),
    (lambda: VariantSpec.from_dict({**get_variant("l1").to_dict(), "epochs": [["*", -3]]}), "epochs"),
    (lambda: dataclasses.replace(get_variant("l1"), max_train_samples=0), "max_train_samples=0"),
    # and, where a variant sets none, on its dataset
    (lambda: dataclasses.replace(get_dataset("boston"), epochs={"smoke": 0}), "epochs['smoke']=0"),
    (lambda: dataclasses.replace(get_dataset("imdb"), max_train_samples={"smoke": 0}), "max_train_samples['smoke']=0"),
    (lambda: RecyclingTrainer(0), "fits_per_process=0"),
    (lambda: recycled_trainer(-1, 3).__enter__(), "fits_per_process=-1"),
])
def test_unknown_names_and_non_positive_counts_raise_config_error(call, needle):
    with pytest.raises(ConfigError) as info:
        call()
    msg = str(info.value)
    assert msg.startswith("Invalid value received for") and needle in msg and "Expected" in msg


# --- a corrupt cached record inside a pytest session: discarded with a warning and retrained ----

def _corruptions(text: str) -> dict[str, bytes]:
    d = json.loads(text)
    return {
        "truncated": text.encode()[: len(text) // 2],
        "binary": bytes(range(256)) * 4,
        "empty": b"",
        "epochs_zero": json.dumps({**d, "spec": {**d["spec"], "epochs": [["smoke", 0]]}}).encode(),
        "history_null": json.dumps({**d, "history": None}).encode(),
        "other_key": json.dumps({**d, "cache_key": "0" * 24}).encode(),
    }


def _suite(cache_dir: Path) -> Suite:
    """What the `suite` fixture builds, for the smoke tier and this record cache."""
    return Suite(Settings.resolve(tier="smoke", cache_dir=cache_dir))


@pytest.fixture(scope="module")
def trained_cache(smoke_run):
    """The case of `tiny` on synthetic boston, seed 0, and its smoke-tier record (the smoke run's)."""
    (case,) = cases_for(["tiny"], seeds=(0,), kinds=("synthetic",), checks=["regression_metrics"])
    (path,) = (smoke_run.out / "records").glob("tiny-boston-seed0-smoke--*.json")
    return case, path


@pytest.mark.training
@pytest.mark.parametrize("kind", ["truncated", "binary", "empty", "epochs_zero", "history_null", "other_key"])
def test_suite_retrains_a_corrupt_cached_record_with_a_warning(tmp_path, trained_cache, kind):
    case, good = trained_cache
    path = tmp_path / good.name
    path.write_bytes(_corruptions(good.read_text())[kind])
    suite = _suite(tmp_path)
    with pytest.warns(UserWarning, match="Discarding corrupt cached record .* it will be retrained"):
        result = suite.result(case)
    assert result.passed, str(result)
    record = RunRecord.from_json(path.read_text())  # rewritten whole
    assert record.status == "ok" and path.name.endswith(f"--{record.cache_key}.json")


# --- training faults: a NaN/inf loss is recorded as diverged; checks say so; other runs go on ---

DIVERGING = dataclasses.replace(get_variant("tiny"), name="tiny_diverges", optimizer="sgd", learning_rate=1e6,
                                description="tiny with SGD at learning rate 1e6: the loss overflows to inf")


@pytest.mark.training
def test_diverging_run_is_recorded_checks_say_so_and_other_runs_go_on(tmp_path, capsys, monkeypatch):
    from overfit_core import cli

    # Adam at 1e6 stays finite on this model (its step is bounded by the learning rate); SGD overflows.
    monkeypatch.setattr(cli, "builtin_variants", lambda: (DIVERGING, get_variant("tiny")))
    out = tmp_path / "out"
    code = main(["run", "--datasets", "boston", "--tier", "smoke", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1  # a diverged run counts as a failure of the gate
    assert "tiny_diverges-boston-seed0-smoke: 1 epochs" in captured.err and "[diverged]" in captured.err
    assert "tiny-boston-seed0-smoke: 3 epochs" in captured.err

    store_files = {p.name.split("--")[0]: p for p in (out / "records").glob("*.json")}
    diverged = RunRecord.from_json(store_files["tiny_diverges-boston-seed0-smoke"].read_text())
    ok = RunRecord.from_json(store_files["tiny-boston-seed0-smoke"].read_text())
    assert diverged.status == "diverged" and not math.isfinite(diverged.history["loss"][-1])
    assert ok.status == "ok" and ok.epochs_run == 3

    results, _ = run_records([diverged, ok])
    judged_diverged = [r for r in results if "tiny_diverges-boston-seed0-smoke" in r.runs]
    assert judged_diverged and all(r.skipped and not r.passed for r in judged_diverged)
    assert all("training diverged in tiny_diverges-boston-seed0-smoke (diverged)" in r.message for r in judged_diverged)
    assert all(not r.skipped for r in results if r.runs == (ok.run_id,))
    assert "not judged (diverged)" in captured.out
    assert "training diverged" in (out / "report.md").read_text()
    # The stopped fit left a reference cycle holding a tf.data iterator: freed by a later garbage collection, its
    # destructor waits for the iterator's autotuning thread, whose sleep grows with its age (~10 s at this file's end).
    gc.collect()


# --- interruption: earlier records and the last report survive; a re-run trains only what is missing

def _default_sigint() -> None:
    # A process started with SIGINT ignored (a pytest-xdist worker, `cmd &` in a script) passes that on,
    # and Python then never raises KeyboardInterrupt: give the run the default, as a terminal does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_run(out: Path, seeds: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    log = out.parent / f"{out.name}-{seeds}.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "overfit_core.cli", "run", "--datasets", "boston", "--tier",
                                 "smoke", "--seeds", seeds, "--out", str(out), "--no-checks", *extra],
                                cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_default_sigint)
    return proc, log


def _wait_for(condition, timeout: float, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before the condition held:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out after {timeout}s:\n{log.read_text()}")
        time.sleep(0.05)


def _records(out: Path) -> list[Path]:
    return sorted((out / "records").glob("*.json"))


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _resume(out: Path, seeds: str, capsys) -> tuple[int, int]:
    """Re-run in this process; (records reused, records trained) from the log lines."""
    capsys.readouterr()
    assert main(["run", "--datasets", "boston", "--tier", "smoke", "--seeds", seeds, "--out", str(out),
                 "--no-checks", "--fits-per-process", "0"]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[")]
    cached = sum(ln.endswith(", cached") for ln in lines)
    return cached, len(lines) - cached


@pytest.mark.training
def test_killed_run_keeps_earlier_records_and_report_and_rerun_trains_only_the_rest(tmp_path, capsys, smoke_run):
    out = smoke_run.copy_output(tmp_path / "out")  # an earlier run's seed 0: records and report
    earlier = snapshot(out)
    assert len(_records(out)) == 2 and "report.md" in earlier

    proc, log = _start_run(out, "0-2")  # 6 jobs: 2 cached, then 4 to train (room to kill it mid-way)
    _wait_for(lambda: len(_records(out)) >= 3, 300, proc, log)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    after = snapshot(out)
    assert {k: v for k, v in after.items() if k in earlier} == earlier  # earlier records and report untouched
    present = _records(out)
    assert 3 <= len(present) < 6
    assert all(RunRecord.from_json(p.read_text()).run_id == p.name.split("--")[0] for p in present)  # whole files
    assert "[1/6] tiny-boston-seed0-smoke: 3 epochs, cached" in log.read_text()

    assert _resume(out, "0-2", capsys) == (len(present), 6 - len(present))
    assert "| tiny | 2 |" in (out / "report.md").read_text()


@pytest.mark.training
def test_ctrl_c_stops_run_and_its_training_process_then_rerun_resumes(tmp_path, capsys, smoke_run):
    out = tmp_path / "out"
    smoke_run.copy_records(out / "records")  # seed 0 cached: seeds 1-2 to train
    proc, log = _start_run(out, "0-2", "--fits-per-process", "2")  # 4 fits > 2: they run in child processes
    _wait_for(lambda: len(_records(out)) >= 3, 400, proc, log)
    children = _children(proc.pid)
    assert children, "the fits should run in a child process"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert proc.wait(60) == 130
    assert "interrupted; records written so far are kept" in log.read_text()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children), "a training process outlived the interrupted run"
    assert not (out / "report.md").exists()  # the report is written once all jobs are done

    present = _records(out)
    assert all(RunRecord.from_json(p.read_text()) for p in present)
    assert _resume(out, "0-2", capsys) == (len(present), 6 - len(present))
