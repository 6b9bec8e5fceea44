"""Text transforms: clean, regex extract and replace, length (no database)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.wrangler.engine.helpers import run, values
from wrangler.engine.registry import get_transform

pytestmark = pytest.mark.filterwarnings("error")


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "s": ["  Héllo,  Wörld! 42 ", None, "Order #A-17\ton 3/4", "日本語 テキスト。"],
            "n": [1, 2, 3, 4],
        }
    )


CASES = [
    ("text_clean", {"columns": ["s"], "operations": ["lower", "punctuation"]}),
    ("regex_extract", {"column": "s", "pattern": r"(\d+)"}),
    ("regex_replace", {"columns": ["s"], "pattern": r"\d", "replacement": "#"}),
    ("text_length", {"columns": ["s"]}),
]


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_text_transform_leaves_its_input_frame_untouched(type_name, params):
    df = frame()
    before = df.copy()
    run(type_name, df, **params)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_text_transform_turns_an_empty_frame_into_an_empty_frame(type_name, params):
    out, state = run(type_name, frame().head(0), **params)
    whole, _ = run(type_name, frame(), **params)
    assert len(out) == 0 and list(out.columns) == list(whole.columns) and state == {}


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_text_transform_handles_a_single_row_and_keeps_nulls_null(type_name, params):
    out, _ = run(type_name, frame().iloc[[1]], **params)
    nulls = 2 if type_name in ("regex_extract", "text_length") else 1  # a new column or not
    assert len(out) == 1 and out.isna().to_numpy().sum() == nulls


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_text_transform_refuses_a_number_column(type_name, params):
    wrong = {
        k: (["n"] if k == "columns" else "n" if k == "column" else v) for k, v in params.items()
    }
    with pytest.raises(ValueError, match="'n' is not text"):
        run(type_name, frame(), **wrong)


def test_the_text_transforms_are_registered_as_rowwise_text_transforms():
    for type_name, _ in CASES:
        defn = get_transform(type_name)
        assert defn is not None and defn.category == "Text" and defn.rowwise
        assert not defn.fitted


def test_text_clean_applies_every_operation_to_unicode_text():
    ops = ["punctuation", "digits", "whitespace", "strip", "lower"]
    out, _ = run("text_clean", frame(), columns=["s"], operations=ops)
    assert values(out["s"]) == ["héllo wörld", None, "order a on", "日本語 テキスト"]


def test_text_clean_by_default_trims_and_collapses_spaces():
    out, _ = run("text_clean", frame(), columns=["s"])
    assert out["s"].tolist()[0] == "Héllo, Wörld! 42"
    assert out["s"].tolist()[2] == "Order #A-17 on 3/4"


def test_text_clean_upper_case_and_not_both_cases():
    out, _ = run("text_clean", frame(), columns=["s"], operations=["upper", "strip"])
    assert out["s"].tolist()[0] == "HÉLLO,  WÖRLD! 42"
    with pytest.raises(ValueError, match="lower or upper"):
        run("text_clean", frame(), columns=["s"], operations=["upper", "lower"])


def test_text_clean_works_on_a_category_column():
    df = frame().assign(s=frame()["s"].astype("category"))
    out, _ = run("text_clean", df, columns=["s"], operations=["digits", "strip"])
    assert out["s"].tolist()[0] == "Héllo,  Wörld!"


def test_regex_extract_keeps_the_chosen_group_and_nulls_where_nothing_matches():
    out, _ = run("regex_extract", frame(), column="s", pattern=r"(\w)-(\d+)", group=2)
    assert values(out["s_extract"]) == [None, None, "17", None]


def test_regex_extract_group_zero_is_the_whole_match_and_the_new_column_can_be_named():
    out, _ = run("regex_extract", frame(), column="s", pattern=r"W\w+", group=0, new_column="mot")
    assert values(out["mot"]) == ["Wörld", None, None, None]


def test_regex_extract_matches_unicode_letters():
    out, _ = run("regex_extract", frame(), column="s", pattern=r"(\w+)。", group=1)
    assert values(out["s_extract"])[3] == "テキスト"


def test_regex_extract_asking_for_a_group_the_pattern_lacks_says_so():
    with pytest.raises(ValueError, match="no group 2"):
        run("regex_extract", frame(), column="s", pattern=r"(\d+)", group=2)


@pytest.mark.parametrize("type_name", ["regex_extract", "regex_replace"])
def test_an_invalid_regular_expression_is_a_clear_error(type_name):
    params: dict[str, Any] = {"pattern": "([a-z"}
    params.update({"column": "s"} if type_name == "regex_extract" else {"columns": ["s"]})
    with pytest.raises(ValueError, match=r"'\(\[a-z' is not a valid regular expression"):
        run(type_name, frame(), **params)


def test_regex_replace_replaces_every_match_and_can_use_groups():
    out, _ = run(
        "regex_replace", frame(), columns=["s"], pattern=r"(\d+)/(\d+)", replacement=r"\2 of \1"
    )
    assert out["s"].tolist()[2] == "Order #A-17\ton 4 of 3"
    out, _ = run("regex_replace", frame(), columns=["s"], pattern=r"[öé]", replacement="_")
    assert out["s"].tolist()[0] == "  H_llo,  W_rld! 42 "


def test_regex_replace_with_a_reference_to_a_missing_group_says_so():
    with pytest.raises(ValueError, match="does not fit the pattern"):
        run("regex_replace", frame(), columns=["s"], pattern=r"\d", replacement=r"\1")


def test_text_length_counts_characters_not_bytes():
    out, _ = run("text_length", frame(), columns=["s"])
    assert values(out["s_length"]) == [20, None, 18, 9]
    assert str(out["s_length"].dtype) == "Int64"
