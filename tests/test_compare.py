"""`overfit-bench compare` and run bundles, on hand-made records (no training, no TensorFlow)."""
from __future__ import annotations

import json
import zipfile

import pytest

from overfit_core import FAST, FULL, get_variant
from overfit_core.bundle import load_record_set, record_from_text, write_bundle
from overfit_core.checks import CheckResult, each
from overfit_core.cli import main
from overfit_core.compare import TOO_FEW, compare, render_html, render_markdown, to_json
from overfit_core.errors import ConfigError
from overfit_core.records import KernelStats
from tests.test_bench_gate import bench_json
from tests.test_records import make_record

EPOCHS = 12
DIVERGING = (0.69, 0.55, 0.5, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0, 1.05, 1.1, 1.15)
FLAT = (0.69, 0.6, 0.55, 0.52, 0.5, 0.49, 0.48, 0.48, 0.47, 0.47, 0.47, 0.47)


def rec(variant: str, seed: int, *, scale: float = 1.0, config=FAST, kind="synthetic", holds: bool = True):
    """A run of `variant` whose curves differ a little by seed; `scale` multiplies every loss; `holds` is what the
    test-only check `toy_holds` reads."""
    spec = get_variant(variant)
    key, noise = spec.unregularised_metric, scale * (1 + 0.01 * seed)
    train = tuple(noise * 0.7 * 0.8**i for i in range(EPOCHS))
    val = tuple(noise * v for v in (DIVERGING if variant == "overfit" else FLAT))
    history = {"loss": train, "val_loss": val, key: train, f"val_{key}": val,
               "accuracy": tuple(0.5 + 0.04 * i for i in range(EPOCHS)),
               "val_accuracy": tuple(0.5 + 0.02 * i + 0.001 * seed for i in range(EPOCHS))}
    kernels = (KernelStats("dense", 1000, noise * 50.0, noise * 3.0, 0.1), KernelStats("out", 16, 2.0, 1.0, 0.0))
    return make_record(spec=spec, config=config, seed=seed, dataset=spec.dataset, data_kind=kind, history=history,
                       kernels=kernels, evaluation={"toy_holds": float(holds)}, epochs_run=EPOCHS,
                       cache_key=f"key{seed}")


def records(seeds, **kw):
    return [rec(v, s, **kw) for s in seeds for v in ("basic", "overfit")]


def write_folder(path, recs):
    (path / "records").mkdir(parents=True)
    for r in recs:
        (path / "records" / f"{r.run_id}--{r.cache_key}.json").write_text(r.to_json())
    return path


@pytest.fixture
def toy_check():
    """A check registered for one test (the registry is process-wide): `overfit` holds where its record says so."""
    from overfit_core import checks, variants

    before, tags = dict(checks._CHECKS), dict(variants._TAGS)

    @checks.check("toy_holds", binds=each(lambda s: s.name == "overfit"))
    def toy(run):
        ok = run.evaluation["toy_holds"] > 0.5
        return CheckResult("toy_holds", ok, {"holds": float(ok)}, "holds", "toy", (run.run_id,), margin=0.5 if ok
                           else -0.5)

    yield "toy_holds"
    for store, old in ((checks._CHECKS, before), (variants._TAGS, tags)):
        store.clear()
        store.update(old)


def sets(tmp_path, base, head):
    return (load_record_set(write_folder(tmp_path / "base", base)),
            load_record_set(write_folder(tmp_path / "head", head)))


def test_identical_sides_are_the_same(tmp_path, capsys):
    base = write_folder(tmp_path / "base", records(range(4)))
    head = write_folder(tmp_path / "head", records(range(4)))
    assert main(["compare", str(base), str(head)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# overfit-bench compare: SAME") and out.rstrip().endswith("verdict: same")
    assert "## imdb (synthetic data, tier fast)" in out and "minimum validation loss" in out
    assert "throughput was not compared" in out


def test_a_shifted_metric_on_enough_seeds_is_changed(tmp_path):
    base, head = sets(tmp_path, records(range(8)), records(range(8), scale=1.3))
    c = compare(base, head)
    row = next(r for r in c.rows if r.subject == "overfit" and r.quantity == "min_val_loss")
    assert row.verdict == "changed" and row.change == pytest.approx(0.3) and row.p_adjusted < 0.05
    assert row.ci_low > 0 and c.verdict in ("changed", "regressed") and c.exit_code == (c.verdict == "regressed")
    assert not any(r.verdict == TOO_FEW for r in c.rows)
    epoch = next(r for r in c.rows if r.subject == "overfit" and r.quantity == "min_val_epoch")
    assert epoch.verdict == "same"  # the minimum sits at the same epoch


def test_a_small_significant_change_is_the_same(tmp_path):
    base, head = sets(tmp_path, records(range(8)), records(range(8), scale=1.3))
    c = compare(base, head, min_effect=0.5)
    row = next(r for r in c.rows if r.subject == "overfit" and r.quantity == "min_val_loss")
    assert row.verdict == "same" and "below the minimum effect" in row.why


def test_a_check_that_flips_is_a_regression(tmp_path, toy_check, capsys):
    head = records(range(4))
    head[-1] = rec("overfit", 3, holds=False)
    base_dir = write_folder(tmp_path / "base", records(range(4)))
    head_dir = write_folder(tmp_path / "head", head)
    assert main(["compare", str(base_dir), str(head_dir)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("# overfit-bench compare: REGRESSED")
    assert "toy_holds of overfit on imdb (synthetic, fast): passed on every base seed (4/4), failed on some head " \
           "seed (3/4)" in out


def test_too_few_seeds_gives_no_verdict_and_says_how_many(tmp_path):
    base, head = sets(tmp_path, records(range(3)), records(range(3), scale=2.0))
    c = compare(base, head)
    stats_rows = [r for r in c.rows if r.quantity != "passes"]
    assert stats_rows and all(r.verdict == TOO_FEW for r in stats_rows)
    assert c.verdict == "same" and c.settings["min_seeds_per_side"] == 4
    assert "Mann-Whitney needs at least 4 seeds per side" in render_markdown(c)


def test_mismatched_tier_is_explained_and_exits_2(tmp_path, capsys):
    base = write_folder(tmp_path / "base", records(range(4)))
    head = write_folder(tmp_path / "head", records(range(4), config=FULL))
    assert main(["compare", str(base), str(head)]) == 2
    err = capsys.readouterr().err
    assert "no (variant, dataset, data kind, tier) in common" in err
    assert "tiers differ: base has fast; head has full" in err


def test_partial_overlap_lists_what_was_left_out(tmp_path):
    base, head = sets(tmp_path, records(range(4)) + [rec("overfit", s, kind="real") for s in range(4)],
                      records(range(4)))
    c = compare(base, head)
    assert c.verdict == "same"
    assert any(m.startswith("data kinds differ: base has real, synthetic; head has synthetic") for m in c.mismatches)
    assert any("only in base, not compared: overfit on imdb (real, fast)" in m for m in c.mismatches)


def test_json_output_has_a_schema_and_strict_numbers(tmp_path):
    base = write_folder(tmp_path / "base", records(range(4)))
    head = write_folder(tmp_path / "head", records(range(4), scale=1.2))
    out, page = tmp_path / "c.json", tmp_path / "c.html"
    assert main(["compare", str(base), str(head), "--json", str(out), "--html", str(page),
                 "--correction", "bh"]) in (0, 1)

    def no_nan(token):
        raise AssertionError(f"non-strict JSON number {token}")

    data = json.loads(out.read_text(), parse_constant=no_nan)
    assert data["schema"] == 1 and data["verdict"] in ("regressed", "changed", "same")
    assert data["settings"]["correction"] == "bh" and data["settings"]["min_seeds_per_side"] == 4
    assert data["base"]["records"] == 8 and data["head"]["versions"]["tensorflow"] == ["2.21.0"]
    row = next(r for r in data["rows"] if r["subject"] == "overfit" and r["quantity"] == "min_val_loss")
    assert set(row) >= {"section", "dataset", "kind", "tier", "base", "head", "base_median", "head_median", "change",
                        "p", "p_adjusted", "verdict", "label"}
    assert len(row["base"]) == 4 and row["change"] == pytest.approx(0.2)
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "overfit-bench compare" in html and "<script>" not in row["why"]


def test_old_schema_record_names_the_schema_and_the_fix(tmp_path, capsys):
    folder = write_folder(tmp_path / "base", records(range(1)))
    old = json.loads(next((folder / "records").glob("*.json")).read_text())
    old["schema"] = 1
    (folder / "records" / "old.json").write_text(json.dumps(old))
    with pytest.raises(ConfigError, match=r"old.json is a record of schema 1; this overfit-bench reads record schema "
                                          r"2\. Regenerate it .*overfit-bench run --retrain"):
        load_record_set(folder)
    head = write_folder(tmp_path / "head", records(range(1)))
    assert main(["compare", str(folder), str(head)]) == 2
    assert "schema 1" in capsys.readouterr().err


def test_missing_folder_and_non_record_json_are_bad_input(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope"), str(tmp_path / "nope2")]) == 2
    assert "an existing run folder, record folder or bundle file" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not a run record"):
        record_from_text('{"benchmarks": []}', "x.json")


def test_throughput_rows_use_the_machine_normalised_gate(tmp_path, capsys):
    base = write_folder(tmp_path / "base", records(range(4)))
    head = write_folder(tmp_path / "head", records(range(4)))
    a, b = bench_json(tmp_path / "a.json"), bench_json(tmp_path / "b.json", slowdown=1.5)
    assert main(["compare", str(base), str(head), "--base-bench", str(a), "--head-bench", str(b)]) == 1
    out = capsys.readouterr().out
    assert "throughput: benchmarks/test_variants.py::test_train_throughput +50.0% machine-normalised" in out
    assert main(["compare", str(base), str(head), "--base-bench", str(a), "--head-bench", str(a)]) == 0
    capsys.readouterr()
    assert main(["compare", str(base), str(head), "--base-bench", str(a)]) == 2
    assert "Pass both --base-bench and --head-bench" in capsys.readouterr().err


def test_bundle_round_trip_and_compare_against_a_folder(tmp_path, capsys):
    recs = records(range(4))
    folder = write_folder(tmp_path / "run", recs)
    bundle = tmp_path / "run.zip"
    assert main(["export", str(folder), str(bundle)]) == 0
    found = load_record_set(bundle)
    assert found.kind == "bundle" and sorted(found.records, key=lambda r: r.run_id) == sorted(recs,
                                                                                           key=lambda r: r.run_id)
    assert found.environment["tiers"] == ["fast"] and found.environment["seeds"] == [0, 1, 2, 3]
    assert found.environment["versions"]["keras"] == ["3.15.1"] and found.environment["cpu_model"]
    with zipfile.ZipFile(bundle) as z:
        assert json.loads(z.read("bundle.json"))["schema"] == 1
    capsys.readouterr()
    assert main(["compare", str(bundle), str(folder)]) == 0
    assert "verdict: same" in capsys.readouterr().out
    settings = {"tier": "fast", "seeds": "0-3"}
    again = load_record_set(write_bundle(tmp_path / "again.zip", recs, settings=settings))
    assert again.environment["settings"] == settings


def test_bad_bundles_are_bad_input(tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert main(["compare", str(junk), str(junk)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="ending in .zip"):
        write_bundle(tmp_path / "run.tar", records(range(1)))
    damaged = write_bundle(tmp_path / "d.zip", records(range(1)))
    with zipfile.ZipFile(damaged) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in parts if n.startswith("records/"))
    parts[name] = parts[name].replace(b'"seed": 0', b'"seed": 9')
    with zipfile.ZipFile(damaged, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    with pytest.raises(ConfigError, match="does not match its sha256"):
        load_record_set(damaged)


def test_run_rejects_a_bad_bundle_name_before_training(tmp_path, capsys):
    assert main(["run", "--tier", "smoke", "--out", str(tmp_path / "out"), "--bundle", str(tmp_path / "b.txt")]) == 2
    assert "ending in .zip" in capsys.readouterr().err


def test_html_escapes_paths(tmp_path):
    base, head = sets(tmp_path, records(range(4)), records(range(4)))
    c = compare(base, head)
    c.base["path"] = "<script>alert(1)</script>"
    page = render_html(c)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert json.loads(to_json(c))["base"]["path"] == "<script>alert(1)</script>"
