"""Training paths that keep the arithmetic, on the same model and data, against plain `model.fit`.

`keras_default` is plain model.fit: the variant compiled with Keras' defaults and fit on numpy
arrays. Thread pools, oneDNN and the graph optimiser's min_graph_nodes are fixed when TensorFlow starts, so
those settings run in worker processes (benchmarks/_worker.py) and are compared with a worker on TF's defaults;
the paths in this process all run with the suite's min_graph_nodes=50 (overfit_core.compat).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from overfit_core import get_variant
from overfit_core.bench import fixed_steps, train_flops_per_sample

from ._support import SUITE, compiled, trainable_params
from .conftest import THREAD_SETTINGS

# conftest.py parametrises `path` from this (only `suite` with --bench-smoke)
PATHS = {
    "keras_default": {},
    "jit": {"jit_compile": True},
    "spe8": {"steps_per_execution": 8},
    "tf_data": {},  # prebuilt tf.data pipeline (batched, cached, prefetched; not shuffled)
    "suite": SUITE.compile_kwargs(),
    "suite_jit": {**SUITE.compile_kwargs(), "jit_compile": True},
    # Ceilings, not the suite's path (it stays model.fit on numpy arrays, as the course feeds it):
    "tf_data_shuffled": {**SUITE.compile_kwargs(), "jit_compile": True},  # shuffled each epoch, batched, prefetched
    "custom_loop": {},  # a hand-written epoch: tf.function over a per-epoch shuffled index, an XLA-compiled step
}
WORKER = Path(__file__).with_name("_worker.py")


def test_path(benchmark, measure, bench, data, path_variant, path):
    """Fixed steps on one path; each round is paired with a round of plain model.fit (`keras_default`)."""
    from overfit_core.compat import tf

    spec = get_variant(path_variant)
    ds = data(spec.dataset)
    steps = bench.steps(spec)
    x, y = fixed_steps(ds.x_train, ds.y_train, spec.batch_size, steps)

    def fit_arrays(model):
        return lambda: model.fit(x, y, batch_size=spec.batch_size, epochs=1, verbose=0, shuffle=True)

    model = compiled(spec, ds, **PATHS[path])
    target = fit_arrays(model)
    if path == "tf_data":
        pipeline = tf.data.Dataset.from_tensor_slices((x, y)).batch(spec.batch_size).cache().prefetch(tf.data.AUTOTUNE)

        def target():
            model.fit(pipeline, epochs=1, verbose=0)
    elif path == "tf_data_shuffled":
        pipeline = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0, reshuffle_each_iteration=True)
                    .batch(spec.batch_size).prefetch(tf.data.AUTOTUNE))

        def target():
            model.fit(pipeline, epochs=1, verbose=0)
    elif path == "custom_loop":
        target = hand_written_epoch(model, spec, x, y)

    reference = None if path == "keras_default" else ("keras_default", fit_arrays(compiled(spec, ds)))
    params = trainable_params(model)
    measure(benchmark, target, reference=reference, samples=len(x), kind="path", variant=path_variant, path=path,
            steps=steps, compile_options=str(PATHS[path]), params=params,
            flops_per_sample=train_flops_per_sample(params))


def hand_written_epoch(model, spec, x, y):
    """One epoch without model.fit: a tf.function loop over a per-epoch shuffled index, an XLA-compiled step.

    The same model, optimizer, loss and penalties as fit; no callbacks, metrics or validation.
    """
    from overfit_core.compat import keras, tensorflow_only

    tf = tensorflow_only("The hand-written training loop")
    loss_fn = keras.losses.get(spec.loss)
    xs, ys = tf.constant(x), tf.constant(y)
    n, batch = len(x), spec.batch_size
    variables = model.trainable_variables

    @tf.function(jit_compile=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(yb, model(xb, training=True)))
            if model.losses:  # the L1/L2 penalties, as fit adds them
                loss = loss + tf.add_n(model.losses)
        model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    @tf.function
    def epoch():
        order = tf.random.shuffle(tf.range(n))
        for i in tf.range(n // batch):
            idx = order[i * batch:(i + 1) * batch]
            step(tf.gather(xs, idx), tf.gather(ys, idx))

    return epoch


class Worker:
    """A training process driven over stdin/stdout; its stderr goes to a temp file for error messages."""

    def __init__(self, settings: dict):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(settings)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self._expect("ready")

    def _expect(self, word: str) -> str:
        """The worker's next line, which must be `word` or start with `word `; what follows it."""
        line = self.proc.stdout.readline().strip()
        head, _, rest = line.partition(" ")
        if head != word:
            self.proc.kill()
            self.log.seek(0)
            raise RuntimeError(f"benchmark worker said {line!r}, expected {word!r}; its stderr:\n{self.log.read()}")
        return rest

    def _ask(self, request: str, answer: str) -> str:
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return self._expect(answer)

    def fit(self) -> None:
        self._ask("fit", "done")

    def memory(self) -> dict:
        """The worker's own RSS now and its peak so far: the process that trains."""
        return json.loads(self._ask("memory", "memory"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def test_thread_setting(benchmark, measure, bench, data, path_variant, thread_setting):
    """Plain model.fit in a worker per setting; each round is paired with a round of a worker on TF's defaults."""
    spec = get_variant(path_variant)
    steps = bench.steps(spec)
    job = {"variant": path_variant, "data_dir": data.data_dir, "steps": steps}
    workers = [Worker({**job, **THREAD_SETTINGS[thread_setting]})]
    try:
        if thread_setting != "tf_default":
            workers.append(Worker({**job, **THREAD_SETTINGS["tf_default"]}))
        reference = ("tf_default", workers[1].fit) if len(workers) > 1 else None
        measure(benchmark, workers[0].fit, reference=reference, samples=steps * spec.batch_size, kind="threads",
                variant=path_variant, path=thread_setting, steps=steps, settings=str(THREAD_SETTINGS[thread_setting]),
                memory=workers[0].memory, memory_of="worker process")
    finally:
        for w in workers:
            w.close()
