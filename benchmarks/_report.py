"""Ratios printed at the end of a benchmark run, all measured in that one run."""
from __future__ import annotations


def summary_lines(results: dict) -> list[str]:
    lines = []
    if results:
        peak = next(iter(results.values()))["peak_gflops"]
        lines.append(f"float32 matmul peak (calibration): {peak:.1f} GFLOP/s")
    for e in results.values():
        if e["kind"] == "train":
            lines.append(f"train {e['variant']:<22} {e['samples_per_s']:9.0f} samples/s  {e['gflops']:6.1f} GFLOP/s"
                         f"  {e['fraction_of_peak']:.0%} of peak (median round; best round "
                         f"{e.get('fraction_of_peak_best_round', float('nan')):.0%})")
    paired = [e for e in results.values() if "speedup" in e]
    for e in paired:
        ref = results_by_path(results, e).get(e["reference"], {})
        frac = (f"; of peak, median/best round: {e['fraction_of_peak']:.0%}/{e['fraction_of_peak_best_round']:.0%} "
                f"vs {ref['fraction_of_peak']:.0%}/{ref['fraction_of_peak_best_round']:.0%}"
                if "fraction_of_peak_best_round" in e and "fraction_of_peak_best_round" in ref else "")
        lines.append(f"{e['kind']} on {e['variant']}: {e['path']} vs {e['reference']}: {e['speedup']:.3f}x speed "
                     f"(median of {e['paired_rounds']} paired rounds{frac})")
    return lines


def results_by_path(results: dict, e: dict) -> dict:
    return {r["path"]: r for r in results.values() if r["kind"] == e["kind"] and r.get("variant") == e["variant"]
            and "path" in r}
