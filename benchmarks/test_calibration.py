"""The machine's float32 matmul peak, measured first in every run; the gate divides throughput by it."""
from __future__ import annotations

from overfit_core.bench import CALIBRATION, MatmulProbe

from .conftest import timing


def test_matmul_peak(benchmark, calibration, bench):
    probe = MatmulProbe()
    benchmark.pedantic(probe, rounds=2 * bench.rounds, warmup_rounds=1)
    stats = timing(benchmark)
    benchmark.extra_info.update(calibration=CALIBRATION, n=probe.n, flops_per_round=probe.flops,
                                formula="2 n^3 per n x n float32 matmul; peak from the fastest round")
    if stats is not None:
        calibration.peak_gflops = probe.flops / stats.min / 1e9
        benchmark.extra_info["peak_gflops"] = calibration.peak_gflops
