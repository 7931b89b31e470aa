"""Batch scoring from a large parquet file: peak memory and throughput of `riskscore score`.

Usage: python bench/score_big.py [--rows 10000000] [--keep]

Generates ``rows`` shipments to a parquet file (streamed, atomic), then runs the `riskscore score` command
on it in a subprocess and reports its wall time and peak resident memory (target: under 2 GB).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from riskscore.synthetic import write_records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--chunk-rows", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        data = Path(tmp) / "big.parquet"
        t0 = time.perf_counter()
        write_records("shipments", args.rows, data, seed=5, chunk_rows=250_000, progress=False)
        t_gen = time.perf_counter() - t0
        exe = Path(sys.executable).parent / "riskscore"
        t0 = time.perf_counter()
        subprocess.run(
            [
                str(exe),
                "score",
                "--model",
                "shipment",
                "--data",
                str(data),
                "--out",
                str(Path(tmp) / "scored.parquet"),
                "--chunk-rows",
                str(args.chunk_rows),
                "--no-progress",
            ],
            check=True,
        )
        t_score = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        print(
            f"| score {args.rows:,} records from parquet (chunks of {args.chunk_rows:,}) | {t_score:.0f} s | "
            f"{args.rows / t_score:,.0f} rows/s | peak RSS {peak / 2**30:.2f} GB (target < 2 GB) | "
            f"generation {t_gen:.0f} s, file {data.stat().st_size / 1e6:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
