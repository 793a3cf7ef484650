"""`overfit-bench`: train the textbook variants and write records, plots and a report."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import TIERS, get_config, parse_seeds
from .data import DATA_KINDS, DATASETS, FILES, DataOptions, check_dataset_name
from .distribute import STRATEGIES
from .errors import ConfigError, OverfitBenchError, invalid
from .variants import EXPERIMENTS, VARIANTS


def _datasets(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(invalid("datasets", text, f"a comma-separated subset of {','.join(DATASETS)}"))
    return tuple(check_dataset_name(n) for n in names)


def _out_dir(text: str) -> Path:
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(invalid("out", text, "a directory (it is an existing file)", "Pass another --out."))
    try:
        (out / "records").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(invalid("out", text, "a writable directory", f"({e.strerror}) Pass another --out.")) from None
    return out


def _fits_per_process(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise ConfigError(invalid("fits_per_process", text, "an integer >= 0 (0: train in this process)"))
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="overfit-bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the variants, write records, plots and report.md")
    run.add_argument("--data", choices=DATA_KINDS, default="synthetic",
                     help="embedded synthetic look-alikes (default, offline) or the real datasets")
    run.add_argument("--data-dir", default=None, help="folder with the real dataset files (or OVERFIT_DATA_DIR)")
    run.add_argument("--download", action="store_true", default=None,
                     help="allow keras.datasets to download the real datasets (or OVERFIT_DOWNLOAD=1)")
    run.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of %(default)s")
    run.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    run.add_argument("--seeds", default="0", help="e.g. 0,1,2 or 0-2 (default %(default)s)")
    run.add_argument("--out", default="overfit-bench-out", help="output folder (default %(default)s)")
    run.add_argument("--retrain", action="store_true", help="ignore records already in OUT/records")
    run.add_argument("--deterministic", action="store_true", help="enable TF op determinism (slower)")
    run.add_argument("--no-checks", action="store_true", help="train and report only; do not gate on the checks")
    run.add_argument("--strategy", choices=STRATEGIES, default="default",
                     help="tf.distribute strategy: mirrored (every GPU; without GPUs two logical CPU devices) or "
                          "multiworker (the cluster in TF_CONFIG; run the same command on every worker)")
    run.add_argument("--fits-per-process", default="50", metavar="N",
                     help="when more than N models are to be trained, train them in a child process replaced "
                          "every N fits, which bounds memory (0: all in this process; default %(default)s)")
    sub.add_parser("list", help="list variants, experiments, checks and datasets")
    _add_bench_gate(sub)
    return p


def _add_bench_gate(sub) -> None:
    from .bench import DEFAULT_BENCH_THRESHOLD, DEFAULT_STAT, DEFAULT_THRESHOLD, STATS

    g = sub.add_parser("bench-gate", help="fail if benchmarks got slower than a baseline, machine-normalised",
                       description="Compare two pytest-benchmark JSON files by throughput divided by each run's "
                                   "float32 matmul calibration. Exit 0: pass, 1: slower, 2: bad input.")
    g.add_argument("baseline", help="pytest-benchmark JSON of the reference run")
    g.add_argument("current", help="pytest-benchmark JSON of the run to check")
    g.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="largest geometric-mean slowdown that passes (default %(default)s = 20%% slower)")
    g.add_argument("--bench-threshold", type=float, default=DEFAULT_BENCH_THRESHOLD,
                   help="largest slowdown of any single benchmark that passes (default %(default)s)")
    g.add_argument("--stat", choices=STATS, default=DEFAULT_STAT, help="round statistic (default %(default)s)")


def cmd_bench_gate(args) -> int:
    from .bench import gate

    result, lines = gate(args.baseline, args.current, args.threshold, args.bench_threshold, args.stat)
    print("\n".join(lines))
    return 0 if result.passed else 1


def cmd_run(args) -> int:
    from .checks import evaluate_all
    from .records import RecordStore
    from .report import checks_markdown, checks_table, write_report
    from .runner import load_datasets, plan, run_jobs

    datasets, seeds, config = _datasets(args.datasets), parse_seeds(args.seeds), get_config(args.tier)
    fits_per_process = _fits_per_process(args.fits_per_process)
    if args.deterministic:
        config = dataclasses.replace(config, deterministic=True)
    from .distribute import make_strategy, worker_out_dir

    strategy = make_strategy(args.strategy)  # before any TF op: multi-worker and logical CPUs need that
    out = _out_dir(args.out)
    if args.strategy == "multiworker":
        out = _out_dir(str(worker_out_dir(out)))
    options = DataOptions.from_env(kind=args.data, data_dir=args.data_dir, download=args.download)
    loaded = load_datasets(datasets, options)
    for d in loaded.values():
        print(f"{d.name}: {d.source} (sha256 {d.sha256[:12]}…), train {d.x_train.shape}, val {d.x_val.shape}",
              file=sys.stderr)
    # Every worker of a cluster must run every fit: a record cached on one worker only would leave the others waiting.
    records = run_jobs(plan(datasets, seeds), loaded, config, RecordStore(out / "records"),
                       retrain=args.retrain or args.strategy == "multiworker", fits_per_process=fits_per_process,
                       strategy=strategy)
    results = [] if args.no_checks else evaluate_all(records)
    report = write_report(records, out, checks_section=checks_markdown(results))
    for line in checks_table(results):
        print(line)
    print(f"wrote {len(records)} records to {out / 'records'}, report {report}")
    return 1 if any(not r.passed for r in results) else 0


def cmd_list(args) -> int:
    print("variants:")
    for spec in VARIANTS.values():
        print(f"  {spec.name:<13} {spec.dataset:<14} {spec.description}")
    print("experiments:")
    for name, variants in EXPERIMENTS.items():
        print(f"  {name:<13} {', '.join(variants)}")
    from .checks import CHECKS, bindings

    print("checks:")
    for name in CHECKS:
        applied = ", ".join(b.label for b in bindings(VARIANTS, [name]))
        print(f"  {name:<29} {applied}")
    print("datasets:")
    for name in DATASETS:
        print(f"  {name:<13} files: {', '.join(FILES[name])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "list": cmd_list, "bench-gate": cmd_bench_gate}[args.command](args)
    except OverfitBenchError as e:
        print(f"overfit-bench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("overfit-bench: interrupted; records written so far are kept and reused by the next run.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
