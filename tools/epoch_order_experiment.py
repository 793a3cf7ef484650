"""Why Keras 2 and Keras 3 (TensorFlow) train BatchNormalization differently: one variant, three epoch orders.

fit_shuffle: model.fit(shuffle=True) as the suite runs it; fixed_order: one permutation, then shuffle=False;
fresh_each_epoch: a new permutation per epoch, one fit call per epoch. Same seeds, synthetic data, fast tier.
Run it with each environment's interpreter (docs/matrix.md):

    PYTHONPATH=. .tox/tf215/bin/python tools/epoch_order_experiment.py bn
"""
import sys
import numpy as np
from overfit_core import DataOptions, FAST, get_variant, load_dataset
from overfit_core.compat import keras, versions, history_dict
from overfit_core.training import plan
from overfit_core.variants import build_metrics, build_model, build_optimizer

spec = get_variant(sys.argv[1] if len(sys.argv) > 1 else "bn")
ds = load_dataset(spec.dataset, DataOptions(kind="synthetic"))
todo = plan(spec, FAST)
x, y = ds.x_train[:todo["max_train_samples"]], ds.y_train[:todo["max_train_samples"]]
epochs = todo["epochs"]
out = {}
for seed in (0, 1, 2):
    for mode in ("fit_shuffle", "fixed_order", "fresh_each_epoch"):
        keras.utils.set_random_seed(seed)
        m = build_model(spec, ds.input_shape)
        m.compile(optimizer=build_optimizer(spec), loss=spec.loss, metrics=build_metrics(spec))
        rng = np.random.default_rng(seed)
        if mode == "fit_shuffle":
            loss = history_dict(m.fit(x, y, batch_size=spec.batch_size, epochs=epochs, shuffle=True, verbose=0))["loss"][-1]
        elif mode == "fixed_order":
            p = rng.permutation(len(x))
            loss = history_dict(m.fit(x[p], y[p], batch_size=spec.batch_size, epochs=epochs, shuffle=False, verbose=0))["loss"][-1]
        else:
            for e in range(epochs):
                p = rng.permutation(len(x))
                loss = history_dict(m.fit(x[p], y[p], batch_size=spec.batch_size, epochs=1, shuffle=False, verbose=0))["loss"][-1]
        out.setdefault(mode, []).append(round(loss, 4))
print(versions()["keras"], spec.name, out)
