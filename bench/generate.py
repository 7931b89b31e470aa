"""Generation speed and peak memory: riskscore's generators against a row-by-row Faker peer, one run.

Usage: python bench/generate.py [--rows 1000000] [--peer-rows 100000] [--threads N]

Each measurement runs in a fresh Python process so that its peak resident memory (ru_maxrss) is its own;
the import-time baseline of that process is reported and subtracted for the per-row figure.
Prints a markdown table; copy it to docs/benchmarks.md with the command line and the machine.
Run it with nothing else busy on the machine: timings on two shared cores drift.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

OURS = textwrap.dedent(
    """
    import json, resource, sys, time
    import riskscore.synthetic as rs
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kind, n = sys.argv[1], int(sys.argv[2])
    t0 = time.perf_counter()
    frame = rs.generate(kind, n, seed=7)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": len(frame), "seconds": seconds, "peak": peak, "base": base,
                      "frame_bytes": int(frame.memory_usage(deep=True).sum())}))
    """
)

# The peer: the usual way synthetic declarations are made, one dict per row with Faker, then a frame.
PEER = textwrap.dedent(
    """
    import json, resource, sys, time, datetime as dt
    import pandas as pd
    from faker import Faker
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    n = int(sys.argv[2])
    fake = Faker(); Faker.seed(7)
    start, end = dt.datetime(2025, 1, 1), dt.datetime(2025, 12, 31)
    hs = [f"{i:06d}" for i in range(100000, 100400)]
    t0 = time.perf_counter()
    rows = []
    for i in range(n):
        q = fake.pyfloat(min_value=1, max_value=10000)
        net = fake.pyfloat(min_value=1, max_value=20000)
        rows.append({
            "declaration_id": fake.bothify("D####-#########"),
            "declared_at": fake.date_time_between(start, end),
            "office_code": fake.bothify("##??"),
            "importer_id": fake.company(),
            "hs_code": fake.random_element(hs),
            "origin_country": fake.country_code(),
            "departure_country": fake.country_code(),
            "quantity": q,
            "net_weight_kg": net,
            "gross_weight_kg": net * fake.pyfloat(min_value=1.0, max_value=1.2),
            "cif_value_usd": q * fake.pyfloat(min_value=0.5, max_value=500),
            "preference_claimed": fake.pybool(),
        })
    frame = pd.DataFrame(rows)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": len(frame), "seconds": seconds, "peak": peak, "base": base,
                      "frame_bytes": int(frame.memory_usage(deep=True).sum())}))
    """
)


def run(code: str, kind: str, n: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, kind, str(n)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--peer-rows", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=None, help="RISKSCORE_THREADS for our generator")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.threads:
        env["RISKSCORE_THREADS"] = str(args.threads)
    results = {
        "riskscore shipments": run(OURS, "shipments", args.rows, env),
        "riskscore passengers": run(OURS, "passengers", args.rows, env),
        "Faker row-by-row (12 declared columns)": run(PEER, "shipments", args.peer_rows, env),
    }
    peer_rate = (
        results["Faker row-by-row (12 declared columns)"]["rows"]
        / results["Faker row-by-row (12 declared columns)"]["seconds"]
    )
    print(f"machine: {os.cpu_count()} cores; threads: {env.get('RISKSCORE_THREADS', 'default')}")
    print(
        "| generator | rows | seconds | rows/s | x peer | peak RSS MB | (peak - import) B/row | frame B/row |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(
            f"| {name} | {int(r['rows']):,} | {r['seconds']:.2f} | {rate:,.0f} | {rate / peer_rate:.1f} | "
            f"{r['peak'] / 2**20:,.0f} | {(r['peak'] - r['base']) / r['rows']:,.0f} | {r['frame_bytes'] / r['rows']:,.0f} |"
        )


if __name__ == "__main__":
    main()
