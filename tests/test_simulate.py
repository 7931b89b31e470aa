"""The operating-loop simulation: selection under capacity, revealed outcomes, retraining, the page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskscore.exceptions import OutputError, ParameterError
from riskscore.simulate import SimulationResult, _Capacity, _explore, _rank_select, simulate

SMALL = {
    "history_weeks": 4,
    "records_per_week": 3_000,
    "retrain_every": 2,
    "num_threads": 1,
    "progress": False,
}


@pytest.fixture(scope="module")
def small_run() -> SimulationResult:
    return simulate(weeks=3, strategies=["exploit", "random-10", "oracle", "legacy"], seed=5, **SMALL)


def test_every_strategy_inspects_within_the_same_capacity(small_run):
    p = small_run.periods
    assert list(p["strategy"].unique()) == ["exploit", "random-10", "oracle", "legacy"]
    assert p.groupby("strategy", sort=False)["week"].apply(list).tolist() == [[1, 2, 3]] * 4
    for strategy in ("exploit", "random-10", "oracle"):
        part = p[p["strategy"] == strategy]
        expected = np.round(
            part["records"] * (small_run.settings["red_share"] + small_run.settings["yellow_share"])
        )
        assert (np.abs(part["inspected"] - expected) <= 1).all(), part[["records", "inspected"]]
    assert (p["caught"] <= p["inspected"]).all() and (p["caught"] <= p["violations"]).all()
    assert (p["recovered"] <= p["revenue"] + 1e-6).all()
    # the oracle at the same capacity is the ceiling of what is caught, week by week on average
    s = small_run.summary()
    assert s.loc["oracle", "vs_oracle"] == 1.0
    assert s.loc["oracle", "caught"] > s.loc["exploit", "caught"]
    assert s.loc["exploit", "retrainings"] >= 1 and s.loc["oracle", "retrainings"] == 0


def test_exploration_gives_part_of_the_capacity_to_random_records():
    rng = np.random.default_rng(0)
    n = 10_000
    risk = rng.random(n)
    p_red = risk * rng.random(n)
    cap = _Capacity(500, 1_500)
    model = _rank_select(p_red, risk, cap)
    assert (model == 2).sum() == 500 and (model == 1).sum() == 1_500
    channel, propensity = _explore(model, p_red, risk, cap, 0.10, rng)
    assert (channel == 2).sum() == 500 and (channel == 1).sum() == 1_500
    random_picks = (channel > 0) & (propensity < 1)
    assert random_picks.sum() == 200  # 10% of the capacity
    # they come from outside the model's picks, where every record had the same chance
    assert np.allclose(propensity[random_picks], 200 / (n - 1_800))
    assert risk[random_picks].mean() < risk[(channel > 0) & ~random_picks].mean()


def test_the_page_and_bad_arguments(small_run, tmp_path):
    page = small_run.save_html(tmp_path / "loop.html").read_text()
    assert page.count("<svg") == 4 and "random-10" in page and "<script" not in page
    with pytest.raises(OutputError, match="must end in"):
        small_run.save_html(tmp_path / "loop.txt")
    with pytest.raises(ParameterError, match="strategies must be"):
        simulate(weeks=1, strategies=["greedy"], **SMALL)
    with pytest.raises(ParameterError, match="weeks must be a whole number"):
        simulate(weeks=0, **SMALL)
    assert "strategies x 3 weeks" in repr(small_run)


def test_weekly_scores_are_checked_for_drift(small_run):
    p = small_run.periods
    # trained models carry monitoring state: each week's risk scores get a PSI; the oracle has no model
    assert p.loc[p["strategy"] == "exploit", "score_psi"].between(0.0, 10.0).all()
    assert p.loc[p["strategy"] == "oracle", "score_psi"].isna().all()


def test_command_line(tmp_path, capsys):
    import json

    from riskscore.cli import main

    argv = ["simulate", "--weeks", "2", "--strategies", "oracle", "legacy", "--history-weeks", "4"]
    argv += ["--records-per-week", "1000", "--threads", "1", "--csv", str(tmp_path / "weeks.csv"), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["strategy"] for row in out["summary"]] == ["oracle", "legacy"]
    assert len(pd.read_csv(tmp_path / "weeks.csv")) == 4
    assert main(["simulate", "--strategies", "greedy", "--weeks", "1"]) == 2
    assert "strategies must be" in capsys.readouterr().err


def test_a_rolling_window_retrains_on_the_last_weeks_only(monkeypatch):
    import riskscore.training

    seen: list[tuple[pd.Timestamp, pd.Timestamp, int]] = []
    real = riskscore.training.train

    def recording(data, **kwargs):
        times = pd.to_datetime(data["declared_at"])
        seen.append((times.min(), times.max(), len(data)))
        return real(data, **kwargs)

    monkeypatch.setattr(riskscore.training, "train", recording)
    args = {**SMALL, "history_weeks": 6, "retrain_every": 2, "records_per_week": 2_000}
    simulate(weeks=5, strategies=["exploit"], window_weeks=3, seed=3, **args)
    # the first model on the whole history, then retrainings after weeks 2 and 4 on the last 3 weeks only
    assert len(seen) == 3
    first, *later = seen
    assert (first[1] - first[0]).days >= 6 * 7 - 2
    for start, end, _ in later:
        assert (end - start).days <= 3 * 7
    assert later[-1][0] > later[0][0]  # the window moves on
    with pytest.raises(ParameterError, match="window_weeks must be a whole number >= 2"):
        simulate(weeks=1, strategies=["exploit"], window_weeks=1, **args)
