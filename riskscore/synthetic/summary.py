"""A printable summary of a generated data set: volumes, planted violations, legacy selection, oracle."""

from __future__ import annotations

import pandas as pd

from riskscore.evaluate import INSPECTION_RATES, selection_table

__all__ = ["summarize"]


def summarize(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Summarise a generated frame (shipments or passengers).

    Returns
    -------
    dict of str to DataFrame
        ``overview`` (one row of headline figures), ``mechanisms`` (count and share per planted
        mechanism), ``legacy`` (share and truth hit rate per legacy channel), and ``oracle`` (precision,
        recall and revenue of the oracle and of random order at the standard inspection rates).
    """
    y = frame["truth_violation"].to_numpy(dtype=bool)
    overview = pd.DataFrame(
        [
            {
                "records": len(frame),
                "violations": int(y.sum()),
                "prevalence": float(y.mean()),
                "serious": float((frame["truth_severity"] == "serious").mean()),
                "inspected": float(frame["inspected"].mean()),
                "observed_hits": int(frame["observed_label"].fillna(False).sum()),
                "mean_oracle_p": float(frame["oracle_p_violation"].mean()),
            }
        ]
    )
    counts = frame["truth_mechanism"].value_counts().sort_index()
    mechanisms = pd.DataFrame({"count": counts, "share_of_violations": counts / max(int(y.sum()), 1)})
    legacy = (
        frame.groupby("legacy_channel", observed=False)
        .agg(share=("truth_violation", "size"), hit_rate=("truth_violation", "mean"))
        .assign(share=lambda d: d["share"] / len(frame))
    )
    oracle = selection_table(
        y,
        {"oracle": frame["oracle_p_violation"], "legacy points": frame["selection_propensity"]},
        rates=INSPECTION_RATES,
        revenue=frame["truth_revenue_at_stake_usd"],
    )
    return {"overview": overview, "mechanisms": mechanisms, "legacy": legacy, "oracle": oracle}
