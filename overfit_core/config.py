"""How the variants train: tiers as frozen TrainConfig presets, and seed parsing.

How long each variant trains is part of its spec (`VariantSpec.epochs`) or, where it sets none,
of its dataset (`DatasetDef.epochs`); a config names the tier and the options of `model.fit`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .errors import ConfigError, invalid, positive_int


@dataclass(frozen=True)
class TrainConfig:
    """A tier and the training options shared by every variant."""

    tier: str
    deterministic: bool = False  # tf op determinism (process-wide once enabled)
    # Speed options (README: Benchmarks). jit_compile None: Keras' default, XLA off on CPU; Keras 3 ignores True
    # once op determinism is on.
    jit_compile: bool | None = None
    steps_per_execution: int = 1  # train steps per tf.function call; same arithmetic, fewer Python round trips

    def __post_init__(self):
        if self.jit_compile not in (None, True, False):
            raise ConfigError(invalid("jit_compile", self.jit_compile, "None, True or False"))
        positive_int("steps_per_execution", self.steps_per_execution)

    def compile_kwargs(self) -> dict:
        """The speed options as `model.compile` arguments (Keras 2 and 3)."""
        jit = {} if self.jit_compile is None else {"jit_compile": self.jit_compile}
        return {"steps_per_execution": self.steps_per_execution, **jit}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "TrainConfig":
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


# steps_per_execution=32: identical histories, fewer Python round trips (README: Benchmarks)
FULL = TrainConfig(tier="full", steps_per_execution=32)  # the course's own epochs
FAST = dataclasses.replace(FULL, tier="fast")  # fewer epochs where the course trains long (specs say how many)
SMOKE = dataclasses.replace(FULL, tier="smoke")  # seconds: for plumbing tests and benchmark smoke runs
TIERS: Mapping[str, TrainConfig] = MappingProxyType({"fast": FAST, "full": FULL, "smoke": SMOKE})


def get_config(tier: str) -> TrainConfig:
    try:
        return TIERS[tier]
    except (KeyError, TypeError):
        raise ConfigError(invalid("tier", tier, f"one of {', '.join(TIERS)}")) from None


MAX_SEEDS = 10_000  # each seed trains every variant; more is a typo such as '0-99999'


def parse_seeds(text) -> tuple[int, ...]:
    """'0,1,2', '0-2' or a mix such as '0-2,7' (or an int, or a sequence of ints) to distinct seeds, in order."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    elif not isinstance(text, str):
        text = ",".join(str(s) for s in text)
    seeds: dict[int, None] = {}  # ordered and de-duplicated in O(n)
    for part in text.split(","):
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
