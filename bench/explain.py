"""Explanations through the public API against shap.TreeExplainer, and the review report's build time.

Usage: python bench/explain.py [--rows 10000] [--cases 1000]

* RiskModel.explain on ``rows`` records (schema check, features, LightGBM TreeSHAP, grouping to fields,
  reason sentences) against shap.TreeExplainer(booster).shap_values on the prepared matrix alone, in one
  run; values must be identical. Target: >= 3x shap's throughput.
* build_review on a batch with ``cases`` flagged cases shown in full.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np

from riskscore.model import load
from riskscore.report import build_review
from riskscore.synthetic import generate_shipments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--cases", type=int, default=1_000)
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    model = load("shipment")
    records = generate_shipments(max(args.rows, 8 * args.cases), seed=2025, start="2025-12-01", days=31)
    batch = records.iloc[: args.rows]
    model.explain(batch.iloc[:200])  # warm up
    t0 = time.perf_counter()
    ex = model.explain(batch)
    t_ours = time.perf_counter() - t0
    X = model.features.transform(batch)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sv = shap.TreeExplainer(model.estimator.booster_).shap_values(X)
    t_shap = time.perf_counter() - t0
    sv = np.asarray(sv[1] if isinstance(sv, list) else sv)
    diff = float(np.abs(sv - ex.contributions.to_numpy()).max())
    print(
        f"| explain {args.rows:,} records | riskscore (public API, with reasons) {t_ours:.2f} s "
        f"({args.rows / t_ours:,.0f} rows/s) | shap.TreeExplainer on the matrix {t_shap:.2f} s "
        f"({args.rows / t_shap:,.0f} rows/s) | {t_shap / t_ours:.1f}x shap's throughput | max |diff| {diff:.1e} |"
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = build_review(model, records, tmp, max_cases=args.cases)
        t_report = time.perf_counter() - t0
        size = result.index.stat().st_size
    print(
        f"| review report: {result.records:,} records, {result.flagged:,} flagged, {result.shown:,} shown | "
        f"{t_report:.1f} s | index.html {size / 1e6:.1f} MB |"
    )


if __name__ == "__main__":
    main()
