"""Ratios printed at the end of a benchmark run, all measured in that one run."""
from __future__ import annotations


def summary_lines(results: dict, session: dict | None = None, suite: dict | None = None,
                  calibration=None) -> list[str]:
    """`calibration`: the session's conftest.Calibration (its numpy peak is printed where it was measured)."""
    lines = []
    if results:
        peak = next(iter(results.values()))["peak_gflops"]
        lines.append(f"float32 matmul peak (calibration): {peak:.1f} GFLOP/s")
    if calibration is not None and calibration.numpy_gflops:
        tf_peak = calibration.peak_gflops
        lines.append(f"numpy float32 matmul peak (machine calibration, the gate's divisor): "
                     f"{calibration.numpy_gflops:.1f} GFLOP/s ({calibration.numpy_blas})"
                     + (f"; TensorFlow's is {tf_peak / calibration.numpy_gflops:.2f}x it" if tf_peak else ""))
    if calibration is not None and calibration.tf_slowdown:
        lines.append(f"injected: TensorFlow's matmul calibration slowed by {calibration.tf_slowdown:.0%}")
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
    return lines + memory_lines(results, session or {}, suite)


MOST = 5  # benchmarks listed by growth per round


def _mb(value, fmt: str = ".0f") -> str:
    return "n/a" if value is None else format(value, fmt)


def memory_lines(results: dict, session: dict, suite: dict | None) -> list[str]:
    """Peak RSS and growth per benchmark (of the process that trained), the suite's bound, the session's peak."""
    lines = []
    grown = sorted(((e["rss_growth_per_round_mb"], name, e) for name, e in results.items()
                    if e.get("rss_growth_per_round_mb") is not None), key=lambda t: t[:2])
    if grown:
        lines.append(f"memory: {len(grown)} benchmarks carry peak RSS and growth in extra_info; the most growth "
                     f"per timed round:")
    for per_round, name, e in grown[::-1][:MOST]:
        where = "" if e.get("peak_rss_set_in_rounds") else ", reached before its rounds"
        lines.append(f"  {name}: {per_round:+.1f} MB per round ({_mb(e['rss_growth_mb'], '+.1f')} MB in all), "
                     f"peak RSS {_mb(e['peak_rss_mb'])} MB{where} ({e.get('memory_of', '?')})")
    if suite:
        lines.append(f"memory of the suite slice ({suite['fits']} fits in a fresh process): peak RSS "
                     f"{_mb(suite['peak_rss_mb'])} MB, bound {_mb(suite['peak_rss_limit_mb'])} MB; "
                     f"{_mb(suite['rss_growth_per_fit_mb'], '+.1f')} MB per fit")
    if session.get("peak_rss_mb") is not None:
        lines.append(f"memory of this session: the pytest process's peak RSS {_mb(session['peak_rss_mb'])} MB")
    return lines


def results_by_path(results: dict, e: dict) -> dict:
    return {r["path"]: r for r in results.values() if r["kind"] == e["kind"] and r.get("variant") == e["variant"]
            and "path" in r}
