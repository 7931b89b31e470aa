"""The foreign-layout export: another administration's table, with the truth left behind."""

from __future__ import annotations

import pandas as pd
import pytest

from riskscore.cli import main
from riskscore.exceptions import ParameterError
from riskscore.synthetic import generate_shipments, write_records
from riskscore.synthetic.foreign import (
    FOREIGN_COLUMNS,
    FOREIGN_INSPECTED,
    FOREIGN_OUTCOME,
    FOREIGN_REVENUE,
    foreign_layout,
)


def test_the_export_renames_recodes_and_drops_the_truth():
    frame = generate_shipments(6_000, seed=2)
    out = foreign_layout(frame, seed=2)
    assert list(out.columns) == [
        *FOREIGN_COLUMNS.values(),
        FOREIGN_OUTCOME,
        FOREIGN_INSPECTED,
        FOREIGN_REVENUE,
    ]
    assert not [c for c in out.columns if c.startswith(("truth", "oracle")) or c == "selection_propensity"]
    inspected = frame["inspected"].to_numpy(dtype=bool)
    levels = frame["observed_channel"].astype(object).map({"green": 0, "yellow": 1, "red": 2})
    assert out[FOREIGN_OUTCOME].isna().to_numpy().tolist() == (~inspected).tolist()
    assert (
        out[FOREIGN_OUTCOME][inspected].astype(int).to_numpy() == levels[inspected].astype(int).to_numpy()
    ).all()
    binary = foreign_layout(frame, seed=2, binary=True)
    assert set(binary[FOREIGN_OUTCOME].dropna().astype(int)) <= {0, 1}
    assert out["ngay dang ky"].iloc[0] == pd.Timestamp(frame["declared_at"].iloc[0]).strftime(
        "%d/%m/%Y %H:%M"
    )
    assert 0.01 < out["ma doanh nghiep"].isna().mean() < 0.06
    assert out["ma chi cuc"].str.fullmatch(r"CC\d\d").all()
    assert (out[FOREIGN_REVENUE][~inspected] == 0).all()


def test_generate_writes_the_foreign_layout_the_same_in_chunks(tmp_path):
    one = write_records("shipments", 4_000, tmp_path / "a.csv", seed=3, layout="foreign", chunk_rows=4_000)
    many = tmp_path / "b.csv"
    assert (
        main(
            [
                "generate",
                "shipments",
                "--rows",
                "4000",
                "--seed",
                "3",
                "--layout",
                "foreign",
                "--chunk-rows",
                "1500",
                "--out",
                str(many),
            ]
        )
        == 0
    )
    a, b = (pd.read_csv(p, dtype=str) for p in (one, many))
    assert a["ma chi cuc"].tolist() == b["ma chi cuc"].tolist()  # office codes do not depend on the chunk
    assert a.columns.tolist() == b.columns.tolist()
    with pytest.raises(ParameterError, match="layout must be 'riskscore', or 'foreign' for shipments"):
        write_records("passengers", 10, tmp_path / "p.csv", layout="foreign")
