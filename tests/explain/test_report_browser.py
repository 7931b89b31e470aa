"""The review page in a real browser (headless Chromium), used as an officer would use it.

One review of 10,000 records (the shipment test window and a week after it), payloads planted, is built
once for the module: it loads light and fast, opens collapsed, shows every red case, pages, sorts, filters
and opens a case's details without errors or injected script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from riskscore.report import build_review
from riskscore.report.builder import PAGE_SIZE, ReviewResult
from riskscore.synthetic import generate_shipments
from riskscore.validation import validate_frame

from .conftest import IMG_PAYLOAD, SCRIPT_PAYLOAD, SEED

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
RECORDS = 10_000
MAX_BYTES = 2_000_000

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

# JavaScript: the cases the page shows now, as [record id, channel, risk].
VISIBLE_ROWS = """
return Array.from(document.querySelectorAll('#cases tbody.case'))
  .filter(function (b) { return !b.hidden; })
  .map(function (b) { var r = b.rows[0]; return [r.cells[1].textContent.trim(), b.getAttribute('data-channel'),
                                                 parseFloat(r.cells[3].getAttribute('data-value'))]; });
"""
# JavaScript: every case on the page, shown or not, in table order, as [record id, channel, risk].
ALL_ROWS = VISIBLE_ROWS.replace(".filter(function (b) { return !b.hidden; })", "")


@dataclass(frozen=True)
class Review:
    """The 10,000-record review: its records, their scores and what build_review wrote."""

    frame: pd.DataFrame
    pred: pd.DataFrame
    result: ReviewResult
    planted: list[str]


@pytest.fixture(scope="module")
def review(shipment_model, shipment_test, with_payloads, tmp_path_factory) -> Review:
    """A review of 10,000 records: the test window and a week of later records, payloads planted."""
    after = pd.Timestamp(shipment_test["declared_at"].max()).normalize() + pd.Timedelta(days=1)
    later = generate_shipments(
        RECORDS - len(shipment_test), seed=SEED, start=after.date().isoformat(), days=7
    )
    frame = pd.concat([shipment_test, validate_frame(later, "shipment")], ignore_index=True)
    assert len(frame) == RECORDS
    assert frame["declaration_id"].is_unique
    hostile, planted = with_payloads(shipment_model, frame, 3)
    result = build_review(shipment_model, hostile, tmp_path_factory.mktemp("browser") / "out")
    pred = shipment_model.predict(hostile)
    assert result.flagged > 1500
    return Review(hostile, pred, result, hostile["declaration_id"].iloc[planted].astype(str).tolist())


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
def opened(driver: WebDriver, review: Review) -> WebDriver:
    """The page freshly loaded (no paging, sorting, filtering or opened case left from another test)."""
    driver.get(review.result.index.resolve().as_uri())
    driver.find_element(By.ID, "cases")
    return driver


def _visible(driver: WebDriver) -> list[list]:
    return driver.execute_script(VISIBLE_ROWS)


def _severe(driver: WebDriver) -> list[dict]:
    """Console errors (script errors, CSP violations, failed loads) since the last call."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _case(driver: WebDriver, record_id: str):
    """The case's tbody (its row, and its details once opened)."""
    return driver.find_element(
        By.XPATH, f"//table[@id='cases']/tbody[tr[@class='row']//button[normalize-space(.)='{record_id}']]"
    )


def _open(driver: WebDriver, record_id: str):
    case = _case(driver, record_id)
    case.find_element(By.CSS_SELECTOR, "button.open").click()
    return case


# JavaScript: what an opened case's details show (one round trip, not one per element).
DETAILS = """
var d = arguments[0].querySelector('tr.detail');
function texts(sel) { return Array.from(d.querySelectorAll(sel)).map(function (e) { return e.textContent; }); }
var fields = {};
Array.from(d.querySelectorAll('table.fields tr')).forEach(function (r) {
  fields[r.cells[0].textContent] = r.cells[1].textContent;
});
return {shown: d.getClientRects().length > 0, decision: d.querySelector('p.decision').textContent,
        reasons: texts('ol.reasons li'), waterfall: texts('.wf-text'), fields: fields};
"""


def _details(case) -> dict:
    """What an opened case's details show: decision, reasons, waterfall texts, declaration fields."""
    return case.parent.execute_script(DETAILS, case)


def _go(driver: WebDriver, where: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f".pager button[data-go='{where}']").click()


def _page_info(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".page-info").text


def test_the_page_of_10000_records_is_light_and_loads_without_errors(
    opened, review, record_property, tmp_path
):
    driver = opened
    size = review.result.index.stat().st_size
    timing = driver.execute_script(
        "var n = performance.getEntriesByType('navigation')[0];"
        "return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd, height: document.documentElement.scrollHeight};"
    )
    # the figures go to the test report (no assertion on time: it depends on the machine)
    record_property("review_bytes", size)
    record_property("review_load_ms", round(timing["load"]))
    print(
        f"review of {RECORDS:,} records ({review.result.flagged:,} flagged, {review.result.shown:,} shown): "
        f"{size / 1e6:.2f} MB, DOM ready {timing['dom']:.0f} ms, loaded {timing['load']:.0f} ms, "
        f"{timing['height']:,} px tall"
    )
    assert size < MAX_BYTES
    assert timing["height"] < 20_000  # one page of collapsed cases, not every case in full
    assert _severe(driver) == []
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property raises when no alert is open
    assert driver.execute_script("return document.querySelectorAll('script').length") == 2
    assert driver.execute_script("return document.querySelectorAll('script:not([type])').length") == 1
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plots svg")) == 2
    shot = tmp_path / "review.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_every_red_case_is_on_the_page(opened, review):
    rows = opened.execute_script(ALL_ROWS)
    pred = review.pred
    reds = pred.loc[pred["channel"] == "red", "record_id"]
    assert [r[0] for r in rows if r[1] == "red"] == [r[0] for r in rows[: len(reds)]]  # red first
    assert sorted(r[0] for r in rows if r[1] == "red") == sorted(reds)
    assert len(rows) == review.result.shown == max(len(reds), 1000)
    left_out = opened.find_element(By.ID, "left-out").text
    assert left_out.startswith(
        f"{review.result.flagged - review.result.shown:,} more flagged cases are only in"
    )


def test_cases_are_collapsed_and_opening_one_shows_its_reasons_and_decision(opened, review, shipment_model):
    driver = opened
    assert driver.find_elements(By.CSS_SELECTOR, "#cases tr.detail") == []
    buttons = driver.find_elements(By.CSS_SELECTOR, "#cases tbody:not([hidden]) button.open")
    assert len(buttons) == PAGE_SIZE
    assert {b.get_attribute("aria-expanded") for b in buttons} == {"false"}
    record_id, channel, _ = _visible(driver)[0]
    case = _open(driver, record_id)
    shown = _details(case)
    assert shown["shown"]
    row = review.frame.index[review.frame["declaration_id"].astype(str) == record_id]
    frame, pred = review.frame.loc[row], review.pred.loc[row]
    assert shown["decision"] == f"Why {channel}: {shipment_model.policy.why(frame, pred)[0]}"
    ex = shipment_model.explain(frame)
    assert shown["reasons"] == [f"{r.text} {r.code}" for r in ex.reasons[0]]
    # the waterfall ends at the risk the row shows, in words
    risk_text = case.find_element(By.CSS_SELECTOR, "td.risk").text
    assert shown["waterfall"][-1] == f"{risk_text} (its risk score)"
    assert re.fullmatch(
        r"(raised|lowered) the risk from \S+% to \S+%|changed the risk little \(\S+%\)", shown["waterfall"][1]
    )
    assert shown["fields"]["Goods description"] == str(frame["goods_description"].iloc[0])
    # click again: collapsed
    case.find_element(By.CSS_SELECTOR, "button.open").click()
    assert not case.find_element(By.CSS_SELECTOR, "tr.detail").is_displayed()
    assert case.find_element(By.CSS_SELECTOR, "button.open").get_attribute("aria-expanded") == "false"
    assert _severe(driver) == []


def test_planted_markup_is_shown_as_text(opened, review):
    driver = opened
    for record_id, payload in zip(review.planted, [SCRIPT_PAYLOAD] * 3 + [IMG_PAYLOAD] * 3, strict=True):
        driver.find_element(By.ID, "filter").clear()
        driver.find_element(By.ID, "filter").send_keys(record_id)
        shown = _details(_open(driver, record_id))
        assert shown["fields"]["Goods description"] == payload
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018
    assert driver.execute_script("return document.querySelectorAll('script').length") == 2
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert _severe(driver) == []


def test_filter_hides_other_cases_with_their_details(opened):
    driver = opened
    rows = _visible(driver)
    counter = driver.find_element(By.ID, "visible-count")
    total = len(driver.execute_script(ALL_ROWS))
    assert counter.text == f"{total:,} cases"
    opened_id, wanted = rows[0][0], rows[len(rows) // 2][0]
    first = _open(driver, opened_id)
    assert first.find_element(By.CSS_SELECTOR, "tr.detail").is_displayed()
    driver.find_element(By.ID, "filter").send_keys(wanted)
    assert counter.text == f"1 of {total:,} cases match"
    assert [r[0] for r in _visible(driver)] == [wanted]
    assert not first.find_element(By.CSS_SELECTOR, "tr.detail").is_displayed()  # hidden with its case
    assert _page_info(driver) == "Page 1 of 1 \u00b7 cases 1\u20131"
    # text of the details counts too: a field value that only the declaration shows
    driver.find_element(By.ID, "filter").clear()
    driver.find_element(By.ID, "filter").send_keys("motorcycles")
    found = re.fullmatch(r"([\d,]+) of [\d,]+ cases match", counter.text)
    assert found is not None
    assert 0 < int(found.group(1).replace(",", "")) < total
    matches = _visible(driver)
    for record_id, _, _ in matches:
        assert _details(_open(driver, record_id))["fields"]["Goods description"] == "Motorcycles"
    rows_text = driver.execute_script(
        "return Array.from(arguments[0]).map(function (b) { return b.rows[0].textContent.toLowerCase(); });",
        driver.find_elements(By.CSS_SELECTOR, "#cases tbody.case:not([hidden])"),
    )
    assert any("motorcycles" not in t for t in rows_text)  # found by its declaration, not its row
    driver.find_element(By.ID, "filter").send_keys(" no such text")
    assert _visible(driver) == []
    assert _page_info(driver) == "No case matches"
    assert _severe(driver) == []


def test_channel_filter(opened):
    driver = opened
    every = driver.execute_script(ALL_ROWS)
    reds = [r[0] for r in every if r[1] == "red"]
    assert 0 < len(reds) < len(every)
    Select(driver.find_element(By.ID, "channel-filter")).select_by_visible_text("red")
    shown = _visible(driver)
    assert {r[1] for r in shown} == {"red"}
    assert [r[0] for r in shown] == reds[:PAGE_SIZE]
    assert driver.find_element(By.ID, "visible-count").text == f"{len(reds):,} of {len(every):,} cases match"
    assert _severe(driver) == []


def test_pagination_reaches_the_last_page(opened, review):
    driver = opened
    shown = review.result.shown
    pages = -(-shown // PAGE_SIZE)
    assert _page_info(driver) == f"Page 1 of {pages} \u00b7 cases 1\u2013{PAGE_SIZE}"
    every = driver.execute_script(ALL_ROWS)
    assert [r[0] for r in _visible(driver)] == [r[0] for r in every[:PAGE_SIZE]]
    _go(driver, "next")
    assert [r[0] for r in _visible(driver)] == [r[0] for r in every[PAGE_SIZE : 2 * PAGE_SIZE]]
    _go(driver, "last")
    last = every[(pages - 1) * PAGE_SIZE :]
    assert [r[0] for r in _visible(driver)] == [r[0] for r in last]
    assert (
        _page_info(driver)
        == f"Page {pages} of {pages} \u00b7 cases {(pages - 1) * PAGE_SIZE + 1}\u2013{shown}"
    )
    assert driver.find_element(By.CSS_SELECTOR, ".pager button[data-go='next']").get_attribute("disabled")
    rank = driver.execute_script(
        "var v = Array.from(document.querySelectorAll('#cases tbody.case')).filter(function (b) { return !b.hidden; });"
        "return v[v.length - 1].rows[0].cells[0].textContent;"
    )
    assert int(rank) == shown
    _go(driver, "first")
    assert _page_info(driver).startswith(f"Page 1 of {pages}")
    assert _severe(driver) == []


def test_sorting_by_risk(opened):
    driver = opened
    every = driver.execute_script(ALL_ROWS)
    header = driver.find_element(By.XPATH, "//table[@id='cases']/thead//th[normalize-space(.)='Risk']")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    risks = [risk for _, _, risk in driver.execute_script(ALL_ROWS)]
    assert len(risks) == len(every)
    assert risks == sorted(risks)
    assert [r[2] for r in _visible(driver)] == risks[:PAGE_SIZE]  # back on the first page
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    risks = [risk for _, _, risk in driver.execute_script(ALL_ROWS)]
    assert risks == sorted(risks, reverse=True)
    rank = driver.find_element(By.XPATH, "//table[@id='cases']/thead//th[normalize-space(.)='#']")
    assert rank.get_attribute("aria-sort") is None  # only the sorted column is marked
    assert _severe(driver) == []


def test_no_reason_on_the_page_names_a_column(opened, shipment_model):
    driver = opened
    columns = [c.name for c in shipment_model.spec.columns if "_" in c.name]
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('#cases tbody.case tr.row'))"
        ".map(function (r) { return r.cells[4].textContent + ' ' + r.cells[5].textContent; });"
    )
    # open every case of the first page at once (one round trip), then read what their details say
    driver.execute_script(
        "document.querySelectorAll('#cases tbody.case:not([hidden]) button.open')"
        ".forEach(function (b) { b.click(); });"
    )
    opened_cases = driver.find_elements(By.CSS_SELECTOR, "#cases tbody.case:not([hidden])")
    assert len(opened_cases) == PAGE_SIZE
    for case in opened_cases:
        shown = _details(case)
        assert shown["shown"]
        texts.extend([shown["decision"], *shown["reasons"], *shown["waterfall"]])
    assert len(texts) > 1000
    named = [(t, c) for t in texts for c in columns if re.search(rf"\b{c}\b", t)]
    assert named == []
