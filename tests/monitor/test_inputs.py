"""Bad input to riskscore.monitor gives a message naming the problem and the fix."""

from __future__ import annotations

import pytest

import riskscore
from riskscore.monitoring import monitor


def test_an_empty_batch_is_refused(shipments):
    empty = shipments.window("validation").head(0)
    with pytest.raises(
        riskscore.ParameterError,
        match=r"the batch holds no records \(\d+ columns, 0 rows\).*pass the records",
    ):
        monitor(shipments.model, empty)


def test_a_field_missing_from_the_batch_is_named(shipments):
    batch = shipments.window("validation").drop(columns=["cif_value_usd"])
    with pytest.raises(riskscore.SchemaError, match=r"cif_value_usd"):
        monitor(shipments.model, batch)


def test_an_impossible_value_is_named_with_its_row(shipments):
    batch = shipments.window("validation").copy()
    batch.loc[7, "cif_value_usd"] = -3.0
    with pytest.raises(riskscore.SchemaError, match=r"cif_value_usd.*row 7"):
        monitor(shipments.model, batch)


def test_a_batch_that_is_not_a_table_is_refused(shipments):
    with pytest.raises(
        riskscore.SchemaError,
        match=r"must be a pandas DataFrame .* or the path of a \.parquet or \.csv file; got list",
    ):
        monitor(shipments.model, [{"declaration_id": "D1"}])


def test_a_missing_file_is_named(shipments, tmp_path):
    with pytest.raises(riskscore.SchemaError, match=r"does not exist"):
        monitor(shipments.model, tmp_path / "nothing.parquet")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bands": (0.25, 0.1)}, r"bands must be two increasing positive numbers"),
        ({"bands": (0.1,)}, r"bands must be two increasing positive numbers"),
        ({"unseen_bands": (0, 0.1)}, r"unseen_bands must be two increasing positive numbers"),
        ({"min_group": 0}, r"min_group must be a whole number >= 1; got 0"),
        ({"min_inspected": 2.5}, r"min_inspected must be a whole number >= 1; got 2\.5"),
        ({"selection_ratio": 0.5}, r"selection_ratio must be a number >= 1"),
        ({"alpha": 1.0}, r"alpha must be a significance level between 0 and 1"),
        ({"group_bands": {"age": (40, 25)}}, r"group_bands\['age'\] must list increasing band starts"),
        ({"group_bands": {"age": ()}}, r"group_bands\['age'\] must list increasing band starts"),
    ],
)
def test_options_out_of_range_name_the_option(shipments, options, message):
    with pytest.raises(riskscore.ParameterError, match=message):
        monitor(shipments.model, shipments.window("validation").head(100), **options)
