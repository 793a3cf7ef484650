"""The bench gate's false-alarm and detection rates over measured runs, per ratio (docs/gate.md).

    python -m benchmarks._gate_rates --unchanged run0.json run1.json ... \
        --slowed "25%=slow25.json" --slowed "25%, TF matmul too=slow25tf.json"

False alarms: every ordered pair (baseline, current) of the unchanged runs that fails. Detection: each slowed
run against every unchanged run as its baseline, counted when it fails. Each for the raw, machine-normalised
and TF-normalised ratio at the default thresholds (and at any --threshold given). Prints markdown.
"""
from __future__ import annotations

import argparse
import itertools
import sys

from overfit_core.bench import BASES, DEFAULT_BENCH_THRESHOLD, DEFAULT_STAT, DEFAULT_THRESHOLD, BenchRun, compare, load_run


def _worst(a: BenchRun, b: BenchRun, basis: str, threshold: float, bench_threshold: float) -> tuple[bool, float]:
    result = compare(a, b, threshold, bench_threshold, DEFAULT_STAT, basis)
    return not result.passed, max(g.slowdown for g in result.groups)


def rate_lines(unchanged: list[BenchRun], slowed: dict[str, BenchRun], thresholds: list[float],
               bench_threshold: float = DEFAULT_BENCH_THRESHOLD) -> list[str]:
    pairs = list(itertools.permutations(unchanged, 2))
    head = (["| ratio gated on | threshold | false alarms, ordered pairs of unchanged runs | worst test function "
             "between unchanged runs |"] + [f" `{label}` caught (worst test function) |" for label in slowed])
    lines = ["".join(head), "|" + "---|" * (4 + len(slowed))]
    for basis, threshold in itertools.product(BASES, thresholds):
        alarms = [_worst(a, b, basis, threshold, bench_threshold) for a, b in pairs]
        row = [BASES[basis], f"{threshold:.0%} / {bench_threshold:.0%}",
               f"{sum(f for f, _ in alarms)}/{len(pairs)}", f"{min(w for _, w in alarms):+.0%} to "
                                                            f"{max(w for _, w in alarms):+.0%}"]
        for run in slowed.values():
            caught = [_worst(a, run, basis, threshold, bench_threshold) for a in unchanged]
            row.append(f"{sum(f for f, _ in caught)}/{len(caught)} ({min(w for _, w in caught):+.0%} to "
                       f"{max(w for _, w in caught):+.0%})")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def calibration_lines(runs: dict[str, BenchRun]) -> list[str]:
    lines = ["| run | numpy matmul GFLOP/s | TensorFlow matmul GFLOP/s | TensorFlow / numpy |", "|---|---|---|---|"]
    for label, r in runs.items():
        ratio = (f"{r.calibration_gflops / r.numpy_gflops:.2f}" if r.calibration_gflops and r.numpy_gflops
                 else "-")
        lines.append(f"| {label} | {r.numpy_gflops or 0:.1f} | {r.calibration_gflops or 0:.1f} | {ratio} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._gate_rates", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--unchanged", nargs="+", required=True, help="pytest-benchmark JSON of runs of the same tree")
    p.add_argument("--slowed", action="append", default=[], metavar="LABEL=PATH",
                   help="a run with an injected or real slowdown (repeatable)")
    p.add_argument("--threshold", type=float, action="append", default=None,
                   help=f"gate threshold(s) to tabulate (default {DEFAULT_THRESHOLD})")
    args = p.parse_args(argv)
    unchanged = [load_run(path, "unchanged") for path in args.unchanged]
    slowed = {}
    for item in args.slowed:
        label, sep, path = item.rpartition("=")
        if not sep or not label:
            p.error(f"--slowed expects LABEL=PATH, got {item!r}")
        slowed[label] = load_run(path, "slowed")
    print("\n".join(rate_lines(unchanged, slowed, args.threshold or [DEFAULT_THRESHOLD])))
    print()
    runs = {f"unchanged {i}": r for i, r in enumerate(unchanged)} | slowed
    print("\n".join(calibration_lines(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
