"""The machine's matmul peak, measured first in every run, twice: numpy's float32 (its BLAS, outside the
framework: what the gate divides throughput by) and the Keras backend's on its device (TensorFlow, JAX or
PyTorch; CPU or GPU: the system under test, for the TF-normalised ratio and each benchmark's share of peak)."""
from __future__ import annotations

from overfit_core.bench import (CALIBRATION, NUMPY_CALIBRATION, NumpyMatmulProbe, describe_blas, numpy_blas,
                                onednn_state)

from overfit_core.compat import accelerator

from .conftest import timing

FORMULA = "2 n^3 per n x n matmul (float32, or --bench-precision's compute dtype); peak from the fastest round"


def test_matmul_peak(benchmark, calibration, bench):
    probe = calibration.tf_probe()
    benchmark.pedantic(probe, rounds=2 * bench.rounds, warmup_rounds=1)
    stats = timing(benchmark)
    onednn, onednn_from = onednn_state() if probe.backend == "tensorflow" else (None, f"backend {probe.backend}")
    benchmark.extra_info.update(calibration=CALIBRATION, n=probe.n, flops_per_round=probe.flops, formula=FORMULA,
                                onednn=onednn, onednn_from=onednn_from, injected_slowdown=probe.slowdown,
                                backend=probe.backend, dtype=probe.dtype, accelerator=accelerator())
    if stats is not None:
        calibration.peak_gflops = probe.flops / stats.min / 1e9
        benchmark.extra_info.update(peak_gflops=calibration.peak_gflops, median_gflops=probe.flops / stats.median / 1e9)
        if probe.slowdown:  # the matmul itself, without the sleeps: what the injection hid
            benchmark.extra_info["peak_gflops_without_injection"] = probe.flops / min(probe.work_seconds[1:]) / 1e9


def test_numpy_matmul_peak(benchmark, calibration, bench):
    probe = NumpyMatmulProbe()
    benchmark.pedantic(probe, rounds=2 * bench.rounds, warmup_rounds=1)
    stats = timing(benchmark)
    blas = numpy_blas()
    benchmark.extra_info.update(
        calibration=NUMPY_CALIBRATION, n=probe.n, flops_per_round=probe.flops,
        formula=FORMULA + " (numpy.matmul: its BLAS's sgemm, outside TensorFlow)", numpy=blas["numpy"],
        blas={k: blas.get(k) for k in ("name", "version", "configuration", "corename", "from")},
        threads=blas["threads"], threads_from=blas["threads_from"], threads_env=blas["env"],
        blas_description=describe_blas(blas))
    calibration.numpy_blas = describe_blas(blas)
    if stats is not None:
        calibration.numpy_gflops = probe.flops / stats.min / 1e9
        benchmark.extra_info.update(peak_gflops=calibration.numpy_gflops, median_gflops=probe.flops / stats.median / 1e9)
