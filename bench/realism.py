"""Realism of the synthetic worlds over many seeds: the bands a study should trust it within.

Usage: python bench/realism.py [--kind shipments|passengers] [--rows 300000] [--seeds 10]

Per seed (riskscore.synthetic.realism.realism): prevalence, the oracle's precision at 5% (its ceiling),
the largest share of all violations carried by one importer and by one broker (shipments) or one traveller
(passengers), the highest violation rate of an HS6 code with at least 200 records (shipments), the
violation rate of randomly selected records against the prevalence (binomial z) and the oracle's worst
calibration |z| over deciles and top bins. Then the mean, min and max of each over the seeds, and the
targets of docs/domain.md 4.1 and 4.2.
"""

from __future__ import annotations

import argparse

import numpy as np

from riskscore.synthetic import generate
from riskscore.synthetic.realism import realism

COLUMNS = {
    "shipments": {
        "prevalence": "prevalence",
        "oracle P@5%": "oracle_precision_at_5",
        "max importer share": "max_importer_id_share",
        "max broker share": "max_declarant_id_share",
        "max HS6 rate (>=200)": "max_code_rate",
        "random rate": "random_rate",
        "random z": "random_z",
        "calibration max |z|": "calibration_max_abs_z",
    },
    "passengers": {
        "prevalence": "prevalence",
        "oracle P@5%": "oracle_precision_at_5",
        "max traveller share": "max_traveller_id_share",
        "random rate": "random_rate",
        "random z": "random_z",
        "calibration max |z|": "calibration_max_abs_z",
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=sorted(COLUMNS), default="shipments")
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    columns = COLUMNS[args.kind]
    rows = []
    print(f"{args.kind}: {args.rows:,} rows per seed, seeds 1..{args.seeds}\n")
    print("| seed | " + " | ".join(columns) + " |")
    print("|---:|" + "---:|" * len(columns))
    for seed in range(1, args.seeds + 1):
        figures = realism(generate(args.kind, args.rows, seed=seed, progress=False))
        rows.append([figures[key] for key in columns.values()])
        print(f"| {seed} | " + " | ".join(f"{v:.4f}" for v in rows[-1]) + " |")
    table = np.array(rows)
    for name, fn in (("mean", np.mean), ("min", np.min), ("max", np.max)):
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in fn(table, axis=0)) + " |")
    col = {name: table[:, i] for i, name in enumerate(columns)}
    shares = [v for k, v in col.items() if k.startswith("max ") and k.endswith("share")]
    checks = [
        f"random selections within 3.5 binomial SE of prevalence: {bool((np.abs(col['random z']) <= 3.5).all())}",
        f"no entity > 3% of violations: {bool(all((v <= 0.03).all() for v in shares))}",
    ]
    if args.kind == "shipments":
        precision = col["oracle P@5%"]
        checks += [
            f"oracle P@5% in [0.40, 0.65] on every seed: {bool(((precision >= 0.40) & (precision <= 0.65)).all())}",
            f"range {precision.max() - precision.min():.3f} <= 0.06: {precision.max() - precision.min() <= 0.06}",
            f"no HS6 >= 200 records above 30%: {bool((col['max HS6 rate (>=200)'] <= 0.30).all())}",
        ]
    print("\ntargets: " + "; ".join(checks))


if __name__ == "__main__":
    main()
