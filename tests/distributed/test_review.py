"""riskscore.distributed.review: the page's cases and flagged.csv are those of build_review on one machine."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from riskscore import distributed
from riskscore.exceptions import ParameterError, SchemaError
from riskscore.report import build_review

dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(scope="module")
def parts(shipments_dir):
    # the last file's 10,000 records in two partitions (the flagged ones ordered across them)
    return dd.read_parquet(shipments_dir).partitions[2].repartition(npartitions=2)


def _case_ids(page: str) -> list[str]:
    return re.findall(r'<button type="button" class="open" aria-expanded="false">([^<]+)</button>', page)


def test_review_on_a_cluster_is_the_one_machine_review(client, parts, shipped_model, tmp_path):
    got = distributed.review(shipped_model, parts, tmp_path / "cluster", client=client, max_cases=40)
    whole = parts.compute().reset_index(drop=True)
    expected = build_review(shipped_model, whole, tmp_path / "local", max_cases=40, progress=False)
    assert (got.records, got.flagged, got.shown) == (expected.records, expected.flagged, expected.shown)
    assert got.flagged > 500 and got.shown >= 40  # every red case, then yellow ones up to 40
    # flagged.csv: the same records, in the same order, with the same reasons
    pd.testing.assert_frame_equal(pd.read_csv(got.flagged_csv), pd.read_csv(expected.flagged_csv))
    page, local_page = got.index.read_text(), expected.index.read_text()
    ids = _case_ids(page)
    assert len(ids) == got.shown and ids == _case_ids(local_page)
    # the cases' details (reasons, declared fields, waterfalls) are the same JSON block
    block = re.compile(r'<script type="application/json" id="case-data">(.*?)</script>', re.S)
    assert block.search(page).group(1) == block.search(local_page).group(1)
    assert "<svg" in page  # the plots, from a sample drawn on the workers


def test_review_names_the_bad_partition_and_refuses_bad_arguments(client, parts, shipped_model, tmp_path):
    with pytest.raises(ParameterError, match="max_cases must be a whole number"):
        distributed.review(shipped_model, parts, tmp_path / "r", client=client, max_cases=-1)
    broken = parts.drop(columns=["hs_code"])
    with pytest.raises(SchemaError, match=r"partition \d: the frame lacks .*hs_code"):
        distributed.review(shipped_model, broken, tmp_path / "r", client=client)
    assert not (tmp_path / "r" / "index.html").exists()
