"""Realism checks of a generated world: the figures a study should look at before trusting it.

``realism(frame)`` measures, on a generated shipment or passenger table (docs/domain.md 4.1, 4.2, 4.3):

* the oracle's precision at a 5% inspection rate (its ceiling; realistic worlds sit within 0.40-0.65);
* the largest share of all violations carried by one importer, broker or traveller (a world where one
  entity carries a third of the fraud measures how well a model learns one id);
* the highest violation rate of an HS6 code with at least 200 records (a near-pure fraud code is a tell);
* the violation rate of records selected at random against the prevalence, with its binomial z-score
  (random selections must be a random sample: docs/domain.md 4.3);
* the oracle's calibration: the largest |z| of observed against predicted violations over deciles and the
  top bins (> 0.5, > 0.8, > 0.95).

The bench scripts report these over several seeds; the tests assert the bands on several seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ENTITY_COLUMNS", "calibration_table", "realism"]

#: Entity columns whose share of all violations is checked, per kind.
ENTITY_COLUMNS = {
    "shipments": ("importer_id", "declarant_id"),
    "passengers": ("traveller_id",),
}
MIN_CODE_RECORDS = 200


def calibration_table(p: Any, y: Any) -> pd.DataFrame:
    """Predicted against observed violations per decile of ``p`` and in its top bins: counts, sd and z.

    ``expected`` is the sum of ``p`` in the bin, ``observed`` the violations, ``sd`` the standard deviation
    of that count (Poisson-binomial) and ``z`` the difference in sds.
    """
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=bool)
    order = np.argsort(p, kind="stable")
    rows = []
    for k, part in enumerate(np.array_split(order, 10)):
        rows.append((f"decile {k + 1}", part))
    for cut in (0.5, 0.8, 0.95):
        rows.append((f"p > {cut:g}", np.flatnonzero(p > cut)))
    out = []
    for name, idx in rows:
        n = len(idx)
        expected = float(p[idx].sum()) if n else 0.0
        observed = int(y[idx].sum()) if n else 0
        sd = float(np.sqrt((p[idx] * (1 - p[idx])).sum())) if n else 0.0  # Poisson-binomial count
        z = (observed - expected) / sd if sd > 0 else 0.0
        out.append({"bin": name, "records": n, "expected": expected, "observed": observed, "sd": sd, "z": z})
    return pd.DataFrame(out)


def realism(frame: pd.DataFrame, rate: float = 0.05) -> dict[str, Any]:
    """Measure the realism figures of one generated table (see the module docstring)."""
    kind = "shipments" if "declaration_id" in frame.columns else "passengers"
    y = frame["truth_violation"].to_numpy(dtype=bool)
    p = frame["oracle_p_violation"].to_numpy(dtype=np.float64)
    k = max(1, round(rate * len(frame)))
    top = np.argsort(-p, kind="stable")[:k]
    out: dict[str, Any] = {
        "kind": kind,
        "records": len(frame),
        "prevalence": float(y.mean()),
        "oracle_precision_at_5": float(y[top].mean()),
    }
    violations = max(int(y.sum()), 1)
    for col in ENTITY_COLUMNS[kind]:
        counts = frame.loc[y, col].astype(str).value_counts()
        out[f"max_{col}_share"] = float(counts.iloc[0] / violations) if len(counts) else 0.0
        out[f"max_{col}"] = str(counts.index[0]) if len(counts) else ""
    if kind == "shipments":
        by_code = pd.DataFrame({"code": frame["hs_code"].astype(str).to_numpy(), "y": y}).groupby("code")["y"]
        stats = by_code.agg(["size", "mean"])
        big = stats[stats["size"] >= MIN_CODE_RECORDS]
        out["max_code_rate"] = float(big["mean"].max()) if len(big) else 0.0
        out["max_code"] = str(big["mean"].idxmax()) if len(big) else ""
    random = (frame["legacy_reason"].astype(str) == "random").to_numpy()
    n_r = int(random.sum())
    prev = out["prevalence"]
    out["random_records"] = n_r
    out["random_rate"] = float(y[random].mean()) if n_r else float("nan")
    out["random_z"] = (
        float((y[random].sum() - n_r * prev) / np.sqrt(n_r * prev * (1 - prev)))
        if n_r and 0 < prev < 1
        else 0.0
    )
    cal = calibration_table(p, y)
    out["calibration_max_abs_z"] = float(cal["z"].abs().max())
    return out
