"""A computed column from a safe arithmetic formula over the other columns.

The formula is read with Python's ``ast`` and only a small grammar is evaluated, vectorised
over whole columns: numbers and quoted text, column names (bare, `back-quoted` or
``col("name")``), + - * / // % **, comparisons, and/or/not, and a short list of functions.
Nothing else (attributes, subscripts, lambdas, other calls) is ever run.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform


def _formula_functions() -> tuple[str, ...]:
    """The functions a formula may call."""
    return (
        "abs",
        "sqrt",
        "log",
        "log1p",
        "exp",
        "round",
        "floor",
        "ceil",
        "min",
        "max",
        "where",
        "if_else",
        "isnull",
        "fillna",
        "col",
    )


def _formula_forbidden(node: ast.AST) -> str:
    """What ``node`` is, in words, for the error that says it is not allowed."""
    words = {
        "Attribute": "Attribute access ('.')",
        "Subscript": "Subscripts ('[…]')",
        "Slice": "Slices",
        "Lambda": "A lambda",
        "ListComp": "A comprehension",
        "SetComp": "A comprehension",
        "DictComp": "A comprehension",
        "GeneratorExp": "A generator expression",
        "List": "A list",
        "Tuple": "A tuple",
        "Set": "A set",
        "Dict": "A dict",
        "IfExp": "An inline 'if … else' (use where(condition, a, b))",
        "NamedExpr": "An assignment (':=')",
        "JoinedStr": "An f-string",
        "FormattedValue": "An f-string",
        "Starred": "A '*' argument",
        "keyword": "A keyword argument",
        "Await": "await",
        "Yield": "yield",
        "YieldFrom": "yield",
        "MatMult": "The operator '@'",
        "BitAnd": "The operator '&' (use 'and')",
        "BitOr": "The operator '|' (use 'or')",
        "BitXor": "The operator '^' (use '**' for powers)",
        "Invert": "The operator '~' (use 'not')",
        "LShift": "The operator '<<'",
        "RShift": "The operator '>>'",
        "In": "'in'",
        "NotIn": "'not in'",
        "Is": "'is' (use isnull(…))",
        "IsNot": "'is not' (use not isnull(…))",
    }
    return words.get(type(node).__name__, type(node).__name__)


def _formula_check(tree: ast.AST) -> None:
    """ValueError naming the first thing in ``tree`` that a formula may not use."""
    allowed = (
        ast.Expression,
        ast.Constant,
        ast.Name,
        ast.Load,
        ast.BinOp,
        ast.UnaryOp,
        ast.BoolOp,
        ast.Compare,
        ast.Call,
        ast.Add,
        ast.Sub,
        ast.Mult,
        ast.Div,
        ast.FloorDiv,
        ast.Mod,
        ast.Pow,
        ast.USub,
        ast.UAdd,
        ast.Not,
        ast.And,
        ast.Or,
        ast.Eq,
        ast.NotEq,
        ast.Lt,
        ast.LtE,
        ast.Gt,
        ast.GtE,
    )
    functions = _formula_functions()
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ValueError(f"{_formula_forbidden(node)} is not allowed in a formula.")
        if isinstance(node, ast.Constant) and not (
            node.value is None or isinstance(node.value, int | float | str)
        ):
            raise ValueError(f"The value {node.value!r} is not allowed in a formula.")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ValueError(f"Names starting with '__' ({node.id}) are not allowed in a formula.")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ValueError(
                    f"Calling {ast.unparse(node.func)!r} is not allowed; a formula may call "
                    f"only {', '.join(functions)}."
                )
            if node.func.id not in functions:
                raise ValueError(
                    f"The function {node.func.id!r} is not allowed; a formula may call only "
                    f"{', '.join(functions)}."
                )
            if node.keywords:
                raise ValueError(f"{node.func.id}() takes no keyword arguments in a formula.")
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    raise ValueError("A '*' argument is not allowed in a formula.")
            if node.func.id == "col" and not (
                len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                raise ValueError('col() takes one column name in quotes, such as col("my col").')


def _formula_parse(expression: str) -> ast.Expression:
    """The checked syntax tree of ``expression``, with `back-quoted` names turned into col()."""
    text = expression.strip()
    if not text:
        raise ValueError("Write a formula, such as price * quantity.")
    if len(text) > 10000:
        raise ValueError("The formula is too long (at most 10,000 characters).")
    if text.count("`") % 2:
        raise ValueError("A back-quoted column name is missing its closing '`'.")
    text = re.sub(r"`([^`]*)`", lambda m: f"col({m.group(1)!r})", text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" (at character {exc.offset})" if exc.offset else ""
        raise ValueError(f"The formula is not valid: {exc.msg}{where}.")
    except (RecursionError, MemoryError):
        raise ValueError("The formula is nested too deeply.")
    _formula_check(tree)
    return tree


def formula_columns(expression: str) -> set[str]:
    """The columns a formula reads (bare names and ``col("…")``), for planning a run."""
    tree = _formula_parse(expression)
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in functions}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "col"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _formula_is_text(value: Any) -> bool:
    """Whether ``value`` is text: a string, or a column of strings."""
    if isinstance(value, str):
        return True
    if isinstance(value, pd.Series):
        dtype = value.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            dtype = dtype.categories.dtype
        if isinstance(dtype, pd.StringDtype):
            return True
        if pd.api.types.is_object_dtype(dtype):
            values = value.dropna()
            return len(values) > 0 and bool(values.map(lambda v: isinstance(v, str)).all())
    return False


def _formula_number(value: Any, what: str, source: str) -> Any:
    """``value`` ready for arithmetic (true/false as 1/0), or a ValueError if it is not numeric."""
    if value is None:
        raise ValueError(f"{what} needs numbers, but {source!r} is null.")
    if _formula_is_text(value):
        raise ValueError(
            f"{what} needs numbers, but {source!r} is text; change its type to a number first."
        )
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, pd.Series):
        dtype = value.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            value = value.astype(dtype.categories.dtype)
            dtype = value.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return value.astype("Int64")
        if pd.api.types.is_object_dtype(dtype):
            converted = pd.to_numeric(value, errors="coerce")
            if converted.isna().sum() > value.isna().sum():
                raise ValueError(f"{what} needs numbers, but {source!r} holds other values.")
            return converted
    return value


def _formula_bool(value: Any, what: str, source: str) -> Any:
    """``value`` as true/false (a boolean column or a bool), or a ValueError."""
    if _formula_is_text(value):
        raise ValueError(f"{what} needs true/false values, but {source!r} is text.")
    if isinstance(value, pd.Series):
        if pd.api.types.is_bool_dtype(value.dtype):
            return value
        numbers = _formula_number(value, what, source)
        return (numbers != 0).astype("boolean").mask(numbers.isna())
    if value is None:
        return None
    return bool(value)


def _formula_column(df: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name``, or a ValueError listing the columns there are."""
    if name in df.columns:
        return df[name]
    listed = ", ".join(repr(str(c)) for c in list(df.columns)[:12])
    more = ", …" if len(df.columns) > 12 else ""
    raise ValueError(
        f"There is no column {name!r}; the columns are {listed}{more}. Write a name with "
        "spaces or symbols in back-quotes, such as `unit price`."
    )


def _formula_broadcast(value: Any, index: pd.Index) -> pd.Series:
    """``value`` as a column over ``index`` (a scalar repeated on every row)."""
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, np.ndarray):
        return pd.Series(value, index=index)
    return pd.Series([value] * len(index), index=index)


def _formula_binop(op: ast.operator, left: Any, right: Any, sources: tuple[str, str]) -> Any:
    """``left op right`` for + - * / // % **, column-wise."""
    symbol = {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.FloorDiv: "//",
        ast.Mod: "%",
        ast.Pow: "**",
    }[type(op)]
    if isinstance(op, ast.Add) and _formula_is_text(left) and _formula_is_text(right):
        return left + right
    what = f"'{symbol}'"
    a = _formula_number(left, what, sources[0])
    b = _formula_number(right, what, sources[1])
    with np.errstate(all="ignore"):
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        scalars = not isinstance(a, pd.Series) and not isinstance(b, pd.Series)
        if isinstance(op, ast.Pow):
            if scalars:
                try:
                    return float(a) ** float(b)
                except (OverflowError, ZeroDivisionError):
                    return math.nan
            if isinstance(b, pd.Series) or (isinstance(b, int) and b < 0):
                a = a.astype("float64") if isinstance(a, pd.Series) else float(a)
            return a**b
        if scalars and b == 0:
            return math.nan
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.FloorDiv):
            return a // b
        return a % b


def _formula_compare(op: ast.cmpop, left: Any, right: Any, sources: tuple[str, str]) -> Any:
    """``left op right`` for == != < <= > >=, column-wise."""
    if left is None or right is None:
        raise ValueError("Compare with null using isnull(…), not == or !=.")
    if _formula_is_text(left) != _formula_is_text(right):
        text, other = sources if _formula_is_text(left) else sources[::-1]
        if not (
            isinstance(left, pd.Series) and pd.api.types.is_datetime64_any_dtype(left.dtype)
        ) and not (
            isinstance(right, pd.Series) and pd.api.types.is_datetime64_any_dtype(right.dtype)
        ):
            raise ValueError(
                f"{text!r} is text and {other!r} is not, so they cannot be compared; "
                "change one of their types first."
            )
    if isinstance(op, ast.Eq):
        return left == right
    if isinstance(op, ast.NotEq):
        return left != right
    if isinstance(op, ast.Lt):
        return left < right
    if isinstance(op, ast.LtE):
        return left <= right
    if isinstance(op, ast.Gt):
        return left > right
    return left >= right


def _formula_call(name: str, args: list[Any], sources: list[str], df: pd.DataFrame) -> Any:
    """The result of the formula function ``name`` over already evaluated ``args``."""
    counts = {
        "abs": (1, 1),
        "sqrt": (1, 1),
        "log": (1, 1),
        "log1p": (1, 1),
        "exp": (1, 1),
        "floor": (1, 1),
        "ceil": (1, 1),
        "round": (1, 2),
        "min": (2, 100),
        "max": (2, 100),
        "where": (3, 3),
        "if_else": (3, 3),
        "isnull": (1, 1),
        "fillna": (2, 2),
    }
    low, high = counts[name]
    if not low <= len(args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        if name in ("min", "max"):
            wanted = "at least 2 (it compares values row by row)"
        plural = "" if wanted == "1" else "s"
        raise ValueError(f"{name}() takes {wanted} argument{plural}, not {len(args)}.")
    what = f"{name}()"
    if name in ("abs", "sqrt", "log", "log1p", "exp", "floor", "ceil"):
        value = _formula_number(args[0], what, sources[0])
        ufunc = {
            "abs": np.abs,
            "sqrt": np.sqrt,
            "log": np.log,
            "log1p": np.log1p,
            "exp": np.exp,
            "floor": np.floor,
            "ceil": np.ceil,
        }[name]
        with np.errstate(all="ignore"):
            result = ufunc(value)
        return result.item() if isinstance(result, np.generic) else result
    if name == "round":
        value = _formula_number(args[0], what, sources[0])
        digits = args[1] if len(args) == 2 else 0
        if isinstance(digits, bool) or not isinstance(digits, int):
            raise ValueError("round()'s second argument must be a whole number of decimals.")
        if isinstance(value, pd.Series):
            return value.round(digits)
        return round(float(value), digits)
    if name in ("min", "max"):
        values = [_formula_number(v, what, s) for v, s in zip(args, sources, strict=True)]
        if not any(isinstance(v, pd.Series) for v in values):
            return min(values) if name == "min" else max(values)
        table = pd.concat(
            [_formula_broadcast(v, df.index) for v in values], axis=1, ignore_index=True
        )
        return table.min(axis=1) if name == "min" else table.max(axis=1)
    if name in ("where", "if_else"):
        condition = _formula_bool(args[0], what, sources[0])
        if not isinstance(condition, pd.Series):
            return args[1] if condition else args[2]
        chosen = condition.fillna(False).astype(bool)
        yes = _formula_broadcast(args[1], df.index)
        no = _formula_broadcast(args[2], df.index)
        if args[1] is None:
            return no.where(~chosen)
        if args[2] is None:
            return yes.where(chosen)
        if _formula_is_text(yes) != _formula_is_text(no):
            yes, no = yes.astype(object), no.astype(object)  # a column of mixed values
        return yes.where(chosen, no)
    if name == "isnull":
        value = args[0]
        if isinstance(value, pd.Series):
            return value.isna()
        return value is None or (isinstance(value, float) and math.isnan(value))
    # fillna
    value, filler = args
    if filler is None:
        return value
    if _formula_is_text(value) != _formula_is_text(filler) and value is not None:
        if not (isinstance(value, pd.Series) and value.isna().all()):
            raise ValueError(
                f"fillna() fills {sources[0]!r} with {sources[1]!r}, but one is text and the "
                "other is not; use values of the same type."
            )
    if isinstance(value, pd.Series):
        return value.fillna(filler)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return filler
    return value


def _formula_eval(node: ast.AST, df: pd.DataFrame) -> Any:
    """The value of a checked formula node: a column (Series) or a scalar."""
    if isinstance(node, ast.Expression):
        return _formula_eval(node.body, df)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return _formula_column(df, node.id)
    if isinstance(node, ast.BinOp):
        left = _formula_eval(node.left, df)
        right = _formula_eval(node.right, df)
        sources = (ast.unparse(node.left), ast.unparse(node.right))
        return _formula_binop(node.op, left, right, sources)
    if isinstance(node, ast.UnaryOp):
        operand = _formula_eval(node.operand, df)
        source = ast.unparse(node.operand)
        if isinstance(node.op, ast.Not):
            value = _formula_bool(operand, "'not'", source)
            if isinstance(value, pd.Series):
                return ~value
            return None if value is None else not value
        number = _formula_number(operand, "A sign", source)
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.BoolOp):
        what = "'and'" if isinstance(node.op, ast.And) else "'or'"
        result = None
        for i, item in enumerate(node.values):
            value = _formula_bool(_formula_eval(item, df), what, ast.unparse(item))
            if i == 0:
                result = value
            elif isinstance(node.op, ast.And):
                result = (result & value) if isinstance(result, pd.Series) else (value & result)
            else:
                result = (result | value) if isinstance(result, pd.Series) else (value | result)
        return result
    if isinstance(node, ast.Compare):
        left = _formula_eval(node.left, df)
        left_source = ast.unparse(node.left)
        outcome: Any = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _formula_eval(right_node, df)
            right_source = ast.unparse(right_node)
            step = _formula_compare(op, left, right, (left_source, right_source))
            outcome = step if outcome is None else (outcome & step)
            left, left_source = right, right_source
        return outcome
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "col":
            name = node.args[0]
            assert isinstance(name, ast.Constant)
            return _formula_column(df, str(name.value))
        args = [_formula_eval(a, df) for a in node.args]
        arg_sources = [ast.unparse(a) for a in node.args]
        return _formula_call(node.func.id, args, arg_sources, df)
    raise ValueError(f"{_formula_forbidden(node)} is not allowed in a formula.")


@transform(
    "formula",
    title="Formula",
    category="Compute",
    rowwise=True,
    helpers=[
        _formula_functions,
        _formula_forbidden,
        _formula_check,
        _formula_parse,
        _formula_is_text,
        _formula_number,
        _formula_bool,
        _formula_column,
        _formula_broadcast,
        _formula_binop,
        _formula_compare,
        _formula_call,
        _formula_eval,
    ],
    params=[
        Param(
            "expression",
            "text",
            required=True,
            help="e.g. price * quantity, log1p(`unit price`), where(age >= 18, 'adult', 'minor'). "
            "Functions: abs, sqrt, log, log1p, exp, round, floor, ceil, min, max, where, "
            "if_else, isnull, fillna, col.",
        ),
        Param("new_column", "string", default="result", help="Name of the computed column."),
    ],
)
def formula(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    expression: str,
    new_column: str = "result",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add (or replace) a column computed from the others by a formula.

    Division by zero and other undefined results (log of a negative number) give null.
    """
    if not new_column:
        raise ValueError("Give the computed column a name.")
    tree = _formula_parse(expression)
    try:
        value = _formula_eval(tree, df)
    except RecursionError:
        raise ValueError("The formula is nested too deeply.")
    except (TypeError, ArithmeticError) as exc:
        raise ValueError(f"The formula could not be computed: {exc}.")
    result = _formula_broadcast(value, df.index)
    dtype = result.dtype
    if pd.api.types.is_float_dtype(dtype):
        numbers = result.astype("float64")
        result = numbers.mask(~np.isfinite(numbers.to_numpy(dtype="float64")))
    out = df.copy(deep=False)
    out[new_column] = result
    return out, {}
