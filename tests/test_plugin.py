"""The pytest plugin, as a third-party repository sees it: a test file in a temporary directory (pytester)."""
from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# TensorFlow before any pytester fixture: its in-process runs drop the modules imported during them, and
# importing TensorFlow a second time in one process aborts it.
import overfit_core.compat  # noqa: F401,E402

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
PLUGIN_HOOKS = {"pytest_addoption", "pytest_configure", "pytest_report_header", "pytest_generate_tests", "suite",
                "real_data_dir"}


@pytest.fixture
def third_party(pytester, monkeypatch):
    """A pytester dir with no overfit-bench conftest and no real data configured."""
    for name in ("OVERFIT_DATA_DIR", "OVERFIT_DOWNLOAD", "OVERFIT_REQUIRE_REAL", "OVERFIT_SEEDS", "OVERFIT_TIER",
                 "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def test_registered_through_the_pytest11_entry_point():
    eps = [e for e in entry_points(group="pytest11") if e.name == "overfit_bench"]
    assert [e.value for e in eps] == ["overfit_core.pytest_plugin"], (
        "reinstall the package (pip install -e .) so that its entry point exists")


def test_root_conftest_leaves_everything_to_the_plugin():
    tree = ast.parse((ROOT / "conftest.py").read_text())
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert not defined & PLUGIN_HOOKS and "pytest_plugins" not in assigned  # no double registration


def test_options_markers_and_header(third_party):
    help_text = third_party.runpytest("--help").stdout.str()
    for option in ("--tier", "--seeds", "--data-dir", "--subset", "--cache-dir", "--retrain"):
        assert option in help_text
    third_party.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.real_data:*", "@pytest.mark.training:*",
                                                             "@pytest.mark.overfit_checks(*"])
    third_party.makepyfile("def test_nothing():\n    pass\n")
    result = third_party.runpytest("--seeds", "4-5", "--tier", "smoke", "--strict-markers")
    result.stdout.fnmatch_lines(["overfit-bench: tier smoke, seeds 4,5 (reproduce one with --seeds N or "
                                 "OVERFIT_SEEDS=N), real data off, record cache *"])
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("args,message", [
    (["--seeds", "3-1"], "Invalid value received for `seeds`*Received: seeds='3-1'*"),
    (["--tier", "huge"], "Invalid value received for `tier`*one of fast, full, smoke*"),
    (["--subset", "half"], "Invalid value received for `subset`*one of full, calibrated*Received: subset='half'*"),
])
def test_bad_options_are_usage_errors(third_party, args, message):
    result = third_party.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_parametrize_with_checks_takes_the_sessions_seeds_and_fixtures_teach(third_party, monkeypatch):
    third_party.makepyfile("""
        from overfit_core import parametrize_with_checks
        from overfit_core.variants import builtin_variants

        @parametrize_with_checks(builtin_variants(), checks=["l1_shrinks_weights"])
        def test_l1(case, suite):
            suite.assert_holds(case)

        def test_needs_real(real_data_dir):
            pass
    """)
    result = third_party.runpytest("--collect-only", "-q", "--seeds", "0-1")
    result.stdout.fnmatch_lines(["*test_l1?l1_shrinks_weights-l1-reg_base-synthetic_imdb-seed0?",
                                 "*test_l1?l1_shrinks_weights-l1-reg_base-imdb-seed1?"])
    result = third_party.runpytest("-rs", "-k", "real")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*real datasets not configured: set OVERFIT_DATA_DIR=DIR*"])
    monkeypatch.setenv("OVERFIT_REQUIRE_REAL", "1")  # where the data should exist (CI): a missing dataset fails
    result = third_party.runpytest("-k", "real")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*real datasets required (OVERFIT_REQUIRE_REAL=1) but not configured*"])


def test_download_only_skips_the_data_folder_tests_and_the_header_names_the_subset(third_party, monkeypatch):
    third_party.makepyfile("def test_needs_real(real_data_dir):\n    pass\n")
    for name, value in (("OVERFIT_DOWNLOAD", "1"), ("OVERFIT_REQUIRE_REAL", "1"), ("OVERFIT_SUBSET", "calibrated")):
        monkeypatch.setenv(name, value)  # the GitHub workflow: real data from keras.datasets, nothing missing
    result = third_party.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*real data download (calibrated subset), record cache *",
                                 "*no real data folder*the real data comes from keras.datasets*"])


@pytest.mark.training
def test_property_cases_train_and_the_run_counts_checks_per_variant(third_party, tmp_path):
    third_party.makepyfile("""
        from overfit_core import parametrize_with_checks
        from overfit_core.variants import builtin_variants

        @parametrize_with_checks(builtin_variants(), checks="regression_metrics")
        def test_regression_metrics(case, suite):
            suite.assert_holds(case)
    """)
    result = third_party.runpytest("--tier", "smoke", "--seeds", "0", "--cache-dir", str(tmp_path), "-p",
                                   "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=2)  # real-data cases skip: not configured
    result.stdout.fnmatch_lines([
        "*overfit-bench: checks run per variant (tier smoke, seeds 0)*",
        "tiny: 1 check ran (regression_metrics) in 1 case: 1 passed",
        "tiny_lr_high: 1 check ran (regression_metrics) in 1 case: 1 passed",
        "not run: 2 cases skipped",
    ])
    assert len(list(tmp_path.glob("tiny-boston-seed0-smoke--*.json"))) == 1


@pytest.mark.training
def test_known_failure_of_this_tensorflow_is_a_strict_xfail(third_party, tmp_path, monkeypatch, smoke_run):
    from overfit_core import known_failures

    smoke_run.copy_records(tmp_path)  # the two records cached: the xfail handling is the point, not the fits

    backend = known_failures.configured_backend()
    env = known_failures.tf_minor(known_failures.installed_tf_version()) if backend == "tensorflow" else backend
    monkeypatch.setattr(known_failures, "KNOWN_FAILURES", {("regression_metrics", env): "measured to hold here"})
    third_party.makepyfile("""
        from overfit_core import parametrize_with_checks
        from overfit_core.variants import builtin_variants

        @parametrize_with_checks(builtin_variants(), checks="regression_metrics")
        def test_regression_metrics(case, suite):
            suite.assert_holds(case)
    """)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # as in a GitHub Actions job: annotations and a job summary
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = third_party.runpytest("--tier", "smoke", "--seeds", "0", "--cache-dir", str(tmp_path), "-p",
                                   "no:cacheprovider", "-rX")
    result.assert_outcomes(failed=2, skipped=2)  # the check holds, so each strict xfail XPASSes and fails the run
    result.stdout.fnmatch_lines(["*XPASS(strict)*known failure on *: measured to hold here*",
                                 "::error title=*regression_metrics*::*rmse=*"])
    assert "regression_metrics" in summary.read_text()
