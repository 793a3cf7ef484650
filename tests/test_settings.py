"""Settings resolved once: explicit values, then OVERFIT_* variables, then defaults."""
from __future__ import annotations

from pathlib import Path

import pytest

from overfit_core.errors import ConfigError
from overfit_core.settings import Settings, default_cache_dir


def test_defaults_without_environment(tmp_path):
    s = Settings.resolve(environ={"XDG_CACHE_HOME": str(tmp_path)})
    assert (s.tier, s.seeds, s.data_dir, s.download, s.retrain, s.tf_threads) == ("fast", (0, 1, 2), None, False,
                                                                                     False, None)
    assert s.cache_dir == tmp_path / "overfit-bench" / "records" == default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
    assert not s.real_available and s.data_options("synthetic").kind == "synthetic"


def test_environment_fills_what_is_not_given(tmp_path):
    env = {"OVERFIT_TIER": "smoke", "OVERFIT_SEEDS": "4-5", "OVERFIT_DATA_DIR": str(tmp_path),
           "OVERFIT_DOWNLOAD": "1", "OVERFIT_CACHE_DIR": str(tmp_path / "c"), "OVERFIT_TF_THREADS": "3"}
    s = Settings.resolve(environ=env)
    assert (s.tier, s.seeds, s.download, s.tf_threads) == ("smoke", (4, 5), True, 3)
    assert s.data_dir == str(tmp_path.resolve()) and s.cache_dir == tmp_path / "c"
    real = s.data_options("real")
    assert (real.kind, real.data_dir, real.download) == ("real", str(tmp_path.resolve()), True)
    given = Settings.resolve(tier="full", seeds="7", data_dir=str(tmp_path / "d"), cache_dir=tmp_path / "e",
                             download=False, retrain=True, environ=env)
    assert (given.tier, given.seeds, given.download, given.retrain) == ("full", (7,), False, True)
    assert given.data_dir == str((tmp_path / "d").resolve()) and given.cache_dir == Path(tmp_path / "e")


@pytest.mark.parametrize("env,needle", [({"OVERFIT_SEEDS": "3-1"}, "seeds='3-1'"),
                                        ({"OVERFIT_TIER": "huge"}, "tier='huge'"),
                                        ({"OVERFIT_TF_THREADS": "two"}, "OVERFIT_TF_THREADS='two'"),
                                        ({"OVERFIT_TF_THREADS": "0"}, "OVERFIT_TF_THREADS='0'")])
def test_bad_values_name_the_value_and_what_was_expected(env, needle):
    with pytest.raises(ConfigError) as info:
        Settings.resolve(environ=env)
    assert needle in str(info.value) and "Expected" in str(info.value)


def test_no_module_below_the_consumers_reads_overfit_variables():
    root = Path(__file__).resolve().parent.parent / "overfit_core"
    readers = sorted(p.name for p in root.rglob("*.py") if '"OVERFIT_' in p.read_text(encoding="utf-8")
                     # faults.py: OVERFIT_FAULT selects the fault that overfit_core/_faults_site/sitecustomize.py
                     # injects at interpreter start-up, in every process of a fault run, before any Settings exists;
                     # cluster.py: OVERFIT_RAY_CRASH_ONCE, the retry test's hook, read inside a Ray task;
                     # compat.py: OVERFIT_TF_MIN_GRAPH_NODES, a TensorFlow setting made when compat imports TF,
                     # before TF's runtime starts and before any Settings exists
                     and p.name not in ("settings.py", "faults.py", "cluster.py", "compat.py"))
    assert readers == [], f"only settings.py reads OVERFIT_* variables; also read in: {readers}"
