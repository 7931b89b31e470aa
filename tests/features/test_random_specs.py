"""Every feature kind, on random specs: the one-record row equals the batch row bit for bit.

Hypothesis builds a random valid spec from the registry's kinds (columns of every type and role, some
nullable, category codes with a hierarchy to cut; derived features of every kind with random inputs,
windows and backoff levels), random training records with inspection outcomes, and random records to
score (inside and after the training period, with unseen codes and missing values). The builder is
fitted on the training records; each scored record's features from the generated one-record code must
equal its row of the batch matrix bit for bit, and a small LightGBM model's TreeSHAP contributions,
grouped to the declared fields each feature is explained by, must add up to its raw output.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskscore._onerecord import compile_checker
from riskscore.explain import feature_fields
from riskscore.features import KINDS, FeatureBuilder
from riskscore.spec import RecordSpec
from riskscore.validation import validate_frame

START = dt.datetime(2025, 3, 1)


@st.composite
def random_specs(draw: st.DrawFn) -> RecordSpec:
    cats = [f"c{i}" for i in range(draw(st.integers(1, 3)))]
    nums = [f"x{i}" for i in range(draw(st.integers(2, 3)))]
    columns: list[dict[str, Any]] = [
        {"name": "rid", "type": "string", "role": "id"},
        {"name": "at", "type": "datetime", "role": "timestamp"},
    ]
    for name in cats:
        column = {"name": name, "type": "category", "role": draw(st.sampled_from(["category", "entity"]))}
        column["nullable"] = draw(st.booleans())
        if draw(st.booleans()):
            column["normalize"] = ["strip", "upper"]
        columns.append(column)
    for name in nums:
        role = draw(st.sampled_from(["amount", "quantity", "weight"]))
        columns.append(
            {"name": name, "type": "float", "role": role, "min": 0.0, "nullable": draw(st.booleans())}
        )
    columns += [
        {"name": "n", "type": "int", "role": "count", "min": 0},
        {"name": "flag", "type": "bool", "role": "flag", "nullable": draw(st.booleans())},
        {"name": "rate", "type": "float", "role": "rate", "min": 0.0, "max": 1.0},
    ]
    c0 = cats[0]
    c1 = cats[-1]
    pool: list[dict[str, Any]] = [
        {"name": "lr", "kind": "log_ratio", "inputs": [nums[0], nums[1]]},
        {"name": "ra", "kind": "ratio", "inputs": [nums[1], nums[0]]},
        {"name": "ne", "kind": "not_equal", "inputs": [c0, c1]},
        {
            "name": "ref",
            "kind": "reference",
            "inputs": [draw(st.sampled_from(["lr", nums[0]]))],
            "by": draw(st.sampled_from([[[c0], [f"{c0}:1"]], [[c0, c1], [c0]], [[f"{c0}:1"]]])),
        },
        {"name": "gap", "kind": "group_max_gap", "inputs": ["rate"], "key": c0, "group": f"{c0}:1"},
        {
            "name": "hist",
            "kind": "history",
            "inputs": draw(st.sampled_from([[c0], [c0, c1], [f"{c0}:1"]])),
            "windows": draw(st.sampled_from([[], [7], [7, 30]])),
            "first_seen": draw(st.booleans()),
            "by": draw(st.sampled_from([[], [[c1]], [[c0, c1], [f"{c1}:1"]]])),  # backoff levels
        },
        {"name": "hist2", "kind": "history", "inputs": [c1], "windows": [30]},
        {"name": "cal", "kind": "calendar", "inputs": ["at"]},
        {"name": "lvl", "kind": "code_level", "inputs": [f"{c0}:1"]},
    ]
    chosen = [f for f in pool if draw(st.booleans())] or [pool[0]]
    names = {f["name"] for f in chosen}
    if (
        "ref" in names
        and chosen[[f["name"] for f in chosen].index("ref")]["inputs"] == ["lr"]
        and "lr" not in names
    ):
        chosen.insert(0, pool[0])
    assert {f["kind"] for f in pool} == set(KINDS), "the pool must cover every registered kind"
    return RecordSpec.from_dict(
        {
            "spec": {"name": "random", "version": 1, "id": "rid", "timestamp": "at"},
            "columns": columns,
            "features": chosen,
        }
    )


def _records(
    spec: RecordSpec, n: int, rng: np.random.Generator, *, first_day: int, days: int
) -> pd.DataFrame:
    data: dict[str, Any] = {"rid": [f"R{first_day}-{i}" for i in range(n)]}
    seconds = rng.integers(first_day * 86_400, (first_day + days) * 86_400, size=n)
    data["at"] = [START + dt.timedelta(seconds=int(s)) for s in seconds]
    for column in spec.columns:
        name = column.name
        if column.type == "category":
            codes = rng.choice(["A1", "A2", "B1", "b2 ", "C7", "A1", "A1", "Z9"], size=n).astype(object)
            data[name] = codes
        elif column.type == "float" and column.role != "rate":
            values = np.round(rng.lognormal(3.0, 1.5, size=n), 3)
            values[rng.random(n) < 0.05] = 0.0
            data[name] = values.astype(object)
        elif column.type == "float":
            data[name] = rng.choice([0.0, 0.05, 0.1, 0.2], size=n).astype(object)
        elif column.type == "int":
            data[name] = rng.integers(0, 50, size=n).tolist()
        elif column.type == "bool":
            data[name] = (rng.random(n) < 0.3).tolist()
        if column.nullable:
            data[name] = [None if rng.random() < 0.1 else v for v in data[name]]
    return pd.DataFrame(data)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[key] = value
    return out


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return bool(
        np.array_equal(nan_a, nan_b) and np.array_equal(a[~nan_a].view(np.uint64), b[~nan_b].view(np.uint64))
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs(), seed=st.integers(0, 2**32 - 1))
def test_one_record_rows_equal_batch_rows_and_explanations_add_up(spec, seed):
    rng = np.random.default_rng(seed)
    train = validate_frame(_records(spec, 400, rng, first_day=0, days=60), spec)
    inspected = rng.random(len(train)) < 0.6
    hits = inspected & (rng.random(len(train)) < 0.3)
    fb = FeatureBuilder(spec, min_category_count=5)
    X_train = fb.fit_transform(train, inspected=inspected, hits=hits)

    raw = pd.concat(
        [_records(spec, 30, rng, first_day=20, days=30), _records(spec, 30, rng, first_day=60, days=20)],
        ignore_index=True,
    )
    X = fb.transform(validate_frame(raw, spec))
    plan = fb.plan()
    check = compile_checker(spec, plan.input_slots())
    compared = 0
    for i, record in enumerate(raw.to_dict("records")):
        out = plan.blank()
        values = check(_plain(record), out)
        if values is None:  # the one-record path handed it to the batch path: nothing to compare
            continue
        row = np.array(plan.finish(values, out), dtype=np.float64)
        assert _same_bits(row, X[i]), (i, list(zip(fb.feature_names_, row, X[i], strict=True)))
        compared += 1
    assert compared >= len(raw) // 2, "most plain records must take the one-record path"

    # explanations: TreeSHAP contributions grouped to declared fields add up to the raw output
    labels = hits[: len(X_train)].astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5, "seed": 1},
        lgb.Dataset(X_train, label=labels),
        num_boost_round=5,
    )
    contrib = booster.predict(X, pred_contrib=True)
    raw_score = booster.predict(X, raw_score=True)
    fields = feature_fields(spec, fb.feature_names_)
    declared = {c.name for c in spec.columns if c.declared}
    assert set(fields) == set(fb.feature_names_)
    assert all(f and set(f) <= declared for f in fields.values()), fields
    grouped: dict[str, np.ndarray] = {}
    for j, name in enumerate(fb.feature_names_):
        for field in fields[name]:
            grouped[field] = grouped.get(field, 0.0) + contrib[:, j] / len(fields[name])
    total = sum(grouped.values()) + contrib[:, -1]
    np.testing.assert_allclose(total, raw_score, rtol=0, atol=1e-9)
