"""`overfit-bench matrix`: the suite in one environment per TensorFlow/Keras version, collected side by side.

Per environment, each step writes its output under ``OUT/<env>/`` and is skipped when that output exists, so an
interrupted matrix resumes where it stopped: install (``tox -e ENV --notest``, or an interpreter given with
``--python ENV=PATH``), the Keras defaults (`overfit_core.defaults`), the records (``overfit-bench run
--no-checks`` per data kind), optionally the throughput benchmarks, and a compact ``summary.json``. An environment
that fails to install or run is reported in its column, not fatal. ``OUT/matrix.md`` and ``OUT/matrix.html`` (the
report's page, sortable) show one `view`: checks x
environments (seeds passed, median effect), key metrics x environments, throughput (samples/s per numpy
GFLOP/s of the same run), the defaults that changed between neighbours, and `compare`'s verdicts between
neighbours. README: Version matrix.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .errors import ConfigError, invalid
from .records import atomic_write

# Twelve environments, oldest first (tox.ini defines each), and the newest TF on Python 3.13 beside them.
ENVIRONMENTS = ("tf212", "tf213", "tf214", "tf215", "tf216", "tf217", "tf218", "tf219", "tf220", "tf221",
                "nightly", "tf221-legacy", "py313")
# Side environments vary one thing of a release: each is compared with that release, not with its left neighbour.
REFERENCE = {"tf221-legacy": "tf221", "py313": "tf221"}
KEY_METRICS = ("final_val_loss", "min_val_loss", "final_train_loss", "final_val_accuracy")  # compare.METRICS
BENCH_K = "matmul_peak or train_throughput"


@dataclass(frozen=True)
class Env:
    name: str
    python: str | None = None  # an existing interpreter; None: tox creates .tox/<name>
    # pip requirements of an environment tox.ini does not define (a nightly of one date): a venv is made for them
    # under .envs/<name> in the checkout, with tox.ini's [pkg] deps beside them, and kept for the next run
    requirements: tuple[str, ...] = ()


def parse_envs(names: str | None, pythons: Sequence[str] | None) -> list[Env]:
    """--envs tf212,tf221 (tox environments) and --python NAME=PATH (interpreters that exist already)."""
    given = {}
    for item in pythons or ():
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not Path(path).expanduser().is_file():
            raise ConfigError(invalid("python", item, "NAME=PATH to an existing Python interpreter",
                                      "e.g. --python tf221=.venv/bin/python"))
        given[name.strip()] = str(Path(path).expanduser().absolute())
    chosen = [n.strip() for n in (names or "").split(",") if n.strip()] or ([] if given else list(ENVIRONMENTS))
    unknown = [n for n in chosen if n not in ENVIRONMENTS and n not in given]
    if unknown:
        raise ConfigError(invalid("envs", names, f"names among {', '.join(ENVIRONMENTS)} (tox.ini), or given with "
                                                 "--python NAME=PATH"))
    return [Env(n, given.get(n)) for n in dict.fromkeys([*chosen, *given])]


def _run(cmd: Sequence[str], log: Path, timeout: float, env: Mapping[str, str] | None = None,
         cwd: Path | None = None) -> int:
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        try:
            return subprocess.run(list(cmd), stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd,
                                  env=dict(env) if env is not None else None).returncode
        except subprocess.TimeoutExpired:
            f.write(f"timed out after {timeout:.0f}s\n")
            return 124
        except OSError as e:  # the program is missing
            f.write(f"could not start: {e}\n")
            return 127


def _tail(log: Path, n: int = 12) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _status(folder: Path) -> dict:
    try:
        return json.loads((folder / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _set_status(folder: Path, **changes) -> None:
    atomic_write(folder / "status.json", json.dumps({**_status(folder), **changes}, indent=1, sort_keys=True))


def run_env(env: Env, out: Path, *, seeds: str, kinds: Sequence[str], tier: str, bench: bool,
            progress: Callable[[str], None], root: Path, variants: str | None = None,
            tox: Sequence[str] | None = None, timeout: float = 7200) -> dict:
    """Every step of one environment that has no output yet; its status."""
    folder = out / env.name
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "log.txt"
    python = env.python
    if python is None and env.requirements:
        python = str(root / ENVS_DIR / env.name / "bin" / "python")
        if not Path(python).is_file():
            progress(f"{env.name}: installing ({' '.join(env.requirements)})")
            code = _venv_install(env, Path(python).parent.parent, root, log, timeout)
            if code != 0:
                _set_status(folder, install="failed", error=_tail(log))
                progress(f"{env.name}: install failed (see {log})")
                return _status(folder)
    elif python is None:
        python = str(root / ".tox" / env.name / "bin" / "python")
        if not Path(python).is_file():
            # tox.ini's own recipe, commands_pre included (this package with --no-deps, tf-keras where needed);
            # the test command only collects
            progress(f"{env.name}: installing (tox -e {env.name} -- --collect-only)")
            code = _run([*(tox or tox_command()), "-c", str(root / "tox.ini"), "-e", env.name, "--", "--collect-only",
                         "-q"], log, timeout)
            if code != 0 or not Path(python).is_file():
                _set_status(folder, install="failed", error=_tail(log))
                progress(f"{env.name}: install failed (see {log})")
                return _status(folder)
    _set_status(folder, install="ok", python=python)
    bin_dir = Path(python).parent
    child_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                 "PYTHONPATH": str(root)}  # this checkout's code, also where an interpreter lacks the package
    if env.name.endswith("-legacy"):
        child_env["TF_USE_LEGACY_KERAS"] = "1"
    steps = [("defaults", folder / "defaults.json",
              [python, "-c", "import json, sys; from overfit_core.defaults import experiment_defaults; "
                             f"json.dump(experiment_defaults(), open({str(folder / 'defaults.json.tmp')!r}, 'w'))"])]
    # A step trained for some variants only (bisect) is named with them: a later full matrix step still runs,
    # and reuses their records.
    only = f" ({variants})" if variants else ""
    for kind in kinds:
        steps.append((f"records {kind}{only}", folder / kind / "report.md",
                      [python, "-m", "overfit_core.cli", "run", "--data", kind, "--seeds", seeds, "--tier", tier,
                       "--no-checks", "--fits-per-process", "0", "--out", str(folder / kind),
                       *(["--variants", variants] if variants else [])]))
    if bench:
        steps.append((f"benchmarks{only}", folder / "bench.json",
                      [python, "-m", "pytest", str(root / "benchmarks" / "test_calibration.py"),
                       str(root / "benchmarks" / "test_variants.py"), "-k", BENCH_K, "-q", "-p", "no:cacheprovider",
                       "--benchmark-json", str(folder / "bench.json.tmp"),
                       *(["--bench-variants", variants] if variants else [])]))
    def done(name: str) -> bool:
        ok = _status(folder)
        return any(str(ok.get(n, "")).startswith("ok") for n in (name, name.removesuffix(only)))

    for name, output, cmd in steps:
        if output.exists() and done(name):
            continue
        progress(f"{env.name}: {name}")
        start = time.monotonic()
        code = _run(cmd, log, timeout, child_env, cwd=root)
        tmp = output.with_name(output.name + ".tmp")
        if tmp.exists():
            if code == 0:
                tmp.replace(output)
            else:
                tmp.unlink()
        if code != 0 or not output.exists():
            _set_status(folder, **{name: f"failed (exit {code})", "error": _tail(log)})
            progress(f"{env.name}: {name} failed (exit {code}; see {log})")
            continue
        _set_status(folder, **{name: f"ok in {time.monotonic() - start:.0f}s"})
    if hasattr(os, "getloadavg"):
        _set_status(folder, load_average=list(os.getloadavg()))
    return _status(folder)


ENVS_DIR = ".envs"  # venvs made for Env.requirements, inside the checkout (.gitignore)


def pkg_deps(root: Path) -> list[str]:
    """tox.ini's [pkg] deps: the package's runtime and test dependencies except TensorFlow."""
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(root / "tox.ini")
    return [line.strip() for line in ini.get("pkg", "deps", fallback="").splitlines() if line.strip()]


def base_python() -> str:
    """A Python 3.11, the interpreter tox.ini's release environments use (base_python = py311)."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if not found:
        raise ConfigError("No Python 3.11 found (tox.ini's environments use it): install it, or put python3.11 on "
                          "the PATH")
    return found


def _venv_install(env: Env, venv: Path, root: Path, log: Path, timeout: float) -> int:
    """A fresh venv at `venv` with env.requirements and tox.ini's [pkg] deps; the first failing step's exit code.
    A half-made venv is removed, so the next run starts over."""
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    for cmd in ([base_python(), "-m", "venv", str(venv)],
                [python, "-m", "pip", "install", "-q", *env.requirements, *pkg_deps(root)]):
        code = _run(cmd, log, timeout)
        if code != 0:
            shutil.rmtree(venv, ignore_errors=True)
            return code
    return 0


def tox_command() -> list[str]:
    """tox as this interpreter's module where it is installed, else `tox` from the PATH."""
    import importlib.util

    return [sys.executable, "-m", "tox"] if importlib.util.find_spec("tox") else ["tox"]


# --- collecting ------------------------------------------------------------------------------------

def _records(folder: Path) -> list:
    from .bundle import load_record_set

    found = []
    for kind_dir in sorted(p for p in folder.iterdir() if (p / "records").is_dir()):
        try:
            found += list(load_record_set(kind_dir / "records", "records").records)
        except ConfigError:
            continue
    return found


def summarise(folder: Path) -> dict:
    """The environment's compact summary: per check binding its seeds passed and median effect, key metrics'
    medians per variant (as `compare` computes them), versions, defaults, and throughput per numpy GFLOP/s."""
    from .compare import evaluate_checks, metric_value

    records = _records(folder)
    notes: list[str] = []
    checks = {}
    for (check, label, dataset, kind, tier), results in sorted(evaluate_checks(records, folder.name, notes).items()):
        judged = [r for r in results if not r.skipped]
        effects = [r.effect for r in judged if not math.isnan(r.effect)]
        checks[f"{check}|{label}|{kind}|{tier}"] = {
            "passed": sum(r.passed for r in judged), "seeds": len(judged),
            "median_effect": statistics.median(effects) if effects else None}
    metrics: dict[str, dict] = {}
    for r in records:
        key = f"{r.variant}|{r.data_kind}|{r.config.tier}"
        for m in KEY_METRICS:
            value = metric_value(m, r) if r.status == "ok" else math.nan  # as compare reads it
            if math.isfinite(value):
                metrics.setdefault(key, {}).setdefault(m, []).append(value)
    versions = records[0].versions if records else {}
    summary = {"env": folder.name, "versions": dict(versions), "status": _status(folder),
               "seeds": sorted({r.seed for r in records}), "checks": checks,
               "metrics": {k: {m: statistics.median(v) for m, v in ms.items()} for k, ms in metrics.items()},
               "notes": notes}
    if (folder / "defaults.json").is_file():
        summary["defaults"] = json.loads((folder / "defaults.json").read_text())
    if (folder / "bench.json").is_file():
        summary["throughput"] = _throughput(json.loads((folder / "bench.json").read_text()))
    return summary


def _throughput(bench: Mapping) -> dict:
    rows = [b.get("extra_info", {}) for b in bench.get("benchmarks", [])]
    numpy_peak = next((r.get("peak_gflops") for r in rows if r.get("calibration") == "numpy_matmul_peak"), None)
    return {r["variant"]: {"samples_per_s": r["samples_per_s"],
                           "per_numpy_gflops": r["samples_per_s"] / numpy_peak if numpy_peak else None}
            for r in rows if r.get("kind") == "train" and "samples_per_s" in r}


def _cell_check(c: Mapping | None) -> str:
    if not c:
        return "–"
    eff = c.get("median_effect")
    return f"{c['passed']}/{c['seeds']}" + (f" ({eff:.3g})" if isinstance(eff, (int, float)) else "")


@dataclass(frozen=True)
class View:
    """What matrix.md and matrix.html show, computed once (compare runs between neighbours)."""

    cols: tuple[str, ...]
    versions: tuple[tuple[str, tuple[str, ...]], ...]  # (library, its version per environment)
    status: tuple[str, ...]
    checks: tuple[tuple[tuple[str, ...], tuple], ...]  # ((check, label, kind, tier), cell dict or None per env)
    metrics: tuple[tuple[tuple[str, ...], tuple], ...]  # ((variant, kind, metric), median or None per env)
    throughput: tuple[tuple[str, tuple], ...]  # (variant, samples/s per numpy GFLOP/s or None per env)
    neighbours: tuple[tuple[str, str, str, tuple], ...]  # (a, b, the defaults sentence, verdicts per data kind)


def view(out: Path, envs: Sequence[str], compare_neighbours: bool = True) -> View:
    """The matrix of the environments that have a summary, in the order given."""
    from .defaults import describe_diff, diff_defaults

    summaries = {e: json.loads((out / e / "summary.json").read_text()) for e in envs
                 if (out / e / "summary.json").is_file()}
    cols = tuple(envs)

    def get(e, *path):
        value = summaries.get(e, {})
        for k in path:
            value = value.get(k, {}) if isinstance(value, dict) else {}
        return value if value != {} else None

    def status(e):
        st = _status(out / e)
        if st.get("install") == "failed":
            return "install failed"
        failed = "; ".join(f"{k} {v}" for k, v in st.items() if str(v).startswith("failed"))
        return failed or ("ok" if e in summaries else "not run")

    checks = sorted({k for sm in summaries.values() for k in sm.get("checks", {})})
    metric_keys = sorted({k for sm in summaries.values() for k in sm.get("metrics", {})})
    present = [e for e in cols if e in summaries]
    neighbours = []
    for a, b in zip(present, present[1:]):
        a = REFERENCE[b] if REFERENCE.get(b) in summaries else a
        da, db = summaries[a].get("defaults"), summaries[b].get("defaults")
        changed = diff_defaults(da, db) if da and db else []
        sentence = describe_diff(changed) if changed else "none changed" if da and db else "not recorded on both"
        neighbours.append((a, b, sentence, tuple(_neighbour_verdicts(out / a, out / b)) if compare_neighbours else ()))
    return View(
        cols=cols,
        versions=tuple((k, tuple(str(get(e, "versions", k) or "–") for e in cols))
                       for k in ("tensorflow", "keras", "backend", "numpy", "python")),
        status=tuple(status(e) for e in cols),
        checks=tuple((tuple(k.split("|")), tuple(get(e, "checks", k) for e in cols)) for k in checks),
        metrics=tuple(row for row in (((k.split("|")[0], k.split("|")[1], m),
                                       tuple(get(e, "metrics", k, m) for e in cols))
                                      for k in metric_keys for m in KEY_METRICS)
                      if any(x is not None for x in row[1])),
        throughput=tuple((v, tuple(get(e, "throughput", v, "per_numpy_gflops") for e in cols))
                         for v in sorted({v for sm in summaries.values() for v in sm.get("throughput", {})})),
        neighbours=tuple(neighbours))


INTRO = ("Cells: seeds passed / seeds (median effect size) per check binding, data kind and tier; `–`: not run "
         "there.")
THROUGHPUT = "Throughput (training samples/s per numpy float32 GFLOP/s of the same run)"


def _num_text(v) -> str:
    return "–" if v is None else f"{v:.4g}"


def render(out: Path, envs: Sequence[str], compare_neighbours: bool = True, v: View | None = None) -> str:
    """matrix.md for the environments that have a summary, in the order given."""
    v = v or view(out, envs, compare_neighbours)
    cols = list(v.cols)

    def row(*cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"
    lines = ["# The version matrix", "", f"Environments: {', '.join(cols)}. {INTRO}", "",
             row("environment", *cols), "|" + "---|" * (len(cols) + 1)]
    lines += [row(k, *vals) for k, vals in v.versions] + [row("status", *v.status)]
    lines += ["", "## Checks", "", row("check", "variants", "data", "tier", *cols),
              "|---|---|---|---|" + "---|" * len(cols)]
    lines += [row(*key, *(_cell_check(c) for c in cells)) for key, cells in v.checks]
    lines += ["", "## Key metrics (median over seeds)", "", row("variant", "data", "metric", *cols),
              "|---|---|---|" + "---|" * len(cols)]
    lines += [row(*key, *(_num_text(x) for x in vals)) for key, vals in v.metrics]
    if v.throughput:
        lines += ["", f"## {THROUGHPUT}", "", row("variant", *cols), "|---|" + "---|" * len(cols)]
        lines += [row(name, *("–" if c is None else f"{c:.1f}" for c in cells)) for name, cells in v.throughput]
    lines += ["", "## Between neighbours", ""]
    for a, b, sentence, verdicts in v.neighbours:
        lines += [f"### {a} -> {b}", "", f"Defaults: {sentence}."]
        if verdicts:
            lines.append("")
        for kind in verdicts:
            if kind["verdict"] is None:
                lines.append(f"- {kind['kind']}: not compared ({kind['why']})")
                continue
            lines.append(f"- {kind['kind']}: **{kind['verdict']}** ({kind['why']})")
            lines += [f"  - {m}" for m in kind["moved"]]
            if kind["more"]:
                lines.append(f"  - and {kind['more']} more (run `overfit-bench compare` on the two folders)")
        lines.append("")
    return "\n".join(lines) + "\n"


def render_html(out: Path, envs: Sequence[str], compare_neighbours: bool = True, v: View | None = None) -> str:
    """matrix.html: the same tables as matrix.md in the report's page (`html_report.page`), sortable; a check
    cell with a failed seed and a neighbour pair that `compare` did not call the same are marked."""
    from .html_report import _e, _num, _table, page

    v = v or view(out, envs, compare_neighbours)
    cols = list(v.cols)
    body = [f"<p>{_e(INTRO.replace('`', ''))}</p>",
            _table(["environment", *cols], [f"<tr><th>{_e(k)}</th>" + "".join(f"<td>{_e(x)}</td>" for x in vals)
                                            + "</tr>" for k, vals in [*v.versions, ("status", v.status)]])]

    def check_td(c) -> str:
        failed = bool(c) and c["passed"] < c["seeds"]
        key = "" if not c or c.get("median_effect") is None else repr(float(c["median_effect"]))
        return f'<td class="n{" failcell" if failed else ""}" data-sort="{key}">{_e(_cell_check(c))}</td>'
    n = range(4, 4 + len(cols))
    body.append("<h2>Checks</h2>" + _table(
        ["check", "variants", "data", "tier", *cols],
        ["<tr>" + "".join(f"<td>{_e(k)}</td>" for k in key) + "".join(check_td(c) for c in cells) + "</tr>"
         for key, cells in v.checks], "checks", n))
    body.append("<h2>Key metrics (median over seeds)</h2>" + _table(
        ["variant", "data", "metric", *cols],
        ["<tr>" + "".join(f"<td>{_e(k)}</td>" for k in key) + "".join(_num(x) if x is not None else "<td>–</td>"
                                                                      for x in vals) + "</tr>"
         for key, vals in v.metrics], "metrics", range(3, 3 + len(cols))))
    if v.throughput:
        body.append(f"<h2>{_e(THROUGHPUT)}</h2>" + _table(
            ["variant", *cols], [f"<tr><td>{_e(name)}</td>" + "".join(
                _num(c, ".1f") if c is not None else "<td>–</td>" for c in cells) + "</tr>"
                for name, cells in v.throughput], "throughput", range(1, 1 + len(cols))))
    body.append("<h2>Between neighbours</h2>")
    for a, b, sentence, verdicts in v.neighbours:
        items = []
        for kind in verdicts:
            cls = {"same": "pass", None: ""}.get(kind["verdict"], "fail")
            moved = "".join(f"<li>{_e(m)}</li>" for m in kind["moved"])
            more = f"<li>and {kind['more']} more</li>" if kind["more"] else ""
            items.append(f'<li class="{cls}">{_e(kind["kind"])}: <b>{_e(kind["verdict"] or "not compared")}</b> '
                         f"({_e(kind['why'])})" + (f"<ul>{moved}{more}</ul>" if moved or more else "") + "</li>")
        body.append(f"<section><h3>{_e(a)} → {_e(b)}</h3><p>Defaults: {_e(sentence.replace('`', ''))}.</p>"
                    f"<ul>{''.join(items)}</ul></section>")
    return page("overfit-bench version matrix", f"environments: {', '.join(cols)}", "".join(body))


def _neighbour_verdicts(a: Path, b: Path) -> list[dict]:
    """`compare`'s verdict per data kind, and the rows it did not call the same (the first 12)."""
    from .bundle import load_record_set
    from .compare import TOO_FEW, compare

    found = []
    for kind_dir in sorted(p for p in a.iterdir() if (p / "records").is_dir()):
        other = b / kind_dir.name / "records"
        if not other.is_dir():
            continue
        try:
            c = compare(load_record_set(kind_dir / "records", "base"), load_record_set(other, "head"),
                        correction="bh")
        except ConfigError as e:
            found.append({"kind": kind_dir.name, "verdict": None, "why": str(e), "moved": [], "more": 0})
            continue
        moved = [r for r in c.rows if r.verdict in ("flipped", "weakened", "changed", "strengthened", "fixed")]
        few = sum(r.verdict == TOO_FEW for r in c.rows)
        found.append({
            "kind": kind_dir.name, "verdict": c.verdict,
            "why": f"{len(moved)} of {len(c.rows)} rows moved; Mann-Whitney U, Benjamini-Hochberg"
                   + (f"; {few} rows had too few seeds" if few else ""),
            "moved": [f"{r.where}: {r.label} {r.verdict}" + (f" ({r.base_median:.4g} -> {r.head_median:.4g})"
                                                             if r.section == "metric" or r.quantity != "passes"
                                                             else "") for r in moved[:12]],
            "more": max(0, len(moved) - 12)})
    return found


def write_pages(out: Path, envs: Sequence[str]) -> tuple[Path, Path]:
    """OUT/matrix.md and OUT/matrix.html, from one view."""
    v = view(out, envs)
    return (atomic_write(out / "matrix.md", render(out, envs, v=v)),
            atomic_write(out / "matrix.html", render_html(out, envs, v=v)))


def write_baseline(folder: Path, summary: Mapping, path: Path) -> Path:
    """The environment's committed reference: its summary and compare's per-seed values (`compare` takes the
    file as BASE, so a nightly is gated against a release without rerunning it)."""
    from .bundle import BASELINE_SCHEMA
    from .compare import baseline_rows

    compact = {"schema": BASELINE_SCHEMA, **{k: v for k, v in summary.items() if k != "status"},
               "rows": baseline_rows(_records(folder))}
    return atomic_write(path, json.dumps(compact, sort_keys=True, separators=(",", ":")))


def run_matrix(envs: Sequence[Env], out: Path, *, seeds: str, kinds: Sequence[str], tier: str, bench: bool,
               baselines: Path | None, progress: Callable[[str], None], root: Path,
               variants: str | None = None) -> Path:
    """Every environment in turn, then the summaries, the baselines and matrix.md; the path of matrix.md."""
    out.mkdir(parents=True, exist_ok=True)
    if tox_command() == ["tox"] and shutil.which("tox") is None and any(e.python is None for e in envs):
        progress("note: tox is not installed; environments without --python will fail to install")
    for i, env in enumerate(envs, 1):
        progress(f"[{i}/{len(envs)}] {env.name}")
        run_env(env, out, seeds=seeds, kinds=kinds, tier=tier, bench=bench, progress=progress, root=root,
                variants=variants)
        summary = summarise(out / env.name)
        atomic_write(out / env.name / "summary.json", json.dumps(summary, indent=1, sort_keys=True))
        if baselines is not None and summary["checks"]:
            write_baseline(out / env.name, summary, baselines / f"{env.name}.json")
    path, _ = write_pages(out, [e.name for e in envs])
    return path


if __name__ == "__main__":  # python -m overfit_core.matrix OUT ENV... : re-render matrix.md and matrix.html only
    md, page_path = write_pages(Path(sys.argv[1]), sys.argv[2:])
    print(md.read_text(), end="")
    print(f"wrote {md} and {page_path}", file=sys.stderr)
