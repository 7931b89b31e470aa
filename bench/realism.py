"""Realism of the synthetic shipment world over many seeds: the bands a study should trust it within.

Usage: python bench/realism.py [--rows 300000] [--seeds 10]

Per seed (riskscore.synthetic.realism.realism): prevalence, the oracle's precision at 5% (its ceiling),
the largest share of all violations carried by one importer and by one broker, the highest violation rate
of an HS6 code with at least 200 records, the violation rate of randomly selected records against the
prevalence (binomial z) and the oracle's worst calibration |z| over deciles and top bins. Then the mean,
min and max of each over the seeds, and the targets of docs/domain.md 4.1.
"""

from __future__ import annotations

import argparse

import numpy as np

from riskscore.synthetic import generate_shipments
from riskscore.synthetic.realism import realism

COLUMNS = {
    "prevalence": "prevalence",
    "oracle P@5%": "oracle_precision_at_5",
    "max importer share": "max_importer_id_share",
    "max broker share": "max_declarant_id_share",
    "max HS6 rate (>=200)": "max_code_rate",
    "random rate": "random_rate",
    "random z": "random_z",
    "calibration max |z|": "calibration_max_abs_z",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    rows = []
    print(f"shipments: {args.rows:,} rows per seed, seeds 1..{args.seeds}\n")
    print("| seed | " + " | ".join(COLUMNS) + " |")
    print("|---:|" + "---:|" * len(COLUMNS))
    for seed in range(1, args.seeds + 1):
        figures = realism(generate_shipments(args.rows, seed=seed))
        rows.append([figures[key] for key in COLUMNS.values()])
        print(f"| {seed} | " + " | ".join(f"{v:.4f}" for v in rows[-1]) + " |")
    table = np.array(rows)
    for name, fn in (("mean", np.mean), ("min", np.min), ("max", np.max)):
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in fn(table, axis=0)) + " |")
    precision = table[:, 1]
    print(
        f"\ntargets: oracle P@5% in [0.40, 0.65] on every seed: {bool(((precision >= 0.40) & (precision <= 0.65)).all())}; "
        f"range {precision.max() - precision.min():.3f} <= 0.06: {precision.max() - precision.min() <= 0.06}; "
        f"no entity > 3% of violations: {bool((table[:, 2:4] <= 0.03).all())}; "
        f"no HS6 >= 200 records above 30%: {bool((table[:, 4] <= 0.30).all())}; "
        f"random selections within 3.5 binomial SE of prevalence: {bool((np.abs(table[:, 6]) <= 3.5).all())}"
    )


if __name__ == "__main__":
    main()
