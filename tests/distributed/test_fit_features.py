"""riskscore.distributed.fit_features on a two-worker LocalCluster: exactly fit_transform's state.

The generated files cut through days (30,000 shipments per file, some 600 a day), so a day's records sit in
two partitions: the history tables, reference sums and counts, duty gaps and category lists reduced from the
partitions must still equal, bit for bit, what FeatureBuilder.fit_transform fits on the whole frame.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from riskscore import distributed
from riskscore.exceptions import ParameterError, SchemaError
from riskscore.features import FeatureBuilder
from riskscore.training import labels_of
from riskscore.validation import validate_frame

dd = pytest.importorskip("dask.dataframe")


def _whole(directory, spec: str, label: str | None = "observed") -> FeatureBuilder:
    frame = pd.concat([pd.read_parquet(f) for f in sorted(directory.glob("*.parquet"))], ignore_index=True)
    frame = validate_frame(frame, spec, columns="declared", extra="keep")
    builder = FeatureBuilder(spec)
    if label is None:
        builder.fit_transform(frame)
    else:
        has, y, _ = labels_of(frame, label, builder.record_spec)
        builder.fit_transform(frame, inspected=has, hits=has & (y != "green"))
    return builder


def _same(a: FeatureBuilder, b: FeatureBuilder) -> bool:
    return json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_shipment_state_from_partitions_cut_through_days_equals_fit_transform(client, shipments_dir):
    ddf = dd.read_parquet(shipments_dir)
    first = pd.read_parquet(sorted(shipments_dir.glob("*.parquet"))[1])["declared_at"].iloc[0]
    last = pd.read_parquet(sorted(shipments_dir.glob("*.parquet"))[0])["declared_at"].iloc[-1]
    assert first.date() == last.date(), "the files must cut through a day"
    fitted = distributed.fit_features(ddf, "shipment", client=client, shards=3)
    whole = _whole(shipments_dir, "shipment")
    assert _same(fitted, whole)
    assert fitted.states_["importer"].table.cum.sum() > 0
    assert fitted.hit_rate_ == whole.hit_rate_ > 0


def test_passenger_state_without_outcomes_equals_fit_transform(client, passengers_dir):
    fitted = distributed.fit_features(dd.read_parquet(passengers_dir), "passenger", label=None, client=client)
    whole = _whole(passengers_dir, "passenger", label=None)
    assert _same(fitted, whole)
    assert fitted.hit_rate_ == 0.0


def test_a_bad_partition_is_named(client):
    from riskscore.synthetic import generate_shipments

    records = generate_shipments(900, seed=2)
    records.loc[700, "quantity"] = -1.0
    ddf = dd.from_pandas(records, npartitions=3, sort=False)
    with pytest.raises(SchemaError, match=r"partition 2: .*'quantity'"):
        distributed.fit_features(ddf, "shipment", client=client)
    with pytest.raises(ParameterError, match="shards must be a whole number >= 1"):
        distributed.fit_features(ddf, "shipment", client=client, shards=0)
