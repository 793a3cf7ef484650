"""The variant registry: frozen specs, built-in and users' alike, and the only module that builds Keras layers.

Built-in variants are `VariantSpec`s registered below. A user's model is a function
`build(input_shape) -> keras.Model` registered with `@variant(...)`; it joins the same registry.
Which checks a variant gets follows from its tags, fields and `baseline` (`overfit_core.checks`).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from .config import TIERS
from .datasets import check_dataset_name, get_dataset
from .errors import ConfigError, invalid, positive_int

Epochs = tuple[tuple[str, int], ...]  # (tier or "*", epochs)


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
    epochs: Epochs = ()  # per tier; a tier without an entry uses the dataset's epochs for it
    max_train_samples: int | None = None  # train on the first N samples (the dataset's cap for the tier also applies)
    experiment: str = ""  # the course experiment it belongs to (one plot and table in the report); "": its own name
    # "module:qualname@source-hash" of a user's model builder (`@variant`); "" for the built-in variants
    builder: str = ""

    def __post_init__(self):
        for tier, n in self.epochs:
            if tier != "*" and tier not in TIERS:
                raise ConfigError(invalid("epochs", self.epochs, f"(tier, n) pairs with tiers from {', '.join(TIERS)} "
                                          "or '*'"))
            positive_int(f"epochs[{tier!r}]", n)
        positive_int("max_train_samples", self.max_train_samples, allow_none=True)
        positive_int("batch_size", self.batch_size)
        positive_int("early_stopping_patience", self.early_stopping_patience, allow_none=True)

    @property
    def loss(self) -> str:
        return get_dataset(self.dataset).loss

    @property
    def unregularised_metric(self) -> str:
        """History key of the loss without L1/L2 penalty (Keras' `loss` includes it)."""
        return self.loss

    @property
    def task(self) -> str:
        return get_dataset(self.dataset).task

    def epochs_for(self, tier: str) -> int:
        table = dict(self.epochs)
        n = table.get(tier, table.get("*", get_dataset(self.dataset).epochs.get(tier)))
        if n is None:
            raise ConfigError(f"Variant {self.name!r} sets no epochs for tier {tier!r}, and dataset {self.dataset!r} "
                              f"has none for it. Give the variant epochs={{{tier!r}: N}} (or epochs=N for every tier).")
        return n

    def max_samples_for(self, tier: str) -> int | None:
        caps = [n for n in (self.max_train_samples, get_dataset(self.dataset).max_train_samples.get(tier)) if n]
        return min(caps) if caps else None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "VariantSpec":
        d = dict(d)
        d["hidden"], d["tags"] = tuple(d["hidden"]), tuple(d["tags"])
        d["epochs"] = tuple(tuple(p) for p in d.get("epochs", ()))
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


# --- tags -------------------------------------------------------------------------------------

_TAGS: dict[str, str] = {
    "baseline": "a reference model; binds nothing by itself",
    "regularised": "descriptive", "stochastic": "descriptive", "regression": "descriptive",
    "random_labels": "descriptive (shuffle_labels=True is what binds memorises_random_labels)",
    "early_stopping": "descriptive (early_stopping_patience is what binds early_stopping_matches_min)",
}
TAGS: Mapping[str, str] = MappingProxyType(_TAGS)  # tag -> what it binds; checks add the tags they read


def register_tag(name: str, meaning: str) -> None:
    """Declare a tag (checks declare the tags they bind on); a second meaning is appended."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ConfigError(invalid("tag", name, "a lower-case identifier such as 'dropout'"))
    old = _TAGS.get(name)
    _TAGS[name] = meaning if not old or old in ("descriptive", meaning) else f"{old}; {meaning}"


# --- the registry -----------------------------------------------------------------------------

_REGISTRY: dict[str, VariantSpec] = {}
VARIANTS: Mapping[str, VariantSpec] = MappingProxyType(_REGISTRY)  # every registered variant, built-in first
_BUILDERS: dict[str, Callable] = {}  # spec.builder -> the user's build(input_shape) -> keras.Model
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")  # names end up in run ids and record file names


def register_variant(spec: VariantSpec, build: Callable | None = None) -> VariantSpec:
    """Add `spec` to the registry; a user's builder may re-register its own name (a module reloaded)."""
    if not isinstance(spec.name, str) or not _NAME.match(spec.name):
        raise ConfigError(invalid("name", spec.name, "a letter followed by letters, digits or underscores"))
    check_dataset_name(spec.dataset)
    unknown = [t for t in spec.tags if t not in _TAGS]
    if unknown:
        raise ConfigError(invalid("tags", spec.tags, f"tags from {', '.join(_TAGS)}",
                                  f"Unknown: {', '.join(map(repr, unknown))}. Put free text in `description`."))
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec:
        if not old.builder:
            raise ConfigError(f"Variant name {spec.name!r} is taken by the built-in variant of that name "
                              f"({old.description}). Choose another name.")
        if old.builder.split("@")[0] != spec.builder.split("@")[0]:
            raise ConfigError(f"Variant name {spec.name!r} is registered already, by {old.builder.split('@')[0]}; "
                              f"{spec.builder.split('@')[0] or 'a built-in spec'} cannot take it too. "
                              "Choose another name.")
    _REGISTRY[spec.name] = spec
    if build is not None:
        _BUILDERS[spec.builder] = build
    return spec


def get_variant(name: str) -> VariantSpec:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(invalid("variant", name, f"one of {', '.join(_REGISTRY)}",
                                  "Register your own with @overfit_core.variant before using it.")) from None


def builtin_variants() -> tuple[VariantSpec, ...]:
    return tuple(s for s in _REGISTRY.values() if not s.builder)


def variants_for(dataset: str, *, builtin: bool = True) -> tuple[VariantSpec, ...]:
    return tuple(s for s in (builtin_variants() if builtin else _REGISTRY.values()) if s.dataset == dataset)


def experiments(specs: Iterable[VariantSpec] | None = None) -> dict[str, tuple[str, ...]]:
    """experiment -> its variant names, in registry order (a spec without one is its own experiment)."""
    out: dict[str, tuple[str, ...]] = {}
    for s in (_REGISTRY.values() if specs is None else specs):
        key = s.experiment or s.name
        out[key] = (*out.get(key, ()), s.name)
    return out


def resolve(v) -> VariantSpec:
    """A spec from a decorated builder, a VariantSpec, or a registered name."""
    if isinstance(v, VariantSpec):
        return v
    if isinstance(v, str):
        return get_variant(v)
    spec = getattr(v, "spec", None)
    if callable(v) and isinstance(spec, VariantSpec):
        return spec
    raise ConfigError(invalid("variants", v, "builders decorated with @overfit_core.variant, VariantSpecs or "
                              "variant names"))


# --- users' variants --------------------------------------------------------------------------

def _stable_repr(value) -> str:
    text = repr(value)
    return type(value).__qualname__ if " at 0x" in text else text


def builder_key(fn: Callable) -> str:
    """'module:qualname@hash': the hash covers the source and the bound arguments, so editing the builder
    gives the variant a new digest and new cache keys (helpers it calls are not covered: use --retrain)."""
    bound: list = []
    while isinstance(fn, functools.partial):
        bound += [fn.args, sorted(fn.keywords.items())]
        fn = fn.func
    h = hashlib.sha256()
    try:
        h.update(inspect.getsource(fn).encode())
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        h.update(code.co_code + repr(code.co_consts).encode() if code is not None else repr(type(fn)).encode())
    bound += [getattr(fn, "__defaults__", None), getattr(fn, "__kwdefaults__", None)]
    bound += [cell.cell_contents for cell in getattr(fn, "__closure__", None) or ()]
    h.update(repr([_stable_repr(v) for v in bound]).encode())
    where = f"{getattr(fn, '__module__', None) or '?'}:{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    return f"{where}@{h.hexdigest()[:12]}"


def _epochs_table(epochs) -> Epochs:
    if epochs is None:
        return ()
    if isinstance(epochs, Mapping):
        for tier, n in epochs.items():
            if tier not in TIERS:
                raise ConfigError(invalid("epochs", dict(epochs), f"tier names from {', '.join(TIERS)} as keys"))
            positive_int(f"epochs[{tier!r}]", n)
        return tuple(epochs.items())
    return (("*", positive_int("epochs", epochs)),)


def variant(*, name: str, dataset: str, tags: Iterable[str] = (), baseline: str | None = None,
            optimizer: str = "adam", learning_rate: float | None = None, batch_size: int = 32,
            shuffle_labels: bool = False, early_stopping_patience: int | None = None,
            epochs: int | Mapping[str, int] | None = None, experiment: str = "", description: str = "") -> Callable:
    """Register `build(input_shape) -> keras.Model` as variant `name`; returns the builder, with `.spec`.

    `epochs`: one number for every tier, or ``{"smoke": 2, "fast": 20, "full": 100}``; a tier that
    sets none falls back to the dataset's epochs for it (imdb has none).
    The model must end in the dataset's output layer; the suite compiles it (loss, metrics, optimizer).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(invalid("name", name, "a letter followed by letters, digits or underscores"))
    check_dataset_name(dataset)
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    unknown = [t for t in tags if t not in _TAGS]
    if unknown:
        raise ConfigError(invalid("tags", tags, f"tags from {', '.join(_TAGS)}",
                                  f"Unknown: {', '.join(map(repr, unknown))}. Put free text in `description`."))
    if baseline is not None and (not isinstance(baseline, str) or baseline == name):
        raise ConfigError(invalid("baseline", baseline, "the name of another variant, or None"))
    if not isinstance(optimizer, str) or not optimizer:
        raise ConfigError(invalid("optimizer", optimizer, "a Keras optimizer identifier such as 'adam'"))
    if learning_rate is not None and (isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float))
                                      or not learning_rate > 0):
        raise ConfigError(invalid("learning_rate", learning_rate, "a positive number, or None for Keras' default"))
    positive_int("batch_size", batch_size)
    positive_int("early_stopping_patience", early_stopping_patience, allow_none=True)
    table = _epochs_table(epochs)

    def register(build: Callable) -> Callable:
        if not callable(build):
            raise ConfigError(invalid("build", build, "a function build(input_shape) -> keras.Model"))
        doc = (inspect.getdoc(build) or "").split("\n")[0]
        spec = register_variant(VariantSpec(
            name, dataset, hidden=(), optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size,
            shuffle_labels=bool(shuffle_labels), early_stopping_patience=early_stopping_patience, baseline=baseline,
            tags=tags, description=description or doc, epochs=table, experiment=experiment,
            builder=builder_key(build)), build)

        @functools.wraps(build)
        def builder(input_shape):
            return build(input_shape)

        builder.spec = spec
        return builder

    return register


# --- the course's variants --------------------------------------------------------------------

# 50x the sane 0.02: jittery but alive (16-30 rises in 49 epochs against the sane 0 on 20 of 20 real seeds).
# At 5.0 Adam killed both ReLUs of the earlier 2-unit `tiny` and the validation curve went flat; docs/properties.md.
LR_TOO_HIGH = 1.0
_IMDB = dict(dataset="imdb", batch_size=500)
_FASHION = dict(dataset="fashion_mnist", flatten=True, batch_size=32)
_REG_EPOCHS = (("full", 100), ("fast", 40))
for _spec in (
    VariantSpec("basic", hidden=(256, 128), tags=("baseline",), description="Dense 256-128-1",
                epochs=(("full", 20), ("fast", 20)), experiment="capacity", **_IMDB),
    VariantSpec("overfit", hidden=(1024, 512, 512, 512), baseline="basic", tags=("overparameterised",),
                description="Dense 1024-512-512-512-1, over-parameterised", epochs=(("full", 300), ("fast", 50)),
                experiment="capacity", **_IMDB),
    VariantSpec("reg_base", hidden=(128, 128), tags=("baseline",), description="Dense 128-128-1",
                epochs=_REG_EPOCHS, experiment="regularisation", **_IMDB),
    VariantSpec("l1", hidden=(128, 128), regularizer="l1", baseline="reg_base", tags=("regularised",),
                description="128-128-1 with L1 0.001 on hidden kernels", epochs=_REG_EPOCHS,
                experiment="regularisation", **_IMDB),
    VariantSpec("l2", hidden=(128, 128), regularizer="l2", baseline="reg_base", tags=("regularised",),
                description="128-128-1 with L2 0.001 on hidden kernels", epochs=_REG_EPOCHS,
                experiment="regularisation", **_IMDB),
    VariantSpec("dropout", hidden=(128, 128), dropout=0.3, baseline="reg_base", tags=("regularised", "stochastic"),
                description="128-128-1 with Dropout 0.3 after each hidden layer", epochs=_REG_EPOCHS,
                experiment="regularisation", **_IMDB),
    # Memorising shuffled labels is shown on 1,000 reviews: the point is capacity, not data size.
    VariantSpec("overfit_random_labels", hidden=(1024, 512, 512, 512), shuffle_labels=True,
                tags=("overparameterised", "random_labels"),
                description="overfit on shuffled training labels (Zhang et al., 2017)",
                epochs=(("full", 100), ("fast", 30)), max_train_samples=1000, experiment="random_labels", **_IMDB),
    VariantSpec("overfit_early_stop", hidden=(1024, 512, 512, 512), early_stopping_patience=5,
                tags=("overparameterised", "early_stopping"),
                description="overfit with EarlyStopping(patience=5, restore_best_weights=True)",
                epochs=(("full", 300), ("fast", 60)), experiment="early_stopping", **_IMDB),
    VariantSpec("rmsprop", hidden=(100,), optimizer="rmsprop", baseline="adam", tags=(),
                description="model_fn: Flatten-Dense 100-Dense 10, RMSprop", experiment="optimizer", **_FASHION),
    VariantSpec("adam", hidden=(100,), optimizer="adam", tags=("baseline",),
                description="model_fn: Flatten-Dense 100-Dense 10, Adam", experiment="optimizer", **_FASHION),
    VariantSpec("adam_dropout", hidden=(100,), optimizer="adam", dropout=0.3, baseline="adam",
                tags=("regularised", "stochastic"), description="model_fn with the extra Dropout 0.3 layer, Adam",
                experiment="optimizer", **_FASHION),
    VariantSpec("bn_basic", hidden=(128, 128), tags=("baseline",),
                description="Flatten-Dense 128-Dense 128-Dense 10", experiment="batchnorm", **_FASHION),
    VariantSpec("bn", hidden=(128, 128), batchnorm=True, baseline="bn_basic", tags=("batchnorm",),
                description="bn_basic with BatchNormalization before each hidden relu", experiment="batchnorm",
                **_FASHION),
    VariantSpec("bn_basic_init10", hidden=(128, 128), init_scale=10.0, tags=("init_scale",),
                description="bn_basic with initial kernel std x10", experiment="init_scale", **_FASHION),
    VariantSpec("bn_init10", hidden=(128, 128), batchnorm=True, init_scale=10.0, baseline="bn_basic_init10",
                tags=("batchnorm", "init_scale"), description="bn with initial kernel std x10",
                experiment="init_scale", **_FASHION),
    # 8 units at lr 0.02: with 2 units at lr 0.08, both ReLUs died on 2 of 20 real seeds (0 and one more) and the
    # model predicted a constant (docs/properties.md); 8 units at 0.08 lived but jittered as much as lr 1.0 on 4 of 20.
    VariantSpec("tiny", dataset="boston", hidden=(8,), learning_rate=0.02, batch_size=32, tags=("regression",),
                description="Dense 8-Dense 1, Adam lr 0.02, MinMax-scaled inputs", experiment="boston"),
    VariantSpec("tiny_lr_high", dataset="boston", hidden=(8,), learning_rate=LR_TOO_HIGH, batch_size=32,
                baseline="tiny", tags=("regression", "lr_too_high"),
                description=f"tiny with a far too high learning rate ({LR_TOO_HIGH})", experiment="boston"),
):
    _REGISTRY[_spec.name] = _spec  # tags are checked in tests (checks register theirs after this module loads)


# --- building models --------------------------------------------------------------------------

def _user_model(spec: VariantSpec, input_shape: tuple[int, ...]):
    from .compat import keras

    fn = _BUILDERS.get(spec.builder)
    if fn is None:
        raise ConfigError(f"Variant {spec.name!r} was built by {spec.builder!r}, which is not registered in this "
                          "process. Import the module that defines it (its @overfit_core.variant) first.")
    model = fn(tuple(input_shape))
    if not isinstance(model, keras.Model):
        raise ConfigError(f"The builder of variant {spec.name!r} returned a {type(model).__name__}. Expected a "
                          f"{keras.__name__}.Model (Keras {keras.__version__}, as overfit_core.compat imports it).")
    ds = get_dataset(spec.dataset)
    shape = model.output_shape
    if not isinstance(shape, tuple) or tuple(shape)[1:] != (ds.output_units,):
        raise ConfigError(f"Variant {spec.name!r} has output shape {shape}. Expected (None, {ds.output_units}) for "
                          f"dataset {spec.dataset!r}: end the model with {ds.output_layer}.")
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
    ds = get_dataset(spec.dataset)
    return keras.Model(inputs, layers.Dense(ds.output_units, activation=ds.output_activation)(h), name=spec.name)


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
