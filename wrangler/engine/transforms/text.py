"""Text transforms: clean up, extract or replace with regular expressions, measure length."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform

TEXT_OPERATIONS = ("lower", "upper", "strip", "punctuation", "whitespace", "digits")


def _text_column(df: pd.DataFrame, column: str) -> pd.Series:
    """``df[column]`` as the str dtype, or a ValueError when it is missing or not text."""
    if column not in df.columns:
        raise ValueError(f"Column {column!r} is not in this node's input.")
    series = df[column]
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype)
        dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return series
    if pd.api.types.is_object_dtype(dtype) and bool(
        series.dropna().map(lambda v: isinstance(v, str)).all()
    ):
        return series.astype("str")
    raise ValueError(f"{column!r} is not text (it holds {dtype}); change its type to string first.")


def _text_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, or a ValueError that says what is wrong with it."""
    if not pattern:
        raise ValueError("Give a regular expression to look for.")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"The pattern {pattern!r} is not a valid regular expression: {exc}.")


@transform(
    "text_clean",
    title="Clean text",
    category="Text",
    rowwise=True,
    helpers=[_text_column],
    params=[
        Param("columns", "columns", required=True),
        Param(
            "operations",
            "choices",
            default=["strip", "whitespace"],
            choices=TEXT_OPERATIONS,
            help="Applied in this order: punctuation, digits, whitespace, strip, lower, upper.",
        ),
    ],
)
def text_clean(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    operations: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Tidy text: remove punctuation or digits, collapse spaces, trim, change case.

    punctuation removes every character that is not a letter, a digit or a space (in any
    script); whitespace turns each run of spaces, tabs and newlines into one space.
    """
    ops = set(operations if operations is not None else ["strip", "whitespace"])
    if "lower" in ops and "upper" in ops:
        raise ValueError("Pick lower or upper case, not both.")
    out = df.copy(deep=False)
    for column in columns:
        text = _text_column(df, column)
        if "punctuation" in ops:
            text = text.str.replace(r"[^\w\s]|_", "", regex=True)
        if "digits" in ops:
            text = text.str.replace(r"\d", "", regex=True)
        if "whitespace" in ops:
            text = text.str.replace(r"\s+", " ", regex=True)
        if "strip" in ops:
            text = text.str.strip()
        if "lower" in ops:
            text = text.str.lower()
        if "upper" in ops:
            text = text.str.upper()
        out[column] = text
    return out, {}


@transform(
    "regex_extract",
    title="Extract with a pattern",
    category="Text",
    rowwise=True,
    helpers=[_text_column, _text_pattern],
    params=[
        Param("column", "column", required=True),
        Param("pattern", "string", required=True, help=r"A regular expression, e.g. (\d+)."),
        Param(
            "group",
            "integer",
            default=1,
            minimum=0,
            maximum=100,
            help="Which parenthesised group to keep; 0 for the whole match.",
        ),
        Param("new_column", "string", help="Name of the new column; <column>_extract if empty."),
    ],
)
def regex_extract(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    column: str,
    pattern: str,
    group: int = 1,
    new_column: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Put the first match of a regular expression (or one of its groups) in a new column.

    Rows where the pattern is not found get null.
    """
    compiled = _text_pattern(pattern)
    text = _text_column(df, column)
    if group > compiled.groups:
        raise ValueError(
            f"The pattern has {compiled.groups} group(s) in parentheses, so there is no "
            f"group {group}; use 0 for the whole match."
        )
    if group == 0:

        def whole(value: str) -> str | None:
            found = compiled.search(value)
            return found.group(0) if found else None

        values = text.map(whole, na_action="ignore").astype("str")
    else:
        values = text.str.extract(pattern, expand=True).iloc[:, group - 1].astype("str")
    out = df.copy(deep=False)
    out[new_column or f"{column}_extract"] = values
    return out, {}


@transform(
    "regex_replace",
    title="Replace with a pattern",
    category="Text",
    rowwise=True,
    helpers=[_text_column, _text_pattern],
    params=[
        Param("columns", "columns", required=True),
        Param("pattern", "string", required=True, help="A regular expression."),
        Param(
            "replacement",
            "string",
            default="",
            help=r"What replaces each match; \1 or \g<name> insert a group.",
        ),
    ],
)
def regex_replace(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    pattern: str,
    replacement: str = "",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace every match of a regular expression in text columns."""
    _text_pattern(pattern)
    try:  # a pattern that always matches, with the same groups: checks the replacement
        re.compile(f"(?:{pattern})|").sub(replacement, "")
    except (re.error, IndexError) as exc:
        raise ValueError(f"The replacement {replacement!r} does not fit the pattern: {exc}.")
    out = df.copy(deep=False)
    for column in columns:
        text = _text_column(df, column)
        out[column] = text.str.replace(pattern, replacement, regex=True)
    return out, {}


@transform(
    "text_length",
    title="Text length",
    category="Text",
    rowwise=True,
    helpers=[_text_column],
    params=[Param("columns", "columns", required=True)],
)
def text_length(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add <column>_length: how many characters each text has (null where the text is)."""
    out = df.copy(deep=False)
    for column in columns:
        text = _text_column(df, column)
        out[f"{column}_length"] = text.str.len().astype("Int64")
    return out, {}
