"""Registry of frozen variant specs; the only module that builds Keras layers."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

from .errors import ConfigError, invalid

TASKS = {  # dataset -> (loss, output units, output activation)
    "imdb": ("binary_crossentropy", 1, "sigmoid"),
    "fashion_mnist": ("sparse_categorical_crossentropy", 10, "softmax"),
    "boston": ("mse", 1, None),
}


@dataclass(frozen=True)
class VariantSpec:
    """One model of one course experiment. `hidden` are the Dense widths before the output layer."""

    name: str
    dataset: str
    hidden: tuple[int, ...]
    optimizer: str = "adam"
    learning_rate: float | None = None  # None: the optimizer's Keras default
    batch_size: int = 32
    regularizer: str | None = None  # "l1" or "l2" on every hidden kernel
    reg_strength: float = 0.001
    dropout: float = 0.0  # Dropout rate after every hidden layer
    batchnorm: bool = False  # BatchNormalization between each hidden Dense and its relu
    init_scale: float = 1.0  # multiplies the std of the Glorot-uniform kernel initialiser
    flatten: bool = False
    shuffle_labels: bool = False  # train on a seeded permutation of the training labels
    early_stopping_patience: int | None = None  # EarlyStopping(restore_best_weights=True) on val_loss
    baseline: str | None = None  # the variant this one is compared against
    tags: tuple[str, ...] = ()
    description: str = ""
    # "module:qualname@source-hash" of a user's model builder (`overfit_core.variant`); "" for the registry
    builder: str = ""

    @property
    def loss(self) -> str:
        return TASKS[self.dataset][0]

    @property
    def unregularised_metric(self) -> str:
        """History key of the loss without L1/L2 penalty (Keras' `loss` includes it)."""
        return self.loss

    @property
    def task(self) -> str:
        return {"imdb": "binary", "fashion_mnist": "multiclass", "boston": "regression"}[self.dataset]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if not d["builder"]:  # absent for the registry, so its digests and cache keys stay as they were
            del d["builder"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "VariantSpec":
        d = dict(d)
        d["hidden"], d["tags"] = tuple(d["hidden"]), tuple(d["tags"])
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


# 12.5x the sane 0.08: jittery but alive. At 5.0 Adam kills both ReLUs of `tiny` and the validation curve goes
# flat (rises on 15 of 20 real seeds only); measured in docs/properties.md.
LR_TOO_HIGH = 1.0
_IMDB = dict(dataset="imdb", batch_size=500)
_FASHION = dict(dataset="fashion_mnist", flatten=True, batch_size=32)
_SPECS = (
    VariantSpec("basic", hidden=(256, 128), tags=("baseline",), description="Dense 256-128-1", **_IMDB),
    VariantSpec("overfit", hidden=(1024, 512, 512, 512), baseline="basic", tags=("overparameterised",),
                description="Dense 1024-512-512-512-1, over-parameterised", **_IMDB),
    VariantSpec("reg_base", hidden=(128, 128), tags=("baseline",), description="Dense 128-128-1", **_IMDB),
    VariantSpec("l1", hidden=(128, 128), regularizer="l1", baseline="reg_base", tags=("regularised",),
                description="128-128-1 with L1 0.001 on hidden kernels", **_IMDB),
    VariantSpec("l2", hidden=(128, 128), regularizer="l2", baseline="reg_base", tags=("regularised",),
                description="128-128-1 with L2 0.001 on hidden kernels", **_IMDB),
    VariantSpec("dropout", hidden=(128, 128), dropout=0.3, baseline="reg_base", tags=("regularised", "stochastic"),
                description="128-128-1 with Dropout 0.3 after each hidden layer", **_IMDB),
    VariantSpec("overfit_random_labels", hidden=(1024, 512, 512, 512), shuffle_labels=True,
                tags=("overparameterised", "random_labels"),
                description="overfit on shuffled training labels (Zhang et al., 2017)", **_IMDB),
    VariantSpec("overfit_early_stop", hidden=(1024, 512, 512, 512), early_stopping_patience=5,
                tags=("overparameterised", "early_stopping"),
                description="overfit with EarlyStopping(patience=5, restore_best_weights=True)", **_IMDB),
    VariantSpec("rmsprop", hidden=(100,), optimizer="rmsprop", tags=("baseline",),
                description="model_fn: Flatten-Dense 100-Dense 10, RMSprop", **_FASHION),
    VariantSpec("adam", hidden=(100,), optimizer="adam", tags=("baseline",),
                description="model_fn: Flatten-Dense 100-Dense 10, Adam", **_FASHION),
    VariantSpec("adam_dropout", hidden=(100,), optimizer="adam", dropout=0.3, baseline="adam",
                tags=("regularised", "stochastic"), description="model_fn with the extra Dropout 0.3 layer, Adam",
                **_FASHION),
    VariantSpec("bn_basic", hidden=(128, 128), tags=("baseline",),
                description="Flatten-Dense 128-Dense 128-Dense 10", **_FASHION),
    VariantSpec("bn", hidden=(128, 128), batchnorm=True, baseline="bn_basic", tags=("batchnorm",),
                description="bn_basic with BatchNormalization before each hidden relu", **_FASHION),
    VariantSpec("bn_basic_init10", hidden=(128, 128), init_scale=10.0, tags=("init_scale",),
                description="bn_basic with initial kernel std x10", **_FASHION),
    VariantSpec("bn_init10", hidden=(128, 128), batchnorm=True, init_scale=10.0, baseline="bn_basic_init10",
                tags=("batchnorm", "init_scale"), description="bn with initial kernel std x10", **_FASHION),
    VariantSpec("tiny", dataset="boston", hidden=(2,), learning_rate=0.08, batch_size=32, tags=("regression",),
                description="Dense 2-Dense 1, Adam lr 0.08, MinMax-scaled inputs"),
    VariantSpec("tiny_lr_high", dataset="boston", hidden=(2,), learning_rate=LR_TOO_HIGH, batch_size=32,
                baseline="tiny", tags=("regression", "lr_too_high"),
                description=f"tiny with a far too high learning rate ({LR_TOO_HIGH})"),
)
VARIANTS: Mapping[str, VariantSpec] = MappingProxyType({s.name: s for s in _SPECS})

# Course experiments: variants compared on one plot.
EXPERIMENTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "capacity": ("basic", "overfit"),
    "regularisation": ("reg_base", "l1", "l2", "dropout"),
    "random_labels": ("overfit_random_labels",),
    "early_stopping": ("overfit_early_stop",),
    "optimizer": ("rmsprop", "adam", "adam_dropout"),
    "batchnorm": ("bn_basic", "bn"),
    "init_scale": ("bn_basic_init10", "bn_init10"),
    "boston": ("tiny", "tiny_lr_high"),
})


def get_variant(name: str) -> VariantSpec:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError(invalid("variant", name, f"one of {', '.join(VARIANTS)}")) from None


def variants_for(dataset: str) -> tuple[VariantSpec, ...]:
    return tuple(s for s in VARIANTS.values() if s.dataset == dataset)


# spec.builder -> the user's function(input_shape) -> keras.Model; filled by `overfit_core.variant`
USER_BUILDERS: dict[str, Callable] = {}


def _user_model(spec: VariantSpec, input_shape: tuple[int, ...]):
    from .compat import keras

    fn = USER_BUILDERS.get(spec.builder)
    if fn is None:
        raise ConfigError(f"Variant {spec.name!r} was built by {spec.builder!r}, which is not registered in this "
                          "process. Import the module that defines it (its @overfit_core.variant) first.")
    model = fn(tuple(input_shape))
    if not isinstance(model, keras.Model):
        raise ConfigError(f"The builder of variant {spec.name!r} returned a {type(model).__name__}. Expected a "
                          f"{keras.__name__}.Model (Keras {keras.__version__}, as overfit_core.compat imports it).")
    units, shape = TASKS[spec.dataset][1], model.output_shape
    if not isinstance(shape, tuple) or tuple(shape)[1:] != (units,):
        raise ConfigError(f"Variant {spec.name!r} has output shape {shape}. Expected (None, {units}) for dataset "
                          f"{spec.dataset!r}: end the model with Dense(1, 'sigmoid') for imdb, Dense(10, "
                          "'softmax') for fashion_mnist, Dense(1) for boston.")
    return model


def build_model(spec: VariantSpec, input_shape: tuple[int, ...]):
    """An uncompiled Keras model for `spec` (functional API with `keras.Input`: Keras 2 and 3)."""
    if spec.builder:
        return _user_model(spec, input_shape)
    from .compat import keras

    layers = keras.layers
    reg = {None: None, "l1": keras.regularizers.L1, "l2": keras.regularizers.L2}[spec.regularizer]
    inputs = keras.Input(shape=input_shape)
    h = layers.Flatten()(inputs) if spec.flatten else inputs
    for units in spec.hidden:
        h = layers.Dense(
            units,
            activation=None if spec.batchnorm else "relu",
            kernel_initializer=keras.initializers.VarianceScaling(spec.init_scale**2, "fan_avg", "uniform"),
            kernel_regularizer=reg(spec.reg_strength) if reg else None,
        )(h)
        if spec.batchnorm:
            h = layers.Activation("relu")(layers.BatchNormalization()(h))
        if spec.dropout:
            h = layers.Dropout(spec.dropout)(h)
    _, units, activation = TASKS[spec.dataset]
    return keras.Model(inputs, layers.Dense(units, activation=activation)(h), name=spec.name)


def build_optimizer(spec: VariantSpec):
    from .compat import keras

    config = {} if spec.learning_rate is None else {"learning_rate": spec.learning_rate}
    return keras.optimizers.get({"class_name": spec.optimizer, "config": config})


def build_metrics(spec: VariantSpec) -> list:
    """Named metric objects, so history keys are the same on Keras 2 and 3."""
    from .compat import keras

    m = keras.metrics
    unreg = spec.unregularised_metric
    if spec.task == "binary":
        return [m.BinaryAccuracy(name="accuracy"), m.BinaryCrossentropy(name=unreg)]
    if spec.task == "multiclass":
        return [m.SparseCategoricalAccuracy(name="accuracy"), m.SparseCategoricalCrossentropy(name=unreg)]
    return [m.MeanSquaredError(name=unreg), m.MeanAbsoluteError(name="mae")]


def regression_metric_objects():
    """Keras metric objects that define the suite's RMSE, MAE and MAPE."""
    from .compat import keras

    m = keras.metrics
    return {"rmse": m.RootMeanSquaredError(), "mae": m.MeanAbsoluteError(),
            "mape": m.MeanAbsolutePercentageError()}
