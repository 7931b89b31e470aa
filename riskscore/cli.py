"""The riskscore command line: a thin layer over the public API.

Exit codes: 0 success, 2 bad input (the message names the option or file and the fix), 3 the champion
model was kept (``train --champion``), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 1 unexpected
failure. Interrupted or terminated runs remove their temporary files.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from riskscore import __version__
from riskscore.exceptions import ParameterError, RiskscoreError

__all__ = ["main"]


def _whole(minimum: int, meaning: str) -> Callable[[str], int]:
    """Return an argparse type accepting a whole number >= ``minimum`` (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum} ({meaning}); got {text!r}")
        return value

    parse.__name__ = "whole number"
    return parse


def _date(text: str) -> str:
    """Accept a calendar date written YYYY-MM-DD (an argparse type)."""
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a date written YYYY-MM-DD, like 2025-01-01; got {text!r}"
        ) from None
    return text


def _cmd_generate(args: argparse.Namespace) -> int:
    from riskscore.synthetic import write_records

    text = args.scenario
    # load_scenario reads a value with a slash or ending in .toml as a file; a folder there is an OSError
    if (text.endswith(".toml") or "/" in text or "\\" in text) and Path(text).is_dir():
        raise ParameterError(
            f"--scenario {text!r} is a folder; give a scenario name (`riskscore scenarios` lists them) or "
            "the path of a scenario .toml file"
        )
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


def _print_report(report: dict) -> None:
    titles = {
        "truth": "selection quality on the truth (precision = hit rate, recall = detection, revenue share):",
        "observed": "the same seen through inspection outcomes only (IPW hit rate among inspected):",
        "mechanisms": "recall at 5% inspection, per planted mechanism:",
        "channels": "assigned channels and their truth hit rate:",
        "groups": "selection and hit rate per protected group (outcome test, DOMAIN.md 3.5):",
    }
    for name, title in titles.items():
        if name in report and len(report[name]):
            print(f"\n{title}")
            table = report[name]
            if name == "truth":
                table = table[[c for c in table.columns if c != "inspected"]]
            print(
                table.to_string(
                    index=name != "truth" and name != "observed" and name != "mechanisms" and name != "groups"
                )
            )


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from riskscore.defaults import DEFAULT_DATA, default_frames
    from riskscore.evaluate import evaluate_scores
    from riskscore.model import load

    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 3):
        for kind in ("shipment", "passenger"):
            model = load(kind)
            history, fresh = default_frames(kind)
            d = DEFAULT_DATA[kind]
            print(
                f"\n=== {kind}s: shipped model {model.version} scores {len(fresh):,} fresh records "
                f"(from {d.cutoff}; {len(history):,} records of history before it) ==="
            )
            pred = model.predict(fresh)
            counts = pred["channel"].value_counts().reindex(["green", "yellow", "red"])
            reasons = pd.crosstab(pred["channel"], pred["selection_reason"])
            print("\nchannels (count, share) and why:")
            print(
                pd.concat(
                    [counts.rename("records"), (counts / len(pred)).rename("share"), reasons], axis=1
                ).to_string()
            )
            scores = {
                "model": pred["risk_score"].to_numpy(),
                "oracle": fresh["oracle_p_violation"].to_numpy(),
                "random": np.random.default_rng(0).random(len(fresh)),
                "legacy rules": fresh["selection_propensity"].to_numpy(),
            }
            _print_report(
                evaluate_scores(
                    fresh, scores, channels=pred["channel"].to_numpy(), protected=model.spec.protected_columns
                )
            )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import pandas as pd

    from riskscore._io import atomic_write_text, check_output, read_table
    from riskscore.card import model_card
    from riskscore.model import load
    from riskscore.spec import load_spec
    from riskscore.train import train

    spec = load_spec(args.kind)  # an unknown kind fails before the data is read, and drives the reading
    out = check_output(args.out, (".rsk",))
    check_output(out.with_suffix(".md"), (".md",))  # the model card is written beside the model
    champion = load(args.champion) if args.champion else None
    frame = read_table(args.data, spec=spec)
    print(f"training a {args.kind} model on {len(frame):,} records from {args.data} ...", flush=True)
    result = train(
        frame,
        kind=args.kind,
        label=args.label,
        allow_truth=args.allow_truth,
        num_threads=args.threads,
        seed=args.seed,
        baselines=True,
    )
    report = result.report()
    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 3):
        _print_report(report)
    if champion is not None and len(result.test):
        from riskscore.evaluate import evaluate_scores

        test = result.test.reset_index(drop=True)
        new = evaluate_scores(
            test,
            {
                "new": result.model.predict(test)["risk_score"].to_numpy(),
                "champion": champion.predict(test)["risk_score"].to_numpy(),
            },
            rates=(0.05,),
        )["observed"].set_index("scorer")["ipw_hit_rate"]
        print(
            f"\nlatest window, hit rate at 5% (IPW, inspected records): new {new['new']:.4f}, "
            f"champion {new['champion']:.4f}"
        )
        if not new["new"] > new["champion"] and not args.force:
            print(
                f"riskscore: the new model does not beat the champion {args.champion} on the latest window; "
                "nothing written (use --force to replace it anyway)",
                file=sys.stderr,
            )
            return 3
    result.model.save(out)
    card = atomic_write_text(out.with_suffix(".md"), model_card(result.model, report))
    print(f"\nwrote {out} ({result.model.version}) and its model card {card}")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from riskscore._io import check_output, iter_table, publish, temp_beside, write_csv_rows
    from riskscore.model import load

    out = check_output(args.out, (".parquet", ".csv"))
    model = load(args.model, require_signature=args.require_signature)
    spec = model.spec
    # iter_table yields at least one frame, empty for a file without rows, so an empty batch still gives a
    # readable file with the output columns and their types
    chunks = iter_table(args.data, args.chunk_rows, spec.declared_columns, spec=spec)
    tmp = temp_beside(out)
    total = 0
    try:
        with tqdm(unit="rows", disable=args.no_progress or not sys.stderr.isatty(), desc="score") as bar:
            if out.suffix.lower() == ".parquet":
                writer = None
                try:
                    for chunk in chunks:
                        pred = model.predict(chunk)
                        table = pa.Table.from_pandas(pred, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                        writer.write_table(table.cast(writer.schema))
                        total += len(pred)
                        bar.update(len(pred))
                finally:
                    if writer is not None:
                        writer.close()
            else:
                # a CSV of predictions is opened by people: spreadsheet-safe (record ids are user text)
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    for i, chunk in enumerate(chunks):
                        pred = model.predict(chunk)
                        write_csv_rows(pred, fh, header=i == 0)
                        total += len(pred)
                        bar.update(len(pred))
        publish(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    print(f"scored {total:,} records with {model.version} -> {out}")
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    from riskscore._io import check_output_folder, read_table
    from riskscore.model import load
    from riskscore.report import build_review

    check_output_folder(args.out, create=True)  # a file there, or a missing parent, fails before any work
    # fail on a bad model before reading data
    model = load(args.model, require_signature=args.require_signature)
    frame = read_table(args.data, spec=model.spec)
    result = build_review(model, frame, args.out, max_cases=args.max_cases)
    note = (
        f" ({result.flagged - result.shown:,} more in flagged.csv)" if result.flagged > result.shown else ""
    )
    print(
        f"review of {result.records:,} records: {result.flagged:,} flagged, {result.shown:,} shown{note} -> "
        f"{result.index}"
    )
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    from riskscore.artifact import sign_artifact

    path = sign_artifact(args.model, key_id=args.key_id)
    print(f"signed {path}")
    return 0


def _cmd_build_models(args: argparse.Namespace) -> int:
    import pandas as pd

    from riskscore._io import atomic_write_text, check_output_folder
    from riskscore.card import model_card
    from riskscore.defaults import DEFAULT_DATA, default_frames
    from riskscore.train import train

    out_dir = check_output_folder(args.out, create=False)
    for kind in args.kinds:
        d = DEFAULT_DATA[kind]
        print(
            f"building the default {kind} model from {d.rows:,} generated records (seed {d.seed}) ...",
            flush=True,
        )
        history, _ = default_frames(kind)
        result = train(history, kind=kind, num_threads=args.threads, seed=0, baselines=True)
        report = result.report()
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 3):
            _print_report(report)
        path = result.model.save(out_dir / f"{kind}.rsk")
        atomic_write_text(out_dir / f"{kind}.md", model_card(result.model, report))
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="riskscore", description="Customs risk targeting: synthetic data, channel models."
    )
    parser.add_argument("--version", action="version", version=f"riskscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate synthetic shipments or passengers to a parquet/csv file")
    gen.add_argument("kind", choices=["shipments", "passengers"])
    gen.add_argument(
        "--rows", type=_whole(1, "the number of records"), required=True, help="number of records"
    )
    gen.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    gen.add_argument("--seed", type=_whole(0, "the random seed"), default=0)
    gen.add_argument("--scenario", default="default", help="scenario name or path to a scenario TOML")
    gen.add_argument(
        "--start", type=_date, default=None, help="first day (YYYY-MM-DD); default: the scenario's"
    )
    gen.add_argument(
        "--days",
        type=_whole(1, "the length of the period in days"),
        default=None,
        help="length of the period in days; default: the scenario's",
    )
    gen.add_argument(
        "--chunk-rows",
        type=_whole(1, "rows per chunk"),
        default=None,
        help="rows per written chunk (memory bound)",
    )
    gen.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    gen.set_defaults(func=_cmd_generate)

    sc = sub.add_parser("scenarios", help="list the shipped scenarios")
    sc.set_defaults(func=_cmd_scenarios)

    demo = sub.add_parser(
        "demo", help="the main job: generate, score a fresh batch with the shipped models, evaluate"
    )
    demo.set_defaults(func=_cmd_demo)

    tr = sub.add_parser("train", help="train a channel model on a table of past records")
    tr.add_argument("--kind", default="shipment", help="record spec: shipment, passenger or a spec TOML path")
    tr.add_argument("--data", required=True, help="records (.parquet or .csv) with inspection outcomes")
    tr.add_argument(
        "--out", required=True, help="model file to write (.rsk); a model card (.md) is written beside it"
    )
    tr.add_argument(
        "--champion", default=None, help="current model: refuse to replace it unless the new one is better"
    )
    tr.add_argument("--force", action="store_true", help="write even if the champion is better")
    tr.add_argument("--label", choices=["observed", "truth"], default="observed")
    tr.add_argument(
        "--allow-truth", action="store_true", help="permit --label truth (synthetic studies only)"
    )
    tr.add_argument("--threads", type=int, default=2, help="LightGBM threads (match the free cores)")
    tr.add_argument("--seed", type=_whole(0, "the random seed"), default=0)
    tr.set_defaults(func=_cmd_train)

    sc2 = sub.add_parser("score", help="score a table of records with a model, chunk by chunk")
    sc2.add_argument("--model", required=True, help="model file or shipped name (shipment, passenger)")
    sc2.add_argument("--data", required=True, help="records (.parquet or .csv)")
    sc2.add_argument("--out", required=True, help="predictions (.parquet or .csv)")
    sc2.add_argument(
        "--chunk-rows",
        type=_whole(1, "records read and scored at a time"),
        default=200_000,
        help="records read and scored at a time (memory bound)",
    )
    sc2.add_argument("--no-progress", action="store_true")
    sc2.add_argument(
        "--require-signature", action="store_true", help="refuse an unsigned or altered model file"
    )
    sc2.set_defaults(func=_cmd_score)

    rv = sub.add_parser("review", help="write an HTML review report of the flagged cases in a batch")
    rv.add_argument("--model", required=True, help="model file or shipped name (shipment, passenger)")
    rv.add_argument("--data", required=True, help="records (.parquet or .csv)")
    rv.add_argument("--out", required=True, help="folder for index.html and flagged.csv")
    rv.add_argument(
        "--max-cases",
        type=_whole(0, "0 lists every case in flagged.csv only"),
        default=1000,
        help="flagged cases shown in full",
    )
    rv.add_argument(
        "--require-signature", action="store_true", help="refuse an unsigned or altered model file"
    )
    rv.set_defaults(func=_cmd_review)

    sg = sub.add_parser(
        "sign", help="sign a model file (HMAC-SHA256; key from RISKSCORE_SIGNING_KEY or RISKSCORE_KEYRING)"
    )
    sg.add_argument("--model", required=True, help="model file to sign in place")
    sg.add_argument("--key-id", default=None, help="key id in the keyring (default: the first available key)")
    sg.set_defaults(func=_cmd_sign)

    bm = sub.add_parser("build-models", help="rebuild the shipped default models from the default scenario")
    bm.add_argument("--out", default="models", help="folder for <kind>.rsk and <kind>.md")
    bm.add_argument(
        "--kinds", nargs="+", choices=["shipment", "passenger"], default=["shipment", "passenger"]
    )
    bm.add_argument("--threads", type=int, default=2)
    bm.set_defaults(func=_cmd_build_models)
    return parser


class _Terminated(BaseException):
    """SIGTERM as an exception: like KeyboardInterrupt, it runs every writer's cleanup on its way out."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    raise _Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into _Terminated while a command runs, then restore the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        # None: a handler installed outside Python, which cannot be put back; the default is the closest
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse exits with 2 on a malformed option)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_raises():
            return int(args.func(args))
    except RiskscoreError as exc:
        print(f"riskscore: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # the file system refused a read or write the checks could not foresee (disk full, a special folder)
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"riskscore: error: {exc.strerror or exc}{where}; check the path, its permissions and the free "
            "disk space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("riskscore: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
    except _Terminated:
        print("riskscore: terminated (SIGTERM); nothing was left half-written", file=sys.stderr)
        return 143


if __name__ == "__main__":
    sys.exit(main())
