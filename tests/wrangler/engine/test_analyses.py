"""The Analyse panel's analyses and the shared chart look (pure pandas, no database)."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.metrics import roc_auc_score

from wrangler.engine.analyses import (
    ANALYSES,
    ANALYSIS_PARAMS,
    auc_score,
    bin_tree,
    leakage_scores,
    prepare_model_data,
    resolve_problem,
    run_analysis,
)
from wrangler.engine.charts import PALETTE, style, to_json

# numpy's and scikit-learn's warnings (constant columns, empty slices) must never escape.
pytestmark = [
    pytest.mark.filterwarnings("error::RuntimeWarning"),
    pytest.mark.filterwarnings("error::UserWarning"),
    pytest.mark.filterwarnings("error::FutureWarning"),
]


def json_safe(value: Any) -> Any:
    """``value`` as it comes back from the API; fails on NaN, infinities or numpy scalars."""
    return json.loads(json.dumps(value, allow_nan=False))


def mixed_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Numbers with nulls, nullable integers, unicode text with nulls, booleans, dates and a
    binary target."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, n)
    age = rng.normal(40, 10, n)
    age[::7] = np.nan
    income = np.where(np.arange(n) % 9 == 0, None, rng.integers(1000, 9000, n))
    return pd.DataFrame(
        {
            "age": age,
            "income": pd.array(income, dtype="Int64"),
            "city": pd.array(rng.choice(["Zürich", "東京", "São Paulo", None], n), dtype="str"),
            "member": rng.random(n) < 0.4,
            "joined": pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "noise": rng.normal(size=n),
            "target": target,
        }
    )


PARAMS: dict[str, dict[str, Any]] = {
    "summary": {},
    "histogram": {"column": "age", "bins": 12, "color_by": "city"},
    "scatter": {"x": "age", "y": "income", "color": "city"},
    "box": {"column": "age", "by": "city"},
    "correlation": {"method": "pearson"},
    "target_leakage": {"target": "target"},
    "quick_model": {"target": "target"},
}


def values(data: Any) -> list[Any]:
    """A figure's array as a list: plotly writes numpy arrays as base64 typed arrays."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def table_rows(result: dict[str, Any]) -> dict[str, list[Any]]:
    """The result's table as {first cell: row}."""
    return {row[0]: row for row in result["table"]["rows"]}


def column(result: dict[str, Any], row: list[Any], name: str) -> Any:
    return row[result["table"]["columns"].index(name)]


# ---------------------------------------------------------------- every analysis


def test_every_analysis_kind_is_declared_with_its_parameters() -> None:
    assert set(ANALYSES) == set(ANALYSIS_PARAMS) == set(PARAMS)


@pytest.mark.parametrize("kind", ANALYSES)
def test_every_analysis_runs_on_a_mixed_frame_and_its_result_is_json_safe(kind: str) -> None:
    result = run_analysis(mixed_frame(), kind, PARAMS[kind])
    assert json_safe(result) == result
    assert set(result) == {"kind", "title", "figures", "table", "notes"}
    assert result["kind"] == kind and result["title"]
    assert all(isinstance(note, str) and note for note in result["notes"])
    for fig in result["figures"]:
        assert fig["data"] and fig["layout"]["title"]["text"]
    if result["table"] is not None:
        width = len(result["table"]["columns"])
        assert all(len(row) == width for row in result["table"]["rows"])


@pytest.mark.parametrize("kind", ANALYSES)
def test_an_analysis_does_not_change_its_input_frame(kind: str) -> None:
    df = mixed_frame()
    before = df.copy()
    run_analysis(df, kind, PARAMS[kind])
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("kind", ANALYSES)
def test_an_empty_frame_is_refused_with_a_clear_sentence(kind: str) -> None:
    with pytest.raises(ValueError, match="no rows to analyse"):
        run_analysis(mixed_frame().head(0), kind, PARAMS[kind])
    with pytest.raises(ValueError, match="no columns to analyse"):
        run_analysis(pd.DataFrame(), kind, PARAMS[kind])


@pytest.mark.parametrize("kind", ["summary", "histogram", "scatter", "box"])
def test_a_single_row_frame_can_be_described(kind: str) -> None:
    one = mixed_frame().iloc[[1]]
    result = run_analysis(
        one, kind, PARAMS[kind] if kind != "scatter" else {"x": "age", "y": "noise"}
    )
    assert json_safe(result) == result


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("correlation", "at least 2"),
        ("target_leakage", "single class"),
        ("quick_model", "single class"),
    ],
)
def test_a_single_row_frame_is_too_small_to_correlate_or_model(kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_analysis(mixed_frame().iloc[[1]], kind, PARAMS[kind])


def test_an_unknown_analysis_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="Unknown analysis 'pie'; use one of summary"):
        run_analysis(mixed_frame(), "pie")


def test_an_unknown_parameter_is_refused_with_the_parameters_it_takes() -> None:
    with pytest.raises(ValueError, match="no parameter 'binz'; it takes column, bins, color_by"):
        run_analysis(mixed_frame(), "histogram", {"column": "age", "binz": 3})
    with pytest.raises(ValueError, match="no parameter 'x'; it takes none"):
        run_analysis(mixed_frame(), "summary", {"x": 1})


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("histogram", {}, "needs column"),
        ("histogram", {"column": "age", "bins": "ten"}, "bins must be a whole number"),
        ("histogram", {"column": "age", "bins": 0}, "bins must be at least 1"),
        ("correlation", {"method": "kendall"}, "method must be one of"),
        ("target_leakage", {"target": "target", "problem": "ranking"}, "problem must be one"),
        ("scatter", {"x": "age", "y": "income", "max_points": 2}, "at least 10"),
    ],
)
def test_a_bad_parameter_value_says_what_to_change(
    kind: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_analysis(mixed_frame(), kind, params)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("histogram", {"column": "ghost"}),
        ("histogram", {"column": "age", "color_by": "ghost"}),
        ("scatter", {"x": "age", "y": "ghost"}),
        ("box", {"column": "ghost"}),
        ("correlation", {"columns": ["age", "ghost"]}),
        ("target_leakage", {"target": "ghost"}),
        ("quick_model", {"target": "ghost"}),
    ],
)
def test_a_missing_column_is_named(kind: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="column 'ghost' is not in the data"):
        run_analysis(mixed_frame(), kind, params)


def test_repeated_column_names_are_refused() -> None:
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match="'a' appears 2 times"):
        run_analysis(df, "summary")


def test_non_text_column_names_are_read_as_text() -> None:
    df = pd.DataFrame({0: [1.0, 2.0, 3.0], 1: ["a", "b", "c"]})
    result = run_analysis(df, "histogram", {"column": "0"})
    assert sum(row[2] for row in result["table"]["rows"]) == 3


# ---------------------------------------------------------------- summary


def test_the_summary_has_one_row_per_column_with_counts_and_statistics() -> None:
    df = mixed_frame()
    result = run_analysis(df, "summary")
    assert result["figures"] == []
    assert result["table"]["columns"][:6] == [
        "column",
        "dtype",
        "count",
        "missing",
        "missing %",
        "distinct",
    ]
    rows = table_rows(result)
    assert list(rows) == list(df.columns)
    age = rows["age"]
    present = df["age"].dropna()
    assert column(result, age, "count") == len(present)
    assert column(result, age, "missing") == df["age"].isna().sum()
    assert column(result, age, "missing %") == round(100 * df["age"].isna().mean(), 2)
    assert column(result, age, "mean") == pytest.approx(present.mean(), rel=1e-5)
    assert column(result, age, "std") == pytest.approx(present.std(), rel=1e-5)
    assert column(result, age, "50%") == pytest.approx(present.median(), rel=1e-5)
    assert column(result, age, "max") == pytest.approx(present.max(), rel=1e-5)


def test_the_summary_of_text_has_a_top_value_and_no_statistics() -> None:
    df = mixed_frame()
    result = run_analysis(df, "summary")
    city = table_rows(result)["city"]
    assert column(result, city, "top value") == df["city"].value_counts().index[0]
    assert column(result, city, "distinct") == df["city"].nunique()
    assert all(column(result, city, k) is None for k in ("mean", "std", "min", "max"))


def test_the_summary_of_dates_and_booleans() -> None:
    df = mixed_frame()
    result = run_analysis(df, "summary")
    rows = table_rows(result)
    joined = rows["joined"]
    assert column(result, joined, "min") == df["joined"].min().isoformat()
    assert column(result, joined, "max") == df["joined"].max().isoformat()
    assert column(result, rows["member"], "mean") == pytest.approx(df["member"].mean(), abs=1e-4)
    assert column(result, rows["member"], "top value") in (True, False)


def test_the_summary_rounds_numbers_and_writes_none_for_infinities() -> None:
    df = pd.DataFrame({"x": [1 / 3, 2 / 3, np.inf]})
    result = run_analysis(df, "summary")
    row = result["table"]["rows"][0]
    assert column(result, row, "min") == 0.333333
    assert json_safe(result) == result


# ---------------------------------------------------------------- histogram


def test_a_numeric_histogram_counts_every_present_value_once() -> None:
    df = mixed_frame()
    result = run_analysis(df, "histogram", {"column": "age", "bins": 10})
    assert len(result["table"]["rows"]) == 10
    assert sum(row[2] for row in result["table"]["rows"]) == df["age"].notna().sum()
    assert "not drawn" in result["notes"][0]
    assert result["figures"][0]["data"][0]["type"] == "bar"


def test_a_histogram_of_a_constant_column_draws_one_bar() -> None:
    df = pd.DataFrame({"x": [5.0] * 4})
    result = run_analysis(df, "histogram", {"column": "x", "bins": 1})
    assert result["table"]["rows"] == [[4.5, 5.5, 4]]


def test_a_histogram_of_text_shows_the_most_frequent_values_first() -> None:
    df = pd.DataFrame({"word": ["é"] * 5 + ["b"] * 3 + ["c"] + [f"w{i}" for i in range(40)]})
    result = run_analysis(df, "histogram", {"column": "word"})
    rows = result["table"]["rows"]
    assert rows[0][:2] == ["é", 5] and rows[1][:2] == ["b", 3]
    assert len(rows) == 30
    assert "30 most frequent of 43" in result["notes"][-1]
    layout = result["figures"][0]["layout"]
    assert layout["yaxis"]["type"] == "category"


def test_a_histogram_of_booleans_is_a_bar_chart_of_both_values() -> None:
    result = run_analysis(mixed_frame(), "histogram", {"column": "member"})
    assert {row[0] for row in result["table"]["rows"]} == {True, False}


def test_color_by_stacks_one_trace_per_group_and_lumps_rare_groups_into_other() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "group": [f"g{i % 15}" for i in range(300)],
        }
    )
    result = run_analysis(df, "histogram", {"column": "x", "color_by": "group"})
    names = [trace["name"] for trace in result["figures"][0]["data"]]
    assert len(names) == 11 and names[-1] == "other"
    assert result["figures"][0]["layout"]["barmode"] == "stack"


def test_color_by_a_continuous_column_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="color_by needs a categorical column, but 'noise'"):
        run_analysis(mixed_frame(), "histogram", {"column": "age", "color_by": "noise"})


def test_a_histogram_of_dates_is_drawn_over_time() -> None:
    result = run_analysis(mixed_frame(), "histogram", {"column": "joined", "bins": 8})
    fig = result["figures"][0]
    assert fig["layout"]["xaxis"]["type"] == "date"
    assert str(result["table"]["rows"][0][0]).startswith("2021-")
    assert sum(row[2] for row in result["table"]["rows"]) == 120


def test_a_histogram_of_an_all_missing_column_says_so() -> None:
    df = pd.DataFrame({"x": [None, None]}, dtype="float64")
    with pytest.raises(ValueError, match="'x' has no values to draw"):
        run_analysis(df, "histogram", {"column": "x"})


# ---------------------------------------------------------------- scatter


def test_a_scatter_is_webgl_and_leaves_out_rows_missing_either_axis() -> None:
    df = mixed_frame()
    result = run_analysis(df, "scatter", {"x": "age", "y": "noise"})
    trace = result["figures"][0]["data"][0]
    assert trace["type"] == "scattergl"
    dropped = df["age"].isna().sum()
    assert result["notes"][0].startswith(f"{dropped} rows missing")
    assert "Pearson correlation r =" in result["notes"][1]


def test_a_scatter_samples_down_to_max_points_with_a_fixed_seed() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000)})
    first = run_analysis(df, "scatter", {"x": "a", "y": "b", "max_points": 100})
    second = run_analysis(df, "scatter", {"x": "a", "y": "b", "max_points": 100})
    assert first == second
    trace = first["figures"][0]["data"][0]
    assert len(values(trace["x"])) == len(values(trace["y"])) == 100
    assert "random sample of 100 points" in first["notes"][-1]


def test_a_scatter_coloured_by_a_category_has_one_trace_per_value() -> None:
    result = run_analysis(mixed_frame(), "scatter", {"x": "age", "y": "noise", "color": "city"})
    names = {trace["name"] for trace in result["figures"][0]["data"]}
    assert names == {"Zürich", "東京", "São Paulo", "(missing)"}


def test_a_scatter_coloured_by_a_number_has_a_colour_scale() -> None:
    result = run_analysis(mixed_frame(), "scatter", {"x": "joined", "y": "age", "color": "noise"})
    trace = result["figures"][0]["data"][0]
    assert trace["marker"]["showscale"] is True
    assert result["figures"][0]["layout"]["xaxis"]["type"] == "date"


def test_a_scatter_of_text_is_refused_with_the_column_name() -> None:
    with pytest.raises(ValueError, match="needs numbers or dates for x, but 'city' holds text"):
        run_analysis(mixed_frame(), "scatter", {"x": "city", "y": "age"})


# ---------------------------------------------------------------- box


def test_a_box_plot_of_a_text_column_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="needs a numeric column, but 'city' holds text"):
        run_analysis(mixed_frame(), "box", {"column": "city"})


def test_a_box_plot_of_booleans_or_dates_is_refused() -> None:
    for name in ("member", "joined"):
        with pytest.raises(ValueError, match=f"'{name}' holds"):
            run_analysis(mixed_frame(), "box", {"column": name})


def test_a_box_plot_by_group_gives_each_group_its_quartiles() -> None:
    df = mixed_frame()
    result = run_analysis(df, "box", {"column": "age", "by": "city"})
    rows = table_rows(result)
    for city in ("Zürich", "東京", "São Paulo"):
        values = df.loc[df["city"] == city, "age"].dropna()
        row = rows[city]
        assert column(result, row, "count") == len(values)
        assert column(result, row, "25%") == pytest.approx(values.quantile(0.25), rel=1e-5)
        assert column(result, row, "50%") == pytest.approx(values.median(), rel=1e-5)
    assert "(missing)" in rows
    box = result["figures"][0]["data"][0]
    assert box["type"] == "box" and len(box["q1"]) == 4


def test_a_box_plot_keeps_the_12_most_frequent_groups() -> None:
    df = pd.DataFrame({"v": np.arange(400.0), "g": [f"g{i % 20}" for i in range(400)]})
    result = run_analysis(df, "box", {"column": "v", "by": "g"})
    assert len(result["table"]["rows"]) == 12
    assert "160 rows in rarer groups are left out" in result["notes"][0]


def test_a_box_plot_draws_points_beyond_the_whiskers() -> None:
    df = pd.DataFrame({"v": [1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 100.0]})
    result = run_analysis(df, "box", {"column": "v"})
    outliers = result["figures"][0]["data"][1]
    assert outliers["y"] == [100.0]
    assert result["figures"][0]["data"][0]["upperfence"] == [4.0]


# ---------------------------------------------------------------- correlation


def test_pearson_correlation_matches_pandas_pairwise() -> None:
    df = mixed_frame()
    result = run_analysis(df, "correlation", {"columns": ["age", "income", "noise"]})
    expected = df[["age", "income", "noise"]].astype("float64").corr()
    rows = table_rows(result)
    assert rows["age"][2] == pytest.approx(expected.loc["age", "income"], abs=1e-4)
    assert rows["noise"][1] == pytest.approx(expected.loc["noise", "age"], abs=1e-4)
    assert rows["age"][1] == 1
    heatmap = result["figures"][0]["data"][0]
    assert (heatmap["zmin"], heatmap["zmax"]) == (-1, 1)


def test_pearson_uses_booleans_as_zero_and_one_and_skips_text() -> None:
    result = run_analysis(mixed_frame(), "correlation")
    names = result["table"]["columns"][1:]
    assert "member" in names and "city" not in names and "joined" not in names


def test_spearman_of_a_monotonic_pair_is_one() -> None:
    x = np.linspace(1, 10, 50)
    df = pd.DataFrame({"x": x, "cube": x**3, "down": -np.exp(x)})
    result = run_analysis(df, "correlation", {"method": "spearman"})
    rows = table_rows(result)
    assert rows["x"][2] == pytest.approx(1.0)
    assert rows["x"][3] == pytest.approx(-1.0)


def test_cramers_v_of_a_column_with_itself_is_one() -> None:
    df = mixed_frame()
    df["city_again"] = df["city"]
    result = run_analysis(
        df, "correlation", {"method": "cramers_v", "columns": ["city", "city_again"]}
    )
    rows = table_rows(result)
    assert rows["city"][1] == pytest.approx(1.0)
    assert rows["city"][2] == pytest.approx(1.0)
    heatmap = result["figures"][0]["data"][0]
    assert (heatmap["zmin"], heatmap["zmax"]) == (0, 1)


def test_cramers_v_of_independent_columns_is_near_zero() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.choice(list("abc"), 3000), "b": rng.choice(list("xyz"), 3000)})
    result = run_analysis(df, "correlation", {"method": "cramers_v"})
    assert table_rows(result)["a"][2] < 0.05


def test_cramers_v_takes_text_booleans_and_small_whole_number_columns() -> None:
    result = run_analysis(mixed_frame(), "correlation", {"method": "cramers_v"})
    assert result["table"]["columns"][1:] == ["city", "member", "target"]


def test_correlation_leaves_out_constant_columns_with_a_note() -> None:
    df = mixed_frame()
    df["flat"] = 1.0
    result = run_analysis(df, "correlation")
    assert "flat" not in result["table"]["columns"]
    assert any("'flat'" in note and "single value" in note for note in result["notes"])


def test_correlation_needs_two_usable_columns() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "t": ["a", "b", "c"], "flat": [1, 1, 1]})
    with pytest.raises(ValueError, match="at least 2 numeric or true/false columns"):
        run_analysis(df, "correlation")


def test_correlation_refuses_a_text_column_for_pearson_naming_it() -> None:
    with pytest.raises(ValueError, match=r"pearson correlation needs numbers .* 'city' holds text"):
        run_analysis(mixed_frame(), "correlation", {"columns": ["age", "city"]})


def test_correlation_keeps_max_columns_and_says_so() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(50, 6)), columns=list("abcdef"))
    result = run_analysis(df, "correlation", {"max_columns": 3})
    assert result["table"]["columns"] == ["column", "a", "b", "c"]
    assert "first 3 of 6" in result["notes"][0]


# ---------------------------------------------------------------- target leakage


def leaky_frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "copy": target.astype(float),
            "noise": rng.normal(size=n),
            "word": pd.array(rng.choice(["ä", "b", "c"], n), dtype="str"),
            "target": np.where(target == 1, "yes", "no"),
        }
    )


def test_a_copy_of_the_target_is_flagged_and_noise_scores_about_a_half() -> None:
    result = run_analysis(leaky_frame(), "target_leakage", {"target": "target"})
    rows = table_rows(result)
    assert rows["copy"][1:] == [1, "roc_auc", "possible leakage"]
    assert rows["noise"][1] == pytest.approx(0.5, abs=0.06)
    assert rows["noise"][3] == ""
    assert rows["word"][1] == pytest.approx(0.5, abs=0.06)
    assert "Possible leakage: 'copy'." in result["notes"]


def test_the_leakage_table_is_sorted_and_the_figure_marks_the_threshold() -> None:
    result = run_analysis(leaky_frame(), "target_leakage", {"target": "target"})
    scores = [row[1] for row in result["table"]["rows"]]
    assert scores == sorted(scores, reverse=True)
    assert result["table"]["columns"] == ["feature", "score", "metric", "flag"]
    layout = result["figures"][0]["layout"]
    assert layout["shapes"][0]["x0"] == 0.95


def test_a_categorical_feature_that_determines_the_target_is_flagged() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 60, 3000)
    df = pd.DataFrame(
        {
            "code": [f"c{c}" for c in codes],  # 60 values, each always the same class
            "target": (codes % 7 < 3).astype(int),
        }
    )
    result = run_analysis(df, "target_leakage", {"target": "target"})
    assert table_rows(result)["code"][3] == "possible leakage"


def test_rows_without_a_target_are_left_out_with_a_note() -> None:
    df = leaky_frame(300)
    df.loc[:9, "target"] = None
    result = run_analysis(df, "target_leakage", {"target": "target"})
    assert "10 rows with no 'target' are left out." in result["notes"]
    assert "on 290 rows" in result["notes"][0]


def test_a_regression_target_is_scored_by_r2() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=800)
    df = pd.DataFrame(
        {"x": x, "noise": rng.normal(size=800), "y": 3 * x + 0.01 * rng.normal(size=800)}
    )
    result = run_analysis(df, "target_leakage", {"target": "y"})
    rows = table_rows(result)
    assert rows["x"][2] == "r2" and rows["x"][1] > 0.95
    assert rows["noise"][1] < 0.05


def test_a_multiclass_target_is_scored_by_weighted_one_vs_rest_auc() -> None:
    rng = np.random.default_rng(0)
    label = rng.choice(["a", "b", "c"], 900, p=[0.5, 0.3, 0.2])
    df = pd.DataFrame({"echo": label, "noise": rng.normal(size=900), "label": label})
    result = run_analysis(df, "target_leakage", {"target": "label", "folds": 4})
    rows = table_rows(result)
    assert rows["echo"][1:3] == [1, "roc_auc_ovr_weighted"]
    assert "4-fold" in result["notes"][0]


def test_leakage_samples_max_rows_with_the_seed() -> None:
    df = leaky_frame(3000)
    scores = leakage_scores(df, "target", max_rows=500, seed=3)
    assert scores.rows == 500
    assert scores == leakage_scores(df, "target", max_rows=500, seed=3)


def _spread_bins(rng: np.random.Generator, n_bins: int, rows: int) -> np.ndarray:
    """Bins of ``rows`` rows, some left empty (the rows only a test fold would hold)."""
    used = np.sort(rng.choice(n_bins, max(2, n_bins // 2), replace=False))
    return used[rng.integers(0, len(used), rows)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_bin_tree_predicts_what_scikit_learns_classifier_does(
    seed: int, n_classes: int
) -> None:
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    n_bins = int(rng.integers(5, 257))
    bins = _spread_bins(rng, n_bins, 3000)
    p = rng.dirichlet(np.ones(n_classes), n_bins)  # each bin its own class mix
    y = np.array([rng.choice(n_classes, p=p[b]) for b in bins])
    counts = np.zeros((n_bins, n_classes))
    np.add.at(counts, (bins, y), 1)
    present = np.flatnonzero(counts.sum(axis=1))
    ours = bin_tree(present, counts[present], n_bins, classification=True)
    theirs = DecisionTreeClassifier(max_depth=4, random_state=0).fit(bins[:, None], y)
    expected = np.zeros((n_bins, n_classes))
    expected[:, theirs.classes_] = theirs.predict_proba(np.arange(n_bins)[:, None])
    np.testing.assert_allclose(ours, expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_bin_tree_predicts_what_scikit_learns_regressor_does(seed: int) -> None:
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(seed)
    n_bins = int(rng.integers(5, 257))
    bins = _spread_bins(rng, n_bins, 3000)
    y = np.sin(bins / 9.0) * 4 + rng.normal(size=len(bins))
    weights = np.bincount(bins, minlength=n_bins).astype(float)
    sums = np.bincount(bins, weights=y, minlength=n_bins)
    present = np.flatnonzero(weights)
    stats = np.column_stack([weights[present], sums[present]])
    ours = bin_tree(present, stats, n_bins, classification=False)
    theirs = DecisionTreeRegressor(max_depth=4, random_state=0).fit(bins[:, None], y)
    np.testing.assert_allclose(ours, theirs.predict(np.arange(n_bins)[:, None]), atol=1e-9)


def test_the_bin_tree_stops_at_a_pure_node_and_at_a_single_bin() -> None:
    counts = np.array([[5.0, 0.0], [7.0, 0.0], [0.0, 3.0]])
    tree = bin_tree(np.array([0, 2, 7]), counts, 9, classification=True)
    # 0..4 left of the split between bins 2 and 7 (threshold 4.5), 5..8 right of it.
    np.testing.assert_array_equal(tree, [[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 4)
    one = bin_tree(np.array([3]), np.array([[2.0, 6.0]]), 5, classification=False)
    np.testing.assert_array_equal(one, [3.0] * 5)


def test_the_rank_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(size=500) + y, 1)  # rounded: many ties
    assert auc_score(y == 1, scores) == pytest.approx(roc_auc_score(y, scores))


@pytest.mark.parametrize("kind", ["target_leakage", "quick_model"])
def test_a_target_with_too_many_classes_is_refused(kind: str) -> None:
    df = pd.DataFrame({"x": np.arange(600.0), "code": [f"k{i % 150}" for i in range(600)]})
    with pytest.raises(ValueError, match="'code' has 150 classes, more than the 100"):
        run_analysis(df, kind, {"target": "code"})


def test_a_target_whose_classes_have_one_row_each_cannot_be_cross_validated() -> None:
    df = pd.DataFrame({"x": np.arange(40.0), "name": [f"n{i}" for i in range(40)]})
    with pytest.raises(ValueError, match="needs at least 2 rows to cross-validate"):
        run_analysis(df, "target_leakage", {"target": "name"})


def test_a_leakage_target_of_dates_is_refused() -> None:
    with pytest.raises(ValueError, match="The target 'joined' holds dates"):
        run_analysis(mixed_frame(), "target_leakage", {"target": "joined"})


# ---------------------------------------------------------------- quick model


def test_a_quick_classification_model_reports_accuracy_and_macro_f1() -> None:
    df = leaky_frame(600)
    df["row_id"] = [f"r{i}" for i in range(len(df))]
    result = run_analysis(df, "quick_model", {"target": "target"})
    assert result["notes"][0].startswith("Accuracy 1.000 and macro F1 1.000 on 180 held-out rows")
    assert any("id-like" in note and "'row_id'" in note for note in result["notes"])
    rows = result["table"]["rows"]
    assert rows[0][0] == "copy" and {r[0] for r in rows} == {"copy", "noise", "word"}
    assert sum(r[1] for r in rows) == pytest.approx(1.0, abs=1e-3)
    assert result["figures"][0]["data"][0]["orientation"] == "h"


def test_a_quick_regression_model_reports_mse_and_r2() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    df = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=500) * 0.1})
    result = run_analysis(df, "quick_model", {"target": "y", "problem": "regression"})
    assert result["notes"][0].startswith("MSE ")
    assert "R² 0.9" in result["notes"][0]


def test_a_quick_model_of_a_regression_on_text_is_refused() -> None:
    with pytest.raises(ValueError, match="regression target must hold numbers, but 'city'"):
        run_analysis(mixed_frame(), "quick_model", {"target": "city", "problem": "regression"})


def test_model_data_encodes_numbers_categories_dates_and_fills_nulls() -> None:
    df = pd.DataFrame(
        {
            "x": [1.0, None, 3.0, 4.0] * 5,
            "word": ["a", "a", "b", None] * 5,
            "when": pd.to_datetime(["1970-01-01", "1970-01-02", None, "1970-01-04"] * 5),
            "flag": [True, False, True, None] * 5,
            "y": [0, 1] * 10,
        }
    )
    data = prepare_model_data(df, "y")
    assert data.names == ["x", "word", "when", "flag"]
    assert data.problem == "classification" and data.classes == [0, 1]
    assert not np.isnan(data.features).any()
    x, word, when = data.features[:4, 0], data.features[:4, 1], data.features[:4, 2]
    assert x.tolist() == [1.0, 3.0, 3.0, 4.0]  # the median fills the gap
    assert word.tolist() == [0.0, 0.0, 1.0, 3.0]  # by frequency; "other" would be 2
    assert when.tolist() == [0.0, 86400.0, 86400.0, 259200.0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([0.0, 1.0, 1.0], "classification"),
        (list(range(30)), "regression"),
        ([0.5, 1.5, 2.0], "regression"),
    ],
)
def test_auto_problem_reads_the_target(values: list[Any], expected: str) -> None:
    assert resolve_problem(pd.Series(values), "auto", "y") == expected


# ---------------------------------------------------------------- the chart look


def test_style_gives_a_figure_the_studio_look() -> None:
    fig = style(go.Figure(go.Bar(x=["a"], y=[1])), "Title", "x axis", "y axis")
    layout = to_json(fig)["layout"]
    assert layout["title"]["text"] == "Title" and layout["title"]["font"]["size"] == 13
    assert layout["font"] == {
        "family": "Inter, system-ui, sans-serif",
        "size": 11,
        "color": "#4b5160",
    }
    assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "#ffffff"
    assert layout["xaxis"]["gridcolor"] == "#eef0f3"
    assert layout["xaxis"]["title"]["text"] == "x axis"
    assert layout["margin"] == {"l": 48, "r": 16, "t": 40, "b": 40}
    assert layout["colorway"] == PALETTE
    assert PALETTE[0] == "#4f46e5" and len(PALETTE) == 7


def test_to_json_writes_nan_and_infinities_as_null() -> None:
    fig = go.Figure(go.Bar(x=["a", "b", "c"], y=[1.0, float("nan"), float("inf")]))
    data = to_json(fig)
    assert data["data"][0]["y"] == [1.0, None, None]
    json.dumps(data, allow_nan=False)
