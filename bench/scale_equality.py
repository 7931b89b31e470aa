"""The same answers on a cluster, at scale: fitted feature state and scores, distributed against one machine.

Usage: python bench/scale_equality.py [--rows 1000000] [--partition-rows 262144] [--workers 2]

Generates the shipments into a folder of parquet files (riskscore.distributed.generate, files cutting
through days), then checks, on the whole data set:

* the feature state riskscore.distributed.fit_features reduces from the partitions equals, byte for byte
  in its JSON form, what FeatureBuilder.fit_transform fits on the concatenated frame;
* riskscore.distributed.score with the shipped shipment model equals RiskModel.predict on the concatenated
  frame, bit for bit, in every output column.

Prints the sizes, the times and the verdicts (issue 16: "on 1 million records").
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--partition-rows", type=int, default=262_144)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import riskscore
    from riskscore import distributed
    from riskscore.features import FeatureBuilder
    from riskscore.training import labels_of
    from riskscore.validation import validate_frame

    with tempfile.TemporaryDirectory() as tmp, distributed.client(n_workers=args.workers) as c:
        t = time.perf_counter()
        folder = distributed.generate(
            "shipments", args.rows, Path(tmp) / "data", seed=16, partition_rows=args.partition_rows, client=c
        )
        files = sorted(folder.glob("*.parquet"))
        print(f"generated {args.rows:,} shipments in {len(files)} files in {time.perf_counter() - t:.0f} s")

        import dask.dataframe as dd

        t = time.perf_counter()
        fitted = distributed.fit_features(dd.read_parquet([str(f) for f in files]), "shipment", client=c)
        t_cluster = time.perf_counter() - t
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        t = time.perf_counter()
        checked = validate_frame(frame, "shipment", columns="declared", extra="keep")
        whole = FeatureBuilder("shipment")
        has, y, _ = labels_of(checked, "observed", whole.record_spec)
        whole.fit_transform(checked, inspected=has, hits=has & (y != "green"))
        t_local = time.perf_counter() - t
        a = json.dumps(fitted.to_dict(), sort_keys=True)
        b = json.dumps(whole.to_dict(), sort_keys=True)
        print(
            f"feature state: cluster {t_cluster:.0f} s, one machine {t_local:.0f} s; JSON {len(b):,} bytes; "
            f"{'EQUAL byte for byte' if a == b else 'DIFFERENT'}"
        )

        model = riskscore.load("shipment")
        t = time.perf_counter()
        scored = distributed.score(model, dd.read_parquet([str(f) for f in files])).compute()
        t_cluster = time.perf_counter() - t
        t = time.perf_counter()
        local = model.predict(frame, num_threads=args.workers)
        t_local = time.perf_counter() - t
        scored = scored.reset_index(drop=True)
        same = list(scored.columns) == list(local.columns) and all(
            np.array_equal(scored[col].to_numpy().view(np.uint64), local[col].to_numpy().view(np.uint64))
            if local[col].dtype == np.float64
            else scored[col].astype(str).equals(local[col].astype(str))
            for col in local.columns
        )
        print(
            f"scores of {len(local):,} records: cluster {t_cluster:.0f} s, one machine {t_local:.0f} s; "
            f"{'EQUAL bit for bit' if same else 'DIFFERENT'} in {len(local.columns)} columns"
        )


if __name__ == "__main__":
    main()
