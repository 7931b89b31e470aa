"""A customs administration's own table: its spec, its policy, its time split, its outcomes, every command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore.cli import main
from riskscore.evaluate import evaluate_outcomes
from riskscore.exceptions import ParameterError, SchemaError, SpecError
from riskscore.policy import ChannelPolicy, default_policy
from riskscore.spec import RecordSpec
from riskscore.synthetic import generate_shipments
from riskscore.training import TrainResult, time_split, train

RENAME = {
    "declaration_id": "entry_no",
    "declared_at": "lodged_on",
    "office_code": "office",
    "importer_id": "trader_id",
    "hs_code": "tariff_code",
    "observed_channel": "finding",
    "inspected": "was_checked",
    "selection_propensity": "p_selected",
}
DROPPED = ("aeo", "importer_compliance_level")
LEGACY = ("legacy_channel", "legacy_reason", "observed_label")  # the synthetic world's, not the user's
RED_RULE = {"column": "procedure", "op": "==", "value": "samples", "channel": "red", "note": "all samples"}


def _renamed(name: str) -> str:
    base, sep, cut = name.partition(":")  # "hs_code:4" -> "tariff_code:4"
    return RENAME.get(base, base) + sep + cut


def own_layout(policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipment spec as a user would write it: other names, no AEO or compliance level, no truth."""
    layout = riskscore.load_spec("shipment").to_dict()
    head = layout["spec"]
    head.update(name="declarations", id=_renamed(head["id"]), timestamp=_renamed(head["timestamp"]))
    columns = []
    for column in layout["columns"]:
        if column["name"] in DROPPED or column["name"] in LEGACY or column["role"] in ("truth", "oracle"):
            continue
        if column["name"] == "hs_code":
            column["label"] = "Tariff line"
        columns.append({**column, "name": _renamed(column["name"])})
    columns.append({"name": "recovered_usd", "type": "float", "role": "outcome", "min": 0.0})
    layout["columns"] = columns
    for feature in layout["features"]:
        feature["inputs"] = [_renamed(i) for i in feature["inputs"]]
        if "by" in feature:
            feature["by"] = [[_renamed(i) for i in level] for level in feature["by"]]
        for key in ("key", "group"):
            if key in feature:
                feature[key] = _renamed(feature[key])
    layout["labels"] = {
        "outcome": "finding",
        "values": {"green": "green", "yellow": "yellow", "red": "red"},
        "inspected": "was_checked",
        "propensity": "p_selected",
        "revenue": "recovered_usd",
    }
    if policy is not None:
        layout["policy"] = policy
    return layout


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def to_toml(layout: dict[str, Any]) -> str:
    """The layout as a TOML file (the few shapes a spec has), for the command line."""
    lines: list[str] = []

    def table(header: str, items: dict[str, Any]) -> None:
        lines.append(header)
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in items.items() if v is not None)
        lines.append("")

    table("[spec]", layout["spec"])
    for column in layout["columns"]:
        table("[[columns]]", column)
    for feature in layout.get("features", ()):
        table("[[features]]", feature)
    table("[labels]", layout["labels"])
    if "policy" in layout:
        table("[policy]", {k: v for k, v in layout["policy"].items() if k != "rules"})
        for rule in layout["policy"].get("rules", ()):
            table("[[policy.rules]]", rule)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    raw = generate_shipments(30_000, seed=9)
    found = raw["observed_channel"].isin(["yellow", "red"])
    recovered = raw["truth_revenue_at_stake_usd"].where(found)
    spec = RecordSpec.from_dict(own_layout())
    return raw.assign(recovered_usd=recovered).rename(columns=RENAME)[[c.name for c in spec.columns]]


@pytest.fixture(scope="module")
def result(data: pd.DataFrame) -> TrainResult:
    """A model of the user's spec with a [policy] table: a red rule on samples, 3% red."""
    spec = RecordSpec.from_dict(own_layout({"red_share": 0.03, "rules": [RED_RULE]}))
    return train(data, kind=spec, estimator=riskscore.ChannelModel(n_estimators=40), num_threads=1)


# -------------------------------------------------------------------------------------------- the policy


def test_a_spec_without_policy_gets_shares_and_no_rules():
    policy = default_policy(RecordSpec.from_dict(own_layout()))
    assert policy.rules == []
    assert (policy.red_share, policy.yellow_share, policy.random_red, policy.random_yellow) == (
        0.045,
        0.14,
        0.005,
        0.01,
    )
    # an edited copy of a built-in spec is the user's own, even under the built-in name
    layout = riskscore.load_spec("shipment").to_dict()
    layout["columns"] = [c for c in layout["columns"] if c["name"] not in DROPPED]
    assert default_policy(RecordSpec.from_dict(layout)).rules == []


def test_built_in_specs_keep_the_shipped_policies():
    for kind, columns in (
        ("shipment", ["aeo", "importer_compliance_level"]),
        ("passenger", ["watchlist_hit", "declared_channel"]),
    ):
        by_name, by_spec = default_policy(kind), default_policy(riskscore.load_spec(kind))
        assert by_name == by_spec
        assert [r.column for r in by_spec.rules] == columns
        same = RecordSpec.from_dict(riskscore.load_spec(kind).to_dict())  # an equal spec, another object
        assert default_policy(same) == by_spec
    assert default_policy("passenger").red_share == 0.01


def test_a_policy_table_becomes_the_channel_policy():
    spec = RecordSpec.from_dict(own_layout({"red_share": 0.03, "random_red": 0.0, "rules": [RED_RULE]}))
    policy = ChannelPolicy.from_spec(spec)
    assert default_policy(spec) == policy
    assert (policy.red_share, policy.yellow_share, policy.random_red) == (0.03, 0.14, 0.0)
    assert [(r.column, r.op, r.value, r.channel, r.note) for r in policy.rules] == [
        ("procedure", "==", "samples", "red", "all samples")
    ]


def test_a_duck_typed_policy_table_is_read_and_checked():
    class Table:  # what the trainer reads of a [policy] table: its fields
        red_share = 0.02
        yellow_share = None
        random_red = None
        random_yellow = 0.0
        rules = ({"column": "office", "op": "in", "value": ["01B1"], "channel": "yellow", "note": ""},)

    spec = RecordSpec.from_dict(own_layout())
    object.__setattr__(spec, "policy", Table())
    policy = default_policy(spec)
    assert (policy.red_share, policy.yellow_share, policy.random_yellow) == (0.02, 0.14, 0.0)
    assert policy.rules[0].value == ("01B1",)
    Table.rules = ({"column": "aeo", "op": "==", "value": 1, "channel": "exempt"},)
    with pytest.raises(SpecError, match=r"rule #1 names column 'aeo', which is not a declared column"):
        default_policy(spec)


def test_the_own_spec_trains_predicts_and_applies_its_rule(result: TrainResult):
    model = result.model
    assert model.spec.name == "declarations" and model.version.startswith("declarations-")
    assert [r.column for r in model.policy.rules] == ["procedure"]
    test = result.test.reset_index(drop=True)
    pred = model.predict(test)
    samples = (test["procedure"] == "samples").to_numpy()
    assert samples.any()
    assert (pred.loc[samples, "channel"] == "red").all()
    assert set(pred.loc[samples, "selection_reason"]) <= {"rule"}
    assert (pred.loc[~samples, "selection_reason"] != "rule").all()
    # the same record through predict_one: no column of the shipment policy is asked for
    record = test.iloc[3][model.spec.declared_columns].to_dict()
    one = model.predict_one(record, explain=True)
    assert one["record_id"] == pred.loc[3, "record_id"]
    assert one["risk_score"] == pytest.approx(pred.loc[3, "risk_score"], rel=1e-12)


def test_reasons_name_the_users_own_fields(result: TrainResult):
    test = result.test.reset_index(drop=True).iloc[:400]
    ex = result.model.explain(test, top_k=5)
    texts = [r.text for rs in ex.reasons for r in rs]
    assert any("Tariff line" in t for t in texts)
    assert not [t for t in texts if "?" in t or "HS " in t]  # no built-in template with a hole
    assert ex.labels["tariff_code"] == "Tariff line"


# ------------------------------------------------------------------------------------ the time split


def test_dates_set_the_windows(data: pd.DataFrame):
    tr, va, te = time_split(data, "lodged_on", 0.15, 0.15, valid_from="2025-09-01", test_from="2025-11-01")
    day = {name: w["lodged_on"].dt.floor("D") for name, w in (("tr", tr), ("va", va), ("te", te))}
    assert day["tr"].max() < pd.Timestamp("2025-09-01") <= day["va"].min()
    assert day["va"].max() < pd.Timestamp("2025-11-01") <= day["te"].min()
    assert len(tr) + len(va) + len(te) == len(data)
    # one date, one fraction: the test window is the latest 10%, validation starts on the date
    tr, va, te = time_split(data, "lodged_on", 0.15, 0.10, valid_from="2025-08-01")
    assert va["lodged_on"].min().floor("D") == pd.Timestamp("2025-08-01")
    assert len(te) / len(data) == pytest.approx(0.10, abs=0.01)


def test_train_takes_the_dates(data: pd.DataFrame):
    spec = RecordSpec.from_dict(own_layout())
    small = data.sample(n=12_000, random_state=1)
    got = train(
        small,
        kind=spec,
        valid_from="2025-10-01",
        test_from="2025-12-01",
        estimator=riskscore.ChannelModel(n_estimators=10),
        num_threads=1,
    )
    assert got.test["lodged_on"].min() >= pd.Timestamp("2025-12-01")
    assert got.model.info["training_period"][1] < "2025-10-01"
    assert got.model.policy.rules == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"valid_from": "2024-06-01"}, r"valid_from 2024-06-01 is outside the data: the data's period is 2025-01-01 to 2025-12"),
        ({"test_from": "2026-02-01"}, r"test_from 2026-02-01 is outside the data: the data's period is 2025-01-01"),
        ({"valid_from": "2025-01-01"}, r"valid_from 2025-01-01 is outside the data"),
        ({"valid_from": "2025-11-01", "test_from": "2025-10-01"}, r"valid_from 2025-11-01 must be before test_from 2025-10-01"),
        ({"valid_from": "first of May"}, r"valid_from must be a date written YYYY-MM-DD; got 'first of May'"),
        ({"valid_from": "2025-12-30"}, r"valid_from 2025-12-30 leaves no room for a test window of 15%"),
    ],
)  # fmt: skip
def test_bad_dates_are_refused_by_name(data: pd.DataFrame, options: dict[str, str], message: str):
    with pytest.raises(ParameterError, match=message):
        time_split(data, "lodged_on", 0.15, 0.15, **options)


# ------------------------------------------------------------------------------------ the evaluation


def test_evaluation_reads_the_specs_outcomes(result: TrainResult):
    test = result.test.reset_index(drop=True)
    tables = evaluate_outcomes(result.model, test, rates=(0.05, 0.2), by="office")
    table = tables["outcomes"].set_index("rate")
    assert list(table.index) == [0.05, 0.2]
    assert {"precision", "recall", "revenue", "uplift", "inspected_in_top"} <= set(table.columns)
    assert table.loc[0.2, "recall"] >= table.loc[0.05, "recall"] > 0
    assert table.loc[0.05, "uplift"] > 1  # the model ranks violations above the window's hit rate
    # precision: the weighted hit rate among the inspected in the top 5%, recomputed by hand
    risk = result.model.predict(test)["risk_score"].to_numpy()
    top = np.argsort(-risk, kind="stable")[: int(np.ceil(0.05 * len(test)))]
    top_rows = test.iloc[top]
    w = 1 / top_rows["p_selected"].to_numpy(dtype=float)
    checked = top_rows["was_checked"].to_numpy(dtype=bool)
    found = top_rows["finding"].isin(["yellow", "red"]).to_numpy(dtype=bool)
    assert table.loc[0.05, "precision"] == pytest.approx((w * found)[checked].sum() / w[checked].sum())
    offices = tables["by"]
    assert offices["records"].sum() == len(test)
    assert offices["inspected"].sum() == int(test["was_checked"].sum())
    assert offices["records"].is_monotonic_decreasing
    # the report of a user's own spec carries the same tables, and the model file its figures
    report = result.report(by="office")
    pd.testing.assert_frame_equal(report["outcomes"], evaluate_outcomes(result.model, test)["outcomes"])
    assert "truth" not in report and "observed" not in report
    assert result.model.info["metrics"]["observed"][2]["precision"] == pytest.approx(
        table.loc[0.05, "precision"], abs=1e-6
    )


def test_evaluation_without_outcomes_or_with_a_bad_column_is_refused(result: TrainResult):
    test = result.test.reset_index(drop=True)
    with pytest.raises(SchemaError, match=r"needs column\(s\) 'finding'"):
        evaluate_outcomes(result.model, test.drop(columns=["finding"]))
    with pytest.raises(ParameterError, match=r"by names column 'office_code', which the records do not have"):
        evaluate_outcomes(result.model, test, by="office_code")


# ---------------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_every_command_takes_the_users_spec(tmp_path: Path, data: pd.DataFrame, suffix: str, capsys):
    spec_path = tmp_path / "declarations.toml"
    spec_path.write_text(to_toml(own_layout({"rules": [RED_RULE]})), encoding="utf-8")
    assert riskscore.load_spec(spec_path) == RecordSpec.from_dict(own_layout({"rules": [RED_RULE]}))
    records = data.sample(n=10_000, random_state=2).reset_index(drop=True)
    path = tmp_path / f"records{suffix}"
    if suffix == ".csv":
        records.to_csv(path, index=False)
    else:
        records.to_parquet(path, index=False)
    model_path = tmp_path / "model.rsk"
    argv = [
        "train",
        "--spec",
        str(spec_path),
        "--data",
        str(path),
        "--out",
        str(model_path),
        "--threads",
        "1",
    ]
    argv += ["--valid-from", "2025-09-01", "--test-from", "2025-11-01", "--by", "office", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "training a declarations model on 10,000 records" in out
    assert "selection quality on the inspection outcomes of the latest window" in out
    assert "per category" in out and "share_flagged" in out
    model = riskscore.load(model_path)
    assert [r.column for r in model.policy.rules] == ["procedure"]
    expected = model.predict(records)

    scored = tmp_path / "scored.csv"
    assert main(["score", "--model", str(model_path), "--data", str(path), "--out", str(scored)]) == 0
    got = pd.read_csv(scored, dtype={"record_id": str})
    assert got["record_id"].tolist() == expected["record_id"].tolist()
    np.testing.assert_allclose(got["risk_score"].to_numpy(), expected["risk_score"].to_numpy(), rtol=1e-12)

    review = tmp_path / "review"
    argv = [
        "review",
        "--model",
        str(model_path),
        "--data",
        str(path),
        "--out",
        str(review),
        "--max-cases",
        "3",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    flagged = pd.read_csv(review / "flagged.csv", dtype={"record_id": str})
    assert set(flagged["record_id"]) == set(expected.loc[expected["channel"] != "green", "record_id"])

    reasons = tmp_path / "reasons.csv"
    argv = ["explain", "--model", str(model_path), "--data", str(path), "--out", str(reasons), "--top-k", "2"]
    assert main([*argv, "--chunk-rows", "4000"]) == 0, capsys.readouterr().err
    table = pd.read_csv(reasons, dtype={"record_id": str})
    assert list(table.columns) == [
        "record_id", "risk_score", "channel", "selection_reason", "reason_codes", "reasons",
    ]  # fmt: skip
    assert table["record_id"].tolist() == expected["record_id"].tolist()
    assert table["channel"].tolist() == expected["channel"].astype(str).tolist()
    assert table["reason_codes"].str.count(";").max() == 1  # two reasons at most

    capsys.readouterr()
    record = records.iloc[7].to_dict()
    record["lodged_on"] = str(record["lodged_on"])
    record = {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in record.items()}
    argv = [
        "predict-one",
        "--model",
        str(model_path),
        "--record",
        json.dumps(record, default=str),
        "--explain",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    one = json.loads(capsys.readouterr().out)
    assert one["record_id"] == expected.loc[7, "record_id"]
    assert one["channel"] == str(expected.loc[7, "channel"])
    assert one["risk_score"] == pytest.approx(expected.loc[7, "risk_score"], rel=1e-9)
    assert "reasons" in one


def test_the_command_line_refuses_bad_dates_and_records_by_name(tmp_path: Path, data: pd.DataFrame, capsys):
    spec_path = tmp_path / "declarations.toml"
    spec_path.write_text(to_toml(own_layout()), encoding="utf-8")
    path = tmp_path / "records.parquet"
    records = data.sample(n=3_000, random_state=3)
    records.to_parquet(path, index=False)
    first, last = (f"{records['lodged_on'].agg(f):%Y-%m-%d}" for f in ("min", "max"))
    base = ["train", "--kind", str(spec_path), "--data", str(path), "--out", str(tmp_path / "m.rsk")]
    assert main([*base, "--valid-from", "2026-03-01"]) == 2
    err = capsys.readouterr().err
    assert f"--valid-from 2026-03-01 is outside the data: the data's period is {first} to {last}" in err
    assert main([*base, "--valid-from", "2025-10-01", "--test-from", "2025-09-01"]) == 2
    assert "--valid-from 2025-10-01 must be before --test-from 2025-09-01" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--test-from", "2025-13-01"])
    assert "--test-from: must be a date written YYYY-MM-DD" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--valid-from", "2025-09-01", "--valid-fraction", "0.2"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "m.rsk").exists()
    for text, message in (("[1, 2]", "got a JSON list"), ("{oops", "not valid JSON")):
        assert main(["predict-one", "--model", "shipment", "--record", text]) == 2
        assert message in capsys.readouterr().err


def test_every_problem_of_a_training_table_is_listed_at_once(world):
    data = world.shipments.iloc[:3_000].copy()
    data = data.drop(columns=["office_type"])  # a column the spec needs
    data["declaration_id"] = data["declaration_id"].astype(object)
    data.loc[data.index[3], "declaration_id"] = data["declaration_id"].iloc[2]  # a repeated id
    data["cif_value_usd"] = data["cif_value_usd"].astype(object)
    data.loc[data.index[7], "cif_value_usd"] = "lots"  # not a number
    data["observed_channel"] = data["observed_channel"].astype(object)
    inspected = data.index[data["inspected"].astype(bool)]
    data.loc[inspected[0], "observed_channel"] = "purple"  # an outcome the map does not know
    with pytest.raises(riskscore.SchemaError) as info:
        riskscore.train(data, kind="shipment", num_threads=1)
    message = str(info.value)
    assert message.startswith("problems in the training records:")
    for part in (
        "lacks 1 column required by spec 'shipment' (version 3): 'office_type'",
        "column 'cif_value_usd' must be a number",
        "column 'declaration_id' must hold unique ids",
        "column 'observed_channel' holds outcome value(s) ['purple']",
    ):
        assert part in message, (part, message)


def test_the_model_card_of_a_custom_spec_shows_its_outcome_tables():
    import pandas as pd

    from riskscore.card import model_card

    model = riskscore.load("shipment")
    outcomes = pd.DataFrame({"rate": [0.05], "precision": [0.3], "recall": [0.6]})
    by = pd.DataFrame({"office": ["CC01"], "records": [10], "hit_rate": [0.1]})
    card = model_card(model, {"outcomes": outcomes, "by": by})
    assert "## Evaluation on the latest window: outcomes" in card
    assert "| 0.050 | 0.300 | 0.600 |" in card
    assert "## Evaluation on the latest window: by" in card and "| CC01 | 10 | 0.100 |" in card
