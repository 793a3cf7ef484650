"""Record sets on disk: a run's `--out` folder, a record cache folder, or a run bundle (one .zip file).

A bundle (`overfit-bench export OUT BUNDLE`, or `overfit-bench run --bundle FILE`) holds ``bundle.json`` (its
manifest: ``schema``, what wrote it, and each record's file name and sha256), ``environment.json`` (the
versions the records carry, the CPU model of the machine that wrote the bundle, the run's settings where
known) and ``records/<run_id>--<cache_key>.json``, one lossless record each. `load_record_set` reads any of
the three kinds, so `overfit-bench compare` takes a bundle wherever it takes a folder.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .errors import ConfigError, invalid
from .records import SCHEMA, RunRecord, atomic_write

BUNDLE_SCHEMA = 1
MANIFEST, ENVIRONMENT = "bundle.json", "environment.json"
REGENERATE = ("Regenerate it with this overfit-bench: `overfit-bench run --retrain --out DIR` with the options "
              "that made it (the records of a cache folder are retrained by the run or tests that use it).")


@dataclass(frozen=True)
class RecordSet:
    """Records read from one place, with what that place says of itself."""

    path: str
    kind: str  # "run folder", "record folder" or "bundle"
    records: tuple[RunRecord, ...]
    environment: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # duplicates dropped and the like


def record_from_text(text: str, where: str) -> RunRecord:
    """One record from its JSON; ConfigError naming `where`, the schema found and how to regenerate it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where} is not a run record: it is not readable JSON ({e}). Expected a record that "
                          f"`overfit-bench run` wrote. Remove the file or point at another folder.") from None
    if not isinstance(data, dict) or "spec" not in data:
        raise ConfigError(f"{where} is not a run record (a JSON object with `schema` and `spec`). Expected only "
                          "records of `overfit-bench run` in the folder. Remove the file or point at another folder.")
    if data.get("schema") != SCHEMA:
        raise ConfigError(f"{where} is a record of schema {data.get('schema')!r}; this overfit-bench reads record "
                          f"schema {SCHEMA}. {REGENERATE}")
    try:
        return RunRecord.from_dict(data)
    except Exception as e:  # a record of this schema that does not decode is broken, whatever the error
        raise ConfigError(f"{where} is a schema {SCHEMA} record that cannot be read ({type(e).__name__}: {e}). "
                          f"{REGENERATE}") from None


def _record_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.is_file() and not p.name.startswith("."))


def _newest_per_run(loaded: Sequence[tuple[RunRecord, str]]) -> tuple[list[RunRecord], list[str]]:
    """One record per (run id, data kind): the last of `loaded` (given oldest first); notes on those dropped."""
    chosen: dict[tuple[str, str], tuple[RunRecord, str]] = {}
    notes = []
    for record, name in loaded:
        key = (record.run_id, record.data_kind)
        if key in chosen:
            notes.append(f"{chosen[key][1]} and {name} are both {record.run_id} ({record.data_kind} data); "
                         f"using the newer, {name}")
        chosen[key] = (record, name)
    return [r for r, _ in chosen.values()], notes


def _read_folder(path: Path, argument: str) -> RecordSet:
    folder, kind = (path / "records", "run folder") if (path / "records").is_dir() else (path, "record folder")
    files = _record_files(folder)
    if not files:
        raise ConfigError(invalid(argument, str(path), "a run's --out folder (with records/*.json), a record cache "
                                  "folder or a bundle file", f"{folder} holds no *.json records."))
    files.sort(key=lambda p: (p.stat().st_mtime, p.name))
    loaded = [(record_from_text(p.read_text(encoding="utf-8"), str(p)), p.name) for p in files]
    records, notes = _newest_per_run(loaded)
    return RecordSet(str(path), kind, tuple(records), {}, tuple(notes))


def _read_bundle(path: Path, argument: str) -> RecordSet:
    def bad(problem: str) -> ConfigError:
        return ConfigError(invalid(argument, str(path), f"a run bundle of `overfit-bench export` ({problem})",
                                   "Export it again with `overfit-bench export OUT_DIR BUNDLE`."))

    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if MANIFEST not in names:
                raise bad(f"it has no {MANIFEST}")
            manifest = json.loads(z.read(MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("schema") != BUNDLE_SCHEMA:
                schema = manifest.get("schema") if isinstance(manifest, dict) else None
                raise bad(f"its {MANIFEST} has schema {schema!r}; this overfit-bench reads bundle schema "
                          f"{BUNDLE_SCHEMA}")
            environment = json.loads(z.read(ENVIRONMENT)) if ENVIRONMENT in names else {}
            loaded = []
            for entry in manifest.get("records", []):
                name = entry.get("file", "") if isinstance(entry, dict) else ""
                if name not in names:
                    raise bad(f"{MANIFEST} lists {name!r}, which is not in the file")
                data = z.read(name)
                if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                    raise bad(f"{name} does not match its sha256 in {MANIFEST}: the file is damaged")
                loaded.append((record_from_text(data.decode("utf-8"), f"{path}:{name}"), name))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"it cannot be read: {type(e).__name__}: {e}") from None
    if not loaded:
        raise bad("it holds no records")
    records, notes = _newest_per_run(loaded)
    return RecordSet(str(path), "bundle", tuple(records), environment, tuple(notes))


BASELINE_SCHEMA = "overfit-bench-baseline/1"


def _read_baseline(path: Path, argument: str) -> RecordSet:
    """A committed baseline (`overfit-bench matrix --baselines`): compare's per-seed values, no records."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(invalid(argument, str(path), "a baseline JSON of `overfit-bench matrix --baselines`",
                                  f"It cannot be read: {type(e).__name__}: {e}")) from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA or not isinstance(data.get("rows"), list):
        raise ConfigError(invalid(argument, str(path), f"a baseline JSON of schema {BASELINE_SCHEMA} with rows",
                                  "Write it again with `overfit-bench matrix --baselines DIR`."))
    return RecordSet(str(path), "baseline", (), data, ())


def load_record_set(path: str | Path, argument: str = "path") -> RecordSet:
    """The records at `path`: a run's --out folder, a folder of records (a record cache), a bundle file, or a
    committed baseline (.json: compare's per-seed values of an environment, kind "baseline").

    A folder with several records of one run (a cache across versions) gives the newest file; the others are
    named in `notes`. Raises ConfigError naming `argument` for anything else, and for records of another schema.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        return _read_folder(p, argument)
    if p.is_file() and p.suffix == ".json":
        return _read_baseline(p, argument)
    if p.is_file():
        return _read_bundle(p, argument)
    raise ConfigError(invalid(argument, str(path), "an existing run folder, record folder or bundle file",
                              "Check the path (a run writes its folder with `overfit-bench run --out DIR`)."))


def environment_of(records: Sequence[RunRecord], settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a bundle says of its run: the versions and data the records carry, the CPU model of this machine
    (the one writing the bundle) and the run's settings where the caller knows them (None otherwise)."""
    from .parallel import cpu_model

    def distinct(values: Iterable) -> list:
        return sorted({v for v in values if v is not None}, key=str)

    keys = distinct(k for r in records for k in r.versions)
    return {
        "versions": {k: distinct(r.versions.get(k) for r in records) for k in keys},
        "tiers": distinct(r.config.tier for r in records),
        "seeds": distinct(r.seed for r in records),
        "data_kinds": distinct(r.data_kind for r in records),
        "datasets": distinct(r.dataset for r in records),
        "variants": distinct(r.variant for r in records),
        "data": sorted({f"{r.dataset} {r.data_kind} {r.data_source} sha256 {r.data_sha256}" for r in records}),
        "cpu_model": cpu_model(),  # of the machine writing the bundle (the run's own when `run --bundle` writes it)
        "settings": dict(settings) if settings is not None else None,
    }


def bundle_path(text: str | Path) -> Path:
    """`text` as a bundle file name (ending in .zip, not a folder); ConfigError naming `bundle` otherwise."""
    path = Path(text).expanduser()
    if path.suffix.lower() != ".zip":
        raise ConfigError(invalid("bundle", str(text), "a file name ending in .zip", "Name the bundle e.g. run.zip."))
    if path.is_dir():
        raise ConfigError(invalid("bundle", str(text), "a file name (it is a folder)", "Pass a path to a .zip file."))
    return path


def write_bundle(path: str | Path, records: Sequence[RunRecord], *, settings: Mapping[str, Any] | None = None,
                 source: str = "") -> Path:
    """Pack `records` and their environment into the .zip bundle `path`, written atomically."""
    path = bundle_path(path)
    if not records:
        raise ConfigError(invalid("records", [], "at least one record to bundle", "Run `overfit-bench run` first."))
    entries, buf = [], io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for r in sorted(records, key=lambda r: (r.data_kind, r.run_id)):
            name = f"records/{r.data_kind}/{r.run_id}--{r.cache_key or 'nokey'}.json"
            data = r.to_json().encode("utf-8")
            z.writestr(name, data)
            entries.append({"file": name, "sha256": hashlib.sha256(data).hexdigest()})
        z.writestr(ENVIRONMENT, json.dumps(environment_of(records, settings), indent=1, sort_keys=True))
        manifest = {"schema": BUNDLE_SCHEMA, "record_schema": SCHEMA, "source": source,
                    "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "records": entries}
        z.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return atomic_write(path, buf.getvalue())


def export(out_dir: str | Path, bundle: str | Path) -> tuple[Path, RecordSet]:
    """`overfit-bench export`: the records of a run folder (or record folder) into the bundle file."""
    bundle_path(bundle)  # before reading the records
    found = load_record_set(out_dir, "out_dir")
    if found.kind == "bundle":
        raise ConfigError(invalid("out_dir", str(out_dir), "a run's --out folder or a record folder (it is a file)"))
    return write_bundle(bundle, found.records, source=str(Path(out_dir).expanduser().resolve())), found
