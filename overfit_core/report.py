"""Loss-curve plots (matplotlib, Agg) and the Markdown report of a run."""
from __future__ import annotations

import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

from .records import RunRecord, atomic_write, stack
from .variants import experiments


def summary(record: RunRecord) -> dict[str, float]:
    """Headline numbers of one run, all on the un-regularised loss metric; epochs are 1-based."""
    key = record.spec.unregularised_metric
    train, val = record.curve(key), record.curve(f"val_{key}")
    finite = [v if math.isfinite(v) else math.inf for v in val]
    best = min(range(len(finite)), key=finite.__getitem__) if finite else 0
    out = {
        "min_val_loss": val[best] if val else math.nan,
        "min_val_epoch": best + 1,
        "final_train_loss": train[-1] if train else math.nan,
        "final_val_loss": val[-1] if val else math.nan,
    }
    out["gap"] = out["final_val_loss"] - out["final_train_loss"]
    if "val_accuracy" in record.history:
        out["final_train_accuracy"] = record.history["accuracy"][-1]
        out["final_val_accuracy"] = record.history["val_accuracy"][-1]
    out.update(record.evaluation)
    return out


def plot_experiment(name: str, records: Sequence[RunRecord], path: Path) -> Path:
    """Write `plot_png(name, records)` to `path` atomically."""
    return atomic_write(path, plot_png(name, records))


def plot_png(name: str, records: Sequence[RunRecord]) -> bytes:
    """PNG of train (dashed) and validation (solid) un-regularised loss per variant; one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    order = {v: i for i, v in enumerate(experiments(r.spec for r in records).get(name, ()))}
    by_variant: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        by_variant[r.variant].append(r)
    for i, (variant, runs) in enumerate(sorted(by_variant.items(), key=lambda kv: order.get(kv[0], 99))):
        colour = colours[i % len(colours)]
        for j, r in enumerate(sorted(runs, key=lambda r: r.seed)):
            key = r.spec.unregularised_metric
            epochs = range(1, len(r.curve(key)) + 1)
            ax.plot(epochs, r.curve(key), "--", color=colour, alpha=0.8, label=None if j else f"{variant} train")
            ax.plot(epochs, r.curve(f"val_{key}"), "-", color=colour, alpha=0.8,
                    label=None if j else f"{variant} validation")
    first = records[0]
    ax.set(title=f"{name}: {first.dataset} ({first.data_kind}), seeds {seed_ranges(r.seed for r in records)}",
           xlabel="epoch", ylabel=first.spec.unregularised_metric)
    if first.spec.task == "regression":
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def seed_ranges(seeds) -> str:
    """'0-19,100' for seeds 0..19 and 100: short enough for a plot title."""
    out, run = [], []
    for s in sorted(set(seeds)):
        if run and s != run[-1] + 1:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(s)
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def render_markdown(records: Sequence[RunRecord], *, title: str = "overfit-bench report",
                    plots: Mapping[str, str] | None = None, checks_section: str = "") -> str:
    lines = [f"# {title}", ""]
    if records:
        v = records[0].versions
        lines += [f"{stack(v)}, numpy {v['numpy']}, Python {v['python']}; "
                  f"tier `{records[0].config.tier}`; seeds {sorted({r.seed for r in records})}.", ""]
        lines += ["| dataset | source | sha256 |", "|---|---|---|"]
        seen = {(r.dataset, r.data_source, r.data_sha256) for r in records}
        lines += [f"| {d} | `{s}` | `{h[:16]}…` |" for d, s, h in sorted(seen)] + [""]
    for experiment, variants in _experiments(records).items():
        runs = [r for r in records if r.variant in variants]
        lines += [f"## {experiment} ({runs[0].dataset})", ""]
        if plots and experiment in plots:
            lines += [f"![{experiment}]({plots[experiment]})", ""]
        regression = runs[0].spec.task == "regression"
        extra = ["rmse", "mae", "mape"] if regression else ["final_val_accuracy"]
        head = ["variant", "seed", "epochs", "min val loss", "at epoch", "final train", "final val", "gap", *extra,
                "s", "samples/s", "status"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in sorted(runs, key=lambda r: (variants.index(r.variant), r.seed)):
            s = summary(r)
            row = [r.variant, r.seed, r.epochs_run, s["min_val_loss"], s["min_val_epoch"], s["final_train_loss"],
                   s["final_val_loss"], s["gap"], *(s.get(k, math.nan) for k in extra), r.wall_time_s,
                   r.samples_per_s, r.status]
            lines.append("| " + " | ".join(_fmt(x) for x in row) + " |")
        lines.append("")
    if checks_section:
        lines += [checks_section, ""]
    lines += ["Losses are the un-regularised loss metric (Keras' `loss` adds the L1/L2 penalty); "
              "gap = final validation - final training loss.", ""]
    return "\n".join(lines)


def write_report(records: Sequence[RunRecord], out: Path, *, checks_section: str = "") -> Path:
    """Plots under OUT/plots/, then OUT/report.md; every file is written atomically."""
    plots = {}
    for experiment, variants in _experiments(records).items():
        runs = [r for r in records if r.variant in variants]
        path = plot_experiment(experiment, runs, out / "plots" / f"{experiment}.png")
        plots[experiment] = str(path.relative_to(out))
    return atomic_write(out / "report.md", render_markdown(records, plots=plots, checks_section=checks_section))


def _experiments(records: Sequence[RunRecord]) -> dict[str, tuple[str, ...]]:
    """experiment -> variant names, for the variants present in `records` (in registry order of the specs)."""
    return experiments(dict((r.variant, r.spec) for r in records).values())



def checks_table(results) -> list[str]:
    """One line per check: how many seeds passed, with the numbers of every failure."""
    from .checks import summarise, worst_margin

    lines = []
    for name, passed, failed, skipped in summarise(results):
        total = passed + failed + skipped
        lines.append(f"{'PASS' if passed == total else 'FAIL'} {name}: {passed}/{total} passed, worst margin "
                     f"{_fmt(worst_margin(results, name))}" + (f", {skipped} not judged (diverged)" if skipped else ""))
        lines += [f"    {r}" for r in results if r.check == name and not r.passed]
    return lines


def checks_markdown(results) -> str:
    if not results:
        return ""
    from .checks import summarise, worst_margin

    lines = ["## Checks", "", "Margin: relative room to the threshold (negative fails), worst over seeds.", "",
             "| check | passed | failed | not judged | worst margin |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {p} | {f} | {s} | {_fmt(worst_margin(results, n))} |" for n, p, f, s in summarise(results)]
    failures = [r for r in results if not r.passed]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {r}" for r in failures]
    return "\n".join(lines)
