"""The `overfit-bench` command line: list, run end to end, and usage errors (exit 2, one line)."""
from __future__ import annotations

import json

import pytest

from overfit_core import VARIANTS
from overfit_core.cli import main


def test_list_shows_every_variant_and_dataset(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in VARIANTS) and "boston.csv" in out


@pytest.mark.training
def test_run_writes_records_plots_and_report_then_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", "--datasets", "boston", "--tier", "smoke", "--seeds", "0-1", "--out", str(out), "--no-checks"]
    assert main(args) == 0
    records = sorted((out / "records").glob("*.json"))
    assert [p.name.split("--")[0] for p in records] == [
        "tiny-boston-seed0-smoke", "tiny-boston-seed1-smoke", "tiny_lr_high-boston-seed0-smoke",
        "tiny_lr_high-boston-seed1-smoke"]
    assert json.loads(records[0].read_text())["data_source"] == "synthetic(seed=0)"
    report = (out / "report.md").read_text()
    assert "| tiny | 0 |" in report and "synthetic(seed=0)" in report and "rmse" in report
    assert (out / "plots" / "boston.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(args) == 0  # second run reuses both records
    captured = capsys.readouterr()
    assert captured.err.count("cached") == 4
    assert "time: " in captured.out and "training" in captured.out and "tiny" in captured.out  # where it went


@pytest.mark.training
def test_run_trains_only_the_named_variants_and_their_baselines(tmp_path, capsys, smoke_run):
    smoke_run.copy_records(tmp_path / "records")  # both records cached: which jobs run is the point, not the fits
    assert main(["run", "--variants", "tiny_lr_high", "--tier", "smoke", "--out", str(tmp_path)]) in (0, 1)
    names = sorted(p.name.split("--")[0] for p in (tmp_path / "records").glob("*.json"))
    assert names == ["tiny-boston-seed0-smoke", "tiny_lr_high-boston-seed0-smoke"]  # tiny: the baseline it names
    captured = capsys.readouterr()
    jobs = sorted(ln.split(":")[0].split("] ")[1] for ln in captured.err.splitlines() if ln.startswith("["))
    assert jobs == names  # the run's jobs, not just the files left in records/
    out = captured.out
    assert "lr_too_high_is_jittery" in out and "learns:" in out  # what was trained is judged, the baseline too
    assert "val_loss_diverges" not in out and "l1_shrinks_weights" not in out


@pytest.mark.training
@pytest.mark.parametrize("passed,code", [(True, 0), (False, 1)])
def test_run_gates_on_the_checks(tmp_path, capsys, monkeypatch, smoke_run, passed, code):
    from overfit_core import cases, checks

    smoke_run.copy_records(tmp_path / "records")  # the gate is the point: no fits

    def fake(records, expected=None, checks_=None):
        result = checks.CheckResult("learns", passed, {"x": 1.0}, "x > 0", "made up for the test", ())
        return cases.CheckReport([result], unexpected=[] if passed else [result]), cases.Tally()

    monkeypatch.setattr(cases, "run_records", fake)
    assert main(["run", "--datasets", "boston", "--tier", "smoke", "--out", str(tmp_path)]) == code
    out = capsys.readouterr().out
    assert ("PASS learns: 1/1 passed" if passed else "FAIL learns: 0/1 passed") in out
    assert "| learns |" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("argv,needle", [
    (["run", "--seeds", "3-1"], "seeds='3-1'"),
    (["run", "--seeds", "abc"], "seeds='abc'"),
    (["run", "--tier", "huge"], "tier='huge'"),
    (["run", "--datasets", "mnist"], "dataset='mnist'"),
    (["run", "--variants", "huge"], "variant='huge'"),
    (["run", "--data", "real", "--data-dir", "/nonexistent/dir"], "data_dir='/nonexistent/dir'"),
    (["run", "--data", "real", "--subset", "half"], "subset='half'"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, argv, needle):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_out_path_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    assert main(["run", "--out", str(f)]) == 2
    assert "is an existing file" in capsys.readouterr().err and f.read_text() == "keep me"


def test_real_data_without_source_names_the_three_ways(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OVERFIT_DATA_DIR", raising=False)
    monkeypatch.delenv("OVERFIT_DOWNLOAD", raising=False)
    monkeypatch.delenv("OVERFIT_REQUIRE_REAL", raising=False)
    assert main(["run", "--data", "real", "--out", str(tmp_path)]) == 2
    assert "--data synthetic" in capsys.readouterr().err
