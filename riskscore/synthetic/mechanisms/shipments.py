"""The planted shipment mechanisms S1-S11, each written once (docs/domain.md 2.2, 4.1).

A mechanism is one object with the three things the generator and its oracle must agree on:

``intensity(world, d)``
    the unnormalised rate ``g_m(context)`` at which it happens to a record, from the record's
    :class:`Drivers` (importer and broker propensity, duty at stake, ...). The generator turns it into a
    probability ``lambda_m`` with the scenario's share, a normaliser set on a pilot sample and scheduled
    drift (``shipments._intensities``);
``apply(world, dec, mask, rng)``
    what it does to the declared values of the records it happens to (``mask``);
``log_joint(world, ev)``
    ``log lambda_m + log p(declared values | m)`` from the oracle's :class:`Evidence`: the unnormalised
    log posterior of the hypothesis. Prior and density stay together because S2 and S3 hide a true value
    (the code, the origin) the intensity depends on, so the oracle sums prior x density over it.

:data:`MECHANISMS` lists them in the order of the hypotheses (``scenario.SHIPMENT_MECHANISMS``): the
oracle's columns, the order ``shipments._choose`` stacks intensities in to pick a record's mechanism, the
categories of ``truth_mechanism``. :data:`DRAW_ORDER` is the order ``apply`` consumes random numbers in.

What stays in ``shipments.py``: the world tables a mechanism reads (``hs6_nbr`` for S2, the hub tables
for S3, ...), the combination of intensities into probabilities, the compliant hypothesis, and the truth
columns (S3's invalid preference and S5's concealed goods set the true duty and code in ``generate_block``).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from riskscore.synthetic._stats import (
    categorical,
    log_uniform,
    norm_logpdf,
    rowwise_categorical,
    shifted_logpdf,
)
from riskscore.synthetic.scenario import SHIPMENT_MECHANISMS

if TYPE_CHECKING:
    from riskscore.synthetic.shipments import ShipmentWorld

__all__ = [
    "DRAW_ORDER",
    "MECHANISMS",
    "TEMPORARY_IMPORT",
    "Drivers",
    "Evidence",
    "ShipmentMechanism",
    "subset_context",
]

Int = NDArray[np.int64]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

# Code of "temporary_import" in shipments.PROCEDURES (declared codes are positions in that tuple).
TEMPORARY_IMPORT = 2
S3_DEPARTS_FROM_HUB = 0.7  # share of S3 goods loaded at the declared hub itself; the rest at another port


@dataclass(frozen=True)
class Drivers:
    """What intensities depend on, for a batch of contexts at given true HS6 codes and origins."""

    ctx: dict[str, Any]  # the record context (shipments._draw_context, or the oracle's declared version)
    hs6: Int  # true HS6 (a hypothetical one when the oracle marginalises S2)
    origin: Int  # true origin (a hypothetical one when the oracle marginalises S3)
    phantom: Bool  # the importer is a phantom (a new ID that will not be seen again)
    tm: Float  # latent-type multiplier x AEO multiplier
    complicit: Bool  # the declarant is a complicit broker
    broker_m: Float  # complicit-broker multiplier
    base: Float  # tm x broker_m: how willing this importer and declarant are
    duty: Float  # duty rate at the true code and origin
    duty_w: Float  # 0.05 + the saturated duty: what a lower value saves (duty-free goods still get some)
    field_office: Bool  # seaport, land gate or ICD: where temporary imports are diverted


class IntensityFn(Protocol):
    """``shipments._intensities`` bound to a world: lambda_m for a context at a given true code / origin."""

    def __call__(
        self, ctx: dict[str, Any], *, hs6: Int | None = None, origin: Int | None = None
    ) -> dict[str, Float]: ...


@dataclass(frozen=True)
class Evidence:
    """What the oracle knows of a batch of records (declared values, latent traits), and shared terms."""

    ctx: dict[str, Any]  # context with the declared code, origin, claim, procedure, price and quantity
    n: int
    lq: Float  # declared log quantity
    lp: Float  # declared log unit price
    luw: Float  # declared log unit weight
    hs6: Int  # declared HS6
    origin: Int  # declared origin
    departure: Int
    claim: Bool  # preference claimed
    is_ti: Bool  # declared under temporary import
    mq: Float  # mean of the true log quantity
    sq: Any  # its sigma, per record: (n,) floats (Any: _stats types sigmas of opposed shifts as float)
    sp: float  # sigma of the true log unit price
    sw: float  # sigma of the true log unit weight
    mu_p: Float  # mean true log unit price at the declared code and origin
    mu_w: Float  # mean true log unit weight at the declared code
    n_q: Float  # log densities of the declared quantity, price and unit weight, left as drawn
    n_p: Float
    n_w: Float
    proc_h0: Float  # log P(declared procedure) when no mechanism forced it
    origin_term: Float  # log P(declared origin, departure, claim | heading) when the origin is the true one
    common: Float  # origin_term + log P(code | heading): shared by every hypothesis keeping code and origin
    log_lam: dict[str, Float]  # log lambda_m at the declared values
    intensities: IntensityFn  # lambda_m re-evaluated at a hidden true code (S2) or origin (S3)

    def joint(
        self,
        name: str,
        *,
        q: Float | None = None,
        p: Float | None = None,
        w: Float | None = None,
        procedure: bool = True,
    ) -> Float:
        """``log lambda_m`` + the shared terms + the quantity, price and unit-weight terms of hypothesis m.

        A mechanism passes the terms it changes (its density of a shifted field); the others are the
        fields' densities as drawn. ``procedure=False`` for a hypothesis that fixes the procedure (S8).
        """
        out = self.log_lam[name] + self.common
        if procedure:
            out = out + self.proc_h0
        out = out + (self.n_q if q is None else q)
        out = out + (self.n_p if p is None else p)
        return np.asarray(out + (self.n_w if w is None else w), dtype=np.float64)

    def take(self, rows: Int) -> Evidence:
        """Return the evidence of some records only (per-record arrays indexed, shared values kept)."""

        def pick(v: Any) -> Any:
            return v[rows] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == self.n else v

        fields = {f.name: pick(getattr(self, f.name)) for f in dataclasses.fields(self)}
        fields["ctx"] = subset_context(self.ctx, rows)
        fields["log_lam"] = {k: v[rows] for k, v in self.log_lam.items()}
        fields["n"] = len(rows)
        return Evidence(**fields)


class ShipmentMechanism(ABC):
    """One planted mechanism: when it happens, what it declares, how likely its declarations are."""

    name: str
    serious: bool = False  # docs/domain.md 4.1 critical case: deserves red (physical) inspection
    # The hypothesis hides a true value its intensity depends on (S2's code, S3's origin): its term cannot be
    # skipped where the intensity at the declared values is zero.
    marginalises: bool = False

    @abstractmethod
    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Unnormalised rate g_m of the mechanism for each record."""

    @abstractmethod
    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Turn the true values of the ``mask`` records of ``dec`` (a copy of them) into declared ones."""

    @abstractmethod
    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """``log lambda_m + log p(declared values | m)`` for each record (-inf where impossible)."""

    def __repr__(self) -> str:
        return f"<mechanism {self.name}>"


def _range(value: Any) -> tuple[float, float]:
    lo, hi = value
    return float(lo), float(hi)


def subset_context(ctx: dict[str, Any], rows: Int) -> dict[str, Any]:
    """Return the context of some records: per-record arrays indexed, everything else kept."""
    return {
        k: (v[rows] if isinstance(v, np.ndarray) and v.ndim == 1 and len(v) == len(ctx["day"]) else v)
        for k, v in ctx.items()
    }


# ------------------------------------------------------------------------------------ value shifts


class _ValueShift(ShipmentMechanism):
    """The declared unit price is the true one times a log-uniform ``factor``; nothing else moves.

    Code, origin, quantity and weight stay true, so the price is the only trace (docs/domain.md 2.2 "uv_ratio").
    """

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Scale the unit price by the mechanism's factor."""
        factor = _range(world.p["mechanisms"][self.name]["factor"])
        dec["lp"][mask] += log_uniform(rng, *factor, int(mask.sum()))

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Price: normal convolved with the uniform log factor; other fields as drawn."""
        lo, hi = np.log(world.p["mechanisms"][self.name]["factor"])
        return ev.joint(self.name, p=shifted_logpdf(ev.lp, ev.mu_p, ev.sp, lo, hi))


class S1(_ValueShift):
    """Undervaluation: the most common fraud, concentrated where the duty saved is large."""

    name = "S1"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Duty at stake, half as much again on high-risk headings (docs/domain.md 2.2 high-value goods)."""
        return np.asarray(d.base * d.duty_w * (1.0 + 0.5 * world.hs6_high[d.hs6]), dtype=np.float64)


class S6(_ValueShift):
    """Phantom importer: a fly-by-night ID declares low values once and disappears (docs/domain.md 2.2, DATE 5.5)."""

    name = "S6"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Only phantom importers, whatever the goods; a complicit broker helps."""
        return np.asarray(d.phantom * d.broker_m, dtype=np.float64)


class S7(_ValueShift):
    """Complicit broker: a few declarants undervalue across many importers (docs/domain.md 2.2)."""

    name = "S7"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Only through complicit brokers, in proportion to the importer's willingness and the duty."""
        return np.asarray(d.complicit * d.tm * d.duty_w, dtype=np.float64)


class S10(ShipmentMechanism):
    """Transfer pricing: a related buyer and seller price below arm's length, persistently.

    The factor is the importer's standing arrangement (``world.imp_transfer``), the same on every trade
    it under-prices, so the history of the pair shows it (docs/domain.md 2.2 S10).
    """

    name = "S10"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Only related-party trades of importers with a transfer-pricing arrangement."""
        arranged = world.imp_transfer[d.ctx["importer"]] < 0
        return np.asarray(d.base * d.ctx["related"] * arranged, dtype=np.float64)

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Scale the unit price by the importer's standing factor."""
        dec["lp"][mask] += world.imp_transfer[dec["importer"][mask]]

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Price normal around the reference shifted by the importer's factor (a latent trait)."""
        shift = world.imp_transfer[ev.ctx["importer"]]
        return ev.joint(self.name, p=norm_logpdf(ev.lp, ev.mu_p + shift, ev.sp))


class S11(_ValueShift):
    """Overvaluation: money moved out as trade payments, on goods with little duty to pay (docs/domain.md 2.2)."""

    name = "S11"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Duty at most 5%, not through express (a parcel moves too little money)."""
        return np.asarray(d.base * (d.duty <= 0.05) * ~d.ctx["express"], dtype=np.float64)


# ------------------------------------------------------------------------------------ other fields


class S2(ShipmentMechanism):
    """HS misclassification: the code of a sibling with a clearly lower duty (``world.hs6_nbr``).

    Price and weight keep the true code's distribution, so they look atypical for the declared one.
    """

    name = "S2"
    marginalises = True

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Scale with the (saturated) duty gap to the siblings; codes without a lower-duty one get none."""
        return np.asarray(d.base * world.hs6_gap[d.hs6] * 10.0, dtype=np.float64)

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Declare one of the lower-duty siblings, chosen by the siblings' volume."""
        true = dec["hs6"][mask]
        slot = rowwise_categorical(world.hs6_nbr_cum, true, rng.random(len(true)))
        dec["hs6"][mask] = world.hs6_nbr[true, slot]

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Sum over the true codes that may be declared as this one (``world.hs6_pre``), with that choice."""
        out = np.full(ev.n, -np.inf)
        # Only rows whose declared code has such codes can be S2; evaluate the (costly) full intensities
        # on those rows alone, at the hypothetical true code.
        for j in range(world.hs6_pre.shape[1]):
            rows = np.flatnonzero(world.hs6_pre[ev.hs6, j] >= 0)
            if not len(rows):
                continue
            h = world.hs6_pre[ev.hs6[rows], j]
            sub = subset_context(ev.ctx, rows)
            with np.errstate(divide="ignore"):
                lam_h = np.log(ev.intensities(sub, hs6=h)[self.name])
            term = (
                lam_h
                + world.hs6_pre_logp[ev.hs6[rows], j]
                + ev.origin_term[rows]
                + world.hs6_pop_logp[h]
                + ev.proc_h0[rows]
                + ev.n_q[rows]
                + norm_logpdf(ev.lp[rows], world.hs6_logp[h] + world.level[ev.origin[rows]], ev.sp)
                + np.where(world.hs6_bulk[h], 0.0, norm_logpdf(ev.luw[rows], world.hs6_loguw[h], ev.sw))
            )
            out[rows] = np.logaddexp(out[rows], term)
        return out


class S3(ShipmentMechanism):
    """Origin fraud: goods of a source country (anti-dumping on CN, or no FTA) declared from a hub.

    The declared origin is a hub (``world.s3_hub_cum``) with a preference claimed; the goods leave from the hub
    or, transhipped, from another port (docs/domain.md 2.2 "origin != departure"). The price keeps the true
    origin's level.
    """

    name = "S3"
    marginalises = True

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Only goods a source country has a reason to disguise."""
        src = world.s3_code[d.origin]
        eligible = ((src == 1) & world.hs6_ad[d.hs6]) | ((src == 2) & (world.hs6_mfn[d.hs6] >= 0.10))
        return np.asarray(d.base * eligible, dtype=np.float64)

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Declare a hub origin, its departure, and claim the preference."""
        origin, departure = dec["origin"], dec["departure"]
        k = int(mask.sum())
        origin[mask] = categorical(rng, world.s3_hub_cum, k)
        from_hub = rng.random(k) < S3_DEPARTS_FROM_HUB
        departure[mask] = np.where(
            from_hub, origin[mask], rowwise_categorical(world.dep_hub_cum, origin[mask], rng.random(k))
        )
        dec["claim"][mask] = True

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Sum over the source countries the goods may truly come from; only a hub with a claim can be S3."""
        out = np.full(ev.n, -np.inf)
        rows = np.flatnonzero(ev.claim & np.isfinite(world.s3_hub_logp[ev.origin]))
        if not len(rows):
            return out
        sub = subset_context(ev.ctx, rows)
        o_r, d_r = ev.origin[rows], ev.departure[rows]
        with np.errstate(divide="ignore"):
            dep_s3 = np.where(
                d_r == o_r,
                np.log(S3_DEPARTS_FROM_HUB),
                np.log1p(-S3_DEPARTS_FROM_HUB) + world.dep_hub_logp[o_r, d_r],
            )
            s3_obs = world.s3_hub_logp[o_r] + dep_s3
            acc = np.full(len(rows), -np.inf)
            for g0 in np.flatnonzero(world.s3_code > 0):
                gg = np.full(len(rows), g0, dtype=np.int64)
                lam_g = np.log(ev.intensities(sub, origin=gg)[self.name])
                h_r = ev.hs6[rows]
                term = (
                    lam_g
                    + world.origin_logp[world.hs6_hs4[h_r], g0]
                    + s3_obs
                    + world.hs6_pop_logp[h_r]
                    + ev.proc_h0[rows]
                    + ev.n_q[rows]
                    + norm_logpdf(ev.lp[rows], world.hs6_logp[h_r] + world.level[g0], ev.sp)
                    + ev.n_w[rows]
                )
                acc = np.logaddexp(acc, term)
        out[rows] = acc
        return out


class S4(ShipmentMechanism):
    """Quantity misdeclaration: fewer units declared than shipped, the value scaled with them, the weight true.

    The declared count looks like any other (it is what such a consignment usually declares); the goods
    truly shipped are that count divided by the factor, so the weight per declared unit rises by exactly
    that factor (docs/domain.md 2.2 S4: gross weight per unit too high for the goods).
    """

    name = "S4"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Countable goods (not bulk by weight), in proportion to the duty at stake."""
        return np.asarray(d.base * ~world.hs6_bulk[d.hs6] * d.duty_w, dtype=np.float64)

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Ship more than declared: the true quantity and the declared unit weight rise by 1 / factor."""
        a = log_uniform(rng, *_range(world.p["mechanisms"][self.name]["factor"]), int(mask.sum()))
        dec["true_lq"][mask] -= a
        dec["luw"][mask] -= a

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Quantity and price as drawn; the unit weight shifted up by the log of 1 / factor."""
        lo, hi = np.log(world.p["mechanisms"][self.name]["factor"])
        return ev.joint(self.name, w=shifted_logpdf(ev.luw, ev.mu_w, ev.sw, -hi, -lo))


class S5(ShipmentMechanism):
    """Concealment: prohibited or high-duty goods under a cover code, heavy and cheap for what is declared.

    The true goods (``shipments.CONCEALED_GOODS``) only appear in the truth columns.
    """

    name = "S5"
    serious = True

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Headings that make a plausible cover (``cover`` in hs_headings.csv)."""
        return np.asarray(d.base * world.hs6_cover[d.hs6], dtype=np.float64)

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Scale the unit price down and the unit weight up, by independent factors.

        Goods measured by weight weigh their declared quantity: only their price moves.
        """
        spec = world.p["mechanisms"][self.name]
        k = int(mask.sum())
        dec["lp"][mask] += log_uniform(rng, *_range(spec["value_factor"]), k)
        heavier = log_uniform(rng, *_range(spec["weight_factor"]), k)
        dec["luw"][mask] += np.where(world.hs6_bulk[dec["hs6"][mask]], 0.0, heavier)

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Price and unit weight each shifted by its own uniform log factor."""
        spec = world.p["mechanisms"][self.name]
        vlo, vhi = np.log(spec["value_factor"])
        wlo, whi = np.log(spec["weight_factor"])
        return ev.joint(
            self.name,
            p=shifted_logpdf(ev.lp, ev.mu_p, ev.sp, vlo, vhi),
            w=np.where(world.hs6_bulk[ev.hs6], 0.0, shifted_logpdf(ev.luw, ev.mu_w, ev.sw, wlo, whi)),
        )


class S8(ShipmentMechanism):
    """Temporary-import diversion: more declared under temporary import than will be re-exported.

    Only firms that divert as a standing practice (``world.imp_diverter``) do it, on their divertible goods;
    their re-export ledger (``ti_reexported_share``) runs low on all their temporary imports.
    """

    name = "S8"
    serious = True

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Diverter firms' divertible goods (petroleum, tobacco, sugar: docs/domain.md 2.2) at field offices."""
        diverter = world.imp_diverter[d.ctx["importer"]]
        return np.asarray(
            d.base * (world.hs6_divertible[d.hs6] & d.field_office & diverter), dtype=np.float64
        )

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Scale the quantity up and declare temporary import."""
        dec["lq"][mask] += log_uniform(
            rng, *_range(world.p["mechanisms"][self.name]["factor"]), int(mask.sum())
        )
        dec["proc"][mask] = TEMPORARY_IMPORT

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Quantity shifted; the procedure is temporary import for certain, so other procedures rule it out."""
        lo, hi = np.log(world.p["mechanisms"][self.name]["factor"])
        shifted = ev.joint(self.name, q=shifted_logpdf(ev.lq, ev.mq, ev.sq, lo, hi), procedure=False)
        return np.asarray(np.where(ev.is_ti, shifted, -np.inf), dtype=np.float64)


class S9(ShipmentMechanism):
    """E-commerce split: one consignment to one consignee sent as several parcels, each just under de minimis.

    Each parcel's value is honest, packed to stay under the tax-free threshold, so the consignment as a whole
    escapes duty (docs/domain.md 2.2 S9: many low-value parcels to one consignee the same day, values
    clustered just under the threshold). ``shipments.generate_block`` writes the consignment's parcels (its
    ``split_parcels`` sizes) and the oracle weighs the whole consignment; this object scores one parcel.
    """

    name = "S9"

    def intensity(self, world: ShipmentWorld, d: Drivers) -> Float:
        """Express consignments."""
        return np.asarray(d.base * d.ctx["express"], dtype=np.float64)

    def apply(self, world: ShipmentWorld, dec: dict[str, Any], mask: Bool, rng: np.random.Generator) -> None:
        """Declare a value uniform on ``value_band`` x threshold; the quantity stays true."""
        lo_b, hi_b = world.p["mechanisms"][self.name]["value_band"]
        value = rng.uniform(lo_b, hi_b, int(mask.sum())) * world.p["de_minimis_usd"]
        dec["lp"][mask] = np.log(value) - dec["lq"][mask]

    def log_joint(self, world: ShipmentWorld, ev: Evidence) -> Float:
        """Score the value as uniform in the band: the density of its log is value / (T (hi - lo))."""
        blo, bhi = world.p["mechanisms"][self.name]["value_band"]
        thr = world.p["de_minimis_usd"]
        lv = ev.lp + ev.lq
        in_band = (lv >= np.log(blo * thr)) & (lv <= np.log(bhi * thr))
        return np.asarray(
            np.where(
                in_band,
                ev.log_lam[self.name]
                + ev.common
                + ev.proc_h0
                + ev.n_q
                + lv
                - np.log(thr * (bhi - blo))
                + ev.n_w,
                -np.inf,
            ),
            dtype=np.float64,
        )


# Hypothesis order: the oracle's columns, the order a record's mechanism is drawn in, truth_mechanism.
MECHANISMS: tuple[ShipmentMechanism, ...] = (
    S1(),
    S2(),
    S3(),
    S4(),
    S5(),
    S6(),
    S7(),
    S8(),
    S9(),
    S10(),
    S11(),
)
if tuple(m.name for m in MECHANISMS) != SHIPMENT_MECHANISMS:
    raise RuntimeError(
        f"shipment mechanisms {[m.name for m in MECHANISMS]} must match scenario.SHIPMENT_MECHANISMS "
        f"{list(SHIPMENT_MECHANISMS)} in the same order; add or reorder the mechanism in both"
    )
_BY_NAME = {m.name: m for m in MECHANISMS}
# The order apply() draws random factors in. It is not the hypothesis order because it is the order the
# generator drew them in before mechanisms were objects; changing it would change every seed's data set.
DRAW_ORDER: tuple[ShipmentMechanism, ...] = tuple(
    _BY_NAME[name] for name in ("S1", "S6", "S7", "S10", "S11", "S4", "S5", "S8", "S9", "S2", "S3")
)
