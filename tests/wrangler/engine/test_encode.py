"""Encoders: one-hot, ordinal, target and hash encoding (no database)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform
from wrangler.engine.transforms.encode import (
    hash_encode,
    one_hot_encode,
    ordinal_encode,
    target_encode,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def json_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """The state as it comes back from storage; fails on NaN or numpy scalars."""
    loaded: dict[str, Any] = json.loads(json.dumps(state, allow_nan=False))
    return loaded


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": ["Zürich", "東京", "Zürich", None, "Paris", "Zürich"],
            "y": [1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            "size": [1, 2, 3, 4, 5, 6],
        }
    )


def run(func: Any, df: pd.DataFrame, **params: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    if func is target_encode:
        params.setdefault("target", "y")
    result: tuple[pd.DataFrame, dict[str, Any]] = func(df, **params)
    return result


ALL = [one_hot_encode, ordinal_encode, target_encode, hash_encode]
FITTED = [one_hot_encode, ordinal_encode, target_encode]


# ---------------------------------------------------------------- registration


def test_every_encoder_is_registered_in_the_encode_category() -> None:
    expected = {
        "one_hot_encode": True,
        "ordinal_encode": True,
        "target_encode": True,
        "hash_encode": False,
    }
    for name, fitted in expected.items():
        defn = get_transform(name)
        assert defn is not None, name
        assert (defn.category, defn.fitted) == ("Encode", fitted)
    one_hot = get_transform("one_hot_encode")
    assert one_hot is not None
    params = check_params(one_hot, {"columns": ["city"]})
    assert params == {"columns": ["city"], "max_categories": 50, "drop_original": True}
    target = get_transform("target_encode")
    assert target is not None
    assert (
        check_params(target, {"columns": ["c"], "target": "y", "positive": "yes"})["smoothing"]
        == 10
    )


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_the_input_frame_is_not_changed(func: Any) -> None:
    df = frame()
    before = df.copy()
    run(func, df, columns=["city"])
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_fitting_on_an_empty_frame_says_there_is_nothing_to_learn(func: Any) -> None:
    empty = frame().iloc[0:0]
    with pytest.raises(ValueError, match="no values to learn"):
        run(func, empty, columns=["city"])


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_fitting_on_an_all_null_column_says_there_is_nothing_to_learn(func: Any) -> None:
    df = frame().assign(city=None)
    with pytest.raises(ValueError, match="no values to learn"):
        run(func, df, columns=["city"])


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_a_fitted_state_applies_to_an_empty_frame(func: Any) -> None:
    _, state = run(func, frame(), columns=["city"])
    out, _ = run(func, frame().iloc[0:0], state=json_round_trip(state), columns=["city"])
    assert len(out) == 0


def test_hash_encoding_an_empty_frame_gives_empty_count_columns() -> None:
    out, state = hash_encode(frame().iloc[0:0], columns=["city"], n_features=3)
    assert list(out.columns) == ["y", "size", "city_hash_0", "city_hash_1", "city_hash_2"]
    assert len(out) == 0 and state == {}


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_a_single_row_is_encoded(func: Any) -> None:
    one = pd.DataFrame({"city": ["Köln"], "y": [1.0]})
    out, state = run(func, one, columns=["city"])
    json_round_trip(state)
    assert len(out) == 1


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_the_state_is_json_safe_and_applying_it_gives_the_same_result(func: Any) -> None:
    df = frame()
    fitted, state = run(func, df, columns=["city", "size"])
    applied, _ = run(func, df, state=json_round_trip(state), columns=["city", "size"])
    pd.testing.assert_frame_equal(fitted, applied)


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_a_column_missing_from_the_state_asks_for_a_new_fit(func: Any) -> None:
    _, state = run(func, frame(), columns=["city"])
    with pytest.raises(ValueError, match="fit the flow again"):
        run(func, frame(), state=state, columns=["size"])


# ---------------------------------------------------------------- one_hot_encode


def test_one_hot_makes_a_column_per_value_most_frequent_first() -> None:
    out, state = one_hot_encode(frame(), columns=["city"])
    assert state["columns"]["city"] == {"categories": ["Zürich", "Paris", "東京"], "other": False}
    assert list(out.columns) == ["y", "size", "city_Zürich", "city_Paris", "city_東京"]
    assert out["city_Zürich"].tolist() == [1, 0, 1, 0, 0, 1]
    assert out["city_東京"].tolist() == [0, 1, 0, 0, 0, 0]
    assert out["city_Zürich"].dtype == "int8"


def test_one_hot_gives_a_null_all_zeros() -> None:
    out, _ = one_hot_encode(frame(), columns=["city"])
    assert out.loc[3, ["city_Zürich", "city_Paris", "city_東京"]].tolist() == [0, 0, 0]


def test_one_hot_puts_rarer_values_in_an_other_column() -> None:
    out, state = one_hot_encode(frame(), columns=["city"], max_categories=1)
    assert state["columns"]["city"] == {"categories": ["Zürich"], "other": True}
    assert out["city_other"].tolist() == [0, 1, 0, 0, 1, 0]


def test_one_hot_can_keep_the_original_column() -> None:
    out, _ = one_hot_encode(frame(), columns=["city"], drop_original=False)
    assert out["city"].equals(frame()["city"])


def test_one_hot_gives_new_data_the_training_columns_and_unseen_values_zeros() -> None:
    _, state = one_hot_encode(frame(), columns=["city"])
    new = pd.DataFrame({"city": ["Paris", "Roma"]})
    out, _ = one_hot_encode(new, state=json_round_trip(state), columns=["city"])
    assert list(out.columns) == ["city_Zürich", "city_Paris", "city_東京"]
    assert out.to_numpy().tolist() == [[0, 1, 0], [0, 0, 0]]


def test_one_hot_sends_unseen_values_to_other_when_there_is_one() -> None:
    _, state = one_hot_encode(frame(), columns=["city"], max_categories=2)
    new = pd.DataFrame({"city": ["Roma", None, "Zürich"]})
    out, _ = one_hot_encode(new, state=json_round_trip(state), columns=["city"])
    assert out["city_other"].tolist() == [1, 0, 0]
    assert out["city_Zürich"].tolist() == [0, 0, 1]


def test_one_hot_of_whole_numbers_matches_them_as_floats_on_new_data() -> None:
    _, state = one_hot_encode(pd.DataFrame({"k": [1, 2, 2]}), columns=["k"])
    new = pd.DataFrame({"k": [2.0, None, 1.0]})
    out, _ = one_hot_encode(new, state=json_round_trip(state), columns=["k"])
    assert out.to_dict("list") == {"k_2": [1, 0, 0], "k_1": [0, 0, 1]}


def test_one_hot_of_dates_stores_them_as_text() -> None:
    df = pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-01-01", None])})
    out, state = one_hot_encode(df, columns=["d"])
    assert json_round_trip(state)["columns"]["d"]["categories"] == ["2024-01-01 00:00:00"]
    assert out["d_2024-01-01 00:00:00"].tolist() == [1, 1, 0]


# ---------------------------------------------------------------- ordinal_encode


def test_ordinal_codes_follow_the_sorted_values_and_nulls_stay_null() -> None:
    out, state = ordinal_encode(frame(), columns=["city"])
    assert state["columns"]["city"]["categories"] == ["Paris", "Zürich", "東京"]
    assert out["city"].dtype == "Int64"
    assert out["city"].tolist() == [1, 2, 1, pd.NA, 0, 1]


@pytest.mark.parametrize(("unknown", "code"), [("null", pd.NA), ("-1", -1)])
def test_ordinal_codes_an_unseen_value_as_chosen(unknown: str, code: Any) -> None:
    _, state = ordinal_encode(frame(), columns=["city"], unknown=unknown)
    new = pd.DataFrame({"city": ["Roma", "東京", None]})
    out, _ = ordinal_encode(new, state=json_round_trip(state), columns=["city"], unknown=unknown)
    assert out["city"].tolist() == [code, 2, pd.NA]


def test_ordinal_reuses_the_learnt_order_rather_than_the_new_datas() -> None:
    _, state = ordinal_encode(pd.DataFrame({"g": ["b", "c"]}), columns=["g"])
    out, _ = ordinal_encode(
        pd.DataFrame({"g": ["c", "a"]}), state=json_round_trip(state), columns=["g"]
    )
    assert out["g"].tolist() == [1, pd.NA]


def test_ordinal_sorts_numbers_as_numbers() -> None:
    out, state = ordinal_encode(pd.DataFrame({"n": [10, 9, 100]}), columns=["n"])
    assert state["columns"]["n"]["categories"] == [9, 10, 100]
    assert out["n"].tolist() == [1, 0, 2]


def test_ordinal_orders_mixed_values_without_failing() -> None:
    df = pd.DataFrame({"m": pd.Series(["a", 1, "b"], dtype=object)})
    out, state = ordinal_encode(df, columns=["m"])
    json_round_trip(state)
    assert sorted(out["m"].tolist()) == [0, 1, 2]


# ---------------------------------------------------------------- target_encode


def test_target_encoding_is_the_smoothed_mean_of_each_category() -> None:
    out, state = target_encode(frame(), columns=["city"], target="y", smoothing=2.0)
    overall = 2 / 6
    zurich = (3 * (2 / 3) + 2 * overall) / (3 + 2)
    assert state["global_mean"] == pytest.approx(overall)
    assert out["city"].tolist() == pytest.approx(
        [zurich, (0 + 2 * overall) / 3, zurich, overall, (0 + 2 * overall) / 3, zurich]
    )
    assert out["y"].equals(frame()["y"])


def test_target_encoding_without_smoothing_is_the_plain_mean() -> None:
    out, _ = target_encode(frame(), columns=["city"], target="y", smoothing=0.0)
    assert out["city"].tolist()[:3] == pytest.approx([2 / 3, 0.0, 2 / 3])


def test_target_encoding_gives_unseen_values_and_nulls_the_training_mean() -> None:
    _, state = target_encode(frame(), columns=["city"], target="y")
    new = pd.DataFrame({"city": ["Roma", None, "Paris"]})  # no target column is needed
    out, _ = target_encode(new, state=json_round_trip(state), columns=["city"], target="y")
    paris = dict(zip(*state["columns"]["city"].values(), strict=True))["Paris"]
    assert out["city"].tolist() == pytest.approx([2 / 6, 2 / 6, paris])


def test_target_encoding_of_a_text_target_counts_the_rarer_value_as_positive() -> None:
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "churn": ["stay", "leave", "stay", "stay"]})
    out, state = target_encode(df, columns=["g"], target="churn", smoothing=0.0)
    assert state["positive"] == "leave"
    assert out["g"].tolist() == [0.5, 0.5, 0.0, 0.0]


def test_target_encoding_takes_the_positive_value_the_user_gives() -> None:
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "churn": ["stay", "leave", "stay", "stay"]})
    out, state = target_encode(df, columns=["g"], target="churn", smoothing=0.0, positive="stay")
    assert state["positive"] == "stay"
    assert out["g"].tolist() == [0.5, 0.5, 1.0, 1.0]


def test_target_encoding_of_a_boolean_target_with_nulls_leaves_those_rows_out() -> None:
    df = pd.DataFrame(
        {"g": ["a", "a", "b", "b"], "t": pd.array([True, None, False, True], dtype="boolean")}
    )
    out, state = target_encode(df, columns=["g"], target="t", smoothing=0.0, positive=True)
    assert state["positive"] is True
    assert out["g"].tolist() == [1.0, 1.0, 0.5, 0.5]


def test_target_encoding_refuses_a_positive_value_the_target_does_not_have() -> None:
    df = pd.DataFrame({"g": ["a", "b"], "t": ["yes", "no"]})
    with pytest.raises(ValueError, match="positive 'maybe' is not a value of 't'"):
        target_encode(df, columns=["g"], target="t", positive="maybe")


def test_target_encoding_refuses_a_text_target_with_more_than_two_values() -> None:
    df = pd.DataFrame({"g": ["a", "b", "c"], "t": ["x", "y", "z"]})
    with pytest.raises(ValueError, match="'t' has 3 distinct values"):
        target_encode(df, columns=["g"], target="t")


def test_target_encoding_refuses_an_empty_target() -> None:
    df = pd.DataFrame({"g": ["a", "b"], "t": pd.Series([None, None], dtype="float64")})
    with pytest.raises(ValueError, match="target 't' has no values"):
        target_encode(df, columns=["g"], target="t")


def test_target_encoding_applies_the_training_means_not_the_new_targets() -> None:
    _, state = target_encode(frame(), columns=["city"], target="y", smoothing=0.0)
    flipped = frame().assign(y=lambda d: 1 - d["y"])
    out, _ = target_encode(flipped, state=json_round_trip(state), columns=["city"], target="y")
    assert out["city"].tolist()[:2] == pytest.approx([2 / 3, 0.0])


# ---------------------------------------------------------------- hash_encode


def test_hash_encoding_uses_md5_of_the_text_so_buckets_are_stable() -> None:
    out, state = hash_encode(frame(), columns=["city"], n_features=8)
    assert state == {}
    bucket = int(hashlib.md5("東京".encode()).hexdigest(), 16) % 8
    assert out.loc[1, f"city_hash_{bucket}"] == 1
    assert out.filter(like="city_hash_").sum(axis=1).tolist() == [1, 1, 1, 0, 1, 1]
    assert "city" not in out.columns


def test_hash_encoding_gives_the_same_buckets_to_the_same_values_on_any_frame() -> None:
    first, _ = hash_encode(frame(), columns=["city"])
    second, _ = hash_encode(pd.DataFrame({"city": ["Paris"]}), columns=["city"])
    columns = [f"city_hash_{i}" for i in range(16)]
    assert first.loc[4, columns].tolist() == second.loc[0, columns].tolist()


def test_hash_encoding_can_keep_the_original_column() -> None:
    out, _ = hash_encode(frame(), columns=["city"], n_features=2, drop_original=False)
    assert list(out.columns) == ["city", "y", "size", "city_hash_0", "city_hash_1"]
    assert np.isin(out[["city_hash_0", "city_hash_1"]].to_numpy(), [0, 1]).all()
