"""Not timed: --bench-inject-tf-slowdown reaches TensorFlow's matmul calibration and nothing else.

A child pytest runs benchmarks/test_calibration.py at the smoke tier with a 100% injection; its JSON must show
TensorFlow's calibration at most about half its own matmul's speed and numpy's untouched.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from overfit_core.bench import CALIBRATION, NUMPY_CALIBRATION

ROOT = Path(__file__).resolve().parent.parent


def test_tf_slowdown_option_reaches_the_tf_probe_only(tmp_path):
    out = tmp_path / "injected.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "benchmarks/test_calibration.py", "--bench-smoke", "-q",
                           "-p", "no:cacheprovider", "--bench-inject-tf-slowdown", "1.0", f"--benchmark-json={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = {b["extra_info"]["calibration"]: b["extra_info"] for b in json.loads(out.read_text())["benchmarks"]}
    tf, np_ = info[CALIBRATION], info[NUMPY_CALIBRATION]
    assert tf["injected_slowdown"] == 1.0
    # Each round sleeps as long as its matmul took: at most half the speed of the matmul alone.
    assert tf["peak_gflops"] <= tf["peak_gflops_without_injection"] / 1.9
    assert "injected_slowdown" not in np_ and np_["peak_gflops"] > 0
    assert "injected: TensorFlow's matmul calibration slowed by 100%" in proc.stdout
