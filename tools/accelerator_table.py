"""One Markdown table of training throughput and share of matmul peak from benchmark JSON files.

    python tools/accelerator_table.py RUN.json [RUN.json ...]

Each file is one `pytest benchmarks ... --benchmark-json` run (tools/accelerator_bench.sh writes one per backend
and precision). Rows: the `train` benchmarks (test_train_throughput); columns per run.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def runs(paths):
    for path in paths:
        data = json.loads(Path(path).read_text())
        rows = [b["extra_info"] for b in data.get("benchmarks", [])]
        peak = next((r for r in rows if r.get("calibration") == "matmul_peak"), {})
        train = {r["variant"]: r for r in rows if r.get("kind") == "train" and "samples_per_s" in r}
        machine = data.get("machine_info", {})
        name = f"{machine.get('backend', '?')} {next(iter(train.values()), {}).get('precision', '?')}"
        yield name, machine, peak, train


def table(paths) -> list[str]:
    found = list(runs(paths))
    if not found:
        return ["no benchmark JSON given"]
    lines = []
    for name, machine, peak, _ in found:
        lines.append(f"- {name}: {machine.get('accelerator') or machine.get('cpu_model')}, Keras {machine.get('keras')}"
                     f" on {machine.get('backend')} {machine.get('backend_version')}; matmul peak "
                     f"{peak.get('peak_gflops', float('nan')) / 1000:.1f} TFLOP/s ({peak.get('dtype', '?')}, "
                     f"n={peak.get('n', '?')})")
    variants = sorted({v for *_, train in found for v in train}, key=lambda v: min(
        (-t[v]["flops_per_sample"] for *_, t in found if v in t), default=0))
    lines += ["", "| variant | batch | " + " | ".join(f"{n}: samples/s, GFLOP/s, of peak" for n, *_ in found) + " |",
              "|---|---|" + "---|" * len(found)]
    for v in variants:
        batch = next((t[v].get("batch_size") for *_, t in found if v in t), "?")
        cells = [f"{t[v]['samples_per_s']:,.0f}, {t[v]['gflops']:,.1f}, {t[v]['fraction_of_peak']:.2%}" if v in t else "–"
                 for *_, t in found]
        lines.append(f"| {v} | {batch} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("\n".join(table(sys.argv[1:])))
