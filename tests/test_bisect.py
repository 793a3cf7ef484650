"""`overfit-bench bisect` (overfit_core/bisect.py): the version range, the search, and bad input."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from overfit_core import bisect as bisect_module
from overfit_core import matrix as matrix_module
from overfit_core.bisect import RELEASES, Target, bisect, nightlies_between, nightly_builds, versions_between
from overfit_core.cli import main
from overfit_core.errors import ConfigError
from overfit_core.matrix import Env


def test_the_range_runs_from_good_to_bad_in_release_order():
    assert RELEASES[0] == "tf212" and RELEASES[-1] == "tf221"
    assert versions_between("tf215", "tf218") == ["tf215", "tf216", "tf217", "tf218"]
    with pytest.raises(ConfigError, match="after the good one"):
        versions_between("tf218", "tf215")
    with pytest.raises(ConfigError, match="one of tf212"):
        versions_between("2.15", "tf218")


@pytest.mark.parametrize("first_bad", [1, 2, 5, 7])
def test_bisection_finds_the_first_version_that_moved(monkeypatch, tmp_path, first_bad):
    envs = [Env(f"v{i}") for i in range(8)]
    trained = []
    monkeypatch.setattr(bisect_module, "run_env", lambda env, out, **kw: trained.append(env.name) or {})

    def judge(good_dir, probe_dir, target, kind):
        moved = int(Path(probe_dir).name[1:]) >= first_bad
        return moved, [SimpleNamespace(label=f"row of {Path(probe_dir).name}", verdict="changed" if moved else "same")]

    monkeypatch.setattr(bisect_module, "judge", judge)
    good, bad, rows, log = bisect(envs, Target("learns", None, "bn"), tmp_path, variants="bn", seeds="0-7",
                                  kind="synthetic", tier="fast", root=tmp_path, progress=lambda line: None)
    assert (good, bad) == (f"v{first_bad - 1}", f"v{first_bad}") and rows[0].label == f"row of v{first_bad}"
    assert len(log) <= 3 and len(set(trained)) <= 5  # log2(8) probes, not every version


def test_nothing_to_bisect_when_good_and_bad_agree(monkeypatch, tmp_path):
    monkeypatch.setattr(bisect_module, "run_env", lambda env, out, **kw: {})
    monkeypatch.setattr(bisect_module, "judge", lambda *a: (False, []))
    with pytest.raises(ConfigError, match="nothing to bisect"):
        bisect([Env("a"), Env("b")], Target(None, "gap", "overfit"), tmp_path, variants="overfit", seeds="0-7",
               kind="synthetic", tier="fast", root=tmp_path, progress=lambda line: None)


@pytest.mark.parametrize("args, words", [
    (["--metric", "no_such_metric", "--subject", "overfit", "--variants", "overfit", "--good", "tf215",
      "--bad", "tf216"], "one of min_val_loss"),
    (["--check", "no_such_check", "--subject", "x", "--variants", "overfit", "--good", "tf215", "--bad", "tf216"],
     "check"),
    (["--check", "learns", "--subject", "bn", "--variants", "bn"], "Give --good and --bad"),
    (["--check", "learns", "--subject", "bn", "--variants", "bn", "--good", "tf216", "--bad", "tf215"],
     "after the good one"),
    (["--check", "learns", "--subject", "bn", "--variants", "bn", "--good", "tf221", "--bad", "nightly-20261026"],
     "nightly-YYYYMMDD on both sides"),
])
def test_bad_input_exits_2_naming_what_to_fix(args, words, tmp_path, capsys):
    assert main(["bisect", *args, "--out", str(tmp_path / "b")]) == 2
    assert words in capsys.readouterr().err


TF_NIGHTLIES = ["2.23.0.dev20261026", "2.23.0.dev20261024", "2.23.0.dev20261019", "2.22.0.dev20260930",
                "2.21.0.dev20260202"]
KERAS_NIGHTLIES = ["3.16.0.dev2026102704", "3.16.0.dev2026102304", "3.16.0.dev2026101904", "3.15.0.dev2026093003"]


def test_each_nightly_date_pairs_with_the_keras_nightly_of_that_day_or_before():
    builds = nightly_builds(TF_NIGHTLIES, KERAS_NIGHTLIES)
    assert list(builds) == ["20260930", "20261019", "20261024", "20261026"]  # 20260202: no keras-nightly yet
    assert builds["20261024"] == ("2.23.0.dev20261024", "3.16.0.dev2026102304")
    assert builds["20261026"] == ("2.23.0.dev20261026", "3.16.0.dev2026102304")  # 2026102704 is the 27th's: too new


def test_nightly_range_installs_each_date_with_both_pins():
    builds = nightly_builds(TF_NIGHTLIES, KERAS_NIGHTLIES)
    envs = nightlies_between("nightly-20261019", "nightly-20261026", builds)
    assert [e.name for e in envs] == ["nightly-20261019", "nightly-20261024", "nightly-20261026"]
    assert envs[0].requirements == ("tf-nightly==2.23.0.dev20261019", "keras-nightly==3.16.0.dev2026101904")
    assert all(e.python is None for e in envs)


@pytest.mark.parametrize("good, bad, words", [
    ("nightly-20261020", "nightly-20261026", "Nearest: nightly-20261019, nightly-20261024, nightly-20261026"),
    ("nightly-20261026", "nightly-20261019", "after the good one"),
    ("tf221", "nightly-20261026", "nightly-YYYYMMDD on both sides"),
    ("nightly-2026-10-19", "nightly-20261026", "nightly-YYYYMMDD on both sides"),
])
def test_bad_nightly_ranges_say_what_exists(good, bad, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        nightlies_between(good, bad, nightly_builds(TF_NIGHTLIES, KERAS_NIGHTLIES))


def test_a_nightly_environment_is_a_venv_of_its_pins_and_the_package_deps(monkeypatch, tmp_path):
    calls = []

    def fake_run(cmd, log, timeout, env=None, cwd=None):
        calls.append(list(cmd))
        if cmd[1:3] == ["-m", "venv"]:
            python = Path(cmd[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.write_text("")
        return 0 if len(calls) < 3 else 1  # the records step fails: only the install is under test

    monkeypatch.setattr(matrix_module, "_run", fake_run)
    root = Path(__file__).resolve().parents[1]
    env = Env("nightly-20261026", requirements=("tf-nightly==2.23.0.dev20261026", "keras-nightly==3.16.0.dev1"))
    status = matrix_module.run_env(env, tmp_path / "out", seeds="0", kinds=["synthetic"], tier="smoke", bench=False,
                                   progress=lambda line: None, root=tmp_path)
    assert calls[0][1:] == ["-m", "venv", str(tmp_path / ".envs" / "nightly-20261026")]
    install = calls[1]
    assert install[0] == str(tmp_path / ".envs" / "nightly-20261026" / "bin" / "python")
    assert install[1:4] == ["-m", "pip", "install"] and "tf-nightly==2.23.0.dev20261026" in install
    # no tox.ini under tmp_path: [pkg] deps come from the checkout's tox.ini when the root is the checkout
    assert any(d.startswith("pytest>=7") for d in matrix_module.pkg_deps(root)) and "tensorflow" not in " ".join(matrix_module.pkg_deps(root))
    assert status["install"] == "ok" and status["python"] == install[0]


def test_a_failed_nightly_install_is_reported_and_leaves_no_half_venv(monkeypatch, tmp_path):
    def fake_run(cmd, log, timeout, env=None, cwd=None):
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[-1]) / "bin").mkdir(parents=True)
            return 0
        return 1  # pip found no such wheel

    monkeypatch.setattr(matrix_module, "_run", fake_run)
    status = matrix_module.run_env(Env("nightly-20261026", requirements=("tf-nightly==0",)), tmp_path / "out",
                                   seeds="0", kinds=["synthetic"], tier="smoke", bench=False,
                                   progress=lambda line: None, root=tmp_path)
    assert status["install"] == "failed" and not (tmp_path / ".envs" / "nightly-20261026").exists()
