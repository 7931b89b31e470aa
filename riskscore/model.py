"""The channel estimator (scikit-learn compatible) and the RiskModel facade used to predict.

``ChannelModel`` is a LightGBM classifier over a numeric feature matrix that follows the scikit-learn
estimator contract (``fit``/``predict_proba``/``predict``, ``get_params``, ``clone``). ``RiskModel``
ties a record spec, a fitted :class:`~riskscore.features.FeatureBuilder`, a ``ChannelModel``, a
calibration of the risk score and a :class:`~riskscore.policy.ChannelPolicy` together: it is what
``riskscore.load`` returns and what ``riskscore train`` writes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from riskscore._onerecord import OneRecord, utf8_ok
from riskscore.exceptions import ArtifactError, ParameterError, SchemaError
from riskscore.features.builder import FeatureBuilder
from riskscore.policy import CHANNELS, ChannelPolicy
from riskscore.spec import RecordSpec
from riskscore.validation import validate_frame

log = logging.getLogger("riskscore")

__all__ = ["OUTPUT_COLUMNS", "ChannelModel", "RiskModel", "load"]

#: The prediction frame's columns, in order: the stable contract of RiskModel.predict.
OUTPUT_COLUMNS = (
    "record_id",
    "channel",
    "risk_score",
    "p_green",
    "p_yellow",
    "p_red",
    "selection_reason",
    "model_version",
)


class ChannelModel(ClassifierMixin, BaseEstimator):
    """LightGBM classifier with deterministic training, early stopping and class weights.

    Parameters
    ----------
    n_estimators : int
        Maximum boosting rounds.
    learning_rate, num_leaves, max_depth, min_child_samples, feature_fraction, bagging_fraction, lambda_l2
        LightGBM parameters.
    class_weight : {"balanced", None} or dict
        Per-class weight multiplied into the sample weights.
    early_stopping_rounds : int
        Rounds without improvement on ``eval_set`` before stopping (only with an eval set).
    categorical_features : tuple of int
        Column indices holding integer category codes.
    num_threads : int
        OpenMP threads for training (prediction threads are chosen per call by the caller).
    random_state : int
        Seed; training is deterministic for a given seed, data and thread count.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 40,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 1.0,
        lambda_l2: float = 1.0,
        class_weight: str | Mapping[Any, float] | None = None,
        early_stopping_rounds: int = 50,
        categorical_features: tuple[int, ...] = (),
        num_threads: int = 2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.categorical_features = categorical_features
        self.num_threads = num_threads
        self.random_state = random_state

    def _params(self, n_classes: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1 else 0,
            "lambda_l2": self.lambda_l2,
            "num_threads": self.num_threads,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
            "max_cat_to_onehot": 8,
            "cat_smooth": 10.0,
        }
        if n_classes > 2:
            params.update(objective="multiclass", num_class=n_classes, metric="multi_logloss")
        else:
            params.update(objective="binary", metric="binary_logloss")
        return params

    def _weights(
        self, y_idx: NDArray[np.intp], sample_weight: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        w = np.ones(len(y_idx)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self.class_weight is None:
            return w
        if self.class_weight == "balanced":
            counts = np.bincount(y_idx, weights=w, minlength=len(self.classes_))
            per = counts.sum() / (len(self.classes_) * np.maximum(counts, 1e-12))
        elif isinstance(self.class_weight, Mapping):
            per = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        else:
            raise ParameterError(
                f"class_weight must be 'balanced', a dict or None; got {self.class_weight!r}"
            )
        return w * per[y_idx]

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, eval_set: tuple[Any, Any, Any] | None = None
    ) -> ChannelModel:
        """Fit on a numeric matrix; ``eval_set=(X, y, weight)`` enables early stopping."""
        X, y = check_X_y(X, y, dtype=np.float64, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"ChannelModel needs at least 2 classes in y; got {list(self.classes_)}")
        self.n_features_in_ = X.shape[1]
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (len(y),):
                raise ValueError(f"sample_weight must have shape ({len(y)},); got {sample_weight.shape}")
            if not np.all(np.isfinite(sample_weight)) or (sample_weight < 0).any():
                raise ValueError("sample_weight must be finite and non-negative")
            if not (sample_weight > 0).any():
                raise ValueError("sample_weight is zero for every sample; nothing to learn from")
        params = self._params(len(self.classes_))
        train = lgb.Dataset(
            X,
            y_idx,
            weight=self._weights(y_idx, sample_weight),
            categorical_feature=list(self.categorical_features) or "auto",
            free_raw_data=True,
            params={"verbose": -1},
        )
        callbacks: list[Any] = []
        valid_sets: list[lgb.Dataset] = []
        if eval_set is not None:
            Xv, yv, wv = eval_set
            Xv = check_array(Xv, dtype=np.float64, ensure_all_finite="allow-nan")
            yv_idx = np.searchsorted(self.classes_, np.asarray(yv))
            valid_sets = [
                lgb.Dataset(
                    Xv, yv_idx, weight=None if wv is None else self._weights(yv_idx, wv), reference=train
                )
            ]
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        self.booster_ = lgb.train(
            params, train, num_boost_round=self.n_estimators, valid_sets=valid_sets, callbacks=callbacks
        )
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        return self

    def predict_proba(self, X: Any, *, num_threads: int | None = None) -> NDArray[np.float64]:
        """Class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "booster_")
        X = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but ChannelModel is expecting {self.n_features_in_} "
                "features as input"
            )
        raw: Any = self.booster_.predict(
            X, num_iteration=self.best_iteration_, num_threads=num_threads or self.num_threads
        )
        if len(self.classes_) == 2:
            raw = np.column_stack([1 - raw, raw])
        return np.asarray(raw, dtype=np.float64)

    def predict(self, X: Any) -> NDArray[Any]:
        """Most probable class."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


def _frame_from_dicts(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a frame of Python objects from records: each value is coerced on its own, never by its batch.

    ``pd.DataFrame(rows)`` would infer one dtype per column from all the records: an id ``29.0`` beside a
    string id would become ``'29.0'`` but ``'29'`` alone. Object columns keep every value as it was sent.
    """
    try:
        return pd.DataFrame(rows, dtype=object)
    except UnicodeEncodeError:
        # pandas stores text as UTF-8: name the field and row holding a lone surrogate
        for i, row in enumerate(rows):
            for key, value in row.items():
                if isinstance(value, str) and not utf8_ok(value):
                    raise SchemaError(
                        f"column {key!r} must be valid UTF-8 text; row {i} has text that is not valid Unicode. "
                        "Decode the source text correctly (it holds a lone surrogate such as '\\ud800')."
                    ) from None
        raise


def _check_keys(rows: list[dict[str, Any]], required: list[str]) -> None:
    """Refuse a record that lacks a required field, whatever the other records of the batch carry.

    In a frame built from dicts, a key one record lacks but another has becomes a missing value; alone,
    the same record lacks the column. Both are refused, naming the record and the field.
    """
    for name in required:
        has = [name in row for row in rows]
        if any(has) and not all(has):  # absent from every record: the missing-column message names it
            i = has.index(False)
            raise SchemaError(
                f"record {i} lacks field {name!r}, which the spec requires of every record ({has.count(False)} "
                "record(s) lack it). Add the key, with None when the value is unknown and the field is nullable."
            )


def _as_frame(records: Any, required: list[str] | None = None) -> pd.DataFrame:
    if isinstance(records, pd.DataFrame):
        return records
    if isinstance(records, pd.Series):  # one record, as a row of a frame (df.iloc[i])
        return _frame_from_dicts([{str(k): v for k, v in records.items()}])
    if isinstance(records, Mapping):
        return _frame_from_dicts([dict(records)])
    if isinstance(records, Sequence) and not isinstance(records, str | bytes):
        if not all(isinstance(r, Mapping) for r in records):
            raise SchemaError(
                "records must be a DataFrame, a dict or a list of dicts; the list holds "
                f"{sorted({type(r).__name__ for r in records if not isinstance(r, Mapping)})}"
            )
        rows = [dict(r) for r in records]
        if required:
            _check_keys(rows, required)
        return _frame_from_dicts(rows)
    raise SchemaError(
        f"records must be a DataFrame, a dict, a list of dicts or a pandas Series; got {type(records).__name__}"
    )


@dataclass
class RiskModel:
    """A trained channel model for one record spec: features, estimators, calibration and policy.

    Two binary LightGBM models share the features: ``estimator`` gives the log-odds that an inspection
    finds a violation (the risk, explained exactly by TreeSHAP), ``severity`` the log-odds that a found
    violation warrants red rather than yellow. Channel probabilities follow:
    ``p_green = 1 - p``, ``p_yellow = p (1 - s)``, ``p_red = p s``.

    Use :func:`riskscore.load` to get one and :meth:`predict` to score records.
    """

    spec: RecordSpec
    features: FeatureBuilder
    estimator: ChannelModel  # risk: P(an inspection finds a violation), binary, classes [0, 1]
    policy: ChannelPolicy
    # Platt-scaling curve as knots for np.interp: raw risk -> calibrated probability (strictly increasing)
    calibration: tuple[NDArray[np.float64], NDArray[np.float64]]
    info: dict[str, Any] = field(default_factory=dict)
    severity: ChannelModel | None = None  # P(red | violation), binary; None -> severity_prior
    severity_prior: float = 0.0
    # the training reference riskscore.monitor compares batches with (riskscore.monitoring.reference_profile);
    # None for a model file written before it was stored. Not part of the version: it decides no score.
    monitoring: dict[str, Any] | None = field(default=None, compare=False)
    # "riskscore X.Y.Z" that wrote the file this model was read from; None for a model built in this process
    created_by: str | None = field(default=None, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle and copy without the one-record caches (rebuilt on first use; some hold C handles)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_runtime", "_explainer")}

    @property
    def version(self) -> str:
        """Model version string: spec name, training date and a hash of what decides the scores."""
        return str(self.info.get("model_version", "unversioned"))

    def __repr__(self) -> str:
        """Return a one-line summary: version, spec, feature count and the policy's target shares.

        Examples
        --------
        >>> load("shipment")  # doctest: +ELLIPSIS
        RiskModel('shipment-...', spec=shipment v..., ... features, policy red 4.5% / yellow 14%)
        """
        from riskscore._display import share

        names = getattr(self.features, "feature_names_", None)
        features = "unfitted features" if names is None else f"{len(names)} features"
        return (
            f"RiskModel({self.version!r}, spec={self.spec.name} v{self.spec.version}, {features}, "
            f"policy red {share(self.policy.red_share)} / yellow {share(self.policy.yellow_share)})"
        )

    def _repr_html_(self) -> str:
        """Notebook view: version, spec, inputs, features, policy shares and rules, training summary."""
        from riskscore._display import risk_model_html

        return risk_model_html(self)

    # -- scoring ---------------------------------------------------------------------------------------

    def _probabilities(
        self, frame: pd.DataFrame, *, num_threads: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        X = self.features.transform(frame)
        return self._probabilities_from_matrix(X, num_threads=num_threads)

    def _probabilities_from_matrix(
        self, X: NDArray[np.float64], *, num_threads: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if len(X) == 0:
            return np.zeros((0, 3)), np.zeros(0)
        # X comes from our own feature builder (float64, right width): call the boosters directly rather
        # than through predict_proba's input checks, which cost more than the trees on one record.
        est = self.estimator
        raw = np.asarray(est.booster_.predict(X, num_iteration=est.best_iteration_, num_threads=num_threads))
        if self.severity is not None:
            sev_est = self.severity
            sev = np.asarray(
                sev_est.booster_.predict(X, num_iteration=sev_est.best_iteration_, num_threads=num_threads)
            )
        else:
            sev = np.full(len(X), self.severity_prior)
        return self._combine(raw, sev)

    def _combine(
        self, raw: NDArray[np.float64], sev: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Channel probabilities from risk and severity, and the calibrated risk score."""
        full = np.column_stack([1.0 - raw, raw * (1.0 - sev), raw * sev])
        knots_x, knots_y = self.calibration
        risk = np.interp(raw, knots_x, knots_y) if len(knots_x) else raw
        return full, risk

    def _one_record(self) -> OneRecord:
        """Return the one-record runtime (checks, feature plan, single-row predictors, knots), built on first use.

        Rebuilt when a part it was built from is replaced (a policy or estimator swapped on a copy, an
        extended history); dropped when the model is pickled or copied.
        """
        runtime = self.__dict__.get("_runtime")
        if runtime is None or not runtime.is_for(
            self.spec, self.features, self.estimator, self.severity, self.calibration
        ):
            runtime = self.__dict__["_runtime"] = OneRecord(
                self.spec, self.features, self.estimator, self.severity, self.severity_prior, self.calibration
            )
        return runtime

    def record_features(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[float]] | None:
        """One record's checked values and feature row, without pandas; None when it needs the batch path.

        Only canonical Python values are taken here (floats/ints for numbers, bool for flags, str for
        categories, naive datetimes for times, returned as ``pandas.Timestamp``); anything else (strings
        for numbers, tz-aware times, values out of range, a missing required field) returns None, and
        the batch path then coerces the record or raises the SchemaError that names column, row and fix.
        """
        return self._one_record().values_and_features(record)

    def explainer(self) -> Any:
        """Return what explanations need of this model (spec, feature names, boosters), with their caches."""
        from riskscore.explain import Explainer

        ex = self.__dict__.get("_explainer")
        if ex is None or not ex.is_for(
            self.spec, self.features.feature_names_, self.estimator, self.severity
        ):
            ex = self.__dict__["_explainer"] = Explainer(
                self.spec, self.features.feature_names_, self.estimator, self.severity
            )
        return ex

    def predict_one(
        self, record: Mapping[str, Any], *, explain: bool = False, top_k: int = 3
    ) -> dict[str, Any]:
        """Score one record given as a dict, without building a pandas frame; same answer as :meth:`predict`.

        Parameters
        ----------
        record
            One record: a dict with the spec's declared fields (extra fields are ignored).
        explain
            Add ``reason_codes`` and ``reasons``: the values ``predict(records, explain=True)`` gives.
        top_k
            Number of reasons with ``explain=True``.

        Returns
        -------
        dict
            The keys of :data:`OUTPUT_COLUMNS` (then ``reason_codes`` and ``reasons``). Records needing
            coercion or rejection take the batch path, so the answer (or the SchemaError) is always the
            batch path's.
        """
        if not isinstance(record, Mapping):
            raise SchemaError(f"predict_one takes one record as a dict; got {type(record).__name__}")
        if explain:
            from riskscore.explain import check_top_k

            top_k = check_top_k(top_k)
        runtime = self._one_record()
        one = runtime.values_and_features(record)
        if one is None:
            return self._predict_one_batch(record, explain, top_k)
        values, features = one
        p_green, p_yellow, p_red, risk = runtime.probabilities(features)
        record_id = str(values[runtime.id_column])
        channel, reason = self.policy.assign_one(values, record_id, p_red, risk, runtime.text_columns)
        result = {
            "record_id": record_id,
            "channel": channel,
            "risk_score": risk,
            "p_green": p_green,
            "p_yellow": p_yellow,
            "p_red": p_red,
            "selection_reason": reason,
            "model_version": self.version,
        }
        if explain:
            from riskscore.explain import reason_columns

            result["reason_codes"], result["reasons"] = reason_columns(
                self.explainer().reasons_one(record, values, features, top_k)
            )
        return result

    def _predict_one_batch(self, record: Mapping[str, Any], explain: bool, top_k: int) -> dict[str, Any]:
        """``predict_one`` through the batch path (records needing coercion, or its SchemaError)."""
        frame = _frame_from_dicts([dict(record)])
        row = self.predict(frame, explain=explain, top_k=top_k, num_threads=1).iloc[0]
        keys = (*OUTPUT_COLUMNS, "reason_codes", "reasons") if explain else OUTPUT_COLUMNS
        return {c: (str(row[c]) if c in ("channel", "record_id") else row[c]) for c in keys}

    def validate(self, records: Any) -> pd.DataFrame:
        """Check and coerce the records' declared columns; other columns (truth, outcomes) are dropped.

        Accepts what :meth:`predict` accepts; raises the SchemaError that :meth:`predict` would.
        """
        frame = _as_frame(records, [c.name for c in self.spec.columns if c.declared and c.required])
        declared = {c.name for c in self.spec.columns if c.declared}
        return validate_frame(
            frame[[c for c in frame.columns if c in declared]], self.spec, columns="declared"
        )

    def describe(self) -> dict[str, Any]:
        """Describe what the model expects and what it was trained on: spec, inputs, outputs, policy, training."""
        declared = [c for c in self.spec.columns if c.declared]
        return {
            "model_version": self.version,
            "spec": {
                "name": self.spec.name,
                "version": self.spec.version,
                "fingerprint": self.spec.fingerprint(),
            },
            # a required column must be present in every record; a nullable one may hold missing values
            "required_columns": [c.name for c in declared if c.required],
            "optional_columns": [c.name for c in declared if not c.required],
            "nullable_columns": [c.name for c in declared if c.nullable],
            "id_column": self.spec.id_column,
            "time_column": self.spec.time_column,
            "outputs": list(OUTPUT_COLUMNS),
            "features": list(self.features.feature_names_),
            "protected_attributes_used": list(self.features.include_protected),
            "policy": self.policy.to_dict(),
            "training": {k: v for k, v in self.info.items() if k != "features"},
        }

    def explain(
        self,
        records: Any,
        *,
        top_k: int = 5,
        severity: bool = False,
        num_threads: int | None = None,
        progress: bool | None = None,
    ) -> Any:
        """Why each record scores as it does: see :func:`riskscore.explain.explain`."""
        from riskscore.explain import explain

        return explain(
            self, records, top_k=top_k, severity=severity, num_threads=num_threads, progress=progress
        )

    def predict(
        self, records: Any, *, explain: bool = False, top_k: int = 3, num_threads: int | None = None
    ) -> pd.DataFrame:
        """Score records: channel, calibrated risk score, class probabilities and why.

        Parameters
        ----------
        records
            A DataFrame, a list of dicts or one dict with the spec's declared columns (extra columns are
            ignored). Categories may come as strings or pandas categoricals in any order.
        explain
            Add ``reason_codes`` and ``reasons`` (the ``top_k`` strongest reasons, ``;`` and newline
            separated) after the standard columns.
        top_k
            Number of reasons with ``explain=True``.
        num_threads
            LightGBM threads; default 1 for fewer than 10,000 records, else 2.

        Returns
        -------
        pandas.DataFrame
            One row per record, columns :data:`OUTPUT_COLUMNS` in that order (then the reasons).

        Raises
        ------
        SchemaError
            A required column is missing or a value is impossible (the message names column, row, fix).
        """
        if explain:
            from riskscore.explain import check_top_k

            top_k = check_top_k(top_k)
        frame = self.validate(records)
        threads = num_threads or (1 if len(frame) < 10_000 else 2)
        X = self.features.transform(frame)
        proba, risk = self._probabilities_from_matrix(X, num_threads=threads)
        ids = frame[self.spec.id_column]
        channel, reason = self.policy.assign(frame, ids, proba[:, 2], risk)
        index = pd.RangeIndex(len(frame))
        out = pd.DataFrame(
            {
                # text columns in pandas' str dtype whatever the batch size (an empty batch included)
                "record_id": pd.Series(ids.astype(str).to_numpy(dtype=object), index=index, dtype="str"),
                "channel": pd.Categorical(channel, categories=list(CHANNELS)),
                "risk_score": risk,
                "p_green": proba[:, 0],
                "p_yellow": proba[:, 1],
                "p_red": proba[:, 2],
                "selection_reason": pd.Series(reason.astype(object), index=index, dtype="str"),
                "model_version": pd.Series(self.version, index=index, dtype="str"),
            },
            columns=list(OUTPUT_COLUMNS),
        )
        # how much of the batch the stored history does not know (docs/domain.md 4.1: new importers are a
        # risk signal, but a large share in ordinary traffic means the ids do not match training's)
        out.attrs["unseen_history"] = unseen = self.features.unseen_rates(X)
        if unseen and log.isEnabledFor(logging.INFO):
            log.info(
                "scored %d records; no earlier history for %s",
                len(out),
                ", ".join(f"{name} {share:.1%}" for name, share in unseen.items()),
            )
        if explain:
            from riskscore.explain import explain_frame, reason_columns

            ex = explain_frame(self, frame, X, top_k=top_k, num_threads=threads)
            columns = [reason_columns(rs) for rs in ex.reasons]
            out["reason_codes"] = [codes for codes, _ in columns]
            out["reasons"] = [texts for _, texts in columns]
        return out

    # -- persistence -----------------------------------------------------------------------------------

    def save(
        self, path: str | os.PathLike[str], *, signing_key: bytes | str | None = None, key_id: str = "default"
    ) -> Path:
        """Write the model to one file atomically (see :mod:`riskscore.artifact`).

        With ``signing_key``, the file carries an HMAC-SHA256 over its manifest (which holds every
        member's SHA-256), so ``load(..., require_signature=True)`` can prove it was not altered.
        """
        from riskscore.artifact import write_artifact

        manifest = {
            "kind": "riskscore.RiskModel",
            "spec": self.spec.to_dict(),
            "policy": self.policy.to_dict(),
            "estimator": _estimator_info(self.estimator),
            "severity": None if self.severity is None else _estimator_info(self.severity),
            "severity_prior": float(self.severity_prior),
            "calibration": [list(map(float, self.calibration[0])), list(map(float, self.calibration[1]))],
            "info": _jsonable(self.info),
        }
        members = {
            "model.txt": self.estimator.booster_.model_to_string(
                num_iteration=self.estimator.best_iteration_
            ),
            "features.json": json.dumps(self.features.to_dict(), sort_keys=True),
        }
        if self.severity is not None:
            members["severity.txt"] = self.severity.booster_.model_to_string(
                num_iteration=self.severity.best_iteration_
            )
        if self.monitoring is not None:
            members["monitor.json"] = json.dumps(_jsonable(self.monitoring), sort_keys=True, allow_nan=False)
        return write_artifact(
            path, manifest=manifest, members=members, signing_key=signing_key, key_id=key_id
        )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        require_signature: bool = False,
        key: bytes | str | Mapping[str, bytes | str] | None = None,
        sha256: str | None = None,
    ) -> RiskModel:
        """Read a model file, verified before anything is parsed.

        The whole file's SHA-256 (with ``sha256``), the signature (if any), the format version and every
        member's hash are checked first; then every manifest field against its schema
        (:mod:`riskscore._manifest`) and the LightGBM texts (:mod:`riskscore._lgbtext`) before LightGBM
        parses them, so that no file content can crash the process or load as nonsense.

        Parameters
        ----------
        path : str or os.PathLike
            The model file.
        require_signature : bool, default False
            Refuse an unsigned file, or one whose signature does not verify with an available key.
        key : bytes, str or mapping, optional
            Signing key(s) of at least 16 bytes; default ``RISKSCORE_SIGNING_KEY`` / ``RISKSCORE_KEYRING``.
        sha256 : str, optional
            Expected SHA-256 of the whole file (64 hexadecimal characters, as ``sha256sum`` prints it).

        Returns
        -------
        RiskModel

        Raises
        ------
        ArtifactError
            For any file, signature, digest, manifest or model text problem; the message names the file, the
            problem and what to do.
        ParameterError
            If ``sha256`` is not 64 hexadecimal characters.
        """
        from riskscore._manifest import check_manifest, check_monitor
        from riskscore.artifact import read_artifact

        manifest, members = read_artifact(path, require_signature=require_signature, key=key, sha256=sha256)
        check_manifest(manifest, source=str(path))
        monitoring = None
        if "monitor.json" in members:  # optional: files written before monitoring was stored lack it
            try:
                monitoring = json.loads(members["monitor.json"])
            except (UnicodeDecodeError, ValueError) as exc:
                raise ArtifactError(
                    f"{path}: member 'monitor.json' is not valid JSON ({exc}); re-save or retrain the model"
                ) from None
            check_monitor(monitoring, manifest["spec"], source=str(path))
        for name in ("model.txt", "features.json"):
            if name not in members:
                raise ArtifactError(f"{path}: model file lacks member {name!r}; re-save the model")
        try:
            spec = RecordSpec.from_dict(manifest["spec"])
            features = FeatureBuilder.from_dict(spec, json.loads(members["features.json"]))
            estimator = _estimator_from(
                manifest["estimator"], members["model.txt"], source=f"{path} (model.txt)"
            )
            severity = None
            if manifest.get("severity") is not None:
                if "severity.txt" not in members:
                    raise ArtifactError(f"{path}: model file lacks member 'severity.txt'; re-save the model")
                severity = _estimator_from(
                    manifest["severity"], members["severity.txt"], source=f"{path} (severity.txt)"
                )
            policy = ChannelPolicy.from_dict(manifest["policy"])
            knots = (
                np.asarray(manifest["calibration"][0], dtype=np.float64),
                np.asarray(manifest["calibration"][1], dtype=np.float64),
            )
        except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ArtifactError(
                f"{path}: model file content is inconsistent ({exc}); re-save or retrain"
            ) from exc
        if len(estimator.classes_) != 2:
            raise ArtifactError(
                f"{path}: the risk model must be binary (found classes {list(estimator.classes_)}); "
                "this file comes from a pre-release build of riskscore: retrain it"
            )
        if estimator.booster_.num_feature() != len(features.feature_names_):
            raise ArtifactError(
                f"{path}: the LightGBM model expects {estimator.booster_.num_feature()} features "
                f"but the feature builder makes {len(features.feature_names_)}; retrain"
            )
        return cls(
            spec,
            features,
            estimator,
            policy,
            knots,
            dict(manifest.get("info", {})),
            severity,
            float(manifest.get("severity_prior", 0.0)),
            monitoring=monitoring,
            created_by=str(manifest.get("created_by", "an unknown riskscore")),
        )


def _estimator_info(est: ChannelModel) -> dict[str, Any]:
    return {
        "params": _jsonable(est.get_params()),
        "classes": [_jsonable(c) for c in est.classes_],
        "n_features": int(est.n_features_in_),
        "best_iteration": int(est.best_iteration_),
    }


def _estimator_from(info: Mapping[str, Any], model_text: bytes, *, source: str) -> ChannelModel:
    """Rebuild a fitted ChannelModel from its (schema-checked) manifest entry and LightGBM text.

    LightGBM's C++ parser trusts its input: a damaged or edited text aborts the process or leaves trees
    that crash or hang prediction. The text is checked in pure Python first (see
    :func:`riskscore._lgbtext.check_model_text`), and the booster against the manifest after.
    """
    from riskscore._lgbtext import check_model_text

    # latin-1 maps every byte to one character, so the check names the offending byte at its offset
    text = model_text.decode("latin-1")
    check_model_text(text, source=source)
    params = dict(info["params"])
    params["categorical_features"] = tuple(params.get("categorical_features", ()))
    est = ChannelModel(**params)
    est.booster_ = lgb.Booster(model_str=text)
    est.classes_ = np.array(info["classes"])
    est.n_features_in_ = int(info["n_features"])
    est.best_iteration_ = int(info["best_iteration"])
    iterations = est.booster_.current_iteration()
    if est.best_iteration_ > iterations:
        raise ArtifactError(
            f"cannot load model {source}: the manifest's best_iteration is {est.best_iteration_} but the "
            f"LightGBM model has {iterations} iterations; the file is inconsistent: re-save or retrain"
        )
    if est.booster_.num_feature() != est.n_features_in_:
        raise ArtifactError(
            f"cannot load model {source}: the manifest's n_features is {est.n_features_in_} but the LightGBM "
            f"model reads {est.booster_.num_feature()} features; the file is inconsistent: re-save or retrain"
        )
    return est


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dt.date | dt.datetime):
        return obj.isoformat()
    return obj


def _models_dir() -> Path:
    package = Path(__file__).resolve().parent
    for candidate in (package / "_data" / "models", package.parent / "models"):
        if candidate.is_dir():
            return candidate
    return package.parent / "models"


def load(
    model: str | os.PathLike[str] = "shipment",
    *,
    require_signature: bool = False,
    key: bytes | str | Mapping[str, bytes | str] | None = None,
    sha256: str | None = None,
) -> RiskModel:
    """Load a model: a shipped default by name (``"shipment"``, ``"passenger"``) or a model file path.

    With ``require_signature=True`` an unsigned file, or one whose HMAC does not verify with ``key``
    (default: ``RISKSCORE_SIGNING_KEY`` / ``RISKSCORE_KEYRING``), raises ArtifactError. With ``sha256``,
    a file whose SHA-256 differs (e.g. from the digest published in docs/api.md for a shipped model) raises
    ArtifactError before anything is read. See :meth:`RiskModel.from_file`.

    Examples
    --------
    >>> model = load("shipment")            # doctest: +SKIP
    >>> model.predict(records)              # doctest: +SKIP
    """
    text = os.fspath(model)
    if text in ("shipment", "passenger"):
        path = _models_dir() / f"{text}.rsk"
        if not path.exists():
            raise ArtifactError(
                f"the shipped {text} model is missing at {path}; rebuild it with "
                "`riskscore build-models` or pass the path of a model file"
            )
        return RiskModel.from_file(path, require_signature=require_signature, key=key, sha256=sha256)
    if not os.path.exists(text) and os.path.basename(text) == text and not os.path.splitext(text)[1]:
        # a bare word that is no file: meant as a shipped model's name ("shipments", "Shipment")
        from riskscore._fmt import did_you_mean

        shipped = ("passenger", "shipment")
        raise ArtifactError(
            f"no shipped model is named {text!r} and there is no model file {text!r}"
            f"{did_you_mean(text, shipped)}; the shipped models are {', '.join(map(repr, shipped))}. "
            "Pass one of those names, or the path of a model file (.rsk)"
        )
    return RiskModel.from_file(text, require_signature=require_signature, key=key, sha256=sha256)
