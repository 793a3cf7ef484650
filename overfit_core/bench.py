"""Benchmark support: matmul calibration, FLOP formulas, and the machine-normalised regression gate.

FLOPs per sample of a dense net (the usual 2-FLOPs-per-multiply-add count): a forward pass costs
2 x parameters, forward+backward (gradients for inputs and weights) 6 x parameters. Bias, activation,
loss and optimizer work is ignored, so achieved GFLOP/s slightly understates the work done.

The gate compares each benchmark's throughput divided by the same run's calibration (float32
matmul GFLOP/s), so a faster or a busier machine moves both and the ratio stays put.

Memory is in MB of 2**20 bytes: `rss_mb` is the resident set now (VmRSS of /proc/self/status), `peak_rss_mb`
the largest it has been since the process started (VmHWM there; elsewhere getrusage's ru_maxrss, which Linux
gives in KiB and macOS in bytes). Where neither is available they are None, and so is every figure built
from them.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import OverfitBenchError, invalid

CALIBRATION = "matmul_peak"  # extra_info["calibration"] of the calibration benchmark
MATMUL_N = 2048
DEFAULT_THRESHOLD = 0.20  # geometric-mean slowdown over one test function's benchmarks
# The fastest round is the least disturbed by other load: over 110 pairs of unchanged runs (README) it gave
# 3 false alarms at these thresholds, the median round 28.
DEFAULT_STAT = "min"
DEFAULT_BENCH_THRESHOLD = 0.40  # any single benchmark
STATS = ("min", "median", "mean")
HOW_TO_RUN = "pytest benchmarks --benchmark-json=PATH"
MEMORY_KEYS = ("peak_rss_mb", "rss_growth_mb")  # the memory figures bench-gate prints beside the time ratios
SESSION_MEMORY = "overfit_bench_memory"  # top-level key of the JSON: {"peak_rss_mb": the pytest process's peak}


class BenchGateError(OverfitBenchError, ValueError):
    """A benchmark JSON file is missing, unreadable or lacks what the gate needs."""


def train_flops_per_sample(params: int) -> int:
    """Forward + backward of a dense net: 6 x parameters."""
    return 6 * int(params)


def predict_flops_per_sample(params: int) -> int:
    """Forward pass of a dense net: 2 x parameters."""
    return 2 * int(params)


def matmul_flops(n: int) -> int:
    return 2 * n**3


def steps_for(batch_size: int, target_samples: int) -> int:
    """A power-of-two step count giving about `target_samples` per round (so 8 or 16 steps per execution fit)."""
    return 2 ** max(0, round(math.log2(max(1.0, target_samples / batch_size))))


def fixed_steps(x, y, batch_size: int, steps: int):
    """`x` and `y` repeated or cut to exactly `steps` full batches."""
    import numpy as np

    n = steps * batch_size
    idx = np.arange(n) % len(x)
    return x[idx], y[idx]


class MatmulProbe:
    """Times float32 n x n matmuls in a tf.function: the machine's attainable arithmetic peak."""

    def __init__(self, n: int = MATMUL_N, repeats: int = 1):
        from .compat import tf

        gen = tf.random.Generator.from_seed(0)
        self.n, self.repeats = n, repeats
        self.a = gen.normal((n, n), dtype=tf.float32)
        self.b = gen.normal((n, n), dtype=tf.float32) / math.sqrt(n)
        self._fn = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
        self._fn(self.a, self.b).numpy()  # trace outside any timing

    @property
    def flops(self) -> int:
        return self.repeats * matmul_flops(self.n)

    def __call__(self) -> None:
        for _ in range(self.repeats):  # separate calls: one graph with repeated matmuls would be deduplicated
            self._fn(self.a, self.b).numpy()

    def gflops(self) -> float:
        """GFLOP/s of one call, measured now."""
        start = time.perf_counter()
        self()
        return self.flops / (time.perf_counter() - start) / 1e9


def machine_facts() -> dict[str, Any]:
    """TF/Keras versions, CPU model and the thread settings that decide CPU throughput."""
    from .compat import keras, tf

    from .parallel import available_cores, cpu_model

    cpu, affinity = cpu_model(), available_cores()
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),  # 0: TF picks (= cores)
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        **{k.lower(): os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                                      "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS")},
    }


# --- memory ------------------------------------------------------------------------------------

MB = 2**20  # bytes
PROC_STATUS = "/proc/self/status"


def _status_mb(key: str, path: str | Path = PROC_STATUS) -> float | None:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM) in MB; None without /proc or without the line."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            parts = line.split()
            try:
                return int(parts[1]) * 1024 / MB if len(parts) >= 2 and parts[-1] == "kB" else None
            except ValueError:
                return None
    return None


def rss_mb(path: str | Path = PROC_STATUS) -> float | None:
    """This process's resident set size now (VmRSS), in MB; None where /proc is absent (macOS, Windows)."""
    return _status_mb("VmRSS", path)


def maxrss_mb(ru_maxrss: float, platform: str = sys.platform) -> float | None:
    """getrusage's ru_maxrss in MB: Linux (and the BSDs) count KiB, macOS bytes; None when not positive."""
    if not ru_maxrss or ru_maxrss <= 0:
        return None
    return ru_maxrss / MB if platform == "darwin" else ru_maxrss * 1024 / MB


def rusage_peak_mb(who: str = "self") -> float | None:
    """getrusage's ru_maxrss in MB, of this process (`self`) or of the largest child it waited for (`children`);
    None where there is no `resource` module (Windows). See `peak_rss_mb` for why a child's is inflated."""
    if who not in ("self", "children"):
        raise ValueError(invalid("who", who, "'self' or 'children'"))
    try:
        import resource
    except ImportError:
        return None
    return maxrss_mb(resource.getrusage(resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN).ru_maxrss)


def peak_rss_mb(path: str | Path = PROC_STATUS) -> float | None:
    """This process's peak resident set size since it started, in MB: VmHWM from /proc where there is one,
    else ru_maxrss (`rusage_peak_mb`); None where neither is available.

    Not ru_maxrss first: on Linux a process started with subprocess (fork or vfork, then exec) inherits in
    ru_maxrss its parent's peak at the fork (a child of a 900 MB pytest process reports at least 900 MB), and
    RUSAGE_CHILDREN inherits it likewise; VmHWM counts the process's own memory only.
    """
    hwm = _status_mb("VmHWM", path)
    return hwm if hwm is not None else rusage_peak_mb("self")


def memory_sample() -> dict[str, float | None]:
    """This process's RSS now and its peak so far (what a benchmark worker reports for itself)."""
    return {"rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def memory_info(before: Mapping[str, Any], after: Mapping[str, Any], rounds: int) -> dict[str, Any]:
    """extra_info memory figures from `memory_sample()`s of the training process before and after timed rounds.

    `peak_rss_mb` is the process's peak so far at the end of the rounds: the rounds' own peak when
    `peak_rss_set_in_rounds` (it rose during them), else an upper bound on it (an earlier benchmark reached
    more). `rss_growth_mb` is what the rounds left resident (after - before); per round it is what each
    further fit keeps.
    """
    rb, pb, ra, pa = before.get("rss_mb"), before.get("peak_rss_mb"), after.get("rss_mb"), after.get("peak_rss_mb")
    growth = None if rb is None or ra is None else ra - rb
    return {"peak_rss_mb": _round(pa),
            "peak_rss_set_in_rounds": None if pa is None or pb is None else pa > pb,
            "rss_before_mb": _round(rb), "rss_after_mb": _round(ra), "rss_growth_mb": _round(growth),
            "rss_growth_per_round_mb": None if growth is None or rounds < 1 else round(growth / rounds, 2)}


# --- the gate ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchRun:
    """One pytest-benchmark JSON reduced to what the gate needs."""

    path: str
    calibration_gflops: float
    samples: Mapping[str, float]  # benchmark fullname -> samples per round
    seconds: Mapping[str, Mapping[str, float]]  # fullname -> {stat: seconds per round}
    # fullname -> {peak_rss_mb, rss_growth_mb} where its extra_info has them (any benchmark, timed or not)
    memory: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    session_memory: Mapping[str, float] = field(default_factory=dict)  # the JSON's SESSION_MEMORY object

    def normalised(self, name: str, stat: str) -> float:
        """Samples/s per calibration GFLOP/s: throughput in units of this machine's speed."""
        return self.samples[name] / self.seconds[name][stat] / self.calibration_gflops


def _bad(path, argument: str, problem: str) -> BenchGateError:
    return BenchGateError(invalid(argument, str(path), f"a pytest-benchmark JSON file {problem}",
                                  f"Write one with `{HOW_TO_RUN}`."))


def load_run(path: str | Path, argument: str = "baseline") -> BenchRun:
    """Read a pytest-benchmark JSON; raise BenchGateError naming the file, the need and the fix."""
    p = Path(path)
    if not p.is_file():
        raise _bad(path, argument, "(no such file)")
    try:
        data = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, argument, f"(it is not readable JSON: {e})") from None
    benches = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benches, list) or not benches:
        raise _bad(path, argument, "with a non-empty `benchmarks` list (none found; was it written with "
                   "--benchmark-disable or with every benchmark deselected?)")
    calibration, samples, seconds, memory = None, {}, {}, {}
    for b in benches:
        if not isinstance(b, dict):
            raise _bad(path, argument, "whose `benchmarks` entries are objects")
        info, stats, name = b.get("extra_info") or {}, b.get("stats") or {}, b.get("fullname") or b.get("name")
        figures = {k: float(info[k]) for k in MEMORY_KEYS if _number(info.get(k))}
        if name and figures:
            memory[name] = figures
        if info.get("calibration") == CALIBRATION:
            calibration = info.get("peak_gflops")
        elif name and isinstance(info.get("samples"), (int, float)) and info["samples"] > 0:
            times = {s: stats.get(s) for s in STATS}
            if all(isinstance(t, (int, float)) and t > 0 for t in times.values()):
                samples[name], seconds[name] = float(info["samples"]), times
    if not isinstance(calibration, (int, float)) or not calibration > 0:
        raise _bad(path, argument, f"holding the calibration benchmark (extra_info calibration={CALIBRATION!r} "
                   "with a positive peak_gflops); keep benchmarks/test_calibration.py selected")
    if not samples:
        raise _bad(path, argument, "holding throughput benchmarks (extra_info `samples` and timing stats)")
    session = data.get(SESSION_MEMORY)
    session = {k: float(v) for k, v in session.items() if _number(v)} if isinstance(session, dict) else {}
    return BenchRun(str(path), float(calibration), samples, seconds, memory, session)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def group_of(name: str) -> str:
    """The test function a benchmark belongs to: its name without the parameters."""
    return name.split("[", 1)[0]


@dataclass(frozen=True)
class GateRow:
    name: str
    baseline: float  # normalised throughput
    current: float
    failed: bool

    @property
    def slowdown(self) -> float:
        """Extra time per sample, machine-normalised: 0.25 means 25% slower."""
        return self.baseline / self.current - 1


@dataclass(frozen=True)
class GateGroup:
    name: str
    size: int
    slowdown: float  # geometric mean over the group's benchmarks
    failed: bool


@dataclass(frozen=True)
class GateResult:
    rows: tuple[GateRow, ...]
    groups: tuple[GateGroup, ...]
    skipped: tuple[str, ...]  # in only one run, or with different work per round
    threshold: float
    bench_threshold: float
    stat: str

    @property
    def passed(self) -> bool:
        return not any(g.failed for g in self.groups) and not any(r.failed for r in self.rows)


def _check_threshold(argument: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 10:
        raise BenchGateError(invalid(argument, value, "a fraction between 0 and 10, e.g. 0.15 for 15% slower"))
    return float(value)


def compare(baseline: BenchRun, current: BenchRun, threshold: float = DEFAULT_THRESHOLD,
            bench_threshold: float = DEFAULT_BENCH_THRESHOLD, stat: str = DEFAULT_STAT) -> GateResult:
    """Fail when a test function's geometric-mean slowdown exceeds `threshold`, or one benchmark's `bench_threshold`.

    Averaging within a test function (all variants of `test_train_throughput`, say) cancels much of the
    noise while a slowdown confined to one kind of work (training steps, say) is not diluted by the rest.
    """
    threshold = _check_threshold("threshold", threshold)
    bench_threshold = _check_threshold("bench_threshold", bench_threshold)
    if stat not in STATS:
        raise BenchGateError(invalid("stat", stat, f"one of {', '.join(STATS)}"))
    rows, skipped = [], []
    for name in sorted(set(baseline.samples) | set(current.samples)):
        if name not in baseline.samples or name not in current.samples:
            skipped.append(f"{name} (only in {'current' if name in current.samples else 'baseline'})")
        elif baseline.samples[name] != current.samples[name]:
            skipped.append(f"{name} (work per round differs: {baseline.samples[name]:g} vs "
                           f"{current.samples[name]:g} samples)")
        else:
            b, c = baseline.normalised(name, stat), current.normalised(name, stat)
            rows.append(GateRow(name, b, c, b / c - 1 > bench_threshold))
    if not rows:
        raise BenchGateError(f"{baseline.path} and {current.path} have no benchmark in common with the same work "
                             f"per round, so nothing can be compared. Expected two runs of the same benchmarks "
                             f"and tier. Re-run `{HOW_TO_RUN}` with the baseline's options.")
    groups = []
    for g in dict.fromkeys(group_of(r.name) for r in rows):
        members = [r for r in rows if group_of(r.name) == g]
        slowdown = statistics.geometric_mean(r.baseline / r.current for r in members) - 1
        groups.append(GateGroup(g, len(members), slowdown, slowdown > threshold))
    return GateResult(tuple(rows), tuple(groups), tuple(skipped), threshold, bench_threshold, stat)


def _mb(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def memory_columns(baseline: Mapping[str, float] | None, current: Mapping[str, float] | None) -> str:
    """`peak base > current (change)   growth base > current`, MB; empty unless both runs carry figures."""
    if not baseline or not current:
        return ""
    bp, cp = baseline.get("peak_rss_mb"), current.get("peak_rss_mb")
    change = f"({round(cp / bp - 1, 2) + 0.0:+.0%})" if bp and cp else ""  # + 0.0: no "-0%"
    return (f"   {_mb(bp, '6.0f')} > {_mb(cp, '6.0f')} {change:<6}"
            f"   {_mb(baseline.get('rss_growth_mb'), '+7.1f')} > {_mb(current.get('rss_growth_mb'), '+7.1f')}")


MEMORY_HEADER = "   peak RSS MB base > current   growth MB base > current"


def memory_lines(baseline: BenchRun, current: BenchRun, shown: set[str] = frozenset()) -> list[str]:
    """The memory figures of benchmarks not already shown beside a time ratio, and each run's session peak."""
    lines = []
    for name in sorted((set(baseline.memory) & set(current.memory)) - set(shown)):
        lines.append(f"memory of {name}:{memory_columns(baseline.memory[name], current.memory[name])}")
    b, c = baseline.session_memory, current.session_memory
    if b and c:
        lines.append(f"session peak RSS of the pytest process: baseline {_mb(b.get('peak_rss_mb'), '.0f')} MB, "
                     f"current {_mb(c.get('peak_rss_mb'), '.0f')} MB")
    if lines or any(r in baseline.memory and r in current.memory for r in shown):
        lines.append("memory: printed for reading, not gated (test_suite_peak_memory bounds the suite's peak)")
    return lines


def format_result(result: GateResult, baseline: BenchRun, current: BenchRun) -> list[str]:
    width = max(len(r.name) for r in result.rows)
    with_memory = any(r.name in baseline.memory and r.name in current.memory for r in result.rows)
    lines = [f"calibration (float32 matmul peak): baseline {baseline.calibration_gflops:.1f} GFLOP/s, "
             f"current {current.calibration_gflops:.1f} GFLOP/s",
             f"{'benchmark':<{width}}  {'baseline':>9}  {'current':>9}  {'slower':>7}"
             f"{MEMORY_HEADER if with_memory else ''}   (samples/s per peak GFLOP/s, {result.stat} round)"]
    for r in sorted(result.rows, key=lambda r: -r.slowdown):
        flag = f"  FAIL (> {result.bench_threshold:.0%})" if r.failed else ""
        mem = memory_columns(baseline.memory.get(r.name), current.memory.get(r.name))
        lines.append(f"{r.name:<{width}}  {r.baseline:9.3f}  {r.current:9.3f}  {r.slowdown:+7.1%}{mem}{flag}")
    lines += [f"not compared: {s}" for s in result.skipped]
    lines += memory_lines(baseline, current, {r.name for r in result.rows})
    for g in result.groups:
        flag = f"  FAIL (> {result.threshold:.0%})" if g.failed else ""
        lines.append(f"geometric mean of {g.size:>2} in {g.name}: {g.slowdown:+.1%}{flag}")
    worst = max(result.groups, key=lambda g: g.slowdown)
    lines.append(f"bench-gate: {'PASS' if result.passed else 'FAIL'}: worst test function {worst.name} "
                 f"{worst.slowdown:+.1%} (threshold {result.threshold:.0%}); "
                 f"{sum(r.failed for r in result.rows)} of {len(result.rows)} benchmarks beyond "
                 f"{result.bench_threshold:.0%}")
    return lines


def gate(baseline_path, current_path, threshold: float = DEFAULT_THRESHOLD,
         bench_threshold: float = DEFAULT_BENCH_THRESHOLD, stat: str = DEFAULT_STAT) -> tuple[GateResult, list[str]]:
    baseline, current = load_run(baseline_path, "baseline"), load_run(current_path, "current")
    result = compare(baseline, current, threshold, bench_threshold, stat)
    return result, format_result(result, baseline, current)
