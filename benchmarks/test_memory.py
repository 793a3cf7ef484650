"""The suite's peak memory: a slice of what the default test run trains in one process, in a fresh process.

The default `pytest` trains every variant (on each seed) in the pytest process itself, and Keras keeps about
4 MB per fit in a process (README: Memory). This benchmark trains every built-in variant once
(`--bench-smoke`: the largest model of each dataset) at the smoke tier on the synthetic data, one after the
other in a fresh child process (benchmarks/_suite_memory.py), which reports its own peak RSS (VmHWM; ru_maxrss
where there is no /proc) and its RSS after each fit; the test fails when the peak exceeds the bound. It
ignores --bench-variants (the bound is for this slice) and --data-dir (so the figure does not depend on it).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from overfit_core import VARIANTS

from .conftest import SUITE_MEMORY

CHILD = Path(__file__).with_name("_suite_memory.py")
TIER = "smoke"
SMOKE_SLICE = ("overfit", "bn", "tiny")  # --bench-smoke: the model with most parameters of each dataset
# The bound on the child's peak RSS, MB (2**20 bytes), and how it was chosen: the --bench-smoke slice (3 fits) peaked
# at MEASURED_MB on the development machine (2 cores, AMD EPYC, Linux, Python 3.11, TF 2.21.0 CPU, Keras 3.15.1;
# of it about 710 MB is TensorFlow imported, 25 MB the synthetic data, 75 MB the first fit), and the bound is
# 1.5 x that, rounded up to 50 MB. The full slice (17 fits) trains the same three datasets and no larger model, so
# it adds about 14 fits x 4-7 MB (README: Memory; 7 MB per fit in this slice), well inside the headroom. The
# headroom is for what should fail: a leak that grows with the fits, data held twice, a much larger model or
# dataset. Other machines (more cores: more threads and allocator arenas; another TF build) may need
# --bench-memory-limit-mb.
MEASURED_MB = 838
PEAK_RSS_LIMIT_MB = 1300  # 1.5 x 838 = 1257, rounded up
TIMEOUT_S = {True: 300, False: 1800}  # by bench.smoke


def train_slice(variants, tier: str = TIER, timeout: float = 1800) -> dict:
    """Run the child; its report (benchmarks/_suite_memory.py), or RuntimeError with its stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "memory.json"
        job = json.dumps({"variants": list(variants), "tier": tier, "out": str(out)})
        proc = subprocess.run([sys.executable, str(CHILD), job], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"the memory benchmark's child process exited with {proc.returncode}; its stderr:\n"
                               f"{proc.stderr[-4000:]}")
        return json.loads(out.read_text())


def summarise(report: dict, limit_mb: float) -> dict:
    """extra_info from the child's report: peak, growth per fit (after fit 1 to after the last), the bound."""
    fits = report["fits"]
    after = [f["rss_mb"] for f in fits]
    growth = after[-1] - after[0] if len(after) > 1 and None not in (after[0], after[-1]) else None
    peak = report["peak_rss_mb"]
    return {"kind": "memory", "tier": TIER, "data": "synthetic", "fits": len(fits),
            "variants": [f["variant"] for f in fits], "memory_of": "child process (fresh)",
            "peak_rss_mb": None if peak is None else round(peak, 1),
            "peak_rss_limit_mb": limit_mb, "peak_rss_of_limit": None if peak is None else round(peak / limit_mb, 3),
            "rss_start_mb": report["rss_start_mb"], "rss_after_import_mb": report["rss_after_import_mb"],
            "rss_after_data_mb": report["rss_after_data_mb"], "rss_after_fit_mb": after,
            "peak_rss_after_fit_mb": [f["peak_rss_mb"] for f in fits], "fit_seconds": [f["seconds"] for f in fits],
            "rss_growth_mb": None if growth is None else round(growth, 1),
            "rss_growth_per_fit_mb": None if growth is None else round(growth / (len(after) - 1), 2)}


def test_suite_peak_memory(benchmark, request, bench):
    variants = SMOKE_SLICE if bench.smoke else VARIANTS
    option = request.config.getoption("--bench-memory-limit-mb")
    limit = option or PEAK_RSS_LIMIT_MB
    report = {}
    benchmark.pedantic(lambda: report.update(train_slice(variants, timeout=TIMEOUT_S[bench.smoke])),
                       rounds=1, warmup_rounds=0)
    info = summarise(report, limit)
    info["limit_source"] = "--bench-memory-limit-mb" if option else "PEAK_RSS_LIMIT_MB in benchmarks/test_memory.py"
    benchmark.extra_info.update(info)
    request.config.stash[SUITE_MEMORY] = info
    if info["peak_rss_mb"] is None:
        pytest.skip("no ru_maxrss here (no `resource` module): the peak cannot be measured")
    assert info["peak_rss_mb"] <= limit, (
        f"the suite slice ({info['fits']} fits of {', '.join(info['variants'])} at tier {TIER}, one process) peaked "
        f"at {info['peak_rss_mb']:.0f} MB RSS, above the bound of {limit:.0f} MB ({info['limit_source']}); RSS after "
        f"each fit: {', '.join(f'{m:.0f}' for m in info['rss_after_fit_mb'] if m is not None)} MB. A leak per fit "
        f"shows as growth there. If this machine needs more (more cores, another TF build), pass "
        f"--bench-memory-limit-mb.")
