"""compare_scores / compare_models: the champion gate's hit rates, their paired bootstrap interval, verdict."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

import riskscore.evaluate as ev
from riskscore.evaluate import Comparison, compare_models, compare_scores, evaluate_scores
from riskscore.exceptions import ParameterError, SchemaError


def outcomes(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """n records inspected by a legacy policy (propensity recorded) and their true violations."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.08
    prop = np.clip(0.03 + 0.3 * truth * rng.random(n) + 0.1 * rng.random(n), 0.01, 1.0)
    inspected = rng.random(n) < prop
    frame = pd.DataFrame(
        {
            "inspected": inspected,
            "observed_label": pd.array(np.where(inspected, truth, None), dtype="boolean"),
            "selection_propensity": prop,
        }
    )
    return frame, truth


def test_identical_rankings_differ_by_exactly_nothing():
    frame, truth = outcomes(5000)
    score = truth + np.random.default_rng(101).random(len(frame))
    c = compare_scores(frame, score, score)
    assert c.difference == 0.0
    assert (c.low, c.high) == (0.0, 0.0)
    assert c.verdict == "within noise"  # a tie is no win: the gate keeps the champion


def test_hit_rates_are_those_of_evaluate_scores():
    frame, truth = outcomes(8000)
    rng = np.random.default_rng(102)
    a, b = truth + rng.random(len(frame)), truth + 3 * rng.random(len(frame))
    c = compare_scores(frame, a, b, rate=0.05)
    observed = evaluate_scores(frame, {"a": a, "b": b}, rates=(0.05,))["observed"].set_index("scorer")
    assert c.new == observed.loc["a", "ipw_hit_rate"]
    assert c.champion == observed.loc["b", "ipw_hit_rate"]
    assert c.difference == pytest.approx(c.new - c.champion)
    assert c.low <= c.difference <= c.high
    assert (c.records, c.inspected) == (len(frame), int(frame["inspected"].sum()))


def test_a_clearly_sharper_ranking_is_better_and_the_reverse_is_worse():
    frame, truth = outcomes(20_000)
    rng = np.random.default_rng(103)
    sharp, blunt = truth + rng.random(len(frame)), truth + 8 * rng.random(len(frame))
    forward, backward = compare_scores(frame, sharp, blunt), compare_scores(frame, blunt, sharp)
    assert forward.verdict == "better" and forward.low > 0
    assert backward.verdict == "worse" and backward.high < 0
    # the same resamples serve both orders: the interval is mirrored exactly
    assert backward.difference == -forward.difference
    assert (backward.low, backward.high) == pytest.approx((-forward.high, -forward.low))


def test_a_small_gain_on_a_small_window_is_within_the_noise():
    frame, truth = outcomes(1500, seed=4)
    rng = np.random.default_rng(104)
    a, b = truth * 0.5 + rng.random(len(frame)), truth * 0.45 + rng.random(len(frame))
    c = compare_scores(frame, a, b)
    assert c.low < 0 < c.high
    assert c.verdict == "within noise"


def test_the_interval_matches_a_plain_resampling_bootstrap():
    """The vectorised Poisson bootstrap over the heads of the rankings against drawing n records with
    replacement and recomputing both hit rates, resample by resample."""
    frame, truth = outcomes(6000, seed=5)
    rng = np.random.default_rng(105)
    a, b = truth * 0.6 + rng.random(len(frame)), truth * 0.5 + rng.random(len(frame))
    inspected, hit, w = ev._outcomes(frame)  # type: ignore[misc]
    plain = []
    for _ in range(600):
        i = rng.integers(0, len(frame), len(frame))
        plain.append(
            ev._ipw_at(a[i], inspected[i], hit[i], w[i], 0.05)
            - ev._ipw_at(b[i], inspected[i], hit[i], w[i], 0.05)
        )
    c = compare_scores(frame, a, b, n_boot=2000)
    plain_low, plain_high = np.quantile(plain, [0.025, 0.975])
    width, plain_width = c.high - c.low, plain_high - plain_low
    assert width == pytest.approx(plain_width, rel=0.2)
    assert (c.low + c.high) / 2 == pytest.approx((plain_low + plain_high) / 2, abs=0.15 * plain_width)


def test_the_bootstrap_is_reproducible_and_follows_its_seed():
    frame, truth = outcomes(4000, seed=6)
    rng = np.random.default_rng(106)
    a, b = truth * 0.6 + rng.random(len(frame)), truth * 0.5 + rng.random(len(frame))
    assert compare_scores(frame, a, b, seed=7) == compare_scores(frame, a, b, seed=7)
    assert compare_scores(frame, a, b, seed=7).low != compare_scores(frame, a, b, seed=8).low


def test_heads_that_run_short_are_lengthened(monkeypatch):
    """Multiplicities made mostly zero: the tops of the resamples reach far below the first heads."""
    frame, truth = outcomes(3000, seed=7)
    a = truth + np.random.default_rng(107).random(len(frame))
    monkeypatch.setattr(ev, "_POISSON1_CDF", np.full(12, 0.95, dtype=np.float32))
    inspected, hit, w = ev._outcomes(frame)  # type: ignore[misc]
    den = np.where(inspected, w, 0.0)
    rates = ev._bootstrap_hit_rates([a, a[::-1].copy()], np.where(hit, den, 0.0), den, 0.05, 200, 0)
    assert rates.shape == (200, 2)
    finite = rates[np.isfinite(rates)]
    assert len(finite) > 300 and ((finite >= 0) & (finite <= 1)).all()


def test_the_comparison_reads_as_one_line_and_as_json():
    frame, truth = outcomes(3000, seed=8)
    rng = np.random.default_rng(108)
    c = compare_scores(frame, truth + rng.random(len(frame)), truth + 2 * rng.random(len(frame)))
    assert re.fullmatch(
        r"new \d\.\d{3} vs champion \d\.\d{3}: [+-]\d\.\d{3} \(95% interval [+-]\d\.\d{3} to [+-]\d\.\d{3}\)",
        str(c),
    ), str(c)
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert d["interval"] == [c.low, c.high]
    assert d["verdict"] == c.verdict and d["n_boot"] == 1000 and d["rate"] == 0.05
    undefined = Comparison(0.05, math.nan, 0.1, math.nan, math.nan, math.nan, "within noise", 10, 0, 100, 0)
    assert json.loads(json.dumps(undefined.to_dict(), allow_nan=False))["new"] is None


def test_inputs_are_checked_with_messages():
    frame, truth = outcomes(1000, seed=9)
    score = truth.astype(float)
    with pytest.raises(SchemaError, match=r"lack column\(s\) \['observed_label'\]"):
        compare_scores(frame.drop(columns="observed_label"), score, score)
    with pytest.raises(SchemaError, match="none of the 1,000 records was inspected"):
        compare_scores(frame.assign(inspected=False), score, score)
    with pytest.raises(SchemaError, match="no records to compare the models on"):
        compare_scores(frame.head(0), score[:0], score[:0])
    with pytest.raises(
        ParameterError, match=r"champion must hold one score per record \(1000\); got shape \(3,\)"
    ):
        compare_scores(frame, score, score[:3])
    with pytest.raises(ParameterError, match=r"n_boot .* must be a whole number >= 100 .*; got 10"):
        compare_scores(frame, score, score, n_boot=10)
    with pytest.raises(ParameterError, match=r"rate .* must be in \(0, 1\]; got 0"):
        compare_scores(frame, score, score, rate=0)
    with pytest.raises(ParameterError, match="scores contain NaN"):
        compare_scores(frame, score, np.full(len(frame), np.nan))


class Scorer:
    """A stand-in for a RiskModel: predict() gives a fixed risk score per record."""

    def __init__(self, risk: np.ndarray) -> None:
        self.risk = risk
        self.seen: list[pd.DataFrame] = []

    def predict(self, records: pd.DataFrame) -> pd.DataFrame:
        self.seen.append(records)
        return pd.DataFrame({"risk_score": self.risk[records["row"].to_numpy()]})


def test_compare_models_scores_the_records_with_both_models():
    frame, truth = outcomes(4000, seed=11)
    frame = frame.assign(row=np.arange(len(frame))).set_axis(np.arange(len(frame)) * 3)  # any index
    rng = np.random.default_rng(111)
    new, champion = Scorer(truth * 0.6 + rng.random(len(frame))), Scorer(rng.random(len(frame)))
    c = compare_models(new, champion, frame, n_boot=500, seed=3)  # type: ignore[arg-type]
    assert c == compare_scores(frame.reset_index(drop=True), new.risk, champion.risk, n_boot=500, seed=3)
    assert len(new.seen) == len(champion.seen) == 1
    with pytest.raises(
        ParameterError, match="records must be a pandas DataFrame with inspection outcomes; got list"
    ):
        compare_models(new, champion, frame.to_dict("records"))  # type: ignore[arg-type]
