"""Benchmark support: matmul calibration, FLOP formulas, and the machine-normalised regression gate.

FLOPs per sample of a dense net (the usual 2-FLOPs-per-multiply-add count): a forward pass costs
2 x parameters, forward+backward (gradients for inputs and weights) 6 x parameters. Bias, activation,
loss and optimizer work is ignored, so achieved GFLOP/s slightly understates the work done.

The gate compares each benchmark's throughput divided by the same run's calibration, so a faster or a
busier machine moves both and the ratio stays put. Two calibrations time the same float32 n x n matmul:
numpy's (its BLAS, outside TensorFlow: the machine) and TensorFlow's (the system under test). The gate
gates on throughput per numpy GFLOP/s, "machine-normalised"; per TensorFlow GFLOP/s ("TF-normalised") a
slowdown of TensorFlow's own matmul (oneDNN off, a slower kernel) would divide itself away, so it is
printed beside it, with the raw ratio, but not gated on.

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

CALIBRATION = "matmul_peak"  # extra_info["calibration"] of the TensorFlow matmul calibration benchmark
NUMPY_CALIBRATION = "numpy_matmul_peak"  # ... of the numpy (BLAS) matmul calibration benchmark
MATMUL_N = 2048
# The ratios the gate computes, by what throughput is divided by: nothing (samples/s), numpy's matmul GFLOP/s
# (outside TensorFlow: the machine), TensorFlow's matmul GFLOP/s (inside the system under test).
BASES = {"raw": "raw", "machine": "machine-normalised", "tf": "TF-normalised"}
DEFAULT_BASIS = "machine"
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


class _Probe:
    """Times one float32 n x n matmul (`repeats` times) per call; `gflops()` measures one call now.

    `slowdown` makes each call sleep that share of its own duration after the work, as a slower matmul would
    take longer (for showing what the gate sees when TensorFlow's own matmul slows down); `work_seconds`
    keeps each call's duration without the sleep.
    """

    def __init__(self, n: int, repeats: int, slowdown: float):
        if isinstance(slowdown, bool) or not isinstance(slowdown, (int, float)) or not 0 <= slowdown < 10:
            raise ValueError(invalid("slowdown", slowdown, "a fraction between 0 and 10, e.g. 0.25 for 25% slower"))
        self.n, self.repeats, self.slowdown = n, repeats, float(slowdown)
        self.work_seconds: list[float] = []

    @property
    def flops(self) -> int:
        return self.repeats * matmul_flops(self.n)

    def _once(self) -> None:  # set by subclasses: one timed call
        raise NotImplementedError

    def __call__(self) -> None:
        start = time.perf_counter()
        for _ in range(self.repeats):  # separate calls: one graph with repeated matmuls would be deduplicated
            self._once()
        took = time.perf_counter() - start
        self.work_seconds.append(took)
        if self.slowdown:
            time.sleep(self.slowdown * took)

    def gflops(self) -> float:
        """GFLOP/s of one call, measured now (its injected sleep included)."""
        start = time.perf_counter()
        self()
        return self.flops / (time.perf_counter() - start) / 1e9


class MatmulProbe(_Probe):
    """The Keras backend's n x n matmul, compiled (TensorFlow: tf.function, JAX: jax.jit, PyTorch: eager) on the
    device it trains on: the attainable arithmetic peak of the system under test.

    `dtype` is float32, or bfloat16/float16 for a mixed-precision run. `n` defaults to MATMUL_N on a CPU and to
    GPU_MATMUL_N on a GPU, where a 2048 product is too short to reach the peak.
    """

    def __init__(self, n: int | None = None, repeats: int = 1, slowdown: float = 0.0, dtype: str = "float32"):
        from .compat import BACKEND, accelerator

        if dtype not in PROBE_DTYPES:
            raise ValueError(invalid("dtype", dtype, f"one of {', '.join(PROBE_DTYPES)}"))
        n = n or (GPU_MATMUL_N if accelerator() else MATMUL_N)
        super().__init__(n, repeats, slowdown)
        self.backend, self.dtype = BACKEND, dtype
        self._once = getattr(self, f"_{BACKEND}")(n, dtype)
        self._once()  # trace and compile outside any timing

    @staticmethod
    def _tensorflow(n: int, dtype: str):
        from .compat import tensorflow_only

        tf = tensorflow_only("The TensorFlow matmul probe")
        gen = tf.random.Generator.from_seed(0)
        a = tf.cast(gen.normal((n, n)), dtype)
        b = tf.cast(gen.normal((n, n)) / math.sqrt(n), dtype)
        fn = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b), tf.float32)))
        return lambda: fn(a, b).numpy()

    @staticmethod
    def _jax(n: int, dtype: str):
        import jax
        import jax.numpy as jnp

        ka, kb = jax.random.split(jax.random.PRNGKey(0))
        a = jax.random.normal(ka, (n, n), dtype)
        b = (jax.random.normal(kb, (n, n), jnp.float32) / math.sqrt(n)).astype(dtype)
        fn = jax.jit(lambda a, b: jnp.sum((a @ b).astype(jnp.float32)))
        return lambda: fn(a, b).block_until_ready()

    @staticmethod
    def _torch(n: int, dtype: str):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        gen = torch.Generator(device=device).manual_seed(0)
        a = torch.randn(n, n, generator=gen, device=device).to(getattr(torch, dtype))
        b = (torch.randn(n, n, generator=gen, device=device) / math.sqrt(n)).to(getattr(torch, dtype))
        return lambda: float((a @ b).float().sum())  # .float() and the host read wait for the device


PROBE_DTYPES = ("float32", "bfloat16", "float16")
GPU_MATMUL_N = 8192


class NumpyMatmulProbe(_Probe):
    """numpy's float32 n x n matmul (its BLAS's sgemm, outside TensorFlow): the machine's speed, for the gate."""

    def __init__(self, n: int = MATMUL_N, repeats: int = 1, slowdown: float = 0.0):
        import numpy as np

        super().__init__(n, repeats, slowdown)
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((n, n), dtype=np.float32)
        self.b = rng.standard_normal((n, n), dtype=np.float32) / np.float32(math.sqrt(n))
        self.out = np.empty((n, n), dtype=np.float32)  # written in place: no allocation timed
        self._matmul = np.matmul
        self._once()  # the BLAS's threads start outside any timing

    def _once(self) -> None:
        self._matmul(self.a, self.b, out=self.out)


# --- what the machine is: ISA, oneDNN, numpy's BLAS ------------------------------------------------

# The instruction-set extensions that decide matmul speed: x86 (the `flags` line of /proc/cpuinfo) and
# arm64 (its `Features` line).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16",
             "asimd", "asimddp", "sve", "sve2", "bf16", "i8mm", "sme")
CPUINFO = "/proc/cpuinfo"


def cpu_isa_flags(path: str | Path = CPUINFO) -> list[str] | None:
    """The ISA_FLAGS the first CPU of /proc/cpuinfo lists, in ISA_FLAGS' order; None without /proc/cpuinfo."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            present = set(value.split())
            return [f for f in ISA_FLAGS if f in present]
    return None


ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def onednn_state(environ: Mapping[str, str] | None = None, *, ask_tensorflow: bool = True,
                 tf_version: str | None = None, machine: str | None = None) -> tuple[bool | None, str]:
    """Whether TensorFlow runs its oneDNN custom ops in this process, and how that was found out.

    First TensorFlow's own answer, `IsMklEnabled()` (tensorflow.python.util._pywrap_util_port, a private module
    TF's test_util uses): it reads TF_ENABLE_ONEDNN_OPTS as TF does and is False for a build without oneDNN.
    Where that is not importable: TF_ENABLE_ONEDNN_OPTS if set (0/false/off: off); else TensorFlow's default,
    on for x86-64 builds since TF 2.9; else None (not known).
    """
    if ask_tensorflow:
        from .compat import tf  # noqa: F401  (TensorFlow started as everywhere else, its log level set)

        try:
            from tensorflow.python.util import _pywrap_util_port

            return bool(_pywrap_util_port.IsMklEnabled()), "tensorflow IsMklEnabled()"
        except (ImportError, AttributeError):
            pass
    env = os.environ if environ is None else environ
    value = env.get(ONEDNN_ENV, "").strip().lower()
    if value:
        return value not in ("0", "false", "off", "no"), f"{ONEDNN_ENV}={env[ONEDNN_ENV]}"
    if tf_version is None:
        from .compat import tf

        tf_version = tf.__version__
    if machine is None:
        import platform

        machine = platform.machine()
    try:
        major, minor = (int(p) for p in tf_version.split(".")[:2])
    except ValueError:
        return None, f"unknown (TensorFlow {tf_version})"
    if machine.lower() in ("x86_64", "amd64") and (major, minor) >= (2, 9):
        return True, f"default of TensorFlow >= 2.9 on x86-64 ({ONEDNN_ENV} unset)"
    return None, f"unknown ({ONEDNN_ENV} unset, TensorFlow {tf_version} on {machine})"


BLAS_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Thread-count getters of the BLAS libraries numpy ships with or links; wheels rename the symbols with a
# prefix and an ILP64 suffix (numpy 2's scipy-openblas: scipy_openblas_get_num_threads64_).
_THREAD_GETTERS = ("openblas_get_num_threads", "mkl_get_max_threads", "MKL_Get_Max_Threads",
                   "bli_thread_get_num_threads")
_BLAS_LIBRARY_WORDS = ("openblas", "mkl_rt", "libmkl", "blis", "flexiblas")


def _symbol_names(base: str) -> list[str]:
    return [f"{prefix}{base}{suffix}" for prefix in ("", "scipy_") for suffix in ("", "64_", "_64")]


def loaded_blas_libraries(maps: str | Path = "/proc/self/maps") -> list[str]:
    """Paths of BLAS libraries mapped into this process (Linux); [] where /proc is absent."""
    try:
        text = Path(maps).read_text()
    except (OSError, UnicodeDecodeError):
        return []
    paths = dict.fromkeys(parts[5] for parts in (line.split(None, 5) for line in text.splitlines())
                          if len(parts) == 6 and parts[5].startswith("/"))
    return [p for p in paths if any(w in Path(p).name.lower() for w in _BLAS_LIBRARY_WORDS)
            and "cublas" not in Path(p).name.lower()]


def _blas_runtime() -> dict[str, Any]:
    """The thread count (and OpenBLAS's core kernel) that numpy's loaded BLAS library reports, through ctypes."""
    import ctypes

    for path in loaded_blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        out: dict[str, Any] = {}
        for name in _symbol_names("openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                out["corename"] = (fn() or b"").decode(errors="replace") or None
                break
        for name in (n for base in _THREAD_GETTERS for n in _symbol_names(base)):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return {**out, "threads": int(fn()), "threads_from": f"{name}() of {Path(path).name}"}
    return {"threads": None, "threads_from": "not reachable (no BLAS library with a known thread-count getter "
                                              "mapped in /proc/self/maps)"}


def _blas_build() -> dict[str, Any]:
    """numpy's BLAS as numpy was built with it: numpy.show_config(mode="dicts") (numpy >= 1.26), else the
    blas_*_info dicts of numpy.__config__ (older numpy)."""
    import numpy as np

    try:
        blas = (np.show_config(mode="dicts") or {}).get("Build Dependencies", {}).get("blas") or {}
        return {"name": blas.get("name"), "version": blas.get("version"),
                "configuration": blas.get("openblas configuration"), "from": 'numpy.show_config(mode="dicts")'}
    except (TypeError, ValueError, AttributeError):  # numpy < 1.26: show_config() takes no mode
        pass
    config = getattr(np, "__config__", None)
    for key in ("blas_ilp64_opt_info", "blas_opt_info", "blas_mkl_info", "openblas_info"):
        info = getattr(config, key, None)
        if isinstance(info, dict) and info:
            return {"name": ",".join(dict.fromkeys(info.get("libraries") or [])) or key, "version": None,
                    "configuration": None, "from": f"numpy.__config__.{key}"}
    return {"name": None, "version": None, "configuration": None, "from": "not stated by numpy"}


def numpy_blas() -> dict[str, Any]:
    """numpy's version and BLAS (name, version, build configuration, OpenBLAS's core kernel), the threads the
    loaded library says it uses (None where no known getter is reachable) and the *_NUM_THREADS variables."""
    import numpy as np

    info = {"numpy": np.__version__, **_blas_build(), **_blas_runtime()}
    info["env"] = {k: os.environ[k] for k in BLAS_THREAD_ENV if k in os.environ}
    return info


def describe_blas(info: Mapping[str, Any]) -> str:
    """`scipy-openblas 0.3.31.188.0, Haswell kernels, 2 threads` from `numpy_blas()` (or what a JSON kept of it)."""
    parts = [" ".join(str(info[k]) for k in ("name", "version") if info.get(k)) or "BLAS not stated"]
    if info.get("corename"):
        parts.append(f"{info['corename']} kernels")
    parts.append(f"{info['threads']} threads" if info.get("threads") else "threads not known")
    return ", ".join(parts)


def machine_facts() -> dict[str, Any]:
    """TF/Keras versions, CPU model and ISA flags, the thread settings that decide CPU throughput, whether
    oneDNN is on, and numpy's BLAS."""
    from .compat import BACKEND, accelerator, tensorflow_only, versions
    from .parallel import available_cores, cpu_model

    cpu, affinity = cpu_model(), available_cores()
    v = versions()
    threads: dict[str, Any] = {}
    if BACKEND == "tensorflow":
        tf = tensorflow_only("TensorFlow's thread settings")
        threads = {"tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),  # 0: TF picks
                   "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}
        onednn, onednn_from = onednn_state()
    else:
        onednn, onednn_from = None, f"not TensorFlow: Keras runs on {BACKEND}"
    blas = numpy_blas()
    return {
        "tensorflow": v["tensorflow"],
        "keras": v["keras"],
        "backend": v["backend"],
        "backend_version": v["backend_version"],
        "accelerator": accelerator(),  # the GPU's name where the backend trains on one; None on a CPU
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        **threads,
        **{k.lower(): os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                                      "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS",
                                                      "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "cpu_isa_flags": cpu_isa_flags(),  # of ISA_FLAGS, those /proc/cpuinfo lists; None without it
        "onednn": onednn, "onednn_from": onednn_from,  # whether TF runs its oneDNN ops, and how that was found
        "numpy": blas["numpy"], "numpy_blas": describe_blas(blas),
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

# machine_info facts that change what the calibrations and benchmarks measure; the gate names those that differ
MACHINE_KEYS = ("cpu_model", "cpu_affinity", "cpu_isa_flags", "onednn", "numpy_blas", "tensorflow", "keras", "numpy",
                "tf_intra_op_threads", "tf_inter_op_threads", "omp_num_threads", "openblas_num_threads",
                "mkl_num_threads", "tf_enable_onednn_opts")


@dataclass(frozen=True)
class BenchRun:
    """One pytest-benchmark JSON reduced to what the gate needs."""

    path: str
    calibration_gflops: float | None  # TensorFlow's matmul, fastest round; None where the file has none
    samples: Mapping[str, float]  # benchmark fullname -> samples per round
    seconds: Mapping[str, Mapping[str, float]]  # fullname -> {stat: seconds per round}
    # fullname -> {peak_rss_mb, rss_growth_mb} where its extra_info has them (any benchmark, timed or not)
    memory: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    session_memory: Mapping[str, float] = field(default_factory=dict)  # the JSON's SESSION_MEMORY object
    numpy_gflops: float | None = None  # numpy's (BLAS) matmul, fastest round; None in files written before it
    numpy_blas: str = ""  # which BLAS with how many threads, as the numpy calibration recorded it
    machine: Mapping[str, Any] = field(default_factory=dict)  # the MACHINE_KEYS its machine_info holds

    def divisor(self, basis: str) -> float | None:
        """What throughput is divided by on `basis` (a key of BASES); None where this run lacks that calibration."""
        return {"machine": self.numpy_gflops, "tf": self.calibration_gflops, "raw": 1.0}[basis]

    def throughput(self, name: str, stat: str) -> float:
        """Samples/s of benchmark `name` in its `stat` round."""
        return self.samples[name] / self.seconds[name][stat]

    def normalised(self, name: str, stat: str, basis: str = DEFAULT_BASIS) -> float:
        """Samples/s per calibration GFLOP/s (numpy's for `machine`, TensorFlow's for `tf`; samples/s for `raw`):
        throughput in units of this machine's speed."""
        divisor = self.divisor(basis)
        if divisor is None:
            raise BenchGateError(f"{self.path} has no calibration for the {BASES[basis]} ratio")
        return self.throughput(name, stat) / divisor


def _bad(path, argument: str, problem: str) -> BenchGateError:
    return BenchGateError(invalid(argument, str(path), f"a pytest-benchmark JSON file {problem}",
                                  f"Write one with `{HOW_TO_RUN}`."))


def _gflops(value) -> float | None:
    return float(value) if _number(value) and value > 0 else None


def _blas_description(info: Mapping[str, Any]) -> str:
    if isinstance(info.get("blas_description"), str):
        return info["blas_description"]
    blas = info.get("blas") if isinstance(info.get("blas"), dict) else {}
    return describe_blas({**blas, "threads": info.get("threads")})


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
    calibration, numpy_gflops, blas, samples, seconds, memory = None, None, "", {}, {}, {}
    for b in benches:
        if not isinstance(b, dict):
            raise _bad(path, argument, "whose `benchmarks` entries are objects")
        info, stats, name = b.get("extra_info") or {}, b.get("stats") or {}, b.get("fullname") or b.get("name")
        figures = {k: float(info[k]) for k in MEMORY_KEYS if _number(info.get(k))}
        if name and figures:
            memory[name] = figures
        if info.get("calibration") == CALIBRATION:
            calibration = _gflops(info.get("peak_gflops"))
        elif info.get("calibration") == NUMPY_CALIBRATION:
            numpy_gflops, blas = _gflops(info.get("peak_gflops")), _blas_description(info)
        elif name and isinstance(info.get("samples"), (int, float)) and info["samples"] > 0:
            times = {s: stats.get(s) for s in STATS}
            if all(isinstance(t, (int, float)) and t > 0 for t in times.values()):
                samples[name], seconds[name] = float(info["samples"]), times
    if calibration is None and numpy_gflops is None:
        raise _bad(path, argument, f"holding a calibration benchmark (extra_info calibration={NUMPY_CALIBRATION!r} "
                   f"or calibration={CALIBRATION!r}, with a positive peak_gflops); keep "
                   "benchmarks/test_calibration.py selected")
    if not samples:
        raise _bad(path, argument, "holding throughput benchmarks (extra_info `samples` and timing stats)")
    session = data.get(SESSION_MEMORY)
    session = {k: float(v) for k, v in session.items() if _number(v)} if isinstance(session, dict) else {}
    machine_info = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    machine = {k: machine_info[k] for k in MACHINE_KEYS if k in machine_info}
    return BenchRun(str(path), calibration, samples, seconds, memory, session, numpy_gflops, blas, machine)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def group_of(name: str) -> str:
    """The test function a benchmark belongs to: its name without the parameters."""
    return name.split("[", 1)[0]


@dataclass(frozen=True)
class GateRow:
    name: str
    baseline: float  # samples/s in the stat round
    current: float
    slowdowns: Mapping[str, float]  # basis -> extra time per sample on it (0.25: 25% slower), for each basis both have
    basis: str  # the one gated on
    failed: bool

    @property
    def slowdown(self) -> float:
        """Extra time per sample on the gated basis (machine-normalised unless a run lacks its calibration)."""
        return self.slowdowns[self.basis]


@dataclass(frozen=True)
class GateGroup:
    name: str
    size: int
    slowdowns: Mapping[str, float]  # basis -> geometric mean over the group's benchmarks
    basis: str
    failed: bool

    @property
    def slowdown(self) -> float:
        return self.slowdowns[self.basis]


@dataclass(frozen=True)
class GateResult:
    rows: tuple[GateRow, ...]
    groups: tuple[GateGroup, ...]
    skipped: tuple[str, ...]  # in only one run, or with different work per round
    threshold: float
    bench_threshold: float
    stat: str
    basis: str = DEFAULT_BASIS  # gated on
    notes: tuple[str, ...] = ()  # why the basis is not the one asked for

    @property
    def bases(self) -> tuple[str, ...]:
        """Every basis both runs allow (the gated one among them), in BASES' order."""
        return tuple(b for b in BASES if b in self.rows[0].slowdowns)

    @property
    def passed(self) -> bool:
        return self.passes(self.basis)

    def passes(self, basis: str) -> bool:
        """Whether the gate would pass on `basis`, at the same thresholds."""
        return (all(g.slowdowns[basis] <= self.threshold for g in self.groups)
                and all(r.slowdowns[basis] <= self.bench_threshold for r in self.rows))


def _check_threshold(argument: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 10:
        raise BenchGateError(invalid(argument, value, "a fraction between 0 and 10, e.g. 0.15 for 15% slower"))
    return float(value)


CALIBRATION_OF = {"machine": f"the numpy matmul calibration (calibration={NUMPY_CALIBRATION!r})",
                  "tf": f"the TensorFlow matmul calibration (calibration={CALIBRATION!r})"}


def choose_basis(baseline: BenchRun, current: BenchRun, basis: str = DEFAULT_BASIS) -> tuple[str, tuple[str, ...]]:
    """The basis to gate on, and a note where it is not `basis`: a machine-normalised gate falls back to the
    TF-normalised ratio when a run lacks the numpy calibration (a file written before it existed)."""
    if basis not in BASES:
        raise BenchGateError(invalid("basis", basis, f"one of {', '.join(BASES)}"))
    if baseline.divisor(basis) is not None and current.divisor(basis) is not None:
        return basis, ()
    lacking = [r.path for r in (baseline, current) if r.divisor(basis) is None]
    which = f"{' and '.join(lacking)} {'lacks' if len(lacking) == 1 else 'lack'} {CALIBRATION_OF[basis]}"
    if basis == "machine" and baseline.divisor("tf") is not None and current.divisor("tf") is not None:
        return "tf", (f"note: {which} (written before it existed?): gating on the TF-normalised ratio instead, "
                      "which cannot see a slowdown of TensorFlow's own matmul (oneDNN off, a slower kernel). Re-run "
                      "both with benchmarks/test_calibration.py selected to gate machine-normalised.",)
    raise BenchGateError(f"{which}, so the {BASES[basis]} ratio cannot be computed and there is no other "
                         f"calibration both runs carry. Expected both runs with benchmarks/test_calibration.py "
                         f"selected. Re-run `{HOW_TO_RUN}`, or gate with --basis raw (no normalisation).")


def compare(baseline: BenchRun, current: BenchRun, threshold: float = DEFAULT_THRESHOLD,
            bench_threshold: float = DEFAULT_BENCH_THRESHOLD, stat: str = DEFAULT_STAT,
            basis: str = DEFAULT_BASIS) -> GateResult:
    """Fail when a test function's geometric-mean slowdown exceeds `threshold`, or one benchmark's `bench_threshold`.

    Averaging within a test function (all variants of `test_train_throughput`, say) cancels much of the
    noise while a slowdown confined to one kind of work (training steps, say) is not diluted by the rest.
    Each slowdown is computed raw, machine-normalised and TF-normalised (where both runs carry the
    calibration); the gate decides on `basis` (machine-normalised; TF-normalised for a run without the
    numpy calibration, with a note).
    """
    threshold = _check_threshold("threshold", threshold)
    bench_threshold = _check_threshold("bench_threshold", bench_threshold)
    if stat not in STATS:
        raise BenchGateError(invalid("stat", stat, f"one of {', '.join(STATS)}"))
    basis, notes = choose_basis(baseline, current, basis)
    bases = [b for b in BASES if baseline.divisor(b) is not None and current.divisor(b) is not None]
    rows, skipped = [], []
    for name in sorted(set(baseline.samples) | set(current.samples)):
        if name not in baseline.samples or name not in current.samples:
            skipped.append(f"{name} (only in {'current' if name in current.samples else 'baseline'})")
        elif baseline.samples[name] != current.samples[name]:
            skipped.append(f"{name} (work per round differs: {baseline.samples[name]:g} vs "
                           f"{current.samples[name]:g} samples)")
        else:
            slowdowns = {b: baseline.normalised(name, stat, b) / current.normalised(name, stat, b) - 1 for b in bases}
            rows.append(GateRow(name, baseline.throughput(name, stat), current.throughput(name, stat), slowdowns,
                                basis, slowdowns[basis] > bench_threshold))
    if not rows:
        raise BenchGateError(f"{baseline.path} and {current.path} have no benchmark in common with the same work "
                             f"per round, so nothing can be compared. Expected two runs of the same benchmarks "
                             f"and tier. Re-run `{HOW_TO_RUN}` with the baseline's options.")
    groups = []
    for g in dict.fromkeys(group_of(r.name) for r in rows):
        members = [r for r in rows if group_of(r.name) == g]
        slowdowns = {b: statistics.geometric_mean(1 + r.slowdowns[b] for r in members) - 1 for b in bases}
        groups.append(GateGroup(g, len(members), slowdowns, basis, slowdowns[basis] > threshold))
    return GateResult(tuple(rows), tuple(groups), tuple(skipped), threshold, bench_threshold, stat, basis, notes)


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


SHORT = {"raw": "raw", "machine": "machine", "tf": "TF"}  # column heads


def _pct(value: float, width: int | str = "") -> str:
    """`+25.0%`; a change that rounds to zero is `+0.0%`, never `-0.0%`."""
    return format(round(value, 3) + 0.0, f"+{width}.1%")


def _change(b: float | None, c: float | None) -> str:
    return f"({_pct(c / b - 1)})" if b and c else ""


def _fact(value) -> str:
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, bool):
        return "on" if value else "off"
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _both(b, c) -> str:
    """`b` where the runs agree, else `b > c`."""
    return _fact(b) if b == c else f"{_fact(b)} > {_fact(c)}"


def calibration_lines(baseline: BenchRun, current: BenchRun) -> list[str]:
    """Both calibrations of both runs, TensorFlow's matmul relative to numpy's, and the machine facts that differ."""
    onednn = [r.machine.get("onednn") for r in (baseline, current)]
    rows = [("numpy (machine-normalised divides by it)", baseline.numpy_gflops, current.numpy_gflops,
             _both(baseline.numpy_blas, current.numpy_blas)),
            ("TensorFlow (TF-normalised divides by it)", baseline.calibration_gflops, current.calibration_gflops,
             f"oneDNN {_both(*onednn)}" if any(o is not None for o in onednn) else "")]
    if all(r.numpy_gflops and r.calibration_gflops for r in (baseline, current)):
        rows.append(("TensorFlow / numpy", baseline.calibration_gflops / baseline.numpy_gflops,
                     current.calibration_gflops / current.numpy_gflops, "the TF-normalised ratio's departure"))
    lines = ["calibration: float32 matmul peak (fastest round), GFLOP/s baseline > current"]
    for label, b, c, about in rows:
        fmt = ".2f" if label.startswith("TensorFlow /") else ".1f"
        lines.append(f"  {label:<41} {_mb(b, fmt):>7} > {_mb(c, fmt):>7} {_change(b, c):>9}  {about}".rstrip())
    differ = [k for k in MACHINE_KEYS if k in baseline.machine and k in current.machine
              and baseline.machine[k] != current.machine[k]]
    lines += [f"machine_info differs: {k}: {_both(baseline.machine[k], current.machine[k])}" for k in differ]
    return lines


def format_result(result: GateResult, baseline: BenchRun, current: BenchRun) -> list[str]:
    width = max(len(r.name) for r in result.rows)
    with_memory = any(r.name in baseline.memory and r.name in current.memory for r in result.rows)
    bases, gated = result.bases, BASES[result.basis]
    heads = "  ".join(f"{SHORT[b] + ('*' if b == result.basis else ''):>8}" for b in bases)
    lines = calibration_lines(baseline, current) + list(result.notes)
    lines.append(f"{'benchmark':<{width}}  {'base /s':>10}  {'current /s':>10}  {heads}"
                 f"{MEMORY_HEADER if with_memory else ''}   (samples/s, {result.stat} round; slower: "
                 f"{', '.join(BASES[b] for b in bases)}; * gated)")
    for r in sorted(result.rows, key=lambda r: -r.slowdown):
        flag = f"  FAIL ({gated} > {result.bench_threshold:.0%})" if r.failed else ""
        mem = memory_columns(baseline.memory.get(r.name), current.memory.get(r.name))
        ratios = "  ".join(_pct(r.slowdowns[b], 8) for b in bases)
        lines.append(f"{r.name:<{width}}  {r.baseline:10.1f}  {r.current:10.1f}  {ratios}{mem}{flag}")
    lines += [f"not compared: {s}" for s in result.skipped]
    lines += memory_lines(baseline, current, {r.name for r in result.rows})
    for g in result.groups:
        flag = f"  FAIL ({gated} > {result.threshold:.0%})" if g.failed else ""
        ratios = ", ".join(f"{BASES[b]} {_pct(g.slowdowns[b])}" for b in bases)
        lines.append(f"geometric mean of {g.size:>2} in {g.name}: {ratios}{flag}")
    lines.append("verdict on each ratio: " + ", ".join(
        f"{BASES[b]} {'PASS' if result.passes(b) else 'FAIL'}{' (gated)' if b == result.basis else ''}"
        for b in bases))
    worst = max(result.groups, key=lambda g: g.slowdown)
    others = ", ".join(f"{BASES[b]} {_pct(worst.slowdowns[b])}" for b in bases if b != result.basis)
    lines.append(f"bench-gate: {'PASS' if result.passed else 'FAIL'}: worst test function {worst.name} "
                 f"{_pct(worst.slowdown)} {gated} (threshold {result.threshold:.0%}{'; ' + others if others else ''}); "
                 f"{sum(r.failed for r in result.rows)} of {len(result.rows)} benchmarks beyond "
                 f"{result.bench_threshold:.0%}")
    return lines


def gate(baseline_path, current_path, threshold: float = DEFAULT_THRESHOLD,
         bench_threshold: float = DEFAULT_BENCH_THRESHOLD, stat: str = DEFAULT_STAT,
         basis: str = DEFAULT_BASIS) -> tuple[GateResult, list[str]]:
    baseline, current = load_run(baseline_path, "baseline"), load_run(current_path, "current")
    result = compare(baseline, current, threshold, bench_threshold, stat, basis)
    return result, format_result(result, baseline, current)
