"""Write riskscore/specs/{shipment,passenger}.toml from the column tables below.

The TOML files are the source of truth that the library reads; this script only saves typing when a
column is added. Run: python tools/write_specs.py
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "riskscore" / "specs"

# Entity ids arrive with stray spaces or in lower case from some clearance systems; the same importer must
# keep its history, so ids are stripped and upper-cased in every path (training, batch, one record).
ID_NORMALIZE = ["strip", "upper"]

# Short labels people read in reason sentences and reports (the description says more).
LABELS = {
    "declaration_id": "Declaration",
    "declared_at": "Lodged at",
    "office_code": "Customs office",
    "office_type": "Office type",
    "transport_mode": "Transport mode",
    "procedure": "Procedure",
    "importer_id": "Importer",
    "importer_registered_days": "Days since the importer registered",
    "importer_compliance_level": "Importer compliance level",
    "aeo": "Authorised Economic Operator",
    "declarant_id": "Broker",
    "related_party": "Related buyer and seller",
    "hs_code": "HS",
    "goods_description": "Goods description",
    "origin_country": "Origin country",
    "departure_country": "Departure country",
    "preference_claimed": "Preferential tariff claimed",
    "incoterm": "Delivery terms",
    "quantity": "Quantity",
    "quantity_unit": "Quantity unit",
    "net_weight_kg": "Net weight (kg)",
    "gross_weight_kg": "Gross weight (kg)",
    "n_packages": "Packages",
    "fob_value_usd": "FOB value (USD)",
    "freight_usd": "Freight (USD)",
    "insurance_usd": "Insurance (USD)",
    "cif_value_usd": "Customs value (USD)",
    "duty_rate": "Duty rate",
    "vat_rate": "VAT rate",
    "tax_declared_usd": "Tax declared (USD)",
    "trip_id": "Trip",
    "crossed_at": "Crossed at",
    "traveller_id": "Traveller",
    "border_point": "Border point",
    "border_type": "Border type",
    "direction": "Direction",
    "route": "Route",
    "route_country": "Route country",
    "carrier": "Carrier",
    "flight_number": "Flight",
    "transit": "Transit stop",
    "dwell_hours": "Hours in transit",
    "passenger_type": "Passenger type",
    "nationality": "Nationality",
    "residence_country": "Residence country",
    "sex": "Sex",
    "age": "Age",
    "doc_type": "Document type",
    "doc_issuing_country": "Document issuing country",
    "doc_days_to_expiry": "Days until the document expires",
    "pnr_locator": "Booking reference",
    "days_booked_before_travel": "Days booked before travel",
    "booking_channel": "Booking channel",
    "payment_form": "Payment",
    "ticket_type": "Ticket type",
    "trip_duration_days": "Planned stay (days)",
    "pax_on_pnr": "Passengers on the booking",
    "travelling_alone": "Travelling alone",
    "cabin_class": "Cabin",
    "frequent_flyer": "Frequent flyer",
    "bag_count": "Checked bags",
    "bag_weight_kg": "Bag weight (kg)",
    "vehicle_type": "Vehicle",
    "declared_currency_usd": "Cash declared (USD)",
    "declared_channel": "Self-declared channel",
    "watchlist_hit": "Watch-list match",
}

# name, type, role, extra (dict), description
SHIPMENT = [
    ("declaration_id", "string", "id", {}, "Declaration number"),
    ("declared_at", "datetime", "timestamp", {}, "Time the declaration was lodged"),
    ("office_code", "category", "category", {"open": True}, "Customs office (branch) code"),
    (
        "office_type",
        "category",
        "category",
        {"values": ["seaport", "airport", "land_gate", "express", "icd"]},
        "Kind of office",
    ),
    (
        "transport_mode",
        "category",
        "category",
        {"values": ["sea", "air", "road", "rail", "post"]},
        "Mode of transport at the border",
    ),
    (
        "procedure",
        "category",
        "category",
        {"values": ["consumption", "processing_export", "temporary_import", "ecommerce", "samples"]},
        "Customs procedure (VNACCS type code family)",
    ),
    (
        "ti_reexported_share",
        "float",
        "rate",
        {"min": 0, "max": 1, "nullable": True},
        "Temporary imports only: share of the firm's temporary imports of the past year re-exported "
        "(the customs ledger); missing on other procedures",
    ),
    (
        "importer_id",
        "category",
        "entity",
        {"open": True, "normalize": ID_NORMALIZE},
        "Importer (consignee) tax code, hashed",
    ),
    (
        "consignee_id",
        "string",
        "entity",
        {"nullable": True},
        "Express parcels only: the buyer the parcel is addressed to, shared by the parcels of one consignment",
    ),
    (
        "importer_registered_days",
        "int",
        "duration",
        {"min": 0},
        "Days since the importer registered with customs",
    ),
    (
        "importer_compliance_level",
        "int",
        "category",
        {"min": 1, "max": 5},
        "Compliance rating 1 (priority) to 5 (non-compliant), Circular 81/2019",
    ),
    ("aeo", "bool", "flag", {}, "Importer is an Authorised Economic Operator"),
    (
        "declarant_id",
        "category",
        "entity",
        {"open": True, "normalize": ID_NORMALIZE},
        "Customs broker (declarant) code",
    ),
    ("related_party", "bool", "flag", {}, "Buyer and seller are related (transfer pricing)"),
    (
        "hs_code",
        "category",
        "entity",
        {"open": True, "pattern": "^[0-9]{6}$", "normalize": ["strip"]},
        "Declared HS code (6 digits)",
    ),
    ("goods_description", "category", "text", {"open": True, "nullable": True}, "Goods description"),
    (
        "origin_country",
        "category",
        "category",
        {"open": True, "pattern": "^[A-Z]{2}$"},
        "Declared country of origin (ISO 3166 alpha-2)",
    ),
    (
        "departure_country",
        "category",
        "category",
        {"open": True, "pattern": "^[A-Z]{2}$"},
        "Country of departure / port of loading (ISO alpha-2)",
    ),
    ("preference_claimed", "bool", "flag", {}, "A preferential (FTA) tariff rate is claimed"),
    (
        "incoterm",
        "category",
        "category",
        {"values": ["EXW", "FCA", "FOB", "CFR", "CIF", "DAP", "DDP"]},
        "Delivery terms",
    ),
    ("quantity", "float", "quantity", {"min": 0}, "Declared quantity in quantity_unit"),
    (
        "quantity_unit",
        "category",
        "category",
        {"open": True},
        "Unit of quantity (PCE, KGM, LTR, MTR, SET, TNE, MTQ)",
    ),
    ("net_weight_kg", "float", "weight", {"min": 0}, "Net weight in kg"),
    ("gross_weight_kg", "float", "weight", {"min": 0}, "Gross weight in kg (>= net weight)"),
    ("n_packages", "int", "count", {"min": 0}, "Number of packages"),
    ("fob_value_usd", "float", "amount", {"min": 0}, "FOB value in USD"),
    ("freight_usd", "float", "amount", {"min": 0}, "Freight in USD"),
    ("insurance_usd", "float", "amount", {"min": 0}, "Insurance in USD"),
    ("cif_value_usd", "float", "amount", {"min": 0}, "Customs (CIF) value in USD"),
    (
        "duty_rate",
        "float",
        "rate",
        {"min": 0, "max": 5},
        "Import duty rate applied to the declared code and origin",
    ),
    ("vat_rate", "float", "rate", {"min": 0, "max": 1}, "VAT rate"),
    ("tax_declared_usd", "float", "amount", {"min": 0}, "Duty and VAT declared, USD"),
    # truth: generator only
    ("truth_violation", "bool", "truth", {}, "The declaration violates (ground truth)"),
    (
        "truth_mechanism",
        "category",
        "truth",
        {"nullable": True, "values": ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11"]},
        "Planted mechanism; missing for compliant records",
    ),
    (
        "truth_severity",
        "category",
        "truth",
        {"values": ["none", "minor", "serious"]},
        "Severity of the violation",
    ),
    (
        "truth_channel",
        "category",
        "truth",
        {"values": ["green", "yellow", "red"]},
        "Channel the record deserves: documentary fraud yellow, concealment and serious red",
    ),
    ("truth_hs_code", "category", "truth", {"open": True}, "True HS code of the goods"),
    ("truth_origin_country", "category", "truth", {"open": True}, "True country of origin"),
    ("truth_cif_value_usd", "float", "truth", {"min": 0}, "True customs value"),
    ("truth_quantity", "float", "truth", {"min": 0}, "True quantity"),
    ("truth_revenue_at_stake_usd", "float", "truth", {"min": 0}, "Duty and VAT evaded (0 if compliant)"),
    (
        "truth_importer_type",
        "category",
        "truth",
        {"values": ["compliant", "careless", "opportunistic", "deliberate", "phantom"]},
        "Importer's latent compliance type",
    ),
    ("truth_broker_complicit", "bool", "truth", {}, "The declarant is complicit (latent)"),
    (
        "truth_selection_propensity",
        "float",
        "truth",
        {"min": 0, "max": 1},
        "Exact P(the legacy policy inspects this record | fields, truth): the rules, the random draw and "
        "intelligence tips the data does not carry",
    ),
    (
        "oracle_p_violation",
        "float",
        "oracle",
        {"min": 0, "max": 1},
        "Exact P(violation | declared fields, latent traits) from the generator",
    ),
    (
        "oracle_p_yellow",
        "float",
        "oracle",
        {"min": 0, "max": 1},
        "Oracle probability that the record deserves yellow",
    ),
    (
        "oracle_p_red",
        "float",
        "oracle",
        {"min": 0, "max": 1},
        "Oracle probability that the record deserves red",
    ),
    # legacy selection outcome: what a real history table records
    (
        "legacy_channel",
        "category",
        "outcome",
        {"values": ["green", "yellow", "red"]},
        "Channel the legacy policy assigned",
    ),
    (
        "legacy_reason",
        "category",
        "outcome",
        {"values": ["none", "rule", "regulatory", "random", "officer"]},
        "Why the legacy policy selected the record",
    ),
    (
        "selection_propensity",
        "float",
        "outcome",
        {"min": 0, "max": 1, "nullable": True},
        "P(the legacy policy's rules or random draw inspect this record), as the administration records it; "
        "missing where it does not",
    ),
    ("inspected", "bool", "outcome", {}, "The record was inspected (yellow or red)"),
    (
        "observed_label",
        "bool",
        "label",
        {"nullable": True},
        "Inspection found a violation; missing when not inspected",
    ),
    (
        "observed_channel",
        "category",
        "label",
        {"nullable": True, "values": ["green", "yellow", "red"]},
        "Channel the inspection showed the record deserved (green = nothing found); missing when not inspected",
    ),
]

# Derived features (riskscore.features), docs/domain.md 2.1 "Derived risk features" and 4.2.
SHIPMENT_FEATURES = [
    {"name": "unit_value", "kind": "log_ratio", "inputs": ["cif_value_usd", "quantity"]},
    {"name": "value_per_kg", "kind": "log_ratio", "inputs": ["cif_value_usd", "net_weight_kg"]},
    {"name": "weight_per_unit", "kind": "log_ratio", "inputs": ["net_weight_kg", "quantity"]},
    {"name": "tax_ratio", "kind": "ratio", "inputs": ["tax_declared_usd", "cif_value_usd"]},
    {"name": "fob_cif_ratio", "kind": "ratio", "inputs": ["fob_value_usd", "cif_value_usd"]},
    {"name": "net_gross_ratio", "kind": "ratio", "inputs": ["net_weight_kg", "gross_weight_kg"]},
    {
        "name": "unit_value_vs_ref",
        "kind": "reference",
        "inputs": ["unit_value"],
        "by": [["hs_code", "origin_country"], ["hs_code"], ["hs_code:4"], ["hs_code:2"]],
        "description": "Declared unit value against the reference for HS6 x origin (log), backing off to HS4, HS2",
    },
    {
        "name": "value_per_kg_vs_ref",
        "kind": "reference",
        "inputs": ["value_per_kg"],
        "by": [["hs_code", "origin_country"], ["hs_code"], ["hs_code:4"]],
    },
    {
        "name": "weight_per_unit_vs_ref",
        "kind": "reference",
        "inputs": ["weight_per_unit"],
        "by": [["hs_code"], ["hs_code:4"]],
    },
    {
        "name": "quantity_vs_ref",
        "kind": "reference",
        "inputs": ["quantity"],
        "by": [["hs_code", "office_type"], ["hs_code"], ["hs_code:4"]],
    },
    {
        "name": "duty_gap",
        "kind": "group_max_gap",
        "inputs": ["duty_rate"],
        "key": "hs_code",
        "group": "hs_code:4",
        "description": "Highest typical duty rate in the same HS4 minus the declared rate (misclassification)",
    },
    {"name": "origin_ne_departure", "kind": "not_equal", "inputs": ["origin_country", "departure_country"]},
    {
        "name": "importer",
        "kind": "history",
        "inputs": ["importer_id"],
        "windows": [7, 90],
        "first_seen": True,
        # cold start (docs/domain.md 2.2): a new importer's rate starts from its broker's, goods', origin's
        # and office's
        "by": [["declarant_id"], ["hs_code"], ["origin_country"], ["office_code"]],
    },
    {"name": "declarant", "kind": "history", "inputs": ["declarant_id"]},
    {"name": "hs", "kind": "history", "inputs": ["hs_code"]},
    {"name": "origin", "kind": "history", "inputs": ["origin_country"]},
    {
        "name": "importer_hs",
        "kind": "history",
        "inputs": ["importer_id", "hs_code"],
        "first_seen": True,
        "by": [["importer_id"], ["hs_code"]],
        "description": "Novelty: first time this importer declares this HS code",
    },
    {"name": "calendar", "kind": "calendar", "inputs": ["declared_at"]},
]

PASSENGER_FEATURES = [
    {
        "name": "traveller",
        "kind": "history",
        "inputs": ["traveller_id"],
        "windows": [30, 90],
        "first_seen": True,
    },
    # no backoff levels for travellers: the route backoff measured no gain (bench/quality.py, 3 seeds:
    # precision@5% 0.649 of the oracle against 0.656 without)
    {"name": "traveller_route", "kind": "history", "inputs": ["traveller_id", "route"], "windows": [30, 90]},
    {"name": "route_hist", "kind": "history", "inputs": ["route"]},
    {
        "name": "bag_weight_vs_ref",
        "kind": "reference",
        "inputs": ["bag_weight_kg"],
        "by": [["route"], ["border_type"]],
    },
    {"name": "calendar", "kind": "calendar", "inputs": ["crossed_at"]},
]

PASSENGER = [
    ("trip_id", "string", "id", {}, "Crossing (trip) identifier"),
    ("crossed_at", "datetime", "timestamp", {}, "Time of arrival or departure at the border"),
    (
        "traveller_id",
        "category",
        "entity",
        {"open": True, "normalize": ["strip"]},  # hex digits: their case is part of the generated id
        "Stable hashed traveller identifier",
    ),
    ("border_point", "category", "category", {"open": True}, "Airport or land gate (customs office code)"),
    (
        "border_type",
        "category",
        "category",
        {"values": ["airport", "land_gate", "seaport"]},
        "Kind of border point",
    ),
    ("direction", "category", "category", {"values": ["arrival", "departure"]}, "Arrival or departure"),
    (
        "route",
        "category",
        "entity",
        {"open": True, "normalize": ID_NORMALIZE},
        "Route (foreign port to border point)",
    ),
    (
        "route_country",
        "category",
        "category",
        {"open": True, "pattern": "^[A-Z]{2}$"},
        "Country at the foreign end of the route",
    ),
    ("carrier", "category", "category", {"open": True, "nullable": True}, "Airline (missing at land gates)"),
    ("flight_number", "string", "text", {"nullable": True}, "Flight number (missing at land gates)"),
    ("transit", "bool", "flag", {}, "The journey has a transit stop"),
    ("dwell_hours", "float", "duration", {"min": 0, "nullable": True}, "Hours at the transit point"),
    (
        "passenger_type",
        "category",
        "category",
        {"values": ["passenger", "crew", "transit"]},
        "API passenger type",
    ),
    ("nationality", "category", "protected", {"open": True, "protected": True}, "Nationality (protected)"),
    (
        "residence_country",
        "category",
        "protected",
        {"open": True, "protected": True},
        "Country of residence (protected)",
    ),
    ("sex", "category", "protected", {"values": ["F", "M", "X"], "protected": True}, "Sex (protected)"),
    ("age", "int", "protected", {"min": 0, "max": 120, "protected": True}, "Age in years (protected)"),
    (
        "doc_type",
        "category",
        "category",
        {"values": ["passport", "border_pass", "id_card"]},
        "Travel document type",
    ),
    (
        "doc_issuing_country",
        "category",
        "protected",
        {"open": True, "protected": True},
        "Document issuing country (a nationality proxy: protected)",
    ),
    ("doc_days_to_expiry", "int", "duration", {"min": 0}, "Days until the document expires"),
    ("pnr_locator", "string", "text", {"nullable": True}, "PNR record locator (missing at land gates)"),
    (
        "days_booked_before_travel",
        "float",
        "duration",
        {"min": 0, "nullable": True},
        "Booking lead time in days",
    ),
    (
        "booking_channel",
        "category",
        "category",
        {"values": ["online", "agency", "airline_office"], "nullable": True},
        "How the ticket was booked",
    ),
    (
        "payment_form",
        "category",
        "category",
        {"values": ["card", "transfer", "cash", "miles"], "nullable": True},
        "Form of payment",
    ),
    (
        "ticket_type",
        "category",
        "category",
        {"values": ["round_trip", "one_way", "multi_city"], "nullable": True},
        "Ticket type",
    ),
    ("trip_duration_days", "float", "duration", {"min": 0, "nullable": True}, "Planned stay (round trips)"),
    ("pax_on_pnr", "int", "count", {"min": 1}, "Passengers travelling together"),
    ("travelling_alone", "bool", "flag", {}, "Travelling alone"),
    (
        "cabin_class",
        "category",
        "category",
        {"values": ["economy", "premium", "business"], "nullable": True},
        "Cabin",
    ),
    ("frequent_flyer", "bool", "flag", {}, "Holds a frequent-flyer account"),
    ("bag_count", "int", "count", {"min": 0}, "Checked bags"),
    ("bag_weight_kg", "float", "weight", {"min": 0}, "Total bag weight in kg"),
    (
        "vehicle_type",
        "category",
        "category",
        {"values": ["none", "car", "motorbike", "bus", "on_foot", "truck"]},
        "Vehicle at a land gate ('none' by air)",
    ),
    ("declared_currency_usd", "float", "amount", {"min": 0}, "Cash and bearer instruments declared, USD"),
    (
        "declared_channel",
        "category",
        "category",
        {"values": ["green", "red"]},
        "Self-declared channel: red = goods to declare (not the risk channel)",
    ),
    ("watchlist_hit", "category", "category", {"values": ["none", "partial", "exact"]}, "Watch-list match"),
    ("truth_violation", "bool", "truth", {}, "The trip violates (ground truth)"),
    (
        "truth_mechanism",
        "category",
        "truth",
        {"nullable": True, "values": ["P1", "P2", "P3", "P4"]},
        "Planted mechanism; missing for compliant trips",
    ),
    ("truth_severity", "category", "truth", {"values": ["none", "minor", "serious"]}, "Severity"),
    (
        "truth_channel",
        "category",
        "truth",
        {"values": ["green", "yellow", "red"]},
        "Channel the trip deserves",
    ),
    (
        "truth_undeclared_value_usd",
        "float",
        "truth",
        {"min": 0},
        "Value of cash, goods, gold or drugs carried undeclared",
    ),
    ("truth_revenue_at_stake_usd", "float", "truth", {"min": 0}, "Duty and VAT evaded"),
    (
        "truth_traveller_type",
        "category",
        "truth",
        {"values": ["ordinary", "shopper", "courier", "mule"]},
        "Traveller's latent type",
    ),
    (
        "truth_selection_propensity",
        "float",
        "truth",
        {"min": 0, "max": 1},
        "Exact P(the legacy policy checks this trip | fields, truth): the rules, the random draw and "
        "intelligence tips the data does not carry",
    ),
    (
        "oracle_p_violation",
        "float",
        "oracle",
        {"min": 0, "max": 1},
        "Exact P(violation | fields, latent type)",
    ),
    (
        "oracle_p_yellow",
        "float",
        "oracle",
        {"min": 0, "max": 1},
        "Oracle probability the trip deserves yellow",
    ),
    ("oracle_p_red", "float", "oracle", {"min": 0, "max": 1}, "Oracle probability the trip deserves red"),
    (
        "legacy_channel",
        "category",
        "outcome",
        {"values": ["green", "yellow", "red"]},
        "Channel the legacy policy assigned",
    ),
    (
        "legacy_reason",
        "category",
        "outcome",
        {"values": ["none", "rule", "declared", "random", "officer"]},
        "Why the legacy policy selected the trip",
    ),
    (
        "selection_propensity",
        "float",
        "outcome",
        {"min": 0, "max": 1, "nullable": True},
        "P(the legacy policy's rules or random draw check this trip), as the administration records it; "
        "missing where it does not",
    ),
    ("inspected", "bool", "outcome", {}, "The trip was checked (yellow or red)"),
    (
        "observed_label",
        "bool",
        "label",
        {"nullable": True},
        "The check found a violation; missing when not checked",
    ),
    (
        "observed_channel",
        "category",
        "label",
        {"nullable": True, "values": ["green", "yellow", "red"]},
        "Channel the inspection showed the record deserved (green = nothing found); missing when not inspected",
    ),
]


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def render(name: str, description: str, id_col: str, time_col: str, columns: list, features: list) -> str:
    """Render one spec as TOML text."""
    lines = [
        "# Record spec: columns, types and roles. Roles truth/oracle/outcome/label are never model inputs.",
        "# Written by tools/write_specs.py; edit there and re-run.",
        "[spec]",
        f"name = {_value(name)}",
        # version 2: the generated legacy outcome's `selection_reason` became `legacy_reason` (it means why the
        # legacy policy selected a record, not why a model's policy did); entity ids gained `normalize`.
        # version 3 (synthetic world v2): `legacy_reason` gained "officer" (intelligence tips), the recorded
        # `selection_propensity` may be missing, and `truth_selection_propensity` holds the exact one
        "version = 3",
        f"description = {_value(description)}",
        f"id = {_value(id_col)}",
        f"timestamp = {_value(time_col)}",
    ]
    for col, typ, role, extra, desc in columns:
        lines += [
            "",
            "[[columns]]",
            f"name = {_value(col)}",
            f"type = {_value(typ)}",
            f"role = {_value(role)}",
        ]
        lines += [f"{k} = {_value(v)}" for k, v in extra.items()]
        if col in LABELS:
            lines.append(f"label = {_value(LABELS[col])}")
        lines.append(f"description = {_value(desc)}")
    for feature in features:
        lines += ["", "[[features]]"] + [f"{k} = {_value(v)}" for k, v in feature.items()]
    # where the inspection outcome is (the generated legacy outcome), and the truth for --label truth
    lines += [
        "",
        "[labels]",
        'outcome = "observed_channel"',
        'values = { green = "green", yellow = "yellow", red = "red" }',
        'inspected = "inspected"',
        'propensity = "selection_propensity"',
        'truth = "truth_channel"',
        # which kind of check each inspection was: a physical (red) one can find what papers cannot
        'check = "legacy_channel"',
        'physical = ["red"]',
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "shipment.toml").write_text(
        render(
            "shipment",
            "Import declarations (one line per declaration), docs/domain.md 2.1",
            "declaration_id",
            "declared_at",
            SHIPMENT,
            SHIPMENT_FEATURES,
        )
    )
    (OUT / "passenger.toml").write_text(
        render(
            "passenger",
            "Passenger trips and land-border crossings (API/PNR), docs/domain.md 3.1",
            "trip_id",
            "crossed_at",
            PASSENGER,
            PASSENGER_FEATURES,
        )
    )
    print("wrote", OUT / "shipment.toml", OUT / "passenger.toml")
