"""CI conventions (GitHub annotations, job summary) and `python -m overfit_core`."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

from overfit_core.ci import (escape_data, escape_property, github_annotations, in_github_actions,
                             job_summary_markdown, write_job_summary)
from tests.test_html_report import VERDICTS, verdict

ROOT = Path(__file__).resolve().parents[1]


def test_workflow_command_escaping():
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("100% a\r\nb: c, d") == "100%25 a%0D%0Ab%3A c%2C d"


def test_one_error_annotation_per_failing_case_with_its_numbers():
    lines = github_annotations(VERDICTS)
    assert len(lines) == 1
    title, message = lines[0][len("::error title="):].split("::", 1)
    assert title == "overfit-bench failed%3A val_loss_diverges [overfit%2C synthetic imdb%2C seed 2]"
    assert message == ("validation loss <script>alert(1)</script> does not rise "
                       "(measured: x=1; threshold: x < 2; margin -0.5)")


def test_annotation_escapes_newlines_and_keeps_a_message_that_states_its_threshold():
    v = verdict("learns", ["a,b"], "failed", message="50% drop\nthreshold: x < 2")
    assert github_annotations([v]) == ["::error title=overfit-bench failed%3A learns [a%2Cb%2C synthetic imdb%2C seed 0]"
                                       "::50%25 drop%0Athreshold: x < 2"]


def test_only_strict_xpasses_are_annotated():
    strict, loose = verdict("learns", ["basic"], "xpassed"), verdict("learns", ["tiny"], "xpassed", strict=False)
    lines = github_annotations([strict, loose, verdict("learns", ["bn"], "xfailed")])
    assert len(lines) == 1 and lines[0].startswith("::error title=overfit-bench XPASS(strict)%3A learns [basic")


def test_job_summary_has_a_row_per_check_with_counts_margins_and_failing_cases():
    text = job_summary_markdown(VERDICTS)
    assert text.startswith("## overfit-bench: 1 of 5 checks failing\n")
    rows = {line.split("|")[2].strip(): line for line in text.splitlines() if line.startswith("| :")}
    assert set(rows) == {"`learns`", "`val_loss_diverges`", "`bigger_overfits_more`", "`lr_too_high_is_jittery`",
                         "`regression_metrics`"}
    assert rows["`val_loss_diverges`"] == "| :x: | `val_loss_diverges` | 1/2 | -0.5 | overfit, synthetic imdb, seed 2 |"
    assert rows["`learns`"] == "| :white_check_mark: | `learns` | 2/2 | 0.25 | - |"
    assert "| - | - |" in rows["`regression_metrics`"] and math.isnan(VERDICTS[-1]["margin"])
    assert job_summary_markdown([]) == "## overfit-bench\n\nNo checks were run.\n"


def test_summary_cells_escape_pipes():
    text = job_summary_markdown([verdict("learns", ["a|b"], "failed")])
    assert "a\\|b, synthetic imdb, seed 0" in text


def test_write_job_summary_appends_to_github_step_summary(tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    assert write_job_summary("first", {"GITHUB_STEP_SUMMARY": str(path)}) == path
    write_job_summary("second\n", {"GITHUB_STEP_SUMMARY": str(path)})
    assert path.read_text() == "earlier step\nfirst\nsecond\n"


def test_write_job_summary_outside_actions_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert write_job_summary("x", {}) is None and not list(tmp_path.iterdir())
    assert in_github_actions({"GITHUB_ACTIONS": "true"}) and not in_github_actions({})


def test_ci_module_imports_neither_pytest_nor_tensorflow():
    code = ("import sys, overfit_core.ci, overfit_core.html_report; "
            "print('pytest' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False"]


def test_python_dash_m_overfit_core_is_the_cli():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "overfit_core", "list"], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "variants:" in out.stdout and "checks:" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "overfit_core", "run", "--seeds", "3-1"], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "overfit-bench: error:" in bad.stderr
