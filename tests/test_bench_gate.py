"""The benchmark regression gate on synthetic pytest-benchmark JSON (no training, no TensorFlow)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from overfit_core import FAST
from overfit_core.bench import (CALIBRATION, NUMPY_CALIBRATION, SESSION_MEMORY, BenchGateError, compare,
                                cpu_isa_flags, describe_blas, fixed_steps, gate, load_run, loaded_blas_libraries,
                                maxrss_mb, memory_info, memory_sample, numpy_blas, onednn_state, peak_rss_mb, rss_mb,
                                rusage_peak_mb, steps_for, train_flops_per_sample)
from overfit_core.cli import main
from overfit_core.errors import ConfigError

NAMES = [f"benchmarks/test_variants.py::test_train_throughput[{v}]" for v in ("overfit", "adam", "tiny", "bn")]
PREDICT = [n.replace("test_train_throughput", "test_predict_throughput") for n in NAMES]


def worst(result) -> float:
    return max(g.slowdown for g in result.groups)


def bench_json(path, *, slowdown=1.0, peak=300.0, only=None, samples=4096, calibration=True, names=NAMES,
               memory=None, extra=(), session=None, numpy=True, tf=True, tf_slowdown=1.0, numpy_slowdown=1.0,
               machine=None):
    """A pytest-benchmark-shaped file: each round takes `slowdown` times longer on a machine with `peak`.

    Both calibrations scale with `peak` (TensorFlow's matmul is `peak`, numpy's a third of it, as here):
    `tf_slowdown` makes TensorFlow's matmul alone that many times slower, `numpy_slowdown` numpy's; `numpy=False`
    leaves the numpy calibration out (a file written before it existed), `tf=False` TensorFlow's,
    `calibration=False` both.
    `memory` (peak RSS MB) adds memory figures to every benchmark's extra_info; `extra` appends raw
    benchmark entries; `session` is the top-level session memory object; `machine` the machine_info."""
    speed = peak / 300.0
    benches = []
    if calibration and tf:
        benches.append({"name": "test_matmul_peak", "fullname": "benchmarks/test_calibration.py::test_matmul_peak",
                        "stats": {"min": 0.06, "median": 0.07, "mean": 0.07},
                        "extra_info": {"calibration": CALIBRATION, "peak_gflops": peak / tf_slowdown}})
    if calibration and numpy:
        benches.append({"name": "test_numpy_matmul_peak",
                        "fullname": "benchmarks/test_calibration.py::test_numpy_matmul_peak",
                        "stats": {"min": 0.17, "median": 0.19, "mean": 0.19},
                        "extra_info": {"calibration": NUMPY_CALIBRATION, "peak_gflops": peak / 3 / numpy_slowdown,
                                       "blas": {"name": "scipy-openblas", "version": "0.3.31", "corename": "Haswell"},
                                       "threads": 2}})
    for i, name in enumerate(names):
        factor = slowdown if only is None or name in only else 1.0
        t = (0.2 + 0.1 * i) * factor / speed
        benches.append({"name": name.split("::")[1], "fullname": name,
                        "stats": {"min": 0.9 * t, "median": t, "mean": 1.05 * t},
                        "extra_info": {"samples": samples, "kind": "train",
                                       **({} if memory is None else {"peak_rss_mb": memory + i,
                                                                     "rss_growth_mb": 0.5 * i})}})
    data = {"machine_info": machine or {}, "benchmarks": benches + list(extra)}
    if session is not None:
        data[SESSION_MEMORY] = session
    path.write_text(json.dumps(data))
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
    assert f"calibration={NUMPY_CALIBRATION!r}" in msg


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


# --- machine-normalised (numpy), TF-normalised and raw ratios ---------------------------------------

def test_all_three_ratios_are_computed_and_the_machine_normalised_one_is_gated(tmp_path):
    base = bench_json(tmp_path / "a.json")
    result, lines = gate(base, bench_json(tmp_path / "busy.json", peak=150.0))  # everything half as fast
    assert result.passed and result.basis == "machine" and result.bases == ("raw", "machine", "tf")
    group = result.groups[0]
    assert group.slowdowns["raw"] == pytest.approx(1.0)  # twice the time per sample, raw
    assert group.slowdowns["machine"] == pytest.approx(0.0) and group.slowdowns["tf"] == pytest.approx(0.0)
    head = next(line for line in lines if line.startswith("benchmark "))
    assert "raw" in head and "machine*" in head and "TF" in head and "* gated" in head
    assert any(line.startswith("  numpy") and "scipy-openblas 0.3.31, Haswell kernels, 2 threads" in line
               for line in lines)
    assert "verdict on each ratio: raw FAIL, machine-normalised PASS (gated), TF-normalised PASS" in lines


def test_a_slowdown_of_tensorflows_own_matmul_is_caught_machine_normalised_but_not_tf_normalised(tmp_path):
    """Issue 15, item 3: everything TensorFlow runs, its matmul included, 25% slower; numpy's BLAS unchanged
    (oneDNN switched off, a slower TF kernel). The TF-normalised ratio divides it away; the gate must not."""
    base = bench_json(tmp_path / "base.json", machine={"onednn": True})
    head = bench_json(tmp_path / "head.json", slowdown=1.25, tf_slowdown=1.25, machine={"onednn": False})
    result, lines = gate(base, head)
    assert result.basis == "machine" and not result.passed
    group = result.groups[0]
    assert group.failed and group.slowdowns["machine"] == pytest.approx(0.25)
    assert group.slowdowns["tf"] == pytest.approx(0.0) and group.slowdowns["tf"] <= result.threshold
    assert result.passes("tf") and not result.passes("raw")  # the TF-normalised ratio alone would have missed it
    assert "bench-gate: FAIL" in lines[-1] and "+25.0% machine-normalised" in lines[-1]
    assert "TF-normalised +0.0%" in lines[-1]
    assert "verdict on each ratio: raw FAIL, machine-normalised FAIL (gated), TF-normalised PASS" in lines
    tf_line = next(line for line in lines if line.startswith("  TensorFlow (TF"))
    assert "300.0 >   240.0  (-20.0%)" in tf_line and "oneDNN on > off" in tf_line
    assert any(line.startswith("  TensorFlow / numpy") and "(-20.0%)" in line for line in lines)
    assert "machine_info differs: onednn: on > off" in lines
    assert main(["bench-gate", str(base), str(head)]) == 1
    assert main(["bench-gate", str(base), str(head), "--basis", "tf"]) == 0  # what gating on TF would have done


def test_a_slower_numpy_blas_alone_is_no_regression(tmp_path):
    result, _ = gate(bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", numpy_slowdown=1.25))
    assert result.passed and result.groups[0].slowdowns["machine"] == pytest.approx(-0.2)


def test_files_without_the_numpy_calibration_fall_back_to_tf_normalised_with_a_note(tmp_path):
    old = bench_json(tmp_path / "old.json", numpy=False)
    for head in (bench_json(tmp_path / "new.json", slowdown=1.25), bench_json(tmp_path / "old2.json", numpy=False,
                                                                               slowdown=1.25)):
        result, lines = gate(old, head)
        assert result.basis == "tf" and result.bases == ("raw", "tf") and not result.passed
        assert worst(result) == pytest.approx(0.25)
        note = next(line for line in lines if line.startswith("note:"))
        assert "old.json" in note and f"calibration={NUMPY_CALIBRATION!r}" in note
        assert "gating on the TF-normalised ratio" in note and "test_calibration.py" in note
        assert "TF*" in next(line for line in lines if line.startswith("benchmark "))
    assert load_run(old).numpy_gflops is None


def test_runs_with_no_calibration_in_common_are_rejected_unless_gated_raw(tmp_path):
    tf_only, numpy_only = bench_json(tmp_path / "tf.json", numpy=False), bench_json(tmp_path / "np.json", tf=False)
    with pytest.raises(BenchGateError) as info:
        gate(tf_only, numpy_only)
    msg = str(info.value)
    assert "tf.json lacks the numpy matmul calibration" in msg and "--basis raw" in msg
    with pytest.raises(BenchGateError, match="np.json lacks the TensorFlow matmul calibration"):
        gate(tf_only, numpy_only, basis="tf")
    result, _ = gate(tf_only, numpy_only, basis="raw")
    assert result.passed and result.bases == ("raw",)
    with pytest.raises(BenchGateError, match="Received: basis='numpy'"):
        gate(tf_only, tf_only, basis="numpy")


CPUINFO_X86 = """processor\t: 0
model name\t: Some CPU
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16 amx_tile amx_bf16 amx_int8
processor\t: 1
flags\t\t: fpu
"""
CPUINFO_ARM = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_isa_flags_are_read_from_proc_cpuinfo(tmp_path):
    (tmp_path / "x86").write_text(CPUINFO_X86)
    (tmp_path / "arm").write_text(CPUINFO_ARM)
    assert cpu_isa_flags(tmp_path / "x86") == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16",
                                                "amx_tile", "amx_bf16", "amx_int8"]  # the first CPU's
    assert cpu_isa_flags(tmp_path / "arm") == ["asimd", "sve", "bf16", "i8mm"]
    assert cpu_isa_flags(tmp_path / "no_proc_here") is None


@pytest.mark.parametrize("env,version,machine,expected", [
    ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "2.21.0", "x86_64", False),
    ({"TF_ENABLE_ONEDNN_OPTS": "1"}, "2.8.0", "aarch64", True),
    ({}, "2.21.0", "x86_64", True),  # TensorFlow's default on x86-64 since 2.9
    ({}, "2.8.4", "x86_64", None),
    ({}, "2.21.0", "aarch64", None),
])
def test_onednn_state_without_asking_tensorflow(env, version, machine, expected):
    state, source = onednn_state(env, ask_tensorflow=False, tf_version=version, machine=machine)
    assert state is expected and source


def test_numpy_blas_names_the_library_and_its_threads():
    info = numpy_blas()
    assert info["numpy"] == np.__version__ and info["from"]
    assert info["threads"] is None or info["threads"] >= 1
    assert info["threads"] is not None or "not reachable" in info["threads_from"]
    assert describe_blas({"name": "openblas", "version": "0.3", "corename": "Zen", "threads": 4}) == \
        "openblas 0.3, Zen kernels, 4 threads"
    assert describe_blas({}) == "BLAS not stated, threads not known"


def test_loaded_blas_libraries_come_from_the_memory_map(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/libscipy_openblas64_-abc.so\n"
                    "7f01-7f02 r-xp 00000000 08:01 2 /usr/lib/libcublas.so.12\n"
                    "7f02-7f03 r-xp 00000000 08:01 3 /usr/lib/libscipy_openblas64_-abc.so\n"
                    "7f03-7f04 rw-p 00000000 00:00 0 \n")
    assert loaded_blas_libraries(maps) == ["/usr/lib/libscipy_openblas64_-abc.so"]
    assert loaded_blas_libraries(tmp_path / "no_proc_here") == []


def test_a_probe_with_an_injected_slowdown_sleeps_its_share_of_each_call():
    import time

    from overfit_core.bench import NumpyMatmulProbe

    probe = NumpyMatmulProbe(n=128, slowdown=1.0)
    start = time.perf_counter()
    probe()
    assert time.perf_counter() - start >= 2 * probe.work_seconds[-1] > 0  # the matmul, then as long again
    assert probe.flops == 2 * 128**3
    with pytest.raises(ValueError, match="Received: slowdown=-0.5"):
        NumpyMatmulProbe(n=8, slowdown=-0.5)


def test_the_tf_injection_option_parses_fractions():
    from benchmarks.conftest import _tf_fraction

    assert _tf_fraction("0.25") == 0.25
    with pytest.raises(Exception, match="--bench-inject-tf-slowdown.*0.25 for 25% slower"):
        _tf_fraction("-1")


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


# --- memory figures -------------------------------------------------------------------------

STATUS = """Name:\tpython
VmPeak:\t 2000000 kB
VmHWM:\t  921600 kB
VmRSS:\t  819200 kB
Threads:\t4
"""


def test_rss_and_peak_are_read_from_proc_status_in_mb(tmp_path):
    status = tmp_path / "status"
    status.write_text(STATUS)
    assert rss_mb(status) == 800.0 and peak_rss_mb(status) == 900.0  # kB / 1024: MB of 2**20 bytes


@pytest.mark.parametrize("content", ["Name:\tpython\n", "VmRSS:\t many kB\n", "VmRSS:\t 12 pages\n", ""])
def test_rss_is_none_without_proc_or_without_a_readable_line(tmp_path, content):
    status = tmp_path / "status"
    status.write_text(content)
    assert rss_mb(status) is None and rss_mb(tmp_path / "no_proc_here") is None


def test_peak_falls_back_to_ru_maxrss_without_proc(tmp_path):
    assert peak_rss_mb(tmp_path / "no_proc_here") == rusage_peak_mb("self")
    with pytest.raises(ValueError, match="Received: who='parent'"):
        rusage_peak_mb("parent")


def test_ru_maxrss_units_by_platform():
    assert maxrss_mb(1024, "linux") == 1.0  # Linux: KiB
    assert maxrss_mb(2**20, "darwin") == 1.0  # macOS: bytes
    assert maxrss_mb(0, "linux") is None


def test_this_process_has_a_peak_at_least_its_rss():
    now = memory_sample()
    if now["rss_mb"] is None:
        pytest.skip("no /proc here")
    assert 0 < now["rss_mb"] <= now["peak_rss_mb"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss inheritance is Linux behaviour")
def test_a_child_reports_its_own_peak_not_its_parents():
    """ru_maxrss of a subprocess starts at its parent's peak; peak_rss_mb (VmHWM) must not."""
    ballast = np.ones(256 * 2**20 // 8)  # 256 MB resident in this process
    parent = rss_mb()
    code = "import json; from overfit_core.bench import *; print(json.dumps([peak_rss_mb(), rusage_peak_mb()]))"
    own, rusage = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                            check=True).stdout)
    assert ballast.sum() > 0 and own < parent - 200
    assert rusage >= parent - 1  # why peak_rss_mb does not use it where /proc is there


def test_memory_info_growth_peak_and_missing_figures():
    info = memory_info({"rss_mb": 800.0, "peak_rss_mb": 850.0}, {"rss_mb": 812.0, "peak_rss_mb": 900.0}, rounds=4)
    assert info == {"peak_rss_mb": 900.0, "peak_rss_set_in_rounds": True, "rss_before_mb": 800.0,
                    "rss_after_mb": 812.0, "rss_growth_mb": 12.0, "rss_growth_per_round_mb": 3.0}
    assert not memory_info({"rss_mb": 1, "peak_rss_mb": 900}, {"rss_mb": 1, "peak_rss_mb": 900}, 1)[
        "peak_rss_set_in_rounds"]
    none = memory_info({"rss_mb": None, "peak_rss_mb": None}, {"rss_mb": None, "peak_rss_mb": None}, rounds=0)
    assert set(none.values()) == {None}


MEMORY_BENCH = {"name": "test_suite_peak_memory", "fullname": "benchmarks/test_memory.py::test_suite_peak_memory",
                "stats": {"min": 9.0, "median": 9.0, "mean": 9.0},
                "extra_info": {"kind": "memory", "peak_rss_mb": 838.0, "rss_growth_mb": 14.3}}


def test_gate_prints_memory_beside_the_time_ratios(tmp_path):
    slower = json.loads(json.dumps(MEMORY_BENCH))
    slower["extra_info"]["peak_rss_mb"] = 1000.0
    a = bench_json(tmp_path / "a.json", memory=800.0, extra=[MEMORY_BENCH], session={"peak_rss_mb": 910.0})
    b = bench_json(tmp_path / "b.json", memory=880.0, extra=[slower], session={"peak_rss_mb": 990.0})
    run = load_run(a)
    assert run.memory[NAMES[1]] == {"peak_rss_mb": 801.0, "rss_growth_mb": 0.5}
    assert run.memory[MEMORY_BENCH["fullname"]]["peak_rss_mb"] == 838.0 and run.session_memory["peak_rss_mb"] == 910.0
    assert MEMORY_BENCH["fullname"] not in run.samples  # no `samples`: its time is not gated
    result, lines = gate(a, b)
    assert result.passed and "PASS" in lines[-1]  # memory is printed, not gated
    assert "peak RSS MB" in next(line for line in lines if line.startswith("benchmark "))
    row = next(line for line in lines if line.startswith(NAMES[1]))
    assert "801 >    881 (+10%)" in row and "+0.5 >    +0.5" in row
    suite = next(line for line in lines if MEMORY_BENCH["fullname"] in line)
    assert suite.startswith("memory of") and "838 >   1000 (+19%)" in suite
    assert any("910 MB" in line and "990 MB" in line for line in lines)
    assert any("not gated" in line for line in lines)


def test_gate_without_memory_figures_prints_no_memory_columns(tmp_path):
    a, b = bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", memory=800.0)
    _, lines = gate(a, b)  # only one side carries them
    assert "peak RSS" not in "\n".join(lines) and not any("not gated" in line for line in lines)


def test_cli_prints_memory_figures(tmp_path, capsys):
    a = bench_json(tmp_path / "a.json", memory=800.0)
    assert main(["bench-gate", str(a), str(a)]) == 0
    out = capsys.readouterr().out
    assert "peak RSS MB base > current" in out and "800 >    800 (+0%)" in out


def test_memory_limit_option_and_the_suite_slice_summary():
    from benchmarks.conftest import _megabytes
    from benchmarks.test_memory import PEAK_RSS_LIMIT_MB, summarise

    assert _megabytes("1500") == 1500.0
    for bad in ("0", "-5", "lots"):
        with pytest.raises(Exception, match="--bench-memory-limit-mb.*e.g. 1500"):
            _megabytes(bad)
    report = {"rss_start_mb": 39.0, "rss_after_import_mb": 709.0, "rss_after_data_mb": 735.0, "peak_rss_mb": 838.0,
              "fits": [{"variant": v, "rss_mb": m, "peak_rss_mb": 838.0, "seconds": 1.0}
                       for v, m in (("overfit", 811.0), ("bn", 818.0), ("tiny", 826.0))]}
    info = summarise(report, PEAK_RSS_LIMIT_MB)
    assert info["fits"] == 3 and info["rss_growth_mb"] == 15.0 and info["rss_growth_per_fit_mb"] == 7.5
    assert info["peak_rss_mb"] == 838.0 < info["peak_rss_limit_mb"] == PEAK_RSS_LIMIT_MB
