"""The job matrix (environments x variants x seeds) on a Ray cluster: every fit a Ray task.

Each environment is a Python interpreter (a venv of the matrix, a tox env) that has this package and Ray of the
driver's version installed; its tasks run in that interpreter (Ray's ``runtime_env={"py_executable": ...}``), so
its TensorFlow/Keras versions decide the records and nothing is reinstalled per task. Records come back to the
driver and go into one store per environment, ``OUT/<env>/records``; a fit already there is not run again, so an
interrupted run resumes. A task whose worker process or node is lost is retried (``max_retries``). Usage
statistics and the dashboard are off. ``pip install '.[ray]'``; README: Scale-out.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .datasets import DataOptions
from .errors import ConfigError, invalid
from .records import RecordStore, RunRecord, run_id

CRASH_ONCE = "OVERFIT_RAY_CRASH_ONCE"  # tests: a marker path; the first task to see it absent creates it and dies


@dataclass(frozen=True)
class Environment:
    """A Python interpreter with this package and Ray installed, and the variables its tasks run with."""

    name: str
    python: str
    env_vars: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Fit:
    """One Ray task: a built-in variant, its dataset, a seed and a tier, in one environment."""

    env: Environment
    variant: str
    dataset: str
    seed: int
    tier: str
    data: DataOptions

    @property
    def run_id(self) -> str:
        return run_id(self.variant, self.dataset, self.seed, self.tier)


EXAMPLE = "jax=.tox/jax/bin/python,KERAS_BACKEND=jax"


def parse_envs(items: Sequence[str] | None) -> list[Environment]:
    """['NAME=PYTHON[,KEY=VALUE...]', ...]; none: one environment 'local', this interpreter."""
    if not items:
        return [Environment("local", sys.executable)]
    envs = {}
    for item in items:
        head, *pairs = item.split(",")
        name, sep, python = head.partition("=")
        variables = [p.partition("=") for p in pairs]
        if not sep or not name.strip() or not python.strip() or any(not k.strip() or not eq for k, eq, _ in variables):
            raise ConfigError(invalid("env", item, f"NAME=PYTHON[,KEY=VALUE...], e.g. {EXAMPLE}",
                                      "Give one --env per environment."))
        path = Path(python.strip()).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ConfigError(invalid("env", item, "an executable Python interpreter after '='",
                                      f"{path} is not one; create the environment first (e.g. tox -e {name} --notest)."))
        if name.strip() in envs:
            raise ConfigError(invalid("env", item, "a name not given before", "Name each environment once."))
        # not resolved: a venv's python is a link that must stay one to find its site-packages
        envs[name.strip()] = Environment(name.strip(), str(path.absolute()),
                                         tuple((k.strip(), v.strip()) for k, _, v in variables))
    return list(envs.values())


def plan(envs: Sequence[Environment], variants: Sequence[str], datasets: Mapping[str, str], seeds: Sequence[int],
         tier: str, data: DataOptions) -> list[Fit]:
    """Every (environment, variant, seed); `datasets` maps each variant to its dataset."""
    return [Fit(env, v, datasets[v], seed, tier, data) for env in envs for seed in seeds for v in variants]


def fit_task(variant: str, dataset: str, seed: int, tier: str, data: DataOptions) -> str:
    """Runs in a Ray worker, in its environment's interpreter: train and return the record's JSON."""
    marker = os.environ.get(CRASH_ONCE)
    if marker and not os.path.exists(marker):
        Path(marker).write_text(f"{variant} seed {seed}\n")
        os._exit(1)  # a lost worker: Ray retries the task
    from .config import get_config
    from .datasets import load_dataset
    from .training import train
    from .variants import get_variant

    return train(get_variant(variant), load_dataset(dataset, data), seed, get_config(tier)).to_json()


def _ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed: pip install 'overfit-bench[ray]' (or pip install ray), in the driver "
                          "and in every environment the tasks run in.") from None
    return ray


def run(fits: Sequence[Fit], out: Path, *, address: str | None = None, retries: int = 3,
        progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> dict[str, list[RunRecord]]:
    """Run `fits` as Ray tasks on the cluster at `address` (None: a local one); records per environment.

    Fits whose record is already in ``out/<env>/records`` are skipped. Each task needs one CPU.
    """
    ray = _ray()
    stores = {f.env.name: RecordStore(Path(out) / f.env.name / "records") for f in fits}
    done: dict[str, list[RunRecord]] = {env: [] for env in stores}
    todo = []
    for f in fits:
        store = stores[f.env.name]
        found = sorted(store.root.glob(f"{f.run_id}--*.json")) if store.root.is_dir() else []
        if found:
            done[f.env.name].append(RunRecord.from_json(found[-1].read_text()))
        else:
            todo.append(f)
    progress(f"ray: {len(fits)} fits in {len(stores)} environment(s), {len(fits) - len(todo)} already stored, "
             f"{len(todo)} to run")
    if not todo:
        return done
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=retries)(fit_task)
        pending = {}
        for f in todo:
            variables = {"RAY_USAGE_STATS_ENABLED": "0", **dict(f.env.env_vars)}
            if CRASH_ONCE in os.environ:  # the retry test's hook reaches the tasks
                variables[CRASH_ONCE] = os.environ[CRASH_ONCE]
            runtime_env = {"py_executable": f.env.python, "env_vars": variables}
            pending[task.options(runtime_env=runtime_env).remote(f.variant, f.dataset, f.seed, f.tier, f.data)] = f
        start, n = time.monotonic(), 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            f = pending.pop(ready[0])
            record = RunRecord.from_json(ray.get(ready[0]))
            stores[f.env.name].save(record)
            done[f.env.name].append(record)
            n += 1
            progress(f"[{n}/{len(todo)}] {f.env.name}: {record.run_id} ({record.versions.get('keras')} on "
                     f"{record.versions.get('backend', 'tensorflow')}), {record.wall_time_s:.1f}s fit, "
                     f"{time.monotonic() - start:.0f}s elapsed")
    finally:
        ray.shutdown()
    return done
