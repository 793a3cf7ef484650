"""Users' own models: `@overfit_core.variant`, `parametrize_with_checks`, `check_variants`, and the README example."""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

import overfit_core
from overfit_core import VARIANTS
from overfit_core.cases import cases_for, check_expected_failures, expected_failure
from overfit_core.errors import ConfigError
from overfit_core.variants import TAGS, VariantSpec, build_model, builder_key, builtin_variants, resolve, variant

pytest_plugins = ["pytester"]
README = Path(__file__).resolve().parent.parent / "README.md"


def _sequential(input_shape, units, out=1, activation="sigmoid", **dense):
    from overfit_core.compat import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(units, activation="relu", **dense),
                             keras.layers.Dense(out, activation=activation)])


@variant(name="uv_small", dataset="imdb", tags=("baseline",), epochs={"smoke": 3, "fast": 20})
def uv_small(input_shape):
    """A 16-unit MLP."""
    return _sequential(input_shape, 16)


@variant(name="uv_big", dataset="imdb", tags=("overparameterised",), baseline="uv_small", epochs=30)
def uv_big(input_shape):
    return _sequential(input_shape, 512)


@variant(name="uv_l1", dataset="imdb", tags=("l1",), baseline="uv_small", epochs=5)
def uv_l1(input_shape):
    return _sequential(input_shape, 16)


@variant(name="uv_l2", dataset="imdb", tags=("regularised", "l2"), baseline="uv_small", epochs=5)
def uv_l2(input_shape):
    return _sequential(input_shape, 16)


@variant(name="uv_drop", dataset="imdb", tags=("dropout", "stochastic"), baseline="uv_small", epochs=5)
def uv_drop(input_shape):
    return _sequential(input_shape, 16)


@variant(name="uv_boston", dataset="boston", tags=("regression",), learning_rate=0.05, epochs=30)
def uv_boston(input_shape):
    return _sequential(input_shape, 8, activation=None)


def _checks(*variants) -> dict[str, set[str]]:
    """check -> labels of the bindings `variants` take part in."""
    out: dict[str, set[str]] = {}
    for case in cases_for(list(variants), seeds="0", kinds="synthetic"):
        out.setdefault(case.check, set()).add(case.label)
    return out


# --- registration -----------------------------------------------------------------------------

def test_decorator_registers_a_spec_and_keeps_the_builder_callable():
    spec = uv_small.spec
    assert VARIANTS["uv_small"] == spec and resolve("uv_small") == spec and resolve(uv_small) == spec
    assert spec not in builtin_variants()  # one registry; the built-in suite takes the built-in ones
    assert spec.dataset == "imdb" and spec.tags == ("baseline",) and spec.hidden == ()
    assert spec.builder.startswith("tests.test_user_variants:uv_small@")
    assert spec.description == "A 16-unit MLP."  # the builder's docstring, when no description is given
    assert VariantSpec.from_dict(spec.to_dict()) == spec
    model = build_model(spec, (100,))
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [16, 1]


def test_specs_carry_their_epochs_per_tier():
    assert uv_small.spec.epochs_for("smoke") == 3 and uv_small.spec.epochs_for("fast") == 20
    assert uv_big.spec.epochs_for("full") == 30  # one number: every tier
    assert VARIANTS["overfit"].epochs_for("fast") == 50 and VARIANTS["overfit"].epochs_for("smoke") == 2  # dataset's
    assert VARIANTS["adam"].epochs_for("full") == 20  # fashion_mnist's own
    with pytest.raises(ConfigError, match="sets no epochs for tier 'full'.*epochs="):
        uv_small.spec.epochs_for("full")


def test_digest_follows_the_builders_source_and_bound_arguments():
    def make(units):
        def build(input_shape):
            return _sequential(input_shape, units)
        return build

    def other(input_shape):
        return _sequential(input_shape, 16)

    assert builder_key(make(16)) == builder_key(make(16))
    assert builder_key(make(16)) != builder_key(make(32))  # same source, other closure
    assert builder_key(uv_small.__wrapped__) != builder_key(other)
    assert builder_key(functools.partial(_sequential, units=8)) != builder_key(functools.partial(_sequential, units=9))
    spec16 = variant(name="uv_made", dataset="imdb", epochs=2)(make(16)).spec
    spec32 = variant(name="uv_made", dataset="imdb", epochs=2)(make(32)).spec  # same function: re-registers
    assert spec16.digest() != spec32.digest() and VARIANTS["uv_made"] == spec32


def test_invalid_registrations_say_what_was_expected():
    def build(input_shape):
        return _sequential(input_shape, 4)

    with pytest.raises(ConfigError, match="overparameterised") as info:
        variant(name="uv_typo", dataset="imdb", tags=("overparametrised",))
    assert "'overparametrised'" in str(info.value)
    with pytest.raises(ConfigError, match="taken by the built-in"):
        variant(name="overfit", dataset="imdb")(build)
    with pytest.raises(ConfigError, match="registered already, by tests.test_user_variants:uv_small"):
        variant(name="uv_small", dataset="imdb")(build)
    with pytest.raises(ConfigError, match="name='my-model'"):
        variant(name="my-model", dataset="imdb")
    with pytest.raises(ConfigError, match="dataset='cifar'"):
        variant(name="uv_x", dataset="cifar")
    with pytest.raises(ConfigError, match="tier names"):
        variant(name="uv_x", dataset="imdb", epochs={"quick": 2})
    with pytest.raises(ConfigError, match="batch_size=0"):
        variant(name="uv_x", dataset="imdb", batch_size=0)


def test_every_known_tag_is_documented_and_covers_the_registry():
    assert {t for s in VARIANTS.values() for t in s.tags} <= set(TAGS)


# --- which checks apply -----------------------------------------------------------------------

def test_tags_and_baselines_bind_the_same_checks_as_fields_do():
    assert _checks(uv_big) == {"val_loss_diverges": {"uv_big"}, "bigger_overfits_more": {"uv_big-uv_small"},
                               "learns": {"uv_big"}, "beats_chance": {"uv_big"}}
    assert _checks(uv_l2) == {"l2_shrinks_weights": {"uv_l2-uv_small"}, "regularisation_narrows_gap": {"uv_l2-uv_small"},
                              "penalty_raises_train_loss": {"uv_l2-uv_small"}, "learns": {"uv_l2"},
                              "beats_chance": {"uv_l2"}}
    assert _checks(uv_drop)["dropout_narrows_gap"] == {"uv_drop-uv_small"}
    assert _checks(uv_l1, uv_l2)["l1_sparser_than_l2"] == {"uv_l1-uv_l2"}
    assert _checks(uv_boston) == {"regression_metrics": {"uv_boston"}, "learns": {"uv_boston"},
                                  "beats_constant_predictor": {"uv_boston"}}
    # a baseline takes part but gets no checks of its own; asked for, it does
    assert "uv_small" not in _checks(uv_l2)["learns"]
    assert _checks(uv_small) == {"learns": {"uv_small"}, "beats_chance": {"uv_small"}}


def test_a_registry_variant_can_be_the_baseline():
    @variant(name="uv_l2_vs_reg_base", dataset="imdb", tags=("l2",), baseline="reg_base", epochs=5)
    def build(input_shape):
        return _sequential(input_shape, 128)

    assert _checks(build)["l2_shrinks_weights"] == {"uv_l2_vs_reg_base-reg_base"}


def test_cases_cover_kinds_and_seeds_with_readable_ids():
    ids = [c.id for c in cases_for([uv_l2], seeds="3-4")]
    assert "l2_shrinks_weights-uv_l2-uv_small-synthetic_imdb-seed3" in ids
    assert "learns-uv_l2-imdb-seed4" in ids and len(ids) == 5 * 2 * 2  # 5 checks, 2 kinds, 2 seeds


def test_baseline_problems_are_reported():
    @variant(name="uv_orphan", dataset="imdb", tags=("l2",), baseline="uv_nowhere", epochs=2)
    def orphan(input_shape):
        return _sequential(input_shape, 4)

    @variant(name="uv_cross", dataset="boston", tags=("l2",), baseline="uv_small", epochs=2)
    def cross(input_shape):
        return _sequential(input_shape, 4, activation=None)

    with pytest.raises(ConfigError, match="baseline='uv_nowhere', which is not registered"):
        cases_for([orphan], seeds=[0])
    with pytest.raises(ConfigError, match="same dataset"):
        cases_for([cross], seeds=[0])
    with pytest.raises(ConfigError, match="variants="):
        cases_for([42], seeds=[0])

    @variant(name="uv_lonely", dataset="imdb", tags=("lr_too_high",), epochs=2)
    def lonely(input_shape):
        return _sequential(input_shape, 4)

    with pytest.raises(ConfigError, match="No check applies to uv_lonely"):
        cases_for([lonely], seeds=[0])


def test_expected_failures_must_name_an_applicable_check_with_a_reason():
    cases = cases_for([uv_l2], seeds=0, kinds="synthetic")
    with pytest.raises(ConfigError, match="check names from"):
        check_expected_failures({"l2_shrinks": "typo"}, cases)
    with pytest.raises(ConfigError, match="applies to none of uv_l2"):
        check_expected_failures({"val_loss_diverges": "not overparameterised"}, cases)
    with pytest.raises(ConfigError, match="non-empty"):
        check_expected_failures({"learns": ""}, cases)
    expected = check_expected_failures({"learns": "too short"}, cases)
    assert {c.check: expected_failure(c, expected, tf_version="") for c in cases} == {
        "learns": ("too short", True), "l2_shrinks_weights": None, "regularisation_narrows_gap": None,
        "penalty_raises_train_loss": None, "beats_chance": None}


def test_one_expected_failure_rule_for_every_source(monkeypatch):
    from overfit_core import known_failures

    jittery = next(c for c in cases_for(["tiny_lr_high"], seeds=0, kinds="real") if c.check == "lr_too_high_is_jittery")
    synthetic = next(c for c in cases_for(["tiny_lr_high"], seeds=0, kinds="synthetic")
                     if c.check == "lr_too_high_is_jittery")
    tf = {"tf_version": "2.21.0", "backend": "tensorflow"}
    assert expected_failure(jittery, **tf) is None and expected_failure(synthetic, **tf) is None
    monkeypatch.setattr(overfit_core.cases, "measured_failures", lambda check, label, kind, tier: {0: "gap_ratio=1.03"})
    reason, strict = expected_failure(synthetic, **tf)  # a seed the calibration measured failing
    assert "gap_ratio=1.03" in reason and strict is True
    monkeypatch.setattr(known_failures, "KNOWN_FAILURES", {("lr_too_high_is_jittery", "2.21"): "measured"})
    assert expected_failure(synthetic, tf_version="2.21.3", backend="tensorflow") == (
        "known failure on this TensorFlow: measured", True)
    assert expected_failure(synthetic, {"lr_too_high_is_jittery": "mine"}, tf_version="2.21.3") == ("mine", True)
    assert expected_failure(synthetic, tf_version="2.21.3", backend="jax") is None  # the calibration was on TF
    monkeypatch.setattr(known_failures, "KNOWN_FAILURES", {("lr_too_high_is_jittery", "jax"): "measured on jax"})
    assert expected_failure(synthetic, tf_version="", backend="jax") == (
        "known failure on the jax backend: measured on jax", True)


def test_parametrize_with_checks_is_expanded_by_the_plugin():
    mark = overfit_core.parametrize_with_checks([uv_l2], seeds="0", kinds="synthetic",
                                                expected_failures={"learns": "too short"})
    assert mark.name == "overfit_checks" and mark.kwargs["variants"] == (uv_l2.spec,)
    assert mark.kwargs["expected_failures"] == {"learns": "too short"} and mark.kwargs["kinds"] == ("synthetic",)
    with pytest.raises(ConfigError, match="check"):
        overfit_core.parametrize_with_checks([uv_l2], checks=["no_such_check"])


def test_builders_must_return_a_model_with_the_datasets_output():
    @variant(name="uv_wrong_units", dataset="fashion_mnist", epochs=2)
    def wrong(input_shape):
        return _sequential(input_shape, 4)

    @variant(name="uv_not_a_model", dataset="imdb", epochs=2)
    def not_a_model(input_shape):
        return "a model"

    with pytest.raises(ConfigError, match=r"output shape \(None, 28, 1\)\. Expected \(None, 10\)"):
        build_model(wrong.spec, (28, 28))
    with pytest.raises(ConfigError, match="returned a str"):
        build_model(not_a_model.spec, (100,))


# --- running the checks -----------------------------------------------------------------------

@pytest.mark.training
def test_check_variants_runs_without_pytest_and_keeps_xfails_strict(tmp_path):
    lines = []
    report = overfit_core.check_variants([uv_boston], seeds="0", tier="smoke", kinds="synthetic", cache_dir=tmp_path,
                                         log=lines.append)
    assert [r.check for r in report] == ["regression_metrics", "learns", "beats_constant_predictor"]
    assert all(r.passed for r in report) and report.ok
    assert "uv_boston: 3 checks ran (beats_constant_predictor, learns, regression_metrics) in 3 cases: 3 passed" in \
        report.summary
    assert lines == [report.summary]
    again = overfit_core.check_variants([uv_boston], seeds="0", tier="smoke", kinds="synthetic", cache_dir=tmp_path,
                                        expected_failures={"learns": "claimed"}, log=lines.append)
    assert not again.ok and [r.check for r in again.unexpected] == ["learns"]  # it held: strict XPASS
    assert "2 passed, 1 xpassed" in again.summary
    assert len(list(tmp_path.glob("uv_boston-boston-seed0-smoke--*.json"))) == 1  # trained once, then cached


def readme_example() -> str:
    """The README's `test_my_models.py`, verbatim."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# test_my_models\.py.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "README: expected one ```python block starting with '# test_my_models.py'"
    return blocks[0]


@pytest.mark.training
@pytest.mark.skipif(os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"),
                    reason="the README example builds with `import keras`, which is Keras 3 beside tf-keras")
def test_readme_example_runs_as_a_third_party_test_file(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv("OVERFIT_DATA_DIR", raising=False)
    monkeypatch.delenv("OVERFIT_DOWNLOAD", raising=False)
    monkeypatch.delenv("OVERFIT_REQUIRE_REAL", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_my_models=readme_example())
    result = pytester.runpytest_subprocess("--tier", "smoke", "--seeds", "0", "--cache-dir", str(tmp_path), "-v",
                                           "-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=7, xfailed=1, skipped=8)
    result.stdout.fnmatch_lines([
        "*test_my_models.py::test_my_models?l2_shrinks_weights-my_mlp_l2-my_mlp-synthetic_imdb-seed0? PASSED*",
        "*test_my_models?memorises_random_labels-my_tiny_random_labels-synthetic_imdb-seed0? XFAIL*",
        "*overfit-bench: checks run per variant (tier smoke, seeds 0)*",
        "my_mlp: 5 checks ran (beats_chance, l2_shrinks_weights, learns, penalty_raises_train_loss, "
        "regularisation_narrows_gap) in 5 cases: 5 passed",
        "my_mlp_l2: 5 checks ran (beats_chance, l2_shrinks_weights, learns, penalty_raises_train_loss, "
        "regularisation_narrows_gap) in 5 cases: 5 passed",
        "my_tiny_random_labels: 1 check ran (memorises_random_labels) in 1 case: 1 xfailed",
        "not run: 8 cases skipped",
    ])
