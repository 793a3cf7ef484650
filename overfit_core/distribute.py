"""One-machine clusters to test and time the `tf.distribute` strategies of `overfit_core.strategies`.

- ``python -m overfit_core.distribute compare``: trains the same variants with the default strategy,
  MirroredStrategy over two logical CPUs, and MultiWorkerMirroredStrategy with one and with two
  worker processes on 127.0.0.1; prints whether the checks still hold and throughput ratios.

Nothing here imports TensorFlow at module level.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import ConfigError
from .strategies import STRATEGIES, describe, make_strategy

COMPARE_VARIANTS = ("l1", "reg_base")
COMPARE_CHECKS = ("learns", "l1_shrinks_weights")


def free_ports(n: int) -> list[int]:
    """`n` TCP ports on 127.0.0.1 that were free a moment ago (OSError when none can be bound)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def local_tf_config(ports: Sequence[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


# --- one worker: train, time the steady epochs, evaluate the checks -------------------------

def _epoch_timer():
    from .compat import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def run_worker(strategy_name: str, *, variants: Sequence[str] = COMPARE_VARIANTS,
               checks: Sequence[str] = COMPARE_CHECKS, epochs: int = 8, samples: int | None = None, seed: int = 0,
               cpu_replicas: int = 2) -> dict:
    """Train `variants` on synthetic IMDB under one strategy; the checks' outcomes and steady throughput."""
    import dataclasses

    strategy = make_strategy(strategy_name, cpu_replicas=cpu_replicas)
    from .cases import cases_for, evaluate_case
    from .config import FAST
    from .datasets import DataOptions, load_dataset
    from .training import train
    from .variants import get_variant

    dataset = load_dataset("imdb", DataOptions(kind="synthetic"))
    # the fast tier caps no IMDB samples: all 2,500 synthetic reviews unless `samples` says otherwise
    specs = [dataclasses.replace(get_variant(name), epochs=(("*", epochs),), max_train_samples=samples)
             for name in variants]
    records, steady_samples, steady_seconds = {}, 0, 0.0
    for spec in specs:
        timer = _epoch_timer()
        record = train(spec, dataset, seed, FAST, callbacks=[timer], strategy=strategy)
        records[spec.name] = record
        steady = timer.seconds[1:] or timer.seconds  # the first epoch traces the step functions
        steady_samples += record.n_train * len(steady)
        steady_seconds += sum(steady)
    results = [(case.label, evaluate_case(case, records))
               for case in cases_for(specs, seeds=[seed], kinds=["synthetic"], checks=checks)]
    return {"strategy": describe(strategy) if strategy is not None else "default x1",
            "keras": records[variants[0]].versions["keras"],
            "samples_per_s": steady_samples / steady_seconds if steady_seconds else 0.0,
            "checks": [{"check": r.check, "variants": label, "passed": r.passed, "message": r.message}
                       for label, r in results],
            "kernel_l1": {n: sum(k.l1 for k in r.kernels) for n, r in records.items()},
            "final_loss": {n: r.history["loss"][-1] for n, r in records.items()}}


# --- a one-machine comparison -----------------------------------------------------------------

@dataclass
class Run:
    label: str
    workers: list[dict] = field(default_factory=list)
    error: str = ""

    @property
    def chief(self) -> dict:
        return self.workers[0]


def _launch(strategy: str, n_workers: int, args: Sequence[str], env: dict, timeout: float) -> list[dict]:
    """Run `n_workers` worker processes (a local cluster for multiworker) and return their results."""
    with tempfile.TemporaryDirectory(prefix="overfit-distribute-") as tmp:
        ports = free_ports(n_workers) if strategy == "multiworker" else []
        procs, logs = [], [Path(tmp, f"worker{i}.log") for i in range(n_workers)]
        for i in range(n_workers):
            wenv = dict(env)
            if ports:
                wenv["TF_CONFIG"] = local_tf_config(ports, i)
            cmd = [sys.executable, "-m", "overfit_core.distribute", "worker", "--strategy", strategy,
                   "--result", str(Path(tmp, f"worker{i}.json")), *args]
            with open(logs[i], "w") as log:  # files, not pipes: a full pipe would stall a worker mid-collective
                procs.append(subprocess.Popen(cmd, env=wenv, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        try:  # a worker that fails leaves the others waiting for it: stop them at once
            while any(p.poll() is None for p in procs) and not any(p.returncode for p in procs):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{strategy} with {n_workers} worker(s) did not finish within {timeout:.0f}s")
                time.sleep(0.2)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        failed = sorted((p.returncode < 0, i) for i, p in enumerate(procs) if p.returncode)  # killed ones last
        if failed:
            i = failed[0][1]
            tail = "\n".join(logs[i].read_text(errors="replace").strip().splitlines()[-15:])
            raise RuntimeError(f"{strategy} worker {i} of {n_workers} exited with {procs[i].returncode}:\n{tail}")
        return [json.loads(Path(tmp, f"worker{i}.json").read_text()) for i in range(n_workers)]


def multiworker_env() -> tuple[dict, str]:
    """(environment for multi-worker workers, note); raises ConfigError when this Keras cannot do it."""
    import importlib.util

    from .compat import multiworker_fit_problem

    problem = multiworker_fit_problem()
    if problem is None:
        return {}, ""
    if importlib.util.find_spec("tf_keras") is None:
        raise ConfigError(problem)
    return {"TF_USE_LEGACY_KERAS": "1"}, "multi-worker runs use tf-keras (TF_USE_LEGACY_KERAS=1): " + problem


def compare(*, workers: int = 2, epochs: int = 8, samples: int | None = None, seed: int = 0,
            strategies: Sequence[str] = STRATEGIES, timeout: float = 600,
            one_worker: bool = True) -> tuple[list[Run], list[str]]:
    """Train the same variants under each strategy, one configuration after another; (runs, report lines).

    `one_worker`: also run multiworker with a single worker, the reference of its throughput ratio."""
    from .parallel import available_cores

    args = ["--epochs", str(epochs), "--seed", str(seed), "--replicas", str(workers)]
    if samples:
        args += ["--samples", str(samples)]
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    plan = []
    if "default" in strategies:
        plan.append(("default", 1, "default strategy, 1 process", env))
    if "mirrored" in strategies:
        plan.append(("mirrored", 1, f"MirroredStrategy, {workers} logical CPUs, 1 process", env))
    notes = []
    if "multiworker" in strategies:
        extra, note = multiworker_env()
        notes += [note] if note else []
        cores = available_cores()
        for n in (1, workers) if one_worker else (workers,):  # each worker gets its share of the cores
            threads = str(max(1, cores // n))
            plan.append(("multiworker", n, f"MultiWorkerMirroredStrategy, {n} worker{'s' * (n > 1)} "
                         f"({threads} TF threads each)",
                         {**env, **extra, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}))
    runs = []
    for strategy, n, label, run_env in plan:
        run = Run(label)
        try:
            run.workers = _launch(strategy, n, args, run_env, timeout)
        except (RuntimeError, OSError) as e:
            run.error = str(e)
        runs.append(run)
    return runs, notes + report_lines(runs)


def report_lines(runs: Sequence[Run]) -> list[str]:
    """A table: throughput, its ratio to the one-replica run of the same engine, and the checks."""
    by_label = {r.label: r for r in runs}
    base_default = next((r for r in runs if r.label.startswith("default") and not r.error), None)
    base_mw = next((r for r in runs if ", 1 worker " in r.label and not r.error), None)
    lines = [f"{'configuration':<58} {'samples/s':>10} {'ratio':>6}  checks"]
    for run in by_label.values():
        if run.error:
            lines.append(f"{run.label:<58} {'-':>10} {'-':>6}  ERROR: {run.error.splitlines()[0]}")
            continue
        base = base_mw if run.label.startswith("MultiWorker") else base_default
        ratio = run.chief["samples_per_s"] / base.chief["samples_per_s"] if base else float("nan")
        checks = ", ".join(f"{c['check']}({c['variants']}) {'holds' if c['passed'] else 'FAILS'}"
                           for c in run.chief["checks"])
        agree = ""
        if len(run.workers) > 1:  # mirrored variables: every worker must end with the same weights
            same = all(abs(w["kernel_l1"][v] - l1) <= 1e-5 * l1 for w in run.workers[1:]
                       for v, l1 in run.chief["kernel_l1"].items())
            agree = f"; workers {'agree' if same else 'DISAGREE'} on the weights"
        lines.append(f"{run.label:<58} {run.chief['samples_per_s']:>10.0f} {ratio:>6.2f}  {checks}{agree}")
    lines.append("ratio: samples/s over the steady epochs (the first, which traces, left out) divided by the "
                 "one-replica run of the same engine (default strategy; MultiWorker with 1 worker)")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m overfit_core.distribute", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="train under each strategy on this machine; print checks and throughput ratios")
    c.add_argument("--workers", type=int, default=2, help="replicas for mirrored, worker processes for multiworker")
    c.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated subset of %(default)s")
    w = sub.add_parser("worker", help="one worker of `compare` (internal)")
    w.add_argument("--strategy", choices=STRATEGIES, required=True)
    w.add_argument("--replicas", type=int, default=2)
    w.add_argument("--result", required=True)
    for q in (c, w):
        q.add_argument("--epochs", type=int, default=8)
        q.add_argument("--samples", type=int, default=None, help="training samples (default: all 2500 synthetic)")
        q.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        if args.command == "worker":
            result = run_worker(args.strategy, epochs=args.epochs, samples=args.samples, seed=args.seed,
                                cpu_replicas=args.replicas)
            Path(args.result).write_text(json.dumps(result))
            return 0
        runs, lines = compare(workers=args.workers, epochs=args.epochs, samples=args.samples, seed=args.seed,
                              strategies=[s.strip() for s in args.strategies.split(",") if s.strip()])
        print("\n".join(lines))
        return 1 if any(r.error or not all(c["passed"] for w in r.workers for c in w["checks"]) for r in runs) else 0
    except ConfigError as e:
        print(f"overfit_core.distribute: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
