"""`overfit-bench matrix` (overfit_core/matrix.py): environments, resumable steps, failures in their column."""
from __future__ import annotations

import json
import sys

import pytest

from overfit_core.cli import main
from overfit_core.errors import ConfigError
from overfit_core.matrix import ENVIRONMENTS, Env, parse_envs, render


def test_the_twelve_environments_and_python313_are_in_tox_ini():
    from tests.test_matrix import tox_envs

    assert len(ENVIRONMENTS) == 13 and set(ENVIRONMENTS) <= set(tox_envs()), set(ENVIRONMENTS) - set(tox_envs())


def test_environments_default_to_all_and_take_existing_interpreters():
    assert [e.name for e in parse_envs(None, None)] == list(ENVIRONMENTS)
    assert parse_envs("tf212", [f"mine={sys.executable}"]) == [Env("tf212"), Env("mine", sys.executable)]
    with pytest.raises(ConfigError, match="names among"):
        parse_envs("tf299", None)
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_envs(None, ["mine=/no/such/python"])


def test_bad_arguments_exit_2_before_any_environment(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["matrix", "--python", f"a={sys.executable}", "--data", "imaginary", "--out", str(out)]) == 2
    assert main(["matrix", "--python", f"a={sys.executable}", "--variants", "nope", "--out", str(out)]) == 2
    assert not (out / "a").exists()


@pytest.mark.training
def test_an_environment_runs_resumes_and_a_broken_one_is_reported_in_its_column(tmp_path, capsys):
    out = tmp_path / "m"
    args = ["matrix", "--python", f"here={sys.executable}", "--python", "broken=/bin/false", "--data", "synthetic",
            "--seeds", "0-1", "--tier", "smoke", "--variants", "tiny_lr_high", "--out", str(out),
            "--baselines", str(tmp_path / "baselines")]
    assert main(args) == 0
    summary = json.loads((out / "here" / "summary.json").read_text())
    assert summary["checks"]["lr_too_high_is_jittery|tiny_lr_high-tiny|synthetic|smoke"]["seeds"] == 2
    assert summary["defaults"]["optimizers"]["Adam"]["epsilon"] > 0
    assert len(list((out / "here" / "synthetic" / "records").glob("*.json"))) == 4
    text = (out / "matrix.md").read_text()
    assert "| lr_too_high_is_jittery | tiny_lr_high-tiny | synthetic | smoke |" in text
    assert "defaults failed (exit 1)" in text  # the broken environment's column, not a crash
    page = (out / "matrix.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<td>lr_too_high_is_jittery</td>" in page
    log = (out / "here" / "log.txt").read_text()
    capsys.readouterr()
    assert main(args) == 0  # resumed: every step of `here` has its output, so nothing runs again
    assert (out / "here" / "log.txt").read_text() == log
    assert "here: records synthetic" not in capsys.readouterr().err
    assert render(out, ["here", "broken"]) == text
    # the committed baseline stands in for the records as compare's BASE: the same rows, values and verdicts
    from overfit_core.bundle import load_record_set
    from overfit_core.compare import compare

    records = load_record_set(out / "here" / "synthetic" / "records")
    baseline = load_record_set(tmp_path / "baselines" / "here.json")
    assert baseline.kind == "baseline" and not (tmp_path / "baselines" / "broken.json").exists()

    def rows(c):
        return [(r.where, r.quantity, r.base, r.head, r.verdict) for r in c.rows]
    assert rows(compare(baseline, records)) == rows(compare(records, records)) and rows(compare(records, records))


def test_a_json_that_is_no_baseline_is_refused_with_how_to_fix(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "something else"}')
    assert main(["compare", str(bad), str(bad)]) == 2
    assert "overfit-bench matrix --baselines" in capsys.readouterr().err


def test_records_trained_for_a_bisection_do_not_stand_for_the_full_matrix_step(monkeypatch, tmp_path):
    from pathlib import Path

    from overfit_core import matrix as matrix_module

    ran = []

    def fake_run(cmd, log, timeout, env=None, cwd=None):
        if "run" in cmd:  # overfit-bench run --out FOLDER: its report marks the step's output
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.md").write_text("")
            ran.append(cmd[cmd.index("--variants") + 1] if "--variants" in cmd else "all")
        else:  # the defaults step writes its .tmp
            (tmp_path / "m" / "e" / "defaults.json.tmp").write_text("{}")
        return 0

    monkeypatch.setattr(matrix_module, "_run", fake_run)

    def run(variants):
        return matrix_module.run_env(Env("e", sys.executable), tmp_path / "m", seeds="0", kinds=["synthetic"],
                                     tier="smoke", bench=False, progress=lambda line: None, root=tmp_path,
                                     variants=variants)
    run("bn")
    status = run(None)  # the matrix after a bisection trained bn only: the full step runs (reusing bn's records)
    run("bn")  # a bisection after the full step: nothing to do
    assert ran == ["bn", "all"]
    assert status["records synthetic (bn)"].startswith("ok") and status["records synthetic"].startswith("ok")


def test_the_html_page_shows_the_markdowns_tables_and_marks_failed_seeds_and_moves(tmp_path):
    from overfit_core.matrix import render_html, view, write_pages

    def env(name, passed, bn_loss):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({
            "env": name, "versions": {"tensorflow": name}, "seeds": [0, 1],
            "checks": {"learns|bn|synthetic|fast": {"passed": passed, "seeds": 2, "median_effect": 0.1}},
            "metrics": {"bn|synthetic|fast": {"final_train_loss": bn_loss}},
            "defaults": {"layers": {"BatchNormalization": {"momentum": 0.99}}}}))
    env("old", 2, 0.07)
    env("new", 1, 0.02)
    md, html_path = write_pages(tmp_path, ["old", "new", "absent"])
    page, text = html_path.read_text(), md.read_text()
    assert "| learns | bn | synthetic | fast | 2/2 (0.1) | 1/2 (0.1) | – |" in text
    assert '<td class="n" data-sort="0.1">2/2 (0.1)</td><td class="n failcell" data-sort="0.1">1/2 (0.1)</td>' in page
    assert '<td class="n" data-sort="0.07">0.07</td><td class="n" data-sort="0.02">0.02</td><td>–</td>' in page
    assert "not run" in text and "<td>not run</td>" in page  # the environment without a summary
    assert "old → new" in page and "Defaults: none changed." in page
    assert render_html(tmp_path, ["old", "new"], v=view(tmp_path, ["old", "new"])).count("<table") == 3


def test_side_environments_are_compared_with_the_release_they_vary(tmp_path):
    from overfit_core.matrix import view

    for name in ("tf220", "tf221", "nightly", "tf221-legacy", "py313"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"env": name, "versions": {}}))
    pairs = [(a, b) for a, b, _, _ in view(tmp_path, ["tf220", "tf221", "nightly", "tf221-legacy", "py313"]).neighbours]
    assert pairs == [("tf220", "tf221"), ("tf221", "nightly"), ("tf221", "tf221-legacy"), ("tf221", "py313")]
