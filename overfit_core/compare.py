"""`overfit-bench compare BASE HEAD`: two sets of records (seeds), metric by metric and property by property.

Records are grouped by (variant, dataset, data kind, tier); each row holds one quantity's values over the
seeds of each side: the headline metrics of the runs, and the margin, effect and pass count of every check
evaluated per seed as the suite does. A row's change is judged by a two-sided Mann-Whitney U test, corrected
over all rows compared (Holm, or Benjamini-Hochberg), and counts only when it is also at least `min_effect`
of the base median. Throughput comes from pytest-benchmark files, through bench-gate's machine-normalised
ratio (the records' samples/s include tracing). Verdict: "regressed", "changed" or "same" (docs/compare.md).
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .bundle import RecordSet
from .checks import CHECKS, bindings, evaluate, gap, hidden_kernels, measured_failures, tail
from .errors import ConfigError, invalid
from .records import RunRecord, atomic_write
from .stats import CORRECTIONS, correct, diff_of_medians_ci, mann_whitney, min_exact_p, min_seeds_per_side

COMPARE_SCHEMA = 1
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.10
DEFAULT_CORRECTION = "holm"
DEFAULT_THROUGHPUT_TOLERANCE = 0.20
CI_RESAMPLES = 1999  # bootstrap resamples of each row's interval of the change (shown, never gated on)
VERDICTS = ("regressed", "changed", "same")
TOO_FEW = "too few seeds"
MAX_REASONS = 25  # findings listed at the top of the Markdown (all of them are in the tables and the JSON)
Group = tuple[str, str, str]  # (dataset, data kind, tier)


def _val(r: RunRecord) -> tuple[float, ...]:
    return r.curve(f"val_{r.spec.unregularised_metric}")


def _train(r: RunRecord) -> tuple[float, ...]:
    return r.curve(r.spec.unregularised_metric)


def _kernel_sum(norm: str) -> Callable[[RunRecord], float]:
    return lambda r: float(sum(getattr(k, norm) for k in hidden_kernels(r))) if hidden_kernels(r) else math.nan


# key -> (label, value of one record; nan where it does not apply). Losses are the un-regularised metric.
METRICS: Mapping[str, tuple[str, Callable[[RunRecord], float]]] = {
    "min_val_loss": ("minimum validation loss", lambda r: float(np.min(_val(r)))),
    "min_val_epoch": ("epoch of the minimum", lambda r: float(np.argmin(_val(r)) + 1)),
    "final_train_loss": ("final training loss", lambda r: tail(_train(r))),
    "final_val_loss": ("final validation loss", lambda r: tail(_val(r))),
    "gap": ("gap (validation - training)", gap),
    "final_val_accuracy": ("final validation accuracy",
                           lambda r: tail(r.curve("val_accuracy")) if "val_accuracy" in r.history else math.nan),
    "rmse": ("RMSE (held-out)", lambda r: float(r.evaluation.get("rmse", math.nan))),
    "mae": ("MAE (held-out)", lambda r: float(r.evaluation.get("mae", math.nan))),
    "mape": ("MAPE % (held-out)", lambda r: float(r.evaluation.get("mape", math.nan))),
    "hidden_l1": ("hidden-kernel L1 norm (sum)", _kernel_sum("l1")),
    "hidden_l2": ("hidden-kernel L2 norm (sum)", _kernel_sum("l2")),
}
QUANTITIES = {"passes": "seeds passed", "margin": "margin", "effect": "effect"}


@dataclass
class Row:
    """One quantity of one variant (or one bound check) in one group, on both sides."""

    section: str  # "metric" or "property"
    dataset: str
    kind: str
    tier: str
    subject: str  # the variant, or the check's variants (Binding.label)
    quantity: str  # a METRICS key, or "passes" / "margin" / "effect"
    check: str = ""
    base: tuple[float, ...] = ()  # per seed (passes: 1.0 passed, 0.0 failed; skipped seeds left out)
    head: tuple[float, ...] = ()
    stronger: str = ">"  # property rows: the direction in which the property is stronger
    base_median: float = math.nan
    head_median: float = math.nan
    change: float = math.nan  # (head - base median) / |base median|
    ci_low: float = math.nan  # bootstrap interval of head - base median, at 1 - alpha
    ci_high: float = math.nan
    p: float = math.nan
    p_adjusted: float = math.nan
    verdict: str = ""
    why: str = ""

    @property
    def label(self) -> str:
        return METRICS[self.quantity][0] if self.section == "metric" else QUANTITIES[self.quantity]

    @property
    def where(self) -> str:
        """'overfit on imdb (synthetic, fast)' or 'val_loss_diverges of overfit on imdb (synthetic, fast)'."""
        who = f"{self.check} of {self.subject}" if self.check else self.subject
        return f"{who} on {self.dataset} ({self.kind}, {self.tier})"

    @property
    def group(self) -> Group:
        return (self.dataset, self.kind, self.tier)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "label": self.label}


@dataclass
class Comparison:
    """What `compare` found: the overall verdict and why, the rows, and what could not be compared."""

    verdict: str
    reasons: list[str]
    rows: list[Row]
    groups: list[Group]
    notes: list[str]
    mismatches: list[str]
    settings: dict[str, Any]
    base: dict[str, Any]
    head: dict[str, Any]
    throughput: dict[str, Any] | None = None  # bench-gate's result, as rows and lines; None: not compared
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == "regressed" else 0

    def to_dict(self) -> dict[str, Any]:
        return {"schema": COMPARE_SCHEMA, "verdict": self.verdict, "reasons": self.reasons,
                "settings": self.settings, "base": self.base, "head": self.head, "mismatches": self.mismatches,
                "notes": self.notes, "groups": [{"dataset": d, "data_kind": k, "tier": t} for d, k, t in self.groups],
                "rows": [r.to_dict() for r in self.rows], "throughput": self.throughput}


# --- matching the two sides ------------------------------------------------------------------

def _key(r: RunRecord) -> tuple[str, str, str, str]:
    return (r.variant, r.dataset, r.data_kind, r.config.tier)


def _seeds(seeds: Iterable[int]) -> str:
    from .report import seed_ranges

    return seed_ranges(seeds) or "none"


def explain_mismatch(base: Iterable[RunRecord], head: Iterable[RunRecord]) -> list[str]:
    """Why some (variant, dataset, data kind, tier) groups are on one side only: each dimension that differs."""
    bk, hk = {_key(r) for r in base}, {_key(r) for r in head}
    lines = []
    for i, dim in ((3, "tier"), (2, "data kind"), (1, "dataset"), (0, "variant")):
        b, h = {k[i] for k in bk}, {k[i] for k in hk}
        if b != h:
            only = [f"only in base: {', '.join(sorted(b - h))}" if b - h else "",
                    f"only in head: {', '.join(sorted(h - b))}" if h - b else ""]
            lines.append(f"{dim}s differ: base has {', '.join(sorted(b))}; head has {', '.join(sorted(h))} "
                         f"({'; '.join(x for x in only if x)})")
    for side, keys in (("base", bk - hk), ("head", hk - bk)):
        if keys:
            shown = ", ".join(f"{v} on {d} ({k}, {t})" for v, d, k, t in sorted(keys)[:6])
            more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
            lines.append(f"{len(keys)} (variant, dataset, data kind, tier) group{'s' * (len(keys) != 1)} only in "
                         f"{side}, not compared: {shown}{more}")
    return lines


# --- rows ------------------------------------------------------------------------------------

def _metric_rows(base: Sequence[RunRecord], head: Sequence[RunRecord], notes: list[str]) -> list[Row]:
    by: dict[tuple, tuple[list[RunRecord], list[RunRecord]]] = {}
    for side, records in enumerate((base, head)):
        for r in records:
            by.setdefault(_key(r), ([], []))[side].append(r)
    rows = []
    for (variant, dataset, kind, tier), sides in sorted(by.items(), key=lambda kv: (kv[0][1:], kv[0][0])):
        if not all(sides):
            continue
        ok = []
        for name, records in zip(("base", "head"), sides):
            diverged = sorted(r.seed for r in records if r.status != "ok")
            if diverged:
                notes.append(f"{name}: {variant} on {dataset} ({kind}, {tier}) diverged on seed(s) "
                             f"{_seeds(diverged)}; left out of its metric rows")
            ok.append(sorted((r for r in records if r.status == "ok"), key=lambda r: r.seed))
        for quantity, (_, fn) in METRICS.items():
            values = [_values(map(_safe(fn), recs)) for recs in ok]
            if any(values):
                rows.append(Row("metric", dataset, kind, tier, variant, quantity, base=values[0], head=values[1]))
    return rows


def _values(values: Iterable[float]) -> tuple[float, ...]:
    """The finite values, to 12 significant digits: values equal but for float round-off are ties, not a change
    (a ratio computed in another order differs in its last bit, and Mann-Whitney would rank it)."""
    return tuple(float(f"{v:.12g}") for v in values if math.isfinite(v))


def metric_value(quantity: str, record: RunRecord) -> float:
    """One METRICS quantity of one record, nan where the record cannot give it."""
    return _safe(METRICS[quantity][1])(record)


def _safe(fn: Callable[[RunRecord], float]) -> Callable[[RunRecord], float]:
    def value(r: RunRecord) -> float:
        try:
            return float(fn(r))
        except (KeyError, ValueError, IndexError, TypeError, ZeroDivisionError):
            return math.nan
    return value


def evaluate_checks(records: Sequence[RunRecord], side: str, notes: list[str]) -> dict[tuple, list]:
    """Every check binding on `records`, seed by seed, as the suite evaluates it: (check, variants, dataset,
    data kind, tier) -> [CheckResult per seed]. A check that raises is named in `notes` and left out."""
    by: dict[tuple[str, str, int], dict[str, RunRecord]] = {}
    for r in records:
        by.setdefault((r.data_kind, r.config.tier, r.seed), {})[r.variant] = r
    out: dict[tuple, list] = {}
    for (kind, tier, seed), recs in sorted(by.items()):
        for b in bindings({v: r.spec for v, r in recs.items()}):
            if not all(v in recs for v in b.variants):
                continue
            try:
                result = evaluate(b, recs)
            except Exception as e:  # a check that cannot read these records (an older record lacks a key)
                notes.append(f"{side}: {b.check.name} on {b.label} ({kind}, {tier}, seed {seed}) could not be "
                             f"evaluated: {type(e).__name__}: {e}")
                continue
            out.setdefault((b.check.name, b.label, recs[b.variants[0]].dataset, kind, tier), []).append(result)
    return out


def _stronger(check: str) -> str:
    effect = getattr(CHECKS.get(check), "effect", None)  # Check.effect, where checks define effect sizes
    return getattr(effect, "direction", ">") if effect is not None else ">"


def _property_rows(base: Sequence[RunRecord], head: Sequence[RunRecord], notes: list[str]) -> list[Row]:
    sides = [evaluate_checks(base, "base", notes), evaluate_checks(head, "head", notes)]
    rows = []
    for key in sorted(set(sides[0]) & set(sides[1]), key=lambda k: (k[2:], list(CHECKS).index(k[0])
                                                                     if k[0] in CHECKS else 99, k[1])):
        check, label, dataset, kind, tier = key
        results = [[r for r in side[key] if not r.skipped] for side in sides]
        common = dict(dataset=dataset, kind=kind, tier=tier, subject=label, check=check)
        # A seed the calibration measured failing is an expected failure in the suite (cases.expected_failure):
        # it counts as passing here too, so only failures the suite would report can flip a check.
        known = measured_failures(check, label, kind, tier)
        passes = [tuple(float(r.passed or r.seed in known) for r in rs) for rs in results]
        rows.append(Row("property", quantity="passes", base=passes[0], head=passes[1], **common))
        for quantity, stronger in (("margin", ">"), ("effect", _stronger(check))):
            values = [_values(float(getattr(r, quantity, math.nan)) for r in rs) for rs in results]
            if all(values):
                rows.append(Row("property", quantity=quantity, base=values[0], head=values[1], stronger=stronger,
                                **common))
    for name, one, other in (("base", sides[0], sides[1]), ("head", sides[1], sides[0])):
        for check, label, dataset, kind, tier in sorted(set(one) - set(other)):
            notes.append(f"{check} on {label} ({dataset}, {kind}, {tier}) is judged in {name} only")
    return rows


ROW_KEY = ("section", "dataset", "kind", "tier", "subject", "quantity", "check")


def baseline_rows(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """Compare's per-seed values of `records`, row by row: what a committed baseline keeps (no records needed)."""
    notes: list[str] = []
    rows = _metric_rows(records, records, notes) + _property_rows(records, records, notes)
    return [{**{k: getattr(r, k) for k in ROW_KEY}, "stronger": r.stronger, "values": list(r.base)} for r in rows]


def _side_rows(found: RecordSet, notes: list[str]) -> dict[tuple, dict[str, Any]]:
    rows = found.environment["rows"] if found.kind == "baseline" else baseline_rows(found.records)
    return {tuple(r[k] for k in ROW_KEY): r for r in rows}


def _rows_with_baseline(base: RecordSet, head: RecordSet, notes: list[str]) -> tuple[list[Row], list[str]]:
    """Rows where one side (or both) is a baseline: matched by (section, dataset, kind, tier, subject, quantity)."""
    sides = [_side_rows(base, notes), _side_rows(head, notes)]
    shared = [k for k in sides[0] if k in sides[1]]
    if not shared:
        raise ConfigError(f"{base.path} and {head.path} have no row in common: expected the same variants, data "
                          "kinds and tier as the baseline (its rows name them).")
    mismatches = [f"{len(set(one) - set(other))} rows only in {name}, not compared" for name, one, other in
                  (("base", sides[0], sides[1]), ("head", sides[1], sides[0])) if set(one) - set(other)]
    rows = []
    for k in shared:
        b, h = sides[0][k], sides[1][k]
        fields = dict(zip(ROW_KEY, k))
        rows.append(Row(fields.pop("section"), base=tuple(b["values"]), head=tuple(h["values"]),
                        stronger=b.get("stronger", ">"), **fields))
    return rows, mismatches


# --- statistics and verdicts -------------------------------------------------------------------

def _relative(base: float, head: float) -> float:
    if head == base:
        return 0.0
    return (head - base) / abs(base) if base != 0 else math.copysign(math.inf, head - base)


def judge(rows: Sequence[Row], *, alpha: float, correction: str, min_effect: float) -> dict[str, Any]:
    """Fill in each row's medians, change, p-values and verdict; returns what the correction covered."""
    need = min_seeds_per_side(alpha)
    tested = []
    for row in rows:
        if not row.base or not row.head:
            row.verdict, row.why = "not judged", "no judged seed on one side"
            continue
        row.base_median, row.head_median = float(np.median(row.base)), float(np.median(row.head))
        if row.quantity == "passes":
            b, h = (f"{int(sum(v))}/{len(v)}" for v in (row.base, row.head))
            if all(row.base) and not all(row.head):
                row.verdict, row.why = "flipped", f"passed on every base seed ({b}), failed on some head seed ({h})"
            elif all(row.head) and not all(row.base):
                row.verdict, row.why = "fixed", f"failed on some base seed ({b}), passes on every head seed ({h})"
            else:
                row.verdict, row.why = "same", f"{b} against {h}"
            continue
        row.change = _relative(row.base_median, row.head_median)
        if min(len(row.base), len(row.head)) < need:
            row.verdict = TOO_FEW
            row.why = (f"{len(row.base)} against {len(row.head)} seeds: Mann-Whitney needs at least {need} per side "
                       f"to reach p < {alpha:g}")
            continue
        row.p = mann_whitney(row.base, row.head)
        ci = diff_of_medians_ci(row.base, row.head, 1 - alpha, CI_RESAMPLES, seed=0)
        row.ci_low, row.ci_high = ci.low, ci.high
        tested.append(row)
    for row, p in zip(tested, correct([r.p for r in tested], correction)):
        row.p_adjusted = p
        if p >= alpha:
            row.verdict, row.why = "same", f"not significant (p adjusted {p:.3g} >= {alpha:g})"
        elif abs(row.change) < min_effect:
            row.verdict, row.why = "same", (f"significant but {abs(row.change):.1%} of the base median, below the "
                                            f"minimum effect {min_effect:.0%}")
        elif row.section == "property":
            weaker = row.head_median < row.base_median if row.stronger == ">" else row.head_median > row.base_median
            row.verdict = "weakened" if weaker else "strengthened"
            row.why = f"{row.label} {row.change:+.1%} (p adjusted {p:.3g})"
        else:
            row.verdict, row.why = "changed", f"{row.label} {row.change:+.1%} (p adjusted {p:.3g})"
    # The smallest exact p at n against n, times the rows (Holm's first step, and BH's for a lone change).
    m = len(tested)
    alone = next((n for n in range(need, 200) if m and min_exact_p(n) * m < alpha), None)
    return {"rows_tested": m, "min_seeds_per_side": need, "min_seeds_per_side_corrected": alone}


def _throughput(base_bench, head_bench, tolerance: float) -> tuple[dict[str, Any], list[str], list[str]]:
    """bench-gate on the two benchmark files at `tolerance`: (JSON summary, regressions, other changes)."""
    from .bench import DEFAULT_BENCH_THRESHOLD, BASES, compare as gate_compare, format_result, load_run

    b, h = load_run(base_bench, "base_bench"), load_run(head_bench, "head_bench")
    result = gate_compare(b, h, tolerance, max(tolerance, DEFAULT_BENCH_THRESHOLD))
    rows = []
    for r in result.rows:
        verdict = "slower" if r.failed else "faster" if r.slowdown < -tolerance else "same"
        rows.append({"benchmark": r.name, "base_samples_per_s": r.baseline, "head_samples_per_s": r.current,
                     "slowdowns": dict(r.slowdowns), "verdict": verdict})
    groups = [{"test_function": g.name, "benchmarks": g.size, "slowdowns": dict(g.slowdowns),
               "verdict": "slower" if g.failed else "faster" if g.slowdown < -tolerance else "same"}
              for g in result.groups]
    summary = {"basis": result.basis, "basis_label": BASES[result.basis], "tolerance": tolerance,
               "bench_threshold": result.bench_threshold, "passed": result.passed, "rows": rows, "groups": groups,
               "skipped": list(result.skipped), "notes": list(result.notes),
               "lines": format_result(result, b, h)}
    regressions = [f"throughput: {g['test_function']} {g['slowdowns'][result.basis]:+.1%} {BASES[result.basis]} "
                   f"(tolerance {tolerance:.0%})" for g in groups if g["verdict"] == "slower"]
    regressions += [f"throughput: {r['benchmark']} {r['slowdowns'][result.basis]:+.1%} {BASES[result.basis]} "
                    f"(single benchmark beyond {result.bench_threshold:.0%})" for r in rows if r["verdict"] == "slower"]
    changes = [f"throughput: {g['test_function']} faster by {-g['slowdowns'][result.basis]:.1%} "
               f"{BASES[result.basis]}" for g in groups if g["verdict"] == "faster"]
    return summary, regressions, changes


SIDE_VERSIONS = ("tensorflow", "keras", "numpy", "backend")


def _version(versions: Mapping[str, str], key: str) -> str:
    """A side's library version; records from before backends were recorded all ran on TensorFlow."""
    return versions.get(key, "tensorflow" if key == "backend" else "?")


def _side(found: RecordSet) -> dict[str, Any]:
    if found.kind == "baseline":
        v = found.environment.get("versions", {})
        return {"path": found.path, "kind": found.kind, "records": 0,
                "versions": {k: [_version(v, k)] for k in SIDE_VERSIONS},
                "seeds": _seeds(found.environment.get("seeds", [])), "cpu_model": None}
    versions = {k: sorted({_version(r.versions, k) for r in found.records}) for k in SIDE_VERSIONS}
    return {"path": found.path, "kind": found.kind, "records": len(found.records), "versions": versions,
            "seeds": _seeds(r.seed for r in found.records),
            "cpu_model": found.environment.get("cpu_model") if found.environment else None}


def _check_number(argument: str, value, low: float, high: float, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
        raise ConfigError(invalid(argument, value, expected))
    return float(value)


def compare(base: RecordSet, head: RecordSet, *, alpha: float = DEFAULT_ALPHA, correction: str = DEFAULT_CORRECTION,
            min_effect: float = DEFAULT_MIN_EFFECT, base_bench=None, head_bench=None,
            throughput_tolerance: float = DEFAULT_THROUGHPUT_TOLERANCE) -> Comparison:
    """Compare two record sets (`bundle.load_record_set`); ConfigError when nothing matches (saying why)."""
    alpha = _check_number("alpha", alpha, 1e-12, 1, "a significance level strictly between 0 and 1, e.g. 0.05")
    min_effect = _check_number("min_effect", min_effect, 0, math.inf, "a fraction >= 0, e.g. 0.1 for 10%")
    if correction not in CORRECTIONS:
        raise ConfigError(invalid("correction", correction, f"one of {', '.join(CORRECTIONS)}"))
    if (base_bench is None) != (head_bench is None):
        raise ConfigError(invalid("head_bench" if head_bench is None else "base_bench", None,
                                  "a pytest-benchmark JSON for each side, or for neither",
                                  "Pass both --base-bench and --head-bench."))
    notes = [f"base: {n}" for n in base.notes] + [f"head: {n}" for n in head.notes]
    if "baseline" in (base.kind, head.kind):
        rows, mismatches = _rows_with_baseline(base, head, notes)
    else:
        mismatches = explain_mismatch(base.records, head.records)
        shared = {_key(r) for r in base.records} & {_key(r) for r in head.records}
        if not shared:
            raise ConfigError(f"{base.path} and {head.path} have no (variant, dataset, data kind, tier) in common, so "
                              f"nothing can be compared: {'; '.join(mismatches)}. Expected two runs of the same "
                              "variants, data kind and tier (e.g. both `overfit-bench run --tier fast --data "
                              "synthetic`).")
        b = [r for r in base.records if _key(r) in shared]
        h = [r for r in head.records if _key(r) in shared]
        rows = _metric_rows(b, h, notes) + _property_rows(b, h, notes)
    covered = judge(rows, alpha=alpha, correction=correction, min_effect=min_effect)
    regressions = [f"{r.where}: {r.why}" for r in rows if r.verdict in ("flipped", "weakened")]
    changes = [f"{r.where}: {r.why}" for r in rows if r.verdict in ("changed", "strengthened", "fixed")]
    throughput = None
    if base_bench is not None:
        tol = _check_number("throughput_tolerance", throughput_tolerance, 1e-12, 10, "a fraction, e.g. 0.2 for 20%")
        throughput, slower, faster = _throughput(base_bench, head_bench, tol)
        regressions, changes = regressions + slower, changes + faster
    else:
        notes.append("throughput was not compared: the records' samples/s include tracing; pass --base-bench and "
                     "--head-bench (pytest-benchmark JSONs) to compare it machine-normalised")
    too_few = sum(r.verdict == TOO_FEW for r in rows)
    if too_few:
        notes.append(f"{too_few} row{'s' * (too_few != 1)} had too few seeds for a verdict: Mann-Whitney needs at "
                     f"least {covered['min_seeds_per_side']} seeds per side at alpha {alpha:g}")
    if covered["rows_tested"] and covered["min_seeds_per_side_corrected"]:
        notes.append(f"{correction} over {covered['rows_tested']} rows: a lone change can be significant only with "
                     f"at least {covered['min_seeds_per_side_corrected']} seeds per side")
    verdict = "regressed" if regressions else "changed" if changes else "same"
    groups = list(dict.fromkeys(r.group for r in rows))
    settings = {"alpha": alpha, "correction": correction, "min_effect": min_effect, "test": "Mann-Whitney U, two-sided",
                "throughput_tolerance": throughput_tolerance, **covered}
    return Comparison(verdict, regressions + changes, rows, groups, notes, mismatches, settings, _side(base),
                      _side(head), throughput)


# --- output --------------------------------------------------------------------------------------

def _fmt(v: float, spec: str = ".4g") -> str:
    return "–" if v is None or not math.isfinite(v) else format(v, spec)


def _median_cell(row: Row, side: str) -> str:
    values = row.base if side == "base" else row.head
    if row.quantity == "passes":
        return f"{int(sum(values))}/{len(values)}"
    return f"{_fmt(row.base_median if side == 'base' else row.head_median)} ({len(values)})"


def _change_cell(row: Row) -> str:
    if row.quantity == "passes" or not math.isfinite(row.change) and not math.isinf(row.change):
        return "–"
    return format(round(row.change, 3) + 0.0, "+.1%")


def _ci_cell(row: Row) -> str:
    return "–" if not math.isfinite(row.ci_low) else f"[{_fmt(row.ci_low, '+.3g')}, {_fmt(row.ci_high, '+.3g')}]"


HEAD = ["base median (n)", "head median (n)", "change", "interval of head - base", "p", "p adjusted", "verdict"]


def _cells(row: Row) -> list[str]:
    return [_median_cell(row, "base"), _median_cell(row, "head"), _change_cell(row), _ci_cell(row),
            _fmt(row.p, ".3g"), _fmt(row.p_adjusted, ".3g"), row.verdict]


def _md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|",
            *("| " + " | ".join(r) + " |" for r in esc)]


def _title(c: Comparison) -> str:
    return f"overfit-bench compare: {c.verdict.upper()}"


def _intro(c: Comparison) -> list[str]:
    s = c.settings

    def side(name, d):
        v = d["versions"]
        return (f"- {name}: `{d['path']}` ({d['kind']}, {d['records']} records, seeds {d['seeds']}; TensorFlow "
                f"{', '.join(v['tensorflow'])}, Keras {', '.join(v['keras'])}, backend {', '.join(v.get('backend', ['?']))})")

    return [side("base", c.base), side("head", c.head),
            f"- statistics: {s['test']} per row, {s['correction']} over {s['rows_tested']} rows, alpha {s['alpha']:g}, "
            f"minimum effect {s['min_effect']:.0%} of the base median; at least {s['min_seeds_per_side']} seeds per "
            f"side for a verdict; intervals: percentile bootstrap at {1 - s['alpha']:.0%}"]


def render_markdown(c: Comparison) -> str:
    """The comparison as Markdown: verdict and why, then a metrics and a properties table per group."""
    out = [f"# {_title(c)}", "", *_intro(c), ""]
    if c.reasons:
        shown = c.reasons[:MAX_REASONS] + ([f"... and {len(c.reasons) - MAX_REASONS} more (every row is below, and "
                                             f"in --json)"] if len(c.reasons) > MAX_REASONS else [])
        out += ["Why:", "", *(f"- {r}" for r in shown), ""]
    if c.mismatches:
        out += ["Not compared:", "", *(f"- {m}" for m in c.mismatches), ""]
    for group in c.groups:
        dataset, kind, tier = group
        rows = [r for r in c.rows if r.group == group]
        out += [f"## {dataset} ({kind} data, tier {tier})", ""]
        metrics = [r for r in rows if r.section == "metric"]
        if metrics:
            out += _md_table(["variant", "metric", *HEAD], ([r.subject, r.label, *_cells(r)] for r in metrics)) + [""]
        props = [r for r in rows if r.section == "property"]
        if props:
            out += _md_table(["check", "variants", "quantity", *HEAD],
                             ([r.check, r.subject, r.label, *_cells(r)] for r in props)) + [""]
    if c.throughput:
        out += ["## Throughput (bench-gate)", "", "```", *c.throughput["lines"], "```", ""]
    if c.notes:
        out += ["Notes:", "", *(f"- {n}" for n in c.notes), ""]
    out.append(f"verdict: {c.verdict}")
    return "\n".join(out) + "\n"


def _clean(obj):
    """JSON-safe: nan and inf become null (strict JSON has neither), tuples lists."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(c: Comparison) -> str:
    return json.dumps(_clean(c.to_dict()), indent=1, sort_keys=True, allow_nan=False)


def render_html(c: Comparison) -> str:
    """The comparison as one self-contained page, in the report's skeleton (`html_report.page`)."""
    from .html_report import _table, page

    def e(x) -> str:
        return html.escape(str(x), quote=True)

    def cell(text: str, key=None) -> str:
        numeric = isinstance(key, float)
        sort = "" if key is None else f' data-sort="{e(repr(key) if numeric and math.isfinite(key) else "")}"'
        cls = ' class="n"' if numeric else ""
        return f"<td{cls}{sort}>{e(text)}</td>"

    def tr(r: Row, lead: Sequence[str]) -> str:
        bad = r.verdict in ("flipped", "weakened")
        keys = [r.base_median, r.head_median, r.change, r.ci_low, r.p, r.p_adjusted, None]
        return (f'<tr class="{"fail" if bad else ""}">' + "".join(cell(x) for x in lead)
                + "".join(cell(t, k) for t, k in zip(_cells(r), keys)) + "</tr>")

    banner = {"regressed": "fail", "changed": "changed", "same": "pass"}[c.verdict]
    why = "".join(f"<li>{e(r)}</li>" for r in c.reasons)
    body = [f'<div class="banner {banner}" id="banner">{e(c.verdict.upper())}<small>'
            f'{e(len(c.reasons))} finding{"s" * (len(c.reasons) != 1)}; '
            f'{e(sum(r.verdict == TOO_FEW for r in c.rows))} rows with too few seeds.</small></div>',
            "<ul>" + "".join(f"<li>{e(line[2:].replace('`', ''))}</li>" for line in _intro(c)) + "</ul>"]
    if why:
        body.append(f'<h2>Why</h2><ul class="failures">{why}</ul>')
    if c.mismatches:
        body.append("<h2>Not compared</h2><ul>" + "".join(f"<li>{e(m)}</li>" for m in c.mismatches) + "</ul>")
    n = range(2, 2 + len(HEAD) - 1)
    for group in c.groups:
        dataset, kind, tier = group
        rows = [r for r in c.rows if r.group == group]
        metrics = [tr(r, [r.subject, r.label]) for r in rows if r.section == "metric"]
        props = [tr(r, [r.check, r.subject, r.label]) for r in rows if r.section == "property"]
        body.append(f"<section><h2>{e(dataset)} ({e(kind)} data, tier {e(tier)})</h2>"
                    + (_table(["variant", "metric", *HEAD], metrics, "metrics", n) if metrics else "")
                    + (_table(["check", "variants", "quantity", *HEAD], props, "properties",
                              range(3, 3 + len(HEAD) - 1)) if props else "") + "</section>")
    if c.throughput:
        body.append("<h2>Throughput (bench-gate)</h2><pre>" + e("\n".join(c.throughput["lines"])) + "</pre>")
    if c.notes:
        body.append('<h2>Notes</h2><ul class="note">' + "".join(f"<li>{e(x)}</li>" for x in c.notes) + "</ul>")
    sub = f"base {c.base['path']} against head {c.head['path']}"
    return page(_title(c), sub, "".join(body))


def write_outputs(c: Comparison, *, json_path=None, html_path=None) -> list[Path]:
    """Write the JSON and HTML outputs asked for, atomically."""
    written = []
    if json_path:
        written.append(atomic_write(json_path, to_json(c) + "\n"))
    if html_path:
        written.append(atomic_write(html_path, render_html(c)))
    return written
