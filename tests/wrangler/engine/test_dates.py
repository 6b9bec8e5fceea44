"""Date transforms: parse, extract parts, differences (no database)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.wrangler.engine.helpers import run, values
from wrangler.engine.registry import get_transform

pytestmark = pytest.mark.filterwarnings("error")


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start": ["2024-01-05", "2024/02/03 10:30", "not a date", None],
            "end": ["2024-01-06 12:00", "2024-02-03", "2024-01-01", "2024-01-01"],
            "label": ["début", "中", "x", "y"],
            "n": [1700000000, 0, 1, 2],
        }
    )


CASES = [
    ("parse_datetime", {"columns": ["start"]}),
    ("extract_datetime", {"column": "start", "parts": ["year", "weekday"]}),
    ("datetime_diff", {"start": "start", "end": "end", "unit": "hours"}),
]


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_date_transform_leaves_its_input_frame_untouched(type_name, params):
    df = frame()
    before = df.copy()
    run(type_name, df, **params)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_date_transform_turns_an_empty_frame_into_an_empty_frame(type_name, params):
    out, state = run(type_name, frame().head(0), **params)
    whole, _ = run(type_name, frame(), **params)
    assert len(out) == 0 and list(out.columns) == list(whole.columns) and state == {}
    assert out.dtypes.to_dict() == whole.dtypes.to_dict()


@pytest.mark.parametrize("type_name, params", CASES)
def test_every_date_transform_handles_a_single_row(type_name, params):
    out, _ = run(type_name, frame().head(1), **params)
    assert len(out) == 1 and out.iloc[0].notna().all()


def test_the_date_transforms_are_registered_as_rowwise_date_transforms():
    for type_name, _ in CASES:
        defn = get_transform(type_name)
        assert defn is not None and defn.category == "Dates" and defn.rowwise


def test_parse_datetime_reads_several_formats_and_nulls_what_is_not_a_date():
    out, _ = run("parse_datetime", frame(), columns=["start"])
    assert pd.api.types.is_datetime64_any_dtype(out["start"])
    assert values(out["start"]) == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-02-03 10:30"),
        None,
        None,
    ]


def test_parse_datetime_with_a_format_reads_day_first_dates():
    df = pd.DataFrame({"d": ["05/01/2024", "31/12/2023", "2024-01-05"]})
    out, _ = run("parse_datetime", df, columns=["d"], format="%d/%m/%Y")
    assert values(out["d"]) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2023-12-31"), None]


def test_parse_datetime_reads_numbers_as_unix_seconds_or_digits_with_a_format():
    out, _ = run("parse_datetime", frame(), columns=["n"])
    assert out["n"].tolist()[1] == pd.Timestamp("1970-01-01")
    df = pd.DataFrame({"d": [20240131, 20240230]})
    out, _ = run("parse_datetime", df, columns=["d"], format="%Y%m%d")
    assert values(out["d"]) == [pd.Timestamp("2024-01-31"), None]


def test_parse_datetime_in_utc_and_with_mixed_time_zones():
    out, _ = run("parse_datetime", frame(), columns=["start"], utc=True)
    assert str(out["start"].dt.tz) == "UTC"
    df = pd.DataFrame({"d": ["2024-01-05T10:00+02:00", "2024-01-05T10:00Z", None]})
    out, _ = run("parse_datetime", df, columns=["d"])
    assert values(out["d"])[:2] == [
        pd.Timestamp("2024-01-05 08:00", tz="UTC"),
        pd.Timestamp("2024-01-05 10:00", tz="UTC"),
    ]


def test_parse_datetime_with_a_bad_format_says_so():
    with pytest.raises(ValueError, match="format '%Q' is not understood"):
        run("parse_datetime", frame(), columns=["start"], format="%Q")


def test_parse_datetime_of_unicode_text_gives_nulls_not_an_error():
    out, _ = run("parse_datetime", frame(), columns=["label"])
    assert out["label"].isna().all()


def test_extract_datetime_parses_text_and_makes_a_column_per_part():
    parts = ["year", "month", "day", "weekday", "hour", "minute", "dayofyear", "quarter"]
    out, _ = run("extract_datetime", frame(), column="start", parts=parts)
    assert [c for c in out.columns if c.startswith("start_")] == [f"start_{p}" for p in parts]
    row = [out[f"start_{p}"].tolist()[1] for p in parts]
    assert row == [2024, 2, 3, 5, 10, 30, 34, 1]  # 3 Feb 2024 was a Saturday
    assert all(str(out[f"start_{p}"].dtype) == "Int64" for p in parts)
    assert values(out["start_year"]) == [2024, 2024, None, None]


def test_extract_datetime_from_a_number_column_asks_to_parse_it_first():
    with pytest.raises(ValueError, match="'n' holds numbers, not dates"):
        run("extract_datetime", frame(), column="n")


def test_extract_datetime_from_text_that_holds_no_dates_says_so():
    with pytest.raises(ValueError, match="'label' holds text that does not read as dates"):
        run("extract_datetime", frame(), column="label")


def test_datetime_diff_gives_decimals_in_the_unit_and_null_where_a_date_is_missing():
    out, _ = run("datetime_diff", frame(), start="start", end="end", unit="days")
    assert values(out["end_minus_start"]) == [1.5, -10.5 / 24, None, None]
    out, _ = run(
        "datetime_diff", frame(), start="start", end="end", unit="minutes", new_column="gap"
    )
    assert out["gap"].tolist()[0] == 36 * 60


def test_datetime_diff_works_on_columns_that_are_already_dates():
    df = pd.DataFrame(
        {
            "a": pd.to_datetime(["2024-01-01", None]),
            "b": pd.to_datetime(["2024-01-02", "2024-01-02"]),
        }
    )
    out, _ = run("datetime_diff", df, start="a", end="b", unit="seconds")
    assert values(out["b_minus_a"]) == [86400.0, None]


def test_datetime_diff_refuses_a_number_column_and_mixed_time_zones():
    with pytest.raises(ValueError, match="'n' holds numbers"):
        run("datetime_diff", frame(), start="n", end="end")
    df = pd.DataFrame({"a": ["2024-01-01T00:00+01:00"], "b": ["2024-01-02"]})
    with pytest.raises(ValueError, match="'a' has a time zone and 'b' has none"):
        run("datetime_diff", df, start="a", end="b")
