"""Worker process: one variant trained under fixed thread and oneDNN settings, one `fit` per request.

TensorFlow fixes its thread pools and oneDNN use when it starts, so each setting needs a process.
argv[1] is JSON {variant, data_dir, steps, intra, inter, onednn, min_graph_nodes}. The worker prints "ready" after a
warm-up fit (tracing excluded), answers each "fit" line on stdin with "done" and each "memory" line with
"memory {json}" (its own `memory_sample()`: RSS now and peak so far), and exits on EOF.
"""
from __future__ import annotations

import json
import os
import sys


def main() -> int:
    args = json.loads(sys.argv[1])
    if args.get("onednn") is not None:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args["onednn"] else "0"
    if args.get("min_graph_nodes") is not None:  # read when overfit_core.compat is imported, before TF starts
        os.environ["OVERFIT_TF_MIN_GRAPH_NODES"] = str(args["min_graph_nodes"])
    from overfit_core import DataOptions, get_variant, load_dataset
    from overfit_core.bench import fixed_steps, memory_sample
    from overfit_core.compat import keras, tf
    from overfit_core.variants import build_metrics, build_model, build_optimizer

    tf.config.threading.set_intra_op_parallelism_threads(args.get("intra", 0))
    tf.config.threading.set_inter_op_parallelism_threads(args.get("inter", 0))
    spec = get_variant(args["variant"])
    data_dir = args.get("data_dir")  # resolved by conftest.py (Settings); a worker reads no environment for it
    options = DataOptions(kind="real", data_dir=data_dir) if data_dir else DataOptions(kind="synthetic")
    ds = load_dataset(spec.dataset, options)
    x, y = fixed_steps(ds.x_train, ds.y_train, spec.batch_size, args["steps"])
    keras.utils.set_random_seed(0)
    model = build_model(spec, ds.input_shape)
    model.compile(optimizer=build_optimizer(spec), loss=spec.loss, metrics=build_metrics(spec))
    out, sys.stdout = sys.stdout, sys.stderr  # stray prints must not reach the protocol channel

    def fit():
        model.fit(x, y, batch_size=spec.batch_size, epochs=1, verbose=0, shuffle=True)

    fit()
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        if line.strip() == "fit":
            fit()
            out.write("done\n")
            out.flush()
        elif line.strip() == "memory":
            out.write(f"memory {json.dumps(memory_sample())}\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
