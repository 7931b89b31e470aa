"""Scenario files: where a synthetic population's parameters come from, and their validation.

A scenario is a TOML file in the top-level ``synthetic/scenarios/`` folder (installed copies live in
``riskscore/_data/synthetic``). ``load_scenario`` accepts a scenario name, a path to a TOML file, or a mapping
that is deep-merged over the default scenario, so a study can change one knob without copying the file.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from riskscore.exceptions import ScenarioError

__all__ = ["MECHANISM_NAMES", "Scenario", "available_scenarios", "data_dir", "load_scenario"]

SHIPMENT_MECHANISMS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11")
PASSENGER_MECHANISMS = ("P1", "P2", "P3", "P4")
#: What each planted mechanism is, in words (README's mechanism table): shown beside the code in reports.
MECHANISM_NAMES = {
    "S1": "undervaluation",
    "S2": "HS misclassification to a lower-duty neighbour",
    "S3": "origin fraud / transhipment",
    "S4": "quantity misdeclaration",
    "S5": "concealment of prohibited goods",
    "S6": "phantom importer",
    "S7": "complicit broker",
    "S8": "temporary-import diversion",
    "S9": "e-commerce split below de minimis",
    "S10": "transfer pricing",
    "S11": "overvaluation",
    "P1": "undeclared cash",
    "P2": "goods for resale",
    "P3": "gold",
    "P4": "drugs",
}
IMPORTER_TYPES = ("compliant", "careless", "opportunistic", "deliberate")
TRAVELLER_TYPES = ("ordinary", "shopper", "courier", "mule")


# Settings of the first synthetic world and where their meaning went (a user's old scenario file gets a fix).
RETIRED = {
    "red_sensitivity": "give detect_red in each mechanism's table (what a red check finds of that mechanism)",
    "yellow_sensitivity": "give detect_yellow in each mechanism's table (what a documentary check finds)",
}


def data_dir() -> Path:
    """Return the folder holding scenarios and reference tables.

    An installed wheel carries them in ``riskscore/_data/synthetic``; a source checkout (including an
    editable install) reads the top-level ``synthetic/`` folder directly.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_data" / "synthetic", package.parent / "synthetic"):
        if (candidate / "scenarios").is_dir():
            return candidate
    raise ScenarioError(
        f"riskscore's reference tables were not found in {package / '_data' / 'synthetic'} or "
        f"{package.parent / 'synthetic'}; reinstall riskscore (pip install riskscore) or run from a source checkout"
    )


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped with riskscore."""
    return sorted(p.stem for p in (data_dir() / "scenarios").glob("*.toml"))


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its name, where it came from, and its parameters (a nested dict)."""

    name: str
    source: str
    params: Mapping[str, Any]

    @property
    def start(self) -> dt.date:
        """First day of the simulated period."""
        return _as_date(self.params["scenario"]["start"], "scenario.start")

    @property
    def days(self) -> int:
        """Length of the simulated period in days."""
        return int(self.params["scenario"]["days"])

    def section(self, kind: str) -> dict[str, Any]:
        """Return the parameters of one record kind (``"shipments"`` or ``"passengers"``), a deep copy."""
        return copy.deepcopy(dict(self.params[kind]))


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@lru_cache(maxsize=16)
def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(
            f"scenario file {path!r} does not exist; pass a scenario name or an existing path"
        ) from None
    except IsADirectoryError:
        raise ScenarioError(
            f"scenario {path!r} is a folder; pass a scenario TOML file inside it or a scenario name"
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario file {path!r} is not UTF-8 text; save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path!r} is not valid TOML: {exc}") from None


def load_scenario(scenario: str | Path | Mapping[str, Any] | Scenario = "default") -> Scenario:
    """Load and validate a scenario.

    Parameters
    ----------
    scenario
        A shipped scenario name (see :func:`available_scenarios`), a path to a TOML file, a mapping
        deep-merged over the default scenario, or an already loaded :class:`Scenario`.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Unknown name, unreadable file, or an invalid value (the message names the field and the fix).

    Examples
    --------
    >>> load_scenario({"shipments": {"prevalence": 0.06}}).params["shipments"]["prevalence"]
    0.06
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        default = _read_toml(str(data_dir() / "scenarios" / "default.toml"))
        params = _deep_merge(default, scenario)
        name, source = str(params.get("scenario", {}).get("name", "custom")), "default + overrides"
    else:
        text = str(scenario)
        is_path = isinstance(scenario, Path) or text.endswith(".toml") or "/" in text or "\\" in text
        if is_path:
            source = str(Path(text).resolve())
        else:
            names = available_scenarios()
            if text not in names:
                close = difflib.get_close_matches(text, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ScenarioError(
                    f"unknown scenario {text!r}; available: {', '.join(names)}.{hint} "
                    "Or pass a path to a scenario TOML file."
                )
            source = str(data_dir() / "scenarios" / f"{text}.toml")
        params = copy.deepcopy(_read_toml(source))
        name = str(params.get("scenario", {}).get("name", Path(source).stem))
    _unknown_keys(params, _read_toml(str(data_dir() / "scenarios" / "default.toml")))
    _validate(params)
    return Scenario(name=name, source=source, params=params)


def _as_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ScenarioError(
            f"scenario field {field!r} must be a date like 2025-01-01; got {value!r}"
        ) from None


def _number(
    section: Mapping[str, Any], key: str, where: str, *, lo: float = 0.0, hi: float | None = None
) -> float:
    field = f"{where}.{key}"
    if key not in section:
        raise ScenarioError(
            f"scenario field {field!r} is missing; add it (see synthetic/scenarios/default.toml)"
        )
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"scenario field {field!r} must be a number; got {value!r}")
    if value != value or value < lo or (hi is not None and value > hi):
        bound = f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}"
        what = "a share" if hi == 1.0 else "a rate"
        raise ScenarioError(f"scenario field {field!r} is {what} and must be {bound}; got {value!r}")
    return float(value)


def _range(section: Mapping[str, Any], key: str, where: str) -> None:
    field = f"{where}.{key}"
    value = section.get(key)
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and 0 < value[0] < value[1]
    )
    if not ok:
        raise ScenarioError(
            f"scenario field {field!r} must be [low, high] with 0 < low < high; got {value!r}"
        )


def _shares(section: Mapping[str, Any], key: str, where: str, names: tuple[str, ...], *, total: bool) -> None:
    field = f"{where}.{key}"
    value = section.get(key)
    if not isinstance(value, Mapping):
        raise ScenarioError(f"scenario field {field!r} must be a table like {{ {names[0]} = 0.5, ... }}")
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ScenarioError(f"scenario field {field!r} has unknown keys {unknown}; allowed: {list(names)}")
    for name in names:
        if name not in value:
            raise ScenarioError(
                f"scenario field {field!r} is missing {name!r}; give every one of {list(names)}"
            )
        _number(value, name, field, hi=1.0 if total else None)
    if total and abs(sum(float(value[n]) for n in names) - 1.0) > 1e-6:
        raise ScenarioError(
            f"scenario field {field!r} must sum to 1; its values sum to {sum(value.values()):g}"
        )


def _validate_mechanisms(section: Mapping[str, Any], where: str, names: tuple[str, ...]) -> None:
    mechs = section.get("mechanisms")
    if not isinstance(mechs, Mapping):
        raise ScenarioError(f"scenario field '{where}.mechanisms' is missing; add a table per mechanism")
    unknown = sorted(set(mechs) - set(names))
    if unknown:
        raise ScenarioError(
            f"scenario field '{where}.mechanisms' has unknown mechanisms {unknown}; known: {list(names)}"
        )
    for name in names:
        if name not in mechs:
            raise ScenarioError(
                f"scenario field '{where}.mechanisms.{name}' is missing; add it with enabled = false"
            )
        m = mechs[name]
        mw = f"{where}.mechanisms.{name}"
        if not isinstance(m.get("enabled", True), bool):
            raise ScenarioError(
                f"scenario field '{mw}.enabled' must be true or false; got {m.get('enabled')!r}"
            )
        _number(m, "share", mw)
        _number(m, "detect_red", mw, hi=1.0)
        _number(m, "detect_yellow", mw, hi=1.0)
        if m["detect_yellow"] > m["detect_red"]:
            raise ScenarioError(
                f"scenario field '{mw}.detect_yellow' ({m['detect_yellow']:g}) exceeds '{mw}.detect_red' "
                f"({m['detect_red']:g}); a red check includes the documentary one, so it finds at least as much"
            )
        for key in ("factor", "weight_factor", "value_factor", "value_band"):
            if key in m:
                _range(m, key, mw)
        if "type_multiplier" in m:
            _shares(m, "type_multiplier", mw, TRAVELLER_TYPES, total=False)


def _validate_legacy(section: Mapping[str, Any], where: str) -> None:
    legacy = section.get("legacy")
    if not isinstance(legacy, Mapping):
        raise ScenarioError(
            f"scenario field '{where}.legacy' is missing; add the legacy selection policy table"
        )
    w = f"{where}.legacy"
    for key in (
        "red_share",
        "yellow_share",
        "random_red",
        "random_yellow",
        "intelligence_hit_rate",
        "intelligence_false_rate",
    ):
        _number(legacy, key, w, hi=1.0)
    _number(legacy, "biased_points", w)
    if not isinstance(legacy.get("record_propensity"), bool):
        raise ScenarioError(
            f"scenario field '{w}.record_propensity' must be true or false; got {legacy.get('record_propensity')!r}"
        )
    if not isinstance(legacy.get("biased_value"), str):
        raise ScenarioError(
            f'scenario field \'{w}.biased_value\' must be a country code like "IN" or "" for none; '
            f"got {legacy.get('biased_value')!r}"
        )
    if legacy["red_share"] + legacy["yellow_share"] > 1.0:
        raise ScenarioError(f"scenario fields '{w}.red_share' + '{w}.yellow_share' must not exceed 1")


def _unknown_keys(params: Mapping[str, Any], reference: Mapping[str, Any], where: str = "") -> None:
    """Refuse keys the default scenario does not know: a typo must not be silently ignored."""
    for key, value in params.items():
        path = f"{where}.{key}" if where else str(key)
        if key in RETIRED and key not in reference:
            raise ScenarioError(f"scenario field {path!r} was retired in the v2 world: {RETIRED[key]}")
        if key not in reference:
            # mechanism tables and drift entries are checked by their own validators
            if where.endswith("mechanisms") or where.endswith("drift"):
                continue
            close = difflib.get_close_matches(str(key), [str(k) for k in reference], n=1)
            hint = f"; did you mean {'.'.join([*where.split('.'), close[0]]).lstrip('.')!r}?" if close else ""
            raise ScenarioError(
                f"scenario field {path!r} is not a known setting{hint} "
                "(see synthetic/scenarios/default.toml for the settings)"
            )
        ref = reference[key]
        if (
            isinstance(value, Mapping)
            and isinstance(ref, Mapping)
            and not key.endswith(("_types", "_multiplier", "_share"))
        ):
            if where.endswith("mechanisms"):
                # every mechanism table shares one set of keys: compare with the same mechanism's defaults
                allowed = set(ref) | {
                    "factor",
                    "weight_factor",
                    "value_factor",
                    "value_band",
                    "type_multiplier",
                }
                unknown = sorted(set(value) - allowed)
                if unknown:
                    close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ScenarioError(
                        f"scenario field '{path}.{unknown[0]}' is not a known mechanism setting{hint}"
                    )
                continue
            _unknown_keys(value, ref, path)


def _validate(params: Mapping[str, Any]) -> None:
    head = params.get("scenario")
    if not isinstance(head, Mapping):
        raise ScenarioError("scenario is missing its [scenario] table (name, start, days)")
    _as_date(head.get("start"), "scenario.start")
    days = head.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ScenarioError(f"scenario field 'scenario.days' must be a whole number >= 1; got {days!r}")

    s = params.get("shipments")
    if not isinstance(s, Mapping):
        raise ScenarioError("scenario is missing its [shipments] table")
    for key in (
        "prevalence",
        "aeo_share_of_top_importers",
        "new_importer_volume",
        "phantom_share_of_new",
        "complicit_broker_share",
        "related_party_share",
        "multinational_related_share",
        "preference_claim_share",
        "transhipment_share",
        "temporary_import_share",
        "vat_rate",
    ):
        _number(s, key, "shipments", hi=1.0)
    for key in ("price_sigma", "unit_weight_sigma", "quantity_sigma"):
        _number(s, key, "shipments", lo=1e-6)
    for key in (
        "importers_per_row",
        "brokers_per_importer",
        "zipf_exponent",
        "aeo_multiplier",
        "complicit_broker_multiplier",
        "de_minimis_usd",
        "min_importers",
        "aeo_top_importers",
    ):
        _number(s, key, "shipments")
    for key in (
        "max_importer_share",
        "max_broker_share",
        "large_importer_share",
        "max_entity_violation_share",
    ):
        _number(s, key, "shipments", lo=1e-6, hi=1.0)
    _shares(s, "importer_types", "shipments", IMPORTER_TYPES, total=True)
    _shares(s, "type_multiplier", "shipments", (*IMPORTER_TYPES, "phantom"), total=False)
    _validate_mechanisms(s, "shipments", SHIPMENT_MECHANISMS)
    _validate_legacy(s, "shipments")
    for i, drift in enumerate(s.get("drift", [])):
        w = f"shipments.drift[{i}]"
        _as_date(drift.get("start"), f"{w}.start")
        for key, names in (("mix", SHIPMENT_MECHANISMS), ("hs2", None), ("origins", None)):
            table = drift.get(key, {})
            if not isinstance(table, Mapping):
                raise ScenarioError(f"scenario field '{w}.{key}' must be a table of multipliers")
            if names is not None:
                unknown = sorted(set(table) - set(names))
                if unknown:
                    raise ScenarioError(
                        f"scenario field '{w}.{key}' has unknown mechanisms {unknown}; known: {list(names)}"
                    )
            for k in table:
                _number(table, k, f"{w}.{key}")

    p = params.get("passengers")
    if not isinstance(p, Mapping):
        raise ScenarioError("scenario is missing its [passengers] table")
    for key in (
        "minor_prevalence",
        "serious_prevalence",
        "crew_share",
        "land_gate_volume",
        "departure_share",
        "watchlist_partial_share",
    ):
        _number(p, key, "passengers", hi=1.0)
    for key in ("travellers_per_trip", "zipf_exponent", "pre_tet_multiplier", "cash_threshold_usd"):
        _number(p, key, "passengers")
    _shares(p, "traveller_types", "passengers", TRAVELLER_TYPES, total=True)
    _validate_mechanisms(p, "passengers", PASSENGER_MECHANISMS)
    _validate_legacy(p, "passengers")
