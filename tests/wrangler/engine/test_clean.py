"""Cleaning transforms: fill or drop missing values, filter, deduplicate, sample, sort."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from tests.wrangler.engine.helpers import run, values
from wrangler.engine.contracts import ParamError
from wrangler.engine.params import FILTER_OPS, check_params
from wrangler.engine.registry import get_transform

pytestmark = pytest.mark.filterwarnings("error")


def stored(state: dict[str, Any]) -> dict[str, Any]:
    """The state as it comes back from storage; fails on NaN or numpy scalars."""
    loaded: dict[str, Any] = json.loads(json.dumps(state, allow_nan=False))
    return loaded


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1.0, None, 3.0, 10.0, 3.0],
            "k": pd.array([1, None, 3, 3, 5], dtype="Int64"),
            "t": ["x", None, "Ærø", "x", "naïve café"],
            "d": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-01-01", "2024-05-01"]),
        }
    )


CASES = [
    ("fill_missing", {"columns": ["n"], "strategy": "mean"}),
    ("fill_missing", {"strategy": "mode"}),
    ("fill_missing", {"columns": ["t"], "strategy": "constant", "value": "?"}),
    ("fill_missing", {"strategy": "ffill"}),
    ("drop_missing", {}),
    ("filter_rows", {"conditions": [{"column": "n", "op": ">=", "value": 1}]}),
    ("deduplicate", {"columns": ["t"]}),
    ("sample", {"n": 2}),
    ("sort", {"columns": ["n"]}),
]


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_clean_transform_leaves_its_input_frame_untouched(type_name, params):
    df = frame()
    before = df.copy()
    run(type_name, df, **params)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_clean_transform_turns_an_empty_frame_into_an_empty_frame(type_name, params):
    out, state = run(type_name, frame().head(0), **params)
    assert len(out) == 0 and list(out.columns) == list(frame().columns)
    stored(state)


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_clean_transform_handles_a_single_row(type_name, params):
    out, state = run(type_name, frame().head(1), **params)
    assert len(out) == 1 and out["t"].tolist() == ["x"]
    stored(state)


def test_the_clean_transforms_are_registered_with_their_category_and_flags():
    for type_name in ("fill_missing", "drop_missing", "filter_rows", "deduplicate", "sample"):
        defn = get_transform(type_name)
        assert defn is not None and defn.category == "Clean"
    fill = get_transform("fill_missing")
    assert fill is not None and fill.fitted and not fill.rowwise
    for type_name in ("drop_missing", "filter_rows"):
        defn = get_transform(type_name)
        assert defn is not None and defn.rowwise
    for type_name in ("deduplicate", "sample", "sort"):
        defn = get_transform(type_name)
        assert defn is not None and not defn.rowwise


# --- fill_missing -----------------------------------------------------------------------


def test_fill_missing_with_a_constant_fills_only_the_chosen_columns():
    out, state = run("fill_missing", frame(), columns=["n", "k"], strategy="constant", value=0)
    assert values(out["n"]) == [1.0, 0.0, 3.0, 10.0, 3.0]
    assert values(out["k"]) == [1, 0, 3, 3, 5] and str(out["k"].dtype) == "Int64"
    assert out["t"].isna().sum() == 1
    assert stored(state)["values"] == {"n": 0, "k": 0}


def test_fill_missing_with_text_in_a_number_column_is_refused():
    with pytest.raises(ValueError, match="'n' holds numbers; fill it with a number"):
        run("fill_missing", frame(), columns=["n"], strategy="constant", value="zero")


def test_fill_missing_with_a_number_in_a_text_column_writes_it_as_text():
    out, _ = run("fill_missing", frame(), columns=["t"], strategy="constant", value=7)
    assert out["t"].tolist()[1] == "7"


def test_fill_missing_with_a_constant_needs_a_value():
    with pytest.raises(ValueError, match="Give the value"):
        run("fill_missing", frame(), columns=["n"], strategy="constant")


def test_fill_missing_with_the_mean_reuses_the_fitted_mean_on_new_data():
    _, state = run("fill_missing", frame(), columns=["n"], strategy="mean")
    state = stored(state)
    assert state["values"] == {"n": 4.25}
    new = pd.DataFrame({"n": [100.0, None, 300.0]})
    out, again = run("fill_missing", new, state=state, columns=["n"], strategy="mean")
    assert out["n"].tolist() == [100.0, 4.25, 300.0]
    assert again == state


def test_fill_missing_with_the_median_reuses_the_fitted_median_on_new_data():
    _, state = run("fill_missing", frame(), columns=["n", "k"], strategy="median")
    state = stored(state)
    assert state["values"] == {"n": 3.0, "k": 3.0}
    new = pd.DataFrame({"n": [None, 50.0], "k": pd.array([None, 9], dtype="Int64")})
    out, _ = run("fill_missing", new, state=state, columns=["n", "k"], strategy="median")
    assert values(out["n"]) == [3.0, 50.0] and values(out["k"]) == [3, 9]


def test_fill_missing_with_the_mode_keeps_unicode_and_dates_through_storage():
    _, state = run("fill_missing", frame(), columns=["t", "d", "k"], strategy="mode")
    state = stored(state)
    assert state["values"] == {"t": "x", "d": "2024-01-01T00:00:00", "k": 3}
    new = pd.DataFrame(
        {
            "t": [None, "日本"],
            "d": pd.to_datetime([None, "2030-01-01"]),
            "k": pd.array([None, 7], dtype="Int64"),
        }
    )
    out, _ = run("fill_missing", new, state=state, columns=["t", "d", "k"], strategy="mode")
    assert out["t"].tolist() == ["x", "日本"]
    assert out["d"].tolist()[0] == pd.Timestamp("2024-01-01")
    assert values(out["k"]) == [3, 7]


def test_fill_missing_with_the_mean_of_a_text_column_is_refused():
    with pytest.raises(ValueError, match="'t' does not hold numbers"):
        run("fill_missing", frame(), columns=["t"], strategy="mean")


def test_fill_missing_with_the_mean_and_no_columns_takes_the_number_columns():
    out, state = run("fill_missing", frame(), strategy="mean")
    assert state["columns"] == ["n", "k"] and out["t"].isna().sum() == 1
    assert out["n"].isna().sum() == 0 and out["k"].isna().sum() == 0


def test_fill_missing_of_an_all_null_column_stores_none_and_leaves_the_nulls():
    df = pd.DataFrame({"n": [None, None]}, dtype="float64")
    out, state = run("fill_missing", df, strategy="mean")
    assert stored(state)["values"] == {"n": None} and out["n"].isna().all()


def test_fill_missing_forward_and_backward_copy_the_neighbouring_value():
    out, _ = run("fill_missing", frame(), columns=["n", "t"], strategy="ffill")
    assert out["n"].tolist()[1] == 1.0 and out["t"].tolist()[1] == "x"
    out, _ = run("fill_missing", frame(), columns=["n", "t"], strategy="bfill")
    assert out["n"].tolist()[1] == 3.0 and out["t"].tolist()[1] == "Ærø"


def test_fill_missing_on_new_data_without_a_fitted_column_says_which():
    _, state = run("fill_missing", frame(), columns=["n"], strategy="mean")
    with pytest.raises(ValueError, match="'n' was there when the flow was fitted"):
        run("fill_missing", pd.DataFrame({"x": [1]}), state=state, strategy="mean")


# --- drop_missing ----------------------------------------------------------------------


def test_drop_missing_drops_rows_missing_any_value_by_default():
    out, _ = run("drop_missing", frame())
    assert len(out) == 4 and out.index.tolist() == [0, 1, 2, 3]


def test_drop_missing_can_look_only_at_some_columns_and_need_all_of_them_missing():
    df = pd.DataFrame({"a": [None, None, 1], "b": [None, 2, None], "c": ["ü", None, None]})
    out, _ = run("drop_missing", df, columns=["a", "b"], how="all")
    assert values(out["a"]) == [None, 1.0] and values(out["c"]) == [None, None]
    out, _ = run("drop_missing", df, columns=["c"])
    assert out["c"].tolist() == ["ü"]


# --- filter_rows -----------------------------------------------------------------------


OP_CASES = {
    "==": ("t", "x", [0, 3]),
    "!=": ("t", "x", [1, 2, 4]),
    ">": ("n", 3, [3]),
    ">=": ("n", 3, [2, 3, 4]),
    "<": ("n", 3, [0]),
    "<=": ("n", 3, [0, 2, 4]),
    "in": ("k", [3, 5], [2, 3, 4]),
    "not_in": ("k", [3, 5], [0, 1]),
    "is_null": ("t", None, [1]),
    "not_null": ("t", None, [0, 2, 3, 4]),
    "contains": ("t", "café", [4]),
    "starts_with": ("t", "Æ", [2]),
    "ends_with": ("t", "é", [4]),
    "matches": ("t", r"^n.ïve\s", [4]),
}


def test_every_filter_operator_is_covered():
    assert set(OP_CASES) == set(FILTER_OPS)


@pytest.mark.parametrize("op", FILTER_OPS)
def test_every_filter_operator_keeps_the_rows_it_should(op):
    column, value, rows = OP_CASES[op]
    cond: dict[str, Any] = {"column": column, "op": op}
    if op not in ("is_null", "not_null"):
        cond["value"] = value
    df = frame().assign(row=range(5))
    out, state = run("filter_rows", df, conditions=[cond])
    assert out["row"].tolist() == rows and state == {}
    assert out.index.tolist() == list(range(len(rows)))


def test_filter_rows_joins_nested_groups_with_all_and_any():
    conditions = [
        {
            "match": "any",
            "conditions": [
                {"column": "n", "op": ">", "value": 5},
                {"column": "n", "op": "<", "value": 2},
            ],
        },
        {"column": "t", "op": "==", "value": "x"},
    ]
    out, _ = run("filter_rows", frame(), conditions=conditions)
    assert out["n"].tolist() == [1.0, 10.0]
    out, _ = run("filter_rows", frame(), conditions=conditions, match="any")
    assert out["n"].tolist() == [1.0, 10.0]
    either = [{"column": "t", "op": "==", "value": "Ærø"}, {"column": "n", "op": ">", "value": 5}]
    out, _ = run("filter_rows", frame(), conditions=either, match="any")
    assert out["n"].tolist() == [3.0, 10.0]


def test_filter_rows_comparing_a_text_column_with_a_number_says_so():
    with pytest.raises(ValueError, match="'t' holds text but the condition compares it with"):
        run("filter_rows", frame(), conditions=[{"column": "t", "op": ">", "value": 3}])
    with pytest.raises(ValueError, match="'t' holds text"):
        run("filter_rows", frame(), conditions=[{"column": "t", "op": "in", "value": [1, 2]}])


def test_filter_rows_comparing_a_text_column_with_a_number_fails_even_on_no_rows():
    with pytest.raises(ValueError, match="'t' holds text"):
        run("filter_rows", frame().head(0), conditions=[{"column": "t", "op": "==", "value": 1}])


def test_filter_rows_reads_a_number_written_as_text_but_refuses_words():
    out, _ = run("filter_rows", frame(), conditions=[{"column": "n", "op": ">=", "value": "3"}])
    assert len(out) == 3
    with pytest.raises(ValueError, match="'n' holds numbers"):
        run("filter_rows", frame(), conditions=[{"column": "n", "op": ">", "value": "big"}])


def test_filter_rows_text_operators_refuse_a_number_column():
    with pytest.raises(ValueError, match="'n' is not text"):
        run("filter_rows", frame(), conditions=[{"column": "n", "op": "contains", "value": "1"}])


def test_filter_rows_with_an_invalid_pattern_says_so():
    with pytest.raises(ValueError, match="not a valid regular expression"):
        run("filter_rows", frame(), conditions=[{"column": "t", "op": "matches", "value": "(x"}])


def test_filter_rows_compares_dates_with_date_text():
    conditions = [{"column": "d", "op": ">", "value": "2024-02-01"}]
    out, _ = run("filter_rows", frame(), conditions=conditions)
    assert out["t"].tolist() == ["Ærø", "naïve café"]
    with pytest.raises(ValueError, match="'d' holds dates"):
        run("filter_rows", frame(), conditions=[{"column": "d", "op": ">", "value": "soon"}])


def test_filter_rows_equal_to_null_means_is_null():
    out, _ = run("filter_rows", frame(), conditions=[{"column": "n", "op": "==", "value": None}])
    assert len(out) == 1 and out["t"].isna().all()


def test_filter_rows_works_on_category_columns():
    df = frame().assign(t=frame()["t"].astype("category"))
    out, _ = run("filter_rows", df, conditions=[{"column": "t", "op": "starts_with", "value": "n"}])
    assert out["n"].tolist() == [3.0]


def test_filter_rows_conditions_are_checked_before_running():
    defn = get_transform("filter_rows")
    assert defn is not None
    with pytest.raises(ParamError, match="Unknown operator"):
        check_params(defn, {"conditions": [{"column": "n", "op": "~", "value": 1}]})


# --- deduplicate -----------------------------------------------------------------------


def test_deduplicate_keeps_the_first_or_the_last_of_each_set():
    out, _ = run("deduplicate", frame(), columns=["t"])
    assert values(out["n"]) == [1.0, None, 3.0, 3.0]
    out, _ = run("deduplicate", frame(), columns=["t"], keep="last")
    assert values(out["n"]) == [None, 3.0, 10.0, 3.0]


def test_deduplicate_without_columns_compares_whole_rows_and_treats_nulls_as_equal():
    df = pd.DataFrame({"a": [None, None, 1.0], "b": ["é", "é", "é"]})
    out, _ = run("deduplicate", df)
    assert len(out) == 2


# --- sample ----------------------------------------------------------------------------


def test_sample_is_repeatable_with_a_seed_and_keeps_the_row_order():
    df = pd.DataFrame({"i": range(100)})
    out, _ = run("sample", df, n=10, seed=3)
    again, _ = run("sample", df, n=10, seed=3)
    other, _ = run("sample", df, n=10, seed=4)
    assert len(out) == 10 and out["i"].is_monotonic_increasing
    assert out["i"].tolist() == again["i"].tolist() != other["i"].tolist()


def test_sample_by_fraction_or_first_rows():
    df = pd.DataFrame({"i": range(10)})
    out, _ = run("sample", df, fraction=0.3)
    assert len(out) == 3
    out, _ = run("sample", df, n=4, mode="first")
    assert out["i"].tolist() == [0, 1, 2, 3]


def test_sample_of_more_rows_than_there_are_gives_them_all():
    out, _ = run("sample", frame(), n=50)
    assert len(out) == 5


def test_sample_needs_exactly_one_of_n_and_fraction():
    with pytest.raises(ValueError, match="either n"):
        run("sample", frame())
    with pytest.raises(ValueError, match="not both"):
        run("sample", frame(), n=1, fraction=0.5)


# --- sort ------------------------------------------------------------------------------


def test_sort_puts_nulls_last_by_default_or_first_when_asked():
    out, _ = run("sort", frame(), columns=["n"])
    assert values(out["n"]) == [1.0, 3.0, 3.0, 10.0, None]
    out, _ = run("sort", frame(), columns=["n"], ascending=False, nulls="first")
    assert values(out["n"]) == [None, 10.0, 3.0, 3.0, 1.0]


def test_sort_by_several_columns_keeps_ties_in_their_order():
    out, _ = run("sort", frame(), columns=["n", "t"])
    assert values(out["t"])[:3] == ["x", "naïve café", "Ærø"]
    df = pd.DataFrame({"k": [1, 1, 1], "i": [3, 1, 2]})
    out, _ = run("sort", df, columns=["k"])
    assert out["i"].tolist() == [3, 1, 2]


def test_sorting_a_column_of_mixed_numbers_and_text_says_so():
    df = pd.DataFrame({"m": pd.Series([1, "a", 2.5], dtype=object)})
    with pytest.raises(ValueError, match="cannot be ordered"):
        run("sort", df, columns=["m"])
