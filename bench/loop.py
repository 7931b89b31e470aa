"""The operating loop: every selection strategy side by side over weeks, with smugglers who adapt.

Usage: python bench/loop.py [--weeks 26] [--seeds 1,2,3] [--records-per-week 10000] [--threads 2]
                            [--strategies exploit random-5 ...] [--no-adversary] [--html loop.html]

For each seed, :func:`riskscore.simulate.simulate` runs every strategy on its own copy of the default
world (the adversary reacts to what that strategy inspects) at the default policy's capacity. Prints per
seed the cumulative table, then every strategy's cumulative revenue recovered against the oracle's and
against exploitation only's as the mean [min, max] over the seeds, and the seconds one strategy's run
took (issue 15's target: under 5 minutes for 26 weeks).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from riskscore.simulate import STRATEGIES, simulate


def markdown(table: pd.DataFrame) -> str:
    """Return the table as a markdown table (numbers to three decimals, counts as whole numbers)."""

    def fmt(v: object) -> str:
        return f"{v:,.3f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| strategy | " + " | ".join(table.columns) + " |", "|---|" + "---:|" * len(table.columns)]
    for name, row in zip(table.index, table.to_numpy(dtype=object).tolist(), strict=True):
        lines.append(f"| {name} | " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=26)
    ap.add_argument("--history-weeks", type=int, default=16)
    ap.add_argument("--records-per-week", type=int, default=10_000)
    ap.add_argument("--retrain-every", type=int, default=4)
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated; at least three")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--window-weeks", type=int, default=None, help="retrain on the last N weeks only")
    ap.add_argument("--no-adversary", action="store_true")
    ap.add_argument("--html", default=None, help="the last seed's page with the curves")
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    seeds = [int(s) for s in args.seeds.split(",")]
    tables = []
    seconds: dict[str, list[float]] = {s: [] for s in args.strategies}
    for seed in seeds:
        parts = []
        for strategy in args.strategies:
            t = time.perf_counter()
            parts.append(
                simulate(
                    weeks=args.weeks,
                    strategies=[strategy],
                    history_weeks=args.history_weeks,
                    records_per_week=args.records_per_week,
                    retrain_every=args.retrain_every,
                    window_weeks=args.window_weeks,
                    adversary=not args.no_adversary,
                    seed=seed,
                    num_threads=args.threads,
                    progress=False,
                )
            )
            seconds[strategy].append(time.perf_counter() - t)
        periods = pd.concat([p.periods for p in parts], ignore_index=True)
        result = type(parts[0])(periods, pd.concat([p.moves for p in parts]), parts[0].settings)
        summary = result.summary()
        caught = summary["caught"]
        ratio = caught / caught["exploit"] if "exploit" in caught else np.nan
        tables.append(summary.assign(seed=seed, caught_vs_exploit=ratio))
        print(f"\n## seed {seed}: {args.weeks} weeks, {args.records_per_week:,} declarations a week\n")
        cols = ["inspected", "caught", "detection", "hit_rate", "recovered_share", "vs_oracle", "vs_exploit"]
        print(markdown(summary[cols]))
        moves = result.moves.groupby("strategy").size()
        print("\nadversary moves per strategy: " + ", ".join(f"{k} {v}" for k, v in moves.items()))
        if args.html and seed == seeds[-1]:
            print(f"wrote {result.save_html(args.html)}")
    both = pd.concat(tables)
    print(f"\n## over seeds {', '.join(map(str, seeds))}: mean [min, max]\n")
    print(
        "| strategy | revenue vs oracle | revenue vs exploit | caught vs exploit | recovered share | detection "
        "| hit rate | s per run |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for strategy in args.strategies:

        def cell(column: str, part: pd.DataFrame = both.loc[[strategy]]) -> str:
            v = part[column].to_numpy(dtype=np.float64)
            return f"{v.mean():.3f} [{v.min():.3f}, {v.max():.3f}]"

        run = np.array(seconds[strategy])
        print(
            f"| {strategy} | {cell('vs_oracle')} | {cell('vs_exploit')} | {cell('caught_vs_exploit')} | "
            f"{cell('recovered_share')} | "
            f"{cell('detection')} | {cell('hit_rate')} | {run.mean():.0f} [{run.min():.0f}, {run.max():.0f}] |"
        )


if __name__ == "__main__":
    main()
