"""Train variants over seeds, reusing stored records: the jobs of `overfit-bench run`, and the record provider
of the case pipeline (`overfit_core.cases`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from .config import TrainConfig
from .datasets import DataOptions, Dataset, load_dataset
from .records import RecordStore, RunRecord, run_id
from .variants import VariantSpec

if TYPE_CHECKING:
    from .progress import JobProgress


@dataclass(frozen=True)
class Job:
    spec: VariantSpec
    seed: int


def plan(specs: Iterable[VariantSpec], seeds: Sequence[int]) -> tuple[Job, ...]:
    """Seed by seed, so that an interrupted run leaves whole seeds behind."""
    specs = tuple(specs)
    return tuple(Job(spec, seed) for seed in seeds for spec in specs)


def run_jobs(jobs: Sequence[Job], datasets: dict[str, Dataset], config: TrainConfig, store: RecordStore | None,
             *, retrain: bool = False, progress: JobProgress | None = None,
             fits_per_process: int = 0, strategy=None) -> list[RunRecord]:
    """Train what the store lacks; each record is saved as soon as it exists (safe to interrupt).

    `progress` (see `progress.py`; default: one line per job on stderr) hears of every job and is closed
    at the end, also when interrupted.
    With 0 < `fits_per_process` < len(jobs), fits run in a child process replaced after that many
    fits, which bounds memory (Keras keeps ~5 MB per fit in a process; see `parallel.py`).
    With a `tf.distribute` strategy every fit runs in this process, under it.
    """
    import functools

    from .parallel import recycled_trainer
    from .progress import LineProgress

    progress = LineProgress() if progress is None else progress
    records = []
    progress.start(len(jobs))
    try:
        with recycled_trainer(0 if strategy is not None else fits_per_process, len(jobs)) as train_cached:
            if strategy is not None:
                train_cached = functools.partial(train_cached, strategy=strategy)
            for job in jobs:
                name = run_id(job.spec.name, job.spec.dataset, job.seed, config.tier)
                progress.begin(name)
                start = time.perf_counter()
                record, cached = train_cached(job.spec, datasets[job.spec.dataset], job.seed, config, store,
                                              retrain=retrain)
                progress.advance(name, record, cached, time.perf_counter() - start)
                records.append(record)
    finally:
        progress.close()
    return records


def load_datasets(names: Iterable[str], options: DataOptions) -> dict[str, Dataset]:
    return {name: load_dataset(name, options) for name in names}


class RecordProvider:
    """Trains each (variant, data kind, seed) at most once per process and once per cache key on disk."""

    def __init__(self, config: TrainConfig, options: dict[str, DataOptions], store: RecordStore | None,
                 *, retrain: bool = False):
        self.config, self.options, self.store, self.retrain = config, options, store, retrain
        self._datasets: dict[tuple[str, str], Dataset] = {}
        self._records: dict[tuple[str, str, int], RunRecord] = {}

    def dataset(self, kind: str, name: str) -> Dataset:
        if (kind, name) not in self._datasets:
            self._datasets[kind, name] = load_dataset(name, self.options[kind])
        return self._datasets[kind, name]

    def record(self, spec: VariantSpec, kind: str, seed: int) -> RunRecord:
        from .training import train_cached

        key = (spec.name, kind, seed)
        if key not in self._records:
            self._records[key], _ = train_cached(spec, self.dataset(kind, spec.dataset), seed, self.config,
                                                 self.store, retrain=self.retrain)
        return self._records[key]
