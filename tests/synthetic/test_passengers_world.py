"""The passenger world v2: traveller-driven correlated fields, docs/domain.md calibration, exact oracle, legacy.

Every statistical check runs on three seeds (200,000 trips each, generated once for the module), with
binomial tolerances: the oracle is calibrated in every decile and in its top bins, the fields sit in the
docs/domain.md 3.1 / 4.2 ranges, no traveller carries a large share of the violations, random selections are
a true random sample, and a planted biased rule on a nationality over-selects it without it violating more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from riskscore.synthetic import generate_passengers, load_scenario
from riskscore.synthetic import passengers as world_module
from riskscore.synthetic.mechanisms import passengers as mech
from riskscore.synthetic.realism import calibration_table

SEEDS = (21, 22, 23)
ROWS = 200_000
BIASED = "CN"  # a large nationality (~9% of trips) with a violation rate below the average
BIASED_SCENARIO = {"passengers": {"legacy": {"biased_value": BIASED}}}


@pytest.fixture(scope="module")
def frames() -> dict[int, pd.DataFrame]:
    return {seed: generate_passengers(ROWS, seed=seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def biased_frames() -> dict[int, pd.DataFrame]:
    return {seed: generate_passengers(ROWS, seed=seed, scenario=BIASED_SCENARIO) for seed in SEEDS}


def _air(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["border_type"] == "airport"]


# ------------------------------------------------------------------------------------ exact densities


@pytest.mark.parametrize("field", ["booked", "duration", "bag"])
def test_binned_tables_are_distributions(field):
    """Each (style, hypothesis) column of a tabulated field sums to one: the oracle's terms are exact."""
    total = np.exp(mech._LOG_BINNED[field]).sum(axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-9)


def test_draws_follow_the_oracle_tables():
    """The sampler and the oracle's tables agree: binned draws in one cell pass a chi-square test."""
    rng = np.random.default_rng(0)
    n = 200_000
    h = np.full(n, 1, dtype=np.int64)  # P1
    ctx = {"land": np.zeros(n, dtype=bool), "type": np.full(n, 2, dtype=np.int64)}  # couriers by air
    f = mech.draw_fields(rng, ctx, h)
    shuttle = f["style"] == mech.STYLES.index("shuttle")
    # style frequencies are the tilted habits of the type
    expected_style = mech._STYLE[2, 1]
    observed_style = np.bincount(f["style"], minlength=3)
    assert chisquare(observed_style, expected_style * n).pvalue > 1e-4
    booked = f["booked"][shuttle]
    probs = np.exp(mech._LOG_BINNED["booked"][:, 2, 1])
    counts = np.bincount(booked, minlength=len(probs)).astype(float)
    # pool the sparse tail into one cell so every expected count is large
    cut = int(np.searchsorted(np.cumsum(probs), 0.99))
    obs = np.append(counts[:cut], counts[cut:].sum())
    exp = np.append(probs[:cut], probs[cut:].sum()) * len(booked)
    assert chisquare(obs, exp).pvalue > 1e-4
    assert booked.max() < mech.BOOKED_MAX_DAYS
    assert f["bag"].max() * 0.1 <= mech.BAG_MAX_KG


# ----------------------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_is_calibrated_in_every_decile(frames, seed):
    frame = frames[seed]
    p = frame["oracle_p_violation"].to_numpy()
    y = frame["truth_violation"].to_numpy(dtype=bool)
    table = calibration_table(p, y).iloc[:10]  # the deciles
    # in rates: |observed - expected| <= 4 sd + 2e-4 per record of the bin
    gap = (table["observed"] - table["expected"]).abs()
    allowed = 4 * table["sd"] + 2e-4 * table["records"]
    assert (gap <= allowed).all(), table.assign(gap=gap, allowed=allowed)
    # the oracle separates risk: the top decile is far riskier than the bottom one
    rate = table["observed"] / table["records"]
    assert rate.iloc[-1] > 50 * max(rate.iloc[0], 1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_is_calibrated_in_its_top_bins(frames, seed):
    frame = frames[seed]
    p = frame["oracle_p_violation"].to_numpy()
    y = frame["truth_violation"].to_numpy(dtype=bool)
    top = calibration_table(p, y).iloc[10:]  # p > 0.5, > 0.8, > 0.95
    top = top[top["records"] >= 50]
    assert len(top) >= 2  # p > 0.5 and p > 0.8 have hundreds of trips in 200,000
    assert ((top["observed"] - top["expected"]).abs() <= 4 * top["sd"] + 1).all(), top


def test_oracle_top_bins_pooled_over_seeds(frames):
    """Pooled over the seeds, the rare p > 0.95 bin has enough trips to test as well."""
    p = np.concatenate([f["oracle_p_violation"].to_numpy() for f in frames.values()])
    y = np.concatenate([f["truth_violation"].to_numpy(dtype=bool) for f in frames.values()])
    top = calibration_table(p, y).iloc[10:]  # p > 0.5, > 0.8, > 0.95
    assert (top["records"].to_numpy() >= (1000, 200, 15)).all(), top
    assert ((top["observed"] - top["expected"]).abs() <= 4 * top["sd"] + 1).all(), top


@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_red_and_yellow_counts(frames, seed):
    frame = frames[seed]
    for channel in ("red", "yellow"):
        p = frame[f"oracle_p_{channel}"].to_numpy()
        n = int((frame["truth_channel"] == channel).sum())
        sd = float(np.sqrt(np.sum(p * (1 - p))))
        assert abs(n - p.sum()) <= 4 * sd, (channel, n, p.sum(), sd)


# -------------------------------------------------------------------------------- docs/domain.md calibration


@pytest.mark.parametrize("seed", SEEDS)
def test_trip_fields_in_domain_ranges(frames, seed):
    frame = frames[seed]
    air = _air(frame)
    late = float((air["days_booked_before_travel"] <= 2).mean())
    assert 0.05 <= late <= 0.10, late  # docs/domain.md 3.1: 0-2 days for 5-10%
    assert 18 <= air["days_booked_before_travel"].median() <= 32  # median ~20-30 days
    assert air["days_booked_before_travel"].max() < 365
    cash = float((air["payment_form"] == "cash").mean())
    assert 0.02 <= cash <= 0.05, cash
    one_way = float((air["ticket_type"] == "one_way").mean())
    assert 0.10 <= one_way <= 0.25, one_way
    bags = frame["bag_weight_kg"]
    assert bags.min() >= 0.0
    assert bags.max() <= 60.0
    assert bags.max() > 50.0  # the bound is reached by heavy P2 bags, not by a clip far below it
    assert frame["bag_count"].max() <= 4
    assert frame["dwell_hours"].max() <= 24.0


@pytest.mark.parametrize("seed", SEEDS)
def test_prevalence_matches_domain(frames, seed):
    frame = frames[seed]
    n = len(frame)
    for severity, rate in (("minor", 0.015), ("serious", 0.001)):
        observed = float((frame["truth_severity"] == severity).mean())
        se = np.sqrt(rate * (1 - rate) / n)
        # the pre-Tet multiplier is normalised on a sample of trips: 4 SE plus 10% relative
        assert abs(observed - rate) <= 4 * se + 0.1 * rate, (severity, observed)


def test_drugs_are_five_in_a_hundred_thousand(frames):
    """docs/domain.md 4.2: drugs on 0.005% of trips, both in the world's intensities and in the drawn trips."""
    sc = load_scenario("default")
    world = world_module.build_world(sc, ROWS, SEEDS[0], None, None)
    rng = np.random.default_rng(1)
    ctx = world_module._context(world, rng, np.sort(rng.integers(0, ROWS, 200_000)))
    lam = world_module._intensities(world, ctx)
    p4 = float(lam[:, mech.HYPOTHESES.index("P4") - 1].mean())
    assert p4 == pytest.approx(5e-5, rel=0.1)
    count = sum(int((f["truth_mechanism"] == "P4").sum()) for f in frames.values())
    expected = 5e-5 * ROWS * len(frames)  # 30
    assert abs(count - expected) <= 4 * np.sqrt(expected), count


@pytest.mark.parametrize("seed", SEEDS)
def test_no_traveller_carries_more_than_three_percent_of_violations(frames, seed):
    frame = frames[seed]
    violations = frame.loc[frame["truth_violation"], "traveller_id"].value_counts()
    top = violations.iloc[0] / violations.sum()
    assert top <= 0.03, (violations.index[0], violations.iloc[0], violations.sum())
    # the busiest travellers are risky types making ~150 trips a year, not one traveller in ten trips
    assert violations.iloc[0] >= 10


# -------------------------------------------------------------------------- fields follow the traveller


@pytest.mark.parametrize("seed", SEEDS)
def test_a_couriers_clean_trips_look_like_a_courier(frames, seed):
    """Habits belong to the traveller: a courier books late and pays cash also on trips with nothing found."""
    clean = _air(frames[seed])
    clean = clean[~clean["truth_violation"]]
    kind = clean["truth_traveller_type"]
    courier, ordinary = clean[kind == "courier"], clean[kind == "ordinary"]
    assert len(courier) > 2000
    late_c = (courier["days_booked_before_travel"] <= 2).mean()
    late_o = (ordinary["days_booked_before_travel"] <= 2).mean()
    assert late_c > 4 * late_o, (late_c, late_o)
    cash_c = (courier["payment_form"] == "cash").mean()
    cash_o = (ordinary["payment_form"] == "cash").mean()
    assert cash_c > 3 * cash_o, (cash_c, cash_o)
    assert courier["trip_duration_days"].median() < 0.6 * ordinary["trip_duration_days"].median()


@pytest.mark.parametrize("seed", SEEDS)
def test_fields_are_correlated_within_a_clean_trip(frames, seed):
    """Among ordinary travellers' clean trips, a late booking goes with cash and a short trip (the style)."""
    clean = _air(frames[seed])
    clean = clean[~clean["truth_violation"] & (clean["truth_traveller_type"] == "ordinary")]
    late = clean["days_booked_before_travel"] <= 2
    cash = clean["payment_form"] == "cash"
    assert cash[late].mean() > 3 * cash[~late].mean(), (cash[late].mean(), cash[~late].mean())
    duration = clean["trip_duration_days"]
    assert duration[late].median() < 0.6 * duration[~late].median()


# ----------------------------------------------------------------------------------- legacy selection


@pytest.mark.parametrize("seed", SEEDS)
def test_random_selections_are_a_random_sample(frames, seed):
    frame = frames[seed]
    prevalence = float(frame["truth_violation"].mean())
    random = frame["legacy_reason"] == "random"
    n = int(random.sum())
    legacy = load_scenario("default").params["passengers"]["legacy"]
    share = legacy["random_red"] + (1 - legacy["random_red"]) * legacy["random_yellow"]
    assert abs(n - share * len(frame)) <= 4 * np.sqrt(share * len(frame))
    rate = float(frame.loc[random, "truth_violation"].mean())
    assert abs(rate - prevalence) <= 4 * np.sqrt(prevalence * (1 - prevalence) / n), (rate, prevalence, n)


def test_random_selections_pooled_over_seeds(frames):
    pooled = pd.concat([f.loc[f["legacy_reason"] == "random", "truth_violation"] for f in frames.values()])
    prevalence = float(np.mean([f["truth_violation"].mean() for f in frames.values()]))
    se = np.sqrt(prevalence * (1 - prevalence) / len(pooled))
    assert abs(pooled.mean() - prevalence) <= 4 * se, (pooled.mean(), prevalence, len(pooled))


@pytest.mark.parametrize("seed", SEEDS)
def test_legacy_channels_reasons_and_propensities(frames, seed):
    frame = frames[seed]
    shares = frame["legacy_channel"].value_counts(normalize=True)
    assert shares["red"] == pytest.approx(0.01, abs=0.003)
    assert shares["yellow"] == pytest.approx(0.04, abs=0.006)
    assert list(frame["legacy_reason"].cat.categories) == ["none", "rule", "declared", "random", "officer"]
    officer = frame["legacy_reason"] == "officer"
    assert officer.sum() > 50
    assert (frame.loc[officer, "legacy_channel"] == "red").all()
    # tips mostly find violators: far above the prevalence
    assert frame.loc[officer, "truth_violation"].mean() > 0.5
    recorded = frame["selection_propensity"].to_numpy()
    exact = frame["truth_selection_propensity"].to_numpy()
    assert np.isfinite(recorded).all()
    assert ((exact > 0) & (exact <= 1)).all()
    assert (exact >= recorded - 1e-12).all()  # the tips only add to the visible propensity
    # the exact propensity is calibrated: expected inspections match the inspections
    inspected = frame["inspected"].to_numpy(dtype=bool)
    assert abs(inspected.sum() - exact.sum()) <= 4 * np.sqrt(np.sum(exact * (1 - exact)))
    # targeted red checks hit 10-30% (docs/domain.md 4.2)
    hit = frame.loc[frame["legacy_channel"] == "red", "truth_violation"].mean()
    assert 0.10 <= hit <= 0.35, hit


@pytest.mark.parametrize("seed", SEEDS)
def test_detection_follows_the_scenario(frames, seed):
    frame = frames[seed]
    found = frame["observed_label"].fillna(False).to_numpy(dtype=bool)
    assert not (found & ~frame["truth_violation"].to_numpy()).any()
    red_v = (frame["legacy_channel"] == "red") & frame["truth_violation"]
    assert found[red_v.to_numpy()].mean() > 0.6  # detect_red 0.7-0.9 by mechanism


def test_biased_rule_over_selects_a_nationality_that_does_not_violate_more(frames, biased_frames):
    """docs/domain.md 3.5 (b): the planted rule raises one nationality's selection; its violation rate is not higher."""
    for seed in SEEDS:
        fair, biased = frames[seed], biased_frames[seed]
        # the rule changes selection only: the trips and their truth are the same
        pd.testing.assert_series_equal(fair["truth_violation"], biased["truth_violation"])
        group = (biased["nationality"] == BIASED).to_numpy()
        assert 0.05 < group.mean() < 0.2
        selected_biased = biased["inspected"].to_numpy(dtype=bool)
        selected_fair = fair["inspected"].to_numpy(dtype=bool)
        # several times more often than without the rule, and far more than everyone else
        assert selected_biased[group].mean() > 2.0 * selected_fair[group].mean(), seed
        assert selected_biased[group].mean() > 1.6 * selected_biased[~group].mean(), seed
        by_rule = (biased["legacy_reason"] == "rule").to_numpy()
        assert by_rule[group].mean() > 2.0 * by_rule[~group].mean(), seed
        violation = biased["truth_violation"].to_numpy(dtype=bool)
        assert violation[group].mean() <= violation[~group].mean(), seed
        # the outcome test flags it: its inspected trips hit less often than the others' inspected trips
        assert violation[group & selected_biased].mean() < violation[~group & selected_biased].mean(), seed
        # the channel shares stay on target: the thresholds were calibrated with the biased points
        assert (biased["legacy_channel"] == "red").mean() == pytest.approx(0.01, abs=0.003)


def test_unrecorded_propensity_is_missing():
    scenario = {"passengers": {"legacy": {"record_propensity": False}}}
    frame = generate_passengers(5_000, seed=3, scenario=scenario)
    assert frame["selection_propensity"].isna().all()
    exact = frame["truth_selection_propensity"]
    assert exact.notna().all()
    assert ((exact > 0) & (exact <= 1)).all()
    # the propensity is not recorded, but the selection is the same as when it is
    same = generate_passengers(5_000, seed=3)
    pd.testing.assert_series_equal(frame["legacy_channel"], same["legacy_channel"])


def test_oracle_likelihood_matches_a_direct_computation():
    """The oracle's tables and joint index give the same likelihood as the distributions written out."""
    from scipy.stats import norm, poisson

    rng = np.random.default_rng(4)
    n = 400
    ctx = {"land": rng.random(n) < 0.3, "type": rng.integers(0, 4, n)}
    h = rng.integers(0, 5, n)
    f = mech.draw_fields(rng, ctx, h)
    fast = mech.log_densities(ctx, f)
    P = mech._P

    def binned(field: str, k: int, s: int, hyp: int) -> float:
        step, upper = mech._STEP[field], mech._UPPER[field]
        mu, sd = np.log(P[f"{field}_median"][s, hyp]), P[f"{field}_sigma"][s, hyp]
        lo = norm.cdf((np.log(k * step) - mu) / sd) if k > 0 else 0.0
        hi = norm.cdf((np.log((k + 1) * step) - mu) / sd)
        return float((hi - lo) / norm.cdf((np.log(upper) - mu) / sd))

    for i in range(n):
        air = not ctx["land"][i]
        for hyp in range(len(mech.HYPOTHESES)):
            total = 0.0
            for s in range(len(mech.STYLES)):
                like = mech._STYLE[ctx["type"][i], hyp, s] * binned("bag", f["bag"][i], s, hyp)
                like *= poisson.pmf(f["party"][i] - 1, P["party_extra"][s, hyp])
                red = P["declared_red"][s, hyp]
                like *= red if f["declared_red"][i] else 1 - red
                cur = P["currency_declared"][s, hyp]
                if f["currency"][i] > 0:
                    lc = np.log(f["currency"][i])
                    like *= cur * norm.pdf(
                        lc, np.log(P["currency_median"][s, hyp]), P["currency_sigma"][s, hyp]
                    )
                else:
                    like *= 1 - cur
                if air:
                    like *= binned("booked", f["booked"][i], s, hyp)
                    like *= mech._PAYMENT[s, hyp, f["payment"][i]] * mech._TICKET[s, hyp, f["ticket"][i]]
                    tr = P["transit"][s, hyp]
                    like *= tr if f["transit"][i] else 1 - tr
                    if f["duration"][i] >= 0:
                        like *= binned("duration", f["duration"][i], s, hyp)
                total += like
            np.testing.assert_allclose(fast[i, hyp], np.log(total), rtol=1e-7, atol=1e-7)
