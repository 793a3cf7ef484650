"""The suite's own trainer, `training.train`, against plain build + compile + fit of the same model and data.

Every runner ends with `clear_session`, as `train` does. Rounds are paired: `suite_train` with plain fit on
the suite's compile options (the trainer's own overhead), and that with plain fit on Keras' defaults (what
the options buy).
"""
from __future__ import annotations

import dataclasses

from overfit_core import get_variant
from overfit_core.training import train

from ._support import SUITE, compiled, epoch_args

# conftest.py parametrises `runner` from this (only `suite_train` with --bench-smoke)
RUNNERS = ("suite_train", "plain_fit_same_options", "plain_fit_keras_default")
REFERENCE = {"suite_train": "plain_fit_same_options", "plain_fit_same_options": "plain_fit_keras_default"}


def test_trainer(benchmark, measure, bench, data, path_variant, runner):
    from overfit_core.compat import clear_session

    epochs = bench.trainer_epochs
    spec = dataclasses.replace(get_variant(path_variant), epochs=(("*", epochs),))  # how long it trains is on the spec
    ds = data(spec.dataset)
    config = dataclasses.replace(SUITE, tier="bench")
    x, y, kwargs, n_train = epoch_args(spec, ds, config)

    def plain(options):
        def run():
            model = compiled(spec, ds, **options)
            model.fit(x, y, batch_size=spec.batch_size, epochs=epochs, verbose=0, shuffle=True, **kwargs)
            clear_session()
        return run

    runners = {"suite_train": lambda: train(spec, ds, 0, config),
               "plain_fit_same_options": plain(config.compile_kwargs()),
               "plain_fit_keras_default": plain({})}
    ref = REFERENCE.get(runner)
    measure(benchmark, runners[runner], reference=(ref, runners[ref]) if ref else None, rounds=bench.trainer_rounds,
            samples=n_train * epochs, kind="trainer", variant=path_variant, path=runner, epochs=epochs,
            includes="build, compile, fit with validation, clear_session (train: and its record)")
