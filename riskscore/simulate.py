"""Rehearse the operating loop: weeks of selection, outcomes, retraining and smugglers who adapt.

A risk unit does not train once. Each week the deployed model and policy choose what is inspected, only
what is inspected reveals its outcome (with each check's sensitivity, docs/domain.md 4.1), the model is
retrained on those outcomes, and smugglers move to whatever is inspected least (docs/domain.md 4.4 (b)).
A model retrained on its own selections grows blind to what it stopped looking at; a share of exploratory
inspections keeps it seeing (docs/domain.md 4.4: Kim et al., TKDE 2022; Mai et al., ICDM-W 2021).

:func:`simulate` runs that loop on the synthetic shipment world for several selection strategies side by
side, each in its own copy of the world (the smugglers react to what that strategy inspects), all at the
same inspection capacity:

* ``exploit``: the model's highest risks only (red by the red probability, yellow by risk);
* ``random-1``, ``random-5``, ``random-10``: that share (%) of the capacity drawn at random from the
  records the model did not pick, the rest as ``exploit``; their propensities feed retraining;
* ``ucb``: an upper-confidence bonus for HS chapters, origins and offices that recent inspections have
  rarely seen, added to the risk before ranking (exploration where knowledge is thin, not at random);
* ``legacy``: the scenario's legacy rules, as the generator applies them;
* ``oracle``: the generator's exact posterior, at the same capacity (the ceiling).

>>> from riskscore.simulate import STRATEGIES
>>> STRATEGIES[:2]
('exploit', 'random-1')
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore._progress import progress_bar
from riskscore.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.model import RiskModel
    from riskscore.synthetic.adversary import Adversary
    from riskscore.synthetic.generate import World

__all__ = ["STRATEGIES", "SimulationResult", "simulate"]

log = logging.getLogger(__name__)

#: The strategies :func:`simulate` knows, in the order it reports them.
STRATEGIES: tuple[str, ...] = ("exploit", "random-1", "random-5", "random-10", "ucb", "legacy", "oracle")
_MODEL_FREE = ("legacy", "oracle")
_CHANNELS = np.array(["green", "yellow", "red"])


@dataclass
class SimulationResult:
    """What :func:`simulate` measured.

    Attributes
    ----------
    periods : pandas.DataFrame
        One row per strategy and week: records, inspected, violations, caught, ``detection`` (caught /
        violations), ``hit_rate`` (caught / inspected), ``revenue`` (revenue at stake in the week),
        ``recovered`` (revenue of the violations caught), ``recovered_share``, ``retrained`` (a model was
        trained after this week), ``score_psi`` (drift of the risk score against the model's training
        data, when monitoring ran), and ``caught_<mechanism>`` (share of each mechanism's records caught).
    moves : pandas.DataFrame
        The adversary's moves per strategy: first day, mechanism, the detection rate that triggered it.
    settings : dict
        The arguments of the run.
    """

    periods: pd.DataFrame
    moves: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Cumulative figures per strategy: detection, hit rate, revenue recovered, against the oracle.

        ``vs_oracle`` is the strategy's cumulative revenue recovered over the oracle's; ``vs_exploit`` over
        exploitation only's (when both ran).
        """
        p = self.periods
        g = p.groupby("strategy", sort=False)
        out = pd.DataFrame(
            {
                "weeks": g["week"].nunique(),
                "inspected": g["inspected"].sum(),
                "violations": g["violations"].sum(),
                "caught": g["caught"].sum(),
                "revenue": g["revenue"].sum(),
                "recovered": g["recovered"].sum(),
                "retrainings": g["retrained"].sum(),
            }
        )
        out["detection"] = out["caught"] / out["violations"].clip(lower=1)
        out["hit_rate"] = out["caught"] / out["inspected"].clip(lower=1)
        out["recovered_share"] = out["recovered"] / out["revenue"].clip(lower=1e-9)
        oracle = out["recovered"].get("oracle")
        exploit = out["recovered"].get("exploit")
        out["vs_oracle"] = out["recovered"] / oracle if oracle else np.nan
        out["vs_exploit"] = out["recovered"] / exploit if exploit else np.nan
        return out

    def __repr__(self) -> str:
        s = self.summary()
        best = s.drop(index=[i for i in _MODEL_FREE if i in s.index])["vs_oracle"]
        top = f", best {best.idxmax()} {best.max():.2f} of the oracle's revenue" if best.notna().any() else ""
        weeks = int(self.periods["week"].nunique())
        return f"SimulationResult({len(s)} strategies x {weeks} weeks{top})"

    def to_html(self) -> str:
        """Return a self-contained page: the summary table and the weekly curves (inline SVG)."""
        from riskscore._plots import inline_svg, pyplot  # matplotlib loads only for the page

        plt = pyplot("the simulation page")
        s = self.summary().round(3)
        figures = [inline_svg(_cumulative(plt, self.periods))]
        for column, title in (
            ("recovered_share", "Share of the week's revenue at stake recovered"),
            ("detection", "Detection: share of the week's violations caught"),
            ("hit_rate", "Hit rate: share of inspections finding a violation"),
        ):
            figures.append(inline_svg(_curve(plt, self.periods, column, title)))
        rows = "".join(
            "<tr>"
            + f"<th>{html.escape(str(name))}</th>"
            + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
            + "</tr>"
            for name, row in zip(s.index, s.to_numpy().tolist(), strict=True)
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in ["strategy", *s.columns])
        settings = html.escape(", ".join(f"{k}={v}" for k, v in self.settings.items()))
        images = "".join(f"<figure>{svg}</figure>" for svg in figures)
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>riskscore simulation</title>'
            "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:"
            "collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}img{max-width:100%}"
            "</style></head><body><h1>Operating loop simulation</h1>"
            f"<p>{settings}</p><table><tr>{head}</tr>{rows}</table>{images}</body></html>"
        )

    def save_html(self, path: str | Path) -> Path:
        """Write :meth:`to_html` to ``path`` atomically; return the path."""
        from riskscore._io import atomic_write_text, check_output

        return atomic_write_text(check_output(path, (".html", ".htm")), self.to_html())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _curve(plt: Any, periods: pd.DataFrame, column: str, title: str) -> Any:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for name, part in periods.groupby("strategy", sort=False):
        ax.plot(part["week"], part[column], label=str(name), lw=1.5)
    ax.set_title(title)
    ax.set_xlabel("week")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


def _cumulative(plt: Any, periods: pd.DataFrame) -> Any:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for name, part in periods.groupby("strategy", sort=False):
        ax.plot(part["week"], part["recovered"].cumsum() / 1e6, label=str(name), lw=1.8)
    ax.set_title("Cumulative revenue recovered (USD million)")
    ax.set_xlabel("week")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


# -- selection ------------------------------------------------------------------------------------------


@dataclass
class _Capacity:
    red: int
    yellow: int


def _top(score: NDArray[np.float64], k: int, allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Mark the ``k`` highest scores among ``allowed`` (ties by position)."""
    out = np.zeros(len(score), dtype=bool)
    idx = np.flatnonzero(allowed)
    if k <= 0 or len(idx) == 0:
        return out
    order = idx[np.argsort(-score[idx], kind="stable")[:k]]
    out[order] = True
    return out


def _rank_select(p_red: NDArray[np.float64], risk: NDArray[np.float64], cap: _Capacity) -> NDArray[np.int64]:
    """Channels: the top ``cap.red`` by red probability red, then the top ``cap.yellow`` by risk yellow."""
    everyone = np.ones(len(risk), dtype=bool)
    red = _top(p_red, cap.red, everyone)
    yellow = _top(risk, cap.yellow, ~red)
    return np.where(red, 2, np.where(yellow, 1, 0)).astype(np.int64)


def _explore(
    channel: NDArray[np.int64],
    p_red: NDArray[np.float64],
    risk: NDArray[np.float64],
    cap: _Capacity,
    share: float,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Give ``share`` of the capacity to records drawn at random outside the model's picks.

    Returns the channels and each record's selection propensity (1 for the model's picks, the draw's
    probability for the others).
    """
    n_red, n_yellow = round(cap.red * share), round(cap.yellow * share)
    model = _rank_select(p_red, risk, _Capacity(cap.red - n_red, cap.yellow - n_yellow))
    rest = np.flatnonzero(model == 0)
    picks = rng.choice(rest, size=min(n_red + n_yellow, len(rest)), replace=False)
    out = model.copy()
    out[picks[:n_red]] = 2
    out[picks[n_red:]] = 1
    q = len(picks) / max(len(rest), 1)
    propensity = np.where(model > 0, 1.0, q)
    return out, propensity


@dataclass
class _Explorer:
    """Upper-confidence bonus for cells (HS chapter, origin, office) that recent inspections rarely saw."""

    weight: float
    memory_weeks: int = 8
    seen: list[dict[str, pd.Series]] = field(default_factory=list)

    @staticmethod
    def _cells(frame: pd.DataFrame) -> dict[str, pd.Series]:
        return {
            "hs2": frame["hs_code"].astype(str).str[:2],
            "origin": frame["origin_country"].astype(str),
            "office": frame["office_code"].astype(str),
        }

    def remember(self, frame: pd.DataFrame, inspected: NDArray[np.bool_]) -> None:
        cells = self._cells(frame)
        self.seen.append({k: v[inspected].value_counts() for k, v in cells.items()})
        self.seen = self.seen[-self.memory_weeks :]

    def bonus(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        total = np.zeros(len(frame))
        for dim, values in self._cells(frame).items():
            counts = pd.Series(0.0, index=pd.Index([], dtype=object))
            for week in self.seen:
                counts = counts.add(week[dim].astype(np.float64), fill_value=0.0)
            n = values.map(counts).fillna(0.0).to_numpy(dtype=np.float64)
            total += 1.0 / np.sqrt(1.0 + n)
        return self.weight * total / 3.0


# -- the loop -------------------------------------------------------------------------------------------


def _observed(
    frame: pd.DataFrame, channel: NDArray[np.int64], found: NDArray[np.bool_], propensity: NDArray[np.float64]
) -> pd.DataFrame:
    """Return the week's records with the outcome columns of the checks made (the spec's [labels])."""
    out = frame.copy()
    inspected = channel > 0
    truth = out["truth_channel"].astype(str).to_numpy()
    out["legacy_channel"] = pd.Categorical(_CHANNELS[channel], categories=list(_CHANNELS))
    out["legacy_reason"] = pd.Categorical(
        np.where(inspected, np.where(propensity < 1.0, "random", "rule"), "none"),
        categories=["none", "rule", "regulatory", "random", "officer"],
    )
    out["selection_propensity"] = propensity
    out["inspected"] = inspected
    out["observed_label"] = pd.arrays.BooleanArray(inspected & found, mask=~inspected)
    out["observed_channel"] = pd.Categorical(
        pd.Series(np.where(found, truth, "green")).where(inspected), categories=list(_CHANNELS)
    )
    return out


def _found(
    world: World, frame: pd.DataFrame, channel: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Which checks find their record's violation: per mechanism and check type (docs/domain.md 4.1)."""
    from riskscore.synthetic.inspection import Selection, inspect
    from riskscore.synthetic.scenario import SHIPMENT_MECHANISMS

    mech = frame["truth_mechanism"].astype(object).to_numpy()
    index = {m: i + 1 for i, m in enumerate(SHIPMENT_MECHANISMS)}
    hypothesis = np.array([index.get(m, 0) if isinstance(m, str) else 0 for m in mech], dtype=np.int64)
    n = len(frame)
    selection = Selection(
        channel=channel, reason=np.full(n, "rule"), propensity=np.ones(n), truth_propensity=np.ones(n)
    )
    return inspect(rng, selection, hypothesis, world.state.detect_red, world.state.detect_yellow)


def _week_figures(
    strategy: str, week: int, frame: pd.DataFrame, channel: NDArray[np.int64], found: NDArray[np.bool_]
) -> dict[str, Any]:
    violation = frame["truth_violation"].to_numpy(dtype=bool)
    revenue = frame["truth_revenue_at_stake_usd"].to_numpy(dtype=np.float64)
    inspected = channel > 0
    caught = found & inspected
    row: dict[str, Any] = {
        "strategy": strategy,
        "week": week,
        "records": len(frame),
        "inspected": int(inspected.sum()),
        "red": int((channel == 2).sum()),
        "violations": int(violation.sum()),
        "caught": int(caught.sum()),
        "revenue": float(revenue.sum()),
        "recovered": float(revenue[caught].sum()),
    }
    row["detection"] = row["caught"] / max(row["violations"], 1)
    row["hit_rate"] = row["caught"] / max(row["inspected"], 1)
    row["recovered_share"] = row["recovered"] / max(row["revenue"], 1e-9)
    mech = frame["truth_mechanism"].astype(object).to_numpy()
    for m in sorted({m for m in mech if isinstance(m, str)}, key=lambda m: int(m[1:])):
        mine = mech == m
        row[f"caught_{m}"] = float(caught[mine].mean())
    return row


def _check(
    strategies: Sequence[str],
    weeks: int,
    history_weeks: int,
    records_per_week: int,
    retrain_every: int,
    window_weeks: int | None,
) -> None:
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ParameterError(
            f"strategies must be a non-empty list of {', '.join(STRATEGIES)}; got {list(strategies)!r}"
        )
    for name, value, low in (
        ("weeks", weeks, 1),
        ("history_weeks", history_weeks, 4),
        ("records_per_week", records_per_week, 1_000),
        ("retrain_every", retrain_every, 1),
        *([("window_weeks", window_weeks, retrain_every)] if window_weeks is not None else []),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParameterError(f"{name} must be a whole number >= {low}; got {value!r}")


def simulate(
    *,
    weeks: int = 26,
    strategies: Sequence[str] | None = None,
    history_weeks: int = 16,
    records_per_week: int = 10_000,
    retrain_every: int = 4,
    retrain_on_drift: bool = True,
    window_weeks: int | None = None,
    adversary: bool | Adversary = True,
    red_share: float | None = None,
    yellow_share: float | None = None,
    ucb_weight: float = 0.05,
    scenario: Any = "default",
    seed: int = 0,
    num_threads: int = 2,
    progress: bool | None = None,
) -> SimulationResult:
    """Run the weekly selection loop for each strategy on its own copy of the synthetic shipment world.

    Parameters
    ----------
    weeks
        Weekly periods after the history.
    strategies
        Names from :data:`STRATEGIES` (default: all of them).
    history_weeks
        Weeks of legacy-selected history the first model is trained on.
    records_per_week
        Declarations per week (on average; the scenario's calendar shapes the days).
    retrain_every
        Retrain the model on all outcomes so far every this many weeks.
    window_weeks
        Retrain on the outcomes of the last this many weeks only (a rolling window, as units do when old
        outcomes go stale); default: every outcome since the history began. With a window, the legacy
        history leaves the training data after ``window_weeks`` and a strategy learns only from its own
        selections.
    retrain_on_drift
        Also retrain after a week whose risk scores drifted from the model's training data (population
        stability index above the model's "act" band, :func:`riskscore.monitor`), when the model carries
        monitoring state.
    adversary
        True for the default :class:`~riskscore.synthetic.adversary.Adversary`, False for none (only the
        scenario's scheduled drift), or a configured one (a fresh copy per strategy).
    red_share, yellow_share
        Inspection capacity per week as shares of the records; default: the default shipment policy's
        targets plus its random shares (docs/domain.md 1.3).
    ucb_weight
        Size of the ``ucb`` strategy's exploration bonus, in risk units.
    scenario, seed
        The synthetic world (every strategy starts from the same one).
    num_threads
        LightGBM threads for training and scoring.
    progress
        Show a progress bar over strategies x weeks.

    Returns
    -------
    SimulationResult
    """
    import copy

    from riskscore.policy import default_policy
    from riskscore.spec import load_spec
    from riskscore.synthetic.adversary import Adversary
    from riskscore.synthetic.generate import World

    strategies = list(STRATEGIES if strategies is None else strategies)
    _check(strategies, weeks, history_weeks, records_per_week, retrain_every, window_weeks)
    spec = load_spec("shipment")
    policy = default_policy(spec)
    red = policy.red_share + policy.random_red if red_share is None else float(red_share)
    yellow = policy.yellow_share + policy.random_yellow if yellow_share is None else float(yellow_share)
    if not (0 < red and 0 <= yellow and red + yellow < 1):
        raise ParameterError(
            f"red_share and yellow_share must be shares with 0 < red, red + yellow < 1; got {red}, {yellow}"
        )
    template = Adversary() if adversary is True else adversary if adversary else None
    days = 7 * (history_weeks + weeks)
    rows, moves = [], []
    settings = {
        "weeks": weeks,
        "history_weeks": history_weeks,
        "records_per_week": records_per_week,
        "retrain_every": retrain_every,
        "window_weeks": window_weeks,
        "red_share": round(red, 4),
        "yellow_share": round(yellow, 4),
        "adversary": template is not None,
        "seed": seed,
    }
    with progress_bar(progress, total=len(strategies) * weeks, desc="simulate", unit="weeks") as bar:
        bar.unit_scale = False
        for strategy in strategies:
            started = time.perf_counter()
            world = World(
                "shipments",
                records_per_week * (history_weeks + weeks),
                seed=seed,
                scenario=scenario,
                days=days,
            )
            adv = copy.deepcopy(template)
            rows += _run(
                strategy,
                world,
                adv,
                weeks=weeks,
                history_weeks=history_weeks,
                retrain_every=retrain_every,
                retrain_on_drift=retrain_on_drift,
                window_weeks=window_weeks,
                red=red,
                yellow=yellow,
                ucb_weight=ucb_weight,
                seed=seed,
                num_threads=num_threads,
                bar=bar,
            )
            if adv is not None:
                moves += [
                    {
                        "strategy": strategy,
                        "first_day": m.first_day,
                        "mechanism": m.mechanism,
                        "detection": m.detection,
                        "committed": m.committed,
                    }
                    for m in adv.moves
                ]
            log.info("simulated %s: %d weeks in %.1f s", strategy, weeks, time.perf_counter() - started)
    columns = ["strategy", "first_day", "mechanism", "detection", "committed"]
    return SimulationResult(pd.DataFrame(rows), pd.DataFrame(moves, columns=columns), settings)


def _run(
    strategy: str,
    world: World,
    adversary: Adversary | None,
    *,
    weeks: int,
    history_weeks: int,
    retrain_every: int,
    retrain_on_drift: bool,
    window_weeks: int | None,
    red: float,
    yellow: float,
    ucb_weight: float,
    seed: int,
    num_threads: int,
    bar: Any,
) -> list[dict[str, Any]]:
    """One strategy's weeks: select, reveal, let the smugglers react, retrain on schedule."""
    from riskscore.training import train

    rng = np.random.default_rng(np.random.SeedSequence([seed, 7, STRATEGIES.index(strategy)]))
    history = [world.records(0, 7 * history_weeks)]  # selected by the legacy rules, as generated
    model: RiskModel | None = None
    if strategy not in _MODEL_FREE:
        model = train(
            history[0], kind="shipment", test_fraction=0.0, num_threads=num_threads, seed=seed
        ).model
    explorer = _Explorer(ucb_weight) if strategy == "ucb" else None
    if explorer is not None:
        explorer.remember(history[0], history[0]["inspected"].to_numpy(dtype=bool))
    share = {"random-1": 0.01, "random-5": 0.05, "random-10": 0.10}.get(strategy, 0.0)
    out = []
    for week in range(weeks):
        first = 7 * (history_weeks + week)
        frame = world.records(first, first + 7)
        n = len(frame)
        cap = _Capacity(round(red * n), round(yellow * n))
        propensity = np.ones(n)
        psi = np.nan
        if strategy == "legacy":
            channel = frame["legacy_channel"].cat.codes.to_numpy().astype(np.int64)
            found = frame["observed_label"].fillna(False).to_numpy(dtype=bool)
            propensity = frame["selection_propensity"].fillna(1.0).to_numpy(dtype=np.float64)
        else:
            if strategy == "oracle":
                p_red = frame["oracle_p_red"].to_numpy(dtype=np.float64)
                risk = frame["oracle_p_violation"].to_numpy(dtype=np.float64)
            else:
                assert model is not None
                scored = model.predict(frame, num_threads=num_threads)
                p_red = scored["p_red"].to_numpy(dtype=np.float64)
                risk = scored["risk_score"].to_numpy(dtype=np.float64)
                psi = _score_psi(model, risk) if retrain_on_drift else np.nan
            if explorer is not None:
                risk = risk + explorer.bonus(frame)
            if share > 0:
                channel, propensity = _explore(_rank_select(p_red, risk, cap), p_red, risk, cap, share, rng)
            else:
                channel = _rank_select(p_red, risk, cap)
            found = _found(world, frame, channel, rng)
        inspected = channel > 0
        observed = _observed(frame, channel, found & inspected, propensity)
        history.append(observed)
        if explorer is not None:
            explorer.remember(frame, inspected)
        if adversary is not None:
            adversary.observe(world.state, frame, inspected, found & inspected, first + 7)
        row = _week_figures(strategy, week + 1, frame, channel, found)
        row["score_psi"] = psi
        due = (week + 1) % retrain_every == 0 or (retrain_on_drift and psi > _act_band())
        row["retrained"] = bool(model is not None and due and week + 1 < weeks)
        if row["retrained"]:
            data = pd.concat(history, ignore_index=True)
            if window_weeks is not None:
                since = pd.Timestamp(world.start) + pd.Timedelta(days=first + 7 - 7 * window_weeks)
                data = data[pd.to_datetime(data["declared_at"]) >= since]
            model = train(data, kind="shipment", test_fraction=0.0, num_threads=num_threads, seed=seed).model
        out.append(row)
        bar.update()
    return out


def _score_psi(model: RiskModel, risk: NDArray[np.float64]) -> float:
    """PSI of the week's risk scores against the model's reference, or NaN without monitoring state."""
    from riskscore.monitoring import score_psi

    try:
        return float(score_psi(model, risk))
    except ParameterError:  # a model without monitoring state
        return float("nan")


def _act_band() -> float:
    """Return the PSI above which the score's drift calls for action (and a retraining)."""
    from riskscore.monitoring import PSI_BANDS

    return float(PSI_BANDS[1])
