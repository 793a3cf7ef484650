"""Regenerate docs/report-screenshot.png from a run's records (needs chromium, chromedriver and selenium).

    overfit-bench run --seeds 0-2 --out /tmp/html-sample     # or any folder with a records/ subfolder
    python docs/report_screenshot.py /tmp/html-sample
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from overfit_core.cases import run_records
from overfit_core.html_report import write_html
from overfit_core.records import RunRecord


def main(out: str, width: int = 1280, height: int = 2150) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    records = [RunRecord.from_json(p.read_text()) for p in sorted(Path(out, "records").glob("*.json"))]
    verdicts = run_records(records)[0].verdicts
    page = write_html(Path(out) / "report.html", records, verdicts, title=f"overfit-bench report ({records[0].config.tier} tier)")
    print(f"{page}: {page.stat().st_size / 1024:.0f} KB")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--window-size={width},{height}", f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get(page.resolve().as_uri())
        driver.save_screenshot(str(Path(__file__).with_name("report-screenshot.png")))
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "overfit-bench-out")
