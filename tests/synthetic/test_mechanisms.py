"""Each planted mechanism leaves the signature docs/domain.md 2.2 / 3.2 describes, and nothing else does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskscore.synthetic import generate_passengers, load_scenario
from riskscore.synthetic.scenario import data_dir

MECHANISMS = load_scenario("default").params["shipments"]["mechanisms"]
# Relative slack for the rounding of declared values (cents, thousandths of a unit).
ROUNDING = 0.01


def rows(frame: pd.DataFrame, mechanism: str) -> pd.DataFrame:
    out = frame[frame["truth_mechanism"] == mechanism]
    assert len(out) >= 20, f"too few {mechanism} rows to test ({len(out)})"
    return out


def unit_value_ratio(frame: pd.DataFrame) -> pd.Series:
    """Declared unit value over true unit value."""
    declared = frame["cif_value_usd"] / frame["quantity"]
    true = frame["truth_cif_value_usd"] / frame["truth_quantity"]
    return declared / true


def in_range(values: pd.Series, lo: float, hi: float) -> bool:
    return bool(((values >= lo * (1 - ROUNDING)) & (values <= hi * (1 + ROUNDING))).all())


def log_unit_weight(frame: pd.DataFrame) -> pd.Series:
    return np.log(frame["net_weight_kg"] / frame["quantity"])


def gap_to_compliant(
    frame: pd.DataFrame, subset: pd.DataFrame, value: pd.Series, keys: list[str]
) -> np.ndarray:
    """``value`` of subset rows minus the median ``value`` of compliant rows sharing ``keys``."""
    compliant = ~frame["truth_violation"]
    medians = value[compliant].groupby([frame.loc[compliant, k] for k in keys], observed=True).median()
    index = pd.MultiIndex.from_arrays([subset[k] for k in keys]) if len(keys) > 1 else subset[keys[0]]
    return value[subset.index].to_numpy() - medians.reindex(index).to_numpy()


@pytest.fixture(scope="module")
def compliant(shipments_200k: pd.DataFrame) -> pd.DataFrame:
    return shipments_200k[~shipments_200k["truth_violation"]]


# ---------------------------------------------------------------------------------------- shipments


def test_compliant_rows_declare_the_truth(compliant):
    assert (compliant["cif_value_usd"] == compliant["truth_cif_value_usd"]).all()
    assert (compliant["quantity"] == compliant["truth_quantity"]).all()
    assert (compliant["hs_code"].astype(str) == compliant["truth_hs_code"].astype(str)).all()
    assert (compliant["origin_country"].astype(str) == compliant["truth_origin_country"].astype(str)).all()
    assert (compliant["truth_revenue_at_stake_usd"] == 0).all()


@pytest.mark.parametrize("mechanism", ["S1", "S6", "S7", "S10", "S11"])
def test_value_mechanisms_scale_the_unit_value_by_their_factor(shipments_200k, mechanism):
    subset = rows(shipments_200k, mechanism)
    lo, hi = MECHANISMS[mechanism]["factor"]
    ratio = unit_value_ratio(subset)
    assert in_range(ratio, lo, hi), (ratio.min(), ratio.max())
    # log-uniform factor: the median ratio is the geometric midpoint
    assert ratio.median() == pytest.approx(np.sqrt(lo * hi), rel=0.1)
    # quantity, code and origin stay true
    assert (subset["quantity"] == subset["truth_quantity"]).all()
    assert (subset["hs_code"].astype(str) == subset["truth_hs_code"].astype(str)).all()


def test_s1_undervalued_against_same_code_and_origin(shipments_200k):
    s1 = rows(shipments_200k, "S1")
    unit_value = np.log(shipments_200k["cif_value_usd"] / shipments_200k["quantity"])
    gap = gap_to_compliant(shipments_200k, s1, unit_value, ["hs_code", "origin_country"])
    assert np.isfinite(gap).mean() > 0.95
    assert np.nanmedian(gap) < -0.4
    assert (s1["truth_revenue_at_stake_usd"] > 0).mean() > 0.9


def test_s2_misclassifies_to_a_cheaper_sibling_code(shipments_200k, compliant):
    s2 = rows(shipments_200k, "S2")
    declared, true = s2["hs_code"].astype(str), s2["truth_hs_code"].astype(str)
    assert (declared != true).all()
    assert (declared.str[:4] == true.str[:4]).all()
    # The duty of (code, origin, claim) is a fixed tariff: read the true code's from compliant rows.
    tariff = compliant.groupby(
        [
            compliant["hs_code"].astype(str),
            compliant["origin_country"].astype(str),
            compliant["preference_claimed"],
        ]
    )["duty_rate"].agg(["min", "max"])
    assert (tariff["min"] == tariff["max"]).all()
    key = pd.MultiIndex.from_arrays([true, s2["origin_country"].astype(str), s2["preference_claimed"]])
    true_rate = tariff["min"].reindex(key).to_numpy()
    known = ~np.isnan(true_rate)
    assert known.mean() > 0.9
    declared_rate = s2["duty_rate"].to_numpy()
    assert (declared_rate[known] <= true_rate[known]).all()
    # Without a preference claim the MFN rates differ by construction; a claimed FTA rate may coincide.
    mfn = known & ~s2["preference_claimed"].to_numpy()
    assert mfn.sum() > 100
    assert (declared_rate[mfn] < true_rate[mfn]).all()


def test_s3_hides_the_origin_behind_a_preference(shipments_200k):
    s3 = rows(shipments_200k, "S3")
    countries = pd.read_csv(data_dir() / "countries.csv", keep_default_na=False)
    sources = set(countries.loc[countries["s3_source"] != "", "iso2"])
    hubs = set(countries.loc[countries["s3_hub"] > 0, "iso2"])
    assert sources == {"CN", "TW", "US", "CH", "BR"}
    assert (s3["origin_country"].astype(str) != s3["truth_origin_country"].astype(str)).all()
    assert s3["preference_claimed"].all()
    assert s3["truth_origin_country"].astype(str).isin(sources).all()
    assert s3["origin_country"].astype(str).isin(hubs).all()


def test_s4_understates_quantity_so_each_unit_weighs_more(shipments_200k):
    s4 = rows(shipments_200k, "S4")
    lo, hi = MECHANISMS["S4"]["factor"]
    # the units truly shipped are whole pieces too (rounded up): the ratio is the factor up to one piece
    slack = 1.0 / s4["truth_quantity"]
    ratio = s4["quantity"] / s4["truth_quantity"]
    assert ((ratio >= lo * (1 - ROUNDING) - slack) & (ratio <= hi * (1 + ROUNDING) + slack)).all()
    assert (s4["truth_quantity"] > s4["quantity"]).all()
    gap = gap_to_compliant(shipments_200k, s4, log_unit_weight(shipments_200k), ["hs_code"])
    assert np.nanmedian(gap) > 0.25
    assert np.nanmean(gap > 0) > 0.75


def test_s5_conceals_serious_goods_under_a_cover_code(shipments_200k):
    s5 = rows(shipments_200k, "S5")
    assert (s5["truth_severity"] == "serious").all()
    assert (s5["truth_channel"] == "red").all()
    assert (s5["hs_code"].astype(str) != s5["truth_hs_code"].astype(str)).all()
    # goods measured by weight weigh what they declare: the heavy-for-its-kind signature is for counted goods
    counted = s5[~s5["quantity_unit"].astype(str).isin(["KGM", "TNE"])]
    assert len(counted) > 100
    gap = gap_to_compliant(shipments_200k, counted, log_unit_weight(shipments_200k), ["hs_code"])
    assert np.nanmedian(gap) > 0.5
    assert np.nanmean(gap > 0) > 0.9


def test_s6_phantom_importers_are_new(shipments_200k, compliant):
    s6 = rows(shipments_200k, "S6")
    assert (s6["truth_importer_type"] == "phantom").all()
    assert (s6["importer_registered_days"] < 60).mean() > 0.9
    assert compliant["importer_registered_days"].median() > 365


def test_s7_goes_through_complicit_brokers(shipments_200k, compliant):
    assert rows(shipments_200k, "S7")["truth_broker_complicit"].all()
    assert compliant["truth_broker_complicit"].mean() < 0.05


def test_s8_overstates_temporary_imports(shipments_200k):
    s8 = rows(shipments_200k, "S8")
    assert (s8["procedure"] == "temporary_import").all()
    lo, hi = MECHANISMS["S8"]["factor"]
    assert in_range(s8["quantity"] / s8["truth_quantity"], lo, hi)
    assert (s8["truth_severity"] == "serious").all()


def test_s9_parcels_sit_just_under_the_de_minimis(shipments_200k):
    s9 = rows(shipments_200k, "S9")
    threshold = load_scenario("default").params["shipments"]["de_minimis_usd"]
    lo, hi = MECHANISMS["S9"]["value_band"]
    assert (s9["office_type"] == "express").all()
    assert s9["cif_value_usd"].between(lo * threshold - 0.01, hi * threshold + 0.01).all()


def test_s9_splits_one_consignment_into_parcels_under_the_threshold(shipments_200k):
    """De-minimis abuse: one consignment to one consignee, several parcels the same day, each just under the
    threshold at its honest value, so the consignment as a whole escapes the duty it owes."""
    frame = shipments_200k
    s9 = rows(frame, "S9")
    threshold = load_scenario("default").params["shipments"]["de_minimis_usd"]
    lo, hi = MECHANISMS["S9"]["value_band"]
    assert (s9["office_type"] == "express").all() and s9["consignee_id"].notna().all()
    assert in_range(s9["cif_value_usd"] / threshold, lo, hi)
    np.testing.assert_allclose(s9["truth_cif_value_usd"], s9["cif_value_usd"], rtol=0.02)
    assert (s9["truth_revenue_at_stake_usd"] > 0).all()
    consignment = frame[frame["consignee_id"].isin(set(s9["consignee_id"]))]
    per = consignment.groupby("consignee_id")
    assert (per["truth_mechanism"].agg(lambda m: set(m.astype(str))) == {"S9"}).all()
    assert (per["declared_at"].agg(lambda t: t.dt.date.nunique()) == 1).all()
    assert (per["hs_code"].nunique() == 1).all()
    sizes = per.size()
    assert (sizes >= 2).mean() > 0.95  # only a consignment cut by a generation block's end can be shorter
    assert (per["cif_value_usd"].sum()[sizes >= 2] > threshold).all()
    # compliant express consignments are mostly single parcels, but not always
    express = frame[(frame["office_type"] == "express") & ~frame["truth_violation"]]
    compliant_sizes = express.groupby("consignee_id").size()
    assert 0.75 <= (compliant_sizes == 1).mean() <= 0.95


def test_s10_needs_a_related_party(shipments_200k, compliant):
    assert rows(shipments_200k, "S10")["related_party"].all()
    assert compliant["related_party"].mean() < 0.9


def test_mechanism_severity_and_channel(shipments_200k):
    v = shipments_200k[shipments_200k["truth_violation"]]
    serious = v["truth_mechanism"].isin(["S5", "S8"])
    assert (v.loc[serious, "truth_channel"] == "red").all()
    assert (v.loc[~serious, "truth_channel"] == "yellow").all()
    assert (v.loc[~serious, "truth_severity"] == "minor").all()


# --------------------------------------------------------------------------------------- passengers


@pytest.fixture(scope="module")
def compliant_trips(passengers_200k: pd.DataFrame) -> pd.DataFrame:
    return passengers_200k[~passengers_200k["truth_violation"]]


def _air(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["border_type"] == "airport"]


def test_p1_cash_couriers_pay_cash_and_fly_one_way(passengers_200k, compliant_trips):
    p1 = _air(rows(passengers_200k, "P1"))
    base = _air(compliant_trips)
    assert (p1["payment_form"] == "cash").mean() > 3 * (base["payment_form"] == "cash").mean()
    assert (p1["ticket_type"] == "one_way").mean() > 1.5 * (base["ticket_type"] == "one_way").mean()
    assert p1["days_booked_before_travel"].median() < base["days_booked_before_travel"].median() / 2


def test_p2_goods_for_resale_mean_heavy_bags(passengers_200k, compliant_trips):
    p2 = rows(passengers_200k, "P2")
    assert p2["bag_weight_kg"].median() > compliant_trips["bag_weight_kg"].median() + 8
    assert p2["bag_count"].mean() > compliant_trips["bag_count"].mean()


def test_p4_drug_mules_travel_alone(compliant_trips):
    # drugs are 0.005% of trips (docs/domain.md 4.2): a world with 20x more of them shows their signature
    boosted = generate_passengers(
        50_000, seed=11, scenario={"passengers": {"mechanisms": {"P4": {"share": 1.0}}}}
    )
    p4 = rows(boosted, "P4")
    assert p4["travelling_alone"].mean() > compliant_trips["travelling_alone"].mean() + 0.15


def test_passenger_severity_and_channel(passengers_200k):
    v = passengers_200k[passengers_200k["truth_violation"]]
    serious = v["truth_mechanism"].isin(["P1", "P3", "P4"])
    assert serious.sum() > 100
    assert (v.loc[serious, "truth_channel"] == "red").all()
    assert (v.loc[serious, "truth_severity"] == "serious").all()
    assert (v.loc[~serious, "truth_mechanism"] == "P2").all()
    assert (v.loc[~serious, "truth_channel"] == "yellow").all()


def test_protected_attributes_are_drawn_without_the_latent_type(passengers_200k):
    """Sex is a trait of the traveller drawn from the route only: the latent type does not depend on it."""
    travellers = passengers_200k.drop_duplicates("traveller_id")
    risky = travellers["truth_traveller_type"] != "ordinary"
    female = travellers["sex"] == "F"
    p1, p2 = risky[female].mean(), risky[~female].mean()
    n1, n2 = int(female.sum()), int((~female).sum())
    pooled = risky.mean()
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert abs(z) < 4, (p1, p2, z)


def test_violation_rate_does_not_depend_on_sex_within_a_route(passengers_200k):
    """Within the busiest route, F and M trips violate at the same rate once the traveller's type is known.

    Trips cluster by traveller (a few travellers make thousands of trips), so a plain two-proportion test
    over trips is not valid; a Cochran-Mantel-Haenszel test stratified by the latent type is.
    """
    route = passengers_200k["route"].value_counts().index[0]
    trips = passengers_200k[passengers_200k["route"] == route]
    observed_minus_expected, variance = 0.0, 0.0
    for _, stratum in trips.groupby("truth_traveller_type", observed=True):
        female = (stratum["sex"] == "F").to_numpy()
        y = stratum["truth_violation"].to_numpy(dtype=bool)
        n, n_f, hits = len(y), int(female.sum()), int(y.sum())
        if n < 2 or n_f in (0, n):
            continue
        observed_minus_expected += float(y[female].sum()) - n_f * hits / n
        variance += n_f * (n - n_f) * hits * (n - hits) / (n * n * (n - 1))
    assert variance > 0
    z = observed_minus_expected / np.sqrt(variance)
    assert abs(z) < 4, z
