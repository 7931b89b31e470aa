"""The review report: a self-contained page and flagged.csv, safe with hostile data, and its command line."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskscore.policy import ChannelPolicy
from riskscore.report import build_review

from .conftest import IMG_PAYLOAD, SCRIPT_PAYLOAD, flagged_by_risk

MAX_CASES = 50


@pytest.fixture(scope="module")
def batch(shipment_test) -> pd.DataFrame:
    """3,000 records of the shipment test window (truth columns included)."""
    return shipment_test.iloc[:3000].reset_index(drop=True)


@pytest.fixture(scope="module")
def review(shipment_model, batch, tmp_path_factory):
    """The review of the 3,000 records, at most 50 cases in full: (result, html)."""
    result = build_review(
        shipment_model, batch, tmp_path_factory.mktemp("review") / "out", max_cases=MAX_CASES
    )
    return result, result.index.read_text(encoding="utf-8")


def _attribute_values(html: str, names: str = r"src|href|xlink:href|action|srcset|poster|data") -> list[str]:
    return re.findall(rf"""\s(?:{names})\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)


def _script() -> str:
    beside = Path(sys.executable).parent / "riskscore"
    if beside.is_file():
        return str(beside)
    found = shutil.which("riskscore")
    if found is None:
        pytest.fail("the riskscore console script is not installed (pip install -e .)")
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )


def review_cli(
    model: object, data: object, out: object, *extra: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``riskscore review --model M --data D --out O [extra]``, run in a subprocess."""
    return run("review", "--model", str(model), "--data", str(data), "--out", str(out), *extra, cwd=cwd)


# ------------------------------------------------------------------------------------------ the page


def test_review_writes_a_self_contained_page(shipment_model, batch, review):
    result, html = review
    assert result.index.name == "index.html"
    assert result.flagged_csv.name == "flagged.csv"
    assert sorted(os.listdir(result.index.parent)) == ["flagged.csv", "index.html"]
    assert result.records == len(batch)
    pred = shipment_model.predict(batch)
    assert result.flagged == int(pred["channel"].isin(["yellow", "red"]).sum())
    assert result.flagged > MAX_CASES
    assert result.shown == MAX_CASES
    # nothing is fetched: every src/href is a same-page anchor or inline data
    values = _attribute_values(html)
    assert any(v.startswith("#case-") for v in values)
    for value in values:
        assert value.startswith(("#", "data:")), value
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", html, flags=re.IGNORECASE)
    assert "@import" not in html
    assert shipment_model.version in html
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert csp is not None
    assert "default-src 'none'" in csp.group(1)
    assert html.index("Content-Security-Policy") < html.index("<script")
    # the cases in full, and a note saying how many more are in flagged.csv
    assert html.count('<div class="case" id="case-') == MAX_CASES
    tbody = html[html.index('<table id="cases">') :]
    tbody = tbody[tbody.index("<tbody>") : tbody.index("</tbody>")]
    assert tbody.count("<tr data-channel=") == MAX_CASES
    note = re.search(r'<p class="note" id="left-out">\s*([\d,]+) more flagged cases', html)
    assert note is not None
    assert int(note.group(1).replace(",", "")) == result.flagged - MAX_CASES
    assert 'id="empty"' not in html
    # synthetic truth is shown to the analyst
    assert "Planted mechanism" in html


def test_flagged_csv_lists_every_flagged_record_with_reasons(shipment_model, batch, review):
    result, _ = review
    flagged = pd.read_csv(result.flagged_csv, dtype={"record_id": str})
    pred = shipment_model.predict(batch)
    expected = pred[pred["channel"].isin(["yellow", "red"])]
    assert len(flagged) == result.flagged == len(expected)
    assert flagged["record_id"].is_unique
    assert set(flagged["record_id"]) == set(expected["record_id"])
    assert list(flagged.columns[:8]) == list(pred.columns)
    assert {"reason_codes", "reasons"} <= set(flagged.columns)
    assert flagged["risk_score"].is_monotonic_decreasing
    assert set(flagged["channel"]) <= {"yellow", "red"}
    assert flagged["reason_codes"].notna().mean() > 0.9
    # the same reasons explain() gives
    top = flagged.iloc[:20]
    ex = shipment_model.explain(batch.set_index(batch["declaration_id"].astype(str)).loc[top["record_id"]])
    assert top["reason_codes"].fillna("").tolist() == [";".join(r.code for r in rs) for rs in ex.reasons]


def test_hostile_text_is_escaped(shipment_model, batch, with_payloads, tmp_path):
    hostile, rows = with_payloads(shipment_model, batch.iloc[:1500], 3)
    result = build_review(shipment_model, hostile, tmp_path / "out", max_cases=MAX_CASES)
    assert result.shown == MAX_CASES  # the planted records are among the cases shown in full
    html = result.index.read_text(encoding="utf-8")
    # the template's own script tag is the only one; no markup from the data reaches the page
    assert html.lower().count("<script") == 1
    assert SCRIPT_PAYLOAD not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert not re.search(r"<img\b", html, flags=re.IGNORECASE)
    assert IMG_PAYLOAD not in html
    assert html.count("&lt;img src=x onerror=alert(2)&gt;") >= 3
    assert "onerror=alert(2)>" not in html
    # flagged.csv keeps the records (the CSV carries ids and reasons, not the description)
    flagged = pd.read_csv(result.flagged_csv, dtype={"record_id": str})
    planted = set(hostile["declaration_id"].iloc[rows].astype(str))
    assert planted <= set(flagged["record_id"])


def test_hostile_record_id_is_escaped(shipment_model, batch, tmp_path):
    frame = batch.iloc[:800].copy()
    riskiest = flagged_by_risk(shipment_model, frame)[0]
    ids = frame["declaration_id"].astype(object)
    ids.iloc[riskiest] = "<script>alert(3)</script>"
    frame["declaration_id"] = ids
    result = build_review(shipment_model, frame, tmp_path / "out", max_cases=10)
    html = result.index.read_text(encoding="utf-8")
    assert html.lower().count("<script") == 1
    # shown in the cases table and the case heading, escaped
    assert html.count("&lt;script&gt;alert(3)&lt;/script&gt;") >= 2
    flagged = pd.read_csv(result.flagged_csv, dtype={"record_id": str})
    assert flagged["record_id"].iloc[0] == "<script>alert(3)</script>"


def test_empty_batch_says_so(shipment_model, batch, tmp_path):
    result = build_review(shipment_model, batch.iloc[0:0], tmp_path / "out")
    assert (result.records, result.flagged, result.shown) == (0, 0, 0)
    html = result.index.read_text(encoding="utf-8")
    assert re.search(r'<p class="note" id="empty">[^<]*the batch is empty', html)
    assert 'id="cases"' not in html
    assert 'id="left-out"' not in html
    assert len(pd.read_csv(result.flagged_csv)) == 0


def test_batch_without_flagged_case_says_so(shipment_model, batch, tmp_path):
    model = copy.copy(shipment_model)
    model.policy = ChannelPolicy(red_share=0, yellow_share=0, random_red=0, random_yellow=0)
    result = build_review(model, batch.iloc[:600], tmp_path / "out")
    assert shipment_model.policy is not model.policy
    assert shipment_model.policy.red_share > 0  # the shared model is untouched
    assert (result.records, result.flagged, result.shown) == (600, 0, 0)
    html = result.index.read_text(encoding="utf-8")
    assert re.search(r'<p class="note" id="empty">No flagged case', html)
    assert "the batch is empty" not in html
    assert 'id="cases"' not in html
    assert len(pd.read_csv(result.flagged_csv)) == 0


# ----------------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def batch_file(batch, tmp_path_factory) -> Path:
    """1,200 records of the batch as a parquet file."""
    path = tmp_path_factory.mktemp("data") / "batch.parquet"
    batch.iloc[:1200].to_parquet(path)
    return path


def test_cli_missing_model_is_a_usage_error(batch_file, tmp_path):
    done = review_cli(str(tmp_path / "nope.rsk"), str(batch_file), str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "riskscore: error:" in done.stderr
    assert "nope.rsk" in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_cli_missing_data_is_a_usage_error(shipment_model_file, tmp_path):
    done = review_cli(
        str(shipment_model_file), str(tmp_path / "nope.parquet"), str(tmp_path / "out"), cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "riskscore: error:" in done.stderr
    assert "nope.parquet" in done.stderr
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_cli_writes_the_report_for_a_parquet_file(shipment_model, shipment_model_file, batch_file, tmp_path):
    out = tmp_path / "report"
    done = review_cli(str(shipment_model_file), str(batch_file), str(out), "--max-cases", "20", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["flagged.csv", "index.html"]
    flagged = pd.read_csv(out / "flagged.csv", dtype={"record_id": str})
    n = len(flagged)
    assert n > 20
    assert f"review of 1,200 records: {n:,} flagged, 20 shown ({n - 20:,} more in flagged.csv)" in done.stdout
    assert str(out / "index.html") in done.stdout
    html = (out / "index.html").read_text(encoding="utf-8")
    assert shipment_model.version in html
    assert html.count('<div class="case" id="case-') == 20
    assert f"{n - 20} more flagged cases" in html
    # the saved model and the data file flag what the in-memory model flags
    pred = shipment_model.predict(pd.read_parquet(batch_file))
    assert set(flagged["record_id"]) == set(pred.loc[pred["channel"].isin(["yellow", "red"]), "record_id"])
