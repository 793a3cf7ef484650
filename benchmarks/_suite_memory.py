"""Child process of test_memory.py: trains a slice of what the default test run trains, in one fresh process.

argv[1] is JSON {variants, tier, out}. Each variant trains once with seed 0 through `training.train` (build,
compile, fit, evaluate, `clear_session`: what the property tests' fits do) on the embedded synthetic data, one
after the other in this process. Writes JSON to `out`: the RSS (MB) at start, after importing TensorFlow, after
loading the data and after each fit, and this process's peak RSS (`peak_rss_mb`: VmHWM, which unlike ru_maxrss
does not start at the parent's peak), measured by this process itself.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    args = json.loads(sys.argv[1])
    from overfit_core.bench import peak_rss_mb, rss_mb

    start = rss_mb()  # the interpreter and overfit_core.bench alone
    from overfit_core import DataOptions, get_config, get_variant, load_dataset
    from overfit_core.compat import tf  # noqa: F401  (TensorFlow's own share, before data and models)
    from overfit_core.training import train

    after_import = rss_mb()
    specs = [get_variant(v) for v in args["variants"]]
    data = {name: load_dataset(name, DataOptions(kind="synthetic")) for name in dict.fromkeys(s.dataset for s in specs)}
    after_data = rss_mb()
    config = get_config(args["tier"])
    fits = []
    for spec in specs:
        began = time.perf_counter()
        train(spec, data[spec.dataset], 0, config)
        fits.append({"variant": spec.name, "rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb(),
                     "seconds": time.perf_counter() - began})
    Path(args["out"]).write_text(json.dumps({
        "rss_start_mb": start, "rss_after_import_mb": after_import, "rss_after_data_mb": after_data,
        "fits": fits, "peak_rss_mb": peak_rss_mb(), "rss_end_mb": rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
