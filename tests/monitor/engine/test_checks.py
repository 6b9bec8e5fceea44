"""Suggested constraints, their validation, and one violation of each kind from a crafted
current frame."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.engine.checks import (
    ConstraintsError,
    check_constraints,
    suggest_constraints,
    validate_constraints,
)
from monitor.engine.drift import compare
from monitor.engine.profile import profile_against, profile_table


def _sample(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(3000, 500, size=n)
    income[rng.random(n) < 0.012] = np.nan
    return pd.DataFrame(
        {
            "age": rng.integers(18, 91, size=n),
            "income": income,
            "city": rng.choice(["Paris", "Lyon", "Nice"], size=n, p=[0.4, 0.35, 0.25]),
            "user": [f"u{i}" for i in rng.integers(0, 10**6, size=n)],
        }
    )


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return profile_table(_sample(4000, 1))


@pytest.fixture(scope="module")
def constraints(baseline: dict[str, Any]) -> dict[str, Any]:
    return suggest_constraints(baseline)


def _check(
    baseline: dict[str, Any], constraints: dict[str, Any], frame: pd.DataFrame
) -> list[dict[str, Any]]:
    return check_constraints(baseline, constraints, profile_against(baseline, frame), None)


def _kinds(violations: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    return {(v["feature"], v["check"]) for v in violations}


def test_suggested_constraints_follow_the_baseline(
    baseline: dict[str, Any], constraints: dict[str, Any]
) -> None:
    features = {f["name"]: f for f in constraints["features"]}
    income = next(c for c in baseline["columns"] if c["name"] == "income")
    assert income["completeness"] < 1
    assert features["income"]["completeness"] == np.floor(income["completeness"] * 100) / 100
    assert features["age"] == {
        "name": "age",
        "inferred_type": "Integral",
        "completeness": 1.0,
        "num_constraints": {"min": 18, "max": 90, "is_non_negative": True},
    }
    assert features["city"]["string_constraints"] == {"domains": ["Lyon", "Nice", "Paris"]}
    # Thousands of distinct users: an unbounded domain.
    assert "string_constraints" not in features["user"]
    assert constraints["monitoring_config"]["value_range_check"] == {
        "enabled": True,
        "threshold": 0.99,
    }
    assert constraints["monitoring_config"]["drift_share_threshold"] == 0.5
    json.dumps(constraints, allow_nan=False)
    assert validate_constraints(constraints, baseline) == constraints


def test_completeness_is_rounded_down_to_two_decimals() -> None:
    frame = pd.DataFrame({"x": [1.0] * 988 + [np.nan] * 12, "y": [1.0] * 710 + [None] * 290})
    features = suggest_constraints(profile_table(frame))["features"]
    assert [f["completeness"] for f in features] == [0.98, 0.71]


def test_a_clean_resample_raises_no_violation(
    baseline: dict[str, Any], constraints: dict[str, Any]
) -> None:
    relaxed = copy.deepcopy(constraints)
    # Completeness of 1.2 % missing varies with the sample; allow for it.
    relaxed["monitoring_config"]["completeness_check"]["threshold"] = 0.02
    assert _check(baseline, relaxed, _sample(600, 2)) == []


def test_each_violation_is_raised_by_a_crafted_frame(
    baseline: dict[str, Any], constraints: dict[str, Any]
) -> None:
    frame = _sample(600, 3).astype(object)
    frame.loc[:29, "income"] = "n/a"  # data_type_check
    frame.loc[30:229, "age"] = None  # completeness_check
    frame.loc[:, "city"] = np.where(np.arange(600) < 300, "Paris", "Marseille")  # domains
    frame.loc[230:329, "age"] = 150  # value_range_check
    frame = frame.drop(columns=["user"])  # missing_column_check
    frame["coupon"] = "X"  # extra_column_check
    violations = _check(baseline, constraints, frame)
    for v in violations:
        assert set(v) == {"feature", "check", "description", "value", "threshold"}
        assert isinstance(v["description"], str) and v["description"]
    by_kind = {(v["feature"], v["check"]): v for v in violations}
    assert set(by_kind) >= {
        ("user", "missing_column_check"),
        ("coupon", "extra_column_check"),
        ("income", "data_type_check"),
        ("age", "completeness_check"),
        ("city", "categorical_values_check"),
        ("age", "value_range_check"),
        ("city", "baseline_drift_check"),
        ("age", "baseline_drift_check"),
    }
    present = int(frame["income"].notna().sum())
    assert by_kind[("income", "data_type_check")]["value"] == pytest.approx(1 - 30 / present)
    assert by_kind[("income", "data_type_check")]["threshold"] == 1.0
    assert by_kind[("age", "completeness_check")]["value"] == pytest.approx(400 / 600)
    assert by_kind[("age", "completeness_check")]["threshold"] == 1.0
    assert by_kind[("city", "categorical_values_check")]["value"] == pytest.approx(0.5)
    assert by_kind[("age", "value_range_check")]["value"] == pytest.approx(300 / 400)
    assert by_kind[("user", "missing_column_check")]["value"] == 1.0
    assert violations[0]["check"] == "missing_column_check"
    json.dumps(violations, allow_nan=False)


def test_a_drifted_dataset_is_a_table_level_violation(
    baseline: dict[str, Any], constraints: dict[str, Any]
) -> None:
    frame = _sample(600, 4)
    frame["age"] = frame["age"] // 2 + 10
    frame["income"] = frame["income"] * 1.3
    frame["city"] = "Nice"
    current = profile_against(baseline, frame)
    drift = compare(baseline, current)
    assert drift.num_drifted == 3
    violations = check_constraints(baseline, constraints, current, drift)
    table = [v for v in violations if v["feature"] is None]
    assert [v["check"] for v in table] == ["baseline_drift_check"]
    assert table[0]["value"] == 0.75 and table[0]["threshold"] == 0.5
    # The report as JSON works the same as the object.
    assert check_constraints(baseline, constraints, current, drift.to_dict()) == violations


def test_a_disabled_check_gives_nothing(
    baseline: dict[str, Any], constraints: dict[str, Any]
) -> None:
    frame = _sample(600, 5).drop(columns=["user"]).assign(coupon="X")
    frame.loc[:99, "age"] = 150
    assert _kinds(_check(baseline, constraints, frame)) >= {
        ("user", "missing_column_check"),
        ("coupon", "extra_column_check"),
        ("age", "value_range_check"),
    }
    edited = copy.deepcopy(constraints)
    for name in ("missing_column_check", "extra_column_check", "value_range_check"):
        edited["monitoring_config"][name]["enabled"] = False
    checks = {v["check"] for v in _check(baseline, edited, frame)}
    assert checks.isdisjoint({"missing_column_check", "extra_column_check", "value_range_check"})
    # A threshold that tolerates one missing column is another way to silence it.
    edited = copy.deepcopy(constraints)
    edited["monitoring_config"]["missing_column_check"]["threshold"] = 1
    assert "missing_column_check" not in {v["check"] for v in _check(baseline, edited, frame)}


def test_edited_bounds_and_relaxed_types_are_respected(
    baseline: dict[str, Any], constraints: dict[str, Any]
) -> None:
    frame = _sample(500, 6)
    frame["age"] = frame["age"].astype(float)
    frame.loc[:49, "age"] = 40.5
    assert ("age", "data_type_check") in _kinds(_check(baseline, constraints, frame))
    edited = copy.deepcopy(constraints)
    age = next(f for f in edited["features"] if f["name"] == "age")
    age["inferred_type"] = "Fractional"
    age["num_constraints"]["max"] = 60
    kinds = _kinds(_check(baseline, edited, frame))
    assert ("age", "data_type_check") not in kinds
    assert ("age", "value_range_check") in kinds


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["monitoring_config"]["data_type_check"].update(threshold=1.5),
         "monitoring_config.data_type_check.threshold"),
        (lambda d: d["monitoring_config"]["missing_column_check"].update(threshold=-1),
         "monitoring_config.missing_column_check.threshold"),
        (lambda d: d["monitoring_config"]["baseline_drift_check"].update(method="energy"),
         "monitoring_config.baseline_drift_check.method"),
        (lambda d: d["monitoring_config"]["baseline_drift_check"].update(threshold=0),
         "monitoring_config.baseline_drift_check.threshold"),
        (lambda d: d["monitoring_config"].update(spelling_check={"enabled": True}),
         "monitoring_config.spelling_check"),
        (lambda d: d["monitoring_config"].update(drift_share_threshold=0),
         "monitoring_config.drift_share_threshold"),
        (lambda d: d["features"][0].update(name="height"), "features[0].name"),
        (lambda d: d["features"][1].update(completeness=2), "features[1].completeness"),
        (lambda d: d["features"][0]["num_constraints"].update(min=100),
         "features[0].num_constraints.min"),
        (lambda d: d["features"][2]["string_constraints"].update(domains="Paris"),
         "features[2].string_constraints.domains"),
    ],
)  # fmt: skip
def test_validation_rejects_a_bad_document_naming_the_field(
    baseline: dict[str, Any], constraints: dict[str, Any], edit: Any, field: str
) -> None:
    doc = copy.deepcopy(constraints)
    edit(doc)
    with pytest.raises(ConstraintsError) as caught:
        validate_constraints(doc, baseline)
    assert caught.value.field == field
    assert field in str(caught.value)
