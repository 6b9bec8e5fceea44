"""The Data Quality and Insights report: each check on a frame built to trigger it, silence
on a clean frame, and recommendations that the flow editor accepts (no database)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wrangler.engine.analyses import column_stats
from wrangler.engine.insights import (
    CHECKS,
    FIGURES,
    SEVERITIES,
    _duplicate_count,
    insights_model,
    insights_profile,
    insights_report,
    skewness,
)
from wrangler.engine.params import check_params
from wrangler.engine.preview import column_summary
from wrangler.engine.registry import get_transform

pytestmark = [
    pytest.mark.filterwarnings("error::RuntimeWarning"),
    pytest.mark.filterwarnings("error::UserWarning"),
    pytest.mark.filterwarnings("error::FutureWarning"),
]


def clean_frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Nothing wrong: no gaps, no repeats, spread-out numbers, a balanced unrelated target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.uniform(0, 1, n),
            "b": rng.normal(10, 2, n),
            "c": rng.uniform(-5, 5, n),
            "d": rng.normal(0, 1, n),
            "e": rng.integers(0, 100, n),
            "city": pd.array(rng.choice(["Zürich", "東京", "Lagos"], n), dtype="str"),
            "flag": rng.random(n) < 0.5,
            "day": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "label": rng.choice(["yes", "no"], n),
        }
    )


def findings_of(report: dict[str, Any], check: str) -> dict[str, dict[str, Any]]:
    """The report's findings of ``check``, by id."""
    return {f["id"]: f for f in report["findings"] if f["check"] == check}


def assert_recommendation_applies(df: pd.DataFrame, finding: dict[str, Any]) -> None:
    """The recommendation is a registered transform whose checked params run on ``df``."""
    rec = finding["recommendation"]
    if rec is None:
        return
    assert set(rec) == {"type", "params", "title"} and rec["title"]
    defn = get_transform(rec["type"])
    assert defn is not None, rec["type"]
    params = check_params(defn, rec["params"])  # raises ParamError if a param is off
    out, _state = defn.func(df, state=None, **params)
    assert isinstance(out, pd.DataFrame)


# ---------------------------------------------------------------- the report's shape


def test_each_columns_details_are_what_the_preview_summarises() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    amount = rng.lognormal(3, 1, n)
    amount[::17] = np.nan
    df = pd.DataFrame(
        {
            "amount": amount,
            "count": rng.integers(0, 9, n),
            "plan": pd.array(rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]), "str"),
            "active": rng.random(n) < 0.4,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D"),
            "tags": pd.Series([["a", "b"] if i % 3 else ["c"] for i in range(n)]),
            "empty": np.full(n, np.nan),
        }
    )
    columns = {c["name"]: c for c in insights_profile(df)["columns"]}
    for name in df.columns:
        details = columns[name]
        assert {k: details[k] for k in column_summary(df[name])} == column_summary(df[name])
    assert (
        columns["amount"]["kind"] == "numeric"
        and len(columns["amount"]["histogram"]["counts"]) == 20
    )
    assert columns["plan"]["top"][0] == {"value": "basic", "count": int((df.plan == "basic").sum())}
    assert "histogram" not in columns["empty"] and "top" not in columns["empty"]
    assert columns["empty"]["missing_pct"] == 100.0
    # Lists are compared by their text, in the preview as in the report.
    assert column_summary(df["tags"])["distinct"] == columns["tags"]["distinct"] == 2


def test_the_report_has_the_contract_shape_and_is_json_safe() -> None:
    df = clean_frame()
    report = insights_report(df, target="label")
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert set(report) == {"summary", "columns", "findings", "figures", "model", "timings"}
    assert [c["name"] for c in report["columns"]] == list(df.columns)
    assert set(report["figures"]) == set(FIGURES)
    assert report["summary"] == {
        "rows": 1000,
        "columns": 9,
        "missing_cells_pct": 0.0,
        "duplicate_rows": 0,
        "numeric_columns": 5,
        "categorical_columns": 3,
        "datetime_columns": 1,
        "target": "label",
        "problem": "classification",
    }
    assert set(report["timings"]) == {"profile_s", "model_s"}
    assert report["timings"]["profile_s"] > 0 and report["timings"]["model_s"] > 0


def test_a_clean_frame_has_no_findings() -> None:
    report = insights_report(clean_frame(), target="label", model=False)
    assert report["findings"] == []
    assert report["model"] is None
    assert report["figures"]["missing"] is None
    assert report["figures"]["correlation"] is not None
    assert report["figures"]["target"] is not None


def test_a_clean_frame_with_a_model_has_only_the_models_info_finding() -> None:
    report = insights_report(clean_frame(), target="label")
    assert [(f["check"], f["severity"]) for f in report["findings"]] == [("quick_model", "info")]


def test_without_a_target_there_is_no_model_nor_target_figure() -> None:
    report = insights_report(clean_frame())
    assert report["summary"]["target"] is None and report["summary"]["problem"] is None
    assert report["model"] is None
    assert report["figures"]["target"] is None and report["figures"]["importances"] is None
    assert report["timings"]["model_s"] == 0.0


def test_every_finding_has_the_contract_fields() -> None:
    report = insights_report(messy_frame(), target="target")
    assert report["findings"]
    for finding in report["findings"]:
        assert set(finding) == {
            "id",
            "check",
            "severity",
            "title",
            "detail",
            "columns",
            "recommendation",
        }
        assert finding["check"] in CHECKS and finding["severity"] in SEVERITIES
        subject = finding["id"].split(":", 1)[1]
        assert finding["id"] == f"{finding['check']}:{subject}"
        assert subject == "rows" or subject in finding["columns"]
    ids = [f["id"] for f in report["findings"]]
    assert len(ids) == len(set(ids))


def test_findings_are_sorted_by_severity_then_check() -> None:
    report = insights_report(messy_frame(), target="target")
    keys = [(SEVERITIES.index(f["severity"]), f["check"]) for f in report["findings"]]
    assert keys == sorted(keys)
    assert {f["severity"] for f in report["findings"]} >= {"high", "medium", "low", "info"}


def test_every_recommendation_passes_its_transforms_param_check_and_runs() -> None:
    df = messy_frame()
    report = insights_report(df, target="target")
    recommended = [f for f in report["findings"] if f["recommendation"]]
    assert {f["recommendation"]["type"] for f in recommended} >= {
        "fill_missing",
        "drop_columns",
        "deduplicate",
        "clip_outliers",
        "log_transform",
        "power_transform",
        "hash_encode",
        "balance",
        "drop_missing",
    }
    for finding in recommended:
        assert_recommendation_applies(df, finding)


def messy_frame(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    """A frame with a bit of everything wrong."""
    rng = np.random.default_rng(seed)
    target = (rng.random(n) < 0.06).astype(int)
    df = pd.DataFrame(
        {
            "half_empty": np.where(rng.random(n) < 0.6, np.nan, rng.normal(size=n)),
            "mostly_empty": np.where(rng.random(n) < 0.8, None, rng.choice(["x", "y"], n)),
            "few_gaps": np.where(rng.random(n) < 0.02, np.nan, rng.normal(size=n)),
            "same": ["∅"] * n,
            "money": rng.lognormal(0, 2, n),
            "debt": -rng.lognormal(0, 2, n),
            "ticket": [f"T{i}" for i in rng.integers(0, 3 * n // 4, n)],  # ~1,100 values
            "leak": target + rng.normal(0, 0.01, n),
            "target": np.where(rng.random(n) < 0.01, np.nan, target),
        }
    )
    return pd.concat([df, df.iloc[:100]], ignore_index=True)  # 100 duplicate rows


# ---------------------------------------------------------------- each check


def run_profile(df: pd.DataFrame, target: str | None = None) -> dict[str, Any]:
    report = insights_profile(df, target=target)
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    for finding in report["findings"]:
        assert_recommendation_applies(df, finding)
    return report


@pytest.mark.parametrize(
    ("share", "severity", "transform", "strategy"),
    [
        (0.02, "low", "fill_missing", "median"),
        (0.10, "medium", "fill_missing", "median"),
        (0.60, "high", "fill_missing", "median"),
        (0.80, "high", "drop_columns", None),
    ],
)
def test_missing_values_grade_by_share_and_recommend_a_fill_or_a_drop(
    share: float, severity: str, transform: str, strategy: str | None
) -> None:
    df = clean_frame()
    df.loc[: int(share * len(df)) - 1, "b"] = np.nan
    finding = findings_of(run_profile(df), "missing_values")["missing_values:b"]
    assert finding["severity"] == severity
    assert finding["recommendation"]["type"] == transform
    if strategy:
        assert finding["recommendation"]["params"] == {"columns": ["b"], "strategy": strategy}
    assert f"{int(share * 1000):,} of 1,000 rows" in finding["detail"]


def test_missing_text_is_filled_with_its_most_frequent_value() -> None:
    df = clean_frame()
    df.loc[:99, "city"] = None
    finding = findings_of(run_profile(df), "missing_values")["missing_values:city"]
    assert finding["recommendation"]["params"] == {"columns": ["city"], "strategy": "mode"}


def test_a_target_with_gaps_is_not_filled_but_its_rows_dropped() -> None:
    df = clean_frame()
    df.loc[:99, "label"] = None
    finding = findings_of(run_profile(df, "label"), "missing_values")["missing_values:label"]
    assert finding["recommendation"]["type"] == "drop_missing"
    assert finding["recommendation"]["params"] == {"columns": ["label"], "how": "any"}


@pytest.mark.parametrize(("copies", "severity"), [(50, "medium"), (5, "low")])
def test_duplicate_rows_are_counted_and_deduplicated(copies: int, severity: str) -> None:
    df = clean_frame()
    df = pd.concat([df, df.iloc[:copies]], ignore_index=True)
    report = run_profile(df)
    finding = findings_of(report, "duplicate_rows")["duplicate_rows:rows"]
    assert finding["severity"] == severity
    assert finding["recommendation"]["type"] == "deduplicate"
    assert report["summary"]["duplicate_rows"] == copies


def test_the_duplicate_count_matches_pandas_with_nulls_and_many_wide_columns() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame(
        {f"c{i}": rng.choice([1.5, 2.5, None, 4.5], n) for i in range(6)}
        | {f"w{i}": rng.integers(0, 10**6, n) for i in range(8)}  # wide: forces refolding
        | {"t": pd.array(rng.choice(["ä", None], n), dtype="str")}
    )
    df = pd.concat([df, df.sample(200, random_state=0)], ignore_index=True)
    stats = [column_stats(df, c) for c in df.columns]
    assert _duplicate_count(stats) == int(df.duplicated().sum()) == 200
    narrow = df[["c0", "c1", "t"]]
    stats = [column_stats(narrow, c) for c in narrow.columns]
    assert _duplicate_count(stats) == int(narrow.duplicated().sum())


def test_a_constant_column_is_high_and_a_near_constant_one_medium() -> None:
    df = clean_frame()
    df["same"] = "∅"
    df["almost"] = ["a"] * 995 + ["b"] * 5
    report = run_profile(df)
    constant = findings_of(report, "constant_column")
    assert list(constant) == ["constant_column:same"]
    assert constant["constant_column:same"]["severity"] == "high"
    near = findings_of(report, "near_constant")
    assert list(near) == ["near_constant:almost"]
    assert near["near_constant:almost"]["severity"] == "medium"
    assert near["near_constant:almost"]["recommendation"]["params"] == {"columns": ["almost"]}


def test_an_identifier_is_dropped_and_a_wide_category_hash_encoded() -> None:
    rng = np.random.default_rng(0)
    df = clean_frame(3000)
    df["order_id"] = [f"ord-{i}" for i in range(3000)]
    df["street"] = [f"street {i}" for i in rng.integers(0, 1500, 3000)]
    found = findings_of(run_profile(df), "high_cardinality")
    assert set(found) == {"high_cardinality:order_id", "high_cardinality:street"}
    assert found["high_cardinality:order_id"]["recommendation"]["type"] == "drop_columns"
    assert "identifier" in found["high_cardinality:order_id"]["title"]
    hashing = found["high_cardinality:street"]["recommendation"]
    assert hashing == {
        "type": "hash_encode",
        "params": {"columns": ["street"], "n_features": 32},
        "title": hashing["title"],
    }


@pytest.mark.parametrize(("count", "severity"), [(30, "medium"), (5, "low")])
def test_outliers_beyond_five_robust_deviations_are_clipped(count: int, severity: str) -> None:
    df = clean_frame()
    df.loc[: count - 1, "d"] = 50.0
    finding = findings_of(run_profile(df), "outliers")["outliers:d"]
    assert finding["severity"] == severity
    assert finding["recommendation"]["params"] == {
        "columns": ["d"],
        "method": "quantile",
        "lower_quantile": 0.001,
        "upper_quantile": 0.999,
    }
    assert f"{count} values of 'd'" in finding["detail"]


def test_a_column_with_no_spread_around_its_median_has_no_outlier_finding() -> None:
    df = clean_frame()
    df["mostly_zero"] = [0.0] * 900 + list(range(1, 101))
    assert "outliers:mostly_zero" not in findings_of(run_profile(df), "outliers")


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).lognormal(0, 1.5, 5000),
        -np.random.default_rng(1).exponential(2.0, 5000),
        np.random.default_rng(2).normal(1e9, 1.0, 5000),
        np.full(100, 7.25),
    ],
    ids=["right", "left", "large mean", "constant"],
)
def test_skewness_is_scipys(values: np.ndarray) -> None:
    from scipy.stats import skew

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = float(skew(values))
    if np.isnan(expected):
        assert np.isnan(skewness(values))
    else:
        assert skewness(values) == pytest.approx(expected, rel=1e-9)


def test_skewed_columns_get_a_log_or_a_power_transform() -> None:
    rng = np.random.default_rng(0)
    df = clean_frame()
    df["money"] = rng.lognormal(0, 2, len(df))
    df["debt"] = -rng.lognormal(0, 2, len(df))
    found = findings_of(run_profile(df), "skew")
    assert found["skew:money"]["severity"] == "medium"
    assert found["skew:money"]["recommendation"]["params"] == {
        "columns": ["money"],
        "method": "log1p",
    }
    assert found["skew:debt"]["recommendation"]["type"] == "power_transform"
    assert found["skew:debt"]["recommendation"]["params"]["method"] == "yeo-johnson"


def test_rows_far_from_the_rest_are_found_by_the_isolation_forest() -> None:
    rng = np.random.default_rng(0)
    df = clean_frame(2000)
    odd = rng.choice(2000, 20, replace=False)
    df.loc[odd, "b"] += 40
    df.loc[odd, "d"] -= 20
    found = findings_of(run_profile(df), "anomalous_rows")
    finding = found["anomalous_rows:rows"]
    assert finding["severity"] in ("info", "low")
    assert finding["recommendation"] is None
    assert set(finding["columns"][:2]) == {"b", "d"}
    assert "20 of them" in finding["detail"]


def test_the_isolation_forest_needs_two_numeric_columns() -> None:
    df = pd.DataFrame({"x": [1.0] * 99 + [1000.0], "t": ["a", "b"] * 50})
    assert findings_of(run_profile(df), "anomalous_rows") == {}


@pytest.mark.parametrize(("rare", "severity"), [(50, "medium"), (5, "high")])
def test_an_imbalanced_target_recommends_oversampling(rare: int, severity: str) -> None:
    df = clean_frame()
    df["label"] = ["rare"] * rare + ["common"] * (len(df) - rare)
    found = findings_of(run_profile(df, "label"), "class_imbalance")
    finding = found["class_imbalance:label"]
    assert finding["severity"] == severity
    assert finding["recommendation"]["params"] == {
        "target": "label",
        "method": "random_oversample",
        "seed": 0,
    }


def test_many_balanced_classes_are_not_called_imbalanced() -> None:
    df = clean_frame()
    df["label"] = [f"class {i % 20}" for i in range(len(df))]
    assert findings_of(run_profile(df, "label"), "class_imbalance") == {}


def test_a_feature_that_copies_the_target_is_high_leakage() -> None:
    rng = np.random.default_rng(0)
    df = clean_frame()
    df["answer"] = np.where(df["label"] == "yes", 1.0, 0.0) + rng.normal(0, 0.01, len(df))
    found = findings_of(run_profile(df, "label"), "target_leakage")
    assert list(found) == ["target_leakage:answer"]
    assert found["target_leakage:answer"]["severity"] == "high"
    assert found["target_leakage:answer"]["recommendation"]["params"] == {"columns": ["answer"]}


def test_the_missing_figure_lists_only_columns_with_gaps() -> None:
    df = clean_frame()
    df.loc[:99, "a"] = np.nan
    figure = run_profile(df)["figures"]["missing"]
    assert figure["data"][0]["y"] == ["a"] and figure["data"][0]["x"] == [10.0]


def test_the_correlation_figure_needs_two_numeric_columns() -> None:
    df = pd.DataFrame({"x": np.arange(10.0), "t": list("abcdefghij")})
    assert run_profile(df)["figures"]["correlation"] is None


# ---------------------------------------------------------------- the quick model


def test_a_classification_model_reports_accuracy_f1_and_a_confusion_matrix() -> None:
    df = clean_frame()
    df["answer"] = df["label"] == "yes"
    result = insights_model(df, target="label")
    model = result["model"]
    assert set(model) == {"problem", "accuracy", "f1_macro", "classes", "confusion_matrix"}
    assert model["classes"] == ["no", "yes"]
    assert model["accuracy"] == 1 and model["f1_macro"] == 1
    assert sum(map(sum, model["confusion_matrix"])) == 300  # 30 % held out
    assert result["figures"]["confusion_matrix"]["data"][0]["type"] == "heatmap"
    importances = result["figures"]["importances"]["data"][0]
    assert importances["y"][0] == "answer"
    (finding,) = result["findings"]
    assert finding["id"] == "quick_model:label" and finding["severity"] == "info"
    assert "accuracy of 1.000" in finding["detail"]


def test_a_regression_model_reports_rmse_and_r2() -> None:
    df = clean_frame()
    df["y"] = 3 * df["b"] + df["d"]
    result = insights_model(df, target="y")
    assert set(result["model"]) == {"problem", "rmse", "r2"}
    assert result["model"]["problem"] == "regression" and result["model"]["r2"] > 0.8
    assert result["figures"]["confusion_matrix"] is None


def test_a_model_that_cannot_be_trained_becomes_an_info_finding() -> None:
    report = insights_report(clean_frame(6), target="label")
    found = findings_of(report, "quick_model")
    assert found["quick_model:label"]["severity"] == "info"
    assert "No quick model" in found["quick_model:label"]["title"]
    assert report["model"] is None


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize(
    "call",
    [
        lambda df: insights_profile(df),
        lambda df: insights_report(df, target="label"),
    ],
)
def test_an_empty_frame_is_refused_with_a_clear_sentence(
    call: Callable[[pd.DataFrame], Any],
) -> None:
    with pytest.raises(ValueError, match="no rows to analyse"):
        call(clean_frame().head(0))


def test_a_single_row_frame_gets_a_report_without_constant_findings() -> None:
    report = insights_report(clean_frame().head(1), target="label")
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert [f["check"] for f in report["findings"]] == ["quick_model"]


def test_a_target_that_is_not_there_or_holds_dates_is_refused() -> None:
    with pytest.raises(ValueError, match="column 'ghost' is not in the data"):
        insights_report(clean_frame(), target="ghost")
    with pytest.raises(ValueError, match="The target 'day' holds dates"):
        insights_report(clean_frame(), target="day")


def test_an_identifier_as_target_still_gets_a_report() -> None:
    df = clean_frame()
    df["order_id"] = [f"ord-{i}" for i in range(len(df))]
    report = insights_report(df, target="order_id")
    assert report["model"] is None
    assert "No quick model" in findings_of(report, "quick_model")["quick_model:order_id"]["title"]
    assert findings_of(report, "target_leakage") == {}


def test_a_bad_problem_or_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="problem must be one of auto, classification"):
        insights_report(clean_frame(), target="label", problem="ranking")
    with pytest.raises(ValueError, match="seed must be a whole number of 0 or more"):
        insights_profile(clean_frame(), seed=-1)


def test_a_profile_is_the_same_twice() -> None:
    df = messy_frame()
    assert insights_profile(df, target="target") == insights_profile(df, target="target")
