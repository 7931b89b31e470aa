"""What each kind of check can reveal: training on all inspections, on physical ones only, and combined.

Usage: python bench/checks_ablation.py [--shipments 400000] [--seeds 11,12,13] [--threads 2]

A documentary (yellow) check never finds quantity misdeclaration (S4), concealment (S5) or temporary-import
diversion (S8) (docs/domain.md 4.1, the v2 world's detect_yellow), yet its "nothing found" enters training as
a negative. Variants, each trained with `riskscore.train` on the same generated records and scored on the
same held-out window (truth labels for the evaluation only):

* baseline: every inspection's outcome (the shipped pipeline);
* censor yellow negatives: a documentary check that found nothing is treated as no label;
* red only: physical inspections only (they see every mechanism, but are a quarter of the labels);
* 1-(1-all)(1-red): the baseline and red-only risks combined as independent chances of a violation;
* rank mean: the mean of the two rankings;
* continue on red: the baseline's risk booster boosted on with physical inspections only (one booster);
* logit sum: the sum of the two calibrated logits, i.e. a weighted sum of the two boosters' margins (each
  head is Platt-calibrated), the combination whose TreeSHAP contributions would add up exactly.

Prints, per variant, the mean [min, max] over the seeds of precision and revenue at 5% and recall at 5% of
the physical mechanisms, beside the oracle. Groundwork for issue 14 (inspection-type-aware training).
"""

from __future__ import annotations

import argparse
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskscore.evaluate import at_rate, top_mask
from riskscore.synthetic import generate
from riskscore.training import train

PHYSICAL = ("S4", "S5", "S8")


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def variants(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The training tables: the same records with some inspections' outcomes withheld."""
    yellow = (frame["legacy_channel"].astype(str) == "yellow").to_numpy()
    found = frame["observed_channel"].astype(str).isin(["yellow", "red"]).to_numpy()
    out = {"baseline": frame}
    for name, withheld in (("censor yellow negatives", yellow & ~found), ("red only", yellow)):
        part = frame.copy()
        part.loc[withheld, "inspected"] = False
        part["observed_channel"] = part["observed_channel"].where(~withheld)
        out[name] = part
    return out


def _continued(result: Any, frame: pd.DataFrame, test: pd.DataFrame, threads: int) -> np.ndarray:
    """Boost on from the baseline's risk booster with physical inspections only (one booster, so exactly
    explainable): the added trees learn what red checks find beyond what all checks predict."""
    model = result.model
    first = lgb.Booster(
        model_str=model.estimator.booster_.model_to_string(num_iteration=model.estimator.best_iteration_)
    )
    earlier = frame[~frame["declaration_id"].isin(set(test["declaration_id"]))]
    red = earlier[(earlier["legacy_channel"].astype(str) == "red").to_numpy()]
    cut = int(len(red) * 0.85)  # time order: the last 15% of the red inspections stop the boosting
    X = model.features.transform(red)
    y = red["observed_channel"].astype(str).isin(["yellow", "red"]).to_numpy().astype(int)
    cats = [model.features.feature_names_.index(c) for c in model.features.categorical_features]
    params = {**first.params, "num_threads": threads, "verbose": -1}
    train_set = lgb.Dataset(X[:cut], y[:cut], categorical_feature=cats or "auto", free_raw_data=False)
    valid = lgb.Dataset(X[cut:], y[cut:], reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=300,
        init_model=first,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    return np.asarray(booster.predict(model.features.transform(test), raw_score=True), dtype=np.float64)


def run_seed(rows: int, seed: int, threads: int) -> dict[str, dict[str, float]]:
    frame = generate("shipments", rows, seed=seed, progress=False)
    scores: dict[str, np.ndarray] = {}
    test = None
    for name, table in variants(frame).items():
        result = train(table, kind="shipment", num_threads=threads)
        if test is None:  # the same time split for every variant: the held-out window of the first
            ids = set(result.test["declaration_id"])
            test = frame[frame["declaration_id"].isin(ids)].reset_index(drop=True)
        scores[name] = result.model.predict(test)["risk_score"].to_numpy()
        if name == "baseline":
            baseline = result
    assert test is not None
    scores["continue on red"] = _continued(baseline, frame, test, threads)
    both, red = scores["baseline"], scores["red only"]
    scores["1-(1-all)(1-red)"] = 1 - (1 - both) * (1 - red)
    scores["rank mean"] = pd.Series(both).rank().to_numpy() + pd.Series(red).rank().to_numpy()
    # Each head's calibrated risk is Platt-linear in its booster's margin, so the sum of the two logits is a
    # weighted sum of margins: a combination whose TreeSHAP contributions add up exactly.
    scores["logit sum"] = _logit(both) + _logit(red)
    scores["oracle"] = test["oracle_p_violation"].to_numpy()
    y = test["truth_violation"].to_numpy(dtype=bool)
    revenue = test["truth_revenue_at_stake_usd"].to_numpy(dtype=np.float64)
    mech = test["truth_mechanism"].astype(str).to_numpy()
    out = {}
    for name, s in scores.items():
        at5 = at_rate(y, s, 0.05, revenue=revenue)
        top = top_mask(s, 0.05)
        out[name] = {
            "P@5%": at5["precision"],
            "revenue@5%": at5["revenue"],
            **{f"R@5% {k}": float(top[mech == k].mean()) for k in PHYSICAL},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipments", type=int, default=400_000)
    ap.add_argument("--seeds", default="11,12,13")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    per_seed = {seed: run_seed(args.shipments, seed, args.threads) for seed in seeds}
    names = list(per_seed[seeds[0]])
    figures = list(per_seed[seeds[0]][names[0]])
    print(f"shipments: {args.shipments:,} per seed, seeds {args.seeds}; mean [min, max] over the seeds\n")
    print("| variant | " + " | ".join(figures) + " |")
    print("|---|" + "---:|" * len(figures))
    for name in names:
        cells = []
        for fig in figures:
            v = np.array([per_seed[s][name][fig] for s in seeds])
            cells.append(f"{v.mean():.3f} [{v.min():.3f}, {v.max():.3f}]")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
