"""Column transforms: drop, select, rename, cast, duplicate and split (no database)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.wrangler.engine.helpers import run, values
from wrangler.engine.registry import get_transform

pytestmark = pytest.mark.filterwarnings("error")


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "price": ["1.5", "2", "n/a", None],
            "name": ["Zoë, Ågren", "bo", None, "日本,語"],
            "score": [0.5, None, 2.25, -1.75],
        }
    )


CASES = [
    ("drop_columns", {"columns": ["price"]}),
    ("select_columns", {"columns": ["name", "id"]}),
    ("rename_columns", {"mapping": {"name": "nom"}}),
    ("cast", {"columns": ["price"], "to": "float"}),
    ("duplicate_column", {"column": "name", "new_name": "name_copy"}),
    ("split_column", {"column": "name", "delimiter": ","}),
]


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_column_transform_leaves_its_input_frame_untouched(type_name, params):
    df = frame()
    before = df.copy()
    run(type_name, df, **params)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_column_transform_turns_an_empty_frame_into_an_empty_frame(type_name, params):
    out, _ = run(type_name, frame().head(0), **params)
    assert len(out) == 0
    whole, _ = run(type_name, frame().iloc[[1]], **params)  # a name without a comma
    assert list(out.columns) == list(whole.columns)


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_column_transform_handles_a_single_row(type_name, params):
    out, _ = run(type_name, frame().head(1), **params)
    assert len(out) == 1


def test_the_column_transforms_are_registered_with_their_category_and_row_flags():
    rowwise = {"drop_columns", "select_columns", "rename_columns", "cast", "duplicate_column"}
    for type_name, _ in CASES:
        defn = get_transform(type_name)
        assert defn is not None and defn.category == "Columns"
        assert defn.rowwise == (type_name in rowwise)
    split = get_transform("split_column")
    assert split is not None and split.fitted


def test_dropping_columns_keeps_the_others_in_order():
    out, state = run("drop_columns", frame(), columns=["price", "score"])
    assert list(out.columns) == ["id", "name"] and state == {}


def test_dropping_a_column_that_is_not_there_says_which():
    with pytest.raises(ValueError, match="'nope'"):
        run("drop_columns", frame(), columns=["nope"])


def test_selecting_columns_keeps_them_in_the_order_given():
    out, _ = run("select_columns", frame(), columns=["score", "id"])
    assert list(out.columns) == ["score", "id"] and out["score"].isna().sum() == 1


def test_selecting_a_column_twice_is_refused():
    with pytest.raises(ValueError, match="only once"):
        run("select_columns", frame(), columns=["id", "id"])


def test_renaming_accepts_unicode_names_and_keeps_the_values():
    out, _ = run("rename_columns", frame(), mapping={"name": "prénom 名", "id": "ident"})
    assert list(out.columns) == ["ident", "price", "prénom 名", "score"]
    assert out["prénom 名"].tolist()[:2] == ["Zoë, Ågren", "bo"]


def test_renaming_onto_an_existing_name_is_refused():
    with pytest.raises(ValueError, match="Two columns would be named 'id'"):
        run("rename_columns", frame(), mapping={"name": "id"})


def test_renaming_a_missing_column_says_which():
    with pytest.raises(ValueError, match="'ghost'"):
        run("rename_columns", frame(), mapping={"ghost": "spirit"})


def test_casting_text_to_float_turns_what_is_not_a_number_into_null():
    out, _ = run("cast", frame(), columns=["price"], to="float")
    assert out["price"].dtype == "float64"
    assert out["price"].tolist()[:2] == [1.5, 2.0] and out["price"].isna().sum() == 2


def test_casting_to_int_truncates_decimals_and_keeps_nulls():
    out, _ = run("cast", frame(), columns=["score", "price"], to="int")
    assert str(out["score"].dtype) == "Int64"
    assert values(out["score"]) == [0, None, 2, -1]
    assert values(out["price"]) == [1, 2, None, None]


def test_casting_with_errors_raise_names_a_value_that_does_not_convert():
    with pytest.raises(ValueError, match=r"'price'.*'n/a'.*coerce"):
        run("cast", frame(), columns=["price"], to="float", errors="raise")


def test_casting_with_errors_raise_treats_blank_text_as_missing_not_as_a_failure():
    df = pd.DataFrame({"x": ["1", " ", None, "3"]})
    out, _ = run("cast", df, columns=["x"], to="int", errors="raise")
    assert values(out["x"]) == [1, None, None, 3]


def test_casting_to_bool_reads_yes_no_words_and_numbers():
    df = pd.DataFrame({"w": ["Yes", "no", "TRUE", "0", "maybe", None], "n": [1, 0, 2, None, 0, 1]})
    out, _ = run("cast", df, columns=["w", "n"], to="bool")
    assert values(out["w"]) == [True, False, True, False, None, None]
    assert values(out["n"]) == [True, False, True, None, False, True]


def test_casting_to_datetime_reads_text_dates_and_nulls_the_rest():
    df = pd.DataFrame({"d": ["2024-01-05", "2024-02-30", None, "2024-03-01"]})
    out, _ = run("cast", df, columns=["d"], to="datetime")
    assert pd.api.types.is_datetime64_any_dtype(out["d"])
    assert out["d"].isna().tolist() == [False, True, True, False]


def test_casting_to_string_and_category_keeps_unicode_and_nulls():
    out, _ = run("cast", frame(), columns=["name"], to="category")
    assert isinstance(out["name"].dtype, pd.CategoricalDtype)
    assert "日本,語" in out["name"].cat.categories and out["name"].isna().sum() == 1
    out, _ = run("cast", frame(), columns=["score"], to="string")
    assert out["score"].tolist()[0] == "0.5" and out["score"].isna().sum() == 1


def test_casting_dates_to_a_number_is_refused_with_a_hint():
    df = pd.DataFrame({"d": pd.to_datetime(["2024-01-01", None])})
    with pytest.raises(ValueError, match="Extract date parts"):
        run("cast", df, columns=["d"], to="float")


def test_duplicating_a_column_places_the_copy_right_after_it():
    out, _ = run("duplicate_column", frame(), column="name", new_name="name 2")
    assert list(out.columns) == ["id", "price", "name", "name 2", "score"]
    assert out["name 2"].equals(out["name"])


def test_duplicating_onto_an_existing_name_is_refused():
    with pytest.raises(ValueError, match="already a column named 'id'"):
        run("duplicate_column", frame(), column="name", new_name="id")


def test_splitting_a_column_makes_as_many_columns_as_the_longest_value():
    out, state = run("split_column", frame(), column="name", delimiter=",")
    assert state == {"parts": 2}
    assert values(out["name_0"]) == ["Zoë", "bo", None, "日本"]
    assert values(out["name_1"]) == [" Ågren", None, None, "語"]
    assert list(out.columns) == ["id", "price", "name", "name_0", "name_1", "score"]


def test_splitting_with_max_splits_keeps_the_rest_in_the_last_column():
    df = pd.DataFrame({"p": ["a/b/c/d", "e"]})
    out, state = run("split_column", df, column="p", delimiter="/", max_splits=1)
    assert state == {"parts": 2} and values(out["p_1"]) == ["b/c/d", None]


def test_splitting_new_data_reuses_the_fitted_number_of_columns():
    _, state = run("split_column", pd.DataFrame({"p": ["a-b", "c"]}), column="p", delimiter="-")
    state = json.loads(json.dumps(state))
    new = pd.DataFrame({"p": ["x-y-z", "w"]})
    out, again = run("split_column", new, state=state, column="p", delimiter="-")
    assert again == {"parts": 2}
    assert [c for c in out.columns if c.startswith("p_")] == ["p_0", "p_1"]
    assert values(out["p_1"]) == ["y-z", None]


def test_splitting_an_empty_frame_still_makes_the_first_part_column():
    out, state = run("split_column", frame().head(0), column="name")
    assert state == {"parts": 1} and "name_0" in out.columns and len(out) == 0


def test_splitting_a_number_column_asks_for_text():
    with pytest.raises(ValueError, match="'score' is not text"):
        run("split_column", frame(), column="score")
