"""Synthetic shipments exported the way another administration might keep them: the own-data tutorial's table.

Column names in Vietnamese (without diacritics) with spaces, day-first text dates, the administration's own
office codes, a 0/1/2 inspection finding (or 0/1) instead of channel words, an "inspected" flag, a separate
revenue column, no selection propensity, a few importer ids missing, and no truth columns. Used by
docs/own-data.md and bench/own_data.py to exercise the path a real user's table takes (spec inference,
training, scoring, review) on data whose truth is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskscore.synthetic.scenario import data_dir

__all__ = ["FOREIGN_COLUMNS", "FOREIGN_ID", "FOREIGN_OUTCOME", "FOREIGN_TIME", "foreign_layout"]

#: declared column -> its name in the foreign layout
FOREIGN_COLUMNS = {
    "declaration_id": "so to khai",
    "declared_at": "ngay dang ky",
    "office_code": "ma chi cuc",
    "office_type": "loai cua khau",
    "transport_mode": "phuong thuc van tai",
    "procedure": "loai hinh",
    "ti_reexported_share": "ty le tai xuat",
    "importer_id": "ma doanh nghiep",
    "consignee_id": "nguoi nhan",
    "importer_registered_days": "so ngay tu khi dang ky",
    "importer_compliance_level": "muc tuan thu",
    "aeo": "doanh nghiep uu tien",
    "declarant_id": "ma dai ly",
    "related_party": "ben lien ket",
    "hs_code": "ma hs",
    "goods_description": "mo ta hang hoa",
    "origin_country": "xuat xu",
    "departure_country": "nuoc xuat khau",
    "preference_claimed": "uu dai thue",
    "incoterm": "dieu kien giao hang",
    "quantity": "so luong",
    "quantity_unit": "don vi tinh",
    "net_weight_kg": "trong luong tinh kg",
    "gross_weight_kg": "trong luong ca bi kg",
    "n_packages": "so kien",
    "fob_value_usd": "tri gia fob usd",
    "freight_usd": "phi van chuyen usd",
    "insurance_usd": "phi bao hiem usd",
    "cif_value_usd": "tri gia tinh thue usd",
    "duty_rate": "thue suat nhap khau",
    "vat_rate": "thue suat gtgt",
    "tax_declared_usd": "tong thue usd",
}
FOREIGN_ID = "so to khai"
FOREIGN_TIME = "ngay dang ky"
FOREIGN_OUTCOME = "ket qua kiem tra"
FOREIGN_INSPECTED = "da kiem tra"
FOREIGN_REVENUE = "thu ve usd"


def _office_codes() -> dict[str, str]:
    """Every office of the reference table -> its code in the foreign layout (the same for every chunk)."""
    offices = sorted(pd.read_csv(data_dir() / "offices.csv", dtype=str)["code"])
    return {o: f"CC{i + 1:02d}" for i, o in enumerate(offices)}


def foreign_layout(frame: pd.DataFrame, *, seed: int = 0, binary: bool = False) -> pd.DataFrame:
    """Export generated shipments in the foreign layout (see the module docstring).

    Parameters
    ----------
    frame
        Generated shipments (``riskscore.synthetic.generate_shipments``), truth and outcome included.
    seed
        Which importer ids go missing (3% of records).
    binary
        The finding as 0/1 (anything found) instead of 0/1/2 (nothing, documentary, serious).

    Returns
    -------
    pandas.DataFrame
        The declared columns renamed, dates as ``dd/mm/YYYY HH:MM`` text, office codes of the form
        ``CC01``..., ``ket qua kiem tra`` (the finding, missing when not inspected), ``da kiem tra``
        (inspected, 0/1) and ``thu ve usd`` (duty at stake of the violations found, 0 when nothing was found).
    """
    out = frame[list(FOREIGN_COLUMNS)].rename(columns=FOREIGN_COLUMNS)
    out[FOREIGN_TIME] = pd.to_datetime(frame["declared_at"]).dt.strftime("%d/%m/%Y %H:%M")
    codes = _office_codes()
    out["ma chi cuc"] = frame["office_code"].astype(str).map(codes)
    rng = np.random.default_rng(seed)
    importer = frame["importer_id"].astype(object).where(rng.random(len(frame)) >= 0.03, None)
    out["ma doanh nghiep"] = importer
    inspected = frame["inspected"].astype(bool).to_numpy()
    channel = frame["observed_channel"].astype(object)
    level = channel.map({"green": 0.0, "yellow": 1.0, "red": 2.0}).astype(float)
    if binary:
        level = (level > 0).astype(float).where(level.notna())
    out[FOREIGN_OUTCOME] = pd.array(np.where(inspected, level, np.nan), dtype="Float64").astype("Int64")
    out[FOREIGN_INSPECTED] = inspected.astype(int)
    found = inspected & frame["observed_label"].fillna(False).astype(bool).to_numpy()
    out[FOREIGN_REVENUE] = np.where(
        found, frame["truth_revenue_at_stake_usd"].to_numpy(dtype=float), 0.0
    ).round(2)
    # an administration's table has plain text columns, not the generator's pandas categoricals
    text = [c for c in out.columns if isinstance(out[c].dtype, pd.CategoricalDtype)]
    return out.astype(dict.fromkeys(text, object)).reset_index(drop=True)
