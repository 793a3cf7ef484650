"""Several processes on one machine: TF threads per process and recycled training processes.

(Processes sharing one record cache train each record once through `RecordStore.lock`.)

- `limit_tf_threads` / `configure_xdist_worker`: TensorFlow sizes its thread pools for the whole
  machine, so two processes on 2 cores oversubscribe it (issue 6 measured 8k samples/s each, below
  one process alone at 23k; with one intra- and one inter-op thread each, 16k each). Must run
  before TensorFlow initialises its runtime.
- `recycled_trainer`: trains in a child process that is replaced every N fits. Keras keeps about
  4-5 MB per fit in a process and `clear_session` does not give it back; a new process does. On
  Python 3.11+ `ProcessPoolExecutor(max_tasks_per_child=N)` does the replacing.

Nothing here imports TensorFlow at module level.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator

from .errors import positive_int

# --- TensorFlow threads -----------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else what `platform` knows)."""
    import platform
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def limit_tf_threads(intra: int, inter: int | None = None) -> bool:
    """Size TF's intra- and inter-op thread pools of this process; False (with a warning) if too late.

    Sets TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS (read when TF initialises, and inherited
    by child processes) and, if TensorFlow is already imported, `tf.config.threading` as well.
    """
    inter = intra if inter is None else inter
    positive_int("intra_op_threads", intra)
    positive_int("inter_op_threads", inter)
    os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"] = str(intra), str(inter)
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError as e:  # the runtime is initialised: the pools keep their size
        warnings.warn(f"TensorFlow threads not limited to {intra}/{inter}: {e} Call limit_tf_threads "
                      "before the first TensorFlow operation.", RuntimeWarning, stacklevel=2)
        return False
    return True


def xdist_threads(environ=os.environ, override: int | None = None) -> int | None:
    """Threads per TF pool for this pytest-xdist worker: `override` (`Settings.tf_threads`, from
    OVERFIT_TF_THREADS), else cores // workers, at least 1; None outside xdist."""
    if not environ.get("PYTEST_XDIST_WORKER"):
        return None
    if override is not None:
        return positive_int("tf_threads", override)
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return max(1, available_cores() // max(1, workers))


def configure_xdist_worker(override: int | None = None) -> int | None:
    """In a pytest-xdist worker, limit TF threads to its share of the cores (call before TF starts)."""
    threads = xdist_threads(override=override)
    if threads is not None:
        limit_tf_threads(threads)
    return threads


# --- training in recycled child processes -----------------------------------------------------

# Python 3.11+: the pool itself replaces its worker after `max_tasks_per_child` tasks. Before 3.11 the
# trainer counts fits and replaces the whole executor (the only hand-written part left; requires-python >= 3.9).
POOL_RECYCLES_WORKERS = sys.version_info >= (3, 11)


def _child_init() -> None:
    # Ctrl-C reaches the whole process group: let the parent alone decide (it stops this process).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _train_in_child(spec, dataset, seed, config, store_root, retrain) -> tuple[str, bool, int]:
    from .records import RecordStore
    from .training import train_cached

    store = RecordStore(store_root) if store_root is not None else None
    record, cached = train_cached(spec, dataset, seed, config, store, retrain=retrain)
    return record.to_json(), cached, os.getpid()  # MappingProxyType does not pickle; the JSON form is lossless


def _new_executor(fits_per_process: int) -> ProcessPoolExecutor:
    """One spawned worker; on Python 3.11+ replaced by the pool after `fits_per_process` fits.

    The trainer submits one fit at a time and waits for it, so the pool never holds a backlog of queued
    tasks: the max_tasks_per_child deadlock of CPython 3.11-3.13 (gh-115634) needs one.
    """
    recycle = {"max_tasks_per_child": fits_per_process} if POOL_RECYCLES_WORKERS else {}
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_child_init, **recycle)


def _terminate_workers(executor: ProcessPoolExecutor) -> None:
    """Stop the executor and its worker now, mid-fit: an interrupted run must not wait for a fit to end."""
    if hasattr(executor, "terminate_workers"):  # Python 3.14+
        executor.terminate_workers()
        return
    # Before 3.14 shutdown(wait=False) lets a running fit go on to its end, and the executor offers no
    # public handle on its workers: its private `_processes` (pid -> Process) is the only way to stop them.
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()
    executor.shutdown(wait=False, cancel_futures=True)


class RecyclingTrainer:
    """`train_cached` that fits in a spawned child process, replaced after every `fits_per_process` fits.

    Records already in the store are loaded here, without starting a child; variants with a user's
    builder (`overfit_core.variant`) train here too. `pids` lists the child processes that trained, in
    order (each fit reports its process id). As with any spawned process, a script that uses this needs
    ``if __name__ == "__main__":``.
    """

    def __init__(self, fits_per_process: int):
        self.fits_per_process = positive_int("fits_per_process", fits_per_process)
        self.pids: list[int] = []
        self._executor: ProcessPoolExecutor | None = None
        self._fits = 0  # fits given to this executor; only read where the pool cannot recycle (< 3.11)

    def __call__(self, spec, dataset, seed, config, store, *, retrain: bool = False):
        from .records import RunRecord, run_id
        from .training import check_seed, record_key

        if getattr(spec, "builder", ""):  # a user's @variant builder is registered in this process only
            from .training import train_cached

            return train_cached(spec, dataset, seed, config, store, retrain=retrain)
        name = run_id(spec.name, dataset.name, seed, config.tier)
        if store is not None and not retrain:
            cached = store.load(name, record_key(spec, dataset, check_seed(seed), config))
            if cached is not None:
                return cached, True
        if self._executor is None or (not POOL_RECYCLES_WORKERS and self._fits >= self.fits_per_process):
            self._stop(wait=True)
            self._executor, self._fits = _new_executor(self.fits_per_process), 0
        self._fits += 1
        future = self._executor.submit(_train_in_child, spec, dataset, seed, config,
                                       None if store is None else store.root, retrain)
        try:
            text, cached, pid = future.result()
        except BrokenProcessPool:
            self._stop(wait=False)
            raise RuntimeError(f"the training process died while training {name} (killed, or out of memory); "
                               "records written so far are kept") from None
        if not self.pids or self.pids[-1] != pid:  # one worker at a time: a new pid is a new child
            self.pids.append(pid)
        return RunRecord.from_json(text), cached

    def _stop(self, *, wait: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if wait:
            executor.shutdown(wait=True, cancel_futures=True)
        else:  # interrupted: do not wait for a fit to finish
            _terminate_workers(executor)

    def close(self, *, wait: bool = True) -> None:
        self._stop(wait=wait)

    def __enter__(self) -> "RecyclingTrainer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop(wait=exc_type is None)


@contextlib.contextmanager
def recycled_trainer(fits_per_process: int, n_jobs: int) -> Iterator[Callable]:
    """`train_cached` itself when no process would do more than `fits_per_process` fits (or it is 0),
    else a `RecyclingTrainer`, stopped on exit (at once when interrupted)."""
    from .training import train_cached

    positive_int("fits_per_process", fits_per_process, minimum=0)
    if fits_per_process == 0 or n_jobs <= fits_per_process:
        yield train_cached
        return
    with RecyclingTrainer(fits_per_process) as trainer:
        yield trainer
