"""Would a variant's checks still hold if the tier trained it for fewer epochs? Measured on existing records.

    python tools/epoch_budget.py RECORD_DIR [RECORD_DIR ...] --variant overfit --epochs 20,25,30,40,50
    python tools/epoch_budget.py /work/pool/real /work/pool/synthetic --doc docs/epoch-budget.md

A fit of E epochs under the same seed trains exactly the first E epochs of a longer fit (the same shuffles and
random streams; tests/test_training.py::test_fewer_epochs_train_the_first_epochs_of_a_longer_fit), so every curve
of a record cut to its first E entries is the record E epochs would have given. Checks that read only the curves
and the constant predictor's figures are judged exactly on such cuts; a binding whose check reads the final model
(kernels, evaluation, predictions: found by running it on records whose such fields raise when read) is marked as not
judged exactly. No training: it reads the calibration pools that tools/calibrate.py reads (seeds 0-19 calibrate,
100-119 are held out).

Per binding of the variant and data kind: pass rates and the thinnest margin with the thresholds in force (those
calibrated on E = the tier's epochs), and with thresholds re-derived on the cut calibration seeds by
tools/calibrate.py's rule (what a recalibration at E would give), verified on the cut held-out seeds.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate import derive, load, results, verify  # noqa: E402

from overfit_core import checks  # noqa: E402
from overfit_core.config import parse_seeds  # noqa: E402
from overfit_core.errors import ConfigError, invalid  # noqa: E402
from overfit_core.records import RunRecord, atomic_write  # noqa: E402
from overfit_core.variants import builtin_variants  # noqa: E402

CONSTANTS = ("constant_", "chance_")  # evaluation's figures of the constant predictor: from the labels, not the model


class _ReadsFinalModel(Exception):
    """A check read a field that the model at the end of the longer fit wrote (a cut cannot give it)."""


class _FinalModelField:
    """Stands for kernels, predictions or targets: reading it, in any way, raises."""

    def _read(self, *args, **kwargs):
        raise _ReadsFinalModel

    __iter__ = __getitem__ = __len__ = __bool__ = __array__ = _read


class _Evaluation(dict):
    """The record's evaluation, whose constant-predictor figures alone may be read."""

    def __getitem__(self, key):
        if not key.startswith(CONSTANTS):
            raise _ReadsFinalModel
        return super().__getitem__(key)

    def get(self, key, default=None):
        if not key.startswith(CONSTANTS):
            raise _ReadsFinalModel
        return super().get(key, default)


def exact(binding, records) -> bool:
    """Whether `binding` reads only curves and constant-predictor figures of `records` (one seed's), so that a cut
    is judged exactly: it is run once with every final-model field of the records raising when read."""
    guarded = {v: dataclasses.replace(r, kernels=_FinalModelField(), predictions=_FinalModelField(),
                                      targets=_FinalModelField(),
                                      evaluation=MappingProxyType(_Evaluation(r.evaluation)))
               for v, r in records.items()}
    try:
        checks.evaluate(binding, guarded)
    except _ReadsFinalModel:
        return False
    return True


def cut(record: RunRecord, epochs: int) -> RunRecord:
    """`record` as `epochs` epochs would have left its curves (the final-model fields are left as they are)."""
    if epochs > record.epochs_run:
        raise ConfigError(invalid("epochs", epochs, f"at most the {record.epochs_run} epochs {record.run_id} ran",
                                  "Cut only to fewer epochs than the records hold."))
    return dataclasses.replace(record, history={k: list(v)[:epochs] for k, v in record.history.items()},
                               epochs_run=epochs)


def budget(records, variant: str, epochs: int, cal_seeds, held_seeds) -> list[dict]:
    """One row per (check, binding, kind) that involves `variant`, its records cut to `epochs`."""
    cut_records = {key: {v: cut(r, epochs) if v == variant else r for v, r in recs.items()}
                   for key, recs in records.items()}
    in_force_cal, in_force_held = verify(cut_records, cal_seeds), verify(cut_records, held_seeds)
    rederived = derive(results(cut_records, cal_seeds))
    original = checks.calibration
    patched = lambda: {**original(), **rederived}  # noqa: E731
    patched.cache_clear = original.cache_clear
    checks.calibration = patched
    try:
        new_cal, new_held = verify(cut_records, cal_seeds), verify(cut_records, held_seeds)
    finally:
        checks.calibration = original
        original.cache_clear()
    specs = {s.name: s for s in builtin_variants()}
    exactly = {}  # (check, label) -> judged exactly on a cut, from the first seed's records that hold its variants
    for recs in cut_records.values():
        for b in checks.bindings(specs):
            if variant in b.variants and all(v in recs for v in b.variants):
                exactly.setdefault((b.check.name, b.label), exact(b, recs))
    rows = []
    for key in sorted(in_force_cal):
        name, label, kind, tier = key
        if variant not in label.split("-"):
            continue
        entry = rederived.get(f"{name}|{label}|{kind}|{tier}", {})
        rows.append({"epochs": epochs, "check": name, "label": label, "kind": kind, "exact": exactly[(name, label)],
                     "median": in_force_cal[key]["median_effect"], "values": entry.get("values"),
                     "in_force": (in_force_cal[key], in_force_held[key]),
                     "rederived": entry.get("threshold"), "rule": entry.get("rule", "-"),
                     "after": (new_cal[key], new_held[key])})
    return rows


def _rate(r: dict) -> str:
    fails = f"; fails {', '.join(r['failed_seeds'])}" if r["failed_seeds"] else ""
    return f"{r['passed']}/{r['n']} ({r['min_margin']:.2f}){fails}"


def table(rows: list[dict]) -> str:
    lines = ["| epochs | check | variants | data | calibration median [min, max] | in force: calibration / held-out "
             "pass (thinnest margin) | re-derived threshold (rule) | re-derived: calibration / held-out pass |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r["values"] or {"median": r["median"], "min": float("nan"), "max": float("nan")}
        note = "" if r["exact"] else " (not judged exactly: reads the final model)"
        thr = f"{r['rederived']:.3g}" if r["rederived"] is not None else "sign"
        lines.append(f"| {r['epochs']} | {r['check']}{note} | {r['label']} | {r['kind']} | {v['median']:.3g} "
                     f"[{v['min']:.3g}, {v['max']:.3g}] | {_rate(r['in_force'][0])} / {_rate(r['in_force'][1])} | "
                     f"{thr} ({r['rule'].split(' (')[0].split(':')[0]}) | {_rate(r['after'][0])} / "
                     f"{_rate(r['after'][1])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="+")
    p.add_argument("--variant", default="overfit")
    p.add_argument("--epochs", default="25,30,40,50", help="comma-separated epoch counts to cut to")
    p.add_argument("--calibration-seeds", default="0-19")
    p.add_argument("--held-out-seeds", default="100-119")
    p.add_argument("--doc", help="also write the table to this markdown file")
    a = p.parse_args(argv)
    try:
        epochs = [int(e) for e in a.epochs.split(",")]
    except ValueError:
        print(f"epoch_budget: {invalid('--epochs', a.epochs, 'comma-separated whole numbers such as 25,30,50')}",
              file=sys.stderr)
        return 2
    records = load(a.dirs)
    records = {k: v for k, v in records.items() if a.variant in v}
    if not records:
        print(f"epoch_budget: no records of variant {a.variant!r} in {', '.join(a.dirs)}. Give the folders "
              "`overfit-bench run --out DIR` wrote (DIR or DIR/records) for the variant and its baselines.",
              file=sys.stderr)
        return 2
    cal, held = set(parse_seeds(a.calibration_seeds)), set(parse_seeds(a.held_out_seeds))
    try:
        rows = [row for e in epochs for row in budget(records, a.variant, e, cal, held)]
    except ConfigError as e:
        print(f"epoch_budget: {e}", file=sys.stderr)
        return 2
    text = table(rows)
    print(text)
    if a.doc:
        versions = sorted({f"TF {r.versions.get('tensorflow')}, Keras {r.versions.get('keras')}, {r.config.tier} tier"
                           for recs in records.values() for r in recs.values()})
        atomic_write(Path(a.doc), f"# `{a.variant}` cut to fewer epochs\n\nWritten by `python tools/epoch_budget.py "
                                  f"{' '.join(argv if argv is not None else sys.argv[1:])}` ({'; '.join(versions)}; "
                                  f"calibration seeds {a.calibration_seeds}, held-out seeds {a.held_out_seeds}). "
                                  "Each record's curves cut to its first E epochs are what E epochs train "
                                  f"(tools/epoch_budget.py). Margins as in docs/effects.md.\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
