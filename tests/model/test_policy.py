"""ChannelPolicy: capacity thresholds, rules, exemptions, reproducible random selection, reasons."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from riskscore.exceptions import ParameterError, SchemaError
from riskscore.policy import CHANNELS, REASONS, ChannelPolicy, Rule, default_policy

GREEN_REASONS = {"none", "exempt"}
SELECTED_REASONS = {"model", "rule", "random"}


def _ids(n, prefix="D"):
    return pd.Series([f"{prefix}{i:07d}" for i in range(n)])


def _scores(n, seed=0):
    rng = np.random.default_rng(seed)
    risk = rng.beta(0.5, 8, n)
    p_red = risk * rng.uniform(0.1, 0.6, n)
    return p_red, risk


def _assert_reasons_consistent(channel, reason):
    channel, reason = np.asarray(channel).astype(str), np.asarray(reason).astype(str)
    assert set(channel) <= set(CHANNELS)
    assert set(reason) <= set(REASONS)
    assert set(reason[channel == "green"]) <= GREEN_REASONS
    assert set(reason[channel != "green"]) <= SELECTED_REASONS


@pytest.mark.parametrize(("red", "yellow"), [(0.05, 0.15), (0.01, 0.03), (0.10, 0.30)])
def test_thresholds_hit_target_shares_on_the_fitted_data(red, yellow):
    p_red, risk = _scores(50_000)
    policy = ChannelPolicy(red_share=red, yellow_share=yellow, random_red=0, random_yellow=0).fit(p_red, risk)
    channel, reason = policy.assign(pd.DataFrame(index=range(len(risk))), _ids(len(risk)), p_red, risk)
    assert np.mean(channel == "red") == pytest.approx(red, abs=0.01)
    assert np.mean(channel == "yellow") == pytest.approx(yellow, abs=0.01)
    assert set(reason[channel != "green"]) == {"model"}


def test_thresholds_hit_target_shares_on_calibrated_model_scores(world):
    """The same on the model's own outputs: calibrated (isotonic, so step-shaped) risk and p_red."""
    test = world.shipment_result.test
    pred = world.shipment_model.predict(test)
    p_red, risk = pred["p_red"].to_numpy(), pred["risk_score"].to_numpy()
    policy = ChannelPolicy(red_share=0.05, yellow_share=0.15, random_red=0, random_yellow=0).fit(p_red, risk)
    channel, _ = policy.assign(test, test["declaration_id"], p_red, risk)
    shares = pd.Series(channel).value_counts(normalize=True).to_dict()
    assert np.mean(channel == "red") == pytest.approx(0.05, abs=0.01), shares
    assert np.mean(channel == "yellow") == pytest.approx(0.15, abs=0.01), shares


def test_mandatory_red_rule_wins_over_exemption():
    frame = pd.DataFrame({"aeo": [True, True, False], "watch": ["exact", "none", "exact"]})
    policy = ChannelPolicy(
        random_red=0,
        random_yellow=0,
        rules=[Rule("aeo", "==", 1, "exempt", "trusted"), Rule("watch", "==", "exact", "red", "watch-list")],
    )
    channel, reason = policy.assign(frame, _ids(3), np.zeros(3), np.zeros(3))
    assert channel.tolist() == ["red", "green", "red"]
    assert reason.tolist() == ["rule", "exempt", "rule"]


def test_exempt_records_are_green_unless_a_rule_or_random_selects_them():
    n = 4_000
    ids = _ids(n)
    rng = np.random.default_rng(3)
    risk = np.ones(n)  # every record is model-red and model-yellow material
    p_red = np.ones(n)
    frame = pd.DataFrame({"aeo": np.ones(n, bool), "level": rng.integers(1, 6, n)})
    policy = ChannelPolicy(
        red_share=0.05,
        yellow_share=0.15,
        random_red=0.01,
        random_yellow=0.02,
        seed=5,
        rules=[Rule("aeo", "==", 1, "exempt"), Rule("level", ">=", 5, "yellow")],
    )
    policy.red_threshold_, policy.yellow_threshold_ = 0.5, 0.2
    channel, reason = policy.assign(frame, ids, p_red, risk)
    _assert_reasons_consistent(channel, reason)
    assert "model" not in set(reason)  # the model never selects an exempt record
    by_rule = frame["level"].to_numpy() >= 5
    random_pick = reason == "random"
    assert random_pick.any() and (channel[by_rule & ~random_pick] == "yellow").all()
    assert set(reason[by_rule & ~random_pick]) == {"rule"}
    rest = ~by_rule & ~random_pick
    assert (channel[rest] == "green").all() and set(reason[rest]) == {"exempt"}
    # the random picks are the ids the same policy picks without any exemption (random overrides it)
    plain = ChannelPolicy(red_share=0.05, yellow_share=0.15, random_red=0.01, random_yellow=0.02, seed=5)
    _, plain_reason = plain.assign(frame, ids, np.zeros(n), np.zeros(n))
    np.testing.assert_array_equal(random_pick & ~by_rule, (plain_reason == "random") & ~by_rule)


def test_random_selection_is_reproducible_per_id_and_near_its_share():
    n = 200_000
    ids = _ids(n)
    zeros = np.zeros(n)
    frame = pd.DataFrame(index=range(n))
    policy = ChannelPolicy(random_red=0.005, random_yellow=0.01, seed=11)  # unfitted: no model picks
    channel, reason = policy.assign(frame, ids, zeros, zeros)
    assert set(reason) == {"none", "random"}
    assert np.mean(channel == "red") == pytest.approx(0.005, abs=0.001)
    assert np.mean(channel == "yellow") == pytest.approx(0.01, abs=0.0015)
    # another order, other batches: the same ids get the same picks
    order = np.random.default_rng(0).permutation(n)
    pieces = np.array_split(order, 7)
    again = np.empty(n, dtype=object)
    for part in pieces:
        ch, _ = policy.assign(
            frame.iloc[part], ids.iloc[part].reset_index(drop=True), zeros[part], zeros[part]
        )
        again[part] = ch
    np.testing.assert_array_equal(again.astype(str), channel)
    # the draw depends on the seed, not on position
    other, _ = ChannelPolicy(random_red=0.005, random_yellow=0.01, seed=12).assign(frame, ids, zeros, zeros)
    assert not np.array_equal(other, channel)


def test_every_model_decision_has_a_consistent_reason(world):
    for result, id_col in ((world.shipment_result, "declaration_id"), (world.passenger_result, "trip_id")):
        pred = result.model.predict(result.test)
        _assert_reasons_consistent(pred["channel"], pred["selection_reason"])
        assert {"model", "random"} <= set(pred["selection_reason"])
        assert pred["record_id"].tolist() == result.test[id_col].astype(str).tolist()


def test_every_policy_decision_has_a_consistent_reason():
    n = 20_000
    p_red, risk = _scores(n, seed=2)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "aeo": rng.random(n) < 0.1,
            "level": rng.integers(1, 6, n),
            "watch": rng.choice(["none", "exact"], n, p=[0.99, 0.01]),
        }
    )
    policy = ChannelPolicy(
        rules=[
            Rule("aeo", "==", 1, "exempt"),
            Rule("level", ">=", 5, "yellow"),
            Rule("watch", "==", "exact", "red"),
        ],
    ).fit(p_red, risk)
    channel, reason = policy.assign(frame, _ids(n), p_red, risk)
    _assert_reasons_consistent(channel, reason)
    assert set(reason) == set(REASONS)


def test_rule_validation_errors():
    with pytest.raises(ParameterError, match="unknown operator '=~'"):
        Rule("aeo", "=~", 1, "red")
    with pytest.raises(ParameterError, match="channel must be red, yellow or exempt; got 'green'"):
        Rule("aeo", "==", 1, "green")
    with pytest.raises(ParameterError, match="needs a number"):
        Rule("office", ">=", "X", "red").matches(pd.DataFrame({"office": ["A", "B"]}))
    with pytest.raises(ParameterError, match="red_share is a share"):
        ChannelPolicy(red_share=1.5)


def test_rule_on_a_missing_column_is_a_schema_error():
    policy = ChannelPolicy(rules=[Rule("watchlist_hit", "==", "exact", "red")])
    with pytest.raises(SchemaError, match="policy rule needs column 'watchlist_hit'"):
        policy.assign(pd.DataFrame({"aeo": [True]}), _ids(1), np.zeros(1), np.zeros(1))


def test_to_dict_from_dict_round_trip():
    n = 5_000
    p_red, risk = _scores(n, seed=4)
    policy = default_policy("shipment")
    policy.seed = 9
    policy.fit(p_red, risk)
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"aeo": rng.random(n) < 0.1, "importer_compliance_level": rng.integers(1, 6, n)})
    again = ChannelPolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert again.to_dict() == policy.to_dict()
    assert again == policy
    ids = _ids(n)
    for a, b in zip(
        policy.assign(frame, ids, p_red, risk), again.assign(frame, ids, p_red, risk), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # an unfitted policy (infinite thresholds) survives the trip too
    fresh = ChannelPolicy.from_dict(json.loads(json.dumps(default_policy("passenger").to_dict())))
    assert fresh.red_threshold_ == np.inf and fresh.rules == default_policy("passenger").rules


def test_why_says_in_words_what_decided_each_channel():
    n = 4000
    p_red, risk = _scores(n, seed=3)
    policy = default_policy("shipment").fit(p_red, risk)
    frame = pd.DataFrame(
        {
            "aeo": np.arange(n) % 50 == 0,
            "importer_compliance_level": np.where(np.arange(n) % 97 == 0, 5, 2),
        }
    )
    ids = _ids(n)
    channel, reason = policy.assign(frame, ids, p_red, risk)
    decisions = pd.DataFrame(
        {"channel": channel, "selection_reason": reason, "p_red": p_red, "risk_score": risk}
    )
    why = policy.why(frame, decisions)
    assert len(why) == n
    seen = set()
    for text, ch, rs, pr, rk in zip(why, channel, reason, p_red, risk, strict=True):
        if rs == "rule":
            assert text.startswith("Rule: ") and text.endswith(f"sends the record to {ch}"), text
            assert "non-compliant enterprise (level 5)" in text
        elif rs == "random":
            assert text.startswith("Random selection: 0.50% of records go red"), text
        elif rs == "exempt":
            assert text.startswith("Exempt from model selection: authorised economic operator"), text
        elif ch == "red":
            assert text.startswith("Model: probability of a serious violation"), text
            assert "the riskiest 4.5% by this score go red" in text
            assert pr >= policy.red_threshold_
        elif ch == "yellow":
            assert text.startswith("Model: risk ") and "below the red threshold" in text, text
            assert rk >= policy.yellow_threshold_
        else:
            assert text.startswith("Risk ") and "below the yellow threshold" in text, text
        assert not re.search(r"0\.000(?![0-9])", text), text  # small probabilities keep their digits
        seen.add((ch, rs))
    assert {("red", "model"), ("yellow", "model"), ("green", "none"), ("yellow", "rule")} <= seen


def test_why_shows_small_probabilities_with_their_digits():
    policy = ChannelPolicy(red_share=0.05, yellow_share=0.15, random_red=0, random_yellow=0)
    policy.red_threshold_, policy.yellow_threshold_ = 0.00011, 0.02
    d = pd.DataFrame(
        {"channel": ["red"], "selection_reason": ["model"], "p_red": [0.00015], "risk_score": [0.07]}
    )
    text = policy.why(pd.DataFrame(index=[0]), d)[0]
    assert "0.015%" in text and "0.011%" in text, text


@pytest.mark.parametrize(
    ("op", "value", "match"),
    [
        ("in", "abc", "needs a list of values; got 'abc'"),
        ("not_in", b"x", "needs a list of values"),
        (">=", "5", "needs a number; got '5'"),
        ("<", True, "needs a number; got True"),
    ],
)
def test_rule_values_fit_their_operator(op, value, match):
    with pytest.raises(ParameterError, match=match):
        Rule("importer_compliance_level", op, value, "yellow")


def test_why_never_prints_a_value_equal_to_its_threshold_when_they_differ():
    policy = ChannelPolicy(red_share=0.05, yellow_share=0.15, random_red=0, random_yellow=0)
    policy.red_threshold_, policy.yellow_threshold_ = 0.0021, 0.05
    d = pd.DataFrame(
        {"channel": ["yellow"], "selection_reason": ["model"], "p_red": [0.002096], "risk_score": [0.30]}
    )
    text = policy.why(pd.DataFrame(index=[0]), d)[0]
    assert "0.2096% is below the red threshold 0.21%" in text, text


def test_ties_never_take_far_more_than_a_lane_share():
    # a coarse model: 90% of the validation records share the top score
    p_red = np.r_[np.full(900, 0.2), np.linspace(0.0, 0.1, 100)]
    risk = np.r_[np.full(900, 0.5), np.linspace(0.0, 0.4, 100)]
    policy = ChannelPolicy(red_share=0.05, yellow_share=0.15, random_red=0, random_yellow=0).fit(p_red, risk)
    channel, _ = policy.assign(pd.DataFrame(index=range(1000)), _ids(1000), p_red, risk)
    assert (channel == "red").mean() <= 0.05
    assert (channel == "yellow").mean() <= 0.15 + 0.01
