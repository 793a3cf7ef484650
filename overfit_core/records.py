"""Immutable run records, their lossless JSON form, atomic writes and the on-disk record cache with its locks."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from .config import TrainConfig
from .errors import ConfigError, invalid
from .variants import VariantSpec

# 2: records carry their data kind and training plan; specs carry their epochs, configs only the tier and fit
# options. Cache keys hold the schema, so records of schema 1 are never looked up again (delete them at will).
SCHEMA = 2
KEY_VERSIONS = ("tensorflow", "keras", "numpy", "backend", "backend_version")  # versions() entries in a cache key


def stack(versions: Mapping[str, str]) -> str:
    """'TensorFlow 2.21.0, Keras 3.15.1' or, on another Keras 3 backend, 'Keras 3.15.1 on jax 0.8.3'."""
    keras, backend = versions.get("keras", "?"), versions.get("backend", "tensorflow")
    if backend == "tensorflow":
        return f"TensorFlow {versions.get('tensorflow', '?')}, Keras {keras}"
    return f"Keras {keras} on {backend} {versions.get('backend_version', '?')}"


def run_id(variant: str, dataset: str, seed: int, tier: str) -> str:
    """Readable id of one training run: variant-dataset-seedN-tier."""
    return f"{variant}-{dataset}-seed{seed}-{tier}"


@dataclass(frozen=True)
class KernelStats:
    """Norms of one Dense kernel: L1 = sum |w|, L2 = sqrt(sum w^2), share of |w| < 1e-3."""

    layer: str
    size: int
    l1: float
    l2: float
    near_zero_fraction: float


@dataclass(frozen=True)
class RunRecord:
    """Everything one training run produced; many checks read the same record."""

    spec: VariantSpec
    config: TrainConfig
    seed: int
    dataset: str
    data_kind: str  # "synthetic" or "real"
    data_source: str
    data_sha256: str
    plan: Mapping[str, Any]  # what this fit was asked to do: epochs, max_train_samples, validation_split
    history: Mapping[str, tuple[float, ...]]
    kernels: tuple[KernelStats, ...]
    evaluation: Mapping[str, float]
    predictions: tuple[float, ...]  # validation predictions (regression only)
    targets: tuple[float, ...]
    versions: Mapping[str, str]
    n_train: int
    epochs_run: int
    wall_time_s: float
    samples_per_s: float
    status: str = "ok"  # "ok" or "diverged" (a NaN/inf loss stopped training)
    cache_key: str = ""

    def __post_init__(self):
        for name in ("history", "evaluation", "versions", "plan"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                if name == "history":
                    value = {k: tuple(v) for k, v in value.items()}
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    @property
    def variant(self) -> str:
        return self.spec.name

    @property
    def run_id(self) -> str:
        return run_id(self.spec.name, self.dataset, self.seed, self.config.tier)

    def curve(self, key: str) -> tuple[float, ...]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"{self.run_id}: no history key {key!r}; present: {sorted(self.history)}") from None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["spec"], d["config"] = self.spec.to_dict(), self.config.to_dict()
        d["history"] = {k: list(v) for k, v in self.history.items()}
        d["kernels"] = [vars(k) for k in self.kernels]
        for name in ("evaluation", "versions", "plan"):
            d[name] = dict(d[name])
        d["predictions"], d["targets"] = list(self.predictions), list(self.targets)
        return {"schema": SCHEMA, **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunRecord":
        d = dict(d)
        schema = d.pop("schema", None)
        if schema != SCHEMA:
            raise ValueError(f"record schema is {schema!r}, this overfit-bench reads schema {SCHEMA}: train it again")
        d["spec"] = VariantSpec.from_dict(d["spec"])
        d["config"] = TrainConfig.from_dict(d["config"])
        d["kernels"] = tuple(KernelStats(**k) for k in d["kernels"])
        d["predictions"], d["targets"] = tuple(d["predictions"]), tuple(d["targets"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "RunRecord":
        return cls.from_dict(json.loads(text))


def atomic_write(path: Path | str, data: str | bytes) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def writable_dir(text: str | Path, subdir: str) -> Path:
    """`text` as a writable output folder with `subdir` made inside it; ConfigError naming `--out` otherwise."""
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(invalid("out", str(text), "a directory (it is an existing file)", "Pass another --out."))
    try:
        (out / subdir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out, prefix=".write-test."):  # a name of its own: workers share --out
            pass
    except OSError as e:
        raise ConfigError(invalid("out", str(text), "a writable directory",
                                  f"({e.strerror}) Pass another --out.")) from None
    return out


def cache_key(spec: VariantSpec, config: TrainConfig, seed: int, data_sha256: str, data_params: Mapping,
              versions: Mapping[str, str], plan: Mapping[str, Any]) -> str:
    """Records are reused only for the same spec, config, plan, seed, data, Keras backend and library versions."""
    payload = {"spec": spec.to_dict(), "config": config.to_dict(), "seed": seed, "data": data_sha256,
               "data_params": dict(data_params), "versions": {k: versions.get(k, "") for k in KEY_VERSIONS},
               "plan": dict(plan), "schema": SCHEMA}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


class RecordStore:
    """A folder of `<run_id>--<cache_key>.json` records. Corrupt files are discarded with a warning."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(invalid("cache/records directory", str(self.root), "a directory, not a file",
                                      "Choose another path or remove the file."))

    def path(self, run_id: str, key: str) -> Path:
        return self.root / f"{run_id}--{key}.json"

    def load(self, run_id: str, key: str) -> RunRecord | None:
        path = self.path(run_id, key)
        if not path.is_file():
            return None
        try:
            record = RunRecord.from_json(path.read_text(encoding="utf-8"))
            if record.cache_key != key:
                raise ValueError(f"cache_key {record.cache_key!r} does not match the file name")
            return record
        except Exception as e:  # any failure to decode a cache entry means: discard it and train again
            warnings.warn(f"Discarding corrupt cached record {path} ({type(e).__name__}: {e}); it will be retrained.",
                          stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def save(self, record: RunRecord) -> Path:
        return atomic_write(self.path(record.run_id, record.cache_key), record.to_json())

    @contextlib.contextmanager
    def lock(self, run_id: str, key: str) -> Iterator[None]:
        """An exclusive cross-process lock for one record, so that processes sharing the store (``pytest -n 2``,
        two runs on one ``--out``) train it once. The OS releases it when its holder dies."""
        from filelock import FileLock

        path = lock_path(self.path(run_id, key))
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path)):
            yield


def lock_path(record_path: Path | str) -> Path:
    """`.<record file name>.lock` beside the record (hidden, so never taken for a record)."""
    record_path = Path(record_path)
    return record_path.with_name(f".{record_path.name}.lock")
