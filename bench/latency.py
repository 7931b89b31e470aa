"""One-record latency: RiskModel.predict_one(dict) against LGBMClassifier.predict_proba on a one-row DataFrame.

Usage: python bench/latency.py [--records 2000] [--runs 5]

Both sides score the same records one at a time, in one run, single-threaded: ours from the raw declared
fields (type checks, features, risk and severity models, calibration, policy) to channel and risk score;
the peer from the already-built feature row (a one-row DataFrame) through LightGBM's scikit-learn API,
with a classifier of the same size (same parameters and number of trees) fitted on the same features.
Targets: p99 <= 1 ms, and >= 5x faster than the peer at p50. Also explain() of one record.
"""

from __future__ import annotations

import argparse
import time

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskscore.model import load
from riskscore.synthetic import generate_shipments


def pct(ts: list[float]) -> tuple[float, float]:
    return float(np.percentile(ts, 50) * 1e3), float(np.percentile(ts, 99) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5, help="repeat the side-by-side comparison (default 5)")
    args = ap.parse_args()
    model = load("shipment")
    # fresh records for every run (and for warming up, and for the explanations): a record scored before
    # would find its history lookups and text hashes memoised, which a new declaration does not
    warm, n_explain = 200, 300
    frame = generate_shipments(
        warm + args.runs * args.records + n_explain, seed=2025, start="2025-12-01", days=31
    )
    cols = [c.name for c in model.spec.columns if c.declared]
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in frame[cols].to_dict("records")
    ]
    X = model.features.transform(frame)
    names = model.features.feature_names_
    est = model.estimator
    peer = lgb.LGBMClassifier(
        n_estimators=est.best_iteration_,
        num_leaves=est.num_leaves,
        learning_rate=est.learning_rate,
        n_jobs=1,
        verbose=-1,
    )
    y = (np.random.default_rng(0).random(len(X)) < 0.1).astype(int)
    peer.fit(pd.DataFrame(X, columns=names), y)
    rows = [pd.DataFrame(X[i : i + 1], columns=names) for i in range(len(X))]
    for r in records[:warm]:  # warm up both (imports, first-use set-up) on records not measured
        model.predict_one(r)
    for r in rows[:warm]:
        peer.predict_proba(r)
    print(
        f"trees: risk {est.best_iteration_}, severity {model.severity.best_iteration_ if model.severity else 0}; "
        f"features: {len(names)}; records per run: {args.records:,} (new ones each run); runs: {args.runs}"
    )
    print("| run | riskscore predict_one p50 ms | p99 ms | peer p50 ms | p99 ms | p50 speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios, p99s = [], []
    for run in range(args.runs):  # machine speed drifts between runs: each run compares side by side
        ours, theirs = [], []
        for i in range(warm + run * args.records, warm + (run + 1) * args.records):  # interleaved
            t0 = time.perf_counter()
            model.predict_one(records[i])
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            peer.predict_proba(rows[i])
            theirs.append(time.perf_counter() - t0)
        o, t = pct(ours), pct(theirs)
        ratios.append(t[0] / o[0])
        p99s.append(o[1])
        print(f"| {run + 1} | {o[0]:.3f} | {o[1]:.3f} | {t[0]:.3f} | {t[1]:.3f} | {t[0] / o[0]:.1f}x |")
    expl, expl_one = [], []
    for r in records[-n_explain:]:
        t0 = time.perf_counter()
        model.explain(r)
        expl.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.predict_one(r, explain=True)
        expl_one.append(time.perf_counter() - t0)
    e, e1 = pct(expl), pct(expl_one)
    print("\n| one record, explained | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    print(f"| riskscore explain(dict) (contributions, fields, reasons) | {e[0]:.3f} | {e[1]:.3f} |")
    print(f"| riskscore predict_one(dict, explain=True) | {e1[0]:.3f} | {e1[1]:.3f} |")
    print(
        f"median p50 speed-up over the peer: {float(np.median(ratios)):.1f}x over {args.runs} runs "
        f"(min {min(ratios):.1f}x; target >= 5x); p99 median {float(np.median(p99s)):.3f} ms, "
        f"max {max(p99s):.3f} ms (target <= 1 ms)"
    )


if __name__ == "__main__":
    main()
