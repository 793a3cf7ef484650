"""Training configurations as frozen dataclasses; presets derive from `FULL` by `replace`."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .errors import ConfigError, invalid
from .variants import VariantSpec

Pairs = tuple[tuple[str, int], ...]


def _lookup(pairs: tuple, spec: VariantSpec, default=None):
    """Value for the variant's name if present, else for its dataset, else `default`."""
    table = dict(pairs)
    return table.get(spec.name, table.get(spec.dataset, default))


@dataclass(frozen=True)
class TrainConfig:
    """How long and on how much data each variant trains. Keys are variant or dataset names."""

    tier: str
    epochs: Pairs
    max_train_samples: Pairs = ()  # absent: all samples
    validation_split: tuple[tuple[str, float], ...] = ()  # absent: validate on the dataset's held-out part
    deterministic: bool = False  # tf op determinism (process-wide once enabled)
    # Speed options (README: Benchmarks). jit_compile None: Keras' default, XLA off on CPU; Keras 3 ignores True
    # once op determinism is on.
    jit_compile: bool | None = None
    steps_per_execution: int = 1  # train steps per tf.function call; same arithmetic, fewer Python round trips

    def __post_init__(self):
        if self.jit_compile not in (None, True, False):
            raise ConfigError(invalid("jit_compile", self.jit_compile, "None, True or False"))
        n = self.steps_per_execution
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(invalid("steps_per_execution", n, "a positive integer"))
        for key, n in self.epochs:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(invalid(f"epochs[{key!r}]", n, "a positive integer"))
        for key, n in self.max_train_samples:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(invalid(f"max_train_samples[{key!r}]", n, "a positive integer"))

    def epochs_for(self, spec: VariantSpec) -> int:
        n = _lookup(self.epochs, spec)
        if n is None:
            raise ConfigError(f"Config tier {self.tier!r} sets no epochs for variant {spec.name!r} "
                              f"or dataset {spec.dataset!r}. Add one to `epochs`.")
        return n

    def max_samples_for(self, spec: VariantSpec) -> int | None:
        return _lookup(self.max_train_samples, spec)

    def validation_split_for(self, spec: VariantSpec) -> float | None:
        return _lookup(self.validation_split, spec)

    def compile_kwargs(self) -> dict:
        """The speed options as `model.compile` arguments (Keras 2 and 3)."""
        jit = {} if self.jit_compile is None else {"jit_compile": self.jit_compile}
        return {"steps_per_execution": self.steps_per_execution, **jit}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "TrainConfig":
        d = dict(d)
        for key in ("epochs", "max_train_samples", "validation_split"):
            d[key] = tuple(tuple(p) for p in d.get(key, ()))
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


FULL = TrainConfig(
    tier="full",
    epochs=(("basic", 20), ("overfit", 300), ("reg_base", 100), ("l1", 100), ("l2", 100), ("dropout", 100),
            ("overfit_random_labels", 100), ("overfit_early_stop", 300), ("fashion_mnist", 20), ("boston", 50)),
    # Memorising shuffled labels is shown on 1,000 reviews: the point is capacity, not data size.
    max_train_samples=(("overfit_random_labels", 1000),),
    validation_split=(("boston", 0.2),),
    steps_per_execution=32,  # identical histories, fewer Python round trips (README: Benchmarks)
)
FAST = dataclasses.replace(
    FULL,
    tier="fast",
    epochs=(("basic", 20), ("overfit", 50), ("reg_base", 40), ("l1", 40), ("l2", 40), ("dropout", 40),
            ("overfit_random_labels", 30), ("overfit_early_stop", 60), ("fashion_mnist", 20), ("boston", 50)),
)
SMOKE = dataclasses.replace(  # seconds: for plumbing tests and benchmark smoke runs, not for properties
    FULL,
    tier="smoke",
    epochs=(("imdb", 2), ("fashion_mnist", 2), ("boston", 3)),
    max_train_samples=(("imdb", 1000), ("fashion_mnist", 300)),
)
TIERS: Mapping[str, TrainConfig] = MappingProxyType({"fast": FAST, "full": FULL, "smoke": SMOKE})


def get_config(tier: str) -> TrainConfig:
    try:
        return TIERS[tier]
    except KeyError:
        raise ConfigError(invalid("tier", tier, f"one of {', '.join(TIERS)}")) from None


MAX_SEEDS = 10_000  # each seed trains every variant; more is a typo such as '0-99999'


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0,1,2', '0-2' or a mix such as '0-2,7' to a tuple of distinct non-negative seeds, in order."""
    seeds: dict[int, None] = {}  # ordered and de-duplicated in O(n)
    for part in str(text).split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise ConfigError(invalid("seeds", text, "comma-separated non-negative integers or ranges such as "
                                      "'0,1,2' or '0-2'")) from None
        if first < 0 or last < first:
            raise ConfigError(invalid("seeds", text, "ranges written low-high with 0 <= low <= high, e.g. '0-2'"))
        if last - first + 1 > MAX_SEEDS - len(seeds):
            raise ConfigError(invalid("seeds", text, f"at most {MAX_SEEDS} seeds, e.g. '0-2'"))
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return tuple(seeds)
