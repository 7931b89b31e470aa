"""A user's own declarations: the inferred spec against the built-in model and a plain LightGBM, side by side.

Usage: python bench/own_data.py [--rows 200000] [--seeds 3 5 7] [--threads 2]

For each seed, the default scenario's shipments are exported in a foreign layout (the tutorial's
`foreign_layout`: Vietnamese column names with spaces, day-first text dates, other office codes, a 0/1/2
outcome or a 0/1 one, a separate revenue column, no selection propensity, 3% of importer ids missing). On the
same records and the same time split (70% train, 15% validation, 15% test by time), three models are
compared by precision at 5% of the held-out window, measured on the synthetic truth (the share of the top 5%
by score that truly violates) so the three are judged alike:

- built-in: `riskscore.train(kind="shipment")` on the original layout (the project's own spec and model;
  without its `[labels] check`, which the foreign export cannot feed);
- inferred: `riskscore.spec.infer_spec` on the export, unedited, then `riskscore.train` on the export;
- plain LightGBM: default `LGBMClassifier` on the export's raw columns (text as pandas categories, dates
  dropped), trained on the inspected records of the training window with "something was found" as label:
  what a data scientist writes in an afternoon.

Targets (issue 12): inferred >= 0.97 x built-in and >= 1.2 x plain LightGBM, mean over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import lightgbm as lgb
import numpy as np
import pandas as pd

import riskscore
from riskscore.synthetic import generate_shipments
from riskscore.synthetic.foreign import (
    FOREIGN_ID as ID,
)
from riskscore.synthetic.foreign import (
    FOREIGN_INSPECTED as INSPECTED,
)
from riskscore.synthetic.foreign import (
    FOREIGN_OUTCOME as OUTCOME,
)
from riskscore.synthetic.foreign import (
    FOREIGN_REVENUE as REVENUE,
)
from riskscore.synthetic.foreign import (
    FOREIGN_TIME as TIME,
)
from riskscore.synthetic.foreign import foreign_layout
from riskscore.training import time_split


def precision_at(score: np.ndarray, truth: np.ndarray, rate: float = 0.05) -> float:
    k = max(1, round(rate * len(score)))
    top = np.argsort(-score, kind="stable")[:k]
    return float(truth[top].mean())


def plain_lightgbm(export: pd.DataFrame, train_ids: set, test: pd.DataFrame, threads: int) -> np.ndarray:
    drop = [TIME, ID, OUTCOME, INSPECTED, REVENUE]
    X = export.drop(columns=[c for c in drop if c in export.columns])
    for c in X.columns:
        if X[c].dtype == object or str(X[c].dtype) in ("str", "string"):
            X[c] = X[c].astype("category")
    in_train = export[ID].isin(train_ids).to_numpy()
    inspected = export[INSPECTED].astype(bool).to_numpy()
    fit = in_train & inspected
    y = (export[OUTCOME].fillna(0).astype(float) > 0).to_numpy()[fit]
    clf = lgb.LGBMClassifier(n_jobs=threads, verbose=-1)
    clf.fit(X[fit], y)
    Xt = X.set_index(export[ID]).loc[test[ID]]
    return clf.predict_proba(Xt)[:, 1]


def one_seed(rows: int, seed: int, threads: int, binary: bool) -> dict[str, float]:
    frame = generate_shipments(rows, seed=seed)
    t0 = time.perf_counter()
    # Like with like: the foreign export carries no column saying what kind of check each inspection was,
    # so the built-in arm learns from the outcomes alone too (its physical-check head, which needs that
    # column, is measured in bench/quality.py).
    spec = riskscore.load_spec("shipment")
    assert spec.labels is not None
    same_information = dataclasses.replace(
        spec, labels=dataclasses.replace(spec.labels, check=None, physical=())
    )
    built = riskscore.train(frame, kind=same_information, num_threads=threads)
    t_built = time.perf_counter() - t0
    test = built.test.reset_index(drop=True)
    truth = test["truth_violation"].to_numpy(dtype=bool)
    p_built = precision_at(built.model.predict(test)["risk_score"].to_numpy(), truth)

    export = foreign_layout(frame, seed=seed, binary=binary)
    label_map = {"0": "green", "1": "red"} if binary else {"0": "green", "1": "yellow", "2": "red"}
    spec = riskscore.spec.infer_spec(
        export,
        id=ID,
        timestamp=TIME,
        label=OUTCOME,
        label_map=label_map,
        inspected=INSPECTED,
        revenue=REVENUE,
    )
    t0 = time.perf_counter()
    mine = riskscore.train(export, kind=spec, num_threads=threads)
    t_mine = time.perf_counter() - t0
    mine_test = mine.test.reset_index(drop=True)
    order = pd.Index(mine_test[ID].astype(str)).get_indexer(test["declaration_id"].astype(str))
    assert (order >= 0).all(), "the two splits must hold the same records"
    p_mine = precision_at(mine.model.predict(mine_test)["risk_score"].to_numpy()[order], truth)

    train_f, _, _ = time_split(frame, "declared_at", 0.15, 0.15)
    p_plain = precision_at(
        plain_lightgbm(
            export,
            set(train_f["declaration_id"].astype(str)),
            test.rename(columns={"declaration_id": ID}),
            threads,
        ),
        truth,
    )
    return {
        "built-in": p_built,
        "inferred": p_mine,
        "plain LightGBM": p_plain,
        "train s built-in": t_built,
        "train s inferred": t_mine,
        "features inferred": len(mine.model.features.feature_names_),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 7])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for binary in (False, True):
        results = pd.DataFrame(
            [one_seed(args.rows, s, args.threads, binary) for s in args.seeds], index=args.seeds
        )
        print(
            f"\n{'binary 0/1' if binary else '0/1/2'} outcome; {args.rows:,} shipments per seed; precision at 5% (truth)"
        )
        print(results.round(4).to_string())
        mean = results.mean()
        lo, hi = results.min(), results.max()
        r1 = results["inferred"] / results["built-in"]
        r2 = results["inferred"] / results["plain LightGBM"]
        print(
            f"inferred / built-in: mean {r1.mean():.3f} (range {r1.min():.3f}-{r1.max():.3f}; target >= 0.97); "
            f"inferred / plain LightGBM: mean {r2.mean():.3f} (range {r2.min():.3f}-{r2.max():.3f}; target >= 1.2)"
        )
        print(f"means: {mean.round(4).to_dict()}; ranges: {lo.round(4).to_dict()} .. {hi.round(4).to_dict()}")


if __name__ == "__main__":
    main()
