"""The HTML report: on hand-made records and verdicts (no training), then in a real headless browser."""
from __future__ import annotations

import base64
import dataclasses
import math
import re
import shutil
import tempfile
from html.parser import HTMLParser

import numpy as np
import pytest

from overfit_core import get_variant
from overfit_core.cases import run_records
from overfit_core.errors import ConfigError
from overfit_core.html_report import PER_PLOT_KB, _compact_png, render_html, size_bound, write_html
from overfit_core.report import plot_png
from tests.test_records import make_record

ENV = {"CPU model": "test CPU", "cores": "2"}
TITLE = "overfit-bench report <test>"


def run(variant, seed=0, kind="synthetic", epochs=6, status="ok"):
    spec = get_variant(variant)
    key = spec.unregularised_metric
    train = tuple(0.7 * 0.8**i for i in range(epochs))
    val = tuple(0.69 - 0.05 * i + 0.02 * i * i for i in range(epochs))
    history = {"loss": train, "val_loss": val, key: train, f"val_{key}": val}
    evaluation = {"constant_train_loss": 0.7, "constant_val_loss": 0.7, "chance_val_accuracy": 0.5}
    if spec.task == "regression":
        evaluation = {"rmse": 4.5, "mae": 3.25, "mape": 17.5, "constant_train_loss": 0.7, "constant_val_loss": 0.7}
    else:
        history.update(accuracy=tuple(0.5 + 0.05 * i for i in range(epochs)),
                       val_accuracy=tuple(0.5 + 0.04 * i for i in range(epochs)))
    source = "synthetic(seed=0)" if kind == "synthetic" else f"data-dir:/data/{spec.dataset}.npz"
    return make_record(spec=spec, seed=seed, dataset=spec.dataset, data_kind=kind, data_source=source, history=history,
                       evaluation=evaluation, epochs_run=epochs, status=status, samples_per_s=1000.0 + 10 * seed)


def verdict(check, variants, outcome, seed=0, dataset="imdb", kind="synthetic", margin=0.25, message="", **more):
    return {"check": check, "variants": list(variants), "dataset": dataset, "kind": kind, "seed": seed,
            "outcome": outcome, "message": message or f"{check} {outcome} for {', '.join(variants)}",
            "measured": {"x": 1.0}, "threshold": "x < 2", "margin": margin, **more}


RECORDS = [run(v, seed) for v in ("basic", "overfit") for seed in (2, 10)] + [run("tiny"), run("tiny_lr_high")]
VERDICTS = [
    verdict("learns", ["basic"], "passed", seed=2), verdict("learns", ["basic"], "passed", seed=10),
    verdict("val_loss_diverges", ["overfit"], "failed", seed=2, margin=-0.5,
            message="validation loss <script>alert(1)</script> does not rise"),
    verdict("val_loss_diverges", ["overfit"], "passed", seed=10, margin=0.125),
    verdict("bigger_overfits_more", ["overfit", "basic"], "passed", margin=0.5),
    verdict("lr_too_high_is_jittery", ["tiny_lr_high", "tiny"], "xfailed", dataset="boston", margin=-1.0, strict=False),
    verdict("regression_metrics", ["tiny"], "skipped", dataset="boston", margin=math.nan),
]
CHECKS = ["learns", "val_loss_diverges", "bigger_overfits_more", "lr_too_high_is_jittery", "regression_metrics"]


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(RECORDS, VERDICTS, title=TITLE, environment=ENV)


class _Attrs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "action", "data")]


def test_page_is_offline(page):
    parser = _Attrs()
    parser.feed(page)
    assert parser.refs, "expected plots and anchors"
    for tag, attr, value in parser.refs:
        assert value.startswith(("data:image/png;base64,", "#")), f"<{tag} {attr}={value[:60]!r}> leaves the page"
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page)
    assert "@import" not in page and "url(" not in page and "<link" not in page and "<iframe" not in page


def test_every_check_has_a_row_and_the_failure_is_marked_and_linked(page):
    rows = {name: cls for cls, name in re.findall(r'<tr class="(\w+)" data-check="(\w+)"', page)}
    assert set(rows) == set(CHECKS)
    assert rows["val_loss_diverges"] == "fail" and rows["learns"] == "pass"
    assert rows["lr_too_high_is_jittery"] == "xfail" and rows["regression_metrics"] == "skip"
    failing_row = re.search(r'<tr class="fail" data-check="val_loss_diverges".*?</tr>', page).group(0)
    assert "✗ fail" in failing_row and 'href="#exp-capacity-synthetic"' in failing_row
    assert 'id="exp-capacity-synthetic"' in page and 'id="exp-boston-synthetic"' in page
    assert "✗ 1 of 5 checks failing" in page


def test_text_is_escaped(page):
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>overfit-bench report &lt;test&gt;</title>" in page


def test_banner_when_all_hold_and_when_none_ran():
    held = [v for v in VERDICTS if v["outcome"] in ("passed", "skipped")]
    assert "✓ All 4 checks hold" in render_html(RECORDS[:1], held, environment=ENV)
    assert "No checks were run" in render_html(RECORDS[:1], [], environment=ENV)


def test_xpass_of_a_strict_xfail_fails_and_a_non_strict_one_does_not():
    strict = render_html([], [verdict("learns", ["basic"], "xpassed")], environment=ENV)
    loose = render_html([], [verdict("learns", ["basic"], "xpassed", strict=False)], environment=ENV)
    assert "1 of 1 checks failing" in strict and "Failing cases without runs on this page" in strict
    assert "✓ All 1 checks hold" in loose and "✓ xpass" in loose


def test_unknown_outcome_is_rejected():
    with pytest.raises(ConfigError, match="outcome"):
        render_html([], [verdict("learns", ["basic"], "crashed")], environment=ENV)


def test_runs_of_variants_outside_the_experiments_get_their_own_section():
    page = render_html(RECORDS[:2], [], environment=ENV, experiments={"big": ("overfit",)})
    assert 'id="exp-other-imdb-synthetic"' in page and "big" not in page


def test_environment_lists_versions_machine_and_data(page):
    env = re.search(r'<section id="environment">.*?</section>', page, re.S).group(0)
    for text in ("2.21.0", "3.15.1", "2.4.6", "3.11.7", "test CPU", "synthetic(seed=0)", "ab" * 32):
        assert text in env


def test_page_is_within_its_size_bound(page):
    plots = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(plots) == 2
    assert len(page.encode()) <= size_bound(len(RECORDS), len(VERDICTS), len(plots))


def test_a_crowded_plot_is_within_the_per_plot_bound():
    rng = np.random.default_rng(0)
    crowded = []
    for variant in ("reg_base", "l1", "l2", "dropout"):
        base = run(variant)
        key = base.spec.unregularised_metric
        for seed in range(20):
            train = 0.7 * np.exp(-np.arange(100) / 20) + 0.1 * rng.normal(0, 0.02, 100).cumsum() + 0.05
            val = 0.5 + 0.3 * np.sin(np.arange(100) / 7 + seed) + rng.normal(0, 0.05, 100)
            history = {**base.history, key: tuple(train), f"val_{key}": tuple(val)}
            crowded.append(dataclasses.replace(base, seed=seed, history=history, epochs_run=100))
    encoded = base64.b64encode(_compact_png(plot_png("regularisation", crowded)))
    assert len(encoded) <= PER_PLOT_KB * 1024


def test_write_html_is_atomic_and_writes_the_rendering(tmp_path, page):
    path = write_html(tmp_path / "out" / "report.html", RECORDS, VERDICTS, title=TITLE, environment=ENV)
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]


def test_verdicts_come_from_the_case_pipeline():
    records = [run("basic"), run("overfit"), run("tiny"), run("tiny_lr_high")]
    report, _ = run_records(records, expected={"learns": "claimed for the test"})
    by_check = {(v["check"], tuple(v["variants"])): v for v in report.verdicts}
    learns = by_check["learns", ("basic",)]
    assert learns["outcome"] == "xpassed" and learns["strict"] is True and learns["kind"] == "synthetic"
    jittery = by_check["lr_too_high_is_jittery", ("tiny_lr_high", "tiny")]
    assert jittery["outcome"] in ("passed", "failed") and jittery["kind"] == "synthetic"
    assert by_check["bigger_overfits_more", ("overfit", "basic")]["dataset"] == "imdb"
    assert all(v["seed"] == 0 and v["outcome"] in ("passed", "failed", "xpassed", "xfailed") for v in report.verdicts)
    assert "claimed for the test" in learns["message"]


# --- in a real browser -------------------------------------------------------------------------

ENABLE_BROWSER = "apt-get install chromium chromium-driver; pip install selenium"
RGB = {"pass": "rgb(26, 127, 55)", "fail": "rgb(207, 34, 46)", "amber": "rgb(154, 103, 0)"}


@pytest.fixture(scope="module")
def browser(tmp_path_factory, page):
    """Headless chromium on the page written to a temporary folder (what write_html writes, as tested above);
    skips when it cannot run here."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    missing = [name for name, found in (("chromium", chromium), ("chromedriver", driver_bin),
                                        ("selenium", webdriver)) if not found]
    if missing:
        pytest.skip(f"real-browser test needs {', '.join(missing)}: {ENABLE_BROWSER}")
    folder = tmp_path_factory.mktemp("html")
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1280,1000", f"--user-data-dir={tempfile.mkdtemp(dir=folder)}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        driver.get(path.resolve().as_uri())
        driver.load_messages = driver.get_log("browser")
        yield driver
    finally:
        driver.quit()


def _cells(driver, table_css: str, header: str) -> list[tuple[str, str]]:
    """(sort key, visible text) of one column, top to bottom."""
    return driver.execute_script("""
        var t = document.querySelector(arguments[0]), name = arguments[1];
        var i = Array.prototype.map.call(t.tHead.rows[0].cells, function (c) { return c.textContent; }).indexOf(name);
        return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
            var c = r.cells[i]; return [c.getAttribute('data-sort') || c.textContent.trim(), c.textContent.trim()]; });
    """, table_css, header)


def _header(driver, table_css: str, header: str):
    from selenium.webdriver.common.by import By

    return next(th for th in driver.find_elements(By.CSS_SELECTOR, f"{table_css} thead th") if th.text == header)


def test_browser_shows_title_banner_and_every_check(browser):
    from selenium.webdriver.common.by import By

    assert browser.title == TITLE
    banner = browser.find_element(By.ID, "banner")
    assert banner.is_displayed() and banner.text.startswith("✗ 1 of 5 checks failing")
    assert browser.execute_script("return getComputedStyle(arguments[0]).color", banner) == RGB["fail"]
    rows = browser.find_elements(By.CSS_SELECTOR, "table.checks tbody tr")
    assert {r.get_attribute("data-check") for r in rows} == set(CHECKS) and all(r.is_displayed() for r in rows)


@pytest.mark.parametrize("check, text, colour", [("learns", "✓ pass", "pass"),
                                                 ("val_loss_diverges", "✗ fail", "fail"),
                                                 ("lr_too_high_is_jittery", "✗ xfail", "amber")])
def test_browser_verdict_marks_and_colours(browser, check, text, colour):
    from selenium.webdriver.common.by import By

    mark = browser.find_element(By.CSS_SELECTOR, f'table.checks tr[data-check="{check}"] .mark')
    assert mark.text == text
    assert browser.execute_script("return getComputedStyle(arguments[0]).color", mark) == RGB[colour]


def test_browser_failing_check_links_to_its_loss_curves(browser):
    from selenium.webdriver.common.by import By

    link = browser.find_element(By.CSS_SELECTOR, 'table.checks tr[data-check="val_loss_diverges"] a')
    link.click()
    assert browser.current_url.endswith("#exp-capacity-synthetic")
    section = browser.find_element(By.ID, "exp-capacity-synthetic")
    assert "validation loss <script>alert(1)</script> does not rise" in section.text
    assert section.find_element(By.TAG_NAME, "img").is_displayed()


def test_browser_clicking_a_header_sorts_numbers_as_numbers(browser):
    table = "#exp-capacity-synthetic table.runs"
    _header(browser, table, "seed").click()
    assert [int(text) for _, text in _cells(browser, table, "seed")] == [2, 2, 10, 10]  # as text: 10 before 2
    _header(browser, table, "seed").click()
    assert [int(text) for _, text in _cells(browser, table, "seed")] == [10, 10, 2, 2]
    _header(browser, "table.checks", "worst margin").click()
    margins = [float(key) for key, _ in _cells(browser, "table.checks", "worst margin") if key != "nan"]
    assert margins == sorted(margins) and margins[0] == -1.0
    assert _header(browser, "table.checks", "worst margin").get_attribute("aria-sort") == "ascending"
    _header(browser, "table.checks", "check").click()
    names = [text for _, text in _cells(browser, "table.checks", "check")]
    assert names == sorted(names)


def test_browser_loads_every_plot(browser):
    from selenium.webdriver.common.by import By

    images = browser.find_elements(By.TAG_NAME, "img")
    assert len(images) == 2
    for img in images:
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0


def test_browser_console_has_no_errors(browser):
    severe = [m for m in browser.load_messages if m["level"] == "SEVERE"]
    assert not severe, severe
    browser.execute_script("console.error('probe')")
    assert any("probe" in m["message"] and m["level"] == "SEVERE" for m in browser.get_log("browser")), \
        "the console log is not captured, so the check above proves nothing"
