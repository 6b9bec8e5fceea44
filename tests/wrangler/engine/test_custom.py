"""custom_pandas: user code over df, with clear errors (run here in-process, no database)."""

from __future__ import annotations

import pandas as pd
import pytest

from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform

pytestmark = pytest.mark.filterwarnings("error")


def run(df: pd.DataFrame, code: str) -> pd.DataFrame:
    """The transform as a flow runs it: parameters checked first."""
    defn = get_transform("custom_pandas")
    assert defn is not None
    out, state = defn.func(df, state=None, **check_params(defn, {"code": code}))
    assert state == {}
    return out


def frame() -> pd.DataFrame:
    return pd.DataFrame({"price": [1.5, None, 3.0], "name": ["Zoë", "日本", None]})


def test_custom_pandas_is_registered_as_custom_code_that_only_a_worker_runs():
    defn = get_transform("custom_pandas")
    assert defn is not None and defn.custom_code and defn.category == "Custom"
    assert not defn.fitted and not defn.rowwise
    assert [(p.name, p.kind, p.required) for p in defn.params] == [("code", "text", True)]


def test_custom_code_can_add_columns_with_pd_and_np():
    out = run(frame(), "df['double'] = np.where(df['price'].isna(), 0, df['price'] * 2)")
    assert out["double"].tolist() == [3.0, 0.0, 6.0]


def test_custom_code_can_replace_df_and_handle_unicode():
    out = run(frame(), "df = df[df['name'].str.len() == 2].reset_index(drop=True)")
    assert out["name"].tolist() == ["日本"]


def test_custom_code_never_changes_the_input_frame():
    df = frame()
    before = df.copy()
    run(df, "df['price'] = df['price'].fillna(0)\ndf.loc[0, 'name'] = 'changed'")
    pd.testing.assert_frame_equal(df, before)


def test_custom_code_works_on_an_empty_frame_and_a_single_row():
    out = run(frame().head(0), "df['n'] = df['price'] + 1")
    assert len(out) == 0 and list(out.columns) == ["price", "name", "n"]
    out = run(frame().head(1), "df['n'] = df['price'] + 1")
    assert out["n"].tolist() == [2.5]


def test_a_syntax_error_gives_its_line_number():
    with pytest.raises(ValueError, match="syntax error on line 2"):
        run(frame(), "x = 1\ndf = df[\n")


def test_an_error_in_the_code_is_wrapped_with_its_type_and_line():
    code = "a = 1\nb = 2\ndf['x'] = df['missing'] * 2\n"
    with pytest.raises(ValueError, match=r"Your code raised KeyError: 'missing' \(line 3\)"):
        run(frame(), code)


def test_an_error_inside_a_function_of_the_code_points_at_the_inner_line():
    code = "def f(v):\n    return v / 0\n\ndf['y'] = f(1)\n"
    with pytest.raises(ValueError, match=r"ZeroDivisionError: division by zero \(line 2\)"):
        run(frame(), code)


def test_an_operation_on_the_wrong_dtype_is_reported_as_the_code_s_error():
    with pytest.raises(ValueError, match=r"Your code raised TypeError: .* \(line 1\)"):
        run(frame(), "df['z'] = df['name'] - 1")


def test_leaving_something_other_than_a_dataframe_in_df_is_refused():
    with pytest.raises(ValueError, match="must leave a DataFrame in df; it holds int"):
        run(frame(), "df = 3")
    with pytest.raises(ValueError, match="left a Series in df"):
        run(frame(), "df = df['price']")
    with pytest.raises(ValueError, match="it holds NoneType"):
        run(frame(), "del df")


def test_calling_exit_is_refused_instead_of_stopping_the_worker():
    with pytest.raises(ValueError, match="called exit"):
        run(frame(), "raise SystemExit(1)")
