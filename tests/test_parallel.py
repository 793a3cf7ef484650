"""Several processes: one record cache shared by `pytest -n 2`, TF threads per worker, recycled trainers.

`test_pytest_n2_shares_one_cache_and_trains_each_record_once` runs `test_xdist_probe` below under
pytest-xdist with two workers; outside that run the probe skips.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from overfit_core import SMOKE, DataOptions, get_variant, load_dataset
from overfit_core.errors import ConfigError
from overfit_core.known_failures import configured_backend
from overfit_core.parallel import RecyclingTrainer, available_cores, recycled_trainer, xdist_threads
from overfit_core.records import RecordStore, RunRecord, lock_path
from overfit_core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PROBE = "OVERFIT_XDIST_PROBE"


def _python(code: str, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})


# --- the record lock --------------------------------------------------------------------------

def test_record_lock_excludes_another_process_until_released(tmp_path):
    store = RecordStore(tmp_path)
    record = store.path("tiny-boston-seed0-smoke", "k")
    assert record == tmp_path / "tiny-boston-seed0-smoke--k.json"
    try_lock = f"""
        from filelock import FileLock, Timeout
        try:
            with FileLock({str(lock_path(record))!r}, timeout=0.2):
                print("acquired")
        except Timeout:
            print("busy")
    """
    with store.lock("tiny-boston-seed0-smoke", "k"):
        assert _python(try_lock).stdout.strip() == "busy"
    assert _python(try_lock).stdout.strip() == "acquired"
    assert lock_path(record).name.startswith(".")  # never globbed as a record
    assert lock_path(record).parent == tmp_path
    assert list(tmp_path.glob("*.json")) == []


def test_no_store_means_no_lock(monkeypatch):
    from overfit_core import training

    def no_lock(self, *a, **k):
        raise AssertionError("a lock was taken without a store")

    monkeypatch.setattr(RecordStore, "lock", no_lock)
    monkeypatch.setattr(training, "train", lambda spec, dataset, seed, config, **kw: "trained")
    boston = SimpleNamespace(name="boston")  # nothing is read from it without a store
    assert training.train_cached(get_variant("tiny"), boston, 0, SMOKE, None) == ("trained", False)


# --- TF threads -------------------------------------------------------------------------------

def test_xdist_threads_share_the_cores_between_workers():
    cores = available_cores()
    assert xdist_threads({}) is None
    assert xdist_threads({"PYTEST_XDIST_WORKER": "gw1", "PYTEST_XDIST_WORKER_COUNT": "2"}) == max(1, cores // 2)
    assert xdist_threads({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": str(4 * cores)}) == 1
    # OVERFIT_TF_THREADS is read once, by Settings.resolve; the plugin passes it on as the override
    assert xdist_threads({"PYTEST_XDIST_WORKER": "gw0", "OVERFIT_TF_THREADS": "3"}) == max(1, cores)  # not read here
    assert Settings.resolve(environ={"OVERFIT_TF_THREADS": "3"}).tf_threads == 3
    assert Settings.resolve(environ={}).tf_threads is None
    assert xdist_threads({"PYTEST_XDIST_WORKER": "gw0"}, override=3) == 3
    assert xdist_threads({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "2"}, override=None) == max(
        1, cores // 2)
    assert xdist_threads({}, override=3) is None  # outside xdist: no limit
    with pytest.raises(ConfigError, match="OVERFIT_TF_THREADS='0'"):
        Settings.resolve(environ={"OVERFIT_TF_THREADS": "0"})
    with pytest.raises(ConfigError, match="OVERFIT_TF_THREADS='many'"):
        Settings.resolve(environ={"OVERFIT_TF_THREADS": "many"})
    with pytest.raises(ConfigError, match="tf_threads=0"):
        xdist_threads({"PYTEST_XDIST_WORKER": "gw0"}, override=0)


@pytest.mark.skipif(configured_backend() != "tensorflow",
                    reason="TensorFlow's thread settings: run with KERAS_BACKEND=tensorflow (e.g. tox -e tf221)")
def test_limit_tf_threads_works_before_tf_starts_and_warns_after():
    result = _python("""
        import warnings
        import tensorflow as tf
        from overfit_core.parallel import limit_tf_threads
        print(limit_tf_threads(1), tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
        tf.constant(1.0) + 1.0  # the runtime starts here
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(limit_tf_threads(2), "cannot be modified after initialization" in str(caught[0].message))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1", "1", "False", "True"]


# --- pytest -n 2 on one cache -----------------------------------------------------------------

PROBE_CASES = [(seed, order) for seed in (0, 1, 2) for order in ("tiny,tiny_lr_high", "tiny_lr_high,tiny")]


@pytest.mark.parametrize("seed,order", PROBE_CASES, ids=[f"seed{s}-{o.replace(',', '-then-')}" for s, o in PROBE_CASES])
def test_xdist_probe(seed, order, suite, monkeypatch):
    """Asks the session's `suite` for records and logs what this worker trained (see the test below)."""
    log = os.environ.get(PROBE)
    if not log or not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip(f"runs inside test_pytest_n2_shares_one_cache_and_trains_each_record_once ({PROBE} and -n 2)")
    from overfit_core import training

    worker = os.environ["PYTEST_XDIST_WORKER"]
    real_train = training.train

    def spy(spec, dataset, seed, config, **kw):
        record = real_train(spec, dataset, seed, config, **kw)
        _append(log, {"event": "trained", "run": record.run_id, "worker": worker})
        return record

    monkeypatch.setattr(training, "train", spy)
    for name in order.split(","):
        record = suite.provider.record(get_variant(name), "synthetic", seed)
        _append(log, {"event": "used", "run": record.run_id, "worker": worker, "wall": record.wall_time_s,
                      "threads": os.environ.get("TF_NUM_INTRAOP_THREADS")})


def _append(path: str, entry: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:  # one short O_APPEND write per line: lines never interleave
        f.write(json.dumps(entry) + "\n")


@pytest.mark.training
def test_pytest_n2_shares_one_cache_and_trains_each_record_once(tmp_path):
    pytest.importorskip("xdist")
    cache, log = tmp_path / "cache", tmp_path / "probe.jsonl"
    # --dist each: both workers run every probe at the same time, so both want every record at once
    # (worst case; under the default --dist load that happens whenever two tests on different workers
    # read the same record). Without the lock each record is trained twice here.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "each", "-q", "-p", "no:cacheprovider", "--tier", "smoke",
         "--cache-dir", str(cache), f"{Path(__file__).relative_to(REPO)}::test_xdist_probe"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, PROBE: str(log), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{2 * len(PROBE_CASES)} passed" in result.stdout

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    trained = [e["run"] for e in entries if e["event"] == "trained"]
    used = [e for e in entries if e["event"] == "used"]
    runs = {f"{v}-boston-seed{s}-smoke" for v in ("tiny", "tiny_lr_high") for s in (0, 1, 2)}
    assert sorted(trained) == sorted(runs)  # each record trained exactly once, by one of the workers
    for worker in ("gw0", "gw1"):  # both workers used every record
        assert sorted(e["run"] for e in used if e["worker"] == worker) == sorted([*runs, *runs])
    for run in runs:  # every test, on either worker, got the very record that was trained
        assert len({e["wall"] for e in used if e["run"] == run}) == 1
    assert {e["threads"] for e in used} == {str(max(1, available_cores() // 2))}
    files = sorted(p.name for p in cache.iterdir() if not p.name.startswith("."))
    assert len(files) == len(runs) and all(RunRecord.from_json((cache / f).read_text()) for f in files)
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


# --- training in recycled child processes -----------------------------------------------------

def test_no_child_process_when_no_process_would_exceed_n_fits():
    from overfit_core.training import train_cached

    for n, jobs in ((0, 100), (5, 5), (50, 3)):
        with recycled_trainer(n, jobs) as fn:
            assert fn is train_cached
    with recycled_trainer(2, 3) as fn:
        assert isinstance(fn, RecyclingTrainer) and fn.pids == []  # children start only when a fit is due


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.training
def test_recycling_trainer_replaces_its_child_every_n_fits(tmp_path):
    from overfit_core.training import train

    boston = load_dataset("boston", DataOptions(kind="synthetic"))
    store = RecordStore(tmp_path)
    spec = get_variant("tiny")
    with RecyclingTrainer(2) as trainer:
        got = [trainer(spec, boston, seed, SMOKE, store) for seed in (0, 1, 2)]
        pids = list(trainer.pids)
    assert [cached for _, cached in got] == [False, False, False]
    assert len(pids) == 2 and os.getpid() not in pids  # fits 1-2 in one child, fit 3 in a fresh one
    deadline = time.monotonic() + 30
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(p) for p in pids)
    assert [RunRecord.from_json(p.read_text()) for p in sorted(tmp_path.glob("*.json"))] == [r for r, _ in got]

    with RecyclingTrainer(2) as trainer:  # everything cached: loaded here, no child started
        again = [trainer(spec, boston, seed, SMOKE, store) for seed in (0, 1, 2)]
        assert trainer.pids == []
    assert again == [(r, True) for r, _ in got]

    here = train(spec, boston, 0, SMOKE)  # a child trains exactly what this process would
    assert here.history == got[0][0].history and here.cache_key == got[0][0].cache_key


def test_n_auto_starts_one_worker_more_than_the_cores(monkeypatch):
    """Root conftest.py: a third worker on 2 cores fills the time a worker leaves its core idle."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", REPO / "conftest.py")
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    assert root.pytest_xdist_auto_num_workers(None) == available_cores() + 1
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "2")
    assert root.pytest_xdist_auto_num_workers(None) == 2
