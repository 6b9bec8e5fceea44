"""join, concat, group_by, pivot, lag_features and rolling_window on edge cases."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from wrangler.engine.transforms.combine import concat, group_by, join, pivot
from wrangler.engine.transforms.timeseries import lag_features, rolling_window

LEFT = pd.DataFrame({"id": [1, 2, 3, None], "name": ["ana", "bo", "çé", "dan"]})
RIGHT = pd.DataFrame({"key": [2, 3, 3, 5], "score": [0.2, 0.3, 0.33, 0.5]})


@pytest.mark.parametrize(
    "how, rows",
    [
        ("inner", 3),
        ("left", 5),
        ("right", 4),
        ("outer", 6),
        ("left_semi", 2),
        ("left_anti", 2),
        ("cross", 16),
    ],
)
def test_every_join_kind_gives_the_rows_sql_would(how, rows):
    before = LEFT.copy()
    out, state = join(LEFT, RIGHT, how=how, left_on=["id"], right_on=["key"])
    assert len(out) == rows and state == {}
    if how in ("left_semi", "left_anti"):
        assert list(out.columns) == ["id", "name"]
    pd.testing.assert_frame_equal(LEFT, before)


def test_a_join_needs_as_many_keys_on_each_side():
    with pytest.raises(ValueError, match="as many"):
        join(LEFT, RIGHT, how="inner", left_on=["id"], right_on=[])


def test_joining_empty_frames_gives_an_empty_frame_with_both_sides_columns():
    out, _ = join(LEFT.head(0), RIGHT.head(0), how="left", left_on=["id"], right_on=["key"])
    assert len(out) == 0 and {"name", "score"} <= set(out.columns)


def test_concat_can_mark_the_source_and_drop_duplicates():
    out, _ = concat(LEFT, LEFT.head(2), dedupe=True, source_column="part")
    assert len(out) == 4 and out["part"].tolist() == [0, 0, 0, 0]
    out, _ = concat(LEFT, RIGHT)
    assert len(out) == 8 and out["score"].isna().sum() == 4


def test_group_by_keeps_a_group_for_null_keys():
    out, _ = group_by(
        LEFT.assign(n=1), by=["id"], aggregations=[{"column": "n", "func": "sum", "as": "n"}]
    )
    assert out["n"].sum() == 4 and out["id"].isna().sum() == 1


def test_group_by_of_one_row_and_of_no_rows():
    aggs = [{"column": "score", "func": "mean", "as": "m"}]
    assert len(group_by(RIGHT.head(1), by=["key"], aggregations=aggs)[0]) == 1
    assert len(group_by(RIGHT.head(0), by=["key"], aggregations=aggs)[0]) == 0


def test_pivot_keeps_the_fitted_columns_through_json():
    df = pd.DataFrame({"day": [1, 1, 2], "city": ["Zürich", "Lyon", "Lyon"], "v": [1.0, 2.0, 3.0]})
    out, state = pivot(df, index=["day"], columns="city", values="v")
    assert list(out.columns) == ["day", "city_Lyon", "city_Zürich"]
    state = json.loads(json.dumps(state))
    new = pd.DataFrame({"day": [5], "city": ["Oslo"], "v": [9.0]})
    applied, _ = pivot(new, state=state, index=["day"], columns="city", values="v")
    assert list(applied.columns) == list(out.columns)


def test_pivot_refuses_too_many_columns():
    df = pd.DataFrame({"i": range(10), "c": range(10), "v": range(10)})
    with pytest.raises(ValueError, match="distinct values"):
        pivot(df, index=["i"], columns="c", values="v", max_columns=5)


def test_lags_follow_the_time_column_within_each_series():
    df = pd.DataFrame({"t": [3, 1, 2, 1], "s": ["a", "a", "a", "b"], "v": [30.0, 10.0, 20.0, 99.0]})
    out, _ = lag_features(df, columns=["v"], lags=["1"], order_by="t", group_by=["s"])
    lag = out["v_lag_1"]
    assert lag.isna().tolist() == [False, True, False, True]
    assert (lag[0], lag[2]) == (20.0, 10.0)


def test_lags_must_be_positive_whole_numbers():
    with pytest.raises(ValueError, match="whole numbers"):
        lag_features(LEFT, columns=["id"], lags=["one"])
    with pytest.raises(ValueError, match="at least 1"):
        lag_features(LEFT, columns=["id"], lags=["0"])


def test_a_rolling_mean_per_series_in_time_order():
    df = pd.DataFrame({"t": [2, 1, 3, 1], "s": ["a", "a", "a", "b"], "v": [2.0, 1.0, 3.0, 7.0]})
    out, _ = rolling_window(df, columns=["v"], window=2, func="mean", order_by="t", group_by=["s"])
    assert out["v_rolling_mean_2"].tolist() == [1.5, 1.0, 2.5, 7.0]


def test_rolling_over_text_is_refused_clearly():
    with pytest.raises(ValueError, match="not numeric"):
        rolling_window(LEFT, columns=["name"])
