"""Train one variant on one dataset with one seed and return an immutable RunRecord."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from .config import TrainConfig
from .datasets import Dataset, get_dataset
from .errors import ConfigError, invalid, positive_int
from .records import KernelStats, RecordStore, RunRecord, cache_key, run_id
from .variants import VariantSpec, build_metrics, build_model, build_optimizer, regression_metric_objects

NEAR_ZERO = 1e-3


def check_seed(seed) -> int:
    return positive_int("seed", seed, minimum=0)


def plan(spec: VariantSpec, config: TrainConfig) -> dict:
    """What one fit of `spec` does in `config`'s tier: its epochs, training samples and validation split."""
    return {"epochs": spec.epochs_for(config.tier), "max_train_samples": spec.max_samples_for(config.tier),
            "validation_split": get_dataset(spec.dataset).fit_validation_split}


# The package's own code that decides what a fit produces; a change to any of it gives new cache keys.
TRAINING_SOURCES = ("compat.py", "config.py", "preprocessing.py", "records.py", "strategies.py", "training.py",
                    "variants.py", "datasets")


@functools.lru_cache(maxsize=None)
def code_digest(root: Path = Path(__file__).parent) -> str:
    """sha256 of the training code (`TRAINING_SOURCES`): part of every record's cache key."""
    h = hashlib.sha256()
    for name in TRAINING_SOURCES:
        path = root / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def record_key(spec: VariantSpec, dataset: Dataset, seed: int, config: TrainConfig, strategy=None) -> str:
    from .compat import versions

    params = dict(dataset.params)
    if strategy is not None:  # a distributed fit is another record: batches split over replicas, all-reduce
        from .strategies import describe

        params["strategy"] = describe(strategy)
    params["code"] = code_digest()  # records are never reused across changes of the training code
    return cache_key(spec, config, seed, dataset.sha256, params, versions(), plan(spec, config))


def kernel_stats(model, named_like=None) -> tuple[KernelStats, ...]:
    """L1, L2 and near-zero share of every Dense kernel, under the layer names of `named_like` (default: `model`)."""
    from .compat import keras, to_numpy

    out = []
    for layer, named in zip(model.layers, (named_like or model).layers):
        if isinstance(layer, keras.layers.Dense):
            w = to_numpy(layer.kernel).astype(np.float64)
            out.append(KernelStats(named.name, int(w.size), float(np.abs(w).sum()), float(np.sqrt((w**2).sum())),
                                   float((np.abs(w) < NEAR_ZERO).mean())))
    return tuple(out)


def train(spec: VariantSpec, dataset: Dataset, seed: int, config: TrainConfig,
          *, callbacks: list | None = None, strategy=None) -> RunRecord:
    """Seed everything, build, compile (adding the un-regularised loss metric), fit, summarise.

    With a `tf.distribute` strategy the model is built and compiled in its scope; `batch_size` is global.
    """
    from .compat import (clear_session, distributed_compile_kwargs, enable_op_determinism, history_dict, keras,
                         versions)

    seed = check_seed(seed)
    if spec.dataset != dataset.name:
        raise ConfigError(invalid("dataset", dataset.name, f"the dataset of variant {spec.name!r}: {spec.dataset!r}"))
    todo = plan(spec, config)
    epochs, n, split = todo["epochs"], todo["max_train_samples"], todo["validation_split"]
    x, y = dataset.x_train[:n], dataset.y_train[:n]
    if spec.shuffle_labels:
        y = np.random.default_rng(seed).permutation(y)
    fit_kwargs = {"validation_split": split} if split else {"validation_data": (dataset.x_val, dataset.y_val)}
    n_fit = int(x.shape[0] * (1 - (split or 0)))  # fit's validation_split holds out the last samples, unshuffled
    x_v, y_v = (x[n_fit:], y[n_fit:]) if split else (dataset.x_val, dataset.y_val)
    # The training loss Keras logs is a running mean over the epoch with Dropout active; a gap needs the
    # training loss at the epoch's end in inference mode, on a fixed training slice the size of the validation set.
    n_probe = min(n_fit, len(y_v))

    if config.deterministic:
        enable_op_determinism()
    keras.utils.set_random_seed(seed)  # python, numpy and TF
    stopped_early = True
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = built = build_model(spec, dataset.input_shape)
            optimizer = build_optimizer(spec)
            reused = COMPILED.reuse(spec, config, dataset.input_shape, model, optimizer, strategy)
            if reused is None:
                model.compile(optimizer=optimizer, loss=spec.loss, metrics=build_metrics(spec),
                              **distributed_compile_kwargs(strategy, config.compile_kwargs()))
            else:
                model = reused
        probe = None if strategy is not None else _train_eval_callback(x[:n_probe], y[:n_probe], spec.loss)
        callbacks = [keras.callbacks.TerminateOnNaN(), *([probe] if probe else []), *(callbacks or [])]
        if spec.early_stopping_patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=spec.early_stopping_patience, restore_best_weights=True))
        start = time.perf_counter()
        hist = model.fit(x, y, batch_size=spec.batch_size, epochs=epochs, verbose=0, shuffle=True,
                         callbacks=callbacks, **fit_kwargs)
        wall = time.perf_counter() - start
        COMPILED.keep(spec, config, dataset.input_shape, model, strategy)
        history = history_dict(hist)
        if probe is not None:
            history.update(probe.curves)
        epochs_run = len(history.get("loss", ()))
        stopped_early = epochs_run < epochs
        diverged = not all(math.isfinite(v) for v in history.get("loss", [math.nan]))
        evaluation, preds, targets = _evaluate(spec, model, dataset, history, strategy)
        evaluation.update(constant_predictor(spec.task, y[:n_fit], y_v))
        kernels = kernel_stats(model, named_like=built)  # a kept model's layers keep their first names
    finally:
        clear_session(collect=stopped_early)
    n_train = n_fit
    return RunRecord(
        spec=spec, config=config, seed=seed, dataset=dataset.name, data_kind=dataset.kind, data_source=dataset.source,
        data_sha256=dataset.sha256, plan=todo, history=history, kernels=kernels, evaluation=evaluation,
        predictions=preds, targets=targets, versions=versions(), n_train=n_train, epochs_run=epochs_run,
        wall_time_s=wall, samples_per_s=n_train * epochs_run / wall if wall > 0 else 0.0,
        status="diverged" if diverged else "ok", cache_key=record_key(spec, dataset, seed, config, strategy),
    )


class CompiledModels:
    """Compiled models kept between fits of one built-in variant, so that Keras traces their functions once.

    Keras 3 traces a new model's train, test and predict functions on its first fit: about 1 s of a small fit. A
    later fit of the same variant, config and input shape takes the kept model and sets every variable of its
    layers and optimizer (weights, BatchNormalization statistics, Dropout's seed state, the optimizer's step and
    slots) to those of the model and optimizer just built under this fit's seed, the state a fresh compile starts
    from. Records are bit-identical either way (`tests/test_model_reuse.py`; README: Suite time).
    `training.COMPILED.enabled = False` turns it off; never under a strategy, on Keras 2, on JAX or PyTorch, or for
    users' builders (their layers may hold state outside Keras variables).
    """

    def __init__(self, size: int = 24, enabled: bool = True):
        self.size = size  # more than the built-in variants: a worker of the suite keeps all it trains
        self.enabled = enabled
        self.models: OrderedDict = OrderedDict()

    def _key(self, spec: VariantSpec, config: TrainConfig, input_shape, strategy):
        from .compat import BACKEND, KERAS_MAJOR, keras

        if not self.enabled or strategy is not None or spec.builder or KERAS_MAJOR < 3 or BACKEND != "tensorflow":
            return None
        # keras.__version__ names a fault injected since (faults.inject): a model traced before it would not see it
        return spec, config, tuple(input_shape), keras.__version__

    def reuse(self, spec, config, input_shape, fresh, optimizer, strategy=None):
        """The kept model for this fit, set to the state of `fresh` and `optimizer`; None when there is none."""
        key = self._key(spec, config, input_shape, strategy)
        model = self.models.pop(key, None) if key is not None else None  # back in `keep` once its fit succeeded
        if model is None:
            return None
        optimizer.build(fresh.trainable_variables)  # its step and slots as a fresh compile's first fit starts them
        pairs = self.state_pairs(model, fresh, optimizer)
        if pairs is None:
            return None
        for kept, new in pairs:
            kept.assign(new)
        return model

    @staticmethod
    def state_pairs(model, fresh, optimizer) -> list | None:
        """(variable of the kept model or its optimizer, the same variable of `fresh` or `optimizer`), or None when
        their structures differ."""
        layers = list(zip(model.layers, fresh.layers))
        pairs = [p for kept, new in layers for p in zip(kept.variables, new.variables)]
        pairs += zip(model.optimizer.variables, optimizer.variables)
        same = (len(model.layers) == len(fresh.layers) and len(model.optimizer.variables) == len(optimizer.variables)
                and all(len(kept.variables) == len(new.variables) for kept, new in layers)
                and all(tuple(kept.shape) == tuple(new.shape) and kept.dtype == new.dtype for kept, new in pairs))
        return pairs if same else None

    def keep(self, spec, config, input_shape, model, strategy=None) -> None:
        key = self._key(spec, config, input_shape, strategy)
        if key is not None:
            self.models[key] = model
            while len(self.models) > self.size:
                self.models.popitem(last=False)


COMPILED = CompiledModels()

TRAIN_EVAL = "train_eval_"  # history prefix of the inference-mode training-slice metrics


def _train_eval_callback(x, y, loss: str):
    """A callback that computes the loss (and accuracy) in inference mode on (x, y) after every epoch, into `.curves`.

    `predict_on_batch` (the compiled predict function, traced once per kept model) and numpy, not `model.evaluate`:
    evaluate's per-call set-up cost a 40-epoch fit 60% more; an eager model call gives the same numbers at about the
    same cost (within the noise of 34 fits).
    """
    from .compat import keras, to_numpy

    y = np.asarray(y, np.float64).reshape(len(y), -1)

    class TrainEval(keras.callbacks.Callback):
        curves: dict[str, list[float]] = {}

        def on_train_begin(self, logs=None):
            self.curves = {}

        def on_epoch_end(self, epoch, logs=None):
            pred = np.concatenate([to_numpy(self.model.predict_on_batch(x[i:i + PROBE_BATCH])).astype(np.float64)
                                   for i in range(0, len(x), PROBE_BATCH)]).reshape(len(y), -1)
            for k, v in pointwise_scores(loss, y, pred).items():
                self.curves.setdefault(TRAIN_EVAL + k, []).append(v)

    return TrainEval()


PROBE_BATCH = 1024
EPSILON = 1e-7  # Keras' backend epsilon, which its cross-entropies clip probabilities to


def pointwise_scores(loss: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """`loss` (named as Keras names it) and, for classification, accuracy, of predictions `pred` for targets `y`."""
    if loss == "mse":
        return {loss: float(np.mean((pred - y) ** 2))}
    p = np.clip(pred, EPSILON, 1 - EPSILON)
    if loss == "binary_crossentropy":
        return {loss: float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
                "accuracy": float(np.mean((pred > 0.5) == (y > 0.5)))}
    if loss == "sparse_categorical_crossentropy":
        labels = y[:, 0].astype(np.int64)
        p = p / p.sum(axis=1, keepdims=True)
        return {loss: float(-np.mean(np.log(p[np.arange(len(labels)), labels]))),
                "accuracy": float(np.mean(np.argmax(pred, axis=1) == labels))}
    raise ValueError(f"loss={loss!r} is not supported: expected mse, binary_crossentropy or "
                     "sparse_categorical_crossentropy")  # plain: overfit-bench repro renders this function as is


def constant_predictor(task: str, y_train, y_val) -> dict[str, float]:
    """Loss (and accuracy) of the best constant prediction fitted to the training targets: the bar to beat.

    Regression: the training mean, MSE. Classification: the training class frequencies, cross-entropy,
    and the majority class's accuracy.
    """
    yt, yv = np.asarray(y_train, np.float64).reshape(-1), np.asarray(y_val, np.float64).reshape(-1)
    if task == "regression":
        mean = yt.mean()
        return {"constant_train_loss": float(np.mean((yt - mean) ** 2)),
                "constant_val_loss": float(np.mean((yv - mean) ** 2))}
    labels_t, labels_v = yt.astype(np.int64), yv.astype(np.int64)
    prior = np.bincount(labels_t, minlength=int(max(labels_t.max(), labels_v.max())) + 1) / len(labels_t)
    prior = np.clip(prior, 1e-7, 1.0)
    return {"constant_train_loss": float(-np.mean(np.log(prior[labels_t]))),
            "constant_val_loss": float(-np.mean(np.log(prior[labels_v]))),
            "chance_val_accuracy": float(np.mean(labels_v == int(np.argmax(prior))))}


def _evaluate(spec: VariantSpec, model, dataset: Dataset, history, strategy=None) -> tuple[dict, tuple, tuple]:
    if spec.task != "regression":
        evaluation = {"val_accuracy": history["val_accuracy"][-1] if history.get("val_accuracy") else math.nan}
        if spec.early_stopping_patience is not None:  # the restored (best) weights, evaluated afresh
            scores = model.evaluate(dataset.x_val, dataset.y_val, batch_size=spec.batch_size, verbose=0,
                                    return_dict=True)
            evaluation["restored_val_loss"] = float(scores["loss"])
        return evaluation, (), ()
    # A distributed predict gathers the uneven last batches of the workers, which multi-worker collectives reject.
    pred = model.predict(dataset.x_val, verbose=0) if strategy is None else model(dataset.x_val, training=False)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    target = np.asarray(dataset.y_val, dtype=np.float64).reshape(-1)
    evaluation = {}
    for name, metric in regression_metric_objects().items():
        metric.update_state(target.reshape(-1, 1), pred.reshape(-1, 1))
        evaluation[name] = float(metric.result())
    return evaluation, tuple(pred.tolist()), tuple(target.tolist())


def train_cached(spec: VariantSpec, dataset: Dataset, seed: int, config: TrainConfig,
                 store: RecordStore | None, *, retrain: bool = False,
                 on_trained: Callable[[RunRecord], None] | None = None, strategy=None) -> tuple[RunRecord, bool]:
    """(record, from_cache): reuse a stored record with the same key, else train and store it.

    A file lock per record makes processes sharing the store (``pytest -n 2``) train it once.
    """
    name = run_id(spec.name, dataset.name, seed, config.tier)
    key = record_key(spec, dataset, check_seed(seed), config, strategy) if store is not None else ""
    if store is not None and not retrain:
        cached = store.load(name, key)
        if cached is not None:
            return cached, True
    with store.lock(name, key) if store is not None else contextlib.nullcontext():
        if store is not None and not retrain:  # another process may have trained it while this one waited
            cached = store.load(name, key)
            if cached is not None:
                return cached, True
        record = train(spec, dataset, seed, config, strategy=strategy)
        if store is not None:
            store.save(record)
    if on_trained:
        on_trained(record)
    return record, False
