"""Drift from binned sketches: false alarms on resamples, detection of shifts, agreement with
the raw-data statistics, and the report's shape."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from monitor.engine.drift import (
    DriftReport,
    compare,
    drift_frames,
    psi_numeric,
)
from monitor.engine.profile import profile_against, profile_table

NUMERIC = ("normal", "lognormal", "uniform")
CATEGORICAL = ("colour", "size")
COLOURS, COLOUR_P, COLOUR_SHIFTED = ["red", "green", "blue"], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]
SIZES, SIZE_P, SIZE_SHIFTED = ["S", "M", "L", "XL"], [0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]
# Population std of each numeric distribution: a shift of half of it.
STD = {
    "normal": 1.0,
    "lognormal": float(np.sqrt((np.e - 1) * np.e)),
    "uniform": float(np.sqrt(1 / 12)),
}


def _sample(rng: np.random.Generator, n: int, *, shifted: bool = False) -> pd.DataFrame:
    shift = 0.5 if shifted else 0.0
    return pd.DataFrame(
        {
            "normal": rng.normal(size=n) + shift * STD["normal"],
            "lognormal": rng.lognormal(size=n) + shift * STD["lognormal"],
            "uniform": rng.uniform(size=n) + shift * STD["uniform"],
            "colour": rng.choice(COLOURS, size=n, p=COLOUR_SHIFTED if shifted else COLOUR_P),
            "size": rng.choice(SIZES, size=n, p=SIZE_SHIFTED if shifted else SIZE_P),
        }
    )


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return profile_table(_sample(np.random.default_rng(7), 5000))


def _alarms(
    baseline: dict[str, Any], rng: np.random.Generator, n: int, *, shifted: bool, runs: int = 100
) -> tuple[dict[str, int], int, set[str]]:
    per_column = dict.fromkeys((*NUMERIC, *CATEGORICAL), 0)
    dataset = 0
    methods: set[str] = set()
    for _ in range(runs):
        report = compare(baseline, profile_against(baseline, _sample(rng, n, shifted=shifted)))
        for column in report.columns:
            per_column[column.name] += column.drifted
            methods.add(column.method)
        dataset += report.drifted
    return per_column, dataset, methods


def test_resamples_of_the_same_distribution_rarely_raise_a_false_alarm(
    baseline: dict[str, Any],
) -> None:
    per_column, dataset, methods = _alarms(baseline, np.random.default_rng(11), 500, shifted=False)
    assert methods == {"ks", "chisquare"}
    assert dataset <= 2
    # 5 % tests: the rate stays near 0.05 pooled over the columns and for each one.
    assert sum(per_column.values()) / (100 * len(per_column)) <= 0.08
    assert max(per_column.values()) <= 8, per_column


def test_drift_is_found_on_a_shifted_copy_in_nearly_every_run(baseline: dict[str, Any]) -> None:
    per_column, dataset, _ = _alarms(baseline, np.random.default_rng(12), 500, shifted=True)
    assert all(count >= 95 for count in per_column.values()), per_column
    assert dataset >= 95


def test_large_resamples_use_distances_and_raise_no_false_alarm(
    baseline: dict[str, Any],
) -> None:
    per_column, dataset, methods = _alarms(baseline, np.random.default_rng(13), 5000, shifted=False)
    assert methods == {"wasserstein", "jensenshannon"}
    assert sum(per_column.values()) == 0, per_column
    assert dataset == 0


def test_large_shifted_copies_are_found_by_the_distances(baseline: dict[str, Any]) -> None:
    per_column, dataset, _ = _alarms(
        baseline, np.random.default_rng(14), 5000, shifted=True, runs=20
    )
    assert all(count == 20 for count in per_column.values()), per_column
    assert dataset == 20


@pytest.mark.parametrize("dist", ["normal", "lognormal", "uniform", "integers"])
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_ks_from_sketches_matches_scipy_on_the_raw_data(dist: str, shift: float) -> None:
    rng = np.random.default_rng(3)
    draw = {
        "normal": lambda n: rng.normal(size=n),
        "lognormal": lambda n: rng.lognormal(size=n),
        "uniform": lambda n: rng.uniform(size=n),
        "integers": lambda n: rng.poisson(4, size=n).astype(float),
    }[dist]
    ref = draw(5000)
    cur = draw(800) + shift * ref.std()
    report = drift_frames(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), method="ks")
    column = report.columns[0]
    raw = sps.ks_2samp(ref, cur)
    assert column.method == "ks"
    assert column.ks is not None and column.p_value is not None
    assert abs(column.ks - raw.statistic) <= 0.01
    if raw.pvalue > 1e-10:
        assert abs(np.log10(column.p_value) - np.log10(raw.pvalue)) <= 1
    else:
        assert column.p_value < 1e-6


@pytest.mark.parametrize("dist", ["normal", "lognormal", "exponential", "integers"])
def test_wasserstein_from_sketches_is_within_five_percent_of_scipy(dist: str) -> None:
    rng = np.random.default_rng(5)
    draw = {
        "normal": lambda n: rng.normal(size=n),
        "lognormal": lambda n: rng.lognormal(size=n),
        "exponential": lambda n: rng.exponential(size=n),
        "integers": lambda n: rng.poisson(4, size=n).astype(float),
    }[dist]
    ref = draw(5000)
    # Integers stay integers (shifted by a whole number), so they sit on the edges.
    shift = round(ref.std()) if dist == "integers" else 0.5 * ref.std()
    for cur in (draw(3000) + shift, draw(3000) * 2, draw(500) + shift):
        report = drift_frames(
            pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), method="wasserstein"
        )
        column = report.columns[0]
        raw = sps.wasserstein_distance(ref, cur) / ref.std(ddof=1)
        assert column.method == "wasserstein"
        assert column.wasserstein is not None
        assert abs(column.wasserstein / raw - 1) <= 0.05, (column.wasserstein, raw)


def test_sketches_of_a_discrete_column_are_exact() -> None:
    rng = np.random.default_rng(6)
    ref = rng.poisson(3, size=4000).astype(float)
    # Inside the reference's range every current value is an edge too.
    cur = np.minimum(rng.poisson(4, size=700), ref.max()).astype(float)
    column = drift_frames(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).columns[0]
    assert column.ks == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
    raw = sps.wasserstein_distance(ref, cur) / ref.std(ddof=1)
    assert column.wasserstein == pytest.approx(raw, rel=1e-9)


def test_psi_of_identical_data_is_zero_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=4000), "c": rng.choice(["a", "b", "c"], 4000)})
    same = drift_frames(frame, frame)
    assert [c.psi for c in same.columns] == [0.0, 0.0]
    assert not same.drifted
    counts = np.array([5.0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 5, 0])
    assert psi_numeric(counts, counts) == 0.0
    shifted = frame.assign(x=frame["x"] + 1.0)
    moved = drift_frames(frame, shifted, method="psi")
    assert moved.columns[0].method == "psi"
    assert moved.columns[0].psi is not None and moved.columns[0].psi > 0.5
    assert moved.columns[0].drifted


def test_every_applicable_distance_is_reported_whatever_decides(baseline: dict[str, Any]) -> None:
    current = profile_against(baseline, _sample(np.random.default_rng(2), 300))
    report = compare(baseline, current)
    for column in report.columns:
        assert column.psi is not None
        if column.kind == "numeric":
            assert column.method == "ks"
            assert column.score == column.p_value and column.threshold == 0.05
            assert column.ks is not None and column.wasserstein is not None
            assert column.jensen_shannon is None
        else:
            assert column.method == "chisquare"
            assert column.jensen_shannon is not None
            assert column.ks is None and column.wasserstein is None


def test_a_named_method_and_threshold_override_the_defaults(baseline: dict[str, Any]) -> None:
    current = profile_against(baseline, _sample(np.random.default_rng(4), 300))
    report = compare(baseline, current, method="wasserstein", threshold=1e-6)
    by_name = {c.name: c for c in report.columns}
    assert by_name["normal"].method == "wasserstein"
    assert by_name["normal"].threshold == 1e-6 and by_name["normal"].drifted
    # Wasserstein does not apply to text: those columns stay on auto and its defaults.
    assert by_name["colour"].method == "chisquare"
    assert by_name["colour"].threshold == 0.05
    assert report.num_drifted >= 3
    with pytest.raises(ValueError, match="unknown drift method"):
        compare(baseline, current, method="energy")


def test_an_unseen_category_counts_as_drift_without_an_infinite_statistic(
    baseline: dict[str, Any],
) -> None:
    frame = _sample(np.random.default_rng(6), 400)
    frame.loc[:39, "colour"] = "purple"
    column = next(
        c for c in compare(baseline, profile_against(baseline, frame)).columns if c.name == "colour"
    )
    assert column.drifted
    assert column.statistic is not None and np.isfinite(column.statistic)
    assert "purple" in column.histogram["edges"]


def test_a_column_without_current_values_is_not_drifted_and_says_why() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    current = pd.DataFrame({"x": [np.nan] * 10, "c": [None] * 10})
    report = drift_frames(reference, current)
    assert [(c.method, c.drifted, c.note) for c in report.columns] == [
        ("none", False, "no values"),
        ("none", False, "no values"),
    ]
    assert report.share_drifted == 0.0 and not report.drifted


def test_the_report_is_json_with_short_histograms(baseline: dict[str, Any]) -> None:
    frame = _sample(np.random.default_rng(9), 2000, shifted=True)
    report = compare(baseline, profile_against(baseline, frame.drop(columns=["size"])))
    assert isinstance(report, DriftReport)
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert doc["num_columns"] == 4 and doc["num_drifted"] == 4
    assert doc["drifted"] and doc["share_drifted"] == 1.0 and doc["share_threshold"] == 0.5
    for column in doc["columns"]:
        histogram = column["histogram"]
        if column["kind"] == "numeric":
            assert 2 <= len(histogram["edges"]) <= 31
            assert len(histogram["reference"]) == len(histogram["edges"]) - 1
            assert np.all(np.diff(histogram["edges"]) > 0)
        else:
            assert len(histogram["edges"]) == len(histogram["reference"]) <= 30
        assert sum(histogram["reference"]) == pytest.approx(1.0)
        assert sum(histogram["current"]) == pytest.approx(1.0)
        assert column["reference_count"] == 5000 and column["current_count"] == 2000


def test_a_constant_reference_column_still_shows_a_shift() -> None:
    reference = pd.DataFrame({"k": [5.0] * 200})
    current = pd.DataFrame({"k": [5.0] * 50 + [7.0] * 50})
    column = drift_frames(reference, current).columns[0]
    assert column.drifted and column.ks == 0.5
    # Normed by the reference's mean when its std is 0 (raw-data value 2 × 0.5 / 5 = 0.2;
    # beyond the last edge the sketch only knows the current's quantiles).
    assert column.wasserstein is not None and 0.1 < column.wasserstein <= 0.2
    assert column.histogram == {
        "edges": [3.0, 5.0, 7.0],
        "reference": [1.0, 0.0],
        "current": [0.5, 0.5],
    }
    assert not drift_frames(reference, reference.iloc[:30]).columns[0].drifted


def test_an_empty_current_compares_nothing_as_drifted(baseline: dict[str, Any]) -> None:
    current = profile_against(baseline, _sample(np.random.default_rng(1), 0))
    report = compare(baseline, current)
    assert report.num_columns == 5 and report.num_drifted == 0 and not report.drifted
    assert {c.note for c in report.columns} == {"no values"}
    json.dumps(report.to_dict(), allow_nan=False)
