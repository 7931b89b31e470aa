"""The review report: a self-contained page and flagged.csv, safe with hostile data, and its command line."""

from __future__ import annotations

import copy
import dataclasses
import html as htmllib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskscore.exceptions import ParameterError
from riskscore.policy import ChannelPolicy, Rule
from riskscore.report import build_review
from riskscore.synthetic.scenario import MECHANISM_NAMES, PASSENGER_MECHANISMS, SHIPMENT_MECHANISMS

from .conftest import IMG_PAYLOAD, SCRIPT_PAYLOAD, flagged_by_risk

MAX_CASES = 50
ROW = re.compile(
    r'<tbody class="case" id="case-(\d+)" data-channel="(\w+)" data-i="(\d+)"( hidden)?><tr class="row">(.*?)</tr>'
    r"</tbody>",
    flags=re.S,
)
CASE_DATA = re.compile(r'<script type="application/json" id="case-data">(.*?)</script>', flags=re.S)


@pytest.fixture(scope="module")
def batch(shipment_test) -> pd.DataFrame:
    """3,000 records of the shipment test window (truth columns included)."""
    return shipment_test.iloc[:3000].reset_index(drop=True)


@pytest.fixture(scope="module")
def review(shipment_model, batch, tmp_path_factory):
    """The review of the 3,000 records, at most 50 cases (but every red one): (result, html)."""
    result = build_review(
        shipment_model, batch, tmp_path_factory.mktemp("review") / "out", max_cases=MAX_CASES
    )
    return result, result.index.read_text(encoding="utf-8")


def _attribute_values(html: str, names: str = r"src|href|xlink:href|action|srcset|poster|data") -> list[str]:
    return re.findall(rf"""\s(?:{names})\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)


def _text(fragment: str) -> str:
    """The text of an HTML fragment, as a browser shows it."""
    return htmllib.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def rows(html: str) -> list[dict[str, object]]:
    """The cases table, row by row: rank, id, channel, risk (value and text), why, top reason, mechanism."""
    out = []
    for m in ROW.finditer(html):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", m.group(5), flags=re.S)
        risk = re.search(r'data-value="([^"]+)"', m.group(5).split("</td>")[3])
        assert risk is not None
        out.append(
            {
                "rank": int(m.group(1)),
                "channel": m.group(2),
                "data": int(m.group(3)),
                "hidden": bool(m.group(4)),
                "id": _text(cells[1]),
                "chip": _text(cells[2]),
                "risk": float(risk.group(1)),
                "risk_text": _text(cells[3]),
                "why": _text(cells[4]),
                "top_reason": _text(cells[5]),
                "mechanism": _text(cells[6]) if len(cells) > 6 else None,
            }
        )
    return out


def case_data(html: str) -> dict:
    """The JSON block the page draws case details from."""
    m = CASE_DATA.search(html)
    assert m is not None
    return json.loads(m.group(1))


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
    reds = int((pred["channel"] == "red").sum())
    assert reds > MAX_CASES  # so every red case is shown beyond max_cases, and no yellow one
    assert result.shown == reds
    # nothing is fetched: every src/href is a same-page anchor or inline data
    values = _attribute_values(html)
    assert values  # the rasterised dots of the drivers plot
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
    # one row per case shown, the first page visible, details as data for each case
    table = rows(html)
    assert len(table) == result.shown
    assert [r["rank"] for r in table] == list(range(1, result.shown + 1))
    assert [r["data"] for r in table] == list(range(result.shown))
    assert [r["hidden"] for r in table] == [k >= 50 for k in range(result.shown)]
    assert len(case_data(html)["cases"]) == result.shown
    note = re.search(
        r'<p class="note" id="left-out">\s*([\d,]+) more flagged cases are only in flagged.csv', html
    )
    assert note is not None
    assert int(note.group(1).replace(",", "")) == result.flagged - result.shown
    assert 'id="empty"' not in html
    # synthetic truth is shown to the analyst
    assert '<th data-type="text">Planted mechanism</th>' in html


def test_every_red_case_is_on_the_page_then_the_riskiest_yellow(shipment_model, batch, tmp_path):
    frame = batch.iloc[:1500].reset_index(drop=True)
    pred = shipment_model.predict(frame)
    risk = dict(zip(pred["record_id"], pred["risk_score"], strict=True))
    reds = set(pred.loc[pred["channel"] == "red", "record_id"])
    yellows = pred[pred["channel"] == "yellow"].sort_values("risk_score", ascending=False, kind="stable")
    assert len(reds) > 20
    # max_cases below the red count: every red, no yellow
    result = build_review(shipment_model, frame, tmp_path / "few", max_cases=10)
    table = rows(result.index.read_text(encoding="utf-8"))
    assert {r["id"] for r in table} == reds
    assert result.shown == len(table) == len(reds)
    assert all(r["channel"] == r["chip"] == "red" for r in table)
    # max_cases above it: then yellow cases by decreasing risk up to the limit
    result = build_review(shipment_model, frame, tmp_path / "more", max_cases=len(reds) + 25)
    table = rows(result.index.read_text(encoding="utf-8"))
    assert result.shown == len(table) == len(reds) + 25
    assert [r["channel"] for r in table] == ["red"] * len(reds) + ["yellow"] * 25
    assert {r["id"] for r in table[: len(reds)]} == reds
    assert [r["id"] for r in table[len(reds) :]] == yellows["record_id"].iloc[:25].tolist()
    for part in (table[: len(reds)], table[len(reds) :]):  # each channel by decreasing risk
        assert [r["risk"] for r in part] == sorted((r["risk"] for r in part), reverse=True)
    assert all(r["risk"] == pytest.approx(risk[r["id"]], rel=1e-5) for r in table)
    # the note counts the flagged cases only in flagged.csv; flagged.csv has them all
    html = result.index.read_text(encoding="utf-8")
    note = re.search(r'id="left-out">\s*([\d,]+) more flagged cases', html)
    assert note is not None
    assert int(note.group(1).replace(",", "")) == len(yellows) - 25 == result.flagged - result.shown
    assert len(pd.read_csv(result.flagged_csv)) == result.flagged


def test_each_case_says_what_decided_its_channel(shipment_model, batch, review):
    _, html = review
    pred = shipment_model.predict(batch)
    why = dict(zip(pred["record_id"], shipment_model.policy.why(batch, pred), strict=True))
    table = rows(html)
    assert [r["why"] for r in table] == [why[r["id"]] for r in table]
    by_model = [r for r in table if r["why"].startswith("Model:")]
    assert by_model
    assert all("red threshold" in r["why"] for r in by_model)
    assert any(r["why"].startswith("Random selection:") for r in table)  # a red with a low risk says why
    # probabilities with the digits that matter: never 0.000, and the text is the value
    for r in table:
        assert re.fullmatch(r"\d+(\.\d+)?%", r["risk_text"]), r["risk_text"]
        assert float(r["risk_text"].rstrip("%")) / 100 == pytest.approx(r["risk"], rel=0.05, abs=5e-3)
    assert not any("0.000" in f"{r['risk_text']} {r['why']} {r['top_reason']}" for r in table)


def test_case_details_hold_reasons_fields_and_a_waterfall_in_probabilities(shipment_model, batch, review):
    _, html = review
    data = case_data(html)
    table = rows(html)
    spec = shipment_model.spec
    assert data["fields"] == [
        c.display for c in spec.columns if c.declared and c.name != spec.id_column
    ]  # labels people read, the id being in the row
    ids = [r["id"] for r in table]
    frame = batch.set_index(batch["declaration_id"].astype(str)).loc[ids]
    ex = shipment_model.explain(frame)
    for r, case, reasons in zip(table, data["cases"], ex.reasons, strict=True):
        p_red, shown_reasons, values, (base, steps) = case
        assert shown_reasons == [[x.text, x.code] for x in reasons]  # explain()'s sentences, as they are
        assert r["top_reason"] == (reasons[0].text if reasons else "\u2013")
        assert len(values) == len(data["fields"])
        assert 0 <= p_red <= 1
        # the waterfall walks from a typical record's risk to this record's, each step the way it pushes
        assert steps[-1][2] == pytest.approx(r["risk"], rel=1e-3)
        before = base
        for field, log_odds, after in steps:
            assert field < len(data["contributors"])
            assert (after - before) * log_odds >= -1e-4
            before = after
    assert any(step[0] < 0 for case in data["cases"] for step in case[3][1])  # "N other fields together"


def test_mechanism_names_beside_their_codes(shipment_model, batch, review):
    assert set(MECHANISM_NAMES) == set(SHIPMENT_MECHANISMS) | set(PASSENGER_MECHANISMS)
    assert MECHANISM_NAMES["S1"] == "undervaluation"
    assert MECHANISM_NAMES["P4"] == "drugs"
    _, html = review
    truth = batch.set_index(batch["declaration_id"].astype(str))
    seen = set()
    for r in rows(html):
        if truth.loc[r["id"], "truth_violation"]:
            code = str(truth.loc[r["id"], "truth_mechanism"])
            assert r["mechanism"] == f"{code} {MECHANISM_NAMES[code]}"
            seen.add(code)
        else:
            assert r["mechanism"] == "none (compliant)"
    assert len(seen) >= 3


def test_page_without_truth_has_no_mechanism_column(shipment_model, batch, tmp_path):
    declared = batch[shipment_model.spec.declared_columns].iloc[:600]
    result = build_review(shipment_model, declared, tmp_path / "out", max_cases=5)
    html = result.index.read_text(encoding="utf-8")
    assert '<th data-type="text">Planted mechanism</th>' not in html
    assert 'class="mechanism"' not in html
    table = rows(html)
    assert table
    assert all(r["mechanism"] is None for r in table)


def test_channel_counts_against_capacity(shipment_model, batch, review, tmp_path):
    _, html = review
    policy = shipment_model.policy
    pred = shipment_model.predict(batch)

    def capacity_rows(page: str) -> dict[str, tuple[str, list[str]]]:
        table = page[page.index('<table id="capacity">') :]
        table = table[: table.index("</table>")]
        found = re.findall(r'<tr data-channel="(\w+)"( class="over")?>(.*?)</tr>', table, flags=re.S)
        return {
            ch: (over, [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)])
            for ch, over, body in found
        }

    cap = capacity_rows(html)
    assert list(cap) == ["red", "yellow", "green"]
    n = len(batch)
    for ch, share in (
        ("red", policy.red_share + policy.random_red),
        ("yellow", policy.yellow_share + policy.random_yellow),
    ):
        over, cells = cap[ch]
        count = int((pred["channel"] == ch).sum())
        capacity = round(share * n)
        assert cells[1] == f"{count:,}"
        assert cells[3].startswith(f"{capacity:,} (")
        assert (over == ' class="over"') == (count > capacity)
        if count > capacity:
            assert cells[4] == f"{count - capacity:,} over capacity"
    # a mandatory rule that sends many records to red overruns the red capacity, and the page says so
    model = copy.copy(shipment_model)
    model.policy = dataclasses.replace(
        policy,
        rules=[*policy.rules, Rule("importer_compliance_level", ">=", 4, "red", "level 4 and 5 go red")],
    )
    frame = batch.iloc[:1000]
    reds = int((model.predict(frame)["channel"] == "red").sum())
    capacity = round((policy.red_share + policy.random_red) * len(frame))
    assert reds > capacity
    page = build_review(model, frame, tmp_path / "out", max_cases=0).index.read_text(encoding="utf-8")
    over, cells = capacity_rows(page)["red"]
    assert over == ' class="over"'
    assert cells[4] == f"{reds - capacity:,} over capacity"
    assert "Rule: level 4 and 5 go red sends the record to red" in page


def test_unseen_ids_are_shown_and_warned_about(shipment_model, batch, review, tmp_path):
    _, html = review
    unseen = shipment_model.predict(batch).attrs["unseen_history"]
    table = html[html.index('<table id="unseen">') :]
    table = table[: table.index("</table>")]
    assert f'<td>Importer</td><td class="num">{unseen["importer"]:.1%}</td>' in table
    assert "Importer \u00d7 HS" in table
    assert max(unseen.values()) < 0.3
    assert 'id="unseen-warning"' not in html
    assert 'class="warn"' not in table
    # importer ids exported in another form: most of the batch looks new, and the page warns
    frame = batch.iloc[:800].copy()
    frame["importer_id"] = "VN-" + frame["importer_id"].astype(str)
    result = build_review(shipment_model, frame, tmp_path / "out", max_cases=0)
    page = result.index.read_text(encoding="utf-8")
    assert 'id="unseen-warning"' in page
    table = page[page.index('<table id="unseen">') :]
    table = table[: table.index("</table>")]
    assert re.search(
        r'<tr class="warn"><td>Importer</td><td class="num">100.0%</td>\s*<td class="verdict">high: ids may arrive '
        "in another form than in training</td>",
        table,
    )


def test_progress_bar_and_its_argument(shipment_model, batch, tmp_path, capsys):
    build_review(shipment_model, batch.iloc[:300], tmp_path / "on", max_cases=0, progress=True)
    assert "review" in capsys.readouterr().err
    build_review(shipment_model, batch.iloc[:300], tmp_path / "off", max_cases=0, progress=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(ParameterError, match="progress must be True, False or None"):
        build_review(shipment_model, batch.iloc[:300], tmp_path / "bad", progress="yes")  # type: ignore[arg-type]
    with pytest.raises(
        ParameterError, match=r"max_cases must be a whole number >= 0 \(red cases are always shown"
    ):
        build_review(shipment_model, batch.iloc[:300], tmp_path / "bad", max_cases=-1)
    assert not (tmp_path / "bad").exists()


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
    hostile, planted_at = with_payloads(shipment_model, batch.iloc[:1500], 3)
    result = build_review(shipment_model, hostile, tmp_path / "out", max_cases=MAX_CASES)
    html = result.index.read_text(encoding="utf-8")
    planted = hostile["declaration_id"].iloc[planted_at].astype(str).tolist()
    table = rows(html)
    assert set(planted) <= {r["id"] for r in table}  # the planted records are among the cases shown
    # two script elements, the page's code and the JSON block of case details; no markup from the data
    assert len(re.findall(r"<script\b", html, flags=re.IGNORECASE)) == 2
    assert html.lower().count("</script") == 2
    assert SCRIPT_PAYLOAD not in html
    assert not re.search(r"<img\b", html, flags=re.IGNORECASE)
    assert IMG_PAYLOAD not in html
    assert "onerror=alert(2)>" not in html
    # in the JSON block < > & are escapes, so no text can close the block; JSON.parse gives it back as it was
    block = CASE_DATA.search(html)
    assert block is not None
    assert not set("<>&") & set(block.group(1))
    assert block.group(1).count("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e") == 3
    data = case_data(html)
    goods = data["fields"].index("Goods description")
    details = {r["id"]: data["cases"][r["data"]] for r in table}
    assert [details[i][2][goods] for i in planted] == [SCRIPT_PAYLOAD] * 3 + [IMG_PAYLOAD] * 3
    # flagged.csv keeps the records (the CSV carries ids and reasons, not the description)
    flagged = pd.read_csv(result.flagged_csv, dtype={"record_id": str})
    assert set(planted) <= set(flagged["record_id"])


def test_hostile_record_id_is_escaped(shipment_model, batch, tmp_path):
    frame = batch.iloc[:800].copy()
    riskiest = flagged_by_risk(shipment_model, frame)[0]
    ids = frame["declaration_id"].astype(object)
    ids.iloc[riskiest] = "<script>alert(3)</script>"
    frame["declaration_id"] = ids
    result = build_review(shipment_model, frame, tmp_path / "out", max_cases=10)
    html = result.index.read_text(encoding="utf-8")
    assert len(re.findall(r"<script\b", html, flags=re.IGNORECASE)) == 2
    assert "<script>alert(3)" not in html
    # shown in the cases table, escaped (the case details take it from there, as text)
    assert html.count("&lt;script&gt;alert(3)&lt;/script&gt;") == 1
    assert "<script>alert(3)</script>" in [r["id"] for r in rows(html)]
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
    pred = shipment_model.predict(pd.read_parquet(batch_file))
    shown = max(int((pred["channel"] == "red").sum()), 20)  # every red case, whatever --max-cases says
    assert n > shown
    assert f"review of 1,200 records: {n:,} flagged, {shown:,} shown ({n - shown:,} more in flagged.csv)" in (
        done.stdout
    )
    assert str(out / "index.html") in done.stdout
    html = (out / "index.html").read_text(encoding="utf-8")
    assert shipment_model.version in html
    assert len(rows(html)) == shown
    assert f"{n - shown:,} more flagged cases" in html
    # the saved model and the data file flag what the in-memory model flags
    assert set(flagged["record_id"]) == set(pred.loc[pred["channel"].isin(["yellow", "red"]), "record_id"])
