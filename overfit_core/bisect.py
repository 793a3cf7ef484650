"""`overfit-bench bisect`: the first version where a check or a metric changes, found by bisection.

The versions are the matrix's release environments between a good and a bad one (tox.ini: tf212 ... tf221), the
tf-nightly builds between two dates (``nightly-YYYYMMDD``: every date the package index holds a Python 3.11 wheel
for, each with the keras-nightly of that date or the newest before it, installed into a venv kept under
``.envs/``), or interpreters given with --python in order. Each probed version trains only the variants the target needs
(`matrix.run_env`, cached under OUT/<env>, so probes and reruns reuse what exists), and is judged by `compare`
against the good version: the target row moved (changed, flipped, weakened, strengthened) or not. Bisection
assumes one change between good and bad; the evidence printed is the comparison of the last good and the first
bad version.
"""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import ConfigError, invalid
from .matrix import ENVIRONMENTS, Env, run_env

MOVED = ("changed", "flipped", "weakened", "strengthened", "fixed")
RELEASES = tuple(e for e in ENVIRONMENTS if e.startswith("tf") and e[2:].isdigit())  # tf212 ... tf221


@dataclass(frozen=True)
class Target:
    """A check (its `passes` and `effect` rows) or a metric (a compare METRICS key), on some variant's rows."""

    check: str | None
    metric: str | None
    subject: str  # a variant, or a check binding's label

    def matches(self, row) -> bool:
        if self.check:
            return row.section == "property" and row.check == self.check and row.subject == self.subject
        return row.section == "metric" and row.quantity == self.metric and row.subject == self.subject


def versions_between(good: str, bad: str, order: Sequence[str] = RELEASES) -> list[str]:
    """good, ..., bad from `order` (environment names, oldest first)."""
    for name in (good, bad):
        if name not in order:
            raise ConfigError(invalid("version", name, f"one of {', '.join(order)}"))
    i, j = order.index(good), order.index(bad)
    if i >= j:
        raise ConfigError(invalid("bad", bad, f"a version after the good one ({good})",
                                  "Give --good the older version and --bad the newer one."))
    return list(order[i:j + 1])


NIGHTLY = "nightly-"  # nightly-YYYYMMDD: the tf-nightly build of that date
PYTHON = "3.11"  # the nightlies bisected are those with wheels for tox.ini's Python


def index_versions(package: str) -> list[str]:
    """Every version of `package` the configured package index holds for Python 3.11, pre-releases included."""
    cmd = [sys.executable, "-m", "pip", "index", "versions", "--pre", "--python-version", PYTHON, package]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"Could not list the versions of {package} ({' '.join(cmd)}: {e}); check pip's index "
                          "settings and the network") from None
    found = re.search(r"Available versions:\s*(.+)", done.stdout)
    if done.returncode != 0 or not found:
        raise ConfigError(f"The package index lists no {package} for Python {PYTHON} ({' '.join(cmd)} said: "
                          f"{(done.stderr or done.stdout).strip()[-300:]}); check pip's index settings")
    return [v.strip() for v in found.group(1).split(",") if v.strip()]


def _dev_date(version: str) -> str | None:
    found = re.search(r"\.dev(\d{8})", version)
    return found.group(1) if found else None


def nightly_builds(tf_versions: Sequence[str], keras_versions: Sequence[str]) -> dict[str, tuple[str, str]]:
    """{YYYYMMDD: (tf-nightly version, keras-nightly version)}, oldest first: each tf-nightly date with the newest
    keras-nightly built that day or before (dates without one are left out)."""
    keras = sorted((d, v) for v in keras_versions if (d := _dev_date(v)))
    builds = {}
    for tf in sorted(tf_versions, key=lambda v: _dev_date(v) or ""):
        date = _dev_date(tf)
        if not date:
            continue
        older = [v for d, v in keras if d <= date]
        if older:
            builds[date] = (tf, older[-1])
    return builds


def nightlies_between(good: str, bad: str, builds: dict[str, tuple[str, str]] | None = None) -> list[Env]:
    """The nightly environments from `good` to `bad` (both nightly-YYYYMMDD), one per build the index holds."""
    for name in (good, bad):
        if not re.fullmatch(NIGHTLY + r"\d{8}", name):
            raise ConfigError(invalid("version", name, "nightly-YYYYMMDD on both sides (e.g. nightly-20261001), or "
                                                       f"two releases among {', '.join(RELEASES)}"))
    if builds is None:
        builds = nightly_builds(index_versions("tf-nightly"), index_versions("keras-nightly"))
    dates = list(builds)
    for name in (good, bad):
        if name[len(NIGHTLY):] not in builds:
            date = name[len(NIGHTLY):]
            near = sorted(dates, key=lambda d: abs(int(d) - int(date)))[:3]
            raise ConfigError(invalid("version", name, "a date with a tf-nightly wheel for Python " + PYTHON,
                                      f"Nearest: {', '.join(NIGHTLY + d for d in sorted(near)) or 'none'} "
                                      f"(the index holds {len(dates)} builds)."))
    i, j = dates.index(good[len(NIGHTLY):]), dates.index(bad[len(NIGHTLY):])
    if i >= j:
        raise ConfigError(invalid("bad", bad, f"a date after the good one ({good})",
                                  "Give --good the older date and --bad the newer one."))
    return [Env(NIGHTLY + d, requirements=(f"tf-nightly=={builds[d][0]}", f"keras-nightly=={builds[d][1]}"))
            for d in dates[i:j + 1]]


def judge(good_dir: Path, probe_dir: Path, target: Target, kind: str):
    """(moved?, the target's rows) of compare(good, probe) on `kind`'s records."""
    from .bundle import load_record_set
    from .compare import compare

    c = compare(load_record_set(good_dir / kind / "records", "good"), load_record_set(probe_dir / kind / "records",
                                                                                      "probe"), correction="bh")
    rows = [r for r in c.rows if target.matches(r)]
    if not rows:
        raise ConfigError(f"compare found no row for {target} in {kind} records: name a check of the variants trained "
                          "(overfit-bench list) or a metric compare reports (docs/compare.md)")
    return any(r.verdict in MOVED for r in rows), rows


def bisect(envs: Sequence[Env], target: Target, out: Path, *, variants: str, seeds: str, kind: str, tier: str,
           root: Path, progress: Callable[[str], None]) -> tuple[str, str, list, list[str]]:
    """(last good, first bad, the target's rows of their comparison, a log of each probe)."""
    def train(env: Env) -> Path:
        status = run_env(env, out, seeds=seeds, kinds=[kind], tier=tier, bench=False, progress=progress, root=root,
                         variants=variants)
        if status.get("install") == "failed" or any(str(v).startswith("failed") for v in status.values()):
            raise ConfigError(f"{env.name} could not be installed or trained: see {out / env.name / 'log.txt'}")
        return out / env.name

    good_dir = train(envs[0])
    moved, _ = judge(good_dir, train(envs[-1]), target, kind)
    if not moved:
        raise ConfigError(f"{target} does not move between {envs[0].name} and {envs[-1].name} on {kind} data with "
                          f"seeds {seeds}: nothing to bisect (more seeds, or another pair)")
    lo, hi, log = 0, len(envs) - 1, []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        moved, rows = judge(good_dir, train(envs[mid]), target, kind)
        log.append(f"{envs[mid].name}: {'moved' if moved else 'same'} against {envs[0].name} "
                   f"({'; '.join(f'{r.label} {r.verdict}' for r in rows)})")
        progress(log[-1])
        if moved:
            hi = mid
        else:
            lo = mid
    _, rows = judge(out / envs[lo].name, out / envs[hi].name, target, kind)
    return envs[lo].name, envs[hi].name, rows, log
