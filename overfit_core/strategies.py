"""`tf.distribute` strategies for `training.train`: what ``overfit-bench run --strategy`` uses.

- `make_strategy("default" | "mirrored" | "multiworker")`. "mirrored" replicates over every GPU, or,
  without GPUs, over logical CPU devices (`split_cpu`), which exercises the same code path.
  "multiworker" reads the cluster from TF_CONFIG.
- `describe(strategy)`: its name and replicas, part of a distributed record's cache key.

Nothing here imports TensorFlow at module level.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import ConfigError, invalid, positive_int

STRATEGIES = ("default", "mirrored", "multiworker")


def split_cpu(n: int) -> None:
    """Expose the CPU as `n` logical devices. Only possible before TensorFlow initialises its devices."""
    positive_int("cpu_replicas", n)
    from .compat import tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != n:
            raise ConfigError(f"Cannot split the CPU into {n} logical devices: TensorFlow has initialised its devices "
                              "in this process already. Create the strategy first thing in a fresh process.") from None


def cluster_task() -> tuple[list[str], int] | None:
    """(worker addresses, this worker's index) from TF_CONFIG, or None when it is unset."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        conf = json.loads(text)
        workers = list(conf["cluster"]["worker"])
        index = int(conf["task"]["index"]) if conf["task"]["type"] == "worker" else 0
    except (ValueError, KeyError, TypeError):
        raise ConfigError(invalid("TF_CONFIG", text, 'JSON such as {"cluster": {"worker": ["host1:port", '
                                  '"host2:port"]}, "task": {"type": "worker", "index": 0}}')) from None
    return workers, index


def make_strategy(name: str, *, cpu_replicas: int = 2):
    """A `tf.distribute.Strategy` for `train(..., strategy=)`; None for "default" (train as always).

    Call it first in the process: MultiWorkerMirroredStrategy and logical CPU devices both need
    TensorFlow's runtime not yet started.
    """
    if name not in STRATEGIES:
        raise ConfigError(invalid("strategy", name, f"one of {', '.join(STRATEGIES)}"))
    if name == "default":
        return None
    if name == "multiworker":
        if cluster_task() is None:
            raise ConfigError("--strategy multiworker needs TF_CONFIG naming the cluster and this worker, e.g. "
                              'TF_CONFIG=\'{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, '
                              '"task": {"type": "worker", "index": 0}}\' on the first machine, index 1 on the second.')
        from .compat import multiworker_fit_problem, tf

        problem = multiworker_fit_problem()
        if problem:
            raise ConfigError(problem)
        return tf.distribute.MultiWorkerMirroredStrategy()
    from .compat import tf

    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    split_cpu(cpu_replicas)
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_replicas)])


def describe(strategy) -> str:
    """'MirroredStrategy x2': the public name and the number of replicas that train in sync."""
    from .compat import tf

    # tf.distribute.MultiWorkerMirroredStrategy is a CollectiveAllReduceStrategy underneath
    public = ("MultiWorkerMirroredStrategy", "MirroredStrategy", "OneDeviceStrategy")
    name = next((n for n in public if isinstance(strategy, getattr(tf.distribute, n))), type(strategy).__name__)
    return f"{name} x{strategy.num_replicas_in_sync}"


def worker_out_dir(out: Path) -> Path:
    """Where this process writes: `out` itself, or `out/worker<i>` for multi-worker workers after the first."""
    task = cluster_task()
    return out if task is None or task[1] == 0 else out / f"worker{task[1]}"
