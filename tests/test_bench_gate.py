"""The benchmark regression gate on synthetic pytest-benchmark JSON (no training, no TensorFlow)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from overfit_core import FAST
from overfit_core.bench import (CALIBRATION, BenchGateError, compare, fixed_steps, gate, load_run, steps_for,
                                train_flops_per_sample)
from overfit_core.cli import main
from overfit_core.errors import ConfigError

NAMES = [f"benchmarks/test_variants.py::test_train_throughput[{v}]" for v in ("overfit", "adam", "tiny", "bn")]
PREDICT = [n.replace("test_train_throughput", "test_predict_throughput") for n in NAMES]


def worst(result) -> float:
    return max(g.slowdown for g in result.groups)


def bench_json(path, *, slowdown=1.0, peak=300.0, only=None, samples=4096, calibration=True, names=NAMES):
    """A pytest-benchmark-shaped file: each round takes `slowdown` times longer on a machine with `peak`."""
    speed = peak / 300.0
    benches = [{"name": "test_matmul_peak", "fullname": "benchmarks/test_calibration.py::test_matmul_peak",
                "stats": {"min": 0.06, "median": 0.07, "mean": 0.07},
                "extra_info": {"calibration": CALIBRATION, "peak_gflops": peak}}] if calibration else []
    for i, name in enumerate(names):
        factor = slowdown if only is None or name in only else 1.0
        t = (0.2 + 0.1 * i) * factor / speed
        benches.append({"name": name.split("::")[1], "fullname": name,
                        "stats": {"min": 0.9 * t, "median": t, "mean": 1.05 * t},
                        "extra_info": {"samples": samples, "kind": "train"}})
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": benches}))
    return path


def test_unchanged_run_passes(tmp_path):
    result, lines = gate(bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json"))
    assert result.passed and worst(result) == pytest.approx(0.0) and "PASS" in lines[-1]


def test_a_25_percent_slowdown_fails(tmp_path):
    result, lines = gate(bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", slowdown=1.25))
    assert not result.passed and worst(result) == pytest.approx(0.25)
    assert "FAIL" in lines[-1] and "+25.0%" in lines[-1]


def test_a_slowdown_in_one_test_function_is_not_diluted_by_the_others(tmp_path):
    a = bench_json(tmp_path / "a.json", names=NAMES + PREDICT)
    result, lines = gate(a, bench_json(tmp_path / "b.json", names=NAMES + PREDICT, slowdown=1.25, only=NAMES))
    assert not result.passed
    assert {g.name.split("::")[1]: g.failed for g in result.groups} == {"test_train_throughput": True,
                                                                       "test_predict_throughput": False}
    assert any("test_train_throughput" in line and "FAIL" in line for line in lines)


def test_a_faster_machine_or_a_busier_one_is_normalised_away(tmp_path):
    base = bench_json(tmp_path / "a.json")
    for peak in (150.0, 600.0):  # half and twice the speed, in the calibration and the benchmarks alike
        result, _ = gate(base, bench_json(tmp_path / f"{peak}.json", peak=peak))
        assert result.passed and worst(result) == pytest.approx(0.0)
    # The same slowdown on a twice-as-fast machine is still caught.
    result, _ = gate(base, bench_json(tmp_path / "fast_slow.json", peak=600.0, slowdown=1.25))
    assert not result.passed and worst(result) == pytest.approx(0.25)


def test_one_benchmark_far_slower_fails_alone(tmp_path):
    result, lines = gate(bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", slowdown=1.6,
                                                                       only=[NAMES[1]]))
    assert not result.passed and worst(result) < result.threshold
    assert [r.name for r in result.rows if r.failed] == [NAMES[1]]
    assert any(NAMES[1] in line and "FAIL" in line for line in lines)


def test_speedups_pass_and_thresholds_and_stat_are_honoured(tmp_path):
    a, b = bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", slowdown=1.1)
    assert gate(a, bench_json(tmp_path / "fast.json", slowdown=0.5))[0].passed
    assert gate(a, b)[0].passed
    assert not gate(a, b, threshold=0.05)[0].passed
    assert not gate(a, b, bench_threshold=0.05)[0].passed
    assert worst(gate(a, b, stat="min")[0]) == pytest.approx(0.1)


def test_benchmarks_in_one_run_only_or_with_other_work_are_listed_not_compared(tmp_path):
    base = bench_json(tmp_path / "a.json")
    result, lines = gate(base, bench_json(tmp_path / "b.json", names=NAMES[:2] + ["x::test_new[tiny]"]))
    assert len(result.rows) == 2 and result.passed
    assert any("x::test_new[tiny] (only in current)" in line for line in lines)
    with pytest.raises(BenchGateError, match="no benchmark in common") as info:
        gate(base, bench_json(tmp_path / "smoke.json", samples=64))
    assert "a.json" in str(info.value) and "smoke.json" in str(info.value)


def test_missing_file_names_it_and_says_how_to_make_one(tmp_path):
    with pytest.raises(BenchGateError) as info:
        load_run(tmp_path / "nope.json", "baseline")
    msg = str(info.value)
    assert msg.startswith("Invalid value received for `baseline`. Expected a pytest-benchmark JSON file")
    assert "nope.json" in msg and "--benchmark-json=PATH" in msg


@pytest.mark.parametrize("content,expected", [
    ("{not json", "not readable JSON"),
    ('{"benchmarks": []}', "non-empty `benchmarks` list"),
    ("[1, 2]", "non-empty `benchmarks` list"),
])
def test_unreadable_or_empty_json_is_rejected(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BenchGateError, match=expected) as info:
        load_run(path, "current")
    assert "Received: current=" in str(info.value) and "bad.json" in str(info.value)


def test_json_without_calibration_is_rejected(tmp_path):
    path = bench_json(tmp_path / "nocal.json", calibration=False)
    with pytest.raises(BenchGateError) as info:
        load_run(path)
    msg = str(info.value)
    assert "nocal.json" in msg and f"calibration={CALIBRATION!r}" in msg and "test_calibration.py" in msg


@pytest.mark.parametrize("bad", [0, -0.1, 10, True, "0.2"])
def test_bad_threshold_is_rejected(tmp_path, bad):
    run = load_run(bench_json(tmp_path / "a.json"))
    with pytest.raises(BenchGateError, match="Received: threshold="):
        compare(run, run, threshold=bad)


def test_cli_exit_codes(tmp_path, capsys):
    a, b = bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", slowdown=1.25)
    assert main(["bench-gate", str(a), str(a)]) == 0
    assert main(["bench-gate", str(a), str(b)]) == 1
    assert "bench-gate: FAIL" in capsys.readouterr().out
    assert main(["bench-gate", str(a), str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Expected a pytest-benchmark JSON file" in err and "Write one with" in err
    assert main(["bench-gate", str(bench_json(tmp_path / "nocal.json", calibration=False)), str(a)]) == 2
    assert "calibration" in capsys.readouterr().err


def test_flop_formula_matches_the_issue_anchor():
    # 1024-512-512-512-1 on 100 inputs: 1,154,049 parameters, about 6.9 MFLOP per sample forward+backward.
    params = sum((i + 1) * o for i, o in zip((100, 1024, 512, 512, 512), (1024, 512, 512, 512, 1)))
    assert params == 1_154_049 and train_flops_per_sample(params) == 6_924_294


def test_fixed_steps_repeats_rows_to_whole_batches():
    assert steps_for(500, 4096) == 8 and steps_for(32, 4096) == 128 and steps_for(4096, 64) == 1
    x, y = np.arange(10).reshape(5, 2), np.arange(5)
    xs, ys = fixed_steps(x, y, batch_size=4, steps=3)
    assert xs.shape == (12, 2) and list(ys) == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


def test_speed_options_in_the_config():
    assert FAST.compile_kwargs()["steps_per_execution"] == FAST.steps_per_execution
    assert dataclasses.replace(FAST, jit_compile=True).compile_kwargs()["jit_compile"] is True
    for field, bad in (("steps_per_execution", 0), ("steps_per_execution", True), ("jit_compile", "yes")):
        with pytest.raises(ConfigError, match=f"Received: {field}="):
            dataclasses.replace(FAST, **{field: bad})


def test_injected_slowdown_sleeps_its_share_of_each_round():
    import time

    from benchmarks.conftest import _fraction, _slowed

    def work():
        time.sleep(0.05)
        return "result"

    start = time.perf_counter()
    assert _slowed(work, 1.0)() == "result"
    assert time.perf_counter() - start >= 0.1  # the round itself, then as long again
    assert _fraction("0.25") == 0.25
    for bad in ("-0.1", "x", "10"):
        with pytest.raises(Exception, match="--bench-inject-slowdown.*0.25 for 25% slower"):
            _fraction(bad)
