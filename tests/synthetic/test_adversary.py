"""The adaptive adversary moves a caught mechanism away from inspected cells; the oracle stays exact."""

from __future__ import annotations

import numpy as np
import pytest

from riskscore.exceptions import ParameterError
from riskscore.synthetic import World
from riskscore.synthetic.adversary import Adversary

WEEK = 7


def _world() -> World:
    return World("shipments", 120_000, seed=11, days=6 * WEEK)


def _chapter_share(frame, mechanism: str, chapters: set[str]) -> float:
    mine = frame["truth_mechanism"].astype(object) == mechanism
    hs2 = frame["hs_code"].astype(str).str[:2]
    return float((mine & hs2.isin(chapters)).sum() / max(mine.sum(), 1))


def test_caught_mechanism_moves_away_from_inspected_cells():
    still, moved = _world(), _world()
    first = moved.records(0, WEEK)
    # customs inspects every declaration of the five chapters where S1 is most common, and catches all
    hs2 = first["hs_code"].astype(str).str[:2]
    s1 = first["truth_mechanism"].astype(object) == "S1"
    hot = set(hs2[s1].value_counts().index[:5])
    inspected = hs2.isin(hot).to_numpy()
    caught = inspected & first["truth_violation"].to_numpy(dtype=bool)
    adversary = Adversary(threshold=0.05, step=2.0, fresh=1.0)
    steps = adversary.observe(moved.state, first, inspected, caught, next_day=WEEK)
    assert "S1" in {m.mechanism for m in adversary.moves}
    assert all(s.first_day == WEEK and s.mechanisms is not None for s in steps)
    # the same later weeks drawn in both worlds: the moved S1 avoids the inspected chapters
    unmoved, later = still.records(WEEK, 5 * WEEK), moved.records(WEEK, 5 * WEEK)
    before, after = _chapter_share(unmoved, "S1", hot), _chapter_share(later, "S1", hot)
    assert after < 0.7 * before, (before, after)
    # ...and moves rather than multiplies: about as many S1 records as without the move
    n_before = int((unmoved["truth_mechanism"].astype(object) == "S1").sum())
    n_after = int((later["truth_mechanism"].astype(object) == "S1").sum())
    assert abs(n_after - n_before) < 0.15 * n_before, (n_before, n_after)
    # nothing changes before the move's first day
    assert moved.records(0, WEEK).equals(still.records(0, WEEK))


def test_moves_keep_the_oracle_calibrated():
    world = _world()
    first = world.records(0, WEEK)
    inspected = (
        first["office_code"].astype(str).isin(first["office_code"].astype(str).value_counts().index[:3])
    )
    caught = inspected.to_numpy() & first["truth_violation"].to_numpy(dtype=bool)
    Adversary(threshold=0.0, step=2.0, fresh=2.0).observe(
        world.state, first, inspected.to_numpy(), caught, next_day=WEEK
    )
    later = world.records(WEEK, 6 * WEEK)
    expected = later["oracle_p_violation"].sum()
    observed = later["truth_violation"].sum()
    sd = float(np.sqrt((later["oracle_p_violation"] * (1 - later["oracle_p_violation"])).sum()))
    assert abs(observed - expected) < 4 * sd, (observed, expected, sd)


def test_fresh_ids_gain_violations():
    still, moved = _world(), _world()
    first = moved.records(0, WEEK)
    everything = np.ones(len(first), dtype=bool)
    caught = first["truth_violation"].to_numpy(dtype=bool)
    Adversary(threshold=0.0, step=0.0, fresh=3.0).observe(
        moved.state, first, everything, caught, next_day=WEEK
    )

    def fresh_rate(frame):
        fresh = frame["importer_registered_days"].to_numpy() < 90
        return float(frame["truth_violation"].to_numpy(dtype=bool)[fresh].mean())

    assert fresh_rate(moved.records(WEEK, 6 * WEEK)) > 1.5 * fresh_rate(still.records(WEEK, 6 * WEEK))


def test_bad_arguments_are_refused():
    with pytest.raises(ParameterError, match="threshold"):
        Adversary(threshold=1.5)
    world = _world()
    first = world.records(0, WEEK)
    with pytest.raises(ParameterError, match="one inspected and caught flag per record"):
        Adversary().observe(world.state, first, np.ones(3, bool), np.ones(3, bool), next_day=WEEK)
    with pytest.raises(ParameterError, match="first_day <= end_day"):
        world.records(5, 2)


def test_a_move_keeps_the_mechanism_volume():
    from riskscore.synthetic.shipments import mechanism_volume

    world = _world()
    first = world.records(0, WEEK)
    hs2 = first["hs_code"].astype(str).str[:2]
    s1 = first["truth_mechanism"].astype(object) == "S1"
    inspected = hs2.isin(set(hs2[s1].value_counts().index[:5])).to_numpy()
    caught = inspected & s1.to_numpy()  # only S1 is caught: only S1 moves
    before = {m: mechanism_volume(world.state, m, WEEK, 2 * WEEK) for m in ("S1", "S2")}
    other_seed = mechanism_volume(world.state, "S1", WEEK, 2 * WEEK, seed=1)
    steps = Adversary(threshold=0.05, step=2.0, fresh=1.5).observe(
        world.state, first, inspected, caught, next_day=WEEK
    )
    assert [s.mechanisms for s in steps] == [("S1",)]
    after = {m: mechanism_volume(world.state, m, WEEK, 2 * WEEK) for m in ("S1", "S2")}
    # the same contexts before and after: the moved mechanism's mean intensity is kept to 1%
    assert after["S1"] == pytest.approx(before["S1"], rel=0.01)
    # (the estimate itself: two draws of contexts agree to a few percent)
    assert other_seed == pytest.approx(before["S1"], rel=0.10)
    # a mechanism that did not move keeps its volume (up to the cap on a record's total intensity)
    assert after["S2"] == pytest.approx(before["S2"], rel=0.01)
    assert mechanism_volume(world.state, "S1", WEEK, WEEK) == 0.0  # an empty period
