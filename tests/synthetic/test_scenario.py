"""Scenarios: loading, overrides, validation messages, and the calibration the default scenario promises."""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pandas as pd
import pytest

from riskscore.exceptions import ScenarioError
from riskscore.synthetic import (
    available_scenarios,
    generate_passengers,
    generate_shipments,
    load_scenario,
)
from riskscore.synthetic.scenario import data_dir
from riskscore.synthetic.shipments import PARCELS_SPLIT

DEFAULT_TOML = data_dir() / "scenarios" / "default.toml"


def default_params() -> dict:
    with open(DEFAULT_TOML, "rb") as fh:
        return tomllib.load(fh)


def binomial_se(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n))


# ------------------------------------------------------------------------------------------- loading


def test_default_is_available_and_loads():
    assert "default" in available_scenarios()
    sc = load_scenario("default")
    assert sc.name == "default"
    assert sc.params["shipments"]["prevalence"] == default_params()["shipments"]["prevalence"]
    assert str(sc.start) == "2025-01-01"
    assert sc.days == 365


def test_unknown_scenario_lists_the_available_ones():
    names = ", ".join(available_scenarios())
    with pytest.raises(ScenarioError, match=re.escape(f"unknown scenario 'nope'; available: {names}.")):
        load_scenario("nope")


def test_misspelt_scenario_gets_a_suggestion():
    with pytest.raises(ScenarioError, match=re.escape("Did you mean 'default'?")):
        load_scenario("defualt")


def test_scenario_error_is_a_value_error():
    with pytest.raises(ValueError, match="unknown scenario"):
        generate_shipments(100, scenario="nope")


def test_missing_and_broken_scenario_files(tmp_path):
    with pytest.raises(ScenarioError, match=r"scenario file '.*absent\.toml' does not exist"):
        load_scenario(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\nname = 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"scenario file '.*broken\.toml' is not valid TOML"):
        load_scenario(broken)
    with pytest.raises(ScenarioError, match=r"scenario '.*' is a folder; pass a scenario TOML file"):
        load_scenario(tmp_path)
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text("[scenario]\nname = 'x'\n", encoding="utf-16")
    with pytest.raises(ScenarioError, match=r"is not UTF-8 text"):
        load_scenario(utf16)


def test_mapping_overrides_one_knob_and_keeps_the_rest():
    sc = load_scenario({"shipments": {"prevalence": 0.06}})
    assert sc.params["shipments"]["prevalence"] == 0.06
    assert sc.params["shipments"]["price_sigma"] == default_params()["shipments"]["price_sigma"]
    assert sc.params["shipments"]["mechanisms"]["S1"]["share"] == 0.32
    # overriding never leaks into the default
    assert load_scenario("default").params["shipments"]["prevalence"] == 0.04


def test_scenario_file_path_changes_the_data(tmp_path):
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    assert "\nprevalence = 0.04\n" in text
    custom = tmp_path / "high.toml"
    custom.write_text(
        text.replace("\nprevalence = 0.04\n", "\nprevalence = 0.12\n").replace(
            'name = "default"', 'name = "high"'
        ),
        encoding="utf-8",
    )
    sc = load_scenario(custom)
    assert sc.name == "high"
    frame = generate_shipments(20_000, seed=4, scenario=custom)
    rate = frame["truth_violation"].mean()
    assert rate == pytest.approx(0.12 * 1.05, abs=0.02)  # x1.05: the default's after-September drift
    base = generate_shipments(20_000, seed=4)["truth_violation"].mean()
    assert rate > 2 * base


def test_mapping_override_changes_the_data():
    high = generate_shipments(20_000, seed=4, scenario={"shipments": {"prevalence": 0.12}})
    assert high["truth_violation"].mean() == pytest.approx(0.12 * 1.05, abs=0.02)
    busy = generate_passengers(20_000, seed=4, scenario={"passengers": {"minor_prevalence": 0.06}})
    assert (busy["truth_severity"] == "minor").mean() == pytest.approx(0.06, abs=0.012)


# ------------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"shipments": {"prevalence": 1.5}},
            "scenario field 'shipments.prevalence' is a share and must be between 0 and 1; got 1.5",
        ),
        (
            {"shipments": {"price_sigma": -1}},
            "scenario field 'shipments.price_sigma' is a rate and must be >= 1e-06; got -1",
        ),
        (
            {"shipments": {"prevalence": "high"}},
            "scenario field 'shipments.prevalence' must be a number; got 'high'",
        ),
        (
            {"shipments": {"importer_types": {"compliant": 0.5}}},
            "scenario field 'shipments.importer_types' must sum to 1; its values sum to 0.78",
        ),
        (
            {"shipments": {"importer_types": {"compliant": 0.72, "saintly": 0.0}}},
            "scenario field 'shipments.importer_types' has unknown keys ['saintly']",
        ),
        (
            {"shipments": {"mechanisms": {"S99": {"enabled": True, "share": 0.1}}}},
            "scenario field 'shipments.mechanisms' has unknown mechanisms ['S99']",
        ),
        (
            {"passengers": {"mechanisms": {"P9": {"share": 0.1}}}},
            "scenario field 'passengers.mechanisms' has unknown mechanisms ['P9']",
        ),
        (
            {"shipments": {"mechanisms": {"S1": {"factor": [0.8, 0.3]}}}},
            "scenario field 'shipments.mechanisms.S1.factor' must be [low, high] with 0 < low < high; "
            "got [0.8, 0.3]",
        ),
        (
            {"shipments": {"mechanisms": {"S5": {"weight_factor": [0, 2]}}}},
            "scenario field 'shipments.mechanisms.S5.weight_factor' must be [low, high]",
        ),
        (
            {"shipments": {"mechanisms": {"S1": {"enabled": "yes"}}}},
            "scenario field 'shipments.mechanisms.S1.enabled' must be true or false; got 'yes'",
        ),
        (
            {"shipments": {"legacy": {"red_share": 0.6, "yellow_share": 0.5}}},
            "scenario fields 'shipments.legacy.red_share' + 'shipments.legacy.yellow_share' "
            "must not exceed 1",
        ),
        (
            {
                "passengers": {
                    "traveller_types": {"ordinary": 0.5, "shopper": 0.5, "courier": 0.5, "mule": 0.0}
                }
            },
            "scenario field 'passengers.traveller_types' must sum to 1",
        ),
        (
            {"passengers": {"serious_prevalence": -0.1}},
            "scenario field 'passengers.serious_prevalence' is a share and must be between 0 and 1; got -0.1",
        ),
        (
            {"scenario": {"start": "2025-02-30"}},
            "scenario field 'scenario.start' must be a date like 2025-01-01; got '2025-02-30'",
        ),
        ({"scenario": {"days": 0}}, "scenario field 'scenario.days' must be a whole number >= 1; got 0"),
        (
            {"shipments": {"drift": [{"start": "2025-09-01", "mix": {"S42": 2.0}}]}},
            "scenario field 'shipments.drift[0].mix' has unknown mechanisms ['S42']",
        ),
    ],
)
def test_invalid_values_name_the_field(override, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(override)


def test_generators_reject_an_invalid_scenario_before_generating():
    bad = {"shipments": {"prevalence": 1.5}}
    with pytest.raises(ScenarioError, match=re.escape("'shipments.prevalence' is a share")):
        generate_shipments(100, scenario=bad)
    with pytest.raises(ScenarioError, match=re.escape("'shipments.prevalence' is a share")):
        generate_passengers(100, scenario=bad)


# ------------------------------------------------------------------------------ default calibration


def test_shipment_prevalence_and_severity(shipments_200k):
    frame = shipments_200k
    assert 0.035 <= frame["truth_violation"].mean() <= 0.05
    assert 0.002 <= (frame["truth_severity"] == "serious").mean() <= 0.0045
    before = frame.loc[frame["declared_at"] < pd.Timestamp("2025-09-01"), "truth_violation"].mean()
    after = frame.loc[frame["declared_at"] >= pd.Timestamp("2025-09-01"), "truth_violation"].mean()
    assert before == pytest.approx(0.04, abs=4 * binomial_se(0.04, 120_000))
    assert after > before  # the scheduled drift raises it


# S9's share is of consignments, each written as several records (shipments.PARCELS_SPLIT): its share of
# violating records is scaled by the mean parcels per split consignment, and its records come in clusters
# (design effect E[k^2] / E[k] on the variance).
_K = np.arange(len(PARCELS_SPLIT))
S9_PARCELS = float((_K * PARCELS_SPLIT).sum())
S9_DESIGN = float((_K**2 * PARCELS_SPLIT).sum()) / S9_PARCELS


def _record_shares(shares: dict[str, float]) -> dict[str, float]:
    raw = {m: v * (S9_PARCELS if m == "S9" else 1.0) for m, v in shares.items()}
    total = sum(raw.values())
    return {m: v / total for m, v in raw.items()}


def _mechanism_table(violations: pd.DataFrame, expected: dict[str, float]) -> pd.DataFrame:
    n = len(violations)
    observed = violations["truth_mechanism"].value_counts(normalize=True)
    table = pd.DataFrame({"expected": pd.Series(_record_shares(expected))})
    table["observed"] = [float(observed.get(m, 0.0)) for m in table.index]
    table["se"] = [
        binomial_se(p, n) * (np.sqrt(S9_DESIGN) if m == "S9" else 1.0) for m, p in table["expected"].items()
    ]
    table["z"] = (table["observed"] - table["expected"]) / table["se"]
    return table


def test_shipment_mechanism_mix_before_drift(shipments_200k):
    """Before the scheduled drift (2025-09-01) the mix is the scenario's shares exactly, within 4 SE."""
    params = default_params()["shipments"]
    shares = {m: spec["share"] for m, spec in params["mechanisms"].items()}
    drift_start = pd.Timestamp(str(params["drift"][0]["start"]))
    pre = shipments_200k[(shipments_200k["declared_at"] < drift_start) & shipments_200k["truth_violation"]]
    assert len(pre) > 4000
    table = _mechanism_table(pre, shares)
    assert (table["z"].abs() <= 4).all(), f"mechanism mix before drift:\n{table}"


def test_shipment_mechanism_mix_after_drift(shipments_200k):
    """After the drift start, S3 and S9 are multiplied by the drift's mix and the rest renormalised."""
    params = default_params()["shipments"]
    drift = params["drift"][0]
    raw = {m: spec["share"] * drift["mix"].get(m, 1.0) for m, spec in params["mechanisms"].items()}
    total = sum(raw.values())
    expected = {m: v / total for m, v in raw.items()}
    drift_start = pd.Timestamp(str(drift["start"]))
    post = shipments_200k[(shipments_200k["declared_at"] >= drift_start) & shipments_200k["truth_violation"]]
    table = _mechanism_table(post, expected)
    assert (table["z"].abs() <= 4).all(), f"mechanism mix after drift:\n{table}"
    # and the drift is visible: S3's share clearly above its pre-drift share
    assert table.loc["S3", "observed"] > 0.1 + 4 * table.loc["S3", "se"]


def test_shipment_legacy_channel_shares(shipments_200k):
    shares = shipments_200k["legacy_channel"].value_counts(normalize=True)
    assert shares["green"] == pytest.approx(0.75, abs=0.02)
    assert shares["yellow"] == pytest.approx(0.20, abs=0.02)
    assert shares["red"] == pytest.approx(0.05, abs=0.02)
    # random picks are drawn first, on every record: red, then yellow among the rest
    random = (shipments_200k["legacy_reason"] == "random").mean()
    assert random == pytest.approx(0.005 + 0.995 * 0.01, abs=0.002)


def test_regulatory_share_of_yellow(shipments_200k):
    """docs/domain.md 4.1: 30-60% of yellow selections are mandatory by regulation, not by risk."""
    yellow = shipments_200k[shipments_200k["legacy_channel"] == "yellow"]
    regulatory = (yellow["legacy_reason"] == "regulatory").mean()
    assert 0.3 <= regulatory <= 0.6, regulatory


def test_passenger_prevalence_and_channels(passengers_200k):
    frame = passengers_200k
    n = len(frame)
    minor = (frame["truth_severity"] == "minor").mean()
    serious = (frame["truth_severity"] == "serious").mean()
    # prevalences carry a pre-Tet season multiplier normalised over the year: 4 SE plus 10% relative
    assert minor == pytest.approx(0.015, abs=4 * binomial_se(0.015, n) + 0.0015)
    assert serious == pytest.approx(0.001, abs=4 * binomial_se(0.001, n) + 0.0001)
    shares = frame["legacy_channel"].value_counts(normalize=True)
    assert shares["green"] == pytest.approx(0.95, abs=0.01)
    assert shares["yellow"] == pytest.approx(0.04, abs=0.01)
    assert shares["red"] == pytest.approx(0.01, abs=0.005)


def test_passenger_mechanism_mix(passengers_200k):
    serious = passengers_200k[passengers_200k["truth_severity"] == "serious"]
    params = default_params()["passengers"]["mechanisms"]
    expected = {m: params[m]["share"] for m in ("P1", "P3", "P4")}
    table = _mechanism_table(serious, expected)
    assert (table["z"].abs() <= 4).all(), f"serious passenger mix:\n{table}"
    minor = passengers_200k[passengers_200k["truth_severity"] == "minor"]
    assert (minor["truth_mechanism"] == "P2").all()


def test_a_disabled_mechanism_never_happens():
    off = {"shipments": {"mechanisms": {"S1": {"enabled": False}}}}
    frame = generate_shipments(20_000, seed=3, scenario=off)
    counts = frame["truth_mechanism"].value_counts()
    assert counts["S1"] == 0
    assert counts.drop("S1").sum() > 300
    # with the default scenario the same data set does have S1 rows
    assert (generate_shipments(20_000, seed=3)["truth_mechanism"] == "S1").sum() > 100


def test_a_disabled_passenger_mechanism_never_happens():
    off = {"passengers": {"mechanisms": {"P2": {"enabled": False}}}}
    frame = generate_passengers(20_000, seed=3, scenario=off)
    assert (frame["truth_mechanism"] == "P2").sum() == 0
    assert (generate_passengers(20_000, seed=3)["truth_mechanism"] == "P2").sum() > 100
