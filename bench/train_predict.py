"""Training overhead and batch-predict throughput against raw LightGBM, side by side in one run.

Usage: python bench/train_predict.py [--rows 1000000] [--threads 2]

* Training: riskscore.training.train end to end (validation, time split, features, LightGBM with early
  stopping, calibration, policy) on ``rows`` shipments, against lightgbm.train alone on the already-built
  feature matrix with the same parameters and the same number of boosting rounds. Target ratio <= 1.5.
* Predict: RiskModel.predict on ``rows`` records through the public API (schema check, features, model,
  calibration, policy) against Booster.predict on the prepared matrix. Target: >= 0.7 of its throughput.

Run with nothing else busy: LightGBM's OpenMP threads collapse on oversubscribed cores.
"""

from __future__ import annotations

import argparse
import time

import lightgbm as lgb

from riskscore.synthetic import generate_shipments
from riskscore.training import labels_of, time_split, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    # history of `rows` training records, then as many fresh ones to score (one world: one generator call)
    frame = generate_shipments(int(args.rows / 0.7), seed=11)
    t0 = time.perf_counter()
    result = train(frame, kind="shipment", num_threads=args.threads, valid_fraction=0.15, test_fraction=0.15)
    t_train = time.perf_counter() - t0
    model = result.model
    est = model.estimator

    # the same LightGBM fit alone, on the matrix riskscore built
    train_f, valid_f, _ = time_split(frame, "declared_at", 0.15, 0.15)
    has_l, y, w = labels_of(train_f, "observed", model.spec)
    X = model.features.transform(train_f)  # same shape/content class as the training matrix
    v_has, v_y, v_w = labels_of(valid_f, "observed", model.spec)
    Xv = model.features.transform(valid_f)
    found, v_found = (y != "green").astype(int), (v_y != "green").astype(int)
    t0 = time.perf_counter()
    # the risk head, then the severity head, with the rounds riskscore ran (early stopping included)
    dtrain = lgb.Dataset(
        X[has_l], found[has_l], weight=w[has_l], categorical_feature=list(est.categorical_features)
    )
    dvalid = lgb.Dataset(Xv[v_has], v_found[v_has], weight=v_w[v_has], reference=dtrain)
    rounds = est.booster_.current_iteration()
    lgb.train(est._params(2), dtrain, num_boost_round=rounds, valid_sets=[dvalid])
    if model.severity is not None:
        sev = model.severity
        rows = has_l & (found == 1)
        dsev = lgb.Dataset(
            X[rows], (y[rows] == "red").astype(int), categorical_feature=list(sev.categorical_features)
        )
        lgb.train(sev._params(2), dsev, num_boost_round=sev.booster_.current_iteration())
    t_lgb = time.perf_counter() - t0

    fresh = result.test.reset_index(drop=True)
    n_pred = min(len(fresh), args.rows)
    fresh = fresh.iloc[:n_pred]
    model.predict(fresh.iloc[:1000])  # warm up
    t0 = time.perf_counter()
    model.predict(fresh, num_threads=args.threads)
    t_api = time.perf_counter() - t0
    Xf = model.features.transform(fresh)
    t0 = time.perf_counter()
    # the model is two boosters (risk and severity): the raw side runs both on the prepared matrix
    est.booster_.predict(Xf, num_iteration=est.best_iteration_, num_threads=args.threads)
    if model.severity is not None:
        model.severity.booster_.predict(
            Xf, num_iteration=model.severity.best_iteration_, num_threads=args.threads
        )
    t_booster = time.perf_counter() - t0

    print(
        f"threads: {args.threads}; training records: {result.train_rows:,} (+{result.valid_rows:,} validation); "
        f"LightGBM rounds run: {rounds}"
    )
    print("| measurement | riskscore (s) | raw LightGBM (s) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| train end to end vs lightgbm.train on the built matrix | {t_train:.1f} | {t_lgb:.1f} | "
        f"{t_train / t_lgb:.2f}x time | <= 1.5x |"
    )
    print(
        f"| predict {n_pred:,} records (public API) vs Booster.predict (risk + severity) on the prepared matrix | {t_api:.2f} | "
        f"{t_booster:.2f} | {t_booster / t_api:.2f} of throughput | >= 0.7 |"
    )
    print(f"| predict throughput | {n_pred / t_api:,.0f} rows/s | {n_pred / t_booster:,.0f} rows/s | | |")


if __name__ == "__main__":
    main()
