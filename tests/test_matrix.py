"""tox.ini and .github/workflows/ci.yml agree with `SUPPORTED_TF`, and every command the workflow runs exists."""
from __future__ import annotations

import configparser
import contextlib
import functools
import io
import itertools
import json
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from overfit_core import SUPPORTED_TF
from overfit_core.known_failures import KNOWN_FAILURES, known_failure, tf_minor

from ._shared import once_per_session

yaml = pytest.importorskip("yaml", reason="install the `test` extra (pip install -e '.[test]') for PyYAML")
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
RUNNER_TEMP = "/runner-temp"  # stands for $RUNNER_TEMP; the base worktree there is a checkout of this repo


# --- tox.ini ----------------------------------------------------------------------------------

def _expand(text: str) -> list[str]:
    """tox generative names: 'tf{212,213}-x' -> ['tf212-x', 'tf213-x']."""
    parts = re.split(r"\{([^{}]*)\}", text)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c).strip() for c in itertools.product(*choices)]


def _tox() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini", encoding="utf-8")
    return ini


def tox_envs() -> dict[str, str]:
    """env name -> its section ('testenv' or 'testenv:NAME')."""
    ini = _tox()
    envs = {}
    for item in re.split(r"[\n,](?![^{]*\})", ini["tox"]["env_list"]):
        envs.update((name, "testenv") for name in _expand(item.strip()) if name)
    envs.update((s.split(":", 1)[1], s) for s in ini.sections() if s.startswith("testenv:"))
    return envs


def _factors_match(condition: str, factors: set[str]) -> bool:
    """tox factor conditions: ',' is or, '-' is and, '!' negates."""
    return any(all((f[1:] not in factors) if f.startswith("!") else (f in factors) for f in alt.split("-"))
               for alt in condition.split(","))


def tox_value(env: str, key: str) -> list[str]:
    """The env's lines for `key`, with `{[section]key}` references and factor conditions resolved."""
    ini, section = _tox(), tox_envs()[env]
    raw = ini[section].get(key, ini["testenv"].get(key, ""))
    raw = re.sub(r"\{\[([^\]]+)\](\w+)\}", lambda m: ini[m[1]][m[2]], raw)
    lines = []
    for line in raw.splitlines():
        line = line.strip()
        cond = re.match(r"^([\w!,-]+):\s+(.*)$", line)
        if cond:
            if not _factors_match(cond[1], set(env.split("-"))):
                continue
            line = cond[2]
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def tf_envs() -> dict[str, str]:
    """'tf212' -> '2.12' for every env in tox's env_list."""
    out = {}
    for env, section in tox_envs().items():
        m = re.fullmatch(r"tf(\d)(\d+)", env)
        if m and section == "testenv":
            out[env] = f"{m[1]}.{m[2]}"
    return out


def _requirements(lines) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in lines]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def test_supported_tf_is_ascending_minor_versions():
    assert SUPPORTED_TF, "SUPPORTED_TF is empty"
    assert all(re.fullmatch(r"2\.\d+", v) for v in SUPPORTED_TF), SUPPORTED_TF
    assert list(SUPPORTED_TF) == sorted(set(SUPPORTED_TF), key=lambda v: int(v.split(".")[1])), SUPPORTED_TF


def test_tox_env_list_covers_exactly_supported_tf():
    tox = tf_envs()
    assert list(tox.values()) == list(SUPPORTED_TF), (
        f"tox.ini env_list has TensorFlow envs {sorted(tox)}; expected one `tfXYZ` env per overfit_core.SUPPORTED_TF "
        f"{SUPPORTED_TF}. Edit env_list and the per-factor `tensorflow-cpu` pins together with SUPPORTED_TF.")


@pytest.mark.parametrize("env", list(tf_envs()))
def test_tf_env_installs_tensorflow_cpu_of_its_version_and_no_full_wheel(env):
    version = tf_envs()[env]
    reqs = _requirements(tox_value(env, "deps"))
    assert str(reqs.get("tensorflow-cpu", "")) == f"tensorflow-cpu=={version}.*", (
        f"tox env {env}: expected deps to pin tensorflow-cpu=={version}.*; got {reqs.get('tensorflow-cpu')}")
    assert not {"tensorflow", "tf-keras"} & set(reqs), f"tox env {env} would install the full tensorflow wheel"


@pytest.mark.parametrize("env", list(tox_envs()))
def test_package_is_installed_without_its_tensorflow_requirement(env):
    ini = _tox()
    section = ini[tox_envs()[env]]
    assert section.get("skip_install", ini["testenv"].get("skip_install")) == "true", (
        f"tox env {env}: the package must not be installed with its dependencies (`tensorflow>=2.12` pulls the "
        f"full wheel on top of tensorflow-cpu); keep skip_install = true and install it in commands_pre")
    installs = [c for c in tox_value(env, "commands_pre") if "pip install" in c]
    assert installs and all("--no-deps" in c for c in installs), f"tox env {env}: commands_pre {installs}"


@pytest.mark.parametrize("env", list(tf_envs()))
def test_keras3_envs_install_tf_keras_of_their_version_without_dependencies(env):
    version = tf_envs()[env]
    installs = [c for c in tox_value(env, "commands_pre") if "tf-keras" in c]
    if int(version.split(".")[1]) < 16:  # Keras 2 is TensorFlow's own Keras there
        assert not installs, f"tox env {env}: TF {version} ships Keras 2; tf-keras is not needed"
        return
    assert installs == [f'python -m pip install --quiet --no-deps "tf-keras=={version}.*"'], (
        f"tox env {env}: multi-worker training needs tf-keras=={version}.* installed with --no-deps; got {installs}")


def _set_env(env: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in tox_value(env, "set_env") if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


@pytest.mark.parametrize("env, backend", [("jax", "jax"), ("torch", "torch")])
def test_backend_envs_run_keras3_on_their_backend_without_tensorflow(env, backend):
    reqs = _requirements(line for line in tox_value(env, "deps") if not line.startswith("--"))
    assert not {"tensorflow", "tensorflow-cpu", "tf-nightly", "tf-keras"} & set(reqs), f"tox env {env}: {reqs}"
    assert backend in reqs and str(reqs["keras"]).startswith("keras>=3"), f"tox env {env}: {reqs}"
    assert _set_env(env).get("KERAS_BACKEND") == backend
    if backend == "torch":  # PyPI's Linux wheel pulls gigabytes of CUDA libraries; the CPU build comes from here
        assert "--index-url https://download.pytorch.org/whl/cpu" in tox_value(env, "deps")


def test_the_legacy_keras_env_runs_tf_keras_on_the_newest_tf():
    assert str(_requirements(tox_value("tf221-legacy", "deps"))["tensorflow-cpu"]) == \
        f"tensorflow-cpu=={SUPPORTED_TF[-1]}.*"
    assert _set_env("tf221-legacy").get("TF_USE_LEGACY_KERAS") == "1"
    assert any("tf-keras==2.21.*" in c and "--no-deps" in c for c in tox_value("tf221-legacy", "commands_pre"))


def test_ci_installs_tf_keras_of_tensorflows_minor_without_dependencies():
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r'pip install -q --no-deps "tf-keras~=\$\{tf_minor\}\.0"', text), "tf-keras install in .ci/run"


def test_tox_deps_mirror_pyproject_without_tensorflow():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = _requirements(project["dependencies"] + project["optional-dependencies"]["test"])
    assert str(wanted.pop("tensorflow")) == "tensorflow>=2.12", "update tox.ini and SUPPORTED_TF with pyproject"
    tox = _requirements(line.strip() for line in _tox()["pkg"]["deps"].splitlines() if line.strip())
    assert {k: str(v) for k, v in tox.items()} == {k: str(v) for k, v in wanted.items()}, (
        "tox.ini [pkg] deps must equal pyproject's dependencies (without tensorflow) plus its `test` extra")


def test_bench_env_runs_the_newest_supported_tf():
    reqs = _requirements(tox_value("bench", "deps"))
    assert str(reqs["tensorflow-cpu"]) == f"tensorflow-cpu=={SUPPORTED_TF[-1]}.*"


def test_known_failures_name_real_checks_bindings_and_environments():
    from overfit_core.checks import CHECKS, bindings
    from overfit_core.known_failures import BACKENDS
    from overfit_core.variants import VARIANTS

    environments = (*SUPPORTED_TF, *(b for b in BACKENDS if b != "tensorflow"))
    for key, reason in KNOWN_FAILURES.items():
        check, env, *label = key
        assert check in CHECKS, f"KNOWN_FAILURES: unknown check {check!r}; expected one of {', '.join(CHECKS)}"
        assert env in environments, f"KNOWN_FAILURES: {env!r} is neither in SUPPORTED_TF nor a backend: {environments}"
        labels = {b.label for b in bindings(VARIANTS, [check])}
        assert len(label) <= 1 and set(label) <= labels, f"KNOWN_FAILURES{key}: a binding of {check} is one of {labels}"
        assert isinstance(reason, str) and reason.strip(), f"KNOWN_FAILURES{key} needs a reason"
    assert tf_minor("2.15.0.post1") == "2.15" and known_failure("learns", "2.21.0") is None
    assert known_failure("learns", "2.21.0", "bn_basic_init10", "jax") is not None
    assert known_failure("learns", "2.21.0", "bn_basic_init10") is None  # on TensorFlow it holds
    assert known_failure("learns", "", "basic", "jax") is None  # one binding, not the whole check
    with pytest.raises(ValueError, match="version='nightly'"):
        tf_minor("nightly")


# --- the workflow -------------------------------------------------------------------------------

def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _matrices() -> dict[str, list[dict]]:
    """job -> its matrix entries (each `include` entry, or the product of the axes)."""
    out = {}
    for name, job in workflow()["jobs"].items():
        matrix = dict(job.get("strategy", {}).get("matrix", {}))
        include = matrix.pop("include", [])
        axes = [[(k, v) for v in vs] for k, vs in matrix.items()]
        out[name] = [dict(c) for c in itertools.product(*axes)] if axes else []
        out[name] += include
    return out


def test_workflow_parses_and_runs_on_pushes_and_pull_requests():
    wf = workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    assert {"tests", "bench"} <= set(wf["jobs"])


def test_the_full_tier_runs_weekly_on_the_real_data():
    wf = workflow()
    triggers = wf.get("on", wf.get(True))
    assert triggers["schedule"] and "schedule" in wf["jobs"]["full-tier"]["if"]
    runs = " ".join(step.get("run", "") for step in wf["jobs"]["full-tier"]["steps"])
    assert "overfit-bench run --data real --tier full --seeds 0-19" in runs


def test_a_scheduled_job_gates_the_nightly_against_the_newest_release_with_compare():
    wf = workflow()
    job = wf["jobs"]["nightly"]
    assert "schedule" in job["if"]
    runs = [step.get("run", "") for step in job["steps"]]
    matrix = next(r for r in runs if r.startswith("overfit-bench matrix"))
    assert f"--envs tf{SUPPORTED_TF[-1].replace('.', '')},nightly" in matrix and "--bench" in matrix
    assert any(r.startswith("overfit-bench compare") and "/nightly/" in r for r in runs)
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in job["steps"])
    uploads = [s for s in wf["jobs"]["tests"]["steps"] if "overfit-bench export" in s.get("run", "")]
    assert uploads, "the per-version test jobs bundle their records"


def test_workflow_matrix_is_exactly_supported_tf():
    entries = _matrices()["tests"]
    assert [e["tf"] for e in entries] == list(SUPPORTED_TF), "the tests job's matrix must list SUPPORTED_TF"
    envs = tf_envs()
    for e in entries:
        assert envs.get(e["tox-env"]) == e["tf"], f"matrix entry {e}: tox env {e['tox-env']!r} is not TF {e['tf']}"


def _substitute(text: str, context: dict) -> str:
    def expr(m):
        key = m[1].strip()
        if key not in context:
            raise AssertionError(f"workflow expression ${{{{ {key} }}}} is not one the test knows; add it to the context")
        return str(context[key])

    return re.sub(r"\$\{\{([^}]*)\}\}", expr, text)


def _simple_commands(line: str) -> list[list[str]]:
    """A shell line split at ; && || | and `if/then/else/fi`, redirections dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, cmd, redirect = [], [], False
    for word in [*lexer, ";"]:
        if word in (">", ">>"):
            redirect = True
        elif word in (";", "&&", "||", "|") or (not cmd and word in ("if", "then", "else", "fi")):
            commands += [cmd] if cmd else []
            cmd, redirect = [], False
        elif redirect:
            redirect = False  # the redirection target
        else:
            cmd.append(word)
    return commands


def workflow_commands() -> list[tuple[str, list[str], str]]:
    """(id, argv, working directory) of every simple command in every `run:` step, per matrix entry."""
    out = []
    wf = workflow()
    for job_name, job in wf["jobs"].items():
        for entry in _matrices()[job_name] or [{}]:
            context = {f"matrix.{k}": v for k, v in entry.items()}
            context.update({"runner.temp": RUNNER_TEMP, "github.event.pull_request.base.sha": "BASE_SHA"})
            env = {k: _substitute(str(v), context) for k, v in {**wf.get("env", {}), **job.get("env", {})}.items()}
            env.update(RUNNER_TEMP=RUNNER_TEMP, GITHUB_OUTPUT=f"{RUNNER_TEMP}/output")
            for i, step in enumerate(job["steps"]):
                if "run" not in step:
                    continue
                cwd = _substitute(step.get("working-directory", "."), context)
                script = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], m[0]), _substitute(step["run"], context))
                for line in script.splitlines():
                    for n, cmd in enumerate(_simple_commands(line)):
                        out.append((f"{job_name}-{entry.get('tf', '')}-step{i}-{n}".replace("--", "-"), cmd, cwd))
    return out


def test_workflow_tests_on_the_official_datasets_cut_to_the_calibrated_subsets():
    """The tests job downloads the official datasets with keras.datasets into a cached folder, then runs the suite
    with OVERFIT_DOWNLOAD=1 (or a data directory), OVERFIT_REQUIRE_REAL=1 and OVERFIT_SUBSET=calibrated."""
    from overfit_core.settings import Settings

    wf = workflow()
    job = wf["jobs"]["tests"]
    steps = job["steps"]
    suite = [i for i, s in enumerate(steps) if re.search(r"\btox -e \$\{\{ matrix.tox-env \}\}", s.get("run", ""))]
    assert len(suite) == 1, "expected one step that runs the suite with `tox -e ${{ matrix.tox-env }}`"
    env = {k: str(v) for k, v in {**wf.get("env", {}), **job.get("env", {}), **steps[suite[0]].get("env", {})}.items()}
    settings = Settings.resolve(environ=env)
    assert env.get("OVERFIT_REQUIRE_REAL") == "1" and settings.require_real
    assert env.get("OVERFIT_SUBSET") == "calibrated" and settings.subset == "calibrated"
    assert env.get("OVERFIT_DOWNLOAD") == "1" or env.get("OVERFIT_DATA_DIR"), "the suite step needs real data"
    cache = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/cache@")]
    download = [i for i, s in enumerate(steps) if "tools/download_datasets.py" in s.get("run", "")]
    assert cache and download and cache[0] < download[0] < suite[0], "cache, then download, then the suite"
    assert steps[cache[0]]["with"]["path"] == "~/.keras/datasets" and steps[cache[0]]["with"]["key"]


def test_workflow_actions_are_pinned_to_a_major_version():
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"pin {step['uses']!r} to a major tag"


def _local(path: str, cwd: str = ".") -> Path:
    """A workflow path on this machine: the base worktree under $RUNNER_TEMP is this repo."""
    path = str(Path(cwd) / path) if not path.startswith("/") else path
    if path.startswith(f"{RUNNER_TEMP}/base"):
        return ROOT / path[len(f"{RUNNER_TEMP}/base"):].lstrip("/")
    return ROOT / path


PARSE_CHILD = """
import contextlib, io, json, os, sys
import pytest
results = []
for args, cwd in json.loads(sys.argv[1]):
    os.chdir(cwd)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = pytest.main([*args, "--collect-only", "-q", "--ignore-glob=*", "-p", "no:cacheprovider"])
    results.append([int(code), out.getvalue()[-3000:]])
print(json.dumps(results))
"""


def _pytest_command_lines() -> list[tuple[tuple[str, ...], str]]:
    """Every (pytest arguments, folder) the workflow runs, through tox's commands too."""
    found = []

    def collect(args, cwd):
        found.append((tuple(args), str(cwd)))

    for _, argv, cwd in COMMANDS:
        try:
            _check(argv, _local(".", cwd), check_pytest=collect)
        except AssertionError:  # that command's own test reports it; the others' pytest lines are still parsed
            pass
    return sorted(set(found))


def _pytest_parse_all() -> list:
    """pytest on each workflow command line, collecting nothing, all in one child process: [arguments, folder,
    exit code, output] per line.

    Exit 5 once every option (conftests' too) parsed, 4 on a bad one. One child, not one per command line: each
    start costs a Python and pytest start-up.
    """
    lines = _pytest_command_lines()
    with tempfile.TemporaryDirectory() as tmp:  # output files such as --benchmark-json land here
        todo = [[[a.replace(RUNNER_TEMP, tmp) for a in args], cwd] for args, cwd in lines]
        proc = subprocess.run([sys.executable, "-c", PARSE_CHILD, json.dumps(todo)], capture_output=True, text=True,
                              timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return [[list(args), cwd, code, out] for (args, cwd), (code, out) in zip(lines, results)]


@pytest.fixture(scope="module")
def pytest_parsed(tmp_path_factory):
    """(pytest arguments, folder) -> (exit code, output), from `_pytest_parse_all` on first use.

    pytest-xdist workers share one child: the first worker to need the results writes them, under a lock, into the
    run's temporary folder (the parent of each worker's own), and the others read them there.
    """
    @functools.lru_cache(maxsize=None)
    def parsed() -> dict[tuple[tuple[str, ...], str], tuple[int, str]]:
        results = once_per_session(tmp_path_factory, "workflow-pytest-lines", _pytest_parse_all)
        return {(tuple(args), cwd): (code, out) for args, cwd, code, out in results}

    return parsed


def _check_pytest(args: list[str], cwd: Path, parsed):
    code, out = parsed()[tuple(args), str(cwd)]
    assert code == 5, (f"`pytest {shlex.join(args)}` is not a valid command line (missing path or unknown "
                       f"option):\n{out}")


def _check_console_script(argv: list[str]):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert argv[0] in scripts, f"{argv[0]!r} is not a console script of this package; expected one of {list(scripts)}"
    assert scripts[argv[0]] == "overfit_core.cli:main"
    from overfit_core.cli import build_parser

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv[1:])
        except SystemExit:
            pass
    assert not err.getvalue(), f"`{shlex.join(argv)}`: the CLI rejects these arguments:\n{err.getvalue()}"


def _check(argv: list[str], cwd: Path, check_pytest):
    if argv[:3] == ["python", "-m", "tox"]:
        argv = argv[2:]
    prog, rest = argv[0], argv[1:]
    if prog == "tox":
        assert (cwd / "tox.ini").is_file()
        posargs = rest[rest.index("--") + 1:] if "--" in rest else []
        opts = rest[: rest.index("--")] if "--" in rest else rest
        sub = opts[0] if opts and not opts[0].startswith("-") else "run"
        assert sub in ("run", "exec"), f"tox subcommand {sub!r}"
        env = opts[opts.index("-e") + 1]
        assert env in tox_envs(), f"tox env {env!r} is not in tox.ini; expected one of {sorted(tox_envs())}"
        if sub == "exec":
            _check(posargs, cwd, check_pytest)
            return
        for command in tox_value(env, "commands"):
            words = shlex.split(command.replace("{posargs}", shlex.join(posargs)))
            _check(words, cwd, check_pytest)
    elif prog == "pytest" or argv[:3] == ["python", "-m", "pytest"]:
        check_pytest(rest if prog == "pytest" else argv[3:], cwd)
    elif prog == "overfit-bench":
        _check_console_script(argv)
    elif prog == "test" and rest[:1] == ["-f"]:
        assert _local(rest[1]).is_file(), f"`test -f {rest[1]}`: no such file in this repo"
    elif prog == "grep" and rest[:1] == ["-q"]:
        text = _local(rest[2]).read_text(encoding="utf-8")
        assert re.search(rest[1], text, re.M), f"`grep -q {rest[1]!r} {rest[2]}` finds nothing in this repo"
    elif argv[:3] == ["python", "-m", "pip"] or prog in ("git", "echo"):
        pass  # installs from PyPI, git and echo: nothing of this repo to check
    elif prog == "python" and rest and not rest[0].startswith("-"):
        assert (cwd / rest[0]).is_file(), f"`{shlex.join(argv)}`: no script {rest[0]!r} in this repo"
    else:
        pytest.fail(f"the test does not know how to check the workflow command `{shlex.join(argv)}`; teach it")


COMMANDS = workflow_commands()


@pytest.mark.parametrize("argv,cwd", [(c, d) for _, c, d in COMMANDS], ids=[i for i, _, _ in COMMANDS])
def test_workflow_command_exists(argv, cwd, pytest_parsed):
    _check(argv, _local(".", cwd), functools.partial(_check_pytest, parsed=pytest_parsed))
