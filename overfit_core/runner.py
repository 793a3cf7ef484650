"""Train a set of variants over seeds, reusing stored records: what `overfit-bench run` does."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .config import TrainConfig
from .data import DataOptions, Dataset, check_dataset_name, load_dataset
from .records import RecordStore, RunRecord, run_id
from .variants import VariantSpec, variants_for


@dataclass(frozen=True)
class Job:
    spec: VariantSpec
    seed: int


def plan(datasets: Iterable[str], seeds: Sequence[int]) -> tuple[Job, ...]:
    return tuple(Job(spec, seed) for name in datasets for spec in variants_for(check_dataset_name(name))
                 for seed in seeds)


def run_jobs(jobs: Sequence[Job], datasets: dict[str, Dataset], config: TrainConfig, store: RecordStore | None,
             *, retrain: bool = False, log: Callable[[str], None] | None = None) -> list[RunRecord]:
    """Train what the store lacks; each record is saved as soon as it exists (safe to interrupt)."""
    from .training import train_cached

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    records = []
    for i, job in enumerate(jobs, 1):
        name = run_id(job.spec.name, job.spec.dataset, job.seed, config.tier)
        start = time.perf_counter()
        record, cached = train_cached(job.spec, datasets[job.spec.dataset], job.seed, config, store, retrain=retrain)
        took = "cached" if cached else f"{time.perf_counter() - start:.1f}s"
        status = "" if record.status == "ok" else f" [{record.status}]"
        log(f"[{i}/{len(jobs)}] {name}: {record.epochs_run} epochs, {took}{status}")
        records.append(record)
    return records


def load_datasets(names: Iterable[str], options: DataOptions) -> dict[str, Dataset]:
    return {name: load_dataset(name, options) for name in names}
