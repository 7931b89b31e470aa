"""Training and scoring as the data grows: one machine against a two-worker LocalCluster, side by side.

Usage: python bench/scale.py [--sizes 1000000 4000000 16000000] [--trees 600] [--workers 2]

For each size, generates that many shipments into a folder of parquet files (riskscore.distributed.generate,
files of --partition-rows records), then measures four runs, each in its own process so that its peak memory
is its own:

* one machine, training: riskscore.train on the whole data set (read into one frame);
* one machine, scoring: the shipped shipment model's predict on chunks of 200,000 records, written to parquet;
* cluster, training: riskscore.distributed.train on a LocalCluster of --workers worker processes (one thread
  each), the data read by dask from the folder;
* cluster, scoring: riskscore.distributed.score, written by dask to a folder of parquet files.

It prints one table: wall time, peak resident memory of the driving process and, for the cluster, the
highest peak of any worker process (ru_maxrss, read from each worker once the run is done). Runs of the
larger sizes take long and need the machine to themselves.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCORE_CHUNK = 200_000


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _worker_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(what: str, data: Path, out: Path, trees: int, workers: int) -> dict[str, Any]:
    """One measured run, in this process."""
    import pandas as pd

    import riskscore
    from riskscore.model import ChannelModel

    t0 = time.perf_counter()
    result: dict[str, Any] = {}
    if what == "local-train":
        frame = pd.read_parquet(data)
        trained = riskscore.train(frame, estimator=ChannelModel(n_estimators=trees), num_threads=workers)
        result["best_iteration"] = trained.model.info["best_iteration"]
    elif what == "local-score":
        from riskscore._io import ParquetChunks, iter_table

        model = riskscore.load("shipment")
        rows = 0
        with ParquetChunks(out / "scored.parquet") as parquet:
            for file in sorted(data.glob("*.parquet")):
                for chunk in iter_table(file, SCORE_CHUNK, model.spec.declared_columns, spec=model.spec):
                    pred = model.predict(chunk, num_threads=workers)
                    parquet.write(pred)
                    rows += len(pred)
        result["rows"] = rows
    else:
        import dask.dataframe as dd

        from riskscore import distributed

        with distributed.client(n_workers=workers, threads_per_worker=1) as c:
            if what == "cluster-train":
                trained = distributed.train(
                    dd.read_parquet(data), client=c, estimator=ChannelModel(n_estimators=trees)
                )
                result["best_iteration"] = trained.model.info["best_iteration"]
            else:
                model = riskscore.load("shipment")
                ddf = dd.read_parquet(data, columns=model.spec.declared_columns)
                distributed.score(model, ddf).to_parquet(out / "scored", write_index=False)
            result["worker_peak"] = max(c.run(_worker_peak).values())
    result["seconds"] = time.perf_counter() - t0
    result["peak"] = _peak_rss()
    return result


def measure(what: str, data: Path, out: Path, trees: int, workers: int) -> dict[str, Any]:
    """Run ``what`` in a fresh process and return its figures."""
    cmd = [sys.executable, __file__, "--run", what, "--data", str(data), "--out", str(out)]
    cmd += ["--trees", str(trees), "--workers", str(workers)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000, 16_000_000])
    ap.add_argument("--trees", type=int, default=600, help="boosting rounds at most (early stopping)")
    ap.add_argument("--workers", type=int, default=2, help="cluster workers; one-machine threads")
    ap.add_argument("--partition-rows", type=int, default=1 << 20)
    ap.add_argument(
        "--local-train-max",
        type=int,
        default=8_000_000,
        help="above this many records, one-machine training is not run (4M took 5.8 GB: 16M would not fit)",
    )
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args.data, args.out, args.trees, args.workers)))
        return

    from riskscore import distributed

    gb = 2**30
    print(
        "| records | step | one machine: time, peak | cluster: time | driver peak | "
        "worker peak (highest) |\n|---|---|---|---|---|---|"
    )
    for n in args.sizes:
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            data = Path(tmp) / "data"
            t0 = time.perf_counter()
            with distributed.client(n_workers=args.workers) as c:
                distributed.generate(
                    "shipments", n, data, seed=5, partition_rows=args.partition_rows, client=c
                )
            t_gen = time.perf_counter() - t0
            for step in ("train", "score"):
                figures = {}
                for where in ("local", "cluster"):
                    if where == "local" and step == "train" and n > args.local_train_max:
                        continue
                    out = Path(tmp) / f"{where}-{step}"
                    out.mkdir()
                    figures[where] = measure(f"{where}-{step}", data, out, args.trees, args.workers)
                spread = figures["cluster"]
                one_text = (
                    f"{figures['local']['seconds']:.0f} s, {figures['local']['peak'] / gb:.2f} GB"
                    if "local" in figures
                    else "not run (memory)"
                )
                print(
                    f"| {n:,} | {step} | {one_text} | "
                    f"{spread['seconds']:.0f} s | {spread['peak'] / gb:.2f} GB | {spread['worker_peak'] / gb:.2f} GB |",
                    flush=True,
                )
            print(f"<!-- {n:,} records generated on the cluster in {t_gen:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
