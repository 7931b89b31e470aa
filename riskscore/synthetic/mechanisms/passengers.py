"""The planted passenger violations P1-P4, each written once (docs/domain.md 3.1, 3.2, 4.2).

A passenger violation does not turn true values into false ones as a shipment mechanism does: it changes
the distribution the trip's API/PNR fields are drawn from (booking lead time, payment form, ticket type,
trip duration, bag weight, party size, transit, currency declared).

The fields depend on the traveller, not only on the trip's violation, and they are correlated within a
trip. Each trip has a latent **style** (:data:`STYLES`: business, leisure, shuttle) drawn with
probabilities that depend on the traveller's latent type (a courier shuttles on most of his trips, also on
those where he carries nothing) and are tilted by the trip's violation; every field is then drawn from the
style's :class:`TripProfile`, changed by the violation's :class:`TripEffect`. So a courier's clean trips
look like his other trips (booked late, paid cash, short), and booking, payment, ticket and duration move
together.

:func:`draw_fields` samples trips and :func:`log_densities` evaluates, for each hypothesis, the exact
probability of the visible fields given the traveller's type: a mixture over the styles. Booking lead
(whole days), trip duration and bag weight (tenths) are visible as discretised, bounded log-normals, so
their probabilities are tabulated exactly from the normal CDF (:func:`_binned_log_probs`); party size is a
Poisson, the categorical fields are tables. Only the declared currency amount is continuous (a log-normal
density, rounded to whole dollars in the output).

Effect sizes are design defaults anchored on docs/domain.md 3.1 (booking lead median 20-30 days, 5-10% at 0-2
days; cash 2-5%; one-way 10-25%; bags 0-60 kg) and 4.2 "Violation <-> features".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln, ndtr, ndtri

from riskscore.synthetic._stats import log_diff_ndtr, norm_logpdf
from riskscore.synthetic.scenario import PASSENGER_MECHANISMS, TRAVELLER_TYPES

__all__ = [
    "BAG_MAX_KG",
    "BOOKED_MAX_DAYS",
    "DURATION_MAX_DAYS",
    "HYPOTHESES",
    "MECHANISMS",
    "NO_EFFECT",
    "STYLES",
    "STYLE_BY_TYPE",
    "STYLE_PROFILES",
    "PassengerMechanism",
    "TripEffect",
    "TripProfile",
    "draw_fields",
    "log_densities",
]

Int = NDArray[np.int64]
Float = NDArray[np.float64]

STYLES = ("business", "leisure", "shuttle")
BOOKED_MAX_DAYS = 365  # tickets go on sale about a year ahead: days booked before travel is 0..364
DURATION_MAX_DAYS = 365.0  # round trips return within a year
BAG_MAX_KG = 60.0  # docs/domain.md 3.1: 0-4 bags, 0-60 kg
_TENTH = 0.1
_PARTY_MAX = 40  # others on the booking: the Poisson table's length (rates are below 3)


@dataclass(frozen=True)
class TripProfile:
    """How a trip's fields are distributed in one trip style without a violation.

    Booking lead, duration and bag weight are log-normals (median, sigma) truncated at their maxima.
    """

    booked_median: float  # days booked before travel (air only)
    booked_sigma: float
    payment: tuple[float, float, float, float]  # P(card, transfer, cash, miles) (air only)
    ticket: tuple[float, float, float]  # P(round trip, one way, multi-city) (air only)
    duration_median: float  # days away, round trips only
    duration_sigma: float
    bag_median: float  # kg
    bag_sigma: float
    party_extra: float  # others on the booking: Poisson rate
    transit: float  # P(in transit) (air only)
    currency_declared: float  # P(declares currency)
    currency_median: float  # USD declared, when declared
    currency_sigma: float
    declared_red: float  # P(walks the red "goods to declare" channel)


@dataclass(frozen=True)
class TripEffect:
    """What a violation changes in a trip, relative to the trip's style (factors and odds multipliers)."""

    style: tuple[float, float, float]  # odds multipliers on P(style | traveller type)
    booked: float  # factor on the booking-lead median
    payment: tuple[float, float, float, float]  # odds multipliers on the payment forms
    ticket: tuple[float, float, float]  # odds multipliers on the ticket types
    duration: float  # factor on the duration median
    bag: float  # factor on the bag-weight median
    party: float  # factor on the Poisson rate of companions
    transit: float  # odds multiplier on being in transit
    currency: float  # factor on P(declares currency)
    currency_median: float  # USD declared when declared; 0 keeps the style's
    declared_red: float  # factor on P(walks the red channel)


NO_EFFECT = TripEffect(
    style=(1.0, 1.0, 1.0),
    booked=1.0,
    payment=(1.0, 1.0, 1.0, 1.0),
    ticket=(1.0, 1.0, 1.0),
    duration=1.0,
    bag=1.0,
    party=1.0,
    transit=1.0,
    currency=1.0,
    currency_median=0.0,
    declared_red=1.0,
)


@dataclass(frozen=True)
class PassengerMechanism:
    """One planted violation: how often, what it does to the trip's fields, what is at stake."""

    name: str
    serious: bool  # docs/domain.md 4.2: cash over the threshold, gold, drugs
    route_column: str  # routes.csv column: how much more often on this route than on an ordinary one
    effect: TripEffect
    value_median: float  # USD value of what is carried undeclared (log-normal)
    value_sigma: float
    tax_rate: float  # tax at stake on that value (P2: duty + VAT on phones and cosmetics; P3: gold duty)

    def __repr__(self) -> str:
        return f"<mechanism {self.name}>"


# Trip styles (in the order of STYLES): business trips are booked a couple of weeks ahead, short, light
# and alone; leisure trips are booked a month ahead, last a week or more, in company with heavier bags;
# shuttle trips (border traders, couriers, frequent visitors) are booked days ahead, often paid cash and
# one way, and last a day or three.
STYLE_PROFILES: tuple[TripProfile, ...] = (
    TripProfile(
        booked_median=14.0,
        booked_sigma=0.9,
        payment=(0.80, 0.15, 0.01, 0.04),
        ticket=(0.78, 0.14, 0.08),
        duration_median=4.0,
        duration_sigma=0.6,
        bag_median=12.0,
        bag_sigma=0.4,
        party_extra=0.15,
        transit=0.15,
        currency_declared=0.04,
        currency_median=8000.0,
        currency_sigma=0.7,
        declared_red=0.01,
    ),
    TripProfile(
        booked_median=38.0,
        booked_sigma=0.8,
        payment=(0.895, 0.05, 0.015, 0.04),
        ticket=(0.88, 0.10, 0.02),
        duration_median=9.0,
        duration_sigma=0.7,
        bag_median=19.0,
        bag_sigma=0.35,
        party_extra=1.0,
        transit=0.12,
        currency_declared=0.03,
        currency_median=8000.0,
        currency_sigma=0.7,
        declared_red=0.02,
    ),
    TripProfile(
        booked_median=4.0,
        booked_sigma=1.0,
        payment=(0.74, 0.08, 0.16, 0.02),
        ticket=(0.58, 0.40, 0.02),
        duration_median=2.5,
        duration_sigma=0.5,
        bag_median=16.0,
        bag_sigma=0.45,
        party_extra=0.4,
        transit=0.10,
        currency_declared=0.05,
        currency_median=6000.0,
        currency_sigma=0.7,
        declared_red=0.02,
    ),
)

#: P(style) of a traveller type's trips without a violation: the traveller's habits.
STYLE_BY_TYPE: dict[str, tuple[float, float, float]] = {
    "ordinary": (0.26, 0.68, 0.06),
    "shopper": (0.05, 0.40, 0.55),
    "courier": (0.10, 0.10, 0.80),
    "mule": (0.15, 0.40, 0.45),
}

# P1 undeclared cash: booked late, paid in cash, short or one-way trips; declares a small sum more often.
P1 = PassengerMechanism(
    name="P1",
    serious=True,
    route_column="p1",
    effect=TripEffect(
        style=(1.0, 0.3, 3.0),
        booked=0.6,
        payment=(1.0, 1.0, 4.0, 0.5),
        ticket=(1.0, 2.5, 1.0),
        duration=0.7,
        bag=0.9,
        party=0.7,
        transit=1.5,
        currency=4.0,
        currency_median=2500.0,
        declared_red=0.5,
    ),
    value_median=40000.0,
    value_sigma=0.9,
    tax_rate=0.0,
)
# P2 goods for resale (phones, cosmetics): heavy bags on short round trips, in company.
P2 = PassengerMechanism(
    name="P2",
    serious=False,
    route_column="p2",
    effect=TripEffect(
        style=(0.3, 1.0, 3.0),
        booked=0.8,
        payment=(1.0, 1.0, 1.5, 1.0),
        ticket=(1.0, 0.8, 1.0),
        duration=0.7,
        bag=1.9,
        party=1.3,
        transit=0.8,
        currency=1.0,
        currency_median=0.0,
        declared_red=0.7,
    ),
    value_median=3000.0,
    value_sigma=0.9,
    tax_rate=0.30,
)
# P3 gold: carried on the body in groups, light bags, very short trips (docs/domain.md 3.2 Bangkok route).
P3 = PassengerMechanism(
    name="P3",
    serious=True,
    route_column="p3",
    effect=TripEffect(
        style=(0.5, 0.3, 3.0),
        booked=0.6,
        payment=(1.0, 1.0, 3.0, 0.5),
        ticket=(1.0, 2.0, 1.0),
        duration=0.6,
        bag=0.75,
        party=2.0,
        transit=1.5,
        currency=1.0,
        currency_median=0.0,
        declared_red=0.5,
    ),
    value_median=60000.0,
    value_sigma=0.8,
    tax_rate=0.10,
)
# P4 drugs and precursors: booked at the last minute, alone, one way, often in transit.
P4 = PassengerMechanism(
    name="P4",
    serious=True,
    route_column="p4",
    effect=TripEffect(
        style=(1.0, 0.5, 2.0),
        booked=0.4,
        payment=(1.0, 0.5, 3.0, 0.5),
        ticket=(1.0, 4.0, 1.0),
        duration=1.0,
        bag=0.7,
        party=0.1,
        transit=5.0,
        currency=0.3,
        currency_median=0.0,
        declared_red=0.25,
    ),
    value_median=50000.0,
    value_sigma=1.0,
    tax_rate=0.0,
)

# Hypothesis order: the oracle's columns after "none", the order a trip's violation is drawn in,
# truth_mechanism's categories.
MECHANISMS: tuple[PassengerMechanism, ...] = (P1, P2, P3, P4)
if tuple(m.name for m in MECHANISMS) != PASSENGER_MECHANISMS:
    raise RuntimeError(
        f"passenger mechanisms {[m.name for m in MECHANISMS]} must match scenario.PASSENGER_MECHANISMS "
        f"{list(PASSENGER_MECHANISMS)} in the same order; add or reorder the mechanism in both"
    )
HYPOTHESES = ("none", *(m.name for m in MECHANISMS))
EFFECTS: tuple[TripEffect, ...] = (NO_EFFECT, *(m.effect for m in MECHANISMS))
if tuple(STYLE_BY_TYPE) != TRAVELLER_TYPES:
    raise RuntimeError(f"STYLE_BY_TYPE must list the traveller types {list(TRAVELLER_TYPES)} in order")


def _tilt(p: Any, odds: Any) -> Float:
    """Categorical probabilities ``p`` with each category's odds multiplied by ``odds``, renormalised."""
    w = np.asarray(p, dtype=np.float64) * np.asarray(odds, dtype=np.float64)
    return np.asarray(w / w.sum(), dtype=np.float64)


def _grid(name: str) -> Float:
    """Array over (style, hypothesis) of one scalar parameter, with the hypothesis' effect applied."""
    out = np.empty((len(STYLES), len(HYPOTHESES)))
    for s, pr in enumerate(STYLE_PROFILES):
        for h, ef in enumerate(EFFECTS):
            base = float(getattr(pr, name))
            if name in ("booked_median", "duration_median", "bag_median"):
                base *= getattr(ef, name.removesuffix("_median"))
            elif name == "party_extra":
                base *= ef.party
            elif name == "currency_declared":
                base = min(base * ef.currency, 0.9)
            elif name == "currency_median":
                base = ef.currency_median or base
            elif name == "declared_red":
                base = min(base * ef.declared_red, 0.9)
            elif name == "transit":
                base = base * ef.transit / (1 - base + base * ef.transit)
            out[s, h] = base
    return out


def _cat_grid(name: str) -> Float:
    """(style, hypothesis, category) probabilities of a categorical field with the effect's odds."""
    return np.array(
        [[_tilt(getattr(pr, name), getattr(ef, name)) for ef in EFFECTS] for pr in STYLE_PROFILES]
    )


def _binned_log_probs(median: Float, sigma: Float, step: float, upper: float) -> Float:
    """(bins, style, hypothesis) log P(floor(X / step) = k), X log-normal truncated to (0, upper]."""
    edges = np.arange(round(upper / step) + 1) * step
    with np.errstate(divide="ignore"):
        z = (np.log(edges)[:, None, None] - np.log(median)) / sigma
    lo, hi = z[:-1], z[1:]
    log_norm = np.log(ndtr((np.log(upper) - np.log(median)) / sigma))
    out = log_diff_ndtr(hi, lo) - log_norm
    return np.asarray(np.maximum(out, -700.0), dtype=np.float64)


# Every parameter over (style, hypothesis); the oracle's tables over (value, style, hypothesis).
_P: dict[str, Float] = {
    name: _grid(name)
    for name in (
        "booked_median",
        "booked_sigma",
        "duration_median",
        "duration_sigma",
        "bag_median",
        "bag_sigma",
        "party_extra",
        "transit",
        "currency_declared",
        "currency_median",
        "currency_sigma",
        "declared_red",
    )
}
_PAYMENT = _cat_grid("payment")
_TICKET = _cat_grid("ticket")
_STYLE = np.array(
    [[_tilt(STYLE_BY_TYPE[t], ef.style) for ef in EFFECTS] for t in TRAVELLER_TYPES]
)  # (type, hypothesis, style)
_STYLE_CUM = np.cumsum(_STYLE, axis=2)
_STYLE_CUM[..., -1] = 1.0
_FIELDS = ("booked", "duration", "bag")
_STEP = {"booked": 1.0, "duration": _TENTH, "bag": _TENTH}
_UPPER = {"booked": float(BOOKED_MAX_DAYS), "duration": DURATION_MAX_DAYS, "bag": BAG_MAX_KG}
_MASS = {  # P(X <= upper) of the untruncated log-normal, per (style, hypothesis)
    f: ndtr((np.log(_UPPER[f]) - np.log(_P[f"{f}_median"])) / _P[f"{f}_sigma"]) for f in _FIELDS
}
_LOG_BINNED = {
    f: _binned_log_probs(_P[f"{f}_median"], _P[f"{f}_sigma"], _STEP[f], _UPPER[f]) for f in _FIELDS
}
_k = np.arange(_PARTY_MAX + 1)[:, None, None]
_LOG_PARTY = _k * np.log(_P["party_extra"]) - _P["party_extra"] - gammaln(_k + 1)  # (extra, style, hyp)


def _bernoulli(p: Float) -> Float:
    return np.asarray(np.log(np.stack([1 - p, p])), dtype=np.float64)


def _joint_table() -> Float:
    """Tabulate log P(style | type) plus the log-probabilities of the discrete fields (not the binned ones).

    One table over (type, air, party, declared red, currency declared, payment, ticket, transit), flattened
    to (index, style, hypothesis) and indexed by :func:`_joint_index`: the oracle reads them in one gather.
    Land crossings (air = 0) carry no booking fields: their payment, ticket and transit slots are 0.
    """
    air_terms = (
        np.log(_PAYMENT).transpose(2, 0, 1)[:, None, None, :, :]
        + np.log(_TICKET).transpose(2, 0, 1)[None, :, None, :, :]
        + _bernoulli(_P["transit"])[None, None, :, :, :]
    )  # (payment, ticket, transit, style, hypothesis)
    booking = np.stack([np.zeros_like(air_terms), air_terms])  # (air, payment, ticket, transit, s, h)
    common = (
        _LOG_PARTY[:, None, None]
        + _bernoulli(_P["declared_red"])[None, :, None]
        + _bernoulli(_P["currency_declared"])[None, None, :]
    )  # (party, declared red, currency declared, style, hypothesis)
    table = (
        np.log(_STYLE).transpose(0, 2, 1)[:, None, None, None, None, None, None, None]  # type
        + booking[None, :, None, None, None]
        + common[None, None, :, :, :, None, None, None]
    )
    return np.ascontiguousarray(table.reshape(-1, len(STYLES), len(HYPOTHESES)))


def _joint_index(ctx: dict[str, Any], f: dict[str, Any]) -> Int:
    air = (~ctx["land"]).astype(np.int64)
    idx = ctx["type"] * 2 + air
    idx = idx * (_PARTY_MAX + 1) + np.minimum(f["party"] - 1, _PARTY_MAX)
    idx = idx * 2 + f["declared_red"]
    idx = idx * 2 + (f["currency"] > 0)
    idx = idx * 4 + air * f["payment"]
    idx = idx * 3 + air * f["ticket"]
    return np.asarray(idx * 2 + f["transit"], dtype=np.int64)


_LOG_JOINT = _joint_table()
# The binned fields with a last row of zeros: a record without the field (-1) reads that row.
_LOG_BINNED_OR_ZERO = {
    f: np.concatenate([_LOG_BINNED[f], np.zeros((1, len(STYLES), len(HYPOTHESES)))]) for f in _FIELDS
}


def _binned_draw(rng: np.random.Generator, field: str, cell: tuple[Int, Int]) -> Int:
    """Bin index of a truncated log-normal draw (inverse CDF of the truncated law), per record."""
    size = len(cell[0])
    mu = np.log(_P[f"{field}_median"][cell])
    sigma = _P[f"{field}_sigma"][cell]
    u = rng.random(size) * _MASS[field][cell]
    x = np.exp(mu + sigma * ndtri(u))
    bins = _LOG_BINNED[field].shape[0]
    return np.asarray(np.floor(x / _STEP[field]).clip(0, bins - 1), dtype=np.int64)


def draw_fields(rng: np.random.Generator, ctx: dict[str, Any], h: Int) -> dict[str, Any]:
    """Draw the trips' fields given the traveller's type ``ctx["type"]`` and the hypothesis ``h`` (0 = none).

    Returns the trip style (hidden) and the visible fields: ``booked`` (whole days, -1 on land),
    ``duration`` (tenths of a day, -1 unless an air round trip), ``bag`` (tenths of a kg), ``payment`` and
    ``ticket`` (codes, -1 on land), ``party`` (people on the booking), ``transit``, ``currency`` (USD
    declared, 0 when none) and ``declared_red``.
    """
    size = len(h)
    air = ~ctx["land"]
    cum = _STYLE_CUM[ctx["type"], h]
    style = (rng.random(size)[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int64)
    cell = (style, h)
    f: dict[str, Any] = {"style": style}
    f["booked"] = np.where(air, _binned_draw(rng, "booked", cell), -1)
    u = rng.random(size)
    pay = (u[:, None] >= np.cumsum(_PAYMENT[cell], axis=1)[:, :-1]).sum(axis=1)
    f["payment"] = np.where(air, pay, -1).astype(np.int64)
    u = rng.random(size)
    tic = (u[:, None] >= np.cumsum(_TICKET[cell], axis=1)[:, :-1]).sum(axis=1)
    f["ticket"] = np.where(air, tic, -1).astype(np.int64)
    f["duration"] = np.where(air & (f["ticket"] == 0), _binned_draw(rng, "duration", cell), -1)
    f["bag"] = _binned_draw(rng, "bag", cell)
    f["party"] = 1 + np.minimum(rng.poisson(_P["party_extra"][cell]), _PARTY_MAX)
    f["transit"] = air & (rng.random(size) < _P["transit"][cell])
    declared = rng.random(size) < _P["currency_declared"][cell]
    amount = rng.lognormal(np.log(_P["currency_median"][cell]), _P["currency_sigma"][cell])
    f["currency"] = np.where(declared, amount, 0.0)
    f["declared_red"] = rng.random(size) < _P["declared_red"][cell]
    return f


def log_densities(ctx: dict[str, Any], f: dict[str, Any]) -> Float:
    """(n, len(HYPOTHESES)) log P(visible fields | hypothesis, traveller type): a mixture over the styles.

    Factors every hypothesis shares (the context, the protected attributes, the Jacobian of the currency
    amount) are left out: they cancel in the posterior.
    """
    # (n, style, hypothesis): the style's prior for the traveller's type plus each field's log-probability
    out = _LOG_JOINT[_joint_index(ctx, f)]
    out += _LOG_BINNED["bag"][f["bag"]]
    out += _LOG_BINNED_OR_ZERO["booked"][f["booked"]]  # -1 (land) reads the zero row
    out += _LOG_BINNED_OR_ZERO["duration"][f["duration"]]  # -1 (no return leg) reads the zero row
    declared = np.flatnonzero(f["currency"] > 0)
    if len(declared):
        lc = np.log(f["currency"][declared])[:, None, None]
        out[declared] += norm_logpdf(lc, np.log(_P["currency_median"]), _P["currency_sigma"])
    # log-sum-exp over the three styles
    a, b, c = out[:, 0], out[:, 1], out[:, 2]
    m = np.maximum(np.maximum(a, b), c)
    return np.asarray(m + np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)), dtype=np.float64)
