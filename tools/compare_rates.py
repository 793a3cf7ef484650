"""Measure `overfit-bench compare`'s false-alarm rate and power on record pools (docs/compare.md).

    python tools/compare_rates.py DIR:0-9=DIR:10-19 DIR:100-109=DIR:110-119 ...   # same version, disjoint seeds
    python tools/compare_rates.py CLEAN:100-109=FAULT_RUN:0-9                      # a fault's run as head

Each argument is one comparison BASE=HEAD, each side a record folder (or run folder) and the seeds taken from
it. Prints one row per comparison: compare's overall verdict and what it flagged.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overfit_core.bundle import RecordSet, load_record_set  # noqa: E402
from overfit_core.compare import compare  # noqa: E402
from overfit_core.config import parse_seeds  # noqa: E402


def side(text: str, name: str) -> RecordSet:
    path, _, seeds = text.rpartition(":")
    found = load_record_set(path, name)
    keep = set(parse_seeds(seeds))
    return RecordSet(f"{path}:{seeds}", found.kind, tuple(r for r in found.records if r.seed in keep), found.environment)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", nargs="+", help="BASE_DIR:SEEDS=HEAD_DIR:SEEDS")
    p.add_argument("--alpha", type=float, default=0.05)
    a = p.parse_args(argv)
    print("| base | head | verdict | rows | regressions (first 4) |\n|---|---|---|---|---|")
    for pair in a.pairs:
        b, _, h = pair.partition("=")
        result = compare(side(b, "base"), side(h, "head"), alpha=a.alpha)
        d = result.to_dict()
        regs = d.get("reasons", [])
        print(f"| {b} | {h} | {d['verdict']} | {len(d.get('rows', []))} | "
              f"{'; '.join(regs[:4]).replace('|', '/')}{' ...' if len(regs) > 4 else ''} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
