"""The review page in a real browser (headless Chromium): no errors, no injected script, working controls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from riskscore.report import build_review

from .conftest import SCRIPT_PAYLOAD

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): "
    "apt-get install chromium chromium-driver",
)
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# JavaScript: the table rows the filters leave visible, as [record id, channel, risk].
VISIBLE_ROWS = """
return Array.from(document.querySelectorAll('#cases tbody tr'))
  .filter(function (r) { return r.style.display !== 'none'; })
  .map(function (r) { return [r.cells[1].textContent.trim(), r.getAttribute('data-channel'),
                              parseFloat(r.cells[3].getAttribute('data-value'))]; });
"""


@pytest.fixture(scope="module")
def page(shipment_model, shipment_test, with_payloads, tmp_path_factory) -> Path:
    """A review of 1,000 records with every flagged case shown (red and yellow), payloads planted."""
    hostile, _ = with_payloads(shipment_model, shipment_test.iloc[:1000], 3)
    result = build_review(shipment_model, hostile, tmp_path_factory.mktemp("browser") / "out", max_cases=1000)
    assert result.shown == result.flagged > 50
    return result.index


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
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


@pytest.fixture
def opened(driver: WebDriver, page: Path) -> WebDriver:
    """The page freshly loaded (no sorting or filtering left from another test)."""
    driver.get(page.resolve().as_uri())
    driver.find_element(By.ID, "cases")
    return driver


def _visible(driver: WebDriver) -> list[list]:
    return driver.execute_script(VISIBLE_ROWS)


def _severe(driver: WebDriver) -> list[dict]:
    """Console errors (script errors, CSP violations, failed loads) since the last call."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_page_loads_without_errors_or_injected_script(opened, tmp_path):
    driver = opened
    assert _severe(driver) == []
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property raises when no alert is open
    # the payload is shown as text in a case's field table, not run
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('#details .case table.fields td'))"
        ".map(function (c) { return c.textContent; });"
    )
    assert sum(SCRIPT_PAYLOAD in t for t in texts) >= 3
    planted = driver.find_element(
        By.XPATH, "//div[@class='case']//table[@class='fields']//td[contains(., '<script>alert(1)</script>')]"
    )
    assert SCRIPT_PAYLOAD in planted.text
    assert planted.is_displayed()
    assert driver.execute_script("return document.querySelectorAll('script').length") == 1
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    # the inline charts rendered
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plots svg")) == 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.waterfall")) == len(_visible(driver))
    shot = tmp_path / "review.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_sorting_by_risk(opened):
    driver = opened
    initial = [risk for _, _, risk in _visible(driver)]
    assert initial == sorted(initial, reverse=True)  # riskiest first, by rank
    header = driver.find_element(By.XPATH, "//table[@id='cases']/thead//th[normalize-space(.)='Risk']")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    rows = _visible(driver)
    risks = [risk for _, _, risk in rows]
    assert len(risks) == len(initial)
    assert risks[0] <= risks[-1]
    assert risks == sorted(risks)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    risks = [risk for _, _, risk in _visible(driver)]
    assert risks[0] >= risks[-1]
    assert risks == sorted(risks, reverse=True)
    rank = driver.find_element(By.XPATH, "//table[@id='cases']/thead//th[normalize-space(.)='#']")
    assert rank.get_attribute("aria-sort") is None  # only the sorted column is marked
    assert _severe(driver) == []


def test_filter_by_record_id(opened):
    driver = opened
    rows = _visible(driver)
    counter = driver.find_element(By.ID, "visible-count")
    assert counter.text == f"{len(rows)} shown"
    record_id = rows[len(rows) // 2][0]
    driver.find_element(By.ID, "filter").send_keys(record_id)
    assert counter.text == "1 shown"
    assert [r[0] for r in _visible(driver)] == [record_id]
    assert _severe(driver) == []


def test_channel_filter(opened):
    driver = opened
    rows = _visible(driver)
    reds = [r[0] for r in rows if r[1] == "red"]
    assert 0 < len(reds) < len(rows)  # both channels are on the page, so the filter has work to do
    Select(driver.find_element(By.ID, "channel-filter")).select_by_visible_text("red")
    shown = _visible(driver)
    assert {r[1] for r in shown} == {"red"}
    assert [r[0] for r in shown] == reds
    assert driver.find_element(By.ID, "visible-count").text == f"{len(reds)} shown"
    assert _severe(driver) == []
