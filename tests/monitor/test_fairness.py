"""Fairness per protected group: selection and hit rate with intervals, and the outcome test.

The v2 passenger world can plant a biased legacy rule: ``passengers.legacy.biased_value`` names a nationality
whose trips get ``biased_points`` extra rule points without violating more (docs/domain.md 3.5, 4.2). CN
violates less than average, so the rule sends its travellers to inspections that find less. The test must
flag CN on the recorded (legacy) selection in that world, and flag nothing when the rule adds no points.
80,000 trips per batch: enough for the planted effect on every seed tried (20-29), while the world's own,
weaker disparities (its risky-route rule over-selects some residents of TH, FR and PH) stay below the
Bonferroni-corrected level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore.monitoring import MonitorReport, monitor
from riskscore.synthetic import generate_passengers

BATCH = 80_000
BIASED = "CN"


def _batch(seed: int, points: float | None) -> pd.DataFrame:
    legacy: dict[str, object] = {"biased_value": BIASED}
    if points is not None:
        legacy["biased_points"] = points
    return generate_passengers(BATCH, seed=seed, scenario={"passengers": {"legacy": legacy}})


def _row(report: MonitorReport, selection: str, attribute: str, group: str) -> dict:
    return next(
        g
        for g in report.fairness
        if (g["selection"], g["attribute"], g["group"]) == (selection, attribute, group)
    )


@pytest.fixture(scope="module", params=[21, 24], ids=lambda s: f"seed{s}")
def biased(request, passenger_model) -> tuple[pd.DataFrame, MonitorReport]:
    frame = _batch(request.param, None)  # the scenario's default biased_points (1.5)
    return frame, monitor(passenger_model, frame, num_threads=1)


@pytest.mark.parametrize("seed", [21, 24])
def test_an_unbiased_world_flags_no_group(passenger_model, seed):
    report = monitor(passenger_model, _batch(seed, 0.0), num_threads=1)
    assert report.flagged() == []
    recorded = [g for g in report.fairness if g["selection"] == "recorded"]
    assert {g["attribute"] for g in recorded} == {
        "nationality", "residence_country", "sex", "age", "doc_issuing_country",
    }  # fmt: skip
    cn = _row(report, "recorded", "nationality", BIASED)
    assert cn["status"] == "stable" and not cn["flagged"]
    assert not (report.table()["status"].eq("act") & report.table()["section"].eq("fairness")).any()


def test_the_planted_biased_rule_is_flagged_on_the_recorded_selection(biased):
    _, report = biased
    flagged = report.flagged()
    assert ("recorded", "nationality", BIASED) in {
        (g["selection"], g["attribute"], g["group"]) for g in flagged
    }
    # nothing but the planted group (its residence and document country follow the nationality)
    assert {g["group"] for g in flagged} == {BIASED}
    assert {g["selection"] for g in flagged} == {"recorded"}
    cn = _row(report, "recorded", "nationality", BIASED)
    assert cn["status"] == "act"
    assert cn["selection_ratio"] >= 1.5 and cn["hit_ratio"] < 1
    assert cn["hit_difference_upper"] < 0  # the corrected interval of its hit rate minus the rest's
    assert "over-targeted" in cn["detail"]


def test_the_group_figures_are_the_batchs_own(biased):
    frame, report = biased
    cn = _row(report, "recorded", "nationality", BIASED)
    group = (frame["nationality"].astype(str) == BIASED).to_numpy()
    inspected = frame["inspected"].to_numpy(dtype=bool)
    found = inspected & (frame["observed_channel"].astype(str) != "green").to_numpy()
    assert cn["records"] == group.sum()
    assert cn["selected"] == inspected[group].sum()
    assert cn["selection_rate"] == pytest.approx(inspected[group].mean())
    assert cn["rest_selection_rate"] == pytest.approx(inspected[~group].mean())
    assert cn["hits"] == found[group].sum()
    assert cn["hit_rate"] == pytest.approx(found[group].sum() / inspected[group].sum())
    assert cn["rest_hit_rate"] == pytest.approx(found[~group].sum() / inspected[~group].sum())
    low, high = cn["selection_interval"]
    assert low < cn["selection_rate"] < high


def test_the_models_own_selection_is_its_yellow_and_red(biased, passenger_model):
    frame, report = biased
    model_cn = _row(report, "model", "nationality", BIASED)
    group = (frame["nationality"].astype(str) == BIASED).to_numpy()
    selected = passenger_model.predict(frame, num_threads=1)["channel"].isin(["yellow", "red"]).to_numpy()
    inspected = frame["inspected"].to_numpy(dtype=bool)
    assert model_cn["records"] == group.sum()
    assert model_cn["selected"] == selected[group].sum()
    assert model_cn["outcomes"] == (selected & inspected)[group].sum()  # its selections the batch inspected


def test_age_is_compared_in_bands(biased):
    frame, report = biased
    ages = [g for g in report.fairness if g["selection"] == "recorded" and g["attribute"] == "age"]
    assert [g["group"] for g in ages] == ["<25", "25-39", "40-59", "60+"]
    age = frame["age"].to_numpy()
    assert ages[1]["records"] == int(((age >= 25) & (age < 40)).sum())
    assert sum(g["records"] for g in ages) == len(frame)


def test_small_groups_are_not_tested(biased, passenger_model):
    frame, report = biased
    counts = frame["nationality"].astype(str).value_counts()
    shown = {g["group"] for g in report.fairness if g["attribute"] == "nationality"}
    assert shown == set(counts[counts >= 200].index)
    strict = monitor(passenger_model, frame.head(20_000), min_group=5_000, num_threads=1)
    nationality = {g["group"] for g in strict.fairness if g["attribute"] == "nationality"}
    big = frame.head(20_000)["nationality"].astype(str).value_counts()
    assert nationality == set(big[big >= 5000].index) and len(nationality) < len(shown)
    assert any("fewer than 5000 records were not tested" in note for note in strict.notes)


def test_any_declared_column_can_be_audited(biased, passenger_model):
    frame, _ = biased
    report = monitor(passenger_model, frame.head(30_000), groups=["route_country"], num_threads=1)
    assert {g["attribute"] for g in report.fairness} == {"route_country"}
    with pytest.raises(
        riskscore.ParameterError, match=r"groups names \['truth_violation'\].*declared columns"
    ):
        monitor(passenger_model, frame.head(1000), groups=["truth_violation"], num_threads=1)


def test_without_outcomes_only_the_models_selection_rates_are_shown(biased, passenger_model):
    frame, _ = biased
    declared = frame.head(30_000)[passenger_model.spec.declared_columns]
    report = monitor(passenger_model, declared, num_threads=1)
    assert {g["selection"] for g in report.fairness} == {"model"}
    assert all(g["hit_rate"] is None and not g["flagged"] for g in report.fairness)
    assert any("without the outcome test" in note for note in report.notes)
    pred = passenger_model.predict(declared)
    selected = pred["channel"].isin(["yellow", "red"]).to_numpy()
    vn = next(g for g in report.fairness if g["attribute"] == "nationality" and g["group"] == "VN")
    group = (declared["nationality"].astype(str) == "VN").to_numpy()
    assert vn["selection_rate"] == pytest.approx(selected[group].mean())
    assert np.isclose(vn["rest_selection_rate"], selected[~group].mean())
