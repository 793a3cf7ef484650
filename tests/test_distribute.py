"""Scale-out: training under tf.distribute strategies, one-machine clusters, and the suite under pytest-xdist.

MirroredStrategy over two logical CPUs and MultiWorkerMirroredStrategy with two workers on 127.0.0.1
each run in fresh processes (`python -m overfit_core.distribute compare`): logical devices and the
multi-worker runtime must be set up before TensorFlow starts. Ratios go to the test's report
(``-rA`` or ``--junitxml`` show them).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings

import pytest

from overfit_core.distribute import compare, free_ports, local_tf_config, multiworker_env
from overfit_core.known_failures import configured_backend

TENSORFLOW_ONLY = pytest.mark.skipif(
    configured_backend() != "tensorflow",
    reason=f"tf.distribute is TensorFlow-only and Keras runs on {configured_backend()}: run with "
           "KERAS_BACKEND=tensorflow (e.g. tox -e tf221)")
from overfit_core.errors import ConfigError
from overfit_core.strategies import STRATEGIES, cluster_task, make_strategy, worker_out_dir

pytest_plugins = ["pytester"]


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="one of default, mirrored, multiworker"):
        make_strategy("horovod")
    assert STRATEGIES == ("default", "mirrored", "multiworker")
    assert make_strategy("default") is None  # train exactly as without a strategy


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs TF_CONFIG"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="Invalid value received for `TF_CONFIG`"):
        cluster_task()


def test_local_cluster_config_and_worker_folders(monkeypatch, tmp_path):
    ports = free_ports(2)
    assert len(set(ports)) == 2
    monkeypatch.setenv("TF_CONFIG", local_tf_config(ports, 1))
    assert cluster_task() == ([f"127.0.0.1:{p}" for p in ports], 1)
    assert worker_out_dir(tmp_path) == tmp_path / "worker1"
    monkeypatch.setenv("TF_CONFIG", local_tf_config(ports, 0))
    assert worker_out_dir(tmp_path) == tmp_path  # the first worker writes where a single process would


def test_cli_multiworker_without_cluster_exits_2(monkeypatch, tmp_path, capsys):
    from overfit_core.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["run", "--strategy", "multiworker", "--datasets", "boston", "--out", str(tmp_path)]) == 2
    assert "TF_CONFIG" in capsys.readouterr().err


STRATEGY_CHILD = """
from overfit_core import SMOKE, DataOptions, get_variant, load_dataset
from overfit_core.compat import tf
from overfit_core.strategies import describe
from overfit_core.training import record_key, train

boston = load_dataset("boston", DataOptions(kind="synthetic"))
strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
record = train(get_variant("tiny"), boston, 0, SMOKE, strategy=strategy)
assert record.status == "ok" and record.epochs_run == 3, (record.status, record.epochs_run)
assert describe(strategy) == "OneDeviceStrategy x1", describe(strategy)
assert record.cache_key == record_key(get_variant("tiny"), boston, 0, SMOKE, strategy)
assert record.cache_key != record_key(get_variant("tiny"), boston, 0, SMOKE)
"""


@pytest.mark.training
@TENSORFLOW_ONLY
def test_train_under_a_strategy_builds_in_its_scope_and_keys_records_apart():
    # A fresh process: once, in a pytest-xdist worker that had trained other models, Keras 3.15's
    # evaluate() under this strategy segfaulted and took the worker down.
    # The same segfault was seen again in a fresh child on a loaded machine.
    done = _once_more_after_a_segfault(
        lambda: subprocess.run([sys.executable, "-c", STRATEGY_CHILD], capture_output=True, text=True, timeout=600),
        lambda done: done.returncode == -signal.SIGSEGV, "the strategy child")
    assert done.returncode == 0, done.stderr[-4000:]


def _once_more_after_a_segfault(run, segfaulted, what: str):
    """`run()`, and once more, with a warning, when `segfaulted(result)`: TensorFlow under tf.distribute has
    segfaulted on loaded machines (OneDeviceStrategy's evaluate; MirroredStrategy in 1 of 6 cold suite runs under
    3 xdist workers, never in 24 runs of its child alone, with or without min_graph_nodes)."""
    result = run()
    if segfaulted(result):
        warnings.warn(f"{what} segfaulted (TensorFlow under tf.distribute); ran it once more")
        result = run()
    return result


def _compare(**kwargs):
    """`compare`, once more after a worker segfault."""
    return _once_more_after_a_segfault(
        lambda: compare(**kwargs),
        lambda result: any(f"exited with {-signal.SIGSEGV}" in run.error for run in result[0]), "a comparison's worker")


def _report(record_property, lines):
    for i, line in enumerate(lines):
        record_property(f"distribute_{i}", line)
    print("\n".join(lines))


def _assert_checks_hold(run):
    assert not run.error, run.error
    for worker in run.workers:
        failed = [c["message"] for c in worker["checks"] if not c["passed"]]
        assert not failed, failed
        assert {c["check"] for c in worker["checks"]} == {"learns", "l1_shrinks_weights"}


@TENSORFLOW_ONLY
@pytest.mark.training
def test_mirrored_over_two_logical_cpus_keeps_the_properties(record_property):
    runs, lines = _compare(strategies=["mirrored"], epochs=8, timeout=600)  # the default strategy: everywhere else
    _report(record_property, lines)
    [mirrored] = runs
    _assert_checks_hold(mirrored)
    assert mirrored.chief["strategy"] == "MirroredStrategy x2" and mirrored.chief["samples_per_s"] > 0


@pytest.mark.training
def test_multiworker_with_two_local_workers_keeps_the_properties(record_property):
    _local_cluster_or_skip()
    runs, lines = _compare(strategies=["multiworker"], workers=2, epochs=8, timeout=600, one_worker=False)
    _report(record_property, lines)
    [two] = runs
    _assert_checks_hold(two)
    assert two.chief["strategy"] == "MultiWorkerMirroredStrategy x2" and len(two.workers) == 2
    assert "workers agree on the weights" in lines[-2]  # mirrored variables: the same weights on every worker


def _wait_all(procs, timeout: float) -> list[int]:
    """Every worker's exit code; any still running after `timeout` (or an error) is killed."""
    try:
        return [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _worker_failure(log) -> str:
    """A worker's own error lines first (pytest truncates long messages in the middle), then its log's tail."""
    text = log.read_text()
    errors = [line for line in text.splitlines() if "overfit-bench: error" in line or "Error:" in line]
    return "\n".join(errors[-5:]) + "\n--- tail ---\n" + text[-1500:]


def _local_cluster_or_skip() -> tuple[list[int], dict]:
    try:
        ports = free_ports(2)
    except OSError as e:
        pytest.skip(f"cannot bind TCP ports on 127.0.0.1 for a local cluster ({e})")
    try:
        extra, _ = multiworker_env()
    except ConfigError as e:
        pytest.skip(str(e))
    return ports, extra


@pytest.mark.training
def test_cli_trains_as_a_two_worker_cluster(tmp_path):
    from overfit_core.records import RunRecord

    ports, extra = _local_cluster_or_skip()
    out, procs = tmp_path / "out", []
    for i in range(2):
        env = {**os.environ, **extra, "TF_CONFIG": local_tf_config(ports, i)}
        with open(tmp_path / f"worker{i}.log", "w") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "overfit_core.cli", "run", "--strategy", "multiworker",
                                           "--variants", "tiny", "--tier", "smoke", "--seeds", "0", "--out", str(out),
                                           "--no-checks"], env=env, stdout=log, stderr=subprocess.STDOUT))
    codes = _wait_all(procs, 600)
    assert codes == [0, 0], [_worker_failure(tmp_path / f"worker{i}.log") for i in range(2)]
    first, second = (sorted((d / "records").glob("*.json")) for d in (out, out / "worker1"))
    assert [f.name for f in first] == [f.name for f in second] and len(first) == 1  # same cache key
    for a, b in zip(first, second):  # one model trained by both workers: the same history on each
        assert RunRecord.from_json(a.read_text()).history == RunRecord.from_json(b.read_text()).history


@pytest.mark.training
def test_property_suite_runs_under_xdist(pytester, monkeypatch, tmp_path):
    for name in ("OVERFIT_DATA_DIR", "OVERFIT_DOWNLOAD", "OVERFIT_REQUIRE_REAL", "OVERFIT_SEEDS",
                 "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile("""
        import pytest
        from overfit_core import parametrize_with_checks

        @parametrize_with_checks(["tiny", "tiny_lr_high"])
        def test_boston(case, suite):
            if case.check == "regression_metrics":
                suite.assert_holds(case)
                return
            if case.kind == "real":
                pytest.skip("no real data here")
            result = suite.result(case)  # smoke is too short for these properties: only their plumbing is tested
            assert result.check in ("learns", "lr_too_high_is_jittery", "beats_constant_predictor")
            assert not result.skipped
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "--tier", "smoke", "--seeds", "0-1",
                                           "--cache-dir", str(tmp_path), "-p", "no:cacheprovider", "-v", timeout=600)
    # one worker per (dataset, kind, seed) group: pytest 9.2 drops xdist's groups (pytest-dev/pytest-xdist#1386)
    workers = {}
    for worker, group in re.findall(r"\[(gw\d+)\].*(?:PASSED|SKIPPED).*::test_boston\[.*\]@(\S+)", result.stdout.str()):
        workers.setdefault(group, set()).add(worker)
    assert {g: len(w) for g, w in workers.items()} == {f"boston-{kind}-seed{seed}": 1 for kind in ("real", "synthetic")
                                                       for seed in (0, 1)}, workers
    # regression_metrics (tiny, tiny_lr_high), learns and beats_constant_predictor (tiny), lr_too_high_is_jittery
    # (tiny_lr_high vs tiny): 5 bindings x 2 kinds x 2 seeds
    result.assert_outcomes(passed=10, skipped=10)
    result.stdout.fnmatch_lines([
        "*overfit-bench: checks run per variant (tier smoke, seeds 0,1)*",
        "tiny: 4 checks ran (beats_constant_predictor, learns, lr_too_high_is_jittery, regression_metrics) in 8 cases: "
        "8 passed",
        "tiny_lr_high: 2 checks ran (lr_too_high_is_jittery, regression_metrics) in 4 cases: 4 passed",
        "not run: 10 cases skipped",
    ])
    # each (variant, seed) trained once although two workers shared the cache
    assert sorted(p.name.split("--")[0] for p in tmp_path.glob("*.json")) == [
        "tiny-boston-seed0-smoke", "tiny-boston-seed1-smoke", "tiny_lr_high-boston-seed0-smoke",
        "tiny_lr_high-boston-seed1-smoke"]


def test_compare_prints_ratios_per_engine():
    from overfit_core.distribute import Run, report_lines

    def worker(sps, l1=10.0):
        return {"samples_per_s": sps, "kernel_l1": {"l1": l1}, "checks": [
            {"check": "learns", "variants": "l1", "passed": True, "message": ""}]}

    lines = report_lines([Run("default strategy, 1 process", [worker(1000)]),
                          Run("MirroredStrategy, 2 logical CPUs, 1 process", [worker(500)]),
                          Run("MultiWorkerMirroredStrategy, 1 worker (2 TF threads each)", [worker(800)]),
                          Run("MultiWorkerMirroredStrategy, 2 workers (1 TF threads each)", [worker(1200), worker(0)])])
    assert " 0.50  learns(l1) holds" in lines[2] and " 1.50  learns(l1) holds; workers agree" in lines[4]
    assert json.dumps(lines)


# Keras 3 itself, without the suite's switch to tf-keras: model.fit under MultiWorkerMirroredStrategy.
KERAS3_MULTIWORKER_FIT = r'''
import os
os.environ["TF_USE_LEGACY_KERAS"] = "0"
import numpy as np
import tensorflow as tf
import keras
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
print("compiled under the strategy; fitting", flush=True)
model.fit(x, x[:, :1], batch_size=16, epochs=2, verbose=0)
print("fit ok on keras", keras.__version__)
'''


def _keras3_multiworker_broken() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return configured_backend() == "tensorflow" and int(version("keras").split(".")[0]) >= 3
    except PackageNotFoundError:
        return False


@TENSORFLOW_ONLY
@pytest.mark.training
@pytest.mark.skipif(not _keras3_multiworker_broken(), reason="Keras 2 (TF <= 2.15) trains under it: the tests above")
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="keras-team/keras#20585: Keras 3's model.fit fails under MultiWorkerMirroredStrategy (TF "
                          "2.21, Keras 3.15.1: 'Attempt to convert a value (PerReplica ...) to a Tensor'); the suite "
                          "switches to tf-keras there. An XPASS means Keras fixed it: drop the switch "
                          "(compat.multiworker_fit_problem)")
def test_keras3_itself_fits_under_multiworker_mirrored_strategy(tmp_path):
    try:
        ports = free_ports(2)
    except OSError as e:
        pytest.skip(f"cannot bind TCP ports on 127.0.0.1 for a local cluster ({e})")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    procs, logs = [], [tmp_path / f"worker{i}.log" for i in range(2)]
    for i in range(2):
        with open(logs[i], "w") as log:
            procs.append(subprocess.Popen([sys.executable, "-c", KERAS3_MULTIWORKER_FIT], stdout=log,
                                          stderr=subprocess.STDOUT,
                                          env={**env, "TF_CONFIG": local_tf_config(ports, i),
                                               "TF_CPP_MIN_LOG_LEVEL": "3"}))
    codes = _wait_all(procs, 300)
    texts = [log.read_text(errors="replace") for log in logs]
    if not all("fitting" in t for t in texts):  # a failure before fit is not the known one: fail, not xfail
        pytest.fail(f"the workers did not reach model.fit: {[t[-1500:] for t in texts]}")
    assert codes == [0, 0], [t[-1500:] for t in texts]


def test_a_segfaulted_comparison_runs_once_more_and_other_errors_do_not(monkeypatch):
    import tests.test_distribute as me
    from overfit_core.distribute import Run

    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        error = ["mirrored worker 0 of 1 exited with -11:\n", "", "worker 0 of 1 exited with 1"][len(calls) - 1]
        return [Run("mirrored", error=error)], ["line"]

    monkeypatch.setattr(me, "compare", fake)
    with pytest.warns(UserWarning, match="segfaulted"):
        runs, _ = me._compare(strategies=["mirrored"])
    assert len(calls) == 2 and not runs[0].error
    runs, _ = me._compare(strategies=["mirrored"])  # an ordinary failure is reported as it is
    assert len(calls) == 3 and runs[0].error.endswith("exited with 1")
