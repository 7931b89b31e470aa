"""The riskscore command line: a thin layer over the public API.

Exit codes: 0 success, 2 bad input (the message names the field and the fix), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from riskscore import __version__
from riskscore.exceptions import RiskscoreError

__all__ = ["main"]


def _cmd_generate(args: argparse.Namespace) -> int:
    from riskscore.synthetic import write_records

    path = write_records(
        args.kind,
        args.rows,
        args.out,
        seed=args.seed,
        scenario=args.scenario,
        start=args.start,
        days=args.days,
        chunk_rows=args.chunk_rows,
        progress=None if not args.no_progress else False,
    )
    print(f"wrote {args.rows:,} {args.kind} to {path}")
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from riskscore.synthetic import available_scenarios, load_scenario

    for name in available_scenarios():
        sc = load_scenario(name)
        print(f"{name}: {sc.params['scenario'].get('description', '')}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from riskscore.synthetic import generate
    from riskscore.synthetic.summary import summarize

    with pd.option_context("display.width", 140, "display.max_columns", 20, "display.precision", 4):
        for kind in ("shipments", "passengers"):
            frame = generate(kind, args.rows, seed=args.seed, scenario=args.scenario)
            parts = summarize(frame)
            print(f"\n=== {kind}: {len(frame):,} synthetic records (seed {args.seed}, scenario {args.scenario}) ===")
            print(parts["overview"].to_string(index=False))
            print("\nplanted mechanisms:")
            print(parts["mechanisms"].to_string())
            print("\nlegacy selection (share of records, truth hit rate):")
            print(parts["legacy"].to_string())
            print("\nselection quality at fixed inspection rates (oracle = best possible ranking):")
            print(parts["oracle"].to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="riskscore", description="Customs risk targeting: synthetic data, channel models.")
    parser.add_argument("--version", action="version", version=f"riskscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate synthetic shipments or passengers to a parquet/csv file")
    gen.add_argument("kind", choices=["shipments", "passengers"])
    gen.add_argument("--rows", type=int, required=True, help="number of records")
    gen.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--scenario", default="default", help="scenario name or path to a scenario TOML")
    gen.add_argument("--start", default=None, help="first day (YYYY-MM-DD); default: the scenario's")
    gen.add_argument("--days", type=int, default=None, help="length of the period in days; default: the scenario's")
    gen.add_argument("--chunk-rows", type=int, default=None, help="rows per written chunk (memory bound)")
    gen.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    gen.set_defaults(func=_cmd_generate)

    sc = sub.add_parser("scenarios", help="list the shipped scenarios")
    sc.set_defaults(func=_cmd_scenarios)

    demo = sub.add_parser("demo", help="the main job end to end on the shipped defaults")
    demo.add_argument("--rows", type=int, default=200_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--scenario", default="default")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except RiskscoreError as exc:
        print(f"riskscore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("riskscore: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
