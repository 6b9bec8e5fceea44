"""The formula transform: a safe, vectorised expression language over columns."""

from __future__ import annotations
import __future__

import ast
import hashlib
import inspect
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.wrangler.engine.helpers import values
from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform

pytestmark = pytest.mark.filterwarnings("error")


def run(df: pd.DataFrame, expression: str, new_column: str = "r") -> pd.DataFrame:
    """The formula as a flow runs it: parameters checked and defaulted first."""
    defn = get_transform("formula")
    assert defn is not None
    params = check_params(defn, {"expression": expression, "new_column": new_column})
    out, state = defn.func(df, state=None, **params)
    assert state == {}
    return out


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "price": [1.5, None, 3.0, 0.0],
            "qty": [2, 3, 0, 1],
            "unit price": [1, 2, 3, 4],
            "name": ["a", "bé", None, "日本"],
            "flag": [True, False, True, False],
        }
    )


def test_formula_is_registered_as_a_rowwise_compute_transform():
    defn = get_transform("formula")
    assert defn is not None and defn.category == "Compute" and defn.rowwise
    assert [p.name for p in defn.params] == ["expression", "new_column"]
    assert defn.params[0].kind == "text"


def test_formula_leaves_its_input_frame_untouched():
    df = frame()
    before = df.copy()
    run(df, "price * qty", new_column="price")
    pd.testing.assert_frame_equal(df, before)


def test_formula_on_an_empty_frame_gives_an_empty_column():
    out = run(frame().head(0), "price * 2 + qty")
    assert len(out) == 0 and list(out.columns) == [*frame().columns, "r"]


def test_formula_on_a_single_row():
    assert run(frame().head(1), "price * qty")["r"].tolist() == [3.0]


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("price * qty", [3.0, None, 0.0, 0.0]),
        ("price + qty - 1", [2.5, None, 2.0, 0.0]),
        ("qty / 2", [1.0, 1.5, 0.0, 0.5]),
        ("qty // 2", [1, 1, 0, 0]),
        ("qty % 2", [0, 1, 0, 1]),
        ("qty ** 2", [4, 9, 0, 1]),
        ("-qty", [-2, -3, 0, -1]),
        ("2 + 3", [5, 5, 5, 5]),
        ("`unit price` * 10", [10, 20, 30, 40]),
        ('col("unit price") + qty', [3, 5, 3, 5]),
        ("flag * 10", [10, 0, 10, 0]),
    ],
)
def test_formula_arithmetic_works_column_by_column(expression, expected):
    assert values(run(frame(), expression)["r"]) == expected


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("abs(price - 2)", [0.5, None, 1.0, 2.0]),
        ("sqrt(qty * 4)", [math.sqrt(8), math.sqrt(12), 0.0, 2.0]),
        ("log(qty + 1)", [math.log(3), math.log(4), 0.0, math.log(2)]),
        ("log1p(qty)", [math.log1p(2), math.log1p(3), 0.0, math.log1p(1)]),
        ("exp(0 * qty)", [1.0, 1.0, 1.0, 1.0]),
        ("round(price / 7, 2)", [0.21, None, 0.43, 0.0]),
        ("floor(price)", [1.0, None, 3.0, 0.0]),
        ("ceil(price)", [2.0, None, 3.0, 0.0]),
        ("min(price, qty, 2)", [1.5, 2.0, 0.0, 0.0]),
        ("max(price, qty)", [2.0, 3.0, 3.0, 1.0]),
        ("where(qty > 1, 'big', 'small')", ["big", "big", "small", "small"]),
        ("if_else(price > 1, price, 0)", [1.5, 0.0, 3.0, 0.0]),
        ("isnull(price)", [False, True, False, False]),
        ("fillna(price, -1)", [1.5, -1.0, 3.0, 0.0]),
        ("fillna(name, '?')", ["a", "bé", "?", "日本"]),
    ],
)
def test_formula_functions_work_column_by_column(expression, expected):
    assert values(run(frame(), expression)["r"]) == pytest.approx(expected)


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("price > 1 and qty > 1", [True, False, False, False]),
        ("not flag or qty == 0", [False, True, True, True]),
        ("1 < qty <= 2", [True, False, False, False]),
        ("name == 'bé'", [False, True, False, False]),
        ("qty != 3", [True, False, True, True]),
    ],
)
def test_formula_comparisons_and_logic_give_true_or_false(expression, expected):
    assert values(run(frame(), expression)["r"]) == expected


def test_formula_joins_unicode_text_with_plus():
    assert values(run(frame(), "name + '!'")["r"]) == ["a!", "bé!", None, "日本!"]


def test_formula_gives_null_for_division_by_zero_and_undefined_results():
    assert values(run(frame(), "qty / 0")["r"]) == [None] * 4
    assert values(run(frame(), "sqrt(price - 2)")["r"]) == [None, None, 1.0, None]
    assert values(run(frame(), "10 ** 400")["r"]) == [None] * 4


def test_formula_can_replace_an_existing_column():
    out = run(frame(), "price * 2", new_column="price")
    assert list(out.columns) == list(frame().columns)
    assert values(out["price"]) == [3.0, None, 6.0, 0.0]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("price.real", "Attribute access"),
        ("name.__class__", "Attribute access"),
        ("price[0]", "Subscripts"),
        ("lambda: 1", "A lambda"),
        ("[x for x in price]", "A comprehension"),
        ("__import__('os')", "'__import__' is not allowed"),
        ("open('x')", "'open' is not allowed"),
        ("eval('1')", "'eval' is not allowed"),
        ("__builtins__", "Names starting with '__'"),
        ("(price).sum()", "Calling 'price.sum' is not allowed"),
        ("price & qty", "'&'"),
        ("price if qty else 1", "inline 'if"),
        ("price in qty", "'in'"),
        ("price is None", "'is'"),
        ("f'{price}'", "f-string"),
        ("[1, 2]", "A list"),
        ("1j", "1j"),
        ("abs(x=price)", "keyword"),
        ("max(*price)", "'\\*'"),
        ("col(name)", "col\\(\\) takes one column name in quotes"),
        ("(x := 1)", "assignment"),
    ],
)
def test_formula_refuses_anything_outside_its_grammar(expression, message):
    with pytest.raises(ValueError, match=message):
        run(frame(), expression)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("name * 2", "'\\*' needs numbers, but 'name' is text"),
        ("name - 1", "'-' needs numbers, but 'name' is text"),
        ("sqrt(name)", "sqrt\\(\\) needs numbers"),
        ("name > 1", "'name' is text and '1' is not"),
        ("not name", "'not' needs true/false values"),
        ("fillna(price, 'x')", "one is text and the other is not"),
    ],
)
def test_formula_number_operations_on_text_are_clear_errors(expression, message):
    with pytest.raises(ValueError, match=message):
        run(frame(), expression)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("", "Write a formula"),
        ("price +", "not valid"),
        ("`unit price", "closing '`'"),
        ("nope + 1", "There is no column 'nope'"),
        ("sqrt(price, 2)", "sqrt\\(\\) takes 1 argument, not 2"),
        ("min(price)", "at least 2"),
        ("round(price, 1.5)", "whole number"),
        ("(" * 300 + "1" + ")" * 300, "nested|not valid"),
        ("1 + " * 5000 + "1", "too long"),
    ],
)
def test_formula_mistakes_are_explained(expression, message):
    with pytest.raises(ValueError, match=message):
        run(frame(), expression)


def test_formula_runs_standalone_as_the_export_copies_it():
    """The function and its helpers need only pd, np, math, re, json, hashlib and ast."""
    defn = get_transform("formula")
    assert defn is not None
    namespace: dict[str, Any] = {
        "pd": pd,
        "np": np,
        "math": math,
        "re": re,
        "json": json,
        "hashlib": hashlib,
        "ast": ast,
        "Any": Any,
    }
    for func in [*defn.helpers, defn.func]:
        tree = ast.parse(inspect.getsource(func))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                node.decorator_list = []
        flags = __future__.annotations.compiler_flag
        exec(compile(tree, "<export>", "exec", flags=flags, dont_inherit=True), namespace)
    out, _ = namespace["formula"](frame(), expression="where(`unit price` > 2, qty, -1)")
    assert out["result"].tolist() == [-1, -1, 0, 1]
    with pytest.raises(ValueError, match="Attribute access"):
        namespace["formula"](frame(), expression="price.values")
