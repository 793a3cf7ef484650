"""The job matrix on Ray (overfit_core/cluster.py, `overfit-bench ray`): bad input, the plan, and a local cluster.

The cluster test starts a Ray head and a worker node on 127.0.0.1 (about 30 s on 2 cores) and runs only with
OVERFIT_RAY_E2E=1 and Ray installed (pip install '.[ray]'): README, Scale-out.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from overfit_core.cli import main
from overfit_core.cluster import CRASH_ONCE, Environment, parse_envs, plan
from overfit_core.datasets import DataOptions
from overfit_core.errors import ConfigError
from overfit_core.records import RunRecord


def test_environments_parse_with_their_variables_and_default_to_this_interpreter():
    assert parse_envs(None) == [Environment("local", sys.executable)]
    envs = parse_envs([f"tf={sys.executable}", f"jax={sys.executable},KERAS_BACKEND=jax,XLA_FLAGS=--x=1"])
    assert [e.name for e in envs] == ["tf", "jax"]
    assert envs[1].env_vars == (("KERAS_BACKEND", "jax"), ("XLA_FLAGS", "--x=1"))


@pytest.mark.parametrize("item, words", [
    ("bad", "NAME=PYTHON"), ("=python", "NAME=PYTHON"), (f"x={sys.executable},NOVALUE", "NAME=PYTHON"),
    ("x=/no/such/python", "executable Python interpreter"),
])
def test_bad_environments_are_named_with_how_to_fix(item, words):
    with pytest.raises(ConfigError, match=words):
        parse_envs([item])


def test_an_environment_named_twice_is_refused():
    with pytest.raises(ConfigError, match="Name each environment once"):
        parse_envs([f"a={sys.executable}", f"a={sys.executable}"])


def test_the_plan_is_every_environment_variant_and_seed():
    envs = parse_envs([f"a={sys.executable}", f"b={sys.executable}"])
    fits = plan(envs, ["tiny", "tiny_lr_high"], {"tiny": "boston", "tiny_lr_high": "boston"}, [0, 1], "smoke",
                DataOptions(kind="synthetic"))
    assert len(fits) == 8 and len({(f.env.name, f.run_id) for f in fits}) == 8
    assert {f.run_id for f in fits} == {f"{v}-boston-seed{s}-smoke" for v in ("tiny", "tiny_lr_high") for s in (0, 1)}


def test_cli_refuses_real_data_without_a_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OVERFIT_DATA_DIR", raising=False)
    monkeypatch.delenv("OVERFIT_DOWNLOAD", raising=False)
    assert main(["ray", "--data", "real", "--variants", "tiny", "--out", str(tmp_path / "o")]) == 2
    assert "--data-dir" in capsys.readouterr().err and not (tmp_path / "o" / "local").exists()


def _ray_cli() -> str:
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if os.environ.get("OVERFIT_RAY_E2E") != "1":
        pytest.skip("starts a local Ray cluster (about 30 s); set OVERFIT_RAY_E2E=1")
    pytest.importorskip("ray", reason="install Ray: pip install '.[ray]'")
    if ray is None:
        pytest.skip("the `ray` command is not on the PATH")
    return ray


@pytest.fixture
def local_cluster(tmp_path):
    """A Ray head and one worker node on 127.0.0.1, one CPU each; stopped afterwards."""
    from overfit_core.distribute import free_ports

    ray = _ray_cli()
    port = free_ports(1)[0]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    try:
        subprocess.run([ray, "start", "--head", "--port", str(port), "--include-dashboard=false", *common],
                       env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([ray, "start", "--address", f"127.0.0.1:{port}", *common], env=env, check=True,
                       capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.mark.training
def test_fits_run_as_ray_tasks_in_their_environment_and_a_lost_worker_is_retried(local_cluster, tmp_path,
                                                                                   monkeypatch, capsys):
    out, marker = tmp_path / "out", tmp_path / "crashed-once"
    monkeypatch.setenv(CRASH_ONCE, str(marker))  # passed to the tasks: the first one's worker dies, Ray retries it
    args = ["ray", "--address", local_cluster, "--env", f"a={sys.executable},OVERFIT_TAG=a",
            "--variants", "tiny", "--tier", "smoke", "--seeds", "0-1", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert marker.is_file(), "the crash hook never ran: the retry path was not exercised"
    records = sorted((out / "a" / "records").glob("*.json"))
    assert [p.name.split("--")[0] for p in records] == ["tiny-boston-seed0-smoke", "tiny-boston-seed1-smoke"]
    assert all(RunRecord.from_json(p.read_text()).status == "ok" for p in records)
    assert "[2/2] a: " in err
    # resumable: a second run finds both records and starts no task
    assert main(args) == 0
    assert "2 already stored, 0 to run" in capsys.readouterr().err
