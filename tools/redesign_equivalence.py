"""Evaluate a folder of schema-1 run records (written before the redesign) with the case pipeline of today.

    python tools/redesign_equivalence.py OUT/records

prints the same check table as `overfit-bench run`, so that the table printed by the old code on the
same records can be diffed against it (docs/architecture.md, "Same results before and after").
Schema-1 records lack `data_kind` and `plan`: both are derived from what they do hold.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from overfit_core.cases import run_records
from overfit_core.records import SCHEMA, RunRecord
from overfit_core.report import checks_table
from overfit_core.variants import get_variant

# The checks that existed before the redesign (it added penalty_raises_train_loss).
CHECKS_BEFORE = ("val_loss_diverges", "bigger_overfits_more", "dropout_narrows_gap", "l1_shrinks_weights",
                 "l2_shrinks_weights", "regularisation_narrows_gap", "l1_sparser_than_l2", "batchnorm_speeds_convergence",
                 "batchnorm_tames_init_scale", "optimizers_both_learn", "lr_too_high_is_jittery",
                 "memorises_random_labels", "early_stopping_matches_min", "regression_metrics", "learns")


def upgrade(d: dict) -> RunRecord:
    """A schema-1 record dict as a record of today's schema, its spec taken from today's registry."""
    old_config = d["config"]
    epochs = dict(map(tuple, old_config["epochs"]))
    spec = get_variant(d["spec"]["name"])
    d = {**d, "schema": SCHEMA, "spec": spec.to_dict(),
         "config": {k: old_config[k] for k in ("tier", "deterministic", "jit_compile", "steps_per_execution")},
         "data_kind": "synthetic" if d["data_source"].startswith("synthetic") else "real",
         "plan": {"epochs": epochs.get(spec.name, epochs.get(spec.dataset)),
                  "max_train_samples": dict(map(tuple, old_config["max_train_samples"])).get(spec.name),
                  "validation_split": dict(map(tuple, old_config["validation_split"])).get(spec.dataset)}}
    return RunRecord.from_dict(d)


def main(folder: str) -> int:
    records = [upgrade(json.loads(p.read_text())) for p in sorted(Path(folder).glob("*.json"))]
    report, _ = run_records(records, checks=CHECKS_BEFORE)
    print("\n".join(checks_table(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
