"""`overfit-bench`: train the textbook variants and write records, plots and a report."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from .config import TIERS
from .datasets import DATA_KINDS, DATASETS, check_dataset_name
from .errors import ConfigError, OverfitBenchError, invalid, positive_int
from .strategies import STRATEGIES
from .variants import VARIANTS, builtin_variants, experiments, get_variant


def _datasets(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(invalid("datasets", text, f"a comma-separated subset of {','.join(DATASETS)}"))
    return tuple(check_dataset_name(n) for n in names)


def _out_dir(text: str) -> Path:
    from .records import writable_dir

    return writable_dir(text, "records")


def _require_real(args, settings) -> None:
    """--data real needs a folder of the real datasets, or (where the command has --download) a download."""
    if args.data == "real" and not settings.real_available:
        how = "--data-dir DIR or --download" if hasattr(args, "download") else "--data-dir DIR"
        raise ConfigError(invalid("data_dir", args.data_dir, "a folder with the real datasets for --data real",
                                  f"Pass {how} (or set OVERFIT_DATA_DIR, or OVERFIT_DOWNLOAD=1)."))


def _fits_per_process(text: str) -> int:
    try:
        return positive_int("fits_per_process", int(text), minimum=0)
    except (ValueError, ConfigError):
        raise ConfigError(invalid("fits_per_process", text, "an integer >= 0 (0: train in this process)")) from None


def _specs(datasets: tuple[str, ...], variants: str | None) -> list:
    """The built-in variants of `datasets`, or the named variants (their baselines join when trained)."""
    if variants:
        return [get_variant(n.strip()) for n in variants.split(",") if n.strip()]
    return [s for s in builtin_variants() if s.dataset in datasets]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="overfit-bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the variants, write records, plots and report.md")
    run.add_argument("--data", choices=DATA_KINDS, default="synthetic",
                     help="embedded synthetic look-alikes (default, offline) or the real datasets")
    run.add_argument("--data-dir", default=None, help="folder with the real dataset files (or OVERFIT_DATA_DIR)")
    run.add_argument("--download", action="store_true", default=None,
                     help="allow keras.datasets to download the real datasets (or OVERFIT_DOWNLOAD=1)")
    run.add_argument("--subset", default=None, metavar="{full,calibrated}",
                     help="real data: full (default; or OVERFIT_SUBSET) or calibrated: the full datasets cut to the "
                          "sizes and samples of the shared subsets the thresholds were calibrated on")
    run.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of %(default)s")
    run.add_argument("--variants", default=None,
                     help="comma-separated variants to train (with the baselines they name) instead of every "
                          "variant of --datasets; see `overfit-bench list`")
    run.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    run.add_argument("--seeds", default="0", help="e.g. 0,1,2 or 0-2 (default %(default)s)")
    run.add_argument("--out", default="overfit-bench-out", help="output folder (default %(default)s)")
    run.add_argument("--retrain", action="store_true", help="ignore records already in OUT/records")
    run.add_argument("--deterministic", action="store_true", help="enable TF op determinism (slower)")
    run.add_argument("--no-checks", action="store_true", help="train and report only; do not gate on the checks")
    run.add_argument("--sequential", action="store_true",
                     help="while a property's across-seed verdict is inconclusive, train more seeds (looks at 3, 5, "
                          "8, 12 and 20 seeds; docs/properties.md)")
    run.add_argument("--strategy", choices=STRATEGIES, default="default",
                     help="tf.distribute strategy: mirrored (every GPU; without GPUs two logical CPU devices) or "
                          "multiworker (the cluster in TF_CONFIG; run the same command on every worker)")
    run.add_argument("--fits-per-process", default="50", metavar="N",
                     help="when more than N models are to be trained, train them in a child process replaced "
                          "every N fits, which bounds memory (0: all in this process; default %(default)s)")
    run.add_argument("--bundle", default=None, metavar="FILE.zip",
                     help="also pack this run's records and environment into one bundle file (see export)")
    sub.add_parser("list", help="list variants, experiments, checks and datasets")
    _add_ray(sub)
    _add_matrix(sub)
    _add_bisect(sub)
    _add_bench_gate(sub)
    _add_faults(sub)
    _add_repro(sub)
    _add_compare(sub)
    return p


def _add_bench_gate(sub) -> None:
    from .bench import BASES, DEFAULT_BASIS, DEFAULT_BENCH_THRESHOLD, DEFAULT_STAT, DEFAULT_THRESHOLD, STATS

    g = sub.add_parser("bench-gate", help="fail if benchmarks got slower than a baseline, machine-normalised",
                       description="Compare two pytest-benchmark JSON files by throughput: raw, divided by each "
                                   "run's numpy (BLAS) float32 matmul calibration (machine-normalised, gated on) "
                                   "and by its TensorFlow matmul calibration (TF-normalised). Files without the "
                                   "numpy calibration are gated TF-normalised, with a note. "
                                   "Exit 0: pass, 1: slower, 2: bad input.")
    g.add_argument("baseline", help="pytest-benchmark JSON of the reference run")
    g.add_argument("current", help="pytest-benchmark JSON of the run to check")
    g.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="largest geometric-mean slowdown that passes (default %(default)s = 20%% slower)")
    g.add_argument("--bench-threshold", type=float, default=DEFAULT_BENCH_THRESHOLD,
                   help="largest slowdown of any single benchmark that passes (default %(default)s)")
    g.add_argument("--stat", choices=STATS, default=DEFAULT_STAT, help="round statistic (default %(default)s)")
    g.add_argument("--basis", choices=tuple(BASES), default=DEFAULT_BASIS,
                   help="the ratio to gate on: machine (per numpy matmul GFLOP/s), tf (per TensorFlow matmul "
                        "GFLOP/s) or raw (samples/s); all are printed (default %(default)s)")


def cmd_bench_gate(args) -> int:
    from .bench import gate

    result, lines = gate(args.baseline, args.current, args.threshold, args.bench_threshold, args.stat, args.basis)
    print("\n".join(lines))
    return 0 if result.passed else 1


def _add_faults(sub) -> None:
    from .faults import FAULTS

    f = sub.add_parser("faults", help="inject known regressions into Keras and report which checks catch them",
                       description="For each fault, train the variants it can change in a fresh process with the "
                                   "fault injected into Keras at interpreter start-up and a fresh record folder, and "
                                   "judge the checks against one clean control run of the same variants and seeds: a "
                                   "check catches a fault when it passes in the control and fails under the fault. "
                                   "Prints a table and writes OUT/faults.md (docs/faults.md). Exit 0: every fault "
                                   "caught by some check, 1: a fault caught by none, 2: bad input.")
    f.add_argument("--faults", default=None, help=f"comma-separated subset of {','.join(FAULTS)} (default: all)")
    f.add_argument("--data", choices=DATA_KINDS, default="synthetic", help="as for run (default %(default)s)")
    f.add_argument("--data-dir", default=None, help="folder with the real dataset files (or OVERFIT_DATA_DIR)")
    f.add_argument("--seeds", default="0", help="e.g. 0-2 (default %(default)s)")
    f.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    f.add_argument("--out", default="overfit-bench-faults",
                   help="output folder: faults.md and runs/<fault>/ (records and log of each run; default %(default)s)")


def cmd_faults(args) -> int:
    from .faults import parse_faults, prepare_out, run_faults, table_lines
    from .settings import Settings

    chosen = parse_faults(args.faults)
    settings = Settings.resolve(tier=args.tier, seeds=args.seeds, data_dir=args.data_dir)  # checks tier and seeds
    _require_real(args, settings)
    if args.data == "real" and settings.data_dir and not Path(settings.data_dir).is_dir():
        raise ConfigError(invalid("data_dir", args.data_dir, "an existing folder"))
    out = prepare_out(args.out)
    data_dir = settings.data_dir if args.data == "real" else None
    command = " ".join(["overfit-bench faults", *(["--faults", args.faults] if args.faults else []),
                        "--data", args.data, *(["--data-dir", args.data_dir] if data_dir and args.data_dir else []),
                        "--seeds", args.seeds, "--tier", args.tier])
    try:
        results = run_faults(chosen, data=args.data, data_dir=data_dir, seeds=settings.seeds, tier=settings.tier,
                             out=out, command=command)
    except RuntimeError as e:
        print(f"overfit-bench: error: {e}", file=sys.stderr)
        return 1
    print("\n".join(table_lines(results)))
    missed = [r.name for r in results if not r.is_caught]
    print(f"wrote {out / 'faults.md'}; {len(results) - len(missed)} of {len(results)} faults caught"
          + (f"; caught by no check: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


def _add_compare(sub) -> None:
    from .compare import DEFAULT_ALPHA, DEFAULT_CORRECTION, DEFAULT_MIN_EFFECT, DEFAULT_THROUGHPUT_TOLERANCE
    from .stats import CORRECTIONS

    c = sub.add_parser("compare", help="compare two runs' records seed-wise: metrics, check margins and effects",
                       description="Compare two record sets (a run's --out folder, a record cache folder or a bundle "
                                   "of `overfit-bench export`) by variant, dataset, data kind and tier: medians over "
                                   "seeds, Mann-Whitney U per row with a multiple-comparison correction, and each "
                                   "check's pass count, margin and effect (docs/compare.md). Prints Markdown. "
                                   "Exit 0: same or changed, 1: regressed, 2: bad input.")
    c.add_argument("base", help="the reference: run folder, record folder or bundle")
    c.add_argument("head", help="the run to judge: run folder, record folder or bundle")
    c.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="significance level (default %(default)s)")
    c.add_argument("--correction", choices=tuple(CORRECTIONS), default=DEFAULT_CORRECTION,
                   help="over all rows: holm (family-wise) or bh (false discovery rate; default %(default)s)")
    c.add_argument("--min-effect", type=float, default=DEFAULT_MIN_EFFECT,
                   help="a significant change smaller than this share of the base median counts as the same "
                        "(default %(default)s)")
    c.add_argument("--base-bench", default=None, help="pytest-benchmark JSON of the base (throughput rows)")
    c.add_argument("--head-bench", default=None, help="pytest-benchmark JSON of the head")
    c.add_argument("--throughput-tolerance", type=float, default=DEFAULT_THROUGHPUT_TOLERANCE,
                   help="machine-normalised slowdown that counts as a regression (default %(default)s)")
    c.add_argument("--json", default=None, metavar="FILE", help="also write the comparison as JSON")
    c.add_argument("--html", default=None, metavar="FILE", help="also write it as a self-contained HTML page")
    e = sub.add_parser("export", help="pack a run folder's records and environment into one bundle file",
                       description="Write BUNDLE (.zip): the records of OUT_DIR (a run's --out folder or a record "
                                   "folder), environment.json and a bundle.json manifest. compare reads it.")
    e.add_argument("out_dir", help="the run's --out folder")
    e.add_argument("bundle", help="the bundle file to write (.zip)")


def cmd_compare(args) -> int:
    from .bundle import load_record_set
    from .compare import compare, render_markdown, write_outputs

    base, head = load_record_set(args.base, "base"), load_record_set(args.head, "head")
    result = compare(base, head, alpha=args.alpha, correction=args.correction, min_effect=args.min_effect,
                     base_bench=args.base_bench, head_bench=args.head_bench,
                     throughput_tolerance=args.throughput_tolerance)
    print(render_markdown(result), end="")
    for path in write_outputs(result, json_path=args.json, html_path=args.html):
        print(f"wrote {path}", file=sys.stderr)
    return result.exit_code


def cmd_export(args) -> int:
    from .bundle import export

    path, found = export(args.out_dir, args.bundle)
    print(f"wrote {path}: {len(found.records)} records of {found.path}")
    return 0


def _add_ray(sub) -> None:
    from .cluster import EXAMPLE

    r = sub.add_parser("ray", help="train the job matrix (environments x variants x seeds) as Ray tasks on a cluster",
                       description="Every fit a Ray task, run in its environment's interpreter; records gathered "
                                   "into OUT/<env>/records (README: Scale-out). Needs pip install '.[ray]' here and "
                                   "in every environment.")
    r.add_argument("--address", default=None,
                   help="the cluster, e.g. 10.0.0.1:6379 (default: RAY_ADDRESS, else a local one started for the run)")
    r.add_argument("--env", action="append", default=None, metavar="NAME=PYTHON[,KEY=VALUE...]",
                   help=f"an environment (repeat for several), e.g. {EXAMPLE}; default: this interpreter")
    r.add_argument("--data", choices=DATA_KINDS, default="synthetic", help="synthetic (default) or real")
    r.add_argument("--data-dir", default=None,
                   help="folder with the real dataset files, the same path on every node (or OVERFIT_DATA_DIR)")
    r.add_argument("--download", action="store_true", default=None,
                   help="let every node download the real datasets with keras.datasets (or OVERFIT_DOWNLOAD=1)")
    r.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of %(default)s")
    r.add_argument("--variants", default=None, help="comma-separated built-in variants (with their baselines)")
    r.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    r.add_argument("--seeds", default="0", help="e.g. 0-19 (default %(default)s)")
    r.add_argument("--retries", type=int, default=3, help="retries of a fit whose worker is lost (default 3)")
    r.add_argument("--out", default="overfit-bench-ray", help="output folder (default %(default)s)")


def cmd_ray(args) -> int:
    from .cases import selection
    from .cluster import parse_envs, plan, run
    from .settings import Settings

    envs = parse_envs(args.env)
    _, specs = selection(_specs(_datasets(args.datasets), args.variants))
    settings = Settings.resolve(tier=args.tier, seeds=args.seeds, data_dir=args.data_dir, download=args.download)
    _require_real(args, settings)
    retries = positive_int("retries", args.retries, minimum=0)
    out = _out_dir(args.out)
    fits = plan(envs, list(specs), {n: s.dataset for n, s in specs.items()}, settings.seeds, settings.tier,
                settings.data_options(args.data))
    done = run(fits, out, address=args.address or os.environ.get("RAY_ADDRESS"), retries=retries)
    for env in envs:
        print(f"{env.name}: {len(done[env.name])} records in {out / env.name / 'records'} (overfit-bench compare "
              "reads it; pytest --cache-dir too)")
    return 0


def _add_matrix(sub) -> None:
    from .matrix import ENVIRONMENTS

    m = sub.add_parser("matrix", help="the suite in one environment per TF/Keras version, collected side by side",
                       description="Per environment (tox.ini, or --python NAME=PATH): install, Keras defaults, "
                                   "records per data kind, optionally benchmarks, a summary; then OUT/matrix.md. "
                                   "Resumable: a step whose output exists is skipped (README: Version matrix).")
    m.add_argument("--envs", default=None, help=f"comma-separated, in order (default: all of {','.join(ENVIRONMENTS)})")
    m.add_argument("--python", action="append", default=None, metavar="NAME=PATH",
                   help="an environment that exists already: its interpreter (repeat for several)")
    m.add_argument("--data", default="real,synthetic",
                   help="data kinds (default %(default)s); the real data as `run` finds it (--data-dir's variable)")
    m.add_argument("--seeds", default="0-7", help="seeds per environment (default %(default)s)")
    m.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    m.add_argument("--variants", default=None, help="comma-separated variants (with their baselines; default all)")
    m.add_argument("--bench", action="store_true", help="also run the throughput benchmarks in each environment")
    m.add_argument("--baselines", default=None, metavar="DIR",
                   help="also write each environment's compact summary to DIR/<env>.json (committed references)")
    m.add_argument("--out", default="matrix-out", help="output folder (default %(default)s)")


def _checkout() -> Path:
    """The repository this package runs from (tox.ini, benchmarks/), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "tox.ini").is_file() else Path.cwd()


def cmd_matrix(args) -> int:
    from .cases import selection
    from .config import parse_seeds
    from .matrix import parse_envs, run_matrix

    envs = parse_envs(args.envs, args.python)
    kinds = [k.strip() for k in args.data.split(",") if k.strip()]
    if not kinds or any(k not in DATA_KINDS for k in kinds):
        raise ConfigError(invalid("data", args.data, f"comma-separated data kinds among {', '.join(DATA_KINDS)}"))
    parse_seeds(args.seeds)
    if args.tier not in TIERS:
        raise ConfigError(invalid("tier", args.tier, f"one of {', '.join(TIERS)}"))
    out = _out_dir(args.out)
    if args.variants:
        selection(_specs(DATASETS, args.variants))  # an unknown name fails now, not in every environment
    path = run_matrix(envs, out, seeds=args.seeds, kinds=kinds, tier=args.tier, bench=args.bench,
                      variants=args.variants,
                      baselines=Path(args.baselines) if args.baselines else None,
                      progress=lambda line: print(line, file=sys.stderr, flush=True), root=_checkout())
    print(f"wrote {path}")
    return 0


def _add_bisect(sub) -> None:
    b = sub.add_parser("bisect", help="find the first version where a check or a metric changes",
                       description="Bisect the release environments between --good and --bad (tox.ini), the "
                                   "tf-nightly builds between two dates (nightly-YYYYMMDD, each installed with the "
                                   "keras-nightly of its date into a venv kept under .envs/), or the "
                                   "interpreters given with --python in order, training only --variants, and judge "
                                   "each by compare against the good one. Prints the evidence: the comparison of the "
                                   "last good and the first bad version.")
    what = b.add_mutually_exclusive_group(required=True)
    what.add_argument("--check", default=None, help="a check name (its seeds passed and effect size)")
    what.add_argument("--metric", default=None, help="a compare metric, e.g. final_train_loss, gap, min_val_loss")
    b.add_argument("--subject", required=True,
                   help="the variant (for a metric) or the check's binding label, e.g. bn-bn_basic")
    b.add_argument("--variants", required=True, help="comma-separated variants to train (their baselines join)")
    b.add_argument("--good", default=None, help="the last version known good, e.g. tf215 or nightly-20261001")
    b.add_argument("--bad", default=None, help="a version known to differ, e.g. tf221 or nightly-20261026")
    b.add_argument("--python", action="append", default=None, metavar="NAME=PATH",
                   help="instead of --good/--bad: the versions in order, good first and bad last, as interpreters")
    b.add_argument("--data", choices=DATA_KINDS, default="synthetic", help="data kind (default %(default)s)")
    b.add_argument("--seeds", default="0-7", help="seeds per version, enough for a verdict (default %(default)s)")
    b.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    b.add_argument("--out", default="bisect-out", help="output folder; shares its layout with matrix (default "
                                                       "%(default)s)")


def cmd_bisect(args) -> int:
    from .bisect import NIGHTLY, Target, bisect, nightlies_between, versions_between
    from .cases import selection
    from .checks import get_check
    from .compare import METRICS
    from .config import parse_seeds
    from .matrix import Env, parse_envs

    if args.check:
        get_check(args.check)
    elif args.metric not in METRICS:
        raise ConfigError(invalid("metric", args.metric, f"one of {', '.join(METRICS)}"))
    selection(_specs(DATASETS, args.variants))
    parse_seeds(args.seeds)
    if args.python:
        envs = parse_envs(None, args.python)
        if len(envs) < 2:
            raise ConfigError(invalid("python", args.python, "at least two interpreters, good first, bad last"))
    elif args.good and args.bad and NIGHTLY in args.good + args.bad:
        envs = nightlies_between(args.good, args.bad)
    elif args.good and args.bad:
        envs = [Env(n) for n in versions_between(args.good, args.bad)]
    else:
        raise ConfigError("Give --good and --bad (release environments such as tf215 and tf221, or nightly dates "
                          "such as nightly-20261001 and nightly-20261026), or two or more --python NAME=PATH in "
                          "order.")
    out = _out_dir(args.out)
    good, bad, rows, log = bisect(envs, Target(args.check, args.metric, args.subject), out, variants=args.variants,
                                  seeds=args.seeds, kind=args.data, tier=args.tier, root=_checkout(),
                                  progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"first version that differs: {bad} (last good: {good}; probed {len(log)} between)")
    for line in log:
        print(f"  {line}")
    print(f"evidence, compare {good} -> {bad} ({args.data} data, seeds {args.seeds}):")
    for r in rows:
        print(f"  {r.where}: {r.label} {r.base_median:.4g} -> {r.head_median:.4g}, {r.verdict}"
              + (f" ({r.why})" if r.why else ""))
    return 0


def _add_repro(sub) -> None:
    r = sub.add_parser("repro", help="write one standalone plain-Keras script that reproduces a check (bug reports)",
                       description="Write OUT/repro_<check>_<dataset>_seed<N>.py and, beside it, the arrays the suite "
                                   "trains on (.npz): the variants the check binds on the dataset, built, seeded, "
                                   "compiled and fitted as the suite does in plain Keras (the script imports numpy, "
                                   "TensorFlow and Keras only), then the numbers the check reads and whether the "
                                   "property holds; the script exits 0 if it holds, 1 if not. Ready to attach to a "
                                   "TensorFlow or Keras bug report. Exit 0: written, 2: bad input.")
    r.add_argument("--check", required=True, help="the check to reproduce; see `overfit-bench list`")
    r.add_argument("--variants", default=None,
                   help="comma-separated variants: only the check's bindings with one of them (baselines join)")
    r.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    r.add_argument("--seed", default="0", help="the training seed (default %(default)s)")
    r.add_argument("--tier", default="fast", help=f"one of {', '.join(TIERS)} (default %(default)s)")
    r.add_argument("--data", choices=DATA_KINDS, default="synthetic", help="as for run (default %(default)s)")
    r.add_argument("--data-dir", default=None, help="folder with the real dataset files (or OVERFIT_DATA_DIR)")
    r.add_argument("--download", action="store_true", default=None,
                   help="allow keras.datasets to download the real datasets (or OVERFIT_DOWNLOAD=1)")
    r.add_argument("--out", required=True, help="folder for the script and its .npz")


def cmd_repro(args) -> int:
    import shlex

    from .repro import write_repro
    from .settings import Settings

    try:
        seed = positive_int("seed", int(args.seed), minimum=0)
    except ValueError:
        raise ConfigError(invalid("seed", args.seed, "one non-negative integer such as 0")) from None
    settings = Settings.resolve(tier=args.tier, seeds=str(seed), data_dir=args.data_dir, download=args.download)
    _require_real(args, settings)
    command = shlex.join(["overfit-bench", "repro", "--check", args.check,
                          *(["--variants", args.variants] if args.variants else []), "--dataset", args.dataset,
                          "--seed", str(seed), "--tier", settings.tier, "--data", args.data,
                          *(["--data-dir", args.data_dir] if args.data == "real" and args.data_dir else []),
                          *(["--download"] if args.data == "real" and args.download else []), "--out", args.out])
    script, npz = write_repro(args.check, args.dataset, seed, settings.tier, settings.data_options(args.data),
                              args.out, variants=args.variants, command=command)
    print(f"wrote {script} and {npz.name} beside it (attach both to the bug report); run: python {script}")
    return 0


def cmd_run(args) -> int:
    from .cases import run_records, selection
    from .ci import publish
    from .html_report import write_html
    from .progress import progress_for
    from .records import RecordStore
    from .report import checks_markdown, checks_table, write_report
    from .runner import load_datasets, plan, run_jobs
    from .settings import Settings
    from .strategies import make_strategy, worker_out_dir

    clock = _Clock()
    datasets = _datasets(args.datasets)
    fits_per_process = _fits_per_process(args.fits_per_process)
    chosen, specs = selection(_specs(datasets, args.variants))
    settings = Settings.resolve(tier=args.tier, seeds=args.seeds, data_dir=args.data_dir, download=args.download,
                                cache_dir=Path(args.out).expanduser() / "records", retrain=args.retrain,
                                subset=args.subset)
    if args.data == "synthetic" and settings.subset != "full":
        print(f"note: subset {settings.subset} applies to --data real only; the synthetic look-alikes are used as "
              "they are", file=sys.stderr)
    config = dataclasses.replace(settings.config, deterministic=True) if args.deterministic else settings.config
    strategy = make_strategy(args.strategy)  # before any TF op: multi-worker and logical CPUs need that
    out = _out_dir(args.out)
    if args.bundle:
        from .bundle import bundle_path

        bundle_path(args.bundle)  # a bad name fails now, not after training
    if args.strategy == "multiworker":
        out = _out_dir(str(worker_out_dir(out)))
    loaded = load_datasets(dict.fromkeys(s.dataset for s in specs.values()), settings.data_options(args.data))
    for d in loaded.values():
        print(f"{d.name}: {d.source} (sha256 {d.sha256[:12]}…), train {d.x_train.shape}, val {d.x_val.shape}",
              file=sys.stderr)
    clock.lap("data")
    # Every worker of a cluster must run every fit: a record cached on one worker only would leave the others waiting.
    records = run_jobs(plan(specs.values(), settings.seeds), loaded, config, RecordStore(out / "records"),
                       retrain=settings.retrain or args.strategy == "multiworker", fits_per_process=fits_per_process,
                       strategy=strategy, progress=progress_for())  # a bar on a terminal, else a line per job
    clock.lap("training")
    report, across = [], []
    if not args.no_checks:
        report, _ = run_records(records)
        across = _across_seeds(args, report, records, specs, loaded, config, out, fits_per_process, strategy)
        if args.sequential:
            report, _ = run_records(records)  # the per-seed verdicts of the seeds added too
    clock.lap("checks")
    path = write_report(records, out, checks_section=checks_markdown(report))
    verdicts = getattr(report, "verdicts", [])
    html = write_html(out / "report.html", records, verdicts)
    clock.lap("report")
    for line in checks_table(report):
        print(line)
    if across:
        from .effects import table

        print("\nacross seeds (median effect and its interval against the median threshold; the sign where not calibrated):")
        for line in table(across):
            print(line)
    print(f"wrote {len(records)} records to {out / 'records'}, report {path} and {html.name}")
    publish(verdicts)  # GitHub Actions: annotations for failed checks and the job summary
    if args.bundle:
        from .bundle import write_bundle

        keep = ("data", "datasets", "variants", "tier", "seeds", "deterministic", "strategy", "no_checks")
        kept = {**{k: getattr(args, k) for k in keep}, "subset": settings.subset}
        print(f"wrote {write_bundle(args.bundle, records, settings=kept)}")
    print(clock.summary(records))
    return 1 if getattr(report, "unexpected", None) or any(v.state == "fail" for v in across) else 0


def _across_seeds(args, report, records, specs, loaded, config, out, fits_per_process, strategy) -> list:
    """Each property's across-seed verdict; with --sequential, more seeds while one is inconclusive."""
    from .cases import run_records
    from .effects import across_seeds, sequential
    from .records import RecordStore
    from .runner import plan, run_jobs

    if not args.sequential:
        return across_seeds(report)

    def more(pending, seeds):
        names = dict.fromkeys(n for v in pending for n in v.variants)
        new = run_jobs(plan([specs[n] for n in names], seeds), loaded, config, RecordStore(out / "records"),
                       fits_per_process=fits_per_process, strategy=strategy)
        records.extend(new)
        return run_records(new)[0]

    return sequential(report, more, log=lambda text: print(text, file=sys.stderr, flush=True))


class _Clock:
    """Where a run's time went: laps of wall time, and each variant's training time from its records."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name], self.last = now - self.last, now

    def summary(self, records) -> str:
        total = time.perf_counter() - self.start
        per_variant: dict[str, float] = {}
        for r in records:
            per_variant[r.variant] = per_variant.get(r.variant, 0.0) + r.wall_time_s
        top = sorted(per_variant.items(), key=lambda kv: -kv[1])[:5]
        laps = ", ".join(f"{k} {v:.1f}s" for k, v in self.laps.items())
        fits = ", ".join(f"{k} {v:.1f}s" for k, v in top)
        return (f"time: {total:.1f}s in all ({laps}); fit time of the records (cached ones as first trained), "
                f"longest: {fits or 'none'}")


def cmd_list(args) -> int:
    from .checks import CHECKS, bindings
    from .datasets import get_dataset

    def table(title: str, rows: list[tuple[str, ...]]) -> None:
        print(f"{title}:")
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)] if rows else []
        for r in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])

    table("variants", [(s.name, s.dataset, s.description) for s in VARIANTS.values()])
    table("experiments", [(name, ", ".join(v)) for name, v in experiments().items()])
    table("checks", [(name, ", ".join(b.label for b in bindings(VARIANTS, [name])) or "-") for name in CHECKS])
    table("datasets", [(name, "files: " + ", ".join(get_dataset(name).files)) for name in DATASETS])
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "list": cmd_list, "ray": cmd_ray, "matrix": cmd_matrix, "bisect": cmd_bisect, "bench-gate": cmd_bench_gate, "repro": cmd_repro,
                "faults": cmd_faults, "compare": cmd_compare, "export": cmd_export}[args.command](args)
    except OverfitBenchError as e:
        print(f"overfit-bench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("overfit-bench: interrupted; records written so far are kept and reused by the next run.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
