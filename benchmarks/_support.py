"""Models and fit arguments shared by the benchmark modules; layers come only from overfit_core.variants."""
from __future__ import annotations

import math

from overfit_core import FAST
from overfit_core.training import plan
from overfit_core.variants import VariantSpec, build_metrics, build_model, build_optimizer

SUITE = FAST  # the suite's training path: the default tier of `overfit-bench run` and of the property tests


def compiled(spec: VariantSpec, dataset, seed: int = 0, **compile_kwargs):
    from overfit_core.compat import backend_compile_kwargs, keras

    compile_kwargs = backend_compile_kwargs(compile_kwargs)
    keras.utils.set_random_seed(seed)
    model = build_model(spec, dataset.input_shape)
    model.compile(optimizer=build_optimizer(spec), loss=spec.loss, metrics=build_metrics(spec), **compile_kwargs)
    return model


def trainable_params(model) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def epoch_args(spec: VariantSpec, dataset, config=SUITE):
    """(x, y, fit kwargs, training samples per epoch): the arrays and validation `training.train` uses."""
    todo = plan(spec, config)
    n = todo["max_train_samples"]
    x, y = dataset.x_train[:n], dataset.y_train[:n]
    split = todo["validation_split"]
    kwargs = {"validation_split": split} if split else {"validation_data": (dataset.x_val, dataset.y_val)}
    return x, y, kwargs, int(len(x) * (1 - (split or 0)))
