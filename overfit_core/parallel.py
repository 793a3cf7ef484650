"""Several processes on one machine: TF threads per process and recycled training processes.

(Processes sharing one record cache train each record once through `RecordStore.lock`.)

- `limit_tf_threads` / `configure_xdist_worker`: TensorFlow sizes its thread pools for the whole
  machine, so two processes on 2 cores oversubscribe it (issue 6 measured 8k samples/s each, below
  one process alone at 23k; with one intra- and one inter-op thread each, 16k each). Must run
  before TensorFlow initialises its runtime.
- `recycled_trainer`: trains in a child process that is replaced every N fits. Keras keeps about
  4-5 MB per fit in a process and `clear_session` does not give it back; a new process does.

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

def _child_init() -> None:
    # Ctrl-C reaches the whole process group: let the parent alone decide (it stops this process).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _train_in_child(spec, dataset, seed, config, store_root, retrain) -> tuple[str, bool]:
    from .records import RecordStore
    from .training import train_cached

    store = RecordStore(store_root) if store_root is not None else None
    record, cached = train_cached(spec, dataset, seed, config, store, retrain=retrain)
    return record.to_json(), cached  # MappingProxyType does not pickle; the JSON form is lossless


class RecyclingTrainer:
    """`train_cached` that fits in a spawned child process, replaced after every `fits_per_process` fits.

    Records already in the store are loaded here, without starting a child; variants with a user's
    builder (`overfit_core.variant`) train here too. `pids` lists the child processes used, in order.
    As with any spawned process, a script that uses this needs ``if __name__ == "__main__":``.
    """

    def __init__(self, fits_per_process: int):
        self.fits_per_process = positive_int("fits_per_process", fits_per_process)
        self.pids: list[int] = []
        self._executor: ProcessPoolExecutor | None = None
        self._fits = 0

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
        if self._executor is None or self._fits >= self.fits_per_process:
            self._stop(wait=True)
            self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_child_init)
            self._fits = 0
        self._fits += 1
        future = self._executor.submit(_train_in_child, spec, dataset, seed, config,
                                       None if store is None else store.root, retrain)
        self.pids.extend(p for p in self._child_pids() if p not in self.pids)
        try:
            text, cached = future.result()
        except BrokenProcessPool:
            self._stop(wait=False)
            raise RuntimeError(f"the training process died while training {name} (killed, or out of memory); "
                               "records written so far are kept") from None
        return RunRecord.from_json(text), cached

    def _child_pids(self) -> list[int]:
        return list(getattr(self._executor, "_processes", None) or {})

    def _stop(self, *, wait: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if not wait:  # interrupted: do not wait for a fit to finish
            for proc in list((getattr(executor, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    proc.terminate()
        executor.shutdown(wait=wait, cancel_futures=True)

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
