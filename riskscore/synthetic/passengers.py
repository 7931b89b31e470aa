"""Synthetic passenger trips and land-border crossings with planted P1-P4 violations and an exact oracle.

Travellers recur under a stable hashed id (so trip history can be derived), each with a home route, a
travel frequency and a latent type (ordinary, shopper, courier, mule). A trip draws its context (day,
route, direction, carrier), then a violation (or none) with probability driven by the traveller's type,
the route and the season, then a latent trip style (business, leisure, shuttle) whose probabilities depend
on the traveller's type and are tilted by the violation, then the API/PNR fields given the style and the
violation (docs/domain.md 3.1, 3.2, 4.2): booking lead time, payment form, ticket type, trip duration, bag
weight, party size, transit, currency declared. So the fields follow the traveller (a courier's clean
trips look like his other trips) and move together within a trip. The oracle is the exact posterior over
{none, P1..P4} given the visible fields and the traveller's latent type, a mixture over the styles.

Each violation is written once, in :mod:`riskscore.synthetic.mechanisms.passengers`: its effect on a
trip's fields and style, its route column, severity and value at stake, with the functions that draw the
fields and evaluate their probability. This module builds the travellers and the calendar, turns the
scenario's type multipliers, route columns and season into probabilities (``_intensities``, normalised
exactly by ``_normalisers`` so the prevalences are the scenario's), and writes the trip with its truth,
oracle and legacy inspection (``generate_block``, the selection contract of
:mod:`riskscore.synthetic.inspection`).

Protected attributes (nationality, residence, sex, age) are drawn from the route's mix only, never from
the latent type: they are proxies through the route, as docs/domain.md 3.5 requires, and not causes. The
scenario's planted biased rule adds legacy rule points to one nationality without changing who violates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

from riskscore.synthetic import _common as C
from riskscore.synthetic._stats import categorical, normalise_log
from riskscore.synthetic.inspection import biased_group, detection, inspect, legacy_selection, rule_shares
from riskscore.synthetic.mechanisms.passengers import HYPOTHESES, MECHANISMS, draw_fields, log_densities
from riskscore.synthetic.scenario import PASSENGER_MECHANISMS, TRAVELLER_TYPES, Scenario

KIND = 2  # seed-stream tag for passengers

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

SERIOUS = frozenset(
    m.name for m in MECHANISMS if m.serious
)  # docs/domain.md 4.2: cash over threshold, gold, drugs
PAYMENTS = ("card", "transfer", "cash", "miles")  # the order of TripProfile.payment
TICKETS = ("round_trip", "one_way", "multi_city")  # the order of TripProfile.ticket
# Per hypothesis (none, then the mechanisms): value carried undeclared, tax at stake, bag-check findability.
UNDECLARED_MEDIAN = np.array([0.0, *(m.value_median for m in MECHANISMS)])
UNDECLARED_SIGMA = np.array([0.0, *(m.value_sigma for m in MECHANISMS)])
TAX_RATE = np.array([0.0, *(m.tax_rate for m in MECHANISMS)])
VEHICLES = ("none", "car", "motorbike", "bus", "on_foot", "truck")
VEHICLE_P = np.array([0.0, 0.2, 0.35, 0.2, 0.15, 0.1])
CABINS = ("economy", "premium", "business")
BOOKING_CHANNELS = ("online", "agency", "airline_office")
LEGACY_REASONS = ["none", "rule", "declared", "random", "officer"]
DWELL_MAX_HOURS = 24.0  # docs/domain.md 3.1: dwell 0-24 h
PNR_CHARS = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", dtype=np.uint8)


@dataclass
class PassengerWorld:
    """Travellers, routes and calendar for one data set."""

    scenario: Scenario
    n: int
    seed: int
    start: dt.date
    days: int
    p: dict[str, Any]
    routes: pd.DataFrame
    route_cum: Float
    route_land: Bool
    route_mult: Float  # (n_routes, n_mechanisms): routes.csv column MECHANISMS[k].route_column
    route_carriers: list[list[str]]
    route_point: Int
    points: list[str]
    route_country: Int
    day_cum: Int
    pre_tet: Bool  # per day: Nov-Jan peak season before Tet (docs/domain.md 4.4 (d))
    trav_cum: Float
    trav_id: pd.Index
    trav_type: Int
    trav_route: Int
    trav_crew: Bool
    trav_nat: Int
    trav_res: Int
    trav_sex: Int
    trav_age: Int
    trav_watch: Int
    trav_ff: Bool
    trav_pass: Bool
    trav_doc_expiry: Int
    countries: list[str]
    z: dict[str, float]
    legacy_red: float
    legacy_yellow: float


def build_world(
    scenario: Scenario, n: int, seed: int, start: dt.date | None, days: int | None
) -> PassengerWorld:
    """Draw the traveller population and calendar for ``n`` trips."""
    p = scenario.section("passengers")
    start = start or scenario.start
    days = days or scenario.days
    rng = C.population_rng(seed, KIND)
    routes = C.read_table("routes.csv").reset_index(drop=True)
    land = (routes["border_type"] == "land_gate").to_numpy(dtype=bool)
    share = routes["share"].to_numpy(dtype=np.float64)
    w = np.where(
        land,
        share / share[land].sum() * p["land_gate_volume"],
        share / share[~land].sum() * (1 - p["land_gate_volume"]),
    )
    route_mult = routes[[m.route_column for m in MECHANISMS]].to_numpy(dtype=np.float64)
    carriers = [
        str(c).split("|") if isinstance(c, str) and c else [] for c in routes["carriers"].astype(object)
    ]

    dow, tet, _ = C.day_offsets(start, days)
    moy = C.month_of_year(start, days)
    dw = C.weekday_weights("passenger")[dow] * np.where(np.abs(tet) <= 10, 1.4, 1.0)
    dw = dw * np.where((moy >= 6) & (moy <= 8), 1.1, 1.0)
    day_cum = C.day_counts(rng, n, dw)
    pre_tet = (tet > -75) & (tet < 0)  # docs/domain.md 3.3: Nov-Dec ~30% of a year's cases, ahead of Tet

    # travellers: type first, then a home route weighted by the route's risk for that type (a proxy by
    # route, docs/domain.md 3.5), then traits drawn from the route only.
    n_t = int(max(200, round(p["travellers_per_trip"] * n)))
    type_share = np.array([p["traveller_types"][t] for t in TRAVELLER_TYPES])
    ttype = categorical(rng, np.cumsum(type_share), n_t).astype(np.int64)
    trav_route = np.empty(n_t, dtype=np.int64)
    for t in range(len(TRAVELLER_TYPES)):
        sel = np.flatnonzero(ttype == t)
        affinity = np.ones(len(w)) if t == 0 else route_mult.max(axis=1) ** 1.5
        rw = w * affinity
        trav_route[sel] = categorical(rng, np.cumsum(rw / rw.sum()), len(sel))
    freq = 1.0 / rng.permutation(np.arange(1, n_t + 1)) ** p["zipf_exponent"]
    freq *= np.array([1.0, 3.0, 12.0, 4.0])[ttype]  # couriers shuttle on their corridor
    # Nobody crosses more than about 150 times a year (crew, couriers, border residents): cap a traveller's
    # expected trips, then renormalise, a few rounds so the cap holds after renormalising.
    cap_trips = max(3.0, 150.0 * days / 365.0)
    for _ in range(20):
        expected = n * freq / freq.sum()
        if expected.max() <= cap_trips * 1.001:
            break
        freq = np.minimum(freq, cap_trips / n * freq.sum())
    countries = sorted(set(routes["foreign_country"].astype(str)) | {"VN", "US", "FR", "AU", "CN", "KR"})
    cidx = {c: i for i, c in enumerate(countries)}
    foreign = np.array([cidx[c] for c in routes["foreign_country"].astype(str)])[trav_route]
    u = rng.random(n_t)
    other = rng.integers(0, len(countries), n_t)
    nat = np.where(u < 0.6, cidx["VN"], np.where(u < 0.92, foreign, other)).astype(np.int64)
    res = np.where(rng.random(n_t) < 0.9, nat, foreign).astype(np.int64)
    sex = (rng.random(n_t) < 0.5).astype(np.int64)
    age = np.clip(rng.normal(38, 14, n_t), 0, 90).astype(np.int64)
    crew = rng.random(n_t) < p["crew_share"]
    crew &= ~land[trav_route]
    age[crew] = np.clip(age[crew], 21, 60)
    watch = np.zeros(n_t, dtype=np.int64)
    for tname, share_exact in p["watchlist_exact_share"].items():
        sel = ttype == TRAVELLER_TYPES.index(tname)
        watch[sel & (rng.random(n_t) < share_exact)] = 2
    watch[(watch == 0) & (rng.random(n_t) < p["watchlist_partial_share"])] = 1
    ff = rng.random(n_t) < np.clip(freq / np.quantile(freq, 0.9), 0, 1) * 0.6
    border_pass = land[trav_route] & (rng.random(n_t) < 0.6)  # border residents with a crossing pass
    ids = rng.integers(0, 2**63, n_t, dtype=np.int64)
    world = PassengerWorld(
        scenario=scenario,
        n=n,
        seed=seed,
        start=start,
        days=days,
        p=p,
        routes=routes,
        route_cum=np.cumsum(w / w.sum()),
        route_land=land,
        route_mult=route_mult,
        route_carriers=carriers,
        route_point=np.unique(routes["border_point"].to_numpy(dtype=str), return_inverse=True)[1].astype(
            np.int64
        ),
        points=sorted(set(routes["border_point"].astype(str))),
        route_country=np.array([cidx[c] for c in routes["foreign_country"].astype(str)], dtype=np.int64),
        day_cum=day_cum,
        pre_tet=np.asarray(pre_tet, dtype=bool),
        trav_cum=np.cumsum(freq / freq.sum()),
        trav_id=pd.Index([f"T{int(x):016x}" for x in ids], dtype="str"),
        trav_type=ttype,
        trav_route=trav_route,
        trav_crew=crew,
        trav_nat=nat,
        trav_res=res,
        trav_sex=sex,
        trav_age=age,
        trav_watch=watch,
        trav_ff=ff,
        trav_pass=np.asarray(border_pass, dtype=bool),
        trav_doc_expiry=rng.integers(30, 3650, n_t),
        countries=countries,
        z={},
        legacy_red=0.0,
        legacy_yellow=0.0,
    )
    _calibrate(world, rng)
    return world


def _context(world: PassengerWorld, rng: np.random.Generator, rows: Int) -> dict[str, Any]:
    size = len(rows)
    day = np.searchsorted(world.day_cum, rows, side="right").astype(np.int64).clip(0, world.days - 1)
    trav = categorical(rng, world.trav_cum, size).astype(np.int64)
    home = world.trav_route[trav]
    # 85% of trips on the home route; otherwise another route of the same kind (air or land)
    alt = categorical(rng, world.route_cum, size).astype(np.int64)
    same_kind = world.route_land[alt] == world.route_land[home]
    route = np.where((rng.random(size) < 0.85) | ~same_kind, home, alt)
    land = world.route_land[route]
    return {"day": day, "trav": trav, "type": world.trav_type[trav], "route": route, "land": land}


def _intensities(world: PassengerWorld, ctx: dict[str, Any], *, normalised: bool = True) -> Float:
    """(n, 4) probability of each mechanism for each trip."""
    p = world.p
    ttype = ctx["type"]
    season = np.where(world.pre_tet[ctx["day"]], p["pre_tet_multiplier"], 1.0)
    lam = np.zeros((len(ttype), len(MECHANISMS)))
    for k, m in enumerate(MECHANISMS):
        spec = p["mechanisms"][m.name]
        tm = np.array([spec["type_multiplier"][t] for t in TRAVELLER_TYPES])[ttype]
        g = tm * world.route_mult[ctx["route"], k] * season
        if not normalised:
            lam[:, k] = g
            continue
        base = (p["serious_prevalence"] if m.serious else p["minor_prevalence"]) * spec["share"]
        lam[:, k] = base * g / world.z[m.name] if spec.get("enabled", True) else 0.0
    if not normalised:
        return lam
    total = lam.sum(axis=1, keepdims=True)  # keep P(no violation) >= 0.1
    return np.asarray(np.where(total > 0.9, lam * 0.9 / np.maximum(total, 1e-300), lam), dtype=np.float64)


def _posterior(lam: Float, ll: Float) -> Float:
    with np.errstate(divide="ignore"):
        prior = np.column_stack([np.log1p(-lam.sum(axis=1)), np.log(lam)])
    return normalise_log(prior + ll)


def _legacy_points(world: PassengerWorld, ctx: dict[str, Any], f: dict[str, Any]) -> Float:
    """Rule points of a legacy passenger profile: watch list, cash, one-way, late booking, heavy bags, route.

    The planted biased rule (``legacy.biased_value``) adds ``legacy.biased_points`` to one nationality,
    which does not cause violations (docs/domain.md 3.5): the fairness checks must flag it.
    """
    legacy = world.p["legacy"]
    watch = world.trav_watch[ctx["trav"]]
    risky_route = world.route_mult[ctx["route"]].max(axis=1) >= 3.0
    biased = biased_group(world.trav_nat[ctx["trav"]], world.countries, legacy)
    return np.asarray(
        np.where(watch == 2, 10.0, np.where(watch == 1, 2.0, 0.0))
        + 1.0 * (f["payment"] == PAYMENTS.index("cash"))
        + 1.0 * (f["ticket"] == TICKETS.index("one_way"))
        + 1.0 * ((f["booked"] >= 0) & (f["booked"] <= 3))
        + 1.0 * (f["bag"] > 300)  # tenths of a kg: over 30 kg
        + 1.0 * risky_route
        + float(legacy["biased_points"]) * biased,
        dtype=np.float64,
    )


def _normalisers(world: PassengerWorld) -> dict[str, float]:
    """Mean unnormalised intensity of each mechanism over the data set's trips, exactly (not sampled).

    A trip's intensity is type multiplier x route column x season; the traveller, the route given the
    traveller (85% home, else another route of the same kind) and the day are drawn independently, so the
    mean is a sum over travellers, routes and days. Dividing by it makes the prevalences the scenario's.
    """
    p = world.p
    counts = np.diff(world.day_cum, prepend=0).astype(np.float64)
    season = float(np.sum(counts * np.where(world.pre_tet, p["pre_tet_multiplier"], 1.0)) / counts.sum())
    trav_p = np.diff(world.trav_cum, prepend=0.0)
    route_p = np.diff(world.route_cum, prepend=0.0)
    land = world.route_land
    home = world.trav_route
    rm = world.route_mult
    same_kind_mass = np.array([route_p[land == k].sum() for k in (False, True)])
    alt_mean = np.stack([(route_p[land == k, None] * rm[land == k]).sum(axis=0) for k in (False, True)])
    kind = land[home].astype(np.int64)
    route_mean = 0.85 * rm[home] + 0.15 * (alt_mean[kind] + (1 - same_kind_mass[kind])[:, None] * rm[home])
    out = {}
    for k, m in enumerate(MECHANISMS):
        tm = np.array([p["mechanisms"][m.name]["type_multiplier"][t] for t in TRAVELLER_TYPES])
        out[m.name] = float(max(season * np.sum(trav_p * tm[world.trav_type] * route_mean[:, k]), 1e-12))
    return out


def _calibrate(world: PassengerWorld, rng: np.random.Generator) -> None:
    world.z = _normalisers(world)
    ctx = _context(world, rng, np.sort(rng.integers(0, world.n, 40_000)))
    lam = _intensities(world, ctx)
    h = _choose(lam, rng.random(len(lam)))
    f = draw_fields(rng, ctx, h)
    score = _legacy_points(world, ctx, f) + rng.random(len(h))
    # the rules fill what the random draw and the intelligence tips leave of the target red/yellow shares
    red_rule, yellow_rule = rule_shares(world.p["legacy"], float(lam.sum(axis=1).mean()))
    world.legacy_red = float(np.quantile(score, 1 - red_rule))
    rest = score[score < world.legacy_red]
    yellow = max(yellow_rule - float(np.mean(f["declared_red"])), 1e-4)
    k = int(np.clip(yellow * len(score), 0, len(rest) - 1))
    world.legacy_yellow = float(np.sort(rest)[::-1][k])


def _dwell_hours(rng: np.random.Generator, size: int) -> Float:
    """Transit dwell hours: log-normal (median 3 h) truncated to 24 h by its CDF (no field depends on it)."""
    mu, sigma = np.log(3.0), 0.7
    mass = ndtr((np.log(DWELL_MAX_HOURS) - mu) / sigma)
    return np.asarray(np.exp(mu + sigma * ndtri(rng.random(size) * mass)), dtype=np.float64)


def _choose(lam: Float, u: Float) -> Int:
    cum = np.cumsum(lam, axis=1)
    return np.asarray(np.where(u < cum[:, -1], np.argmax(u[:, None] < cum, axis=1) + 1, 0), dtype=np.int64)


def generate_block(world: PassengerWorld, block: int, lo: int, hi: int) -> pd.DataFrame:
    """Generate trips lo..hi-1 (one fixed block)."""
    return pd.DataFrame(block_columns(world, block, lo, hi), copy=False)


def block_columns(world: PassengerWorld, block: int, lo: int, hi: int) -> dict[str, Any]:
    """Return the columns of :func:`generate_block`, not yet a frame (blocks are joined, then framed once)."""
    rng = C.block_rng(world.seed, KIND, block)
    p = world.p
    ctx = _context(world, rng, np.arange(lo, hi, dtype=np.int64))
    size = hi - lo
    lam = _intensities(world, ctx)
    h = _choose(lam, rng.random(size))
    f = draw_fields(rng, ctx, h)
    post = _posterior(lam, log_densities(ctx, f))
    trav, route, air = ctx["trav"], ctx["route"], ~ctx["land"]
    ttype = ctx["type"]

    night = rng.random(size) < world.routes["night_share"].to_numpy(dtype=np.float64)[route]
    hours = np.where(night, rng.uniform(22, 30, size) % 24, rng.uniform(6, 22, size))
    departure = rng.random(size) < p["departure_share"]
    n_carriers = np.array([max(1, len(c)) for c in world.route_carriers])[route]
    carrier_slot = np.floor(rng.random(size) * n_carriers).astype(np.int64)
    carrier_names = sorted({c for cs in world.route_carriers for c in cs})
    carrier_code = np.array(
        [
            carrier_names.index(world.route_carriers[r][s]) if world.route_carriers[r] else -1
            for r, s in zip(route.tolist(), carrier_slot.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    flight_no = np.where(air, 100 + (route * 37 + carrier_slot * 11 + rng.integers(0, 3, size)) % 900, -1)
    flight = np.where(
        air, np.char.add(np.array([*carrier_names, "-"])[carrier_code], flight_no.astype(str)), ""
    )
    crew = world.trav_crew[trav] & air
    ptype = np.where(crew, 1, np.where(air & (rng.random(size) < 0.03), 2, 0))
    pnr = PNR_CHARS[rng.integers(0, len(PNR_CHARS), (size, 6))].view("S6").ravel().astype(str)
    vehicle = np.where(air, 0, categorical(rng, np.cumsum(VEHICLE_P), size))
    bag_count = np.where(f["bag"] < 30, 0, (f["bag"] + 229) // 230).astype(np.int64)  # a bag per 23 kg
    cabin = np.where(air, categorical(rng, np.cumsum([0.85, 0.08, 0.07]), size), -1)
    booking = np.where(air, categorical(rng, np.cumsum([0.6, 0.3, 0.1]), size), -1)
    land_doc = np.where(world.trav_pass[trav], 1, 0)
    doc_type = np.where(air, 0, land_doc)

    mech_names = np.array(HYPOTHESES)
    serious = np.isin(mech_names[h], list(SERIOUS))
    value = np.where(
        h > 0, rng.lognormal(np.log(np.maximum(UNDECLARED_MEDIAN[h], 1.0)), UNDECLARED_SIGMA[h]), 0.0
    )
    revenue = value * TAX_RATE[h]
    # Columns in hypothesis order: summing in a set's order would make the last bit depend on PYTHONHASHSEED.
    p_red = post[:, [k for k, m in enumerate(MECHANISMS, start=1) if m.serious]].sum(axis=1)
    p_violation = 1.0 - post[:, 0]

    pts = _legacy_points(world, ctx, f)
    selection = legacy_selection(
        rng, pts, f["declared_red"], world.legacy_red, world.legacy_yellow, p["legacy"], "declared", h > 0
    )
    channel = selection.channel
    inspected = channel > 0
    detected = inspect(rng, selection, h, *detection(p["mechanisms"], PASSENGER_MECHANISMS))
    channels = ["green", "yellow", "red"]
    truth_channel_code = np.where(h == 0, 0, np.where(serious, 2, 1))
    countries = world.countries
    return {
        "trip_id": C.format_ids("P", world.seed, lo, hi),
        "crossed_at": C.timestamps(world.start, ctx["day"], hours * 3600),
        "traveller_id": C.categorical_codes(trav, world.trav_id),
        "border_point": C.categorical_codes(world.route_point[route], world.points),
        "border_type": C.categorical_codes(ctx["land"].astype(np.int64), ["airport", "land_gate"]),
        "direction": C.categorical_codes(departure.astype(np.int64), ["arrival", "departure"]),
        "route": C.categorical_codes(route, world.routes["route"].astype(str).tolist()),
        "route_country": C.categorical_codes(world.route_country[route], countries),
        "carrier": C.categorical_codes(np.where(air, carrier_code, -1), carrier_names),
        "flight_number": pd.Series(flight, dtype="str").where(air),
        "transit": f["transit"],
        "dwell_hours": np.where(f["transit"], np.round(_dwell_hours(rng, size), 1), np.nan),
        "passenger_type": C.categorical_codes(ptype, ["passenger", "crew", "transit"]),
        "nationality": C.categorical_codes(world.trav_nat[trav], countries),
        "residence_country": C.categorical_codes(world.trav_res[trav], countries),
        "sex": C.categorical_codes(world.trav_sex[trav], ["F", "M"]),
        "age": world.trav_age[trav],
        "doc_type": C.categorical_codes(doc_type, ["passport", "border_pass"]),
        "doc_issuing_country": C.categorical_codes(world.trav_nat[trav], countries),
        "doc_days_to_expiry": np.maximum(world.trav_doc_expiry[trav] - ctx["day"], 1).astype(np.int64),
        "pnr_locator": pd.Series(pnr, dtype="str").where(air),
        "days_booked_before_travel": np.where(air, f["booked"], np.nan),
        "booking_channel": C.categorical_codes(booking, list(BOOKING_CHANNELS)),
        "payment_form": C.categorical_codes(f["payment"], list(PAYMENTS)),
        "ticket_type": C.categorical_codes(f["ticket"], list(TICKETS)),
        "trip_duration_days": np.where(f["duration"] >= 0, np.round(f["duration"] * 0.1, 1), np.nan),
        "pax_on_pnr": f["party"].astype(np.int64),
        "travelling_alone": f["party"] == 1,
        "cabin_class": C.categorical_codes(cabin, list(CABINS)),
        "frequent_flyer": world.trav_ff[trav] & air,
        "bag_count": bag_count,
        "bag_weight_kg": np.round(f["bag"] * 0.1, 1),
        "vehicle_type": C.categorical_codes(vehicle, list(VEHICLES)),
        "declared_currency_usd": np.round(f["currency"], 0),
        "declared_channel": C.categorical_codes(f["declared_red"].astype(np.int64), ["green", "red"]),
        "watchlist_hit": C.categorical_codes(world.trav_watch[trav], ["none", "partial", "exact"]),
        "truth_violation": h > 0,
        "truth_mechanism": pd.Categorical.from_codes(
            h - 1, categories=pd.Index(PASSENGER_MECHANISMS, dtype="str")
        ),
        "truth_severity": C.categorical_codes(
            np.where(h == 0, 0, np.where(serious, 2, 1)), ["none", "minor", "serious"]
        ),
        "truth_channel": C.categorical_codes(np.where(h == 0, 0, np.where(serious, 2, 1)), channels),
        "truth_undeclared_value_usd": np.round(value, 2),
        "truth_revenue_at_stake_usd": np.round(revenue, 2),
        "truth_traveller_type": C.categorical_codes(ttype, list(TRAVELLER_TYPES)),
        "truth_selection_propensity": selection.truth_propensity,
        "oracle_p_violation": p_violation,
        "oracle_p_yellow": p_violation - p_red,
        "oracle_p_red": p_red,
        "legacy_channel": C.categorical_codes(channel, channels),
        "legacy_reason": pd.Categorical(selection.reason, categories=LEGACY_REASONS),
        "selection_propensity": selection.propensity,
        "inspected": inspected,
        "observed_label": pd.arrays.BooleanArray(inspected & detected, mask=~inspected),
        # what the inspection found: the channel the record deserved, as far as the check could tell
        "observed_channel": C.categorical_codes(
            np.where(inspected, np.where(detected, truth_channel_code, 0), -1), channels
        ),
    }
