"""Every variant on the suite's training path: training steps, predict, one epoch, first-epoch compile."""
from __future__ import annotations

import statistics
import time

from overfit_core import get_variant
from overfit_core.bench import fixed_steps, predict_flops_per_sample, train_flops_per_sample

from ._support import SUITE, compiled, epoch_args, trainable_params

FORMULA_TRAIN = "6 x trainable parameters (forward + backward of a dense net)"


def test_train_throughput(benchmark, measure, bench, data, variant):
    spec = get_variant(variant)
    ds = data(spec.dataset)
    steps = bench.steps(spec)
    x, y = fixed_steps(ds.x_train, ds.y_train, spec.batch_size, steps)
    model = compiled(spec, ds, **SUITE.compile_kwargs())
    params = trainable_params(model)
    measure(benchmark, lambda: model.fit(x, y, batch_size=spec.batch_size, epochs=1, verbose=0, shuffle=True),
            samples=len(x), kind="train", variant=variant, steps=steps, batch_size=spec.batch_size, params=params,
            flops_per_sample=train_flops_per_sample(params), flops_formula=FORMULA_TRAIN,
            compile_options=str(SUITE.compile_kwargs()))


def test_predict_throughput(benchmark, measure, bench, data, variant):
    spec = get_variant(variant)
    ds = data(spec.dataset)
    steps = bench.steps(spec)
    x, _ = fixed_steps(ds.x_val, ds.y_val, spec.batch_size, steps)
    model = compiled(spec, ds, **SUITE.compile_kwargs())
    params = trainable_params(model)
    measure(benchmark, lambda: model.predict(x, batch_size=spec.batch_size, verbose=0),
            samples=len(x), kind="predict", variant=variant, steps=steps, params=params,
            flops_per_sample=predict_flops_per_sample(params), flops_formula="2 x trainable parameters (forward)")


def test_epoch_time(benchmark, measure, data, variant):
    spec = get_variant(variant)
    ds = data(spec.dataset)
    x, y, kwargs, n_train = epoch_args(spec, ds)
    model = compiled(spec, ds, **SUITE.compile_kwargs())
    params = trainable_params(model)
    extra = measure(benchmark, lambda: model.fit(x, y, batch_size=spec.batch_size, epochs=1, verbose=0, shuffle=True,
                                                 **kwargs),
                    samples=n_train, kind="epoch", variant=variant, params=params, includes="validation",
                    flops_per_sample=train_flops_per_sample(params), flops_formula=FORMULA_TRAIN)
    if "seconds_median" in extra:
        benchmark.extra_info["epoch_s"] = extra["seconds_median"]


def test_first_epoch_compile(benchmark, measure, bench, data, variant):
    """A fresh model's first epoch each round; trace_compile_s is that minus a steady epoch of the last model."""
    from overfit_core.compat import clear_session

    spec = get_variant(variant)
    ds = data(spec.dataset)
    x, y, kwargs, n_train = epoch_args(spec, ds)
    built = {}

    def fresh_model():
        clear_session()
        built["model"] = compiled(spec, ds, **SUITE.compile_kwargs())

    def first_epoch():
        built["model"].fit(x, y, batch_size=spec.batch_size, epochs=1, verbose=0, shuffle=True, **kwargs)

    extra = measure(benchmark, first_epoch, setup=fresh_model, rounds=bench.compile_rounds, samples=n_train,
                    kind="first_epoch", variant=variant)
    if "seconds_median" in extra:
        steady = []
        for _ in range(1 if bench.smoke else 3):
            start = time.perf_counter()
            first_epoch()
            steady.append(time.perf_counter() - start)
        benchmark.extra_info.update(steady_epoch_s=statistics.median(steady),
                                    trace_compile_s=extra["seconds_median"] - statistics.median(steady))
