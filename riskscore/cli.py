"""The riskscore command line: a thin layer over the public API.

Exit codes: 0 success, 2 bad input (the message names the option or file and the fix), 3 the champion
model was kept (``train --champion``), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 1 unexpected
failure. Interrupted or terminated runs remove their temporary files.

Output: summaries for people go to stdout, or to stderr with ``--json`` (stdout then carries one JSON object
and nothing else); log messages of the ``riskscore`` logger go to stderr as ``riskscore: LEVEL: message``
at the level of ``--quiet`` (errors only), ``--verbose`` (INFO) or ``--log-level`` (default WARNING).
``--quiet`` also turns off progress bars and the summaries of the commands that write files.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import math
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from riskscore import __version__
from riskscore.exceptions import ParameterError, RiskscoreError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
QUICK_ROWS = 5_000  # fresh records per kind scored by `demo --quick`: the demo runs in a few seconds


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


def _fraction(text: str) -> float:
    """Accept a share between 0 and 1, 0 included (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a share from 0 up to (not including) 1, like 0.15; got {text!r}"
        )
    return value


def _log_level(text: str) -> str:
    """Accept a log level name in any case (an argparse type); returns it in capitals."""
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)}; got {text!r}")
    return text.upper()


@dataclass(frozen=True)
class _Console:
    """Where a command's words for people go.

    stdout normally; stderr with ``--json``, so that stdout carries the JSON object alone; nowhere with
    ``--quiet`` (``always=True``: text that is the command's product, as the demo's tables).
    """

    quiet: bool = False
    json: bool = False

    def say(self, text: str = "", *, always: bool = False, flush: bool = False) -> None:
        if self.quiet and not always:
            return
        print(text, file=sys.stderr if self.json else sys.stdout, flush=flush)

    def emit(self, document: Mapping[str, Any]) -> None:
        """Print one JSON object on stdout (with ``--json``)."""
        print(json.dumps(_json_safe(document), allow_nan=False), flush=True)


def _console(args: argparse.Namespace) -> _Console:
    return _Console(quiet=bool(getattr(args, "quiet", False)), json=bool(getattr(args, "json", False)))


def _progress(args: argparse.Namespace) -> bool | None:
    """``progress=`` for the library: off with --quiet or --no-progress, else on a terminal only."""
    return False if getattr(args, "quiet", False) or getattr(args, "no_progress", False) else None


def _json_safe(obj: Any) -> Any:
    """Plain JSON values: numpy scalars to Python numbers, NaN and infinities to null, paths to text."""
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class _Timer:
    """Seconds per phase of a command, for the ``timings`` of ``--json``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t

    def timed(self, name: str, items: Iterable[Any]) -> Iterator[Any]:
        """Yield from ``items``, counting the time spent producing each one under ``name``."""
        it = iter(items)
        while True:
            with self.phase(name):
                item = next(it, _END)
            if item is _END:
                return
            yield item

    def report(self) -> dict[str, float]:
        return {
            **{k: round(v, 3) for k, v in self.seconds.items()},
            "total": round(time.perf_counter() - self.start, 3),
        }


_END = object()


def _cmd_generate(args: argparse.Namespace) -> int:
    from riskscore.synthetic import write_records

    text = args.scenario
    # load_scenario reads a value with a slash or ending in .toml as a file; a folder there is an OSError
    if (text.endswith(".toml") or "/" in text or "\\" in text) and Path(text).is_dir():
        raise ParameterError(
            f"--scenario {text!r} is a folder; give a scenario name (`riskscore scenarios` lists them) or "
            "the path of a scenario .toml file"
        )
    if args.scheduler is not None:
        from riskscore import distributed

        if args.layout != "riskscore":
            raise ParameterError("--layout foreign is written on one machine; drop --scheduler or --layout")
        with _cluster(args) as c:
            folder = distributed.generate(
                args.kind,
                args.rows,
                args.out,
                seed=args.seed,
                scenario=args.scenario,
                start=args.start,
                days=args.days,
                partition_rows=args.chunk_rows or distributed.PARTITION_ROWS,
                client=c,
            )
        _console(args).say(f"wrote {args.rows:,} {args.kind} to the folder {folder}")
        return 0
    path = write_records(
        args.kind,
        args.rows,
        args.out,
        seed=args.seed,
        scenario=args.scenario,
        start=args.start,
        days=args.days,
        chunk_rows=args.chunk_rows,
        progress=_progress(args),
        layout=args.layout,
    )
    _console(args).say(f"wrote {args.rows:,} {args.kind} to {path}")
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from riskscore.synthetic import available_scenarios, load_scenario

    for name in available_scenarios():
        sc = load_scenario(name)
        print(f"{name}: {sc.params['scenario'].get('description', '')}")
    return 0


def _print_report(report: Mapping[str, pd.DataFrame], say: Callable[..., None]) -> None:
    titles = {
        "truth": "selection quality on the truth (precision = hit rate, recall = detection, revenue share):",
        "observed": "the same seen through inspection outcomes only (IPW hit rate among inspected):",
        "mechanisms": "recall at 5% inspection, per planted mechanism:",
        "channels": "assigned channels and their truth hit rate:",
        "groups": "selection and hit rate per protected group (outcome test, docs/domain.md 3.5):",
    }
    for name, title in titles.items():
        if name in report and len(report[name]):
            say(f"\n{title}")
            table = report[name]
            if name == "truth":
                table = table[[c for c in table.columns if c != "inspected"]]
            say(
                table.to_string(
                    index=name != "truth" and name != "observed" and name != "mechanisms" and name != "groups"
                )
            )


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from riskscore.defaults import DEFAULT_DATA, default_fresh
    from riskscore.evaluate import evaluate_scores
    from riskscore.model import load

    console = _console(args)

    def say(text: str = "") -> None:
        console.say(text, always=True)  # the demo's tables are its product: --quiet keeps them

    rows = QUICK_ROWS if args.quick else args.rows
    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 3):
        for kind in ("shipment", "passenger"):
            model = load(kind)
            fresh, history_rows = default_fresh(kind, rows)
            d = DEFAULT_DATA[kind]
            month = d.rows - history_rows
            scored = f"a random {len(fresh):,} of the {month:,}" if len(fresh) < month else f"{month:,}"
            say(
                f"\n=== {kind}s: shipped model {model.version} scores {scored} fresh records "
                f"(from {d.cutoff}; {history_rows:,} records of history before it) ==="
            )
            pred = model.predict(fresh)
            counts = pred["channel"].value_counts().reindex(["green", "yellow", "red"])
            reasons = pd.crosstab(pred["channel"], pred["selection_reason"])
            say("\nchannels (count, share) and why:")
            say(
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
                ),
                say,
            )
    return 0


_VERDICT_TEXT = {
    "better": "better than the champion",
    "worse": "worse than the champion",
    "within noise": "within the noise",
}


def _cmd_train(args: argparse.Namespace) -> int:
    import pandas as pd

    from riskscore._io import atomic_write_text, check_output, read_table
    from riskscore.card import model_card
    from riskscore.evaluate import compare_models
    from riskscore.model import load
    from riskscore.spec import load_spec
    from riskscore.training import train

    console, timer = _console(args), _Timer()
    spec = load_spec(args.spec)  # an unknown spec fails before the data is read, and drives the reading
    out = check_output(args.out, (".rsk",))
    card_path = check_output(out.with_suffix(".md"), (".md",))  # the model card is written beside the model
    if args.scheduler is not None:
        return _train_on_cluster(args, spec, out, card_path)
    with timer.phase("read"):
        champion = load(args.champion) if args.champion else None
        frame = read_table(args.data, spec=spec)
    console.say(f"training a {spec.name} model on {len(frame):,} records from {args.data} ...", flush=True)
    if args.by is not None and args.by not in frame.columns:
        raise ParameterError(
            f"--by names column {args.by!r}, which {args.data} does not have; give one of its category "
            f"columns, e.g. {', '.join(spec.names(roles='category')[:5]) or 'an office column'}"
        )
    with timer.phase("train"), _split_options_by_flag():
        result = train(
            frame,
            kind=spec,
            label=args.label,
            allow_truth=args.allow_truth,
            valid_fraction=0.15 if args.valid_fraction is None else args.valid_fraction,
            test_fraction=0.15 if args.test_fraction is None else args.test_fraction,
            valid_from=args.valid_from,
            test_from=args.test_from,
            num_threads=args.threads,
            seed=args.seed,
            baselines=True,
            progress=_progress(args),
        )
    with timer.phase("evaluate"):
        report = result.report(by=args.by)
    if not console.quiet:
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 3):
            _print_report(report, console.say)
            _print_outcomes(report, console.say)
    model = result.model
    comparison = None
    replace = True
    if champion is not None:
        with timer.phase("champion"):
            comparison = compare_models(model, champion, result.test, rate=0.05, seed=args.seed)
        c = comparison
        heading = (
            f"champion {args.champion}: hit rate at {c.rate:.0%} on the latest window (IPW; {c.inspected:,} of "
            f"{c.records:,} records inspected; {c.n_boot:,} paired resamples)"
        )
        verdict = _VERDICT_TEXT[c.verdict]
        replace = c.verdict == "better" or args.force
        if c.verdict == "better":
            console.say(f"\n{heading}\n{c}: {verdict}; replaced")
        elif args.force:
            console.say(f"\n{heading}\n{c}: {verdict}; replaced anyway (--force)")
        else:
            print(
                f"riskscore: {heading}\nriskscore: {c}: {verdict}; not replaced (use --force)",
                file=sys.stderr,
            )
    if replace:
        with timer.phase("write"):
            model.save(out)
            card_path = atomic_write_text(card_path, model_card(model, report))
        console.say(f"\nwrote {out} ({model.version}) and its model card {card_path}")
    if args.json:
        console.emit(
            {
                "command": "train",
                "written": replace,
                "output": str(out) if replace else None,
                "model_card": str(card_path) if replace else None,
                "model_version": model.version,
                "records": {
                    "read": len(frame),
                    "train": result.train_rows,
                    "validation": result.valid_rows,
                    "test": len(result.test),
                    "labelled_train": model.info.get("training_labelled_rows"),
                },
                "metrics": model.info.get("metrics"),
                "evaluation": {
                    name: report[name].to_dict(orient="records")
                    for name in ("truth", "observed", "outcomes", "by")
                    if name in report
                },
                "champion": None
                if comparison is None
                else {"path": str(args.champion), **comparison.to_dict(), "forced": bool(args.force)},
                "timings": timer.report(),
            }
        )
    return 0 if replace else 3


def _train_on_cluster(args: argparse.Namespace, spec: Any, out: Path, card_path: Path) -> int:
    """``train --scheduler``: riskscore.distributed.train on a parquet data set; the model and its card."""
    from riskscore import distributed
    from riskscore._io import atomic_write_text
    from riskscore.card import model_card

    if args.champion or args.by or args.label != "observed":
        raise ParameterError(
            "train --scheduler trains on observed outcomes and writes the model and its card; --champion, --by "
            "and --label truth are for one machine (compare the models with riskscore.evaluate afterwards)"
        )
    console = _console(args)
    with _cluster(args) as c, _split_options_by_flag():
        result = distributed.train(
            distributed.read(args.data),
            kind=spec,
            client=c,
            valid_fraction=0.15 if args.valid_fraction is None else args.valid_fraction,
            test_fraction=0.15 if args.test_fraction is None else args.test_fraction,
            valid_from=args.valid_from,
            test_from=args.test_from,
            seed=args.seed,
        )
    report = result.report()
    model = result.model
    model.save(out)
    atomic_write_text(card_path, model_card(model, report))
    console.say(f"wrote {out} ({model.version}) and its model card {card_path}")
    if args.json:
        console.emit(
            {
                "command": "train",
                "written": True,
                "output": str(out),
                "model_card": str(card_path),
                "model_version": model.version,
                "records": {
                    "train": result.train_rows,
                    "validation": result.valid_rows,
                    "test": len(result.test),
                },
                "metrics": model.info.get("metrics"),
                "distributed": model.info.get("distributed"),
            }
        )
    return 0


_SPLIT_FLAGS = {"valid_from": "--valid-from", "test_from": "--test-from"}


@contextlib.contextmanager
def _split_options_by_flag() -> Iterator[None]:
    """Let the time split's ParameterError name the command line's options (--valid-from, not valid_from)."""
    try:
        yield
    except ParameterError as exc:
        text = str(exc)
        if not any(name in text for name in _SPLIT_FLAGS):
            raise
        for name, flag in _SPLIT_FLAGS.items():
            text = text.replace(name, flag)
        raise ParameterError(text) from exc


def _print_outcomes(report: Mapping[str, pd.DataFrame], say: Callable[..., None]) -> None:
    """Print the evaluation on the spec's own inspection outcomes (the tables of ``evaluate_outcomes``)."""
    if "outcomes" in report and len(report["outcomes"]):
        say(
            "\nselection quality on the inspection outcomes of the latest window (precision = hit rate among "
            "the inspected in the top, recall = share of the violations found):"
        )
        say(report["outcomes"].to_string(index=False))
    if "by" in report and len(report["by"]):
        say("\nper category: records, inspections, findings, hit rate and share flagged by the model:")
        say(report["by"].head(30).to_string(index=False))


class _Tally:
    """Counts over the scored chunks: channels, selection reasons, records without earlier history."""

    def __init__(self) -> None:
        self.records = 0
        self.channels: Counter[str] = Counter({"green": 0, "yellow": 0, "red": 0})
        self.reasons: Counter[str] = Counter()
        self._unseen: dict[str, float] = {}  # records without earlier history, per key

    def add(self, pred: pd.DataFrame) -> None:
        n = len(pred)
        self.records += n
        for counter, column in ((self.channels, "channel"), (self.reasons, "selection_reason")):
            for value, count in pred[column].astype(str).value_counts().items():
                counter[str(value)] += int(count)
        for key, share in pred.attrs.get("unseen_history", {}).items():
            self._unseen[key] = self._unseen.get(key, 0.0) + share * n  # weighted by the chunk's size

    @property
    def unseen(self) -> dict[str, float]:
        """Share of all scored records without earlier history, per history key."""
        return {k: v / self.records for k, v in self._unseen.items()} if self.records else {}

    def lines(self) -> list[str]:
        def share(n: int) -> str:
            return f" ({n / self.records:.1%})" if self.records else ""

        out = ["channels: " + ", ".join(f"{c} {n:,}{share(n)}" for c, n in self.channels.items())]
        selected = {r: n for r, n in self.reasons.most_common() if r != "none"}
        if selected:
            out.append("selection reasons: " + ", ".join(f"{r} {n:,}" for r, n in selected.items()))
        if self.unseen:
            out.append("no earlier history: " + ", ".join(f"{k} {v:.1%}" for k, v in self.unseen.items()))
        return out


def _parquet_rows(path: str) -> int | None:
    """Rows of a parquet file from its footer, for the progress bar's total.

    None for a CSV (its length is unknown until read) or a file pyarrow cannot open: the reader then
    reports that problem with its own message, and the bar merely runs without a total.
    """
    if Path(path).suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as pf:
            return int(pf.metadata.num_rows)
    except (OSError, ValueError):
        return None


def _cmd_score(args: argparse.Namespace) -> int:
    from riskscore._io import ParquetChunks, check_output, iter_table, publish, temp_beside, write_csv_rows
    from riskscore._progress import progress_bar, wants_progress
    from riskscore.model import load

    console, timer = _console(args), _Timer()
    if args.scheduler is not None:
        from riskscore import distributed

        model = load(args.model, require_signature=args.require_signature)
        with timer.phase("score"), _cluster(args) as c:
            folder, channels = distributed.score_files(model, args.data, args.out, client=c)
        console.say(f"scored {sum(channels.values()):,} records with {model.version} -> the folder {folder}")
        console.say("channels: " + ", ".join(f"{k} {v:,}" for k, v in sorted(channels.items())))
        if args.json:
            console.emit(
                {
                    "command": "score",
                    "records": sum(channels.values()),
                    "channels": channels,
                    "model_version": model.version,
                    "output": str(folder),
                    "timings": timer.report(),
                }
            )
        return 0
    out = check_output(args.out, (".parquet", ".csv"))
    with timer.phase("load"):
        model = load(args.model, require_signature=args.require_signature)
    spec = model.spec
    progress = _progress(args)
    total = _parquet_rows(args.data) if wants_progress(progress) else None
    # iter_table yields at least one frame, empty for a file without rows, so an empty batch still gives a
    # readable file with the output columns and their types
    chunks = timer.timed("read", iter_table(args.data, args.chunk_rows, spec.declared_columns, spec=spec))
    tmp = temp_beside(out)
    tally = _Tally()
    try:
        with progress_bar(progress, total=total, desc="score") as bar:
            if out.suffix.lower() == ".parquet":
                with ParquetChunks(tmp) as parquet:
                    for chunk in chunks:
                        with timer.phase("score"):
                            pred = model.predict(chunk)
                        with timer.phase("write"):
                            parquet.write(pred)
                        tally.add(pred)
                        bar.update(len(pred))
            else:
                # a CSV of predictions is opened by people: spreadsheet-safe (record ids are user text)
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    for i, chunk in enumerate(chunks):
                        with timer.phase("score"):
                            pred = model.predict(chunk)
                        with timer.phase("write"):
                            write_csv_rows(pred, fh, header=i == 0)
                        tally.add(pred)
                        bar.update(len(pred))
        publish(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    console.say(f"scored {tally.records:,} records with {model.version} -> {out}")
    for line in tally.lines():
        console.say(line)
    if args.json:
        console.emit(
            {
                "command": "score",
                "records": tally.records,
                "channels": dict(tally.channels),
                "selection_reasons": dict(tally.reasons.most_common()),
                "unseen_history": tally.unseen,
                "model_version": model.version,
                "output": str(out),
                "timings": timer.report(),
            }
        )
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    from riskscore._io import check_output_folder, read_table
    from riskscore.model import load
    from riskscore.report import build_review

    console, timer = _console(args), _Timer()
    check_output_folder(args.out, create=True)  # a file there, or a missing parent, fails before any work
    # fail on a bad model before reading data
    with timer.phase("load"):
        model = load(args.model, require_signature=args.require_signature)
    if args.scheduler is not None:
        from riskscore import distributed

        with timer.phase("review"), _cluster(args) as c:
            result = distributed.review(
                model, distributed.read(args.data), args.out, client=c, max_cases=args.max_cases
            )
    else:
        with timer.phase("read"):
            frame = read_table(args.data, spec=model.spec)
        with timer.phase("review"):
            result = build_review(model, frame, args.out, max_cases=args.max_cases, progress=_progress(args))
    note = (
        f" ({result.flagged - result.shown:,} more in flagged.csv)" if result.flagged > result.shown else ""
    )
    console.say(
        f"review of {result.records:,} records: {result.flagged:,} flagged, {result.shown:,} shown{note} -> "
        f"{result.index}"
    )
    if args.json:
        console.emit(
            {
                "command": "review",
                "records": result.records,
                "flagged": result.flagged,
                "shown": result.shown,
                "path": str(result.index),
                "flagged_csv": str(result.flagged_csv),
                "model_version": model.version,
                "timings": timer.report(),
            }
        )
    return 0


EXPLAIN_COLUMNS = ("record_id", "risk_score", "channel", "selection_reason", "reason_codes", "reasons")


def _cmd_explain(args: argparse.Namespace) -> int:
    from riskscore._io import check_output, iter_table, publish, temp_beside, write_csv_rows
    from riskscore._progress import progress_bar, wants_progress
    from riskscore.explain import check_top_k
    from riskscore.model import load

    console, timer = _console(args), _Timer()
    out = check_output(args.out, (".csv",))
    top_k = check_top_k(args.top_k)
    with timer.phase("load"):
        model = load(args.model, require_signature=args.require_signature)
    spec = model.spec  # the data is read as the model's own spec declares it
    progress = _progress(args)
    total = _parquet_rows(args.data) if wants_progress(progress) else None
    chunks = timer.timed("read", iter_table(args.data, args.chunk_rows, spec.declared_columns, spec=spec))
    tmp = temp_beside(out)
    tally = _Tally()
    try:
        # one chunk at a time: TreeSHAP contributions take memory per record and feature
        with (
            progress_bar(progress, total=total, desc="explain") as bar,
            open(tmp, "w", newline="", encoding="utf-8") as fh,
        ):
            for i, chunk in enumerate(chunks):
                with timer.phase("explain"):
                    pred = model.predict(chunk, explain=True, top_k=top_k)
                with timer.phase("write"):
                    # spreadsheet-safe, as riskscore._io.safe_csv writes (record ids and reasons are user text)
                    write_csv_rows(pred[list(EXPLAIN_COLUMNS)], fh, header=i == 0)
                tally.add(pred)
                bar.update(len(pred))
        publish(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    console.say(f"explained {tally.records:,} records with {model.version} (top {top_k} reasons) -> {out}")
    for line in tally.lines():
        console.say(line)
    if args.json:
        console.emit(
            {
                "command": "explain",
                "records": tally.records,
                "channels": dict(tally.channels),
                "top_k": top_k,
                "model_version": model.version,
                "output": str(out),
                "timings": timer.report(),
            }
        )
    return 0


def _psi_bands(text: str) -> tuple[float, float]:
    """Accept two increasing positive numbers such as ``0.1,0.25`` (an argparse type)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        low = high = math.nan
    if not (0 < low < high and math.isfinite(high)):
        raise argparse.ArgumentTypeError(
            f"must be two increasing positive numbers separated by a comma (stable below the first, act above "
            f"the second), like 0.1,0.25; got {text!r}"
        )
    return low, high


def _cmd_monitor(args: argparse.Namespace) -> int:
    import pandas as pd

    from riskscore._io import atomic_write_text, check_output, read_table
    from riskscore.model import load
    from riskscore.monitoring import monitor

    to_stdout = args.json == "-"
    console, timer = _Console(quiet=bool(args.quiet), json=to_stdout), _Timer()
    # unwritable outputs fail before any work
    json_path = check_output(args.json, (".json",)) if args.json is not None and not to_stdout else None
    html_path = check_output(args.html, (".html",)) if args.html is not None else None
    with timer.phase("load"):
        model = load(args.model, require_signature=args.require_signature)
    with timer.phase("read"):
        frame = read_table(args.batch, spec=model.spec)
    with timer.phase("monitor"):
        report = monitor(model, frame, bands=args.psi_bands)
    if not console.quiet:
        checks = report.table()
        shown = checks[checks["status"].isin(["act", "watch"])]
        console.say(f"{report!r}")
        if len(shown):
            with pd.option_context(
                "display.width", 200, "display.max_colwidth", 120, "display.max_rows", 500
            ):
                console.say(shown.to_string(index=False))
        for note in report.notes:
            console.say(f"note: {note}")
    if html_path is not None:
        with timer.phase("write"):
            report.save_html(html_path)
        console.say(f"wrote {html_path}")
    if to_stdout or json_path is not None:
        document = {"command": "monitor", **report.to_dict(), "timings": timer.report()}
        if to_stdout:
            console.emit(document)
        else:
            assert json_path is not None
            atomic_write_text(json_path, json.dumps(_json_safe(document), allow_nan=False, indent=1) + "\n")
            console.say(f"wrote {json_path}")
    return 0


def _cmd_predict_one(args: argparse.Namespace) -> int:
    from riskscore.model import load

    try:
        record = json.loads(args.record)
    except json.JSONDecodeError as exc:
        raise ParameterError(
            f'--record must be one record as a JSON object, like \'{{"declaration_id": "D1", ...}}\'; '
            f"it is not valid JSON: {exc.msg} at character {exc.pos}"
        ) from None
    if not isinstance(record, dict):
        raise ParameterError(
            f'--record must be one record as a JSON object ({{"column": value, ...}}); got a JSON '
            f"{type(record).__name__}"
        )
    model = load(args.model, require_signature=args.require_signature)
    result = model.predict_one(record, explain=args.explain, top_k=args.top_k)
    print(json.dumps(_json_safe(result), allow_nan=False), flush=True)
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    from riskscore.artifact import sign_artifact

    path = sign_artifact(args.model, key_id=args.key_id)
    _console(args).say(f"signed {path}")
    return 0


def _label_map(text: str) -> dict[str, str]:
    """Parse ``--label-map 0=green,1=yellow,2=red`` (an argparse type)."""
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    out: dict[str, str] = {}
    for pair in pairs:
        value, sep, channel = pair.partition("=")
        if not sep or not value.strip() or channel.strip().lower() not in ("green", "yellow", "red"):
            raise argparse.ArgumentTypeError(
                f"must list outcome values and their channels like 0=green,1=yellow,2=red; got {pair!r}"
            )
        out[value.strip()] = channel.strip().lower()
    if not out:
        raise argparse.ArgumentTypeError("must list outcome values and their channels like 0=green,1=red")
    return out


def _read_as_text(path: str, id_column: str, time_column: str) -> pd.DataFrame:
    """Read a table for spec inference: a CSV's columns as text, parquet as stored.

    Text keeps codes' leading zeros (only an empty cell is missing); the inference recognises numbers and
    dates in it.
    """
    import pandas as pd

    from riskscore._io import read_table
    from riskscore.spec import ColumnSpec, RecordSpec

    file = Path(path)
    header: list[str] | None = None
    if file.suffix.lower() == ".csv" and file.is_file():
        try:
            header = [str(c) for c in pd.read_csv(file, nrows=0).columns]
        except (ValueError, OSError, UnicodeDecodeError):
            header = None  # read_table below says what is wrong with the file
    if (
        header is None
        or id_column not in header
        or time_column not in header
        or len(set(header)) < len(header)
    ):
        return read_table(path)  # the inference then names what is missing
    roles = {id_column: ("string", "id"), time_column: ("datetime", "timestamp")}
    as_text = RecordSpec(
        "text",
        1,
        "every column as text",
        id_column,
        time_column,
        tuple(ColumnSpec(c, *roles.get(c, ("string", "text"))) for c in header),
    )
    return read_table(path, spec=as_text)


def _cmd_spec_infer(args: argparse.Namespace) -> int:
    from riskscore._io import atomic_write_text, check_output
    from riskscore.infer import infer_spec_with_notes

    console = _console(args)
    out = check_output(args.out, (".toml",))
    frame = _read_as_text(args.data, args.id, args.time)
    spec, notes = infer_spec_with_notes(
        frame,
        id=args.id,
        timestamp=args.time,
        label=args.label,
        label_map=args.label_map,
        inspected=args.inspected,
        propensity=args.propensity,
        revenue=args.revenue,
        name=args.name,
    )
    atomic_write_text(out, spec.to_toml(notes=notes))
    by_role: dict[str, list[str]] = {}
    for column in spec.columns:
        by_role.setdefault(column.role, []).append(column.name)
    console.say(f"{len(frame):,} records, {len(spec.columns)} columns:")
    for role, names in by_role.items():
        console.say(f"  {role:<10} {', '.join(names)}")
    console.say(f"{len(spec.features)} derived features:")
    for feature in spec.features:
        console.say(f"  {feature.kind:<10} {feature.name} ({', '.join(feature.inputs)})")
    warnings = [f"  {key}: {note}" for key, note in notes.items() if "WARNING" in note]
    if warnings:
        console.say("check these:")
        for line in warnings:
            console.say(line)
    console.say(
        f"wrote {out}: read it (each entry says why), then riskscore train --spec {out} --data {args.data} "
        "--out model.rsk"
    )
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from riskscore._io import check_output
    from riskscore.simulate import simulate

    for path, suffixes in ((args.html, (".html", ".htm")), (args.csv, (".csv",))):
        if path:
            check_output(path, suffixes)  # refuse a bad output before weeks of simulation
    result = simulate(
        weeks=args.weeks,
        strategies=args.strategies,
        history_weeks=args.history_weeks,
        records_per_week=args.records_per_week,
        retrain_every=args.retrain_every,
        window_weeks=args.window_weeks,
        adversary=not args.no_adversary,
        scenario=args.scenario,
        seed=args.seed,
        num_threads=args.threads,
        progress=_progress(args),
    )
    console = _console(args)
    summary = result.summary()
    columns = ["inspected", "caught", "detection", "hit_rate", "recovered_share", "vs_oracle", "vs_exploit"]
    console.say(summary[columns].round(3).to_string())
    if args.html:
        console.say(f"wrote {result.save_html(args.html)}")
    if args.csv:
        from riskscore._io import safe_csv

        console.say(f"wrote {safe_csv(result.periods, args.csv)}")
    if args.json:
        console.emit(
            {
                "summary": summary.reset_index().to_dict(orient="records"),
                "moves": len(result.moves),
                "settings": result.settings,
            }
        )
    return 0


def _cmd_build_models(args: argparse.Namespace) -> int:
    import pandas as pd

    from riskscore._io import atomic_write_text, check_output_folder
    from riskscore.card import model_card
    from riskscore.defaults import DEFAULT_DATA, default_frames
    from riskscore.training import train

    console = _console(args)
    out_dir = check_output_folder(args.out, create=False)
    for kind in args.kinds:
        d = DEFAULT_DATA[kind]
        console.say(
            f"building the default {kind} model from {d.rows:,} generated records (seed {d.seed}) ...",
            flush=True,
        )
        history, _ = default_frames(kind)
        result = train(
            history, kind=kind, num_threads=args.threads, seed=0, baselines=True, progress=_progress(args)
        )
        report = result.report()
        if not console.quiet:
            with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 3):
                _print_report(report, console.say)
        path = result.model.save(out_dir / f"{kind}.rsk")
        atomic_write_text(out_dir / f"{kind}.md", model_card(result.model, report))
        console.say(f"wrote {path}")
    return 0


def _add_output_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--quiet, --verbose and --log-level, before the command or after it.

    Below a command their defaults are left unset (SUPPRESS), so that they do not overwrite a value given
    before the command.
    """
    unset: Any = argparse.SUPPRESS
    group = parser.add_argument_group("output")
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top else unset,
        help="print errors only: no progress bars, log messages or summaries (--json still prints its JSON, "
        "and demo and scenarios what they show)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top else unset,
        help="also log what the library does (level INFO) on stderr",
    )
    group.add_argument(
        "--log-level",
        type=_log_level,
        metavar="LEVEL",
        default=None if top else unset,
        help=f"level of the log messages on stderr: {', '.join(LOG_LEVELS)} (default: warning)",
    )


def _add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster: its scheduler's address (tcp://host:8786), or no value for a two-worker "
        "local cluster (needs riskscore[scale]; data and outputs are parquet folders)",
    )


@contextlib.contextmanager
def _cluster(args: argparse.Namespace) -> Iterator[Any]:
    """Yield the Dask client of ``--scheduler`` (a local cluster for no address); close it afterwards."""
    from riskscore import distributed

    with distributed.client(None if args.scheduler == "local" else args.scheduler) as c:
        yield c


def _add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with the run's figures on stdout; the text for people goes to stderr",
    )


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file or shipped name (shipment, passenger)")


def _add_signature_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-signature", action="store_true", help="refuse an unsigned or altered model file"
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="riskscore", description="Customs risk targeting: synthetic data, channel models."
    )
    parser.add_argument("--version", action="version", version=f"riskscore {__version__}")
    _add_output_options(parser, top=True)
    common = argparse.ArgumentParser(add_help=False)
    _add_output_options(common, top=False)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        # every command takes the output options too, so they may follow the command's name
        return sub.add_parser(name, parents=[common], **kwargs)

    gen = command("generate", help="generate synthetic shipments or passengers to a parquet/csv file")
    gen.add_argument("kind", choices=["shipments", "passengers"])
    gen.add_argument(
        "--rows", type=_whole(1, "the number of records"), required=True, help="number of records"
    )
    gen.add_argument(
        "--out",
        required=True,
        help="output file (.parquet or .csv); with --scheduler a new folder of parquet files",
    )
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
    gen.add_argument(
        "--layout",
        choices=["riskscore", "foreign"],
        default="riskscore",
        help="foreign: shipments as another administration keeps them (docs/own-data.md)",
    )
    _add_scheduler_option(gen)
    gen.set_defaults(func=_cmd_generate)

    sc = command("scenarios", help="list the shipped scenarios")
    sc.set_defaults(func=_cmd_scenarios)

    demo = command(
        "demo", help="the main job: generate, score a fresh batch with the shipped models, evaluate"
    )
    size = demo.add_mutually_exclusive_group()
    size.add_argument(
        "--rows",
        type=_whole(100, "fresh records scored per kind"),
        default=None,
        help="score a random sample of N records of the fresh month of each kind (default: the whole month, "
        "about 51,000 shipments and 38,000 passengers); the world and the shipped models stay the same",
    )
    size.add_argument(
        "--quick",
        action="store_true",
        help=f"a demo of a few seconds: the same as --rows {QUICK_ROWS}",
    )
    demo.set_defaults(func=_cmd_demo)

    tr = command("train", help="train a channel model on a table of past records")
    tr.add_argument(
        "--spec",
        "--kind",
        dest="spec",
        default="shipment",
        help="record spec: the path of your spec TOML, or a built-in one (shipment, passenger); --kind is "
        "the same option",
    )
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
    valid_at = tr.add_mutually_exclusive_group()
    valid_at.add_argument(
        "--valid-from",
        type=_date,
        default=None,
        metavar="DATE",
        help="first day (YYYY-MM-DD) of the validation window (early stopping, calibration, policy thresholds)",
    )
    valid_at.add_argument(
        "--valid-fraction",
        type=_fraction,
        default=None,
        metavar="F",
        help="or: share of the records, the latest before the test window, to validate on (default 0.15)",
    )
    test_at = tr.add_mutually_exclusive_group()
    test_at.add_argument(
        "--test-from",
        type=_date,
        default=None,
        metavar="DATE",
        help="first day (YYYY-MM-DD) of the held-out test window the evaluation is printed for",
    )
    test_at.add_argument(
        "--test-fraction",
        type=_fraction,
        default=None,
        metavar="F",
        help="or: share of the latest records held out for the test (default 0.15; 0: no test window)",
    )
    tr.add_argument(
        "--by",
        default=None,
        metavar="COLUMN",
        help="also break the test window's inspection outcomes down by this column (an office, a procedure)",
    )
    tr.add_argument("--threads", type=int, default=2, help="LightGBM threads (match the free cores)")
    tr.add_argument(
        "--seed",
        type=_whole(0, "the random seed"),
        default=0,
        help="seed of training and of the champion gate",
    )
    tr.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    _add_json_option(tr)
    _add_scheduler_option(tr)
    tr.set_defaults(func=_cmd_train)

    sc2 = command("score", help="score a table of records with a model, chunk by chunk")
    _add_model_option(sc2)
    sc2.add_argument("--data", required=True, help="records (.parquet or .csv)")
    sc2.add_argument(
        "--out",
        required=True,
        help="predictions (.parquet or .csv); with --scheduler a new folder of parquet files",
    )
    sc2.add_argument(
        "--chunk-rows",
        type=_whole(1, "records read and scored at a time"),
        default=200_000,
        help="records read and scored at a time (memory bound)",
    )
    sc2.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    _add_signature_option(sc2)
    _add_json_option(sc2)
    _add_scheduler_option(sc2)
    sc2.set_defaults(func=_cmd_score)

    rv = command("review", help="write an HTML review report of the flagged cases in a batch")
    _add_model_option(rv)
    rv.add_argument(
        "--data", required=True, help="records (.parquet or .csv); with --scheduler a parquet file or folder"
    )
    rv.add_argument("--out", required=True, help="folder for index.html and flagged.csv")
    rv.add_argument(
        "--max-cases",
        type=_whole(0, "0 shows the red cases only"),
        default=1000,
        help="yellow cases shown after every red case (all flagged cases are in flagged.csv)",
    )
    _add_signature_option(rv)
    _add_json_option(rv)
    _add_scheduler_option(rv)
    rv.set_defaults(func=_cmd_review)

    ex = command("explain", help="write each record's risk score, channel and reasons to a CSV")
    _add_model_option(ex)
    ex.add_argument("--data", required=True, help="records (.parquet or .csv), read with the model's spec")
    ex.add_argument(
        "--out", required=True, help="reasons table to write (.csv, safe to open in a spreadsheet)"
    )
    ex.add_argument(
        "--top-k", type=_whole(1, "reasons per record"), default=5, help="reasons per record (default 5)"
    )
    ex.add_argument(
        "--chunk-rows",
        type=_whole(1, "records read and explained at a time"),
        default=50_000,
        help="records read and explained at a time (memory bound)",
    )
    ex.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    _add_signature_option(ex)
    _add_json_option(ex)
    ex.set_defaults(func=_cmd_explain)

    mo = command(
        "monitor",
        help="compare a batch with the training reference stored in the model: drift (PSI), channels, hit "
        "rate, unseen values, fairness per protected group",
    )
    mo.add_argument("model", metavar="MODEL", help="model file or shipped name (shipment, passenger)")
    mo.add_argument("batch", metavar="BATCH", help="records (.parquet or .csv), read with the model's spec")
    mo.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="write the report as JSON to PATH (.json), or to stdout with - (the text for people then goes to "
        "stderr)",
    )
    mo.add_argument("--html", default=None, metavar="PATH", help="write the monitoring page to PATH (.html)")
    mo.add_argument(
        "--psi-bands",
        type=_psi_bands,
        default=(0.10, 0.25),
        metavar="LOW,HIGH",
        help="PSI below LOW is stable, up to HIGH watch, above act (default 0.1,0.25)",
    )
    _add_signature_option(mo)
    mo.set_defaults(func=_cmd_monitor)

    po = command("predict-one", help="score one record given as JSON and print the result as JSON")
    _add_model_option(po)
    po.add_argument(
        "--record", required=True, help="one record as a JSON object: the spec's declared fields and values"
    )
    po.add_argument("--explain", action="store_true", help="add reason_codes and reasons")
    po.add_argument(
        "--top-k",
        type=_whole(1, "reasons with --explain"),
        default=3,
        help="reasons with --explain (default 3)",
    )
    _add_signature_option(po)
    po.set_defaults(func=_cmd_predict_one)

    sg = command(
        "sign", help="sign a model file (HMAC-SHA256; key from RISKSCORE_SIGNING_KEY or RISKSCORE_KEYRING)"
    )
    sg.add_argument("--model", required=True, help="model file to sign in place")
    sg.add_argument("--key-id", default=None, help="key id in the keyring (default: the first available key)")
    sg.set_defaults(func=_cmd_sign)

    sp = command("spec", help="record specs of your own tables: infer one from the data")
    sp_sub = sp.add_subparsers(dest="spec_command", required=True)
    si = sp_sub.add_parser(
        "infer",
        parents=[common],
        help="propose a spec TOML (types, roles, features, labels) for a table, with the evidence as comments",
    )
    si.add_argument("data", help="records (.parquet or .csv; a CSV is read as text, so codes keep zeros)")
    si.add_argument("--id", required=True, metavar="COL", help="the record id column (unique)")
    si.add_argument("--time", required=True, metavar="COL", help="the record time column")
    si.add_argument("--label", default=None, metavar="COL", help="the inspection outcome column")
    si.add_argument(
        "--label-map",
        type=_label_map,
        default=None,
        metavar="MAP",
        help="outcome values and their channels, like 0=green,1=yellow,2=red (default: channel words as "
        "themselves, 0/1 as green/red)",
    )
    si.add_argument("--inspected", default=None, metavar="COL", help="which records were inspected (0/1)")
    si.add_argument("--propensity", default=None, metavar="COL", help="probability each record was selected")
    si.add_argument("--revenue", default=None, metavar="COL", help="revenue recovered per record")
    si.add_argument("--name", default="own", help="the spec's name (an identifier; default own)")
    si.add_argument("--out", required=True, help="spec file to write (.toml)")
    si.set_defaults(func=_cmd_spec_infer)

    sim = command(
        "simulate",
        help="rehearse the weekly loop (select, inspect, retrain, smugglers adapt) for selection strategies",
    )
    sim.add_argument("--weeks", type=_whole(1, "weekly periods"), default=26, help="weeks simulated (26)")
    sim.add_argument(
        "--strategies",
        nargs="+",
        default=None,
        metavar="NAME",
        help="exploit, random-1, random-5, random-10, ucb, legacy, oracle (default: all)",
    )
    sim.add_argument(
        "--history-weeks",
        type=_whole(4, "weeks of history"),
        default=16,
        help="weeks of legacy-selected history the first model learns from (16)",
    )
    sim.add_argument(
        "--records-per-week",
        type=_whole(1_000, "declarations per week"),
        default=10_000,
        help="declarations per week (10,000)",
    )
    sim.add_argument(
        "--retrain-every", type=_whole(1, "weeks between retrainings"), default=4, help="weeks (4)"
    )
    sim.add_argument(
        "--window-weeks",
        type=_whole(1, "weeks of outcomes a retraining uses"),
        default=None,
        help="retrain on the last N weeks of outcomes only (default: all since the history began)",
    )
    sim.add_argument("--no-adversary", action="store_true", help="smugglers do not adapt")
    sim.add_argument("--scenario", default="default", help="scenario name or path to a scenario TOML")
    sim.add_argument("--seed", type=_whole(0, "the random seed"), default=0)
    sim.add_argument("--threads", type=_whole(1, "LightGBM threads"), default=2)
    sim.add_argument("--html", default=None, help="write the page with the curves here (.html)")
    sim.add_argument("--csv", default=None, help="write the weekly figures here (.csv)")
    sim.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    _add_json_option(sim)
    sim.set_defaults(func=_cmd_simulate)

    bm = command("build-models", help="rebuild the shipped default models from the default scenario")
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


def _log_level_of(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    given = [
        name
        for name, on in (
            ("--quiet", args.quiet),
            ("--verbose", args.verbose),
            (f"--log-level {str(args.log_level).lower()}", args.log_level is not None),
        )
        if on
    ]
    if len(given) > 1:
        parser.error(f"choose one of --quiet, --verbose and --log-level; got {' and '.join(given)}")
    if args.quiet:
        return logging.ERROR
    if args.verbose:
        return logging.INFO
    return int(getattr(logging, args.log_level or "WARNING"))


@contextlib.contextmanager
def _logging_to_stderr(level: int) -> Iterator[None]:
    """Show the riskscore logger's messages on stderr while a command runs, then put the logger back."""
    logger = logging.getLogger("riskscore")
    handler = logging.StreamHandler(sys.stderr)  # the stderr of this call (a test may have replaced it)
    handler.setFormatter(logging.Formatter("riskscore: %(levelname)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse exits with 2 on a malformed option)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = _log_level_of(args, parser)
    try:
        with _sigterm_raises(), _logging_to_stderr(level):
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
