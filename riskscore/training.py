"""Training a RiskModel from a history of records, the way a risk unit has it.

Labels are the observed inspection outcomes (only inspected records carry one), weighted by inverse
selection propensity where the data records it (docs/domain.md 4.3). Training on truth columns is refused
unless a study asks for it explicitly (``label="truth"`` with ``allow_truth=True``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from riskscore._lgbmerge import merge_boosters
from riskscore._progress import progress_bar
from riskscore.evaluate import (
    INSPECTION_RATES,
    _outcomes,
    _spec_outcomes,
    evaluate_outcomes,
    evaluate_scores,
    observed_channels,
    window_metrics,
)
from riskscore.exceptions import ParameterError, SchemaError
from riskscore.features.builder import FeatureBuilder
from riskscore.model import ChannelModel, RiskModel
from riskscore.monitoring import reference_profile
from riskscore.policy import CHANNELS, ChannelPolicy, default_policy
from riskscore.spec import RecordSpec, load_spec
from riskscore.validation import validate_frame

__all__ = [
    "TrainResult",
    "check_label",
    "finish_model",
    "held_out_metrics",
    "labels_of",
    "split_days",
    "time_split",
    "train",
    "validated_with_labels",
]

log = logging.getLogger("riskscore")
# Cap on 1 / propensity (weight truncation): records selected only at random (propensity ~1.5%) would
# otherwise weigh 66x and make the fit and early stopping chase noise. Measured on the default scenario,
# 300k shipments: uncapped precision@5% 0.39, cap 5 0.43, no weights 0.43 (docs/benchmarks.md).
MAX_WEIGHT = 5.0
MIN_SEVERE = 20  # found red and yellow violations needed to fit the severity head (else its prior)
MIN_PHYSICAL = 200  # physical inspections needed (in training and in validation) to add the physical head


@dataclass
class TrainResult:
    """A trained model, the sizes of the windows it saw, its held-out latest window and baselines."""

    model: RiskModel
    train_rows: int
    valid_rows: int
    test: pd.DataFrame
    baseline: Pipeline | None = None

    def __repr__(self) -> str:
        """Return a one-line summary: model version, window sizes and the held-out precision at 5%.

        The precision is the one stored at training in ``model.info["metrics"]`` (no scoring here): the
        hit rate among inspected records in the top 5%, or the truth precision on a window without
        inspection outcomes.

        Examples
        --------
        >>> from riskscore.synthetic import generate_shipments
        >>> result = train(generate_shipments(20_000, seed=3), estimator=ChannelModel(n_estimators=40))
        >>> result  # doctest: +ELLIPSIS
        TrainResult(model='shipment-...', train=14,..., valid=3,..., test=2,... records, precision@5% 0...)
        """
        from riskscore._display import metrics_rate

        parts = [
            f"model={self.model.version!r}",
            f"train={self.train_rows:,}",
            f"valid={self.valid_rows:,}",
            f"test={len(self.test):,} records",
        ]
        precision = metrics_rate(self.model.info.get("metrics"), 0.05)
        if precision is not None:
            parts.append(f"precision@5% {precision:.3f}")
        if self.baseline is not None:
            parts.append("with logistic baseline")
        return f"TrainResult({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """Notebook view: the windows, the held-out evaluation stored at training and the model."""
        from riskscore._display import train_result_html

        return train_result_html(self)

    def report(
        self, *, rates: tuple[float, ...] = INSPECTION_RATES, by: str | None = None
    ) -> dict[str, pd.DataFrame]:
        """Evaluate on the held-out latest window: model against oracle, random, legacy and logistic.

        Parameters
        ----------
        rates
            Inspection rates.
        by
            A column of the records to break the inspection outcomes down by (see
            :func:`riskscore.evaluate.evaluate_outcomes`).

        Returns
        -------
        dict of str to DataFrame
            The tables of :func:`riskscore.evaluate.evaluate_scores`; and, on records whose outcomes are in
            the columns their spec's ``[labels]`` names rather than the synthetic ones (a user's own data),
            or with ``by``, those of :func:`riskscore.evaluate.evaluate_outcomes` (``outcomes``, ``by``).
            Empty when there is no test window.
        """
        test = self.test
        if len(test) == 0:
            return {}
        pred = self.model.predict(test)
        scores: dict[str, NDArray[np.float64]] = {"model": pred["risk_score"].to_numpy()}
        if "oracle_p_violation" in test.columns:
            scores["oracle"] = test["oracle_p_violation"].to_numpy(dtype=np.float64)
        scores["random"] = np.random.default_rng(0).random(len(test))
        propensity = self.model.spec.labels.propensity if self.model.spec.labels is not None else None
        if propensity is not None and propensity in test.columns:  # the legacy rule policy's ranking
            scores["legacy rules"] = test[propensity].to_numpy(dtype=np.float64)
        if self.baseline is not None:
            X = self.model.features.transform(test)
            scores["logistic"] = self.baseline.predict_proba(X)[:, 1]
        out = evaluate_scores(
            test.reset_index(drop=True),
            scores,
            rates=rates,
            channels=pred["channel"].to_numpy(),
            protected=self.model.spec.protected_columns,
        )
        labels = self.model.spec.labels
        if (
            (by is not None or _outcomes(test) is None)
            and labels is not None
            and labels.outcome in test.columns
        ):
            out.update(evaluate_outcomes(self.model, test, rates=rates, by=by))
        return out


def _cut_day(value: object, name: str, day: pd.Series) -> pd.Timestamp:
    """Read a ``*_from`` date as a day boundary in the time column's zone; a ParameterError names the option."""
    period = f"the data's period is {day.min():%Y-%m-%d} to {day.max():%Y-%m-%d}"
    try:
        parsed = None if isinstance(value, bool | int | float) else pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed is pd.NaT:
        raise ParameterError(f"{name} must be a date written YYYY-MM-DD; got {value!r} ({period})")
    when = pd.Timestamp(parsed)
    tz = getattr(day.dt, "tz", None)
    if tz is not None:
        when = when.tz_localize(tz) if when.tzinfo is None else when.tz_convert(tz)
    elif when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return when.floor("D")


def time_split(
    frame: pd.DataFrame,
    time_column: str,
    valid: float,
    test: float,
    *,
    valid_from: object = None,
    test_from: object = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split by time into train / validation / test windows; each window is strictly later than the last.

    Cut points fall between days, so no day is split across windows.

    Parameters
    ----------
    frame
        The records.
    time_column
        Their time column.
    valid, test
        Shares of the records in the validation and test windows (the latest records); ``test=0``: no test
        window.
    valid_from, test_from
        First day of the validation / test window (a date, ``"YYYY-MM-DD"`` or a timestamp, taken as its
        day); each replaces its share. Both must lie inside the data's period, after its first day
        (training needs earlier records), with ``valid_from`` before ``test_from``.

    Raises
    ------
    ParameterError
        A share out of range, fewer than 3 days of records, or a date that is not a date, lies outside the
        data's period, leaves a window empty, or a ``valid_from`` on or after ``test_from`` (the message
        names the option and gives the data's first and last day).

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", periods=10, freq="D")
    >>> frame = pd.DataFrame({"t": days})
    >>> tr, va, te = time_split(frame, "t", 0.15, 0.15, valid_from="2025-01-07", test_from="2025-01-09")
    >>> len(tr), len(va), len(te)
    (6, 2, 2)
    """
    day = pd.to_datetime(frame[time_column]).dt.floor("D")
    order = np.argsort(day.to_numpy(), kind="stable")
    frame, day = frame.iloc[order].reset_index(drop=True), day.iloc[order].reset_index(drop=True)
    days = day.drop_duplicates().reset_index(drop=True)
    counts = day.value_counts().reindex(days).to_numpy()
    cut_valid, cut_test = split_days(days, counts, valid, test, valid_from=valid_from, test_from=test_from)
    train = frame[day < cut_valid]
    if cut_test is None:
        return train, frame[day >= cut_valid], frame.iloc[0:0]
    return train, frame[(day >= cut_valid) & (day < cut_test)], frame[day >= cut_test]


def split_days(
    days: pd.Series,
    counts: ArrayLike,
    valid: float = 0.15,
    test: float = 0.15,
    *,
    valid_from: object = None,
    test_from: object = None,
) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """Return the first day of the validation window and of the test window (None: no test window).

    :func:`time_split`'s decision from the records per day alone, so that a split computed from day counts
    (``riskscore.distributed.train`` counts them per partition) cuts a data set at the same days.

    Parameters
    ----------
    days
        The distinct days of the records, sorted (timestamps at midnight, in the time column's zone).
    counts
        Records on each of those days.
    valid, test, valid_from, test_from
        As in :func:`time_split`.

    Raises
    ------
    ParameterError
        As :func:`time_split`.
    """
    if not (0 < valid < 1 and 0 <= test < 1 and valid + test < 1):
        raise ParameterError(
            f"valid and test fractions must be in (0, 1) and sum below 1; got {valid}, {test}"
        )
    n_day = np.asarray(counts, dtype=np.int64)
    if len(days) < 3:
        raise ParameterError(f"training needs records on at least 3 different days; got {len(days)}")
    first, last = days.iloc[0], days.iloc[-1]
    period = f"the data's period is {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    cuts: dict[str, pd.Timestamp] = {}
    for name, value in (("valid_from", valid_from), ("test_from", test_from)):
        if value is None:
            continue
        cut = cuts[name] = _cut_day(value, name, days)
        if not first < cut <= last:
            raise ParameterError(
                f"{name} {cut:%Y-%m-%d} is outside the data: {period}; choose a day after the first (training "
                "needs earlier records) and no later than the last"
            )
    if "valid_from" in cuts and "test_from" in cuts and not cuts["valid_from"] < cuts["test_from"]:
        raise ParameterError(
            f"valid_from {cuts['valid_from']:%Y-%m-%d} must be before test_from {cuts['test_from']:%Y-%m-%d}: "
            f"the validation window comes before the test window ({period})"
        )
    total = int(n_day.sum())
    cum = n_day.cumsum() / total
    cut_test: pd.Timestamp | None
    if "test_from" in cuts:
        cut_test = cuts["test_from"]
        test = float(n_day[(days >= cut_test).to_numpy()].sum() / total)
    else:
        cut_test = days[int(np.searchsorted(cum, 1 - test).clip(0, len(days) - 2)) + 1] if test > 0 else None
    if "valid_from" in cuts:
        cut_valid = cuts["valid_from"]
        if "test_from" not in cuts and cut_test is not None and not cut_valid < cut_test:
            raise ParameterError(
                f"valid_from {cut_valid:%Y-%m-%d} leaves no room for a test window of {test:.0%} of the records "
                f"after it ({period}); choose an earlier valid_from, set test_from, or a smaller test fraction"
            )
    else:
        cut_valid = days[int(np.searchsorted(cum, 1 - valid - test).clip(0, len(days) - 3)) + 1]
        if "test_from" in cuts and cut_test is not None and not cut_valid < cut_test:
            raise ParameterError(
                f"test_from {cut_test:%Y-%m-%d} leaves no room for a validation window of {valid:.0%} of the "
                f"records before it ({period}); choose a later test_from, or set valid_from"
            )
    if cut_test is None:
        return cut_valid, None
    if not cuts:
        cut_test = max(cut_test, cut_valid + pd.Timedelta(days=1))
    in_valid = ((days >= cut_valid) & (days < cut_test)).to_numpy()
    if cuts and n_day[in_valid].sum() == 0:
        raise ParameterError(
            f"no records from {cut_valid:%Y-%m-%d} to the day before {cut_test:%Y-%m-%d}, so the validation "
            f"window is empty ({period}); move valid_from or test_from"
        )
    return cut_valid, cut_test


def validated_with_labels(data: pd.DataFrame, spec: RecordSpec, label: str) -> pd.DataFrame:
    """Validate the records and read their labels, reporting every problem of both in one SchemaError.

    A user fixing a table wants the whole list at once: missing columns, bad values, repeated ids and
    outcome values the spec's [labels] does not map, each with its column, rows and fix.
    """
    problems: list[str] = []
    frame = None
    try:
        frame = validate_frame(data, spec, columns="declared", extra="keep")
    except SchemaError as exc:
        problems.append(str(exc))
    try:
        labels_of(frame if frame is not None else data, label, spec)
    except SchemaError as exc:
        problems.append(str(exc))
    if problems:
        if len(problems) == 1:
            raise SchemaError(problems[0])
        raise SchemaError("problems in the training records:\n" + "\n".join(f"- {p}" for p in problems))
    assert frame is not None
    return frame


def labels_of(
    frame: pd.DataFrame, label: str, spec: RecordSpec
) -> tuple[NDArray[np.bool_], NDArray[np.str_], NDArray[np.float64]]:
    """(rows with a label, channel label per row, weight per row), from the columns the spec's [labels] names.

    Observed labels: the outcome column mapped to channels through ``[labels] values`` (records not
    inspected count as unlabelled); inverse selection propensities as weights, truncated at MAX_WEIGHT
    (docs/domain.md 4.3). Truth labels (synthetic studies): the ``[labels] truth`` column, every record.
    """
    n = len(frame)
    labels = spec.labels
    if labels is None:
        raise SchemaError(
            f"spec {spec.name!r} has no [labels] table: training needs to know which column holds what an "
            'inspection found; add e.g. [labels] outcome = "finding" with values = { "0" = "green", "1" = "red" }'
        )
    if label == "truth":
        if labels.truth is None or labels.truth not in frame.columns:
            raise SchemaError(
                f"training on truth labels needs the truth column ([labels] truth = {labels.truth!r}) in the data"
            )
        return np.ones(n, bool), frame[labels.truth].astype(str).to_numpy(dtype=str), np.ones(n)
    needed = [c for c in (labels.outcome, labels.inspected) if c is not None and c not in frame.columns]
    if needed:
        raise SchemaError(
            f"training on observed labels needs column(s) {', '.join(map(repr, needed))} (spec [labels]: what "
            "the inspections found and which records were inspected); add them to the data"
        )
    inspected, y = observed_channels(frame, labels)
    if labels.propensity is not None and labels.propensity in frame.columns:
        prop = pd.to_numeric(frame[labels.propensity], errors="coerce").to_numpy(dtype=np.float64)
        w = np.minimum(1.0 / np.clip(np.nan_to_num(prop, nan=1.0), 1e-9, 1.0), MAX_WEIGHT)
    else:
        w = np.ones(n)
    return inspected, y, w


def platt_slope(margin: NDArray[np.float64], y: NDArray[np.bool_], w: NDArray[np.float64]) -> float:
    """Return the slope of a Platt calibration of a margin: what one unit of it is worth in log odds."""
    if len(margin) < 20 or y.all() or not y.any():
        return 0.0
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin[:, None], y.astype(int), sample_weight=w)
    return max(float(lr.coef_[0, 0]), 0.0)


def _physical_head(
    est: ChannelModel, spec: RecordSpec, train: tuple[Any, ...], valid: tuple[Any, ...]
) -> dict[str, Any] | None:
    """Add to the risk head what physical checks alone can reveal, where the spec says which checks were.

    A documentary check never finds quantity misdeclaration, concealment or diversion (docs/domain.md 4.1),
    yet its "nothing found" is a negative for the risk head. A second head learns from physical checks only;
    each head is Platt-calibrated on its own validation inspections, and the model's margin becomes the sum
    of their calibrated log odds: one booster (``_lgbmerge``), so predictions, the one-record path and
    exact TreeSHAP explanations are unchanged in kind. Measured in ``bench/checks_ablation.py``.
    Returns what was done (for the model's info), or None when the spec names no check or the data holds
    too few physical inspections.
    """
    labels = spec.labels
    if labels is None or labels.check is None:
        return None
    frame, X, has_l, found, w = train
    v_frame, Xv, v_has, v_found, v_w = valid
    if labels.check not in frame.columns or labels.check not in v_frame.columns:
        return None
    phys = has_l & frame[labels.check].astype(str).isin(labels.physical).to_numpy()
    v_phys = v_has & v_frame[labels.check].astype(str).isin(labels.physical).to_numpy()
    enough = all(
        int(mask.sum()) >= MIN_PHYSICAL and 0 < int(ys[mask].sum()) < int(mask.sum())
        for mask, ys in ((phys, found), (v_phys, v_found))
    )
    if not enough:
        return None
    head = clone(est)
    head.fit(
        X[phys],
        found[phys].astype(int),
        sample_weight=w[phys],
        eval_set=(Xv[v_phys], v_found[v_phys].astype(int), v_w[v_phys]),
    )

    def margin(model: ChannelModel, rows: Any) -> NDArray[np.float64]:
        return np.asarray(
            model.booster_.predict(
                Xv[rows], raw_score=True, num_iteration=model.best_iteration_, num_threads=est.num_threads
            ),
            dtype=np.float64,
        )

    weights = (
        platt_slope(margin(est, v_has), v_found[v_has], v_w[v_has]),
        platt_slope(margin(head, v_phys), v_found[v_phys], v_w[v_phys]),
    )
    if not (weights[0] > 0 and weights[1] > 0):
        return None
    iterations = (est.best_iteration_, head.best_iteration_)
    est.booster_ = merge_boosters(est.booster_, head.booster_, weights, iterations=iterations)
    est.best_iteration_ = est.booster_.current_iteration()
    return {
        "check": labels.check,
        "physical": list(labels.physical),
        "physical_rows": int(phys.sum()),
        "trees": [int(iterations[0]), int(iterations[1])],
        "weights": [round(weights[0], 6), round(weights[1], 6)],
    }


def _calibrate(
    raw: NDArray[np.float64], y: NDArray[np.bool_], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Strictly increasing calibration curve, as knots for np.interp (empty = identity).

    Platt scaling on the logit of the raw score, weighted like training: a strictly increasing map,
    so the calibrated risk ranks records exactly as the model does (an isotonic fit would create ties
    and blur the ranking at the top, where inspections are decided).
    """
    if len(raw) < 20 or y.all() or not y.any():
        return np.zeros(0), np.zeros(0)
    eps = 1e-6
    z = np.log(np.clip(raw, eps, 1 - eps) / (1 - np.clip(raw, eps, 1 - eps)))
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y.astype(int), sample_weight=w)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not a > 0:
        return np.zeros(0), np.zeros(0)
    grid_z = np.linspace(-14.0, 14.0, 1025)
    knots_x = 1.0 / (1.0 + np.exp(-grid_z))
    knots_y = 1.0 / (1.0 + np.exp(-(a * grid_z + b)))
    return np.asarray(knots_x, dtype=np.float64), np.asarray(knots_y, dtype=np.float64)


def _content_hash(model: RiskModel, data_fingerprint: str, label: str) -> str:
    """SHA-256 over what decides a model's answers: data, spec, features, trees, calibration, policy.

    Part of the model version, so that two builds differing in anything that changes a score (features,
    parameters, label, policy) never share a version, and an identical rebuild gets the same one.
    """
    h = hashlib.sha256()
    for text in (
        data_fingerprint,
        label,
        model.spec.fingerprint(),
        json.dumps(model.features.feature_names_),
    ):
        h.update(text.encode("utf-8") + b"\0")
    for head in (model.estimator, model.severity):
        booster = "" if head is None else head.booster_.model_to_string(num_iteration=head.best_iteration_)
        h.update(booster.encode("utf-8") + b"\0")
    h.update(str(model.severity_prior).encode("ascii") + b"\0")
    for knots in model.calibration:
        h.update(np.ascontiguousarray(knots, dtype=np.float64).tobytes() + b"\0")
    h.update(json.dumps(model.policy.to_dict(), sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def _fingerprint(frame: pd.DataFrame, spec: RecordSpec) -> str:
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(frame[spec.id_column].astype(str), index=False).to_numpy().tobytes())
    h.update(
        pd.util.hash_pandas_object(frame[spec.time_column].astype("int64"), index=False).to_numpy().tobytes()
    )
    return h.hexdigest()


def held_out_metrics(model: RiskModel, test: pd.DataFrame, *, num_threads: int) -> dict[str, Any] | None:
    """Evaluate the model on the held-out latest window: compact, JSON-safe (None without a window)."""
    if len(test) == 0:
        return None
    spec = model.spec
    _, risk = model._probabilities(test, num_threads=num_threads)  # predict's risk_score, without its checks
    return {
        "window": "latest",
        "period": [str(test[spec.time_column].min()), str(test[spec.time_column].max())],
        "data_sha256": _fingerprint(test, spec),
        **window_metrics(test.reset_index(drop=True), risk, outcomes=_window_outcomes(test, spec)),
    }


def _window_outcomes(
    test: pd.DataFrame, spec: RecordSpec
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float64]] | None:
    """Read the window's outcomes through the spec's [labels] when it lacks the synthetic outcome columns.

    Records with ``inspected`` and ``observed_label`` (the built-in kinds) keep the figures they always had.
    """
    labels = spec.labels
    if _outcomes(test) is not None or labels is None or labels.outcome not in test.columns:
        return None
    if labels.inspected is not None and labels.inspected not in test.columns:
        return None
    return _spec_outcomes(test.reset_index(drop=True), labels)


def check_label(label: str, allow_truth: bool) -> None:
    """Refuse a label kind other than observed / truth, and truth labels unless the caller allows them."""
    if label not in ("observed", "truth"):
        raise ParameterError(f"label must be 'observed' or 'truth'; got {label!r}")
    if label == "truth" and not allow_truth:
        raise ParameterError(
            "training on truth labels is refused: a real risk unit only has inspection outcomes. For a study "
            "on synthetic data, pass label='truth', allow_truth=True"
        )


def finish_model(
    model: RiskModel,
    valid: pd.DataFrame,
    valid_labels: tuple[NDArray[np.bool_], NDArray[np.str_], NDArray[np.float64]],
    *,
    label: str,
    seed: int,
    num_threads: int,
    data_fingerprint: str,
    info: dict[str, Any],
    step: Callable[[str], object] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Finish a model whose heads are fitted: calibrate, set thresholds, extend the history, describe it.

    The steps :func:`train` and :func:`riskscore.distributed.train` share: calibration and the policy's
    thresholds on the validation window, the history extended with it (a deployed model knows the most
    recent outcomes), and ``model.info`` (the version from the content hash, then ``info``'s entries,
    then the heads').

    ``valid_labels`` is :func:`labels_of` of ``valid``; ``step`` is called with the name of the next step
    ("policy") when calibration is done. Returns the validation window's red probabilities and
    calibrated risks (for the monitoring reference).
    """
    spec = model.spec
    v_has, v_y, v_w = valid_labels
    proba_v, raw_v = model._probabilities(valid, num_threads=num_threads)
    model.calibration = _calibrate(raw_v[v_has], v_y[v_has] != "green", v_w[v_has])
    risk_v = np.interp(raw_v, *model.calibration) if len(model.calibration[0]) else raw_v
    if step is not None:
        step("policy")
    model.policy.seed = seed
    model.policy.fit(proba_v[:, 2], risk_v)
    model.features.extend_history(valid, inspected=v_has, hits=v_has & (v_y != "green"))
    today = dt.datetime.now(dt.UTC)
    content = _content_hash(model, data_fingerprint + _fingerprint(valid, spec), label)
    severity = model.severity
    model.info = {
        "model_version": f"{spec.name}-{today:%Y%m%d}-{content[:8]}",
        "trained_at": today.isoformat(timespec="seconds"),
        "label": label,
        "validation_rows": len(valid),
        **info,
        "best_iteration": model.estimator.best_iteration_,
        "severity_best_iteration": None if severity is None else severity.best_iteration_,
        "severity_prior": float(model.severity_prior),
        "features": model.features.feature_names_,
    }
    return proba_v[:, 2], risk_v


def train(
    data: pd.DataFrame,
    *,
    kind: str | RecordSpec = "shipment",
    label: Literal["observed", "truth"] = "observed",
    allow_truth: bool = False,
    valid_fraction: float = 0.15,
    test_fraction: float = 0.15,
    valid_from: object = None,
    test_from: object = None,
    policy: ChannelPolicy | None = None,
    include_protected: tuple[str, ...] = (),
    estimator: ChannelModel | None = None,
    num_threads: int = 2,
    seed: int = 0,
    baselines: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train a channel model on a history of records.

    Parameters
    ----------
    data
        Records of the spec with, for observed labels, the columns its ``[labels]`` table names: the
        outcome, and the inspected flag and selection propensity where the spec declares them.
    kind
        The record spec or the name of a built-in one.
    label
        ``"observed"`` (inspection outcomes, the real-life setting) or ``"truth"`` (synthetic studies).
    allow_truth
        Must be True to train on truth labels; otherwise truth training is refused.
    valid_fraction, test_fraction
        Later time windows for early stopping, calibration and policy thresholds (valid) and for the
        held-out evaluation (test).
    valid_from, test_from
        First day of the validation / test window (``"YYYY-MM-DD"``, a date or a timestamp); each replaces
        its fraction. They must lie inside the data's period, ``valid_from`` before ``test_from``: see
        :func:`time_split`.
    policy
        Channel policy; default: :func:`riskscore.policy.default_policy` of the spec (the shipped policy
        for a built-in spec, the spec's ``[policy]`` table, else shipment-like shares without rules).
    include_protected
        Protected attributes to use as features anyway (logged).
    estimator
        A configured ChannelModel; default settings otherwise.
    num_threads
        Training threads (set it explicitly: oversubscribed OpenMP threads collapse).
    seed
        Seed of LightGBM and of the policy's random selection.
    baselines
        Also fit a logistic regression on the same features and labels (for :meth:`TrainResult.report`).
    progress
        Show a progress bar over the training steps (validate, features, fit, severity, calibrate, policy,
        evaluate) on stderr; None: only when stderr is a terminal.

    Returns
    -------
    TrainResult
        The model's ``info["metrics"]`` (saved in the model file's manifest, shown by
        :meth:`~riskscore.model.RiskModel.describe`) holds its evaluation on the held-out latest window:
        :func:`riskscore.evaluate.window_metrics` with the window's period; None without a test window.
    """
    spec = load_spec(kind)
    check_label(label, allow_truth)
    with progress_bar(progress, total=8 if baselines else 7, desc="train", unit="steps") as bar:
        bar.unit_scale = False  # whole steps: "3/7", not "3.00/7.00"
        bar.set_postfix_str("validate")
        frame = validated_with_labels(data, spec, label)
        train_f, valid_f, test_f = time_split(
            frame,
            spec.time_column,
            valid_fraction,
            test_fraction,
            valid_from=valid_from,
            test_from=test_from,
        )
        has_l, y, w = labels_of(train_f, label, spec)
        if has_l.sum() < 50 or len(set(y[has_l])) < 2:
            raise SchemaError(
                f"too few labelled records to train: {int(has_l.sum())} inspected in the training window, "
                f"classes {sorted(set(y[has_l]))}; provide more history"
            )
        bar.update()
        bar.set_postfix_str("features")
        builder = FeatureBuilder(spec, include_protected=tuple(include_protected))
        hit = has_l & (y != "green")
        X = builder.fit_transform(train_f, inspected=has_l, hits=hit)
        Xv = builder.transform(valid_f)
        v_has, v_y, v_w = labels_of(valid_f, label, spec)
        cat_idx = tuple(builder.feature_names_.index(c) for c in builder.categorical_features)
        unknown = sorted(set(y[has_l]) - set(CHANNELS)) + sorted(set(v_y[v_has]) - set(CHANNELS))
        if unknown:
            raise SchemaError(f"labels must be channels {CHANNELS}; found {sorted(set(unknown))}")
        bar.update()
        bar.set_postfix_str("fit")
        # risk head: did an inspection find a violation?
        est = estimator if estimator is not None else ChannelModel()
        est.set_params(categorical_features=cat_idx, num_threads=num_threads, random_state=seed)
        found, v_found = (y != "green"), (v_y != "green")
        eval_set = (
            (Xv[v_has], v_found[v_has].astype(int), v_w[v_has])
            if v_has.sum() >= 50 and len(set(v_found[v_has])) > 1
            else None
        )
        est.fit(X[has_l], found[has_l].astype(int), sample_weight=w[has_l], eval_set=eval_set)
        physical_head = _physical_head(
            est, spec, (train_f, X, has_l, found, w), (valid_f, Xv, v_has, v_found, v_w)
        )
        bar.update()
        bar.set_postfix_str("severity")
        # severity head: among found violations, does it warrant red (docs/domain.md 2.2: concealment, serious)?
        sev_rows = has_l & found
        red = y == "red"
        severity, severity_prior = None, float(red[sev_rows].mean()) if sev_rows.any() else 0.0
        if red[sev_rows].sum() >= MIN_SEVERE and (~red[sev_rows]).sum() >= MIN_SEVERE:
            severity = clone(est).set_params(
                n_estimators=min(est.n_estimators, 300), num_leaves=15, min_child_samples=20
            )
            v_sev = v_has & v_found
            sev_eval = (
                (Xv[v_sev], (v_y[v_sev] == "red").astype(int), None)
                if (v_y[v_sev] == "red").sum() >= 5 and (v_y[v_sev] != "red").sum() >= 5
                else None
            )
            severity.fit(X[sev_rows], red[sev_rows].astype(int), eval_set=sev_eval)
        bar.update()
        bar.set_postfix_str("calibrate")
        model = RiskModel(
            spec,
            builder,
            est,
            policy or default_policy(spec),
            (np.zeros(0), np.zeros(0)),
            severity=severity,
            severity_prior=severity_prior,
        )
        fingerprint = _fingerprint(train_f, spec)
        p_red_v, risk_v = finish_model(
            model,
            valid_f,
            (v_has, v_y, v_w),
            label=label,
            seed=seed,
            num_threads=num_threads,
            data_fingerprint=fingerprint,
            info={
                "training_rows": len(train_f),
                "training_labelled_rows": int(has_l.sum()),
                "training_period": [
                    str(train_f[spec.time_column].min()),
                    str(train_f[spec.time_column].max()),
                ],
                "training_data_sha256": fingerprint,
                "include_protected": list(include_protected),
                # the head learnt from physical checks only, joined into the risk booster (None: no such head)
                "physical_head": physical_head,
            },
            step=lambda name: (bar.update(), bar.set_postfix_str(name)),
        )
        # what riskscore.monitor compares batches with (monitor.json; like the metrics, outside the version)
        model.monitoring = reference_profile(
            model,
            train_f,
            valid=valid_f,
            risk=risk_v,
            p_red=p_red_v,
            unseen_history=builder.unseen_rates(Xv),
        )
        bar.update()
        bar.set_postfix_str("evaluate")
        # The metrics describe the model; they do not decide its scores, so they stay out of the version
        # hash: the version names a scoring function, and the same function evaluated on another window
        # keeps its name. The window's own fingerprint says which records the figures come from.
        model.info["metrics"] = held_out_metrics(model, test_f, num_threads=num_threads)
        bar.update()
        log.info("trained %s on %d records (%d labelled)", model.version, len(train_f), int(has_l.sum()))
        baseline = None
        if baselines:
            bar.set_postfix_str("baseline")
            baseline = make_pipeline(
                SimpleImputer(strategy="median", keep_empty_features=True),
                StandardScaler(),
                LogisticRegression(max_iter=300),
            )
            baseline.fit(
                X[has_l], (y[has_l] != "green").astype(int), logisticregression__sample_weight=w[has_l]
            )
            bar.update()
    return TrainResult(model, len(train_f), len(valid_f), test_f, baseline)
