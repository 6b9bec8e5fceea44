"""Clarify bias metrics against smclarify, the open-source library SageMaker Clarify runs."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from smclarify.bias import metrics as sm_metrics
from smclarify.bias import report as sm

from monitor.engine.bias import (
    POST_TRAINING_METRICS,
    PRE_TRAINING_METRICS,
    Facet,
    bias_report,
    metrics_for_mask,
)

TOLERANCE = 1e-6
# smclarify 0.5 calls astype(copy=...), which pandas 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
ALL_METRICS = (*PRE_TRAINING_METRICS, *POST_TRAINING_METRICS)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """2,000 applicants; women are less often labelled and predicted >50K (a planted bias)."""
    rng = np.random.default_rng(7)
    n = 2000
    sex = rng.choice(["Female", "Male", "Other"], size=n, p=[0.4, 0.5, 0.1])
    age = rng.uniform(18.0, 80.0, size=n)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    group = rng.integers(0, 4, size=n)
    score = 50.0 + 8.0 * x1 - 6.0 * (sex == "Female") + 0.2 * (age - 40.0) + 2.0 * group
    score = score + rng.normal(scale=5.0, size=n)
    predicted_score = score - 3.0 * (sex == "Female") + rng.normal(scale=6.0, size=n)
    return pd.DataFrame(
        {
            "sex": sex,
            "age": age,
            "x1": x1,
            "x2": x2,
            "group": group,
            "income": np.where(score > 55.0, ">50K", "<=50K"),
            "pred": np.where(predicted_score > 55.0, ">50K", "<=50K"),
            "score": score,
            "pred_score": predicted_score,
        }
    )


def _for_smclarify(df: pd.DataFrame) -> pd.DataFrame:
    # smclarify 0.5 predates pandas' string dtype and cannot classify such a column.
    return df.astype({c: object for c in df.columns if pd.api.types.is_string_dtype(df[c])})


def _smclarify(
    df: pd.DataFrame,
    facet: str,
    facet_values: list[Any] | None,
    label: str,
    positive: list[Any],
    predicted: str,
    group: str | None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """smclarify's two stages merged: value_or_threshold -> metric name -> its result."""
    df = _for_smclarify(df)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for stage in (sm.StageType.PRE_TRAINING, sm.StageType.POST_TRAINING):
        entries = sm.bias_report(
            df,
            sm.FacetColumn(facet, list(facet_values) if facet_values is not None else None),
            sm.LabelColumn(label, df[label], list(positive)),
            stage,
            sm.LabelColumn(predicted, df[predicted], list(positive)),
            metrics=["all"],
            group_variable=df[group] if group is not None else None,
        )
        for entry in entries:
            metrics = out.setdefault(entry["value_or_threshold"], {})
            for metric in entry["metrics"]:
                name = "DCAcc" if metric["name"] == "DCA" else metric["name"]
                metrics[name] = metric
    return out


def _ours(report: dict[str, Any], facet: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Our report's two stages merged the same way, for one facet."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for stage in ("pre_training_bias", "post_training_bias"):
        for entry in report[stage]:
            if entry["facet"] == facet:
                metrics = out.setdefault(entry["value_or_threshold"], {})
                metrics.update({metric["name"]: metric for metric in entry["metrics"]})
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        return float(value.replace("Infinity", "inf"))
    return None if value is None else float(value)


def _assert_same(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> None:
    assert list(ours) == list(ALL_METRICS)
    assert set(theirs) == set(ALL_METRICS)
    for name in ALL_METRICS:
        mine, reference = _number(ours[name]["value"]), _number(theirs[name]["value"])
        if reference is None:
            assert mine is None, (name, ours[name], theirs[name])
            assert ours[name]["error"]
        else:
            assert mine is not None, (name, ours[name], theirs[name])
            if math.isinf(reference):
                assert mine == reference, name
            else:
                assert abs(mine - reference) <= TOLERANCE, (name, mine, reference)
        if name not in ("KL", "DCAcc"):
            assert ours[name]["description"] == theirs[name]["description"]


CATEGORICAL_COLUMNS = ["sex", "age", "x1", "x2", "group", "income", "pred"]


@pytest.mark.parametrize("values", [["Female"], ["Female", "Other"]])
def test_a_categorical_facet_with_given_values_matches_smclarify(
    frame: pd.DataFrame, values: list[str]
) -> None:
    df = frame[CATEGORICAL_COLUMNS]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex", values)],
        predicted_label="pred",
        group_variable="group",
    )
    theirs = _smclarify(df, "sex", values, "income", [">50K"], "pred", "group")
    ours = _ours(report, "sex")
    assert list(ours) == list(theirs) == [",".join(values)]
    _assert_same(ours[",".join(values)], theirs[",".join(values)])
    entry = report["pre_training_bias"][0]
    assert entry["group_size"] == int(df["sex"].isin(values).sum())
    assert report["label"] == "income"
    assert report["positive_label_values"] == [">50K"]
    assert report["num_rows"] == len(df)
    # The planted bias shows: women are labelled and predicted positive less often.
    values_by_name = {m["name"]: m["value"] for m in entry["metrics"]}
    assert values_by_name["DPL"] > 0.1
    # Every metric has a value here, the flip test included.
    assert all(isinstance(metric["value"], float) for metric in ours[",".join(values)].values())


def test_a_categorical_facet_without_values_reports_each_value_as_smclarify(
    frame: pd.DataFrame,
) -> None:
    df = frame[CATEGORICAL_COLUMNS]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex")],
        predicted_label="pred",
        group_variable="group",
    )
    theirs = _smclarify(df, "sex", None, "income", [">50K"], "pred", "group")
    ours = _ours(report, "sex")
    assert list(ours) == list(theirs)
    assert sorted(ours) == ["Female", "Male", "Other"]
    for value in ours:
        _assert_same(ours[value], theirs[value])


def test_a_continuous_facet_with_a_threshold_matches_smclarify(frame: pd.DataFrame) -> None:
    df = frame[["age", "x1", "x2", "group", "income", "pred"]]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("age", 40.0)],
        predicted_label="pred",
        group_variable="group",
    )
    theirs = _smclarify(df, "age", [40.0], "income", [">50K"], "pred", "group")
    ours = _ours(report, "age")
    assert list(ours) == [">40.0"]
    [interval] = theirs
    assert interval.startswith("(40.0, ")
    _assert_same(ours[">40.0"], theirs[interval])
    assert report["pre_training_bias"][0]["group_size"] == int((df["age"] > 40.0).sum())


def test_a_regression_label_with_a_threshold_matches_smclarify(frame: pd.DataFrame) -> None:
    df = frame[["sex", "x1", "x2", "group", "score", "pred_score"]]
    report = bias_report(
        df,
        label="score",
        positive_label_values=55.0,
        facets=[Facet("sex", ["Female"])],
        predicted_label="pred_score",
        group_variable="group",
    )
    theirs = _smclarify(df, "sex", ["Female"], "score", [55.0], "pred_score", "group")
    ours = _ours(report, "sex")
    _assert_same(ours["Female"], theirs["Female"])
    assert report["positive_label_values"] == 55.0


def test_predictions_given_as_an_array_equal_predictions_given_as_a_column(
    frame: pd.DataFrame,
) -> None:
    df = frame[CATEGORICAL_COLUMNS]
    common: dict[str, Any] = {
        "label": "income",
        "positive_label_values": [">50K"],
        "facets": [Facet("sex", ["Female"])],
        "group_variable": "group",
    }
    by_column = bias_report(df, predicted_label="pred", **common)
    by_array = bias_report(df.drop(columns="pred"), predicted_label=df["pred"].to_numpy(), **common)
    assert by_array == by_column


def test_intersectional_groups_equal_the_core_on_the_anded_mask_and_smclarify(
    frame: pd.DataFrame,
) -> None:
    df = frame[CATEGORICAL_COLUMNS]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex", ["Female"]), Facet("age", 40.0)],
        predicted_label="pred",
        group_variable="group",
    )
    facets = [entry["facet"] for entry in report["post_training_bias"]]
    assert facets == ["sex", "age", "sex & age"]
    entry = report["post_training_bias"][2]
    assert entry["value_or_threshold"] == "Female & >40.0"
    mask = (df["sex"] == "Female").to_numpy() & (df["age"] > 40.0).to_numpy()
    assert entry["group_size"] == int(mask.sum())

    core = metrics_for_mask(
        mask,
        (df["income"] == ">50K").to_numpy(),
        predicted_positive=(df["pred"] == ">50K").to_numpy(),
        features=df[["x1", "x2", "group"]],
        group=df["group"].to_numpy(),
    )
    ours = _ours(report, "sex & age")["Female & >40.0"]
    assert ours == {name: result.to_json() for name, result in core.items()}

    # smclarify takes the AND-ed mask as a boolean facet column.
    derived = df[["x1", "x2", "group", "income", "pred"]].assign(both=mask)
    theirs = _smclarify(derived, "both", [True], "income", [">50K"], "pred", "group")
    _assert_same(ours, theirs["True"])


def test_intersections_cover_every_combination_of_groups(frame: pd.DataFrame) -> None:
    df = frame[["sex", "age", "x1", "income"]]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex"), Facet("age", 40.0)],
        stages=("pre_training_bias",),
    )
    assert "post_training_bias" not in report
    crossed = [e for e in report["pre_training_bias"] if e["facet"] == "sex & age"]
    assert sorted(e["value_or_threshold"] for e in crossed) == [
        "Female & >40.0",
        "Male & >40.0",
        "Other & >40.0",
    ]
    single = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex"), Facet("age", 40.0)],
        stages=("pre_training_bias",),
        intersectional=False,
    )
    assert [e["facet"] for e in single["pre_training_bias"]] == ["sex"] * 3 + ["age"]


def test_an_empty_group_gives_null_values_with_an_error_and_valid_json(
    frame: pd.DataFrame,
) -> None:
    df = frame[CATEGORICAL_COLUMNS]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex", ["Nobody"]), Facet("sex", ["Female", "Male", "Other"])],
        predicted_label="pred",
        group_variable="group",
        intersectional=False,
    )
    json.dumps(report, allow_nan=False)
    for value in ("Nobody", "Female,Male,Other"):
        ours = _ours(report, "sex")[value]
        for name in ALL_METRICS:
            if name == "GE":
                assert isinstance(ours[name]["value"], float)
            else:
                assert ours[name]["value"] is None
                assert "empty" in ours[name]["error"]
    theirs = _smclarify(df, "sex", ["Nobody"], "income", [">50K"], "pred", "group")["Nobody"]
    ours = _ours(report, "sex")["Nobody"]
    # smclarify's CDD gives 0.0 on an empty group; we give no value rather than a false zero.
    assert theirs["CDDL"]["value"] == theirs["CDDPL"]["value"] == 0.0
    for name in ("CDDL", "CDDPL"):
        theirs[name] = {**theirs[name], "value": None}
    _assert_same(ours, theirs)


def test_divisions_by_zero_match_smclarify_and_serialise_as_inf() -> None:
    # No one outside the group ("b") is predicted positive: DI and DCAcc divide by zero, and
    # TE does too (no false positives outside the group). The k-NN falls back to 1 neighbour.
    df = pd.DataFrame(
        {
            "facet": ["a"] * 6 + ["b"] * 6,
            "x": [float(i) for i in range(12)],
            "label": list("yynnynyyynny"),
            "pred": list("yyynnnnnnnnn"),
            "group": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
        }
    )
    report = bias_report(
        df,
        label="label",
        positive_label_values=["y"],
        facets=[Facet("facet", ["a"])],
        predicted_label="pred",
        group_variable="group",
    )
    json.dumps(report, allow_nan=False)
    ours = _ours(report, "facet")["a"]
    assert ours["DI"]["value"] == "inf"
    assert ours["DCAcc"]["value"] == "inf"
    assert ours["TE"]["value"] == "-inf"
    theirs = _smclarify(df, "facet", ["a"], "label", ["y"], "pred", "group")["a"]
    _assert_same(ours, theirs)


def test_without_a_group_variable_cddl_is_null_as_in_smclarify(frame: pd.DataFrame) -> None:
    df = frame[CATEGORICAL_COLUMNS]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("sex", ["Female"])],
        predicted_label="pred",
    )
    ours = _ours(report, "sex")["Female"]
    assert ours["CDDL"]["value"] is None and ours["CDDPL"]["value"] is None
    theirs = _smclarify(df, "sex", ["Female"], "income", [">50K"], "pred", None)["Female"]
    _assert_same(ours, theirs)


def test_the_flip_test_is_null_when_a_feature_is_not_numeric_as_in_smclarify(
    frame: pd.DataFrame,
) -> None:
    # The string column "sex" stays among the features of the age facet.
    df = frame[CATEGORICAL_COLUMNS]
    report = bias_report(
        df,
        label="income",
        positive_label_values=[">50K"],
        facets=[Facet("age", 40.0)],
        predicted_label="pred",
        group_variable="group",
    )
    ours = _ours(report, "age")[">40.0"]
    assert ours["FT"]["value"] is None
    assert "non-numeric" in ours["FT"]["error"]
    [theirs] = _smclarify(df, "age", [40.0], "income", [">50K"], "pred", "group").values()
    _assert_same(ours, theirs)


def test_label_distributions_over_raw_values_match_smclarify_metric_functions() -> None:
    rng = np.random.default_rng(3)
    n = 600
    sensitive = rng.random(n) < 0.3
    label = np.where(sensitive, rng.choice([0, 1, 2], n), rng.choice([0, 1, 2, 3], n))
    core = metrics_for_mask(
        sensitive, label == 1, label_values=label, stages=("pre_training_bias",)
    )
    for name in ("KL", "JS", "LP", "TVD", "KS"):
        reference = getattr(sm_metrics, name)(pd.Series(label), pd.Series(sensitive))
        value = core[name].value
        assert value is not None and abs(value - reference) <= TOLERANCE, name


def test_positive_values_are_converted_to_the_label_type_when_none_match(
    frame: pd.DataFrame,
) -> None:
    df = frame[["sex", "x1", "income"]].assign(income=(frame["income"] == ">50K").astype(int))
    kwargs: dict[str, Any] = {"label": "income", "facets": [Facet("sex", ["Female"])]}
    kwargs["stages"] = ("pre_training_bias",)
    as_ints = bias_report(df, positive_label_values=[1], **kwargs)
    as_strings = bias_report(df, positive_label_values=["1"], **kwargs)
    assert as_ints["pre_training_bias"] == as_strings["pre_training_bias"]


def test_post_training_without_predictions_is_a_contract_error(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="predicted"):
        bias_report(frame, label="income", positive_label_values=[">50K"], facets=[Facet("sex")])
    with pytest.raises(ValueError, match="not in the data"):
        bias_report(
            frame,
            label="income",
            positive_label_values=[">50K"],
            facets=[Facet("missing")],
            stages=("pre_training_bias",),
        )
