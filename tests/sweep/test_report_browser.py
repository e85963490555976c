"""report.html in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium): it renders
without console errors, makes no request beyond the file itself, and sorts its leaderboard on a click.

Skipped only when Chromium is absent outside CI; with CI=true a missing browser fails the test.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import RUN_PY, db_path

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _need_browser() -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    message = "Debian's chromium and chromium-driver are needed (apt-get install -y chromium chromium-driver)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    """A real two-job sweep on small data, its report rebuilt by `python -m runner.review --html`."""
    _need_browser()
    folder = tmp_path_factory.mktemp("report-browser")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    db_path(uri).parent.mkdir()
    shutil.copyfile(mlflow_template, db_path(uri))
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    for cmd in ([str(RUN_PY), "-m", "model=logreg,rf", "sampler=none,smotetomek", "dataset.n_samples=300"],
                ["-m", "runner.review", "--html", str(folder / "report.html")]):
        proc = subprocess.run([sys.executable, *cmd], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    return folder / "report.html"


@pytest.fixture
def driver() -> Iterator:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="runner-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                "--window-size=1300,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _requests(driver) -> list[str]:
    """URLs the browser asked for since the last call (the performance log's Network.requestWillBeSent)."""
    out = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            out.append(message["params"]["request"]["url"])
    return out


def test_the_report_renders_offline_without_errors_and_sorts_on_a_click(page: Path, driver) -> None:
    from selenium.webdriver.common.by import By

    driver.get("about:blank")
    _requests(driver)  # what the browser did before the page (its own start-up pages) is not the page's
    driver.get_log("browser")
    url = page.as_uri()
    driver.get(url)
    assert driver.title.startswith("sweep ") and "4 jobs by f1" in driver.title

    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []  # a CSP violation or a script error would be here
    requested = _requests(driver)
    assert url in requested
    leaving = [u for u in requested if u != url and not u.startswith("data:")]
    assert leaving == []

    table = driver.find_element(By.ID, "leaderboard-table")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 4
    headers = {h.get_attribute("data-key"): h for h in table.find_elements(By.CSS_SELECTOR, "thead th")}

    def column(key: str) -> list[str]:
        index = list(headers).index(key)
        return [r.find_elements(By.TAG_NAME, "td")[index].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]

    assert column("rank") == ["1", "2", "3", "4"]
    headers["fit_seconds"].click()
    fits = [float(v) for v in column("fit_seconds")]
    assert fits == sorted(fits) and headers["fit_seconds"].get_attribute("aria-sort") == "ascending"
    headers["fit_seconds"].click()
    fits = [float(v) for v in column("fit_seconds")]
    assert fits == sorted(fits, reverse=True) and headers["fit_seconds"].get_attribute("aria-sort") == "descending"
    headers["model"].click()
    models = column("model")
    assert models == sorted(models)
    headers["rank"].click()
    assert column("rank") == ["1", "2", "3", "4"]

    for chart in ("chart-roc", "chart-pr", "chart-reliability"):
        svg = driver.find_element(By.CSS_SELECTOR, f"#{chart} svg")
        assert svg.size["width"] > 200 and svg.size["height"] > 150
    assert driver.get_log("browser") == []  # clicking raised nothing either
