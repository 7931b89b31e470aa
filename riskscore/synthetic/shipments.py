"""Synthetic import declarations with planted, named fraud mechanisms and an exact Bayes oracle.

The generative story, in the order it is sampled (docs/domain.md 2.1, 2.2, 4.1):

1. The *world* (built once per data set): an HS catalogue (HS4 headings from ``synthetic/hs_headings.csv``
   expanded into HS6 codes with their own duty rates and reference prices), origins, offices with weekday
   and seasonal volume, importers (Zipf volumes, a home office, one to three HS headings, a latent
   compliance type, AEO status), brokers (some complicit), new importers appearing each month (some of them
   phantoms), and the legacy selection policy's thresholds.
2. Per record, the *context*: day, office, importer, broker, true HS6, true origin, departure, preference
   claim, procedure, related party, quantity, unit price and unit weight (log-normal around the catalogue).
3. A mechanism (or none) is drawn with probability ``lambda_m(context)``.
4. An express record leads a consignment of one or more parcels (several when split under de minimis, S9);
   its extra parcels overwrite the records that follow it (``_consignments``).
5. The mechanism turns true values into declared values (e.g. S1 multiplies the unit price by a log-uniform
   factor), and the legacy policy decides whether the record is inspected.

Because every step draws from a distribution whose density is known, the oracle computes
``P(mechanism | declared fields, latent traits)`` exactly with Bayes' rule: for each hypothesis, the prior
times the density of the declared values, marginalising over the few true values a mechanism may hide
(the true HS6 behind a misclassified code, the true origin behind a transhipped one).

Each mechanism is written once, in :mod:`riskscore.synthetic.mechanisms.shipments`: its intensity, what it
does to the declared values and its term in the oracle. This module builds the world and the contexts,
combines the intensities into probabilities (``_intensities``: scenario shares, pilot normalisers, drift,
a cap), applies the drawn mechanism (``_apply``), adds the compliant hypothesis to the mechanisms' terms
(``_oracle``) and writes the record with its truth and legacy inspection (``generate_block``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore.synthetic import _common as C
from riskscore.synthetic._stats import (
    categorical,
    norm_logpdf,
    normalise_log,
    quantity,
    quantity_logpdf,
    rowwise_categorical,
)
from riskscore.synthetic.inspection import biased_group, detection, inspect, legacy_selection, rule_shares
from riskscore.synthetic.mechanisms.shipments import (
    DRAW_ORDER,
    MECHANISMS,
    TEMPORARY_IMPORT,
    Drivers,
    Evidence,
)
from riskscore.synthetic.scenario import IMPORTER_TYPES, SHIPMENT_MECHANISMS, Scenario

KIND = 1  # seed-stream tag for shipments

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

OFFICE_TYPES = ("seaport", "airport", "land_gate", "express", "icd")
# A declared code is a position in these tuples (mechanisms.shipments.TEMPORARY_IMPORT is 2).
PROCEDURES = ("consumption", "processing_export", "temporary_import", "ecommerce", "samples")
INCOTERMS = ("FOB", "CIF", "EXW", "CFR", "FCA", "DAP", "DDP")
INCOTERM_P = np.array([0.35, 0.30, 0.10, 0.10, 0.08, 0.05, 0.02])
TYPES = (*IMPORTER_TYPES, "phantom")
PHANTOM = len(IMPORTER_TYPES)
SERIOUS = frozenset(
    m.name for m in MECHANISMS if m.serious
)  # docs/domain.md 4.1: critical cases, ~0.3% of shipments
# Goods hidden behind a cover code in S5 (docs/domain.md 2.2): true HS6 and its duty + excise rate.
CONCEALED_GOODS = (("240220", 1.35), ("050710", 0.0), ("851890", 0.30), ("300490", 0.05))
AD_DUTY = 0.15  # anti-dumping duty on CN goods of the `ad_cn` headings [design default]
S2_COVER = 0.25  # S2 at a code scales down when its lower-duty siblings trade less than 4x less than it
BULK_UNITS = ("KGM", "TNE")  # goods measured by weight: net weight = quantity x the unit's kilograms
PIECE_UNITS = ("PCE",)  # goods counted in whole pieces (docs/domain.md 2.1 quantity_unit)
TRANSFER_PRICING_SHARE = 0.3  # importers that would under-price related-party trades (S10), by type
QTY_DIVISOR = 10.0  # catalogue qty_median / this = the median consignment (net weight median ~100 kg, 2.1)
HUB_DEPARTURES = {"SG": 0.4, "HK": 0.3, "MY": 0.15, "KR": 0.15}  # transhipment ports of loading


@dataclass
class DriftStep:
    """A change of the fraud mix from a day on (docs/domain.md 4.4): scheduled, or an adversary's move.

    From ``first_day`` (day index from the world's start), each mechanism's share is multiplied by its
    ``mix`` entry, and the intensity of ``mechanisms`` (None: every one) by the record's HS chapter, origin
    and office factors and, for importers registered fewer than ``fresh_days`` days before, by ``fresh``.
    Every factor depends on declared fields only, so the oracle stays exact.
    """

    first_day: int
    mix: dict[str, float]
    hs2: Float  # (100,) per HS chapter
    origin: Float  # per country of the world's ``iso``
    office: Float | None = None  # per office of the world's ``office_code``
    fresh: float = 1.0
    fresh_days: int = 90
    mechanisms: tuple[str, ...] | None = None


@dataclass
class ShipmentWorld:
    """Everything drawn once per data set; records are then drawn independently given the world."""

    scenario: Scenario
    n: int
    seed: int
    start: dt.date
    days: int
    p: dict[str, Any]
    # catalogue (HS6)
    hs6: NDArray[np.str_]
    hs6_hs4: Int
    hs6_mfn: Float
    hs6_fta: Float
    hs6_logp: Float
    hs6_loguw: Float
    hs6_pop_logp: Float  # log P(hs6 | hs4)
    hs6_licence: Bool  # needs a specialised-management document: regulatory yellow (docs/domain.md 1.3)
    hs6_nbr: Int  # (n_hs6, K) lower-duty siblings S2 may declare instead, -1 padded
    hs6_nbr_cum: Float  # (n_hs6, K) cumulative P(declared sibling | true code, S2): by the siblings' volume
    hs6_pre: Int  # (n_hs6, K) true codes that may be declared as this one under S2, -1 padded
    hs6_pre_logp: Float  # (n_hs6, K) log P(this code declared | that true code, S2)
    hs4_cum: Float  # (n_hs4, K) cumulative P(hs6 | hs4)
    hs4_children: Int  # (n_hs4, K) hs6 index per slot
    hs4: pd.DataFrame
    hs4_unit: Int
    hs4_desc: list[str]
    true_hs_codes: list[str]  # catalogue codes, then concealed-goods codes not in the catalogue
    concealed_code: Int  # index of each CONCEALED_GOODS code in true_hs_codes
    units: NDArray[np.str_]
    # countries
    iso: NDArray[np.str_]
    level: Float
    has_fta: Bool
    origin_logp: Float  # (n_hs4, n_countries) log P(origin | hs4)
    origin_cum: Float
    s3_source: NDArray[np.str_]
    s3_code: Int  # 0 not a source, 1 anti-dumping source (CN), 2 no-FTA source
    cn: int
    s3_hub_logp: Float
    s3_hub_cum: Float
    dep_hub_logp: Float  # (n_countries, n_countries) log P(departure | origin, transhipped)
    dep_hub_cum: Float
    # offices and calendar
    office_code: NDArray[np.str_]
    office_type: Int
    day_cum: Int
    office_cum: Float  # (days, n_offices)
    month_of_day: Int
    # importers (regular first, then the monthly new ones)
    imp_id: pd.Index
    imp_type: Int
    imp_aeo: Bool
    imp_multinational: Bool
    imp_transfer: Float  # log price factor of the importer's related-party trades under S10, 0 = none
    imp_diverter: Bool  # the importer diverts temporary imports (S8) as a standing practice
    imp_level: Int
    imp_registered: Int  # day index (relative to start) of registration; negative = before the period
    imp_broker: Int
    imp_hs4: Int  # (n_importers, 3)
    imp_hs4_cum: Float
    office_imp_flat: Float  # cumulative regular-importer weights per office, offset by office index
    office_imp_index: Int
    new_slot_start: Int  # (n_months * n_offices + 1) offsets into new_slot_importer
    new_slot_importer: Int
    # brokers
    broker_id: pd.Index
    broker_complicit: Bool
    office_broker_flat: Float
    office_broker_index: Int
    # per-HS6 lookups derived from the headings (hot path: no pandas inside block generation)
    hs6_high: Float
    hs6_bulk: Bool
    hs6_piece: Bool
    hs6_cover: Float
    hs6_divertible: Bool
    hs6_ad: Bool
    hs6_gap: Float
    hs6_hs2: Int
    hs6_qty_median: Float
    type_mult: Float
    # scheduled drift and the adaptive adversary's moves (riskscore.synthetic.adversary), in order
    drift: list[DriftStep]
    # what a red and a yellow check find, per hypothesis (0 = compliant, then S1..S11)
    detect_red: Float
    detect_yellow: Float
    # mechanism normalisers and legacy thresholds
    z: dict[str, float]
    legacy_red: float
    legacy_yellow: float


# ----------------------------------------------------------------------------------------------- world


def build_world(
    scenario: Scenario, n: int, seed: int, start: dt.date | None, days: int | None
) -> ShipmentWorld:
    """Draw the population and calendar for a data set of ``n`` shipments."""
    p = scenario.section("shipments")
    start = start or scenario.start
    days = days or scenario.days
    rng = C.population_rng(seed, KIND)

    hs4 = C.read_table("hs_headings.csv").reset_index(drop=True)
    countries = C.read_table("countries.csv")
    offices = C.read_table("offices.csv")

    # --- catalogue: expand HS4 headings into HS6 codes with a fixed stream, so the catalogue is the same
    # reference table whatever the data set's seed.
    crng = np.random.default_rng(20250101)
    # A code's duty relative to its heading's: mostly the heading's rate, some lower, a few duty-free
    # (docs/domain.md 2.1: 36% of VN tariff lines are duty-free, but mostly whole duty-free headings).
    rate_steps = np.array([0.0, 0.5, 0.75, 1.0, 1.0, 1.0, 1.25])
    codes, parent, mfn, fta, logp, loguw, pop, licence = [], [], [], [], [], [], [], []
    for j, row in hs4.iterrows():
        k = int(crng.integers(2, 7))
        weights = crng.dirichlet(np.full(k, 1.5))
        for c in range(k):
            step = 1.0 if c == 0 else float(crng.choice(rate_steps))
            rate = round(float(row["mfn_rate"]) * step, 2)
            codes.append(f"{row['hs4']}{(c + 1) * 10:02d}")
            parent.append(j)
            mfn.append(rate)
            fta.append(min(float(row["fta_rate"]), rate))
            logp.append(np.log(float(row["price_usd"])) + crng.normal(0, 0.4))
            # goods measured by weight weigh exactly their quantity (1 kg per KGM, 1,000 per TNE)
            code_noise = crng.normal(0, 0.2)
            bulk_unit = str(row["unit"]) in BULK_UNITS
            loguw.append(np.log(float(row["unit_kg"])) + (0.0 if bulk_unit else code_noise))
            pop.append(weights[c])
            # Specialised-management licences apply to some codes of a heading, not all (docs/domain.md 1.3).
            licence.append(bool(row["licence"]) and crng.random() < 0.5)
    hs6 = np.array(codes)
    hs6_hs4 = np.array(parent, dtype=np.int64)
    hs6_mfn, hs6_fta = np.array(mfn), np.array(fta)
    hs6_logp, hs6_loguw = np.array(logp), np.array(loguw)
    hs6_pop = np.array(pop)
    n_hs4, kmax = len(hs4), 6
    hs4_children = np.full((n_hs4, kmax), -1, dtype=np.int64)
    hs4_cum = np.ones((n_hs4, kmax))
    for j in range(n_hs4):
        kids = np.flatnonzero(hs6_hs4 == j)
        hs4_children[j, : len(kids)] = kids
        hs4_cum[j, : len(kids)] = np.cumsum(hs6_pop[kids])
    # S2 neighbours: every sibling with a clearly lower duty, chosen in proportion to its own volume, so
    # misclassified declarations hide among the sibling's genuine ones instead of piling onto one rare
    # code (docs/domain.md 2.2 S2: TV declared as a monitor, a common code). The incentive is the expected
    # duty gap, saturating: the duty saved grows, but so does the attention such goods get.
    nbr = np.full((len(hs6), kmax), -1, dtype=np.int64)
    nbr_cum = np.ones((len(hs6), kmax))
    gap = np.zeros(len(hs6))
    pre_lists: list[list[tuple[int, float]]] = [[] for _ in range(len(hs6))]
    for h in range(len(hs6)):
        sib = np.flatnonzero((hs6_hs4 == hs6_hs4[h]) & (hs6_mfn < hs6_mfn[h] - 0.02))
        if not len(sib):
            continue
        w_sib = hs6_pop[sib] / hs6_pop[sib].sum()
        nbr[h, : len(sib)] = sib
        nbr_cum[h, : len(sib)] = np.cumsum(w_sib)
        nbr_cum[h, len(sib) - 1 :] = 1.0
        # ... and only as much as the siblings' own trade can hide: a code declared far more often by
        # misclassified goods than by its genuine ones would be a near-pure fraud code, an obvious tell.
        cover = min(1.0, S2_COVER * float(hs6_pop[sib].sum()) / float(hs6_pop[h]))
        gap[h] = _saturate(float(np.dot(w_sib, hs6_mfn[h] - hs6_mfn[sib]))) * cover
        for j, wj in zip(sib.tolist(), w_sib.tolist(), strict=True):
            pre_lists[j].append((h, float(np.log(wj))))
    pre = np.full((len(hs6), kmax), -1, dtype=np.int64)
    pre_logp = np.zeros((len(hs6), kmax))
    for j, lst in enumerate(pre_lists):
        for k, (h, lw_) in enumerate(lst):
            pre[j, k], pre_logp[j, k] = h, lw_

    # --- origins: P(origin | hs4) = origin share x a fixed heading-specific affinity.
    iso = countries["iso2"].to_numpy(dtype=str)
    share = countries["origin_share"].to_numpy(dtype=np.float64)
    affinity = np.exp(crng.normal(0, 0.8, size=(n_hs4, len(iso))))
    origin_p = share[None, :] * affinity
    origin_p /= origin_p.sum(axis=1, keepdims=True)
    hub = countries["s3_hub"].to_numpy(dtype=np.float64)
    dep = np.array([HUB_DEPARTURES.get(c, 0.0) for c in iso])
    dep_hub = np.tile(dep, (len(iso), 1))
    np.fill_diagonal(dep_hub, 0.0)
    dep_hub /= dep_hub.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        origin_logp, hub_logp, dep_hub_logp = np.log(origin_p), np.log(hub / hub.sum()), np.log(dep_hub)

    # --- calendar: weight of each (day, office); docs/domain.md 1.5 Tet closure at land gates, harvest peaks May-Jul.
    dow, tet, _month = C.day_offsets(start, days)
    moy = C.month_of_year(start, days)
    otype = np.array([OFFICE_TYPES.index(t) for t in offices["type"]], dtype=np.int64)
    oshare = offices["share"].to_numpy(dtype=np.float64)
    w = np.empty((days, len(otype)))
    for o, t in enumerate(otype):
        wd = C.weekday_weights("land_gate" if OFFICE_TYPES[t] == "land_gate" else "office")[dow]
        closed = (tet >= -1) & (tet <= 6)
        season = np.where(closed, 0.05 if OFFICE_TYPES[t] == "land_gate" else 0.3, 1.0)
        season = season * np.where((tet >= -21) & (tet < -1), 1.15, 1.0)
        if OFFICE_TYPES[t] == "land_gate":
            season = season * np.where((moy >= 5) & (moy <= 7), 1.4, 1.0)
        w[:, o] = oshare[o] * wd * season
    day_cum = C.day_counts(rng, n, w.sum(axis=1))
    office_cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    office_cum[:, -1] = 1.0
    month_of_day = _month

    # --- importers
    n_reg = int(max(p["min_importers"], round(p["importers_per_row"] * n)))
    n_brokers = int(max(20, round(p["brokers_per_importer"] * n_reg)))
    n_months = int(month_of_day.max()) + 1
    new_rows = (w / w.sum() * n * p["new_importer_volume"]).reshape(days, -1)
    per_slot = np.zeros((n_months, len(otype)))
    for m in range(n_months):
        per_slot[m] = new_rows[month_of_day == m].sum(axis=0)
    n_slots = np.maximum(1, np.ceil(per_slot / 3.0)).astype(np.int64)  # ~3 declarations per new importer
    n_new = int(n_slots.sum())
    n_imp = n_reg + n_new

    imp_office = np.empty(n_imp, dtype=np.int64)
    imp_office[:n_reg] = categorical(rng, np.cumsum(oshare / oshare.sum()), n_reg)
    imp_office[: len(otype)] = np.arange(len(otype))  # every office has at least one importer
    slot_office = np.repeat(np.tile(np.arange(len(otype)), n_months), n_slots.ravel())
    slot_month = np.repeat(np.repeat(np.arange(n_months), len(otype)), n_slots.ravel())
    imp_office[n_reg:] = slot_office
    zipf = 1.0 / rng.permutation(np.arange(1, n_reg + 1)) ** p["zipf_exponent"]
    # Each regular importer's share of all declarations: its office's share x its Zipf weight there. No
    # trader lodges more than `max_importer_share` of a country's declarations (docs/domain.md 4.1).
    office_p = w.sum(axis=0) / w.sum() * (1 - p["new_importer_volume"])
    for _ in range(8):
        zsum = np.bincount(imp_office[:n_reg], weights=zipf, minlength=len(otype))
        vol = office_p[imp_office[:n_reg]] * zipf / zsum[imp_office[:n_reg]]
        over = vol > p["max_importer_share"]
        if not over.any():
            break
        zipf[over] *= p["max_importer_share"] / vol[over]

    # Latent compliance type: the scenario's shares for a small trader, tilted toward compliance with
    # size (the largest traders are overwhelmingly compliant and often AEO: docs/domain.md 1.2, 2.2), and
    # never a type whose expected share of all violations would exceed `max_entity_violation_share`.
    type_share = np.array([p["importer_types"][t] for t in IMPORTER_TYPES])
    imp_type = np.empty(n_imp, dtype=np.int64)
    imp_type[n_reg:] = categorical(rng, np.cumsum(type_share), n_new)
    mult = np.array([p["type_multiplier"][t] for t in IMPORTER_TYPES])
    mean_mult = float(np.dot(type_share, mult))
    type_p = np.tile(type_share, (n_reg, 1))
    tilt = 1.0 / (1.0 + vol / p["large_importer_share"])
    type_p[:, 1:] *= tilt[:, None]
    worst = vol[:, None] * mult[None, :] * p["complicit_broker_multiplier"] / mean_mult
    type_p[:, 1:] = np.where(worst[:, 1:] > p["max_entity_violation_share"], 0.0, type_p[:, 1:])
    type_p[:, 0] = 1.0 - type_p[:, 1:].sum(axis=1)
    cum = np.cumsum(type_p, axis=1)
    cum[:, -1] = 1.0
    imp_type[:n_reg] = rowwise_categorical(cum, np.arange(n_reg), rng.random(n_reg))
    is_phantom = np.zeros(n_imp, dtype=bool)
    is_phantom[n_reg:] = rng.random(n_new) < p["phantom_share_of_new"]
    imp_type[is_phantom] = PHANTOM
    imp_aeo = np.zeros(n_imp, dtype=bool)
    top = np.argsort(-vol)[: int(p["aeo_top_importers"])]
    imp_aeo[top] = (imp_type[top] == 0) & (rng.random(len(top)) < p["aeo_share_of_top_importers"])
    imp_multi = rng.random(n_imp) < 0.06  # foreign-invested firms buying from a parent or affiliate
    imp_multi &= ~is_phantom
    # Transfer pricing is a standing arrangement between a buyer and its related seller: one price factor
    # per importer, applied to every related-party trade it under-prices (docs/domain.md 2.2 S10: uv_ratio
    # consistently < 1 for the same seller-buyer pair). Zero where the importer trades at arm's length.
    # every importer's expected share of all declarations (new ones: about three declarations each)
    imp_vol = np.empty(n_imp)
    imp_vol[:n_reg] = vol
    imp_vol[n_reg:] = p["new_importer_volume"] / max(n_new, 1)
    # Temporary-import diversion is a firm's standing practice, seen over time as its temporary imports
    # outrunning its re-exports (docs/domain.md 2.2 S8: 11 petroleum firms re-exported 1.18 of 1.725 Mt).
    # Deliberate and opportunistic firms are the likeliest diverters; AEO firms never are.
    # A diverter's temporary imports are mostly diversions, so it must stay small for no firm to carry a
    # large share of all violations (docs/domain.md 4.1 "How the synthetic world v2 uses these figures").
    imp_diverter = rng.random(n_imp) < np.where(imp_type >= 2, 0.6, np.where(imp_type == 1, 0.25, 0.05))
    imp_diverter &= ~imp_aeo & (imp_vol <= p["max_entity_violation_share"] * p["prevalence"] / 1.5)
    tp_range = p["mechanisms"]["S10"]["factor"]
    imp_transfer = np.where(
        rng.random(n_imp) < TRANSFER_PRICING_SHARE,
        rng.uniform(np.log(tp_range[0]), np.log(tp_range[1]), n_imp),
        0.0,
    )
    level_p = {  # observed compliance level 1-5 (VN Circular 81/2019) given the latent type
        0: [0.30, 0.60, 0.10, 0.0, 0.0],
        1: [0.05, 0.40, 0.45, 0.10, 0.0],
        2: [0.0, 0.25, 0.45, 0.25, 0.05],
        3: [0.0, 0.10, 0.35, 0.35, 0.20],
        4: [0.0, 0.0, 1.0, 0.0, 0.0],
    }
    imp_level = np.empty(n_imp, dtype=np.int64)
    for t, probs in level_p.items():
        sel = imp_type == t
        imp_level[sel] = categorical(rng, np.cumsum(probs), int(sel.sum())) + 1
    imp_level[n_reg:][~is_phantom[n_reg:]] = 3  # new firms start unrated
    imp_level[imp_aeo] = 1
    imp_registered = np.empty(n_imp, dtype=np.int64)
    imp_registered[:n_reg] = -np.maximum(60, rng.lognormal(np.log(1500), 0.9, n_reg)).astype(np.int64)
    month_first = np.array([np.flatnonzero(month_of_day == m)[0] for m in range(n_months)])
    imp_registered[n_reg:] = month_first[slot_month] - rng.integers(0, 21, n_new)

    # headings: 1-3 per importer, compatible with the office type
    type_col = {"airport": "air", "land_gate": "land", "express": "express"}
    hs4_share = hs4["share"].to_numpy(dtype=np.float64)
    imp_hs4 = np.empty((n_imp, 3), dtype=np.int64)
    imp_hs4_cum = np.empty((n_imp, 3))
    n_lines = rng.integers(1, 4, n_imp)
    for t in range(len(OFFICE_TYPES)):
        sel = np.flatnonzero(otype[imp_office] == t)
        col = type_col.get(OFFICE_TYPES[t])
        mult = hs4[col].to_numpy(dtype=np.float64) if col else np.ones(n_hs4)
        pw = hs4_share * mult
        cum = np.cumsum(pw / pw.sum())
        for s in range(3):
            imp_hs4[sel, s] = categorical(rng, cum, len(sel))
    lw = rng.dirichlet(np.ones(3), n_imp)
    lw[n_lines == 1] = [1.0, 0.0, 0.0]
    two = n_lines == 2
    lw[two, 2] = 0.0
    lw /= lw.sum(axis=1, keepdims=True)
    imp_hs4_cum = np.cumsum(lw, axis=1)
    imp_hs4_cum[:, -1] = 1.0

    # An importer's expected share of all violations: its volume x its type's willingness x how much its
    # goods tempt (duty, high-risk headings: what S1, S2, S4 scale with). A large trader of high-duty goods
    # can carry too much even when compliant: trim its volume to `max_entity_violation_share`.
    goods = (0.05 + _saturate(hs4["mfn_rate"].to_numpy(dtype=np.float64))) * (
        1.0 + hs4["high_risk"].to_numpy(dtype=np.float64)
    )
    willing = np.array([*mult, p["type_multiplier"]["phantom"]])[imp_type] * np.where(
        imp_aeo, p["aeo_multiplier"], 1.0
    )
    expected = imp_vol * willing * (lw * goods[imp_hs4]).sum(axis=1)
    expected /= expected.sum()
    trim = np.minimum(1.0, p["max_entity_violation_share"] / np.maximum(expected, 1e-300))[:n_reg]
    zipf *= trim
    vol *= trim
    imp_vol[:n_reg] = vol

    # regular importers per office, cumulative Zipf weights (flattened with office offsets)
    order = np.lexsort((np.arange(n_reg), imp_office[:n_reg]))
    office_imp_index = order.astype(np.int64)
    flat = np.empty(n_reg)
    for o in range(len(otype)):
        members = order[imp_office[order] == o]
        if len(members) == 0:
            continue
        pos = np.flatnonzero(imp_office[order] == o)
        flat[pos] = o + np.cumsum(zipf[members]) / zipf[members].sum()
    slot_start = np.concatenate([[0], np.cumsum(n_slots.ravel())]).astype(np.int64)
    new_slot_importer = np.arange(n_reg, n_imp, dtype=np.int64)

    # brokers: each has a home office; an importer's main broker is one of its office's brokers
    broker_office = categorical(rng, np.cumsum(oshare / oshare.sum()), n_brokers)
    broker_office[: len(otype)] = np.arange(len(otype))  # every office has a broker
    bsize = 1.0 / rng.permutation(np.arange(1, n_brokers + 1)) ** 0.8
    border = np.lexsort((np.arange(n_brokers), broker_office))
    bflat = np.empty(n_brokers)
    for o in range(len(otype)):
        pos = np.flatnonzero(broker_office[border] == o)
        members = border[pos]
        bflat[pos] = o + np.cumsum(bsize[members]) / bsize[members].sum()
    imp_broker = border[
        np.searchsorted(bflat, imp_office + rng.random(n_imp), side="right").clip(0, n_brokers - 1)
    ]
    # A broker's share of all declarations: 90% of its importers' (their main broker) plus 10% of its
    # office's by size. No broker lodges more than `max_broker_share`: move importers off a broker that
    # would, to the smallest brokers of the same office (docs/domain.md 2.1: KCS 1,238 declarants).
    bsum = np.bincount(broker_office, weights=bsize, minlength=len(otype))
    side = 0.1 * (office_p / (1 - p["new_importer_volume"]))[broker_office] * bsize / bsum[broker_office]
    bvol = side + np.bincount(imp_broker, weights=0.9 * imp_vol, minlength=n_brokers)
    cap = p["max_broker_share"]
    for b in np.flatnonzero(bvol > cap):
        peers = np.flatnonzero(broker_office == broker_office[b])
        for i in rng.permutation(np.flatnonzero(imp_broker == b)):
            if bvol[b] <= cap:
                break
            to = peers[np.argmin(bvol[peers])]
            if to == b or bvol[to] + 0.9 * imp_vol[i] > cap:
                continue
            imp_broker[i] = to
            bvol[b] -= 0.9 * imp_vol[i]
            bvol[to] += 0.9 * imp_vol[i]
    # Complicit brokers are small and mid-sized firms: one lodging a large share would be found out.
    small = bvol <= p["max_entity_violation_share"] / p["complicit_broker_multiplier"]
    broker_complicit = small & (
        rng.random(n_brokers) < p["complicit_broker_share"] / max(float(small.mean()), 1e-9)
    )

    detect_red, detect_yellow = detection(p["mechanisms"], SHIPMENT_MECHANISMS)
    world = ShipmentWorld(
        scenario=scenario,
        n=n,
        seed=seed,
        start=start,
        days=days,
        p=p,
        hs6=hs6,
        hs6_hs4=hs6_hs4,
        hs6_mfn=hs6_mfn,
        hs6_fta=hs6_fta,
        hs6_logp=hs6_logp,
        hs6_loguw=hs6_loguw,
        hs6_pop_logp=np.log(hs6_pop),
        hs6_licence=np.array(licence, dtype=bool),
        hs6_nbr=nbr,
        hs6_nbr_cum=nbr_cum,
        hs6_pre=pre,
        hs6_pre_logp=pre_logp,
        hs4_cum=hs4_cum,
        hs4_children=hs4_children,
        hs4=hs4,
        hs4_unit=np.unique(hs4["unit"].to_numpy(dtype=str), return_inverse=True)[1].astype(np.int64),
        units=np.unique(hs4["unit"].to_numpy(dtype=str)),
        hs4_desc=hs4["description"].astype(str).tolist(),
        true_hs_codes=[*hs6, *(c for c, _ in CONCEALED_GOODS if c not in set(hs6))],
        concealed_code=np.array(
            [
                [*hs6, *(c for c, _ in CONCEALED_GOODS if c not in set(hs6))].index(c)
                for c, _ in CONCEALED_GOODS
            ],
            dtype=np.int64,
        ),
        iso=iso,
        level=countries["price_level"].to_numpy(dtype=np.float64),
        has_fta=countries["fta"].notna().to_numpy(dtype=bool),
        origin_logp=origin_logp,
        origin_cum=np.cumsum(origin_p, axis=1),
        s3_source=countries["s3_source"].fillna("").to_numpy(dtype=str),
        s3_code=np.array(
            [{"ad": 1, "mfn": 2}.get(c, 0) for c in countries["s3_source"].fillna("")], dtype=np.int64
        ),
        cn=int(np.flatnonzero(iso == "CN")[0]),
        s3_hub_logp=hub_logp,
        s3_hub_cum=np.cumsum(hub / hub.sum()),
        dep_hub_logp=dep_hub_logp,
        dep_hub_cum=np.cumsum(dep_hub, axis=1),
        office_code=offices["code"].to_numpy(dtype=str),
        office_type=otype,
        day_cum=day_cum,
        office_cum=office_cum,
        month_of_day=month_of_day,
        imp_id=pd.Index([f"IM{i:06d}" for i in range(n_imp)], dtype="str"),
        imp_type=imp_type,
        imp_aeo=imp_aeo,
        imp_multinational=imp_multi,
        imp_transfer=imp_transfer,
        imp_diverter=imp_diverter,
        imp_level=imp_level,
        imp_registered=imp_registered,
        imp_broker=imp_broker.astype(np.int64),
        imp_hs4=imp_hs4,
        imp_hs4_cum=imp_hs4_cum,
        office_imp_flat=flat,
        office_imp_index=office_imp_index,
        new_slot_start=slot_start,
        new_slot_importer=new_slot_importer,
        broker_id=pd.Index([f"BR{i:05d}" for i in range(n_brokers)], dtype="str"),
        broker_complicit=broker_complicit,
        office_broker_flat=bflat,
        office_broker_index=border.astype(np.int64),
        hs6_high=hs4["high_risk"].to_numpy(dtype=np.float64)[hs6_hs4],
        hs6_bulk=np.isin(hs4["unit"].to_numpy(dtype=str), BULK_UNITS)[hs6_hs4],
        hs6_piece=np.isin(hs4["unit"].to_numpy(dtype=str), PIECE_UNITS)[hs6_hs4],
        hs6_cover=hs4["cover"].to_numpy(dtype=np.float64)[hs6_hs4],
        hs6_divertible=hs4["divertible"].to_numpy(dtype=bool)[hs6_hs4],
        hs6_ad=hs4["ad_cn"].to_numpy(dtype=bool)[hs6_hs4],
        hs6_gap=gap,
        hs6_hs2=np.array([int(c[:2]) for c in hs6], dtype=np.int64),
        hs6_qty_median=hs4["qty_median"].to_numpy(dtype=np.float64)[hs6_hs4],
        type_mult=np.array([p["type_multiplier"][t] for t in TYPES], dtype=np.float64),
        drift=_drift_table(p, start, iso),
        detect_red=detect_red,
        detect_yellow=detect_yellow,
        z={},
        legacy_red=0.0,
        legacy_yellow=0.0,
    )
    _calibrate(world, rng)
    return world


def _drift_table(p: dict[str, Any], start: dt.date, iso: NDArray[np.str_]) -> list[DriftStep]:
    table = []
    for d in p.get("drift", []):
        first = (pd.Timestamp(str(d["start"])).date() - start).days
        hs2_f = np.ones(100)
        for code, f in d.get("hs2", {}).items():
            hs2_f[int(code)] = float(f)
        origin_f = np.ones(len(iso))
        for code, f in d.get("origins", {}).items():
            origin_f[iso == code] = float(f)
        table.append(DriftStep(first, {k: float(v) for k, v in d.get("mix", {}).items()}, hs2_f, origin_f))
    return table


def _calibrate(world: ShipmentWorld, rng: np.random.Generator) -> None:
    """Normalise mechanism intensities and set legacy thresholds on a pilot sample of contexts."""
    pilot = _draw_context(world, rng, np.sort(rng.integers(0, world.n, 100_000)))
    g = _intensity_terms(world, pilot)
    world.z = {name: float(max(v.mean(), 1e-12)) for name, v in g.items()}
    # The cap on a record's total intensity trims mechanisms concentrated on few records (S6, S7); adjust
    # the normalisers until each mechanism's mean intensity on the pilot matches its scenario share.
    for _ in range(4):
        lam_pilot = _intensities(world, pilot, drift=False)
        for name, v in lam_pilot.items():
            spec = world.p["mechanisms"][name]
            target = world.p["prevalence"] * spec["share"] if spec.get("enabled", True) else 0.0
            got = float(v.mean())
            if target > 0 and got > 0:
                world.z[name] *= got / target
    # Legacy thresholds on rule points with U(0,1) jitter (docs/domain.md 1.1 "expected rate per lane").
    lam = _intensities(world, pilot)
    mech = _choose(lam, rng.random(len(pilot["day"])))
    declared = _apply(world, pilot, mech, rng)
    pts = _legacy_points(world, pilot, declared)
    score = pts + rng.random(len(pts))
    legacy = world.p["legacy"]
    red_rule, yellow_rule = rule_shares(legacy, world.p["prevalence"])
    world.legacy_red = float(np.quantile(score, 1 - red_rule))
    licence = world.hs6_licence[declared["hs6"]]
    candidates = np.sort(score[(score < world.legacy_red) & ~licence])[::-1]
    need = yellow_rule * len(score) - float(np.sum(licence & (score < world.legacy_red)))
    k = int(np.clip(need, 0, len(candidates) - 1))
    world.legacy_yellow = float(candidates[k]) if len(candidates) else world.legacy_red


# --------------------------------------------------------------------------------------------- records


def _draw_context(world: ShipmentWorld, rng: np.random.Generator, rows: Int) -> dict[str, Any]:
    """Everything drawn before the mechanism: who declares what, where, when, and the true values."""
    p = world.p
    size = len(rows)
    day = np.searchsorted(world.day_cum, rows, side="right").astype(np.int64).clip(0, world.days - 1)
    office = rowwise_categorical(world.office_cum, day, rng.random(size)).astype(np.int64)
    otype = world.office_type[office]
    # importer: a new one of this office and month, or a regular one by Zipf volume
    n_off = len(world.office_type)
    is_new = rng.random(size) < p["new_importer_volume"]
    imp = world.office_imp_index[
        np.searchsorted(world.office_imp_flat, office + rng.random(size), side="right").clip(
            0, len(world.office_imp_index) - 1
        )
    ]
    slot = world.month_of_day[day] * n_off + office
    lo, hi = world.new_slot_start[slot], world.new_slot_start[slot + 1]
    pick = lo + np.floor(rng.random(size) * (hi - lo)).astype(np.int64)
    imp = np.where(is_new, world.new_slot_importer[pick.clip(0, len(world.new_slot_importer) - 1)], imp)
    broker = np.where(
        rng.random(size) < 0.9,
        world.imp_broker[imp],
        world.office_broker_index[
            np.searchsorted(world.office_broker_flat, office + rng.random(size), side="right").clip(
                0, len(world.office_broker_index) - 1
            )
        ],
    )
    slot_hs4 = rowwise_categorical(world.imp_hs4_cum, imp, rng.random(size))
    hs4 = world.imp_hs4[imp, slot_hs4]
    hs6 = world.hs4_children[hs4, rowwise_categorical(world.hs4_cum, hs4, rng.random(size))]
    origin = rowwise_categorical(world.origin_cum, hs4, rng.random(size)).astype(np.int64)
    transhipped = rng.random(size) < p["transhipment_share"]
    departure = np.where(
        transhipped, rowwise_categorical(world.dep_hub_cum, origin, rng.random(size)), origin
    ).astype(np.int64)
    claim = world.has_fta[origin] & (rng.random(size) < p["preference_claim_share"])
    express = otype == OFFICE_TYPES.index("express")
    divertible = world.hs6_divertible[hs6]
    p_ti = np.where(express, 0.0, np.where(divertible, p["temporary_import_share"], 0.02))
    u = rng.random(size)
    # non-TI procedures share the rest: consumption / processing / samples, or e-commerce / samples at express
    proc = np.where(
        u < p_ti,
        2,
        np.where(
            express,
            np.where(u < 0.8, 3, 4),
            np.where(u < p_ti + (1 - p_ti) * 0.86, 0, np.where(u < p_ti + (1 - p_ti) * 0.98, 1, 4)),
        ),
    ).astype(np.int64)
    related_p = np.where(
        world.imp_multinational[imp], p["multinational_related_share"], p["related_party_share"]
    )
    related = rng.random(size) < related_p
    # Consignments by air are smaller than by sea or road; docs/domain.md 2.1 net weight median ~100 kg (KCS).
    office_scale = np.array([1.0, 0.15, 1.0, 1.0, 1.0])[otype]
    mq = np.where(express, np.log(3.0), np.log(world.hs6_qty_median[hs6] * office_scale / QTY_DIVISOR))
    sq = np.where(express, 0.8, p["quantity_sigma"])
    lq = quantity(rng.normal(mq, sq), world.hs6_piece[hs6])
    lp = rng.normal(world.hs6_logp[hs6] + world.level[origin], p["price_sigma"])
    luw = np.where(
        world.hs6_bulk[hs6], world.hs6_loguw[hs6], rng.normal(world.hs6_loguw[hs6], p["unit_weight_sigma"])
    )
    return {
        "rows": rows,
        "day": day,
        "office": office,
        "otype": otype,
        "importer": imp,
        "broker": broker,
        "hs4": hs4,
        "hs6": hs6,
        "origin": origin,
        "departure": departure,
        "claim": claim,
        "proc": proc,
        "p_ti": p_ti,
        "related": related,
        "mq": mq,
        "sq": sq,
        "lq": lq,
        "lp": lp,
        "luw": luw,
        "express": express,
    }


def _saturate(x: Any, scale: float = 0.4) -> Any:
    """Turn a duty rate into a fraud incentive: it grows with the rate and levels off (attention)."""
    return scale * (1.0 - np.exp(-np.asarray(x, dtype=np.float64) / scale))


def _duty(world: ShipmentWorld, hs6: Int, origin: Int, claim: Bool) -> Float:
    rate = np.where(claim, world.hs6_fta[hs6], world.hs6_mfn[hs6])
    ad = world.hs6_ad[hs6] & (origin == world.cn)
    return np.asarray(rate + AD_DUTY * ad, dtype=np.float64)


def _drivers(world: ShipmentWorld, ctx: dict[str, Any], hs6: Int, origin: Int) -> Drivers:
    """Gather what every mechanism's intensity depends on, at the given true HS6 / origin."""
    p = world.p
    imp = ctx["importer"]
    itype = world.imp_type[imp]
    tm = world.type_mult[itype] * np.where(world.imp_aeo[imp], p["aeo_multiplier"], 1.0)
    complicit = world.broker_complicit[ctx["broker"]]
    broker_m = np.where(complicit, p["complicit_broker_multiplier"], 1.0)
    duty = _duty(world, hs6, origin, ctx["claim"])
    otype = ctx["otype"]
    return Drivers(
        ctx=ctx,
        hs6=hs6,
        origin=origin,
        phantom=itype == PHANTOM,
        tm=tm,
        complicit=complicit,
        broker_m=broker_m,
        base=tm * broker_m,
        duty=duty,
        duty_w=0.05 + _saturate(duty),
        field_office=(otype == 0) | (otype == 2) | (otype == 4),  # seaport, land gate, ICD
    )


def _intensity_terms(
    world: ShipmentWorld, ctx: dict[str, Any], *, hs6: Int | None = None, origin: Int | None = None
) -> dict[str, Float]:
    """Unnormalised intensity g_m(context) of each mechanism, at the given true HS6 / origin."""
    hs6 = ctx["hs6"] if hs6 is None else hs6
    origin = ctx["origin"] if origin is None else origin
    d = _drivers(world, ctx, hs6, origin)
    return {m.name: m.intensity(world, d) for m in MECHANISMS}


def _drift(
    world: ShipmentWorld, ctx: dict[str, Any], hs6: Int, origin: Int
) -> tuple[dict[str, Float], dict[str, Float]]:
    """Per-mechanism mix and intensity multipliers from the world's drift steps (docs/domain.md 4.4)."""
    day = ctx["day"]
    mix: dict[str, Float] = {}
    hot = np.ones(len(day))  # steps for every mechanism
    own: dict[str, Float] = {}  # steps for some mechanisms (the adversary's)
    for step in world.drift:
        after = day >= step.first_day
        if not after.any():
            continue
        for m, f in step.mix.items():
            mix[m] = np.where(after, mix.get(m, 1.0) * f, mix.get(m, 1.0))
        factor = step.hs2[world.hs6_hs2[hs6]] * step.origin[origin]
        if step.office is not None:
            factor = factor * step.office[ctx["office"]]
        if step.fresh != 1.0:
            fresh = day - world.imp_registered[ctx["importer"]] < step.fresh_days
            factor = np.where(fresh, factor * step.fresh, factor)
        if step.mechanisms is None:
            hot = np.where(after, hot * factor, hot)
        else:
            for m in step.mechanisms:
                own[m] = np.where(after, own.get(m, 1.0) * factor, own.get(m, 1.0))
    return mix, {m.name: hot * own[m.name] if m.name in own else hot for m in MECHANISMS}


def _intensities(
    world: ShipmentWorld,
    ctx: dict[str, Any],
    *,
    hs6: Int | None = None,
    origin: Int | None = None,
    drift: bool = True,
) -> dict[str, Float]:
    """lambda_m(context): the probability that mechanism m happens, for each enabled mechanism."""
    hs6 = ctx["hs6"] if hs6 is None else hs6
    origin = ctx["origin"] if origin is None else origin
    g = _intensity_terms(world, ctx, hs6=hs6, origin=origin)
    mix, hot = _drift(world, ctx, hs6, origin) if drift else ({}, {})
    prev = world.p["prevalence"]
    lam = {}
    for name, g_m in g.items():
        spec = world.p["mechanisms"][name]
        share = spec["share"] if spec.get("enabled", True) else 0.0
        lam[name] = prev * share * g_m / world.z.get(name, 1.0) * mix.get(name, 1.0) * hot.get(name, 1.0)
    total = sum(lam.values())
    scale = np.where(total > 0.9, 0.9 / np.maximum(total, 1e-300), 1.0)  # keep P(compliant) >= 0.1
    return {m: v * scale for m, v in lam.items()}


def mechanism_volume(
    world: ShipmentWorld, name: str, first_day: int, end_day: int, *, size: int = 20_000, seed: int = 0
) -> float:
    """Return mechanism ``name``'s mean intensity over the records of days ``first_day`` .. ``end_day - 1``.

    A Monte Carlo estimate on ``size`` contexts drawn as the generator draws them, with the world's drift
    steps as they stand; the same ``seed`` draws the same contexts, so two calls around a new drift step
    give the step's effect on the mechanism's volume without sampling noise between them (the adaptive
    adversary rescales its moves with it, :mod:`riskscore.synthetic.adversary`).
    """
    end_day = min(end_day, world.days)
    if not 0 <= first_day < end_day:
        return 0.0
    cum = world.day_cum
    lo = int(cum[first_day - 1]) if first_day > 0 else 0
    hi = int(cum[end_day - 1])
    if hi <= lo:
        return 0.0
    rng = np.random.default_rng(seed)
    ctx = _draw_context(world, rng, np.sort(rng.integers(lo, hi, size)))
    return float(_intensities(world, ctx)[name].mean())


def _choose(lam: dict[str, Float], u: Float) -> Int:
    """Mechanism index (0 = compliant, k = SHIPMENT_MECHANISMS[k-1]) from intensities and one uniform."""
    cum = np.cumsum(np.stack([lam[m.name] for m in MECHANISMS], axis=1), axis=1)
    first = np.argmax(u[:, None] < cum, axis=1) + 1
    return np.asarray(np.where(u < cum[:, -1], first, 0), dtype=np.int64)


def _apply(world: ShipmentWorld, ctx: dict[str, Any], mech: Int, rng: np.random.Generator) -> dict[str, Any]:
    """Turn true values into declared values according to each record's mechanism."""
    dec = {k: ctx[k].copy() for k in ("lq", "lp", "luw", "hs6", "origin", "departure", "claim", "proc")}
    dec["importer"] = ctx["importer"]  # read only (S10's standing price factor)
    dec["true_lq"] = ctx["lq"].copy()  # the quantity truly shipped (S4 declares fewer units than that)
    for m in DRAW_ORDER:
        m.apply(world, dec, np.asarray(mech == MECHANISMS.index(m) + 1, dtype=bool), rng)
    return dec


def _legacy_points(world: ShipmentWorld, ctx: dict[str, Any], dec: dict[str, Any]) -> Float:
    """Rule points of the legacy selectivity profile: what a risk unit without a model would use."""
    imp = ctx["importer"]
    level_pts = np.array([0, -2, 0, 1, 2, 3], dtype=np.float64)[world.imp_level[imp]]
    young = (ctx["day"] - world.imp_registered[imp]) < 180
    ref = world.hs6_logp[dec["hs6"]] + world.level[dec["origin"]]
    cheap = dec["lp"] < ref - 0.7  # below half the valuation-database price
    legacy = world.p["legacy"]
    biased = legacy["biased_points"] * biased_group(dec["origin"], list(world.iso), legacy)
    return np.asarray(
        biased
        + 2.0 * world.hs6_high[dec["hs6"]]
        + level_pts
        - 3.0 * world.imp_aeo[imp]
        + 1.0 * young
        + 1.0 * (dec["origin"] != dec["departure"])
        + 0.5 * dec["claim"]
        + 1.0 * cheap,
        dtype=np.float64,
    )


def _oracle(
    world: ShipmentWorld, ctx: dict[str, Any], dec: dict[str, Any], parcels: Parcels | None = None
) -> Float:
    """P(hypothesis | declared fields, latent traits): (n, 1 + n_mechanisms), column 0 = compliant.

    ``parcels`` describes the express consignments (``_consignments``): their sizes are evidence, and a
    consignment of several parcels is weighed as one (compliant or S9, for all its parcels).
    """
    p = world.p
    n = len(ctx["day"])
    lq, lp, luw = dec["lq"], dec["lp"], dec["luw"]
    hs6, origin = dec["hs6"], dec["origin"]
    sp, sw = p["price_sigma"], p["unit_weight_sigma"]
    mq, sq = ctx["mq"], ctx["sq"]
    # Context with the declared HS6 / origin as the true ones (every hypothesis but S2 / S3).
    obs_ctx = dict(ctx, hs6=hs6, origin=origin, claim=dec["claim"], proc=dec["proc"], lp=lp, lq=lq)
    lam = _intensities(world, obs_ctx)
    total = np.asarray(sum(lam.values()), dtype=np.float64)
    mu_p = world.hs6_logp[hs6] + world.level[origin]
    mu_w = world.hs6_loguw[hs6]
    n_q = quantity_logpdf(lq, mq, sq, world.hs6_piece[hs6])
    n_p = norm_logpdf(lp, mu_p, sp)
    # goods measured by weight carry no separate weight evidence: their weight is their quantity
    bulk = world.hs6_bulk[hs6]
    n_w = np.where(bulk, 0.0, norm_logpdf(luw, mu_w, sw))
    is_ti = dec["proc"] == TEMPORARY_IMPORT
    # procedure factor: P(TI | not S8) = p_ti, P(TI | S8) = 1
    with np.errstate(divide="ignore"):
        proc_h0 = np.where(is_ti, np.log(ctx["p_ti"]), np.log1p(-ctx["p_ti"]))
        # origin, departure and claim terms for hypotheses that keep the declared origin
        tau = p["transhipment_share"]
        dep_term = np.where(
            dec["departure"] == origin,
            np.log1p(-tau),
            np.log(tau) + world.dep_hub_logp[origin, dec["departure"]],
        )
        claim_p = np.where(world.has_fta[origin], p["preference_claim_share"], 0.0)
        claim_term = np.where(dec["claim"], np.log(claim_p), np.log1p(-claim_p))
        origin_term = world.origin_logp[world.hs6_hs4[hs6], origin] + dep_term + claim_term
        log_lam = {name: np.log(v) for name, v in lam.items()}
        log_h0 = np.log1p(-np.minimum(total, 1.0))
    common = origin_term + world.hs6_pop_logp[hs6]
    ev = Evidence(
        ctx=obs_ctx,
        n=n,
        lq=lq,
        lp=lp,
        luw=luw,
        hs6=hs6,
        origin=origin,
        departure=dec["departure"],
        claim=dec["claim"],
        is_ti=is_ti,
        mq=mq,
        sq=sq,
        sp=sp,
        sw=sw,
        mu_p=mu_p,
        mu_w=mu_w,
        n_q=n_q,
        n_p=n_p,
        n_w=n_w,
        proc_h0=proc_h0,
        origin_term=origin_term,
        common=common,
        log_lam=log_lam,
        intensities=lambda sub, *, hs6=None, origin=None: _intensities(world, sub, hs6=hs6, origin=origin),
    )
    out = np.empty((n, 1 + len(MECHANISMS)))
    out[:, 0] = log_h0 + common + proc_h0 + n_q + n_p + n_w
    for k, m in enumerate(MECHANISMS, start=1):
        # a hypothesis whose intensity is zero at the declared values is impossible there: evaluate its
        # density only on the rows where it can have happened (most mechanisms concern few records)
        rows = np.flatnonzero(log_lam[m.name] > -np.inf)
        if m.marginalises or len(rows) == n:
            out[:, k] = m.log_joint(world, ev)
        else:
            out[:, k] = -np.inf
            if len(rows):
                out[rows, k] = m.log_joint(world, ev.take(rows))
    if parcels is not None:
        _weigh_consignments(out, parcels, log_h0, log_lam["S9"])
    return normalise_log(out)


# ----------------------------------------------------------------------------------- express consignments

S9_COLUMN = SHIPMENT_MECHANISMS.index("S9") + 1
# Parcels per express consignment: a compliant order mostly ships as one parcel, sometimes a few (the
# goods do not fit one box); a split one (S9) always as several [design default, docs/domain.md 2.2 S9].
PARCELS_COMPLIANT = np.array([0.0, 0.85, 0.09, 0.04, 0.02, 0.0])
PARCELS_SPLIT = np.array([0.0, 0.0, 0.35, 0.35, 0.2, 0.1])
PARCELS_MAX = len(PARCELS_COMPLIANT) - 1
# The parcels of one consignment copy its lead record's context: who, where, when and what goods.
SHARED = (
    *("day", "office", "otype", "importer", "broker", "hs4", "hs6", "origin", "departure", "claim"),
    *("proc", "p_ti", "related", "express", "mq", "sq"),
)


@dataclass(frozen=True)
class Parcels:
    """The express consignments of a block: each record's lead, the consignment's size, whether it was cut."""

    lead: Int  # row of the consignment's first parcel (the row itself for every other record)
    size: Int  # parcels in the record's consignment (1 for records that are not express)
    cut: Bool  # the consignment was cut by the end of the block: its size is a lower bound
    express: Bool  # the record is an express parcel (only those come in consignments)


def _tail(p: Float) -> Float:
    """P(K >= k) from P(K = k), k = 0..max."""
    return np.asarray(np.cumsum(p[::-1])[::-1], dtype=np.float64)


def _consignments(world: ShipmentWorld, ctx: dict[str, Any], mech: Int, rng: np.random.Generator) -> Parcels:
    """Draw each express consignment's size and write its extra parcels over the records that follow it.

    A record is overwritten only because an earlier record leads a consignment, never because of what it
    holds, so the records left are still independent draws; the parcels get their own quantity, price and
    weight from the lead's context (``SHARED`` is copied).
    """
    size = len(mech)
    express = ctx["express"]
    split = mech == S9_COLUMN
    drawn = np.where(
        express,
        np.where(
            split,
            categorical(rng, np.cumsum(PARCELS_SPLIT), size),
            categorical(rng, np.cumsum(PARCELS_COMPLIANT), size),
        ),
        1,
    )
    drawn = np.where(express & ~split & (mech > 0), 1, drawn)  # other mechanisms: one parcel
    lead = np.arange(size, dtype=np.int64)
    k = np.ones(size, dtype=np.int64)
    cut = np.zeros(size, dtype=bool)
    r = 0
    many = np.flatnonzero(drawn > 1)
    for i in many.tolist():
        if i < r:  # already a parcel of an earlier consignment
            continue
        end = min(i + int(drawn[i]), size)
        lead[i:end] = i
        k[i:end] = end - i
        cut[i:end] = end - i < drawn[i]
        r = end
    sib = np.flatnonzero(lead != np.arange(size))
    if len(sib):
        src = lead[sib]
        for key in SHARED:
            ctx[key][sib] = ctx[key][src]
        mech[sib] = mech[src]
        piece = world.hs6_piece[ctx["hs6"][sib]]
        ctx["lq"][sib] = quantity(rng.normal(ctx["mq"][sib], ctx["sq"][sib]), piece)
        ctx["lp"][sib] = rng.normal(
            world.hs6_logp[ctx["hs6"][sib]] + world.level[ctx["origin"][sib]], world.p["price_sigma"]
        )
        luw = rng.normal(world.hs6_loguw[ctx["hs6"][sib]], world.p["unit_weight_sigma"])
        ctx["luw"][sib] = np.where(world.hs6_bulk[ctx["hs6"][sib]], world.hs6_loguw[ctx["hs6"][sib]], luw)
    return Parcels(lead=lead, size=np.where(express, k, 1), cut=cut, express=express.copy())


def _consignee_ids(world: ShipmentWorld, lo: int, parcels: Parcels) -> pd.Series:
    """Name the buyer each express parcel is addressed to (one per consignment); missing for other records.

    A scrambled number of the consignment's first record (a bijection below 10^9), so ids carry no order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    number = ((parcels.lead + lo) * 2654435761 + world.seed * 40503) % 1_000_000_007
    digits = pc.utf8_lpad(pc.cast(pa.array(number, mask=~parcels.express), pa.string()), 10, "0")
    return pd.Series(pd.array(pc.binary_join_element_wise(pa.scalar("C"), digits, ""), dtype="str"))


def _weigh_consignments(out: Float, parcels: Parcels, log_h0: Float, log_lam_s9: Float) -> None:
    """Turn per-parcel log joints into per-consignment ones, in place (rows of ``out`` are records).

    The size is evidence (compliant and split consignments differ in it; other mechanisms ship one
    parcel). A consignment of several parcels is compliant or S9 as a whole: its log odds add the
    parcels' evidence, with the prior counted once, and every parcel gets the consignment's posterior.
    """
    k, cut = parcels.size, parcels.cut
    with np.errstate(divide="ignore"):
        lc = np.log(np.where(cut, _tail(PARCELS_COMPLIANT)[k], PARCELS_COMPLIANT[k]))
        ls = np.log(np.where(cut, _tail(PARCELS_SPLIT)[k], PARCELS_SPLIT[k]))
    many = np.flatnonzero(k > 1)
    # per parcel of a consignment: evidence for S9 against compliant beyond the prior (the parcels share
    # the context, so the prior and the shared terms cancel); summed over the consignment, prior and size once
    prior = log_lam_s9[many] - log_h0[many]
    per = out[many, S9_COLUMN] - out[many, 0] - prior
    express_rows = np.flatnonzero(parcels.express)  # only express records come in consignments
    out[express_rows, 0] += lc[express_rows]
    out[express_rows, S9_COLUMN] += ls[express_rows]
    if not len(many):
        return
    others = [c for c in range(1, out.shape[1]) if c != S9_COLUMN]
    out[np.ix_(many, np.asarray(others, dtype=np.int64))] = -np.inf
    group = parcels.lead[many]
    order = np.unique(group, return_inverse=True)[1]
    finite = np.isfinite(per)
    total = np.bincount(order, weights=np.where(finite, per, 0.0))
    impossible = np.bincount(order, weights=~finite) > 0
    # log P(compliant) and log P(S9) of the consignment, up to the terms they share
    out[many, 0] = lc[many]
    out[many, S9_COLUMN] = np.where(impossible[order], -np.inf, total[order] + prior + ls[many])


def generate_block(world: ShipmentWorld, block: int, lo: int, hi: int) -> pd.DataFrame:
    """Generate rows lo..hi-1 of the data set (one fixed block)."""
    return pd.DataFrame(block_columns(world, block, lo, hi), copy=False)


def block_columns(world: ShipmentWorld, block: int, lo: int, hi: int) -> dict[str, Any]:
    """Return the columns of :func:`generate_block`, not yet a frame (blocks are joined, then framed once)."""
    rng = C.block_rng(world.seed, KIND, block)
    p = world.p
    ctx = _draw_context(world, rng, np.arange(lo, hi, dtype=np.int64))
    size = hi - lo
    lam = _intensities(world, ctx)
    mech = _choose(lam, rng.random(size))
    parcels = _consignments(world, ctx, mech, rng)
    dec = _apply(world, ctx, mech, rng)
    post = _oracle(world, ctx, dec, parcels)

    # --- declared record
    q = np.exp(dec["lq"])
    price = np.exp(dec["lp"])
    cif = q * price
    net = q * np.exp(dec["luw"])
    gross = net / rng.beta(18.0, 2.0, size)  # docs/domain.md 4.1: net/gross ratio Beta centred 0.9
    air = np.isin(ctx["otype"], [OFFICE_TYPES.index("airport"), OFFICE_TYPES.index("express")])
    freight = cif * np.where(
        air, rng.uniform(0.05, 0.25, size), rng.uniform(0.02, 0.12, size)
    )  # docs/domain.md 4.1
    insurance = cif * rng.uniform(0.002, 0.006, size)
    fob = np.maximum(cif - freight - insurance, 0.0)
    declared_duty = _duty(world, dec["hs6"], dec["origin"], dec["claim"])
    ti = dec["proc"] == TEMPORARY_IMPORT
    # Temporary imports are duty-suspended; express parcels below the de-minimis value are exempt.
    exempt = ti | (ctx["express"] & (cif < p["de_minimis_usd"]))
    tax_declared = np.where(exempt, 0.0, cif * declared_duty + p["vat_rate"] * cif * (1 + declared_duty))
    imp = ctx["importer"]
    seconds = (
        np.where(
            ctx["otype"] == OFFICE_TYPES.index("land_gate"),
            rng.uniform(5, 21, size),
            rng.uniform(7, 19, size),
        )
        * 3600
    )

    # --- truth: the context's true values, but S3's preference claim was never due (the goods come from a
    # source country), and S5's goods are concealed ones with their own duty (a concealed good is drawn for
    # every record at this point of the stream; only S5 records use theirs).
    # an S9 parcel's value is honest (the split is the fraud): its true price is the declared one
    is_s9 = mech == S9_COLUMN
    true_q, true_price = np.exp(dec["true_lq"]), np.exp(np.where(is_s9, dec["lp"], ctx["lp"]))
    # whole pieces: S4 shipped more than it declared, so its true count rounds up
    true_q = np.where(world.hs6_piece[ctx["hs6"]], np.ceil(true_q - 1e-6), true_q)
    true_cif = true_q * true_price
    true_hs6, true_origin = ctx["hs6"].copy(), ctx["origin"].copy()
    true_duty = _duty(
        world, true_hs6, true_origin, ctx["claim"] & (mech != SHIPMENT_MECHANISMS.index("S3") + 1)
    )
    is_s5 = mech == SHIPMENT_MECHANISMS.index("S5") + 1
    concealed = rng.integers(0, len(CONCEALED_GOODS), size)
    concealed_rate = np.array([r for _, r in CONCEALED_GOODS])[concealed]
    true_duty = np.where(is_s5, concealed_rate, true_duty)
    true_tax = true_cif * true_duty + p["vat_rate"] * true_cif * (1 + true_duty)
    revenue = np.where(mech == 0, 0.0, np.maximum(true_tax - tax_declared, 0.0))
    mech_names = np.array(["", *SHIPMENT_MECHANISMS])
    serious = np.isin(mech_names[mech], list(SERIOUS))
    truth_channel = np.where(mech == 0, 0, np.where(serious, 2, 1))
    truth_channel_code = truth_channel
    # true HS6: the catalogue code, or for concealment (S5) one of the concealed goods appended after it
    true_hs_code = np.where(is_s5, world.concealed_code[concealed], true_hs6)

    # --- oracle
    cols = ["", *SHIPMENT_MECHANISMS]
    red_cols = [i for i, m in enumerate(cols) if m in SERIOUS]
    p_violation = 1.0 - post[:, 0]
    p_red = post[:, red_cols].sum(axis=1)

    # --- legacy selection and inspection (docs/domain.md 1.1, 4.3)
    pts = _legacy_points(world, ctx, dec)
    legacy = p["legacy"]
    licence = world.hs6_licence[dec["hs6"]]
    selection = legacy_selection(
        rng, pts, licence, world.legacy_red, world.legacy_yellow, legacy, "regulatory", mech > 0
    )
    channel = selection.channel
    inspected = channel > 0
    detected = inspect(rng, selection, mech, world.detect_red, world.detect_yellow)

    # The temporary-import ledger customs keeps per firm: the share of its temporary imports of the past
    # year re-exported, on temporary-import declarations. A diverter's ledger runs low on every one of
    # them, found or not; an honest firm's near one. Given the firm's latent practice it carries no further
    # evidence, so the oracle (which knows the practice) is unchanged; a model must learn it from the ledger.
    diverter = world.imp_diverter[imp]
    ledger = np.where(diverter, rng.beta(5.0, 4.0, size), rng.beta(16.0, 2.0, size))
    reexported = np.where(dec["proc"] == TEMPORARY_IMPORT, np.round(ledger, 3), np.nan)

    hs4_idx = world.hs6_hs4[dec["hs6"]]
    channels = ["green", "yellow", "red"]
    return {
        "declaration_id": C.format_ids("D", world.seed, lo, hi),
        "declared_at": C.timestamps(world.start, ctx["day"], seconds),
        "office_code": C.categorical_codes(ctx["office"], world.office_code),
        "office_type": C.categorical_codes(ctx["otype"], list(OFFICE_TYPES)),
        "transport_mode": C.categorical_codes(
            np.select([ctx["otype"] == 0, air, ctx["otype"] == 2], [0, 1, 2], 2),
            ["sea", "air", "road"],
        ),
        "procedure": C.categorical_codes(dec["proc"], list(PROCEDURES)),
        "ti_reexported_share": reexported,
        "importer_id": C.categorical_codes(imp, world.imp_id),
        "consignee_id": _consignee_ids(world, lo, parcels),
        "importer_registered_days": (ctx["day"] - world.imp_registered[imp]).astype(np.int64),
        "importer_compliance_level": world.imp_level[imp].astype(np.int64),
        "aeo": world.imp_aeo[imp],
        "declarant_id": C.categorical_codes(ctx["broker"], world.broker_id),
        "related_party": ctx["related"],
        "hs_code": C.categorical_codes(dec["hs6"], list(world.hs6)),
        "goods_description": C.categorical_codes(hs4_idx, world.hs4_desc),
        "origin_country": C.categorical_codes(dec["origin"], list(world.iso)),
        "departure_country": C.categorical_codes(dec["departure"], list(world.iso)),
        "preference_claimed": dec["claim"],
        "incoterm": C.categorical_codes(categorical(rng, np.cumsum(INCOTERM_P), size), list(INCOTERMS)),
        "quantity": np.round(q, 3),
        "quantity_unit": C.categorical_codes(world.hs4_unit[hs4_idx], list(world.units)),
        "net_weight_kg": np.round(net, 3),
        "gross_weight_kg": np.round(np.maximum(gross, net), 3),
        "n_packages": np.maximum(1, np.round(gross / rng.lognormal(np.log(20), 1.0, size))).astype(np.int64),
        "fob_value_usd": np.round(fob, 2),
        "freight_usd": np.round(freight, 2),
        "insurance_usd": np.round(insurance, 2),
        "cif_value_usd": np.round(cif, 2),
        "duty_rate": declared_duty,
        "vat_rate": np.full(size, p["vat_rate"]),
        "tax_declared_usd": np.round(tax_declared, 2),
        # truth (never a model input)
        "truth_violation": mech > 0,
        "truth_mechanism": pd.Categorical.from_codes(
            mech - 1, categories=pd.Index(SHIPMENT_MECHANISMS, dtype="str")
        ),
        "truth_severity": C.categorical_codes(
            np.where(mech == 0, 0, np.where(serious, 2, 1)), ["none", "minor", "serious"]
        ),
        "truth_channel": C.categorical_codes(truth_channel, channels),
        "truth_hs_code": C.categorical_codes(true_hs_code, world.true_hs_codes),
        "truth_origin_country": C.categorical_codes(true_origin, list(world.iso)),
        "truth_cif_value_usd": np.round(true_cif, 2),
        "truth_quantity": np.round(true_q, 3),
        "truth_revenue_at_stake_usd": np.round(revenue, 2),
        "truth_importer_type": C.categorical_codes(world.imp_type[imp], list(TYPES)),
        "truth_broker_complicit": world.broker_complicit[ctx["broker"]],
        "truth_selection_propensity": selection.truth_propensity,
        "oracle_p_violation": p_violation,
        "oracle_p_yellow": p_violation - p_red,
        "oracle_p_red": p_red,
        # legacy selection outcome (what a real history table records)
        "legacy_channel": C.categorical_codes(channel, channels),
        "legacy_reason": pd.Categorical(
            selection.reason, categories=["none", "rule", "regulatory", "random", "officer"]
        ),
        "selection_propensity": selection.propensity,
        "inspected": inspected,
        "observed_label": pd.arrays.BooleanArray(inspected & detected, mask=~inspected),
        # what the inspection found: the channel the record deserved, as far as the check could tell
        "observed_channel": C.categorical_codes(
            np.where(inspected, np.where(detected, truth_channel_code, 0), -1), channels
        ),
    }
