"""Drift: PSI of the risk score and of every field against the reference stored at training time.

The batch "drawn like the training data" is the held-out half of the model's own generated world, on the
days of the reference window each PSI compares with: the training window for the fields, the validation
window for the risk score (tests/monitor/conftest.py). Another seed would be another population under the
same ids, whose history the model rightly sees as new.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import riskscore
import riskscore.monitoring as monitoring
from riskscore.monitoring import MonitorReport, bin_labels, monitor, psi, wilson_interval
from riskscore.policy import CHANNELS
from riskscore.validation import validate_frame


@pytest.fixture(scope="module")
def like_training(shipments) -> MonitorReport:
    return monitor(shipments.model, shipments.window("training"), num_threads=1)


@pytest.fixture(scope="module")
def like_validation(shipments) -> MonitorReport:
    return monitor(shipments.model, shipments.window("validation"), num_threads=1)


def _field(report: MonitorReport, name: str) -> dict:
    return next(f for f in report.fields if f["name"] == name)


# ------------------------------------------------------------------------------------------------ PSI


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(0.0, abs=1e-12)
    small, large = psi([0.5, 0.5], [0.55, 0.45]), psi([0.5, 0.5], [0.8, 0.2])
    assert 0 < small < 0.1 < 0.25 < large
    # an empty bin on either side stays finite: the smoothing of 1e-4 per bin
    empty = psi([1.0, 0.0], [0.5, 0.5])
    assert math.isfinite(empty) and empty > 1
    assert psi([10, 30], [1, 3]) == pytest.approx(0.0, abs=1e-12)  # counts are shares once normalised


def test_psi_refuses_share_vectors_over_different_bins():
    with pytest.raises(riskscore.ParameterError, match=r"same bins; got shapes \(2,\) and \(3,\)"):
        psi([0.5, 0.5], [0.2, 0.3, 0.5])


def test_wilson_interval_matches_the_formula():
    low, high = wilson_interval(12, 100)
    z = 1.959963984540054
    centre = (0.12 + z * z / 200) / (1 + z * z / 100)
    half = z * math.sqrt(0.12 * 0.88 / 100 + z * z / 40_000) / (1 + z * z / 100)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 50)[0] == 0.0 and 0 < wilson_interval(0, 50)[1] < 0.1


def test_a_batch_drawn_like_the_training_window_has_field_psi_near_zero(like_training):
    psis = {f["name"]: f["psi"] for f in like_training.fields if f["kind"] != "entity"}
    assert len(psis) >= 20
    worst = max(psis, key=psis.get)
    assert psis[worst] < 0.02, f"{worst}: PSI {psis[worst]:.4f}"
    assert {f["status"] for f in like_training.fields if f["kind"] != "entity"} == {"stable"}


def test_a_batch_drawn_like_the_validation_window_has_risk_psi_near_zero(like_validation):
    assert like_validation.risk["psi"] < 0.02
    assert like_validation.risk["status"] == "stable"
    assert like_validation.channels["psi"] < 0.02


def test_a_drifted_batch_has_psi_above_the_act_band(shipments, like_validation):
    batch = shipments.window("validation")
    drifted = batch.assign(cif_value_usd=batch["cif_value_usd"] * 3)
    report = monitor(shipments.model, drifted, num_threads=1)
    cif = _field(report, "cif_value_usd")
    assert cif["psi"] > 0.25 and cif["status"] == "act"
    # the customs value drives the unit-value features: the risk scores move too
    assert report.risk["psi"] > 0.25 and report.risk["status"] == "act"
    assert report.status == "act"
    # a field nobody touched reads exactly as before
    assert _field(report, "origin_country")["psi"] == _field(like_validation, "origin_country")["psi"]
    table = report.table()
    row = table[(table["section"] == "field") & (table["name"] == "cif_value_usd")].iloc[0]
    assert row["status"] == "act" and row["value"] == cif["psi"]


def test_custom_bands_move_the_statuses(shipments):
    batch = shipments.window("validation")
    drifted = batch.assign(cif_value_usd=batch["cif_value_usd"] * 3)
    report = monitor(shipments.model, drifted, bands=(1.0, 50.0), num_threads=1)
    cif = _field(report, "cif_value_usd")
    assert 0.25 < cif["psi"] < 1.0 and cif["status"] == "stable"
    assert report.bands == (1.0, 50.0)


# ------------------------------------------------------------------------------------- stored bin edges


def test_the_report_uses_the_stored_edges_and_never_the_quantile_code(shipments, monkeypatch):
    def no_quantiles(*args, **kwargs):
        raise AssertionError("bin edges were recomputed from the batch")

    monkeypatch.setattr(monitoring, "_edges", no_quantiles)
    model = shipments.model
    report = monitor(model, shipments.window("validation"), num_threads=1)
    stored = {f["name"]: f for f in model.monitoring["fields"]}
    numeric = [f for f in report.fields if f["kind"] == "numeric"]
    assert len(numeric) >= 10
    for f in numeric:
        assert f["edges"] == stored[f["name"]]["edges"]
        assert f["reference"] == stored[f["name"]]["shares"]
        assert f["labels"] == bin_labels(f["edges"])
    assert report.risk["edges"] == model.monitoring["risk"]["edges"]


def test_values_beyond_the_top_edge_fall_in_the_top_bin(shipments):
    model = shipments.model
    batch = shipments.window("validation")
    stored = next(f for f in model.monitoring["fields"] if f["name"] == "cif_value_usd")
    top = stored["edges"][-1]
    beyond = batch.assign(cif_value_usd=top * 1000.0)
    cif = _field(monitor(model, beyond, num_threads=1), "cif_value_usd")
    assert cif["batch"][-2] == 1.0  # the top value bin; the last share is the missing bin
    assert sum(cif["batch"]) == pytest.approx(1.0)
    below = batch.assign(cif_value_usd=0.0)  # at or below the first edge: the bottom bin
    assert _field(monitor(model, below, num_threads=1), "cif_value_usd")["batch"][0] == 1.0


def test_the_stored_profile_covers_inputs_and_protected_fields_never_truth(shipment_model, passenger_model):
    for model in (shipment_model, passenger_model):
        spec = model.spec
        names = [f["name"] for f in model.monitoring["fields"]]
        assert not set(names) & set(spec.truth_columns)
        assert spec.id_column not in names and spec.time_column not in names
        assert set(spec.protected_columns) <= set(names)
        for f in model.monitoring["fields"]:
            if f["kind"] == "numeric":
                assert f["edges"] == sorted(set(f["edges"])) and len(f["edges"]) <= 9
                assert len(f["shares"]) == len(f["edges"]) + 2
                assert sum(f["shares"]) == pytest.approx(1.0)
    assert {"age", "nationality", "sex"} <= {
        f["name"] for f in passenger_model.monitoring["fields"] if f["protected"]
    }
    cif = next(f for f in shipment_model.monitoring["fields"] if f["name"] == "cif_value_usd")
    assert len(cif["edges"]) == 9  # a continuous field gets its ten deciles
    assert all(0.08 < s < 0.12 for s in cif["shares"][:-1])
    categories = next(f for f in shipment_model.monitoring["fields"] if f["name"] == "origin_country")
    assert len(categories["categories"]) == 20 and len(categories["shares"]) == 22


# ------------------------------------------------------------------------- channels, hit rate, unseen


def test_channel_shares_are_the_batchs_against_the_policy_targets(shipments, like_validation):
    model = shipments.model
    pred = model.predict(shipments.window("validation"))
    shares = like_validation.channels["shares"]
    for channel in CHANNELS:
        assert shares[channel]["batch"] == pytest.approx(float((pred["channel"] == channel).mean()))
    policy = model.policy
    assert shares["red"]["target"] == pytest.approx(policy.red_share + policy.random_red)
    assert shares["yellow"]["target"] == pytest.approx(policy.yellow_share + policy.random_yellow)
    assert shares["red"]["reference"] == model.monitoring["channels"]["reference"]["red"]


def test_the_hit_rate_of_the_batchs_inspections_against_the_training_window(shipments, like_validation):
    batch = shipments.window("validation")
    hit = like_validation.hit_rate
    assert hit["inspected"] == int(batch["inspected"].sum())
    assert hit["hits"] == int((batch["inspected"] & batch["observed_label"].fillna(False)).sum())
    assert hit["rate"] == pytest.approx(hit["hits"] / hit["inspected"])
    stored = shipments.model.monitoring["hit_rate"]
    assert hit["reference"] == pytest.approx(stored["hits"] / stored["inspected"])
    assert hit["interval"][0] < hit["rate"] < hit["interval"][1]
    assert hit["status"] == "stable"


def test_inspections_that_stop_finding_anything_are_flagged(shipments):
    batch = shipments.window("validation").copy()
    inspected = batch["inspected"].to_numpy(dtype=bool)
    batch["observed_channel"] = batch["observed_channel"].astype(object).where(~inspected, "green")
    batch["observed_label"] = batch["observed_label"].astype(object).where(~inspected, False)
    hit = monitor(shipments.model, batch, num_threads=1).hit_rate
    assert hit["hits"] == 0 and hit["status"] == "act"
    assert hit["difference_interval"][1] < 0


def test_without_outcome_columns_the_hit_rate_is_not_available(shipments):
    model = shipments.model
    batch = shipments.window("validation")[model.spec.declared_columns]
    report = monitor(model, batch, num_threads=1)
    assert report.hit_rate["status"] == "n/a"
    assert "no inspection outcomes" in report.hit_rate["detail"]


def test_new_codes_and_new_importers_raise_the_unseen_share(shipments, like_validation):
    model = shipments.model
    batch = shipments.window("validation").copy()
    rows = np.arange(len(batch)) % 3 == 0  # a third of the batch
    hs = batch["hs_code"].astype(object)
    hs[rows] = "999999"  # no such code in training
    importers = batch["importer_id"].astype(object)
    importers[rows] = [f"NEW{i:06d}" for i in range(int(rows.sum()))]
    report = monitor(model, batch.assign(hs_code=hs, importer_id=importers), num_threads=1)
    unseen = {u["name"]: u for u in report.unseen}
    before = {u["name"]: u for u in like_validation.unseen}
    assert unseen["hs_code"]["basis"] == "values"
    assert unseen["hs_code"]["share"] == pytest.approx(rows.mean() + before["hs_code"]["share"], abs=0.01)
    assert unseen["hs_code"]["status"] == "act"
    assert unseen["importer_id"]["basis"] == "history"
    assert unseen["importer_id"]["share"] > before["importer_id"]["share"] + 0.25
    assert unseen["importer_id"]["status"] == "act"
    assert before["hs_code"]["status"] == before["importer_id"]["status"] == "stable"


# ------------------------------------------------------------------------------- table, JSON, HTML


def test_the_table_has_one_row_per_check(like_validation):
    table = like_validation.table()
    assert list(table.columns) == ["section", "name", "value", "status", "detail"]
    fields = [f for f in like_validation.fields if f["kind"] != "entity"]
    assert (table["section"] == "field").sum() == len(fields)
    assert (table["section"] == "unseen").sum() == len(like_validation.unseen)
    assert table.loc[table["section"] == "risk", "value"].item() == like_validation.risk["psi"]
    assert set(table["section"]) == {
        "risk",
        "field",
        "channel",
        "hit_rate",
        "unseen",
    }  # shipments: no protected
    assert "no protected attributes" in " ".join(like_validation.notes)


def _no_constant(name: str) -> None:
    raise AssertionError(f"JSON holds {name}")


def test_the_json_is_strict_and_holds_no_nan(shipments):
    batch = shipments.window("validation")[shipments.model.spec.declared_columns]  # no outcomes
    batch = batch.assign(consignee_id=None)  # no value at all: its unseen share is undefined
    report = monitor(shipments.model, batch, num_threads=1)
    text = report.to_json()
    doc = json.loads(text, parse_constant=_no_constant)
    assert doc == report.to_dict()
    assert doc["hit_rate"]["status"] == "n/a"
    assert doc["status"] == report.status
    consignee = {u["name"]: u for u in doc["unseen"]}["consignee_id"]
    assert consignee["share"] is None and consignee["status"] == "n/a"  # undefined: null, not NaN
    assert "rate" not in doc["hit_rate"]


def test_repr_and_notebook_view_summarise_the_report(like_validation):
    text = repr(like_validation)
    assert text.startswith(f"MonitorReport({like_validation.model_version!r}, ")
    assert f"{like_validation.records:,} records" in text and "risk PSI" in text
    html = like_validation._repr_html_()
    assert html.startswith('<div class="riskscore-repr"') and like_validation.model_version in html


def test_save_html_writes_a_self_contained_page(like_validation, tmp_path):
    path = like_validation.save_html(tmp_path / "monitor.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert page.count("<svg") >= 3  # risk score, channels and the fields with the largest PSI
    assert like_validation.model_version in page
    assert [p.name for p in tmp_path.iterdir()] == ["monitor.html"]  # written atomically, nothing left over
    with pytest.raises(riskscore.OutputError, match=r"\.html"):
        like_validation.save_html(tmp_path / "monitor.txt")


def test_a_validated_frame_and_a_raw_one_give_the_same_report(shipments, like_validation):
    batch = shipments.window("validation")
    again = monitor(shipments.model, validate_frame(batch, "shipment"), num_threads=1)
    assert again.to_dict() == like_validation.to_dict()


def test_a_parquet_path_is_read_with_the_models_spec(shipments, like_validation, tmp_path):
    path = tmp_path / "batch.parquet"
    shipments.window("validation").to_parquet(path)
    assert monitor(shipments.model, path, num_threads=1).to_dict() == like_validation.to_dict()


def test_the_public_name_is_the_function(shipments):
    # riskscore.monitor is the function, whatever was imported before (the module is riskscore.monitoring)
    import riskscore.training  # imports riskscore.monitoring, the module

    assert riskscore.monitor is monitor and callable(riskscore.monitor)
    assert riskscore.MonitorReport is MonitorReport
