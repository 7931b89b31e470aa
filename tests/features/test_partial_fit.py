"""The fitted state from parts (riskscore.distributed's reduction), in one process: equal to fit_transform's.

Each part's share (``FeatureBuilder.partial_fit``), combined shard by shard and assembled, must give exactly
the state ``fit_transform`` fits on the parts joined in order, and ``transform_training`` of each part its
rows of ``fit_transform``'s matrix, bit for bit: on the shipment spec with parts cutting through days, on
random specs of every kind (records in no time order), and for a reference fed by another reference (two
passes). The Dask plumbing around the same calls is tested in tests/distributed.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskscore import _ordered_sum
from riskscore.exceptions import SpecError
from riskscore.features import FeatureBuilder
from riskscore.features.base import FeatureKind
from riskscore.spec import RecordSpec
from riskscore.synthetic import generate_shipments
from riskscore.training import labels_of
from riskscore.validation import validate_frame
from tests.features.test_random_specs import _records, _same_bits, random_specs


def fit_by_parts(builder, parts, inspected, hits, shards=3):
    """What riskscore.distributed does across workers, in one process: returns the builder and the matrix."""
    builder.start_fit(
        [
            builder.partial_fit(p, inspected=i, hits=h).counts()
            for p, i, h in zip(parts, inspected, hits, strict=True)
        ]
    )
    for features in builder.fit_passes():
        partials = [
            builder.partial_fit(p, inspected=i, hits=h, features=features, shards=shards)
            for p, i, h in zip(parts, inspected, hits, strict=True)
        ]
        combined = [builder.combine_shard([p.pieces[s] for p in partials]) for s in range(shards)]
        sums = {}
        for name in features:
            sequences = [p.sequences[name] for p in partials if name in p.sequences]
            if len(sequences) == len(partials):
                total = sum(len(s) for s in sequences)
                offsets = np.cumsum([0] + [len(s) for s in sequences])[:-1]
                pieces = [
                    _ordered_sum.pieces(s, int(o), total) for s, o in zip(sequences, offsets, strict=True)
                ]
                sums[name] = (_ordered_sum.combine(total, pieces), total)
        builder.assemble_states(combined, features, sums)
    builder.finish_fit()
    X = np.vstack([builder.transform_training(p) for p in parts])
    builder.compact_history()
    return builder, X


def same_state(a: FeatureBuilder, b: FeatureBuilder) -> bool:
    return json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_shipments_in_parts_cut_through_days_give_fit_transforms_state_and_matrix():
    frame = validate_frame(generate_shipments(30_000, seed=4), "shipment", columns="declared", extra="keep")
    has, y, _ = labels_of(frame, "observed", FeatureBuilder("shipment").record_spec)
    hit = has & (y != "green")
    whole = FeatureBuilder("shipment")
    X_whole = whole.fit_transform(frame, inspected=has, hits=hit)
    cuts = [0, 7_001, 7_002, 19_999, 30_000]
    assert frame["declared_at"].iloc[7_000].date() == frame["declared_at"].iloc[7_001].date()  # a cut day
    parts = [frame.iloc[a:b] for a, b in itertools.pairwise(cuts)]
    split = [(has[a:b], hit[a:b]) for a, b in itertools.pairwise(cuts)]
    built, X = fit_by_parts(FeatureBuilder("shipment"), parts, *zip(*split, strict=True))
    assert same_state(built, whole)
    assert built.feature_names_ == whole.feature_names_
    assert _same_bits(X, X_whole)
    assert built.states_["unit_value_vs_ref"].global_mean == whole.states_["unit_value_vs_ref"].global_mean


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs(), seed=st.integers(0, 2**32 - 1), parts=st.integers(1, 4))
def test_random_specs_in_random_parts_give_fit_transforms_state_and_matrix(spec, seed, parts):
    rng = np.random.default_rng(seed)
    frame = validate_frame(_records(spec, 600, rng, first_day=0, days=40), spec)  # not in time order
    inspected = rng.random(len(frame)) < 0.6
    hits = inspected & (rng.random(len(frame)) < 0.3)
    whole = FeatureBuilder(spec, min_category_count=5)
    X_whole = whole.fit_transform(frame, inspected=inspected, hits=hits)
    cuts = [0, *sorted(rng.integers(0, len(frame), parts - 1).tolist()), len(frame)]
    pieces = [slice(a, b) for a, b in itertools.pairwise(cuts)]
    built, X = fit_by_parts(
        FeatureBuilder(spec, min_category_count=5),
        [frame.iloc[p] for p in pieces],
        [inspected[p] for p in pieces],
        [hits[p] for p in pieces],
        shards=int(rng.integers(1, 4)),
    )
    assert same_state(built, whole)
    assert _same_bits(X, X_whole)


def _chained_spec() -> RecordSpec:
    return RecordSpec.from_dict(
        {
            "spec": {"name": "chained", "version": 1, "id": "rid", "timestamp": "at"},
            "columns": [
                {"name": "rid", "type": "string", "role": "id"},
                {"name": "at", "type": "datetime", "role": "timestamp"},
                {"name": "c0", "type": "category", "role": "category"},
                {"name": "x0", "type": "float", "role": "amount", "min": 0.0},
                {"name": "x1", "type": "float", "role": "quantity", "min": 0.0},
            ],
            "features": [
                {"name": "lr", "kind": "log_ratio", "inputs": ["x0", "x1"]},
                {"name": "ref", "kind": "reference", "inputs": ["lr"], "by": [["c0"]]},
                {"name": "ref2", "kind": "reference", "inputs": ["ref"], "by": [["c0:1"]]},
            ],
        }
    )


def test_a_reference_of_a_reference_is_fitted_in_a_second_pass():
    spec = _chained_spec()
    assert FeatureBuilder(spec).fit_passes() == [["ref"], ["ref2"]]
    rng = np.random.default_rng(5)
    frame = validate_frame(_records(spec, 900, rng, first_day=0, days=30), spec)
    whole = FeatureBuilder(spec)
    X_whole = whole.fit_transform(frame)
    parts = [frame.iloc[:400], frame.iloc[400:401], frame.iloc[401:]]
    none = [np.zeros(len(p), bool) for p in parts]
    built, X = fit_by_parts(FeatureBuilder(spec), parts, none, none)
    assert same_state(built, whole)
    assert _same_bits(X, X_whole)


def test_a_kind_without_a_reduction_says_so():
    class Opaque(FeatureKind):
        kind = "opaque"
        arity = (1, 1)
        state_key = "opaque"

    spec = _chained_spec()
    kind = Opaque(spec.features[0])
    with pytest.raises(
        SpecError, match=r"feature 'lr' \(kind 'opaque'\) has no exact reduction .* riskscore.train"
    ):
        kind.partial_state(None, None, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 5, 8, 128, 129, 1_000, 100_003])
def test_ordered_sum_from_pieces_is_numpys_sum(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) * np.exp(rng.standard_normal(n) * 10)
    for cuts in ([0, n], [0, n // 3, n // 3 + 1, n], [0, *sorted(rng.integers(0, n, 5).tolist()), n]):
        parts = [_ordered_sum.pieces(x[a:b], a, n) for a, b in itertools.pairwise(cuts)]
        assert _ordered_sum.combine(n, parts) == float(np.add.reduce(x))
    assert float(np.float64(_ordered_sum.combine(n, parts)) / np.intp(n)) == float(np.nanmean(x))
    _ordered_sum.check_numpy()
