"""Capacity-constrained channel assignment: the stored, reviewable decision layer on top of the model.

docs/domain.md 1.1 (ASYCUDA selectivity): target rates per lane filled in precedence red -> yellow -> green,
mandatory criteria, exemptions for trusted traders, and a minimum random rate "to check transactions
that may not otherwise come to Customs attention". Every decision records why it was taken.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore._hashing import text_hasher
from riskscore.exceptions import ParameterError, SchemaError, SpecError

if TYPE_CHECKING:
    from riskscore.spec import RecordSpec

__all__ = ["CHANNELS", "REASONS", "ChannelPolicy", "Rule", "default_policy"]

CHANNELS = ("green", "yellow", "red")
REASONS = ("none", "model", "rule", "random", "exempt")
_OPS = ("==", "!=", ">=", "<=", ">", "<", "in", "not_in", "prefix_in")
# numeric comparisons, shared by the batch (arrays) and one-record (scalars) paths
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Rule:
    """A criterion on one declared field: ``column op value`` sends the record to ``channel``.

    ``channel`` is ``"red"`` or ``"yellow"`` for a mandatory selection, or ``"exempt"`` for a
    trusted-trader exemption from model selection (rules and random selection still apply).

    Examples
    --------
    >>> Rule("watchlist_hit", "==", "exact", "red", "watch-list hit").matches(pd.DataFrame({"watchlist_hit": ["exact", "none"]}))
    array([ True, False])
    """

    column: str
    op: str
    value: Any
    channel: str
    note: str = ""
    _texts: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ParameterError(f"rule on {self.column!r}: unknown operator {self.op!r}; use one of {_OPS}")
        if self.channel not in ("red", "yellow", "exempt"):
            raise ParameterError(
                f"rule on {self.column!r}: channel must be red, yellow or exempt; got {self.channel!r}"
            )
        if self.op in (">=", "<=", ">", "<") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ParameterError(
                f"rule on {self.column!r}: operator {self.op!r} needs a number; got {self.value!r}"
            )
        if self.op in ("in", "not_in", "prefix_in"):
            if isinstance(self.value, str | bytes) or not isinstance(
                self.value, list | tuple | set | frozenset
            ):
                # tuple("abc") would silently become ('a', 'b', 'c')
                raise ParameterError(
                    f"rule on {self.column!r}: operator {self.op!r} needs a list of values; got {self.value!r}"
                )
            object.__setattr__(self, "value", tuple(self.value))
            # the texts matches_one compares against, built once (not a field: equality ignores it)
            object.__setattr__(self, "_texts", frozenset(str(v) for v in self.value))

    def matches(self, frame: pd.DataFrame) -> NDArray[np.bool_]:
        """Which records meet the criterion (missing values never match)."""
        if self.column not in frame.columns:
            raise SchemaError(
                f"policy rule needs column {self.column!r}, which the records do not have; "
                "add the column or remove the rule from the policy"
            )
        col = frame[self.column]
        present = col.notna().to_numpy()
        hit: Any
        if self.op in ("in", "not_in"):
            hit = col.astype(str).isin([str(v) for v in self.value]).to_numpy()
            hit = hit if self.op == "in" else ~hit
        elif self.op == "prefix_in":
            text = col.astype(str)
            hit = np.zeros(len(col), dtype=bool)
            for prefix in self.value:
                hit |= text.str.startswith(str(prefix)).to_numpy(dtype=bool, na_value=False)
        elif self._textual(
            self.value, pd.api.types.is_string_dtype(col.dtype) or isinstance(col.dtype, pd.CategoricalDtype)
        ):
            text_left = col.astype(str).to_numpy(dtype=object)
            text_right = str(self.value)
            hit = {"==": text_left == text_right, "!=": text_left != text_right}.get(self.op)
            if hit is None:
                raise ParameterError(f"rule on {self.column!r}: operator {self.op!r} needs a number")
        else:
            left = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            right = float(self.value)
            with np.errstate(invalid="ignore"):
                hit = _COMPARE[self.op](left, right)
        return np.asarray(hit, dtype=bool) & present

    @staticmethod
    def _textual(value: Any, text_column: bool) -> bool:
        return isinstance(value, str) or text_column

    def matches_one(self, value: Any, text_column: bool) -> bool:
        """:meth:`matches` for one already-coerced value (None = missing); same semantics."""
        if value is None or (isinstance(value, float) and value != value):
            return False
        if self.op in ("in", "not_in"):
            hit = str(value) in self._texts
            return hit if self.op == "in" else not hit
        if self.op == "prefix_in":
            return any(str(value).startswith(str(p)) for p in self.value)
        if self._textual(self.value, text_column):
            if self.op not in ("==", "!="):
                raise ParameterError(f"rule on {self.column!r}: operator {self.op!r} needs a number")
            return (str(value) == str(self.value)) == (self.op == "==")
        try:
            left = float(value)
        except (TypeError, ValueError):
            return False
        right = float(self.value)
        return bool(_COMPARE[self.op](left, right))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {
            "column": self.column,
            "op": self.op,
            "value": value,
            "channel": self.channel,
            "note": self.note,
        }


def _policy_key(seed: int) -> str:
    return hashlib.sha256(f"riskscore-policy-{seed}".encode()).hexdigest()[:16]


def _uniform_from_ids(ids: pd.Series | NDArray[np.object_], seed: int) -> NDArray[np.float64]:
    """Draw a uniform number per record id, the same on every run, machine and batch.

    SipHash-2-4 of the id (pandas' hash_array) keyed by the policy seed: vectorised, platform independent,
    and unpredictable to a declarant who does not know the seed.
    """
    key = _policy_key(seed)
    values = (
        ids.astype(str).to_numpy(dtype=object)
        if isinstance(ids, pd.Series)
        else np.asarray(ids, dtype=object)
    )
    hashed = pd.util.hash_array(values, hash_key=key, categorize=False)
    return np.asarray((hashed >> np.uint64(11)).astype(np.float64) / 2.0**53, dtype=np.float64)


@dataclass
class ChannelPolicy:
    """Turn risk scores into channels under capacity.

    Parameters
    ----------
    red_share, yellow_share
        Target shares of model-selected red and yellow (docs/domain.md 1.3, 4.1: 5% / 15% for shipments).
    random_red, random_yellow
        Shares selected at random for exploration and unbiased labels (docs/domain.md 4.1: ~0.5% red);
        reproducible per record id.
    rules
        Mandatory criteria and exemptions, applied in order; mandatory red wins over everything.
    seed
        Salt of the per-record random draw.
    """

    red_share: float = 0.05
    yellow_share: float = 0.15
    random_red: float = 0.005
    random_yellow: float = 0.01
    rules: list[Rule] = field(default_factory=list)
    seed: int = 0
    red_threshold_: float = np.inf
    yellow_threshold_: float = np.inf

    def __post_init__(self) -> None:
        for name in ("red_share", "yellow_share", "random_red", "random_yellow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"policy {name} is a share and must be between 0 and 1; got {value!r}")
        if self.red_share + self.yellow_share + self.random_red + self.random_yellow > 1.0:
            raise ParameterError("policy shares (red + yellow + random) must not exceed 1")

    def fit(self, p_red: NDArray[np.float64], risk: NDArray[np.float64]) -> ChannelPolicy:
        """Set thresholds on validation scores so that the target shares are met."""
        if len(risk) == 0:
            raise ParameterError("cannot set policy thresholds on an empty validation set")
        self.red_threshold_ = _threshold(p_red, self.red_share)
        not_red = p_red < self.red_threshold_
        share_left = self.yellow_share / max(float(not_red.mean()), 1e-12)
        self.yellow_threshold_ = (
            _threshold(risk[not_red], min(share_left, 1.0))
            if self.yellow_share > 0 and not_red.any()
            else np.inf
        )
        return self

    def assign(
        self, frame: pd.DataFrame, ids: pd.Series, p_red: NDArray[np.float64], risk: NDArray[np.float64]
    ) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
        """Channel and selection reason per record. Each record depends only on itself."""
        n = len(risk)
        channel = np.zeros(n, dtype=np.int64)
        reason = np.zeros(n, dtype=np.int64)  # index into REASONS
        model_red = p_red >= self.red_threshold_
        model_yellow = ~model_red & (risk >= self.yellow_threshold_)
        exempt = np.zeros(n, dtype=bool)
        rule_red = np.zeros(n, dtype=bool)
        rule_yellow = np.zeros(n, dtype=bool)
        for rule in self.rules:
            hit = rule.matches(frame)
            if rule.channel == "red":
                rule_red |= hit
            elif rule.channel == "yellow":
                rule_yellow |= hit
            else:
                exempt |= hit
        channel[model_yellow & ~exempt] = 1
        reason[model_yellow & ~exempt] = 1
        channel[model_red & ~exempt] = 2
        reason[model_red & ~exempt] = 1
        reason[exempt & (channel == 0)] = 4
        up = rule_yellow & (channel < 1)
        channel[up], reason[up] = 1, 2
        channel[rule_red], reason[rule_red] = 2, 2
        if self.random_red or self.random_yellow:
            u = _uniform_from_ids(ids, self.seed)
            rand_red = (u < self.random_red) & (channel < 2)
            rand_yellow = (u >= self.random_red) & (u < self.random_red + self.random_yellow) & (channel < 1)
            channel[rand_red], reason[rand_red] = 2, 3
            channel[rand_yellow], reason[rand_yellow] = 1, 3
        return np.array(CHANNELS)[channel], np.array(REASONS)[reason]

    def assign_one(
        self, record: dict[str, Any], record_id: str, p_red: float, risk: float, text_columns: frozenset[str]
    ) -> tuple[str, str]:
        """:meth:`assign` for one record of already-coerced values; identical decisions."""
        model_red = p_red >= self.red_threshold_
        model_yellow = not model_red and risk >= self.yellow_threshold_
        exempt = rule_red = rule_yellow = False
        for rule in self.rules:
            if rule.column not in record:
                raise SchemaError(
                    f"policy rule needs column {rule.column!r}, which the record does not have; "
                    "add the column or remove the rule from the policy"
                )
            hit = rule.matches_one(record[rule.column], rule.column in text_columns)
            if rule.channel == "red":
                rule_red |= hit
            elif rule.channel == "yellow":
                rule_yellow |= hit
            else:
                exempt |= hit
        channel, reason = 0, 0
        if model_yellow and not exempt:
            channel, reason = 1, 1
        if model_red and not exempt:
            channel, reason = 2, 1
        if exempt and channel == 0:
            reason = 4
        if rule_yellow and channel < 1:
            channel, reason = 1, 2
        if rule_red:
            channel, reason = 2, 2
        if self.random_red or self.random_yellow:
            u = self._uniform_one(record_id)
            if u < self.random_red and channel < 2:
                channel, reason = 2, 3
            elif self.random_red <= u < self.random_red + self.random_yellow and channel < 1:
                channel, reason = 1, 3
        return CHANNELS[channel], REASONS[reason]

    def why(self, frame: pd.DataFrame, decisions: pd.DataFrame) -> list[str]:
        """Say in words what decided each record's channel, for the officer who reviews it.

        Parameters
        ----------
        frame
            The records, validated (the columns the rules read).
        decisions
            :meth:`RiskModel.predict`'s output for them, row for row: ``channel``, ``selection_reason``,
            ``p_red`` and ``risk_score``.

        Returns
        -------
        list of str
            One sentence per record: the rule that fired, the random draw, or the score against the
            threshold that the policy set on validation data (docs/domain.md 1.1, ASYCUDA's selection reasons).

        Examples
        --------
        >>> policy = ChannelPolicy(red_share=0.05, yellow_share=0.15, random_red=0, random_yellow=0)
        >>> policy.red_threshold_, policy.yellow_threshold_ = 0.02, 0.10
        >>> d = pd.DataFrame({"channel": ["red"], "selection_reason": ["model"], "p_red": [0.031], "risk_score": [0.4]})
        >>> print(policy.why(pd.DataFrame(index=[0]), d)[0])  # doctest: +NORMALIZE_WHITESPACE
        Model: probability of a serious violation 3.1% is at or above the red threshold 2%
        (the riskiest 5% by this score go red)
        """
        hits = [
            rule.matches(frame) if rule.column in frame.columns else np.zeros(len(frame), bool)
            for rule in self.rules
        ]
        out = []
        channels = decisions["channel"].astype(str).to_numpy()
        reasons = decisions["selection_reason"].astype(str).to_numpy()
        p_red = decisions["p_red"].to_numpy(dtype=np.float64)
        risk = decisions["risk_score"].to_numpy(dtype=np.float64)
        for i, (channel, reason) in enumerate(zip(channels, reasons, strict=True)):
            if reason == "rule":
                rule = next(
                    (r for r, h in zip(self.rules, hits, strict=True) if h[i] and r.channel == channel), None
                )
                what = (
                    (rule.note or f"{rule.column} {rule.op} {rule.value}") if rule is not None else "a rule"
                )
                out.append(f"Rule: {what} sends the record to {channel}")
            elif reason == "random":
                out.append(
                    f"Random selection: {self.random_red:.2%} of records go red and {self.random_yellow:.2%} yellow "
                    "at random, drawn from the record id, to find what the model does not expect"
                )
            elif reason == "exempt":
                rule = next(
                    (r for r, h in zip(self.rules, hits, strict=True) if h[i] and r.channel == "exempt"), None
                )
                note = rule.note if rule is not None and rule.note else "a trusted trader"
                out.append(f"Exempt from model selection: {note} (risk {_pct(risk[i])})")
            elif channel == "red":
                p, t = _pct_pair(p_red[i], self.red_threshold_)
                out.append(
                    f"Model: probability of a serious violation {p} is at or above the red threshold {t} "
                    f"(the riskiest {self.red_share * 100:.3g}% by this score go red)"
                )
            elif channel == "yellow":
                r, ty = _pct_pair(risk[i], self.yellow_threshold_)
                p, t = _pct_pair(p_red[i], self.red_threshold_)
                out.append(
                    f"Model: risk {r} is at or above the yellow threshold {ty} "
                    f"(the next {self.yellow_share * 100:.3g}% by risk go yellow); the probability of a serious "
                    f"violation {p} is below the red threshold {t}"
                )
            else:
                r, ty = _pct_pair(risk[i], self.yellow_threshold_)
                out.append(f"Risk {r} is below the yellow threshold {ty}")
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Pickle and copy without the one-record hasher (rebuilt on first use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_hasher"}

    def _uniform_one(self, record_id: str) -> float:
        """:func:`_uniform_from_ids` for one id, without arrays (same number, bit for bit)."""
        hasher = self.__dict__.get("_hasher")
        if hasher is None or hasher[0] != self.seed:
            hasher = self.__dict__["_hasher"] = (self.seed, text_hasher(_policy_key(self.seed), memo=False))
        return (hasher[1](record_id) >> 11) / 2.0**53

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, thresholds included."""
        return {
            "red_share": self.red_share,
            "yellow_share": self.yellow_share,
            "random_red": self.random_red,
            "random_yellow": self.random_yellow,
            "seed": self.seed,
            "rules": [r.to_dict() for r in self.rules],
            "red_threshold": _finite_or_none(self.red_threshold_),
            "yellow_threshold": _finite_or_none(self.yellow_threshold_),
        }

    @classmethod
    def from_spec(cls, spec: RecordSpec) -> ChannelPolicy:
        """Build the policy a spec declares in its ``[policy]`` table (see :func:`default_policy`).

        Shares the table leaves unset, or all of them for a spec without ``[policy]``, are the shipment
        shares of :data:`GENERIC_SHARES`; rules are the table's, each on a declared column of the spec.

        Raises
        ------
        SpecError
            A share out of range, a rule on a column the spec does not declare, a bad operator or channel.
        """
        return _policy_from_spec(spec)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChannelPolicy:
        """Inverse of :meth:`to_dict`."""
        policy = cls(
            red_share=d["red_share"],
            yellow_share=d["yellow_share"],
            random_red=d["random_red"],
            random_yellow=d["random_yellow"],
            seed=d["seed"],
            rules=[Rule(**r) for r in d["rules"]],
        )
        policy.red_threshold_ = np.inf if d["red_threshold"] is None else float(d["red_threshold"])
        policy.yellow_threshold_ = np.inf if d["yellow_threshold"] is None else float(d["yellow_threshold"])
        return policy


def _threshold(scores: NDArray[np.float64], share: float) -> float:
    """Return the score at or above which ``share`` of ``scores`` lie, never letting ties take far more.

    A small or coarse model gives many records the same score; a quantile that falls inside such a tie
    would select the whole tie (a model trained on 3,000 records sent 91% of records red). Then the next
    higher score is the threshold, and the lane takes less than its share rather than far more.
    """
    if share <= 0 or len(scores) == 0:
        return np.inf
    threshold = float(np.quantile(scores, 1 - share))
    if float(np.mean(scores >= threshold)) > share + max(0.01, 0.5 * share):
        higher = scores[scores > threshold]
        threshold = float(higher.min()) if len(higher) else np.inf
    return threshold


def _pct(x: float, digits: int = 2) -> str:
    """Format a probability as a percentage with the digits that matter (0.00011 -> '0.011%', 0.4 -> '40%')."""
    if not np.isfinite(x):
        return "none (this lane is off)"
    return f"{x * 100:.{digits}g}%" if x < 0.1 or digits > 2 else f"{x * 100:.0f}%"


def _pct_pair(value: float, threshold: float) -> tuple[str, str]:
    """Format a value and its threshold as percentages with enough digits to tell them apart."""
    for digits in (2, 3, 4, 6, 9):
        a, b = _pct(value, digits), _pct(threshold, digits)
        if a != b or value == threshold:
            return a, b
    return a, b


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


#: The shares a spec without its own ``[policy]`` gets: those of the shipped shipment policy (docs/domain.md 1.3
#: channel shares, 4.1 random share), without rules (a rule names columns only the spec's author knows).
GENERIC_SHARES: dict[str, float] = {
    "red_share": 0.045,
    "yellow_share": 0.14,
    "random_red": 0.005,
    "random_yellow": 0.01,
}
_RULE_KEYS = ("column", "op", "value", "channel", "note")


def _builtin_policy(kind: str) -> ChannelPolicy:
    """Return the policy the shipped models were trained with (golden files and shipped models rely on it)."""
    if kind == "passenger":
        return ChannelPolicy(
            red_share=0.01,
            yellow_share=0.03,
            random_red=0.001,
            random_yellow=0.002,
            rules=[
                Rule("watchlist_hit", "==", "exact", "red", "exact watch-list match"),
                Rule("declared_channel", "==", "red", "yellow", "goods declared by the traveller"),
            ],
        )
    return ChannelPolicy(
        red_share=0.045,
        yellow_share=0.14,
        random_red=0.005,
        random_yellow=0.01,
        rules=[
            Rule("aeo", "==", 1, "exempt", "authorised economic operator"),
            Rule("importer_compliance_level", ">=", 5, "yellow", "non-compliant enterprise (level 5)"),
        ],
    )


def _is_builtin(spec: RecordSpec) -> bool:
    """Whether ``spec`` is a built-in spec unchanged (a copy edited in any way is the user's own)."""
    from riskscore.spec import load_spec

    try:
        builtin = load_spec(spec.name)  # a spec name is an identifier: this looks up a built-in spec
    except SpecError:
        return False
    return spec is builtin or spec.fingerprint() == builtin.fingerprint()


def _policy_from_spec(spec: RecordSpec) -> ChannelPolicy:
    """Build the policy a spec declares in ``[policy]``; the generic shares and no rules without one.

    The table is read by its fields (``red_share``, ``yellow_share``, ``random_red``, ``random_yellow``,
    ``rules``); a share it leaves unset (None) is the generic one. Every rule must name a declared column
    of the spec, so that a policy never asks scoring for a column the records do not carry.
    """
    table = getattr(spec, "policy", None)
    where = f"spec {spec.name!r} [policy]"
    shares = dict(GENERIC_SHARES)
    rules: list[Rule] = []
    if table is not None:
        for name in GENERIC_SHARES:
            value = getattr(table, name, None)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"{where}: {name} must be a share between 0 and 1; got {value!r}")
            shares[name] = float(value)
        declared = set(spec.declared_columns)
        for position, raw in enumerate(getattr(table, "rules", None) or ()):
            label = f"{where} rule #{position + 1}"
            if not isinstance(raw, Mapping):
                raise SpecError(f"{label} must be a table with {', '.join(_RULE_KEYS)}; got {raw!r}")
            unknown = sorted(set(raw) - set(_RULE_KEYS))
            missing = [k for k in _RULE_KEYS[:4] if k not in raw]
            if unknown or missing:
                raise SpecError(
                    f"{label}: needs keys {', '.join(_RULE_KEYS[:4])} (and optionally note); "
                    f"missing {missing}, unknown {unknown}"
                )
            if raw["column"] not in declared:
                raise SpecError(
                    f"{label} names column {raw['column']!r}, which is not a declared column of the spec; "
                    "a rule may only read what a record carries when it is lodged: fix the name or drop the rule"
                )
            try:
                rules.append(
                    Rule(raw["column"], raw["op"], raw["value"], raw["channel"], str(raw.get("note", "")))
                )
            except ParameterError as exc:
                raise SpecError(f"{label}: {exc}") from exc
    try:
        return ChannelPolicy(
            red_share=shares["red_share"],
            yellow_share=shares["yellow_share"],
            random_red=shares["random_red"],
            random_yellow=shares["random_yellow"],
            rules=rules,
        )
    except ParameterError as exc:
        raise SpecError(f"{where}: {exc}") from exc


def default_policy(spec_or_kind: str | RecordSpec) -> ChannelPolicy:
    """Return the channel policy a model of this spec is trained with unless the caller gives one.

    Parameters
    ----------
    spec_or_kind
        A :class:`~riskscore.spec.RecordSpec`, or anything :func:`~riskscore.spec.load_spec` accepts (a
        built-in name such as ``"shipment"``, or the path of a spec TOML file).

    Returns
    -------
    ChannelPolicy
        For a built-in spec, unchanged: the shipped policy (docs/domain.md 1.3 channel shares, 4.1/4.2 random
        shares, its mandatory rules and exemptions). For a spec with a ``[policy]`` table: its shares and
        rules. For any other spec: the shipment shares (red 4.5%, yellow 14%, random 0.5% / 1%) and no rules.

    Raises
    ------
    SpecError
        The spec cannot be loaded, or its ``[policy]`` is invalid (a share out of range, a rule on a column
        the spec does not declare, an unknown operator or channel).

    Examples
    --------
    >>> [r.column for r in default_policy("shipment").rules]
    ['aeo', 'importer_compliance_level']
    >>> from riskscore.spec import RecordSpec, load_spec
    >>> layout = load_spec("shipment").to_dict()
    >>> layout["spec"]["name"] = "declarations"
    >>> own = default_policy(RecordSpec.from_dict(layout))
    >>> own.red_share, own.rules
    (0.045, [])
    """
    from riskscore.spec import load_spec

    spec = load_spec(spec_or_kind)
    if _is_builtin(spec):
        return _builtin_policy(spec.name)
    return _policy_from_spec(spec)
