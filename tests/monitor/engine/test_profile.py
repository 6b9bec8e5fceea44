"""Statistics documents: types, completeness, exact bucket counts, quantiles, Parquet input,
sampling of long columns and profiling current data against a baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.engine.profile import (
    QUANTILES,
    bucket_counts,
    edge_counts,
    profile_against,
    profile_table,
)


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.normal(50, 10, size=n)
    floats[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "age": rng.integers(18, 91, size=n),
            "income": floats,
            "city": rng.choice(["Paris", "Lyon", "Nice"], size=n, p=[0.5, 0.3, 0.2]),
            "member": rng.random(n) < 0.3,
            "empty": pd.Series([None] * n, dtype=object),
        }
    )


def _columns(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in stats["columns"]}


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (int, float, str, bool)


def test_statistics_of_a_small_frame_have_the_right_types_and_exact_counts() -> None:
    frame = _frame()
    stats = profile_table(frame)
    cols = _columns(stats)
    assert stats["version"] == 1 and stats["num_rows"] == 400
    assert {n: (c["inferred_type"], c["kind"]) for n, c in cols.items()} == {
        "age": ("Integral", "numeric"),
        "income": ("Fractional", "numeric"),
        "city": ("String", "categorical"),
        "member": ("Boolean", "categorical"),
        "empty": ("Unknown", "categorical"),
    }
    income = frame["income"].dropna().to_numpy()
    assert cols["income"]["count"] == income.size
    assert cols["income"]["missing"] == 400 - income.size
    assert cols["income"]["completeness"] == pytest.approx(income.size / 400)
    assert cols["empty"]["count"] == 0 and cols["empty"]["completeness"] == 0.0
    for name, values in (("age", frame["age"].to_numpy(float)), ("income", income)):
        block = cols[name]["numeric"]
        assert sum(block["counts"]) == values.size
        assert len(block["counts"]) == len(block["edges"]) + 1
        assert np.all(np.diff(block["edges"]) > 0) and len(block["edges"]) <= 101
        assert block["counts"] == bucket_counts(values, block["edges"]).tolist()
        assert block["at_edges"] == edge_counts(values, block["edges"]).tolist()
        assert block["mean"] == pytest.approx(values.mean())
        assert block["std"] == pytest.approx(values.std(ddof=1))
        assert block["sum"] == pytest.approx(values.sum())
        assert block["distinct"] == np.unique(values).size
        expected = np.quantile(values, QUANTILES)
        assert [block["quantiles"][str(q)] for q in QUANTILES] == pytest.approx(expected)
    age = cols["age"]["numeric"]
    assert isinstance(age["min"], int) and age["min"] == frame["age"].min()
    assert isinstance(age["max"], int) and age["max"] == frame["age"].max()
    # 73 possible ages: the edges are the distinct values themselves.
    assert age["edges"] == sorted(float(v) for v in frame["age"].unique())
    city = cols["city"]["categorical"]
    assert city["frequencies"] == frame["city"].value_counts().to_dict()
    assert city["distinct"] == 3 and city["other"] == 0
    member = cols["member"]["categorical"]
    assert member["frequencies"] == {
        "False": int((~frame["member"]).sum()),
        "True": int(frame["member"].sum()),
    }
    assert _plain(stats)
    json.dumps(stats, allow_nan=False)


def test_buckets_hold_values_up_to_and_including_their_right_edge() -> None:
    edges = [1.0, 2.0, 3.0]
    values = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 3.5, np.nan, np.inf])
    assert bucket_counts(values, edges).tolist() == [2, 2, 1, 1]
    assert bucket_counts(np.sort(values), edges, presorted=True).tolist() == [2, 2, 1, 1]
    assert edge_counts(values[:6], edges).tolist() == [1, 1, 1]


def test_a_parquet_path_gives_the_same_statistics_as_the_frame(tmp_path: Path) -> None:
    frame = _frame(seed=1)
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=100)
    progress: list[float] = []
    from_path = profile_table(path, on_progress=progress.append)
    assert from_path == profile_table(frame)
    assert from_path == profile_table(pa.Table.from_pandas(frame, preserve_index=False))
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert _columns(profile_table(str(path), columns=["city"])).keys() == {"city"}


def test_many_categories_keep_the_most_frequent_and_sum_the_rest() -> None:
    values = [f"c{i}" for i in range(30) for _ in range(i + 1)]
    stats = profile_table(pd.DataFrame({"c": values}), top_categories=5)
    block = stats["columns"][0]["categorical"]
    assert block["distinct"] == 30
    assert block["frequencies"] == {f"c{i}": i + 1 for i in range(29, 24, -1)}
    assert block["other"] == len(values) - sum(block["frequencies"].values())


def test_a_long_column_takes_its_edges_from_a_sample_and_keeps_exact_counts() -> None:
    rng = np.random.default_rng(4)
    values = rng.lognormal(size=60_000)
    frame = pd.DataFrame({"x": values, "y": -values})
    progress: list[float] = []
    stats = profile_table(frame, sample_size=10_000, on_progress=progress.append)
    assert progress == [0.5, 1.0]
    block = stats["columns"][0]["numeric"]
    assert stats["columns"][1]["numeric"]["min"] == -values.max()
    assert block["min"] == values.min() and block["max"] == values.max()
    assert block["edges"][0] == values.min() and block["edges"][-1] == values.max()
    assert block["counts"] == bucket_counts(values, block["edges"]).tolist()
    assert block["counts"][-1] == 0 and block["counts"][0] == 1
    assert abs(block["distinct"] / 60_000 - 1) < 0.05
    median = block["quantiles"]["0.5"]
    assert abs(np.mean(values <= median) - 0.5) < 0.02
    few = profile_table(pd.DataFrame({"x": rng.integers(0, 7, 30_000)}), sample_size=1_000)
    assert few["columns"][0]["numeric"]["distinct"] == 7


def test_single_values_and_datetimes_stay_json() -> None:
    frame = pd.DataFrame(
        {
            "one": [3.5, np.nan, np.nan],
            "when": pd.to_datetime(["1970-01-01", "1970-01-02", None]),
            "inf": [np.inf, 1.0, 2.0],
        }
    )
    cols = _columns(profile_table(frame))
    assert cols["one"]["numeric"]["std"] is None
    assert cols["when"]["inferred_type"] == "Fractional" and cols["when"]["datetime"] is True
    assert cols["when"]["numeric"]["min"] == 0.0 and cols["when"]["numeric"]["max"] == 86400.0
    assert cols["inf"]["missing"] == 1 and sum(cols["inf"]["numeric"]["counts"]) == 2


def test_text_that_reads_as_numbers_is_still_a_string() -> None:
    stats = profile_table(pd.DataFrame({"zip": ["75001", "69002", "06000"]}))
    assert stats["columns"][0]["inferred_type"] == "String"


def test_current_data_is_binned_on_the_baseline_and_mismatches_are_counted() -> None:
    baseline = profile_table(_frame(seed=2))
    current = _frame(n=50, seed=3).astype(object)
    current.loc[:4, "income"] = "n/a"
    current.loc[5, "age"] = 30.5
    current.loc[:9, "member"] = "true"
    current.loc[10, "member"] = "maybe"
    current.loc[:2, "city"] = "Marseille"
    current["extra"] = np.arange(50)
    stats = profile_against(baseline, current)
    cols = _columns(stats)
    assert list(cols) == [*(c["name"] for c in baseline["columns"]), "extra"]
    income = cols["income"]
    assert income["inferred_type"] == "Fractional"
    assert income["type_mismatch"] == 5
    assert income["count"] + income["missing"] == 50
    assert sum(income["numeric"]["counts"]) == income["count"] - 5
    assert income["numeric"]["edges"] == _columns(baseline)["income"]["numeric"]["edges"]
    assert cols["age"]["type_mismatch"] == 1 and sum(cols["age"]["numeric"]["counts"]) == 50
    assert cols["member"]["type_mismatch"] == 1
    assert set(cols["member"]["categorical"]["frequencies"]) == {"True", "False", "maybe"}
    # The baseline's categories come first, in the baseline's order, then new ones.
    seen = list(cols["city"]["categorical"]["frequencies"])
    known = [c for c in _columns(baseline)["city"]["categorical"]["frequencies"] if c in seen]
    assert seen == [*known, "Marseille"]
    assert cols["extra"]["type_mismatch"] == 0 and cols["extra"]["inferred_type"] == "Integral"
    assert _plain(stats)


def test_current_data_from_parquet_matches_current_data_from_a_frame(tmp_path: Path) -> None:
    baseline = profile_table(_frame(seed=4))
    current = _frame(n=300, seed=5).drop(columns=["empty"])
    path = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), path)
    assert profile_against(baseline, path) == profile_against(baseline, current)
