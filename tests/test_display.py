"""Notebook display: short reprs, escaped HTML views, the waterfall plot, progress bars, load's suggestion."""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections import Counter

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display in tests

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from scipy.special import expit

import riskscore
from riskscore import explain as explain_module
from riskscore._display import probability
from riskscore._optional import MissingDependencyError
from riskscore.exceptions import ArtifactError, ParameterError
from riskscore.explain import Explanation, explain
from riskscore.model import RiskModel
from riskscore.policy import ChannelPolicy, Rule
from riskscore.synthetic import generate, generate_shipments, iter_records, write_records
from riskscore.training import TrainResult, train

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
CELL = 'style="text-align: left; vertical-align: top; padding: 0.15em 0.6em"'


@pytest.fixture(scope="module")
def result() -> TrainResult:
    """A small model: 20,000 shipments, 40 boosting rounds, one thread (about two seconds)."""
    data = generate_shipments(20_000, seed=3)
    return train(data, estimator=riskscore.ChannelModel(n_estimators=40), num_threads=1)


@pytest.fixture(scope="module")
def records(result: TrainResult) -> pd.DataFrame:
    """281 records of the test window: 70-row chunks leave a last chunk of one record."""
    return result.test.iloc[:281].reset_index(drop=True)


@pytest.fixture(scope="module")
def ex(result: TrainResult, records: pd.DataFrame) -> Explanation:
    return explain(result.model, records, progress=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _no_markup(html: str) -> None:
    """The payloads appear only escaped: no tag of theirs survives."""
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "onerror=alert(2)&gt;" in html or "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---------------------------------------------------------------------------------------------- reprs


def test_risk_model_repr_is_one_short_line(shipped_model: RiskModel) -> None:
    m = shipped_model
    expected = (
        f"RiskModel({m.version!r}, spec=shipment v{m.spec.version}, {len(m.features.feature_names_)} features, "
        "policy red 4.5% / yellow 14%)"
    )
    assert repr(m) == expected
    assert len(repr(m)) < 120


def test_train_result_repr_shows_windows_and_stored_precision(result: TrainResult) -> None:
    metrics = result.model.info["metrics"]
    precision = next(row["precision"] for row in metrics["observed"] if row["rate"] == 0.05)
    assert repr(result) == (
        f"TrainResult(model={result.model.version!r}, train={result.train_rows:,}, "
        f"valid={result.valid_rows:,}, test={len(result.test):,} records, precision@5% {precision:.3f})"
    )


def test_train_result_repr_without_metrics(result: TrainResult) -> None:
    model = copy.copy(result.model)
    model.info = {k: v for k, v in model.info.items() if k != "metrics"}
    short = dataclasses.replace(result, model=model, baseline=object())
    assert repr(short).endswith(f"test={len(result.test):,} records, with logistic baseline)")
    assert "precision" not in repr(short)


def test_explanation_repr_counts_top_reasons(ex: Explanation) -> None:
    top = Counter(rs[0].code for rs in ex.reasons if rs).most_common(3)
    reasons = ", ".join(f"{code} ({n:,})" for code, n in top)
    assert repr(ex) == (
        f"Explanation(281 records, {ex.contributions.shape[1]} features, {ex.fields.shape[1]} fields, "
        f"top reasons {reasons})"
    )


def test_reprs_keep_dataclass_equality(result: TrainResult, ex: Explanation) -> None:
    # labels are display only: two explanations differing in them alone are equal
    assert dataclasses.replace(ex, labels={"hs_code": "another label"}) == ex
    assert not next(f for f in dataclasses.fields(Explanation) if f.name == "labels").compare
    assert dataclasses.replace(result) == result
    assert dataclasses.replace(result, train_rows=result.train_rows + 1) != result
    # the class's own __repr__ is kept by @dataclass, and the other dunder methods are still generated
    assert RiskModel.__repr__.__qualname__ == "RiskModel.__repr__"
    assert "__eq__" in vars(RiskModel)


# ------------------------------------------------------------------------------------------ HTML views


def test_risk_model_html_shows_spec_policy_and_training(result: TrainResult) -> None:
    m = result.model
    html = m._repr_html_()
    required = sum(c.required for c in m.spec.columns if c.declared)
    assert m.version in html
    assert f"{required} required" in html
    assert f"Features ({len(m.features.feature_names_)})" in html
    assert "Policy: red 4.5%, yellow 14%" in html
    assert "authorised economic operator" in html  # a rule's note
    assert f"{m.info['training_rows']:,}" in html


def test_html_views_escape_untrusted_text(result: TrainResult, shipped_model: RiskModel) -> None:
    model = copy.copy(result.model)
    model.policy = ChannelPolicy(rules=[Rule("aeo", "==", 1, "exempt", SCRIPT)])
    model.info = {**model.info, "model_version": IMG, "label": SCRIPT}
    html = model._repr_html_()
    _no_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    _no_markup(dataclasses.replace(result, model=model)._repr_html_())

    # record ids and an importer id quoted by the reasons (the shipped model explains an unseen importer)
    hostile = generate_shipments(30, seed=1)
    hostile["declaration_id"] = hostile["declaration_id"].astype(object)
    hostile.loc[0, "declaration_id"] = SCRIPT
    hostile.loc[1, "declaration_id"] = IMG
    hostile["importer_id"] = hostile["importer_id"].astype(object)
    hostile.loc[0, "importer_id"] = IMG
    ex = explain(shipped_model, hostile, top_k=10, progress=False)
    assert list(ex.record_ids[:2]) == [SCRIPT, IMG]
    # importer ids are normalised (stripped, upper-cased) by the spec before anything quotes them
    assert any(IMG.upper() in r.text for r in ex.reasons[0])
    html = ex._repr_html_()
    _no_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "onerror=alert(2)&gt;" in html


def test_train_result_html_does_not_score(result: TrainResult, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the view must not score the test window")

    monkeypatch.setattr(RiskModel, "predict", refuse)
    monkeypatch.setattr(RiskModel, "_probabilities", refuse)
    html = result._repr_html_()
    assert f">test (held out)</td><td {CELL}>{len(result.test):,}</td>" in html
    assert "Held-out evaluation (computed at training)" in html
    assert "inspection rate" in html
    assert "result.report()" in html


def test_explanation_html_lists_first_records_and_importance(ex: Explanation) -> None:
    html = ex._repr_html_()
    shown = list(ex.record_ids.iloc[:20])
    assert all(f">{rid}</span>" in html for rid in shown)
    assert f">{ex.record_ids.iloc[20]}</span>" not in html
    assert "the first 20 shown" in html
    top_field = explain_module.global_importance(ex).index[0]
    assert f">{ex.labels[top_field]}</td>" in html
    first = ex.reasons[0][0]
    assert f"{first.code}, {first.contribution:+.2f}" in html


# ----------------------------------------------------------------------------------------- waterfall


def test_waterfall_bars_labels_and_numbers(ex: Explanation) -> None:
    i = int(np.argmax(ex.raw))
    ax = ex.plot_waterfall(i, max_bars=5)
    assert isinstance(ax, Axes)
    bars = ax.containers[0]
    assert len(bars) == 5
    row = ex.fields.iloc[i]
    order = row.abs().sort_values(ascending=False, kind="stable").index
    expected = [ex.labels[f] for f in order[:4]] + [f"{len(order) - 4} other fields"]
    assert [t.get_text() for t in ax.get_yticklabels()] == expected
    assert expected[0] != order[0]  # a label, not the column name
    widths = [b.get_width() for b in bars]
    np.testing.assert_allclose(widths[:4], row[order[:4]].to_numpy())
    assert bars[0].get_x() == pytest.approx(ex.base_value[i])
    assert bars[-1].get_x() + widths[-1] == pytest.approx(ex.raw[i])
    assert [t.get_text() for t in ax.texts] == [f"{w:+.2f}" for w in widths]
    title = ax.get_title()
    assert f"risk from {probability(expit(ex.base_value[i]))} to {probability(expit(ex.raw[i]))}" in title
    assert title.startswith(str(ex.record_ids.iloc[i]))


def test_waterfall_all_fields_when_they_fit_and_on_given_axes(ex: Explanation) -> None:
    _, given = plt.subplots()
    n_fields = ex.fields.shape[1]
    ax = ex.plot_waterfall(-1, max_bars=n_fields, ax=given)
    assert ax is given
    assert len(ax.containers[0]) == n_fields
    assert not any("other fields" in t.get_text() for t in ax.get_yticklabels())


def test_waterfall_draws_labels_with_dollar_signs(ex: Explanation) -> None:
    top = ex.fields.iloc[0].abs().idxmax()
    odd = dataclasses.replace(ex, labels={**ex.labels, top: "Value $\\frac{"})
    ax = odd.plot_waterfall(0)
    ax.figure.canvas.draw()  # an unescaped '$' would start a formula matplotlib cannot parse
    assert ax.get_yticklabels()[0].get_text() == "Value \\$\\frac{"


def test_waterfall_without_labels_uses_readable_names(ex: Explanation) -> None:
    plain = dataclasses.replace(ex, labels={})
    ax = plain.plot_waterfall(0, max_bars=2)
    top = ex.fields.iloc[0].abs().idxmax()
    assert ax.get_yticklabels()[0].get_text() == top.replace("_", " ").capitalize()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"i": 281}, r"i must be the position of a record in the explanation, 0 to 280"),
        ({"i": 1.0}, r"i must be the position"),
        ({"max_bars": 0}, r"max_bars must be a whole number >= 1; got 0"),
    ],
)
def test_waterfall_refuses_bad_arguments(ex: Explanation, kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        ex.plot_waterfall(**kwargs)


def test_waterfall_names_the_extra_without_matplotlib(
    ex: Explanation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        MissingDependencyError, match=r"plots needs the package 'matplotlib'.*riskscore\[report\]"
    ):
        ex.plot_waterfall(0)


# ------------------------------------------------------------------------------------------- progress


def test_generation_progress_on_and_off(capsys: pytest.CaptureFixture[str]) -> None:
    shown = generate_shipments(1_500, seed=5, progress=True)
    assert "generate shipments" in capsys.readouterr().err
    silent = generate_shipments(1_500, seed=5, progress=False)
    assert capsys.readouterr().err == ""
    pd.testing.assert_frame_equal(shown, silent)
    generate("passengers", 500, seed=5)  # default: on only when stderr is a terminal (not here)
    assert capsys.readouterr().err == ""
    chunks = iter_records("passengers", 900, seed=5, chunk_rows=400, progress=True)
    assert [len(c) for c in chunks] == [400, 400, 100]
    assert "generate passengers" in capsys.readouterr().err


def test_write_records_shows_one_bar(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    write_records("shipments", 1_200, tmp_path / "out.csv", seed=5, chunk_rows=500, progress=True)
    err = capsys.readouterr().err
    # one bar counting to the total: the generator's own bar is off inside write_records
    assert err.count("0.00/1.20k") == 1
    assert "500/1.20k" in err


@pytest.mark.parametrize("bad", ["yes", 1])
def test_progress_refuses_non_booleans(bad: object, result: TrainResult, records: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="progress must be True, False or None"):
        generate_shipments(10, progress=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="progress must be True, False or None"):
        explain(result.model, records.iloc[:5], progress=bad)  # type: ignore[arg-type]


def test_explain_progress_on_and_off(
    result: TrainResult, records: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    explain(result.model, records.iloc[:50], progress=True)
    assert "explain" in capsys.readouterr().err
    explain(result.model, records.iloc[:50], progress=False)
    explain(result.model, records.iloc[:50])  # None: not a terminal here
    assert capsys.readouterr().err == ""


def _same_bits(a: pd.DataFrame | None, b: pd.DataFrame | None) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()


@pytest.mark.parametrize("which", ["small model", "shipped model with severity head"])
def test_chunked_explanation_is_the_unchunked_one_bit_for_bit(
    which: str,
    result: TrainResult,
    records: pd.DataFrame,
    shipped_model: RiskModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = result.model if which == "small model" else shipped_model
    assert (model.severity is not None) == (which != "small model")
    whole = explain(model, records, severity=True, progress=False)
    monkeypatch.setattr(explain_module, "EXPLAIN_CHUNK_ROWS", 70)  # 70, 70, 70, 70 and a lone record
    chunked = explain(model, records, severity=True, progress=True)
    pd.testing.assert_series_equal(chunked.record_ids, whole.record_ids, check_exact=True)
    for name in ("contributions", "fields", "values", "severity"):
        _same_bits(getattr(chunked, name), getattr(whole, name))
    assert (chunked.severity is not None) == (model.severity is not None)
    assert chunked.base_value.tobytes() == whole.base_value.tobytes()
    assert chunked.raw.tobytes() == whole.raw.tobytes()
    assert chunked.reasons == whole.reasons
    assert chunked.labels == whole.labels
    assert chunked.contributions.index.equals(pd.RangeIndex(len(records)))


def test_explain_carries_the_specs_labels(result: TrainResult, records: pd.DataFrame) -> None:
    spec = result.model.spec
    one = explain(result.model, records.iloc[0].to_dict(), progress=False)
    batch = explain(result.model, records.iloc[:3], progress=False)
    for e in (one, batch):
        assert e.labels == {name: spec.column(name).display for name in e.fields.columns}


# ------------------------------------------------------------------------------------ load's message


def test_load_suggests_the_closest_shipped_name() -> None:
    with pytest.raises(
        ArtifactError,
        match=r"no shipped model is named 'shipments' and there is no model file 'shipments' "
        r"\(did you mean 'shipment'\?\); the shipped models are 'passenger', 'shipment'",
    ) as info:
        riskscore.load("shipments")
    assert isinstance(info.value, OSError)
    with pytest.raises(ArtifactError, match=r"'Passenger' .*\(did you mean 'passenger'\?\)"):
        riskscore.load("Passenger")
    with pytest.raises(ArtifactError, match=r"named 'xyz' and there is no model file 'xyz'; the shipped"):
        riskscore.load("xyz")


def test_load_of_a_missing_path_keeps_the_file_message(tmp_path) -> None:
    missing = tmp_path / "model.rsk"
    with pytest.raises(ArtifactError, match="does not exist") as info:
        riskscore.load(missing)
    assert "shipped models" not in str(info.value)
