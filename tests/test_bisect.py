"""`overfit-bench bisect` (overfit_core/bisect.py): the version range, the search, and bad input."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from overfit_core import bisect as bisect_module
from overfit_core.bisect import RELEASES, Target, bisect, versions_between
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
])
def test_bad_input_exits_2_naming_what_to_fix(args, words, tmp_path, capsys):
    assert main(["bisect", *args, "--out", str(tmp_path / "b")]) == 2
    assert words in capsys.readouterr().err
