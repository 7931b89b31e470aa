"""The planted passenger violations P1-P4, each written once (DOMAIN.md 3.1, 3.2, 4.2).

A passenger violation does not turn true values into false ones as a shipment mechanism does: it changes
the distribution the trip's API/PNR fields are drawn from (booking lead time, payment form, ticket type,
trip duration, bag weight, party size, transit, currency declared). So a mechanism here is data: a
:class:`TripProfile` of those distributions (beside :data:`NO_VIOLATION` for trips without one), the route
column of ``routes.csv`` that scales how often it happens, its severity, the value carried and what a bag
check finds. :func:`draw_fields` samples trips from their hypothesis' profile and :func:`log_densities`
evaluates the same densities for the oracle, so what is drawn and what the oracle assumes sit side by side.

Effect sizes are design defaults anchored on DOMAIN 3.1 (booking lead median 20-30 days, 5-10% at 0-2
days; cash 2-5%; one-way 10-25%; bags 0-60 kg) and 4.2 "Violation <-> features".
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import poisson

from riskscore.synthetic._stats import norm_logpdf
from riskscore.synthetic.scenario import PASSENGER_MECHANISMS

__all__ = [
    "HYPOTHESES",
    "MECHANISMS",
    "NO_VIOLATION",
    "PROFILES",
    "PassengerMechanism",
    "TripProfile",
    "draw_fields",
    "log_densities",
]

Int = NDArray[np.int64]
Float = NDArray[np.float64]


@dataclass(frozen=True)
class TripProfile:
    """How a trip's declared fields are distributed under one hypothesis (log-normals by median, sigma)."""

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
class PassengerMechanism:
    """One planted violation: how often, what it does to the trip's fields, what is at stake."""

    name: str
    serious: bool  # DOMAIN 4.2: cash over the threshold, gold, drugs
    route_column: str  # routes.csv column: how much more often on this route than on an ordinary one
    profile: TripProfile
    value_median: float  # USD value of what is carried undeclared (log-normal)
    value_sigma: float
    tax_rate: float  # tax at stake on that value (P2: duty + VAT on phones and cosmetics; P3: gold duty)
    yellow_detectable: bool  # a yellow (bag) check finds it at the scenario's yellow_sensitivity

    def __repr__(self) -> str:
        return f"<mechanism {self.name}>"


NO_VIOLATION = TripProfile(
    booked_median=25.0,
    booked_sigma=1.0,
    payment=(0.85, 0.08, 0.04, 0.03),
    ticket=(0.80, 0.17, 0.03),
    duration_median=7.0,
    duration_sigma=0.8,
    bag_median=17.0,
    bag_sigma=0.45,
    party_extra=0.7,
    transit=0.15,
    currency_declared=0.03,
    currency_median=8000.0,
    currency_sigma=0.7,
    declared_red=0.02,
)

# P1 undeclared cash: booked late, paid in cash, short or one-way trips; declares a small sum more often.
P1 = PassengerMechanism(
    name="P1",
    serious=True,
    route_column="p1",
    profile=TripProfile(
        booked_median=3.0,
        booked_sigma=1.0,
        payment=(0.45, 0.05, 0.48, 0.02),
        ticket=(0.50, 0.47, 0.03),
        duration_median=3.0,
        duration_sigma=0.6,
        bag_median=15.0,
        bag_sigma=0.45,
        party_extra=0.5,
        transit=0.20,
        currency_declared=0.15,
        currency_median=2500.0,
        currency_sigma=0.5,
        declared_red=0.01,
    ),
    value_median=40000.0,
    value_sigma=0.9,
    tax_rate=0.0,
    yellow_detectable=True,
)
# P2 goods for resale (phones, cosmetics): heavy bags on short round trips, in company.
P2 = PassengerMechanism(
    name="P2",
    serious=False,
    route_column="p2",
    profile=TripProfile(
        booked_median=8.0,
        booked_sigma=1.0,
        payment=(0.70, 0.08, 0.20, 0.02),
        ticket=(0.85, 0.12, 0.03),
        duration_median=3.0,
        duration_sigma=0.6,
        bag_median=30.0,
        bag_sigma=0.35,
        party_extra=0.9,
        transit=0.10,
        currency_declared=0.03,
        currency_median=8000.0,
        currency_sigma=0.7,
        declared_red=0.015,
    ),
    value_median=3000.0,
    value_sigma=0.9,
    tax_rate=0.30,
    yellow_detectable=True,
)
# P3 gold: carried on the body in groups, light bags, very short trips (DOMAIN 3.2 Bangkok route).
P3 = PassengerMechanism(
    name="P3",
    serious=True,
    route_column="p3",
    profile=TripProfile(
        booked_median=4.0,
        booked_sigma=1.0,
        payment=(0.55, 0.05, 0.38, 0.02),
        ticket=(0.55, 0.42, 0.03),
        duration_median=2.0,
        duration_sigma=0.5,
        bag_median=12.0,
        bag_sigma=0.5,
        party_extra=1.0,
        transit=0.20,
        currency_declared=0.03,
        currency_median=8000.0,
        currency_sigma=0.7,
        declared_red=0.01,
    ),
    value_median=60000.0,
    value_sigma=0.8,
    tax_rate=0.10,
    yellow_detectable=True,
)
# P4 drugs and precursors: booked at the last minute, alone, one way, often in transit.
P4 = PassengerMechanism(
    name="P4",
    serious=True,
    route_column="p4",
    profile=TripProfile(
        booked_median=2.0,
        booked_sigma=0.8,
        payment=(0.45, 0.03, 0.50, 0.02),
        ticket=(0.35, 0.62, 0.03),
        duration_median=5.0,
        duration_sigma=0.8,
        bag_median=11.0,
        bag_sigma=0.5,
        party_extra=0.1,
        transit=0.55,
        currency_declared=0.01,
        currency_median=8000.0,
        currency_sigma=0.7,
        declared_red=0.005,
    ),
    value_median=50000.0,
    value_sigma=1.0,
    tax_rate=0.0,
    yellow_detectable=False,  # body-packed: a bag check does not find it
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
PROFILES: tuple[TripProfile, ...] = (NO_VIOLATION, *(m.profile for m in MECHANISMS))
# Each profile field stacked over the hypotheses (row k = HYPOTHESES[k]), so a batch of trips draws every
# field in one call whatever their hypotheses.
_BY_HYPOTHESIS: dict[str, Float] = {
    f.name: np.array([getattr(pr, f.name) for pr in PROFILES], dtype=np.float64) for f in fields(TripProfile)
}


def draw_fields(rng: np.random.Generator, ctx: dict[str, Any], h: Int) -> dict[str, Any]:
    """Draw the trips' declared fields given each trip's hypothesis index ``h`` (0 = none)."""
    t = {name: table[h] for name, table in _BY_HYPOTHESIS.items()}
    size = len(h)
    air = ~ctx["land"]
    f: dict[str, Any] = {}
    f["booked"] = np.where(air, rng.lognormal(np.log(t["booked_median"]), t["booked_sigma"]), np.nan)
    u = rng.random(size)
    f["payment"] = np.where(air, (u[:, None] >= np.cumsum(t["payment"], axis=1)).sum(axis=1), -1).astype(
        np.int64
    )
    u = rng.random(size)
    f["ticket"] = np.where(air, (u[:, None] >= np.cumsum(t["ticket"], axis=1)).sum(axis=1), -1).astype(
        np.int64
    )
    f["duration"] = np.where(
        air & (f["ticket"] == 0), rng.lognormal(np.log(t["duration_median"]), t["duration_sigma"]), np.nan
    )
    f["bag"] = rng.lognormal(np.log(t["bag_median"]), t["bag_sigma"])
    f["party"] = 1 + rng.poisson(t["party_extra"])
    f["transit"] = air & (rng.random(size) < t["transit"])
    declared = rng.random(size) < t["currency_declared"]
    f["currency"] = np.where(declared, rng.lognormal(np.log(t["currency_median"]), t["currency_sigma"]), 0.0)
    f["declared_red"] = rng.random(size) < t["declared_red"]
    return f


def log_densities(ctx: dict[str, Any], f: dict[str, Any]) -> Float:
    """(n, len(HYPOTHESES)) log-density of the declared fields under each hypothesis.

    Factors every hypothesis shares (the context, the protected attributes) are left out: they cancel in
    the posterior.
    """
    air = ~ctx["land"]
    n = len(air)
    out = np.zeros((n, len(HYPOTHESES)))
    lb = np.log(np.where(air, f["booked"], 1.0))
    ld = np.log(np.where(np.isnan(f["duration"]), 1.0, f["duration"]))
    lbag = np.log(f["bag"])
    lc = np.log(np.where(f["currency"] > 0, f["currency"], 1.0))
    pay = f["payment"].clip(0)
    tic = f["ticket"].clip(0)
    for k, pr in enumerate(PROFILES):
        term = norm_logpdf(lbag, np.log(pr.bag_median), pr.bag_sigma)
        term = term + poisson.logpmf(f["party"] - 1, pr.party_extra)
        term = term + np.where(
            f["currency"] > 0,
            np.log(pr.currency_declared) + norm_logpdf(lc, np.log(pr.currency_median), pr.currency_sigma),
            np.log1p(-pr.currency_declared),
        )
        term = term + np.where(f["declared_red"], np.log(pr.declared_red), np.log1p(-pr.declared_red))
        air_terms = (
            norm_logpdf(lb, np.log(pr.booked_median), pr.booked_sigma)
            + np.log(np.asarray(pr.payment)[pay])
            + np.log(np.asarray(pr.ticket)[tic])
            + np.where(tic == 0, norm_logpdf(ld, np.log(pr.duration_median), pr.duration_sigma), 0.0)
            + np.where(f["transit"], np.log(pr.transit), np.log1p(-pr.transit))
        )
        out[:, k] = term + np.where(air, air_terms, 0.0)
    return out
