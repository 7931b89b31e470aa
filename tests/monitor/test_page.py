"""The monitoring page: self-contained, data escaped, and drawn without errors in a real browser.

Group names come from the records: a nationality carrying markup must show as text, never as markup. The
browser test (headless Chromium, like the review page's) skips where Debian's chromium is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from riskscore.monitoring import MonitorReport, monitor
from riskscore.synthetic import generate_passengers

PAYLOAD = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def hostile(passenger_model) -> MonitorReport:
    """30,000 trips (biased rule on CN), 300 of them with a nationality that is markup."""
    frame = generate_passengers(30_000, seed=21, scenario={"passengers": {"legacy": {"biased_value": "CN"}}})
    nationality = frame["nationality"].astype(object)
    nationality.iloc[:300] = PAYLOAD
    return monitor(passenger_model, frame.assign(nationality=nationality), num_threads=1)


@pytest.fixture(scope="module")
def page(hostile, tmp_path_factory) -> Path:
    return hostile.save_html(tmp_path_factory.mktemp("monitor_page") / "monitor.html")


def test_markup_in_the_data_is_escaped(hostile, page):
    assert PAYLOAD in {g["group"] for g in hostile.fairness}  # a group of 300 records: tested and shown
    html = page.read_text(encoding="utf-8")
    assert PAYLOAD not in html and "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in html
    assert "content=\"default-src 'none'; style-src 'unsafe-inline'\"" in html  # no script may run at all


def test_the_page_holds_every_section_and_chart(hostile, page):
    html = page.read_text(encoding="utf-8")
    for section in ("summary", "risk", "channels", "hit-rate", "fields", "unseen", "fairness", "method"):
        assert f'<section id="{section}">' in html
    plots = len({(g["selection"], g["attribute"]) for g in hostile.fairness})
    assert html.count("<svg") == 2 + 6 + plots  # risk, channels, six fields, one per selection and attribute
    assert html.count('class="row-') >= len(hostile.fairness) + len(hostile.unseen)


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Iterator[object]:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        browser.set_window_size(1280, 1000)
        browser.set_page_load_timeout(60)
        yield browser
    finally:
        browser.quit()


def test_the_page_draws_in_a_browser_without_errors(driver, hostile, page, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver.get(page.resolve().as_uri())
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property raises when no alert is open
    assert driver.execute_script("return document.querySelectorAll('script, img').length") == 0
    # the risk chart draws one bar per bin for the reference and one for the batch, each with a height
    bars = driver.find_elements(By.CSS_SELECTOR, "#risk svg rect[height]")
    heights = [float(b.get_attribute("height")) for b in bars[: 2 * len(hostile.risk["reference"])]]
    assert len(heights) == 2 * len(hostile.risk["reference"]) and max(heights) > 50
    # the markup group reads as text in the table
    cells = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#fairness table td:nth-child(3)")]
    assert PAYLOAD in cells
    rows = pd.DataFrame(hostile.fairness)
    assert len(cells) == len(rows)
    shot = tmp_path / "monitor.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
