"""Benchmark options, machine info, datasets, the same-run calibration and the `measure` helper.

Not part of the default `pytest` (testpaths is tests/). Run: pytest benchmarks --benchmark-json=PATH
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import pytest

from overfit_core import VARIANTS, DataOptions, get_variant, load_dataset
from overfit_core.bench import (SESSION_MEMORY, MatmulProbe, machine_facts, memory_info, memory_sample, peak_rss_mb,
                                rusage_peak_mb, steps_for)
from overfit_core.errors import ConfigError, OverfitBenchError
from overfit_core.settings import Settings as OverfitSettings

PATH_VARIANTS = ("overfit", "adam")  # compute-bound (batch 500) and overhead-bound (batch 32)
EQUIVALENCE_VARIANTS = (*PATH_VARIANTS, "adam_dropout")
SMOKE_VARIANTS = ("tiny",)
# name -> worker settings; threads 0 let TF choose (= the cores it may use); min_graph_nodes 0 is TF's default and
# 50 the suite's (overfit_core.compat.configure_graph_optimizer), which every in-process benchmark runs with.
THREAD_SETTINGS = {
    "tf_default": {"intra": 0, "inter": 0, "min_graph_nodes": 0},
    "inter_op_1": {"intra": 0, "inter": 1, "min_graph_nodes": 0},
    "intra_op_1": {"intra": 1, "inter": 1, "min_graph_nodes": 0},
    "onednn_off": {"intra": 0, "inter": 0, "onednn": False, "min_graph_nodes": 0},
    "min_graph_nodes_50": {"intra": 0, "inter": 0, "min_graph_nodes": 50},
}
PRECISIONS = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}  # -> matmul dtype
RESULTS = pytest.StashKey[dict]()
SUITE_MEMORY = pytest.StashKey[dict]()  # test_memory.py's figures, for the summary
CALIBRATIONS = pytest.StashKey["Calibration"]()  # the session's calibrations, for the summary


@dataclass(frozen=True)
class Settings:
    smoke: bool
    rounds: int  # timed rounds; one warm-up round (tracing, compilation) comes first and is excluded
    target_samples: int  # samples per timed round of the fixed-step benchmarks
    trainer_epochs: int
    trainer_rounds: int  # paired rounds; more, as the trainer's overhead is a small difference
    compile_rounds: int  # each builds a model and traces it afresh: the slowest benchmark

    def steps(self, spec) -> int:
        return steps_for(spec.batch_size, self.target_samples)


def pytest_addoption(parser):
    group = parser.getgroup("overfit-bench benchmarks")
    group.addoption("--bench-smoke", action="store_true",
                    help="seconds: variant tiny, one path, runner and thread setting, one round of tiny work; keeps "
                         "the benchmarks alive in CI, measures nothing")
    group.addoption("--bench-variants", default=None,
                    help="comma-separated variants (default: all; the path and trainer comparisons use "
                         f"{','.join(PATH_VARIANTS)})")
    group.addoption("--bench-inject-slowdown", type=_fraction, default=0.0, metavar="FRACTION",
                    help="make every timed round FRACTION slower (it sleeps that share of its own duration); "
                         "for measuring that the gate catches a regression, e.g. 0.25")
    group.addoption("--bench-inject-tf-slowdown", type=_tf_fraction, default=0.0, metavar="FRACTION",
                    help="make TensorFlow's matmul calibration FRACTION slower (each of its rounds sleeps that share "
                         "of its own duration), as a slowdown of TensorFlow's own matmul would; with "
                         "--bench-inject-slowdown, a regression the TF-normalised ratio divides away, e.g. 0.25")
    group.addoption("--bench-precision", default="float32", choices=PRECISIONS,
                    help="Keras dtype policy of every model: float32 (default) or a mixed policy (bfloat16 or float16 "
                         "compute, float32 variables); the matmul calibration then runs in that compute dtype")
    group.addoption("--bench-memory-limit-mb", type=_megabytes, default=None, metavar="MB",
                    help="fail test_suite_peak_memory above this peak RSS of its training process (default: the "
                         "bound in benchmarks/test_memory.py)")


def _fraction_option(option: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not 0 <= value < 10:
            raise argparse.ArgumentTypeError(f"Invalid value received for `{option}`. Expected a fraction between 0 "
                                             f"and 10, e.g. 0.25 for 25% slower. Received: {text!r}")
        return value

    return parse


_fraction = _fraction_option("--bench-inject-slowdown")
_tf_fraction = _fraction_option("--bench-inject-tf-slowdown")


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < 10**7:
        raise argparse.ArgumentTypeError(f"Invalid value received for `--bench-memory-limit-mb`. Expected a positive "
                                         f"number of MB (2**20 bytes), e.g. 1500. Received: {text!r}")
    return value


def _settings(config) -> Settings:
    if config.getoption("--bench-smoke"):
        return Settings(smoke=True, rounds=1, target_samples=64, trainer_epochs=1, trainer_rounds=1,
                        compile_rounds=1)
    return Settings(smoke=False, rounds=5, target_samples=4096, trainer_epochs=3, trainer_rounds=9,
                    compile_rounds=3)


def _variants(config, default) -> tuple[str, ...]:
    text = config.getoption("--bench-variants")
    if not text:
        return SMOKE_VARIANTS if config.getoption("--bench-smoke") else tuple(default)
    try:
        return tuple(get_variant(n.strip()).name for n in text.split(",") if n.strip())
    except OverfitBenchError as e:
        raise pytest.UsageError(f"--bench-variants: {e}") from None


def pytest_configure(config):
    config.stash[RESULTS] = {}
    policy = config.getoption("--bench-precision", "float32")
    if policy != "float32":
        from overfit_core.compat import keras

        keras.mixed_precision.set_global_policy(policy)


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", _variants(config, VARIANTS))
    if "path_variant" in metafunc.fixturenames:
        metafunc.parametrize("path_variant", _variants(config, PATH_VARIANTS))
    if "equivalence_variant" in metafunc.fixturenames:
        metafunc.parametrize("equivalence_variant", _variants(config, EQUIVALENCE_VARIANTS))
    smoke = config.getoption("--bench-smoke")
    for name, choices, smoke_choice in (("thread_setting", THREAD_SETTINGS, "tf_default"),
                                        ("path", getattr(metafunc.module, "PATHS", ()), "suite"),
                                        ("runner", getattr(metafunc.module, "RUNNERS", ()), "suite_train"),
                                        ("option", getattr(metafunc.module, "OPTIONS", ()), "steps_per_execution")):
        if name in metafunc.fixturenames:  # the smoke run keeps one of each, so every code path stays alive
            metafunc.parametrize(name, (smoke_choice,) if smoke else tuple(choices))


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name != "test_calibration.py")  # stable: the calibration runs first


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info.update(machine_facts())


@pytest.fixture(scope="session")
def bench(pytestconfig) -> Settings:
    return _settings(pytestconfig)


def _data_dir(config) -> str | None:
    """The real datasets' folder, resolved as everywhere else: --data-dir (the overfit-bench plugin's option),
    then OVERFIT_DATA_DIR."""
    try:
        return OverfitSettings.resolve(data_dir=config.getoption("--data-dir", default=None)).data_dir
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from None


@pytest.fixture(scope="session")
def data(pytestconfig):
    """Dataset by name: synthetic, or real when OVERFIT_DATA_DIR (or --data-dir) is set."""
    data_dir = _data_dir(pytestconfig)
    options = DataOptions(kind="real", data_dir=data_dir) if data_dir else DataOptions(kind="synthetic")
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_dataset(name, options)
        return cache[name]

    get.data_dir = data_dir
    return get


class Calibration:
    """The run's float32 matmul peaks, set by test_calibration.py: TensorFlow's (`peak()` measures it if that
    was deselected; benchmarks state their share of it) and numpy's (its BLAS: what the gate divides by).

    `tf_slowdown` is --bench-inject-tf-slowdown: the share each round of TensorFlow's matmul sleeps."""

    def __init__(self, tf_slowdown: float = 0.0, dtype: str = "float32"):
        self.tf_slowdown, self.dtype = tf_slowdown, dtype
        self.peak_gflops: float | None = None
        self.numpy_gflops: float | None = None
        self.numpy_blas: str = ""

    def tf_probe(self) -> MatmulProbe:
        return MatmulProbe(slowdown=self.tf_slowdown, dtype=self.dtype)

    def peak(self) -> float:
        if self.peak_gflops is None:
            probe = self.tf_probe()
            self.peak_gflops = max(probe.gflops() for _ in range(6))
        return self.peak_gflops


@pytest.fixture(scope="session")
def calibration(pytestconfig) -> Calibration:
    pytestconfig.stash[CALIBRATIONS] = Calibration(pytestconfig.getoption("--bench-inject-tf-slowdown"),
                                                   PRECISIONS[pytestconfig.getoption("--bench-precision")])
    return pytestconfig.stash[CALIBRATIONS]


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    yield
    from overfit_core.compat import clear_session

    clear_session()


def timing(benchmark):
    """The pytest-benchmark Stats of the finished pedantic run; None with --benchmark-disable."""
    meta = getattr(benchmark, "stats", None)
    return getattr(meta, "stats", None)


@pytest.fixture
def measure(request, bench, calibration):
    """`benchmark.pedantic` with one warm-up round, extra_info filled in.

    With `reference=(name, fn)`, one untimed-by-pytest round of `fn` runs before every round and the
    speedup is the median of the per-round ratios reference/target: on a shared machine the load
    changes between benchmarks, and pairing rounds cancels what changes slower than a round pair.

    Memory: `memory()` (default: this process's `memory_sample`; a worker's own report where a worker
    trains) is read, untimed, before the first timed round and after the last, and `memory_info` of the
    two goes into extra_info, with `memory_of` saying whose figures they are.
    """
    from overfit_core.compat import accelerator, versions

    def run(benchmark, target, *, samples: int, kind: str, setup=None, reference=None, rounds: int | None = None,
            flops_per_sample: int | None = None, memory=memory_sample, memory_of: str = "pytest process",
            **info) -> dict:
        reference_s, memory_at = [], []

        def round_setup():
            memory_at.append(memory())  # before round i; [1] is the first timed round's (after the warm-up)
            if setup is not None:
                setup()
            if reference is not None:
                start = time.perf_counter()
                reference[1]()
                reference_s.append(time.perf_counter() - start)

        slowdown = request.config.getoption("--bench-inject-slowdown")
        if slowdown:
            target = _slowed(target, slowdown)
        benchmark.pedantic(target, setup=round_setup, rounds=rounds or bench.rounds, warmup_rounds=1)
        v = versions()
        extra = {"kind": kind, "samples": int(samples), "tensorflow": v["tensorflow"], "keras": v["keras"],
                 "backend": v["backend"], "backend_version": v["backend_version"], "accelerator": accelerator(),
                 "precision": request.config.getoption("--bench-precision"), **info}
        timed = len(memory_at) - 1  # setup runs before the warm-up and each timed round (once when disabled)
        extra.update(memory_info(memory_at[min(1, timed)], memory(), max(timed, 0)), memory_of=memory_of)
        stats = timing(benchmark)
        if stats is not None:
            peak = calibration.peak()
            extra.update(seconds_median=stats.median, seconds_min=stats.min, samples_per_s=samples / stats.median,
                         peak_gflops=peak)
            if flops_per_sample:  # the peak is the calibration's fastest round, so the best round is also given
                gflops, best = (samples / t * flops_per_sample / 1e9 for t in (stats.median, stats.min))
                extra.update(flops_per_sample=int(flops_per_sample), gflops=gflops, fraction_of_peak=gflops / peak,
                             gflops_best_round=best, fraction_of_peak_best_round=best / peak)
            if reference is not None:
                pairs = [r / t for r, t in zip(reference_s[1:], stats.data)]  # [0] ran before the warm-up round
                extra.update(reference=reference[0], paired_rounds=len(pairs), speedup=statistics.median(pairs))
            request.config.stash[RESULTS][request.node.name] = extra
        benchmark.extra_info.update(extra)
        return extra

    return run


def _slowed(fn, fraction: float):
    def run():
        start = time.perf_counter()
        out = fn()
        time.sleep(fraction * (time.perf_counter() - start))
        return out
    return run


def session_memory() -> dict:
    """The pytest process's peak RSS so far (VmHWM), and its ru_maxrss (the same here: pytest's parent is small).
    Not its children's: on Linux their ru_maxrss starts at this process's peak when they were started; workers
    and the memory benchmark's child report their own."""
    return {"peak_rss_mb": peak_rss_mb(), "ru_maxrss_mb": rusage_peak_mb("self")}


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json[SESSION_MEMORY] = session_memory()  # top level: machine_info must stay equal between runs


def pytest_terminal_summary(terminalreporter, config):
    from ._report import summary_lines

    lines = summary_lines(config.stash.get(RESULTS, {}), session_memory(), config.stash.get(SUITE_MEMORY, None),
                          config.stash.get(CALIBRATIONS, None))
    if lines:
        terminalreporter.section("overfit-bench: ratios from this run")
        for line in lines:
            terminalreporter.write_line(line)
