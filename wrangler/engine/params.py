"""Checking a node's parameters against its transform's declaration."""

from __future__ import annotations

import math
from typing import Any, Final

from wrangler.engine.contracts import Param, ParamError, TransformDef

#: Comparison operators of ``filter_rows`` conditions.
FILTER_OPS: Final = (
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not_in",
    "is_null",
    "not_null",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
)
#: Aggregations of ``group_by`` and ``pivot``.
AGG_FUNCS: Final = (
    "count",
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "std",
    "var",
    "nunique",
    "first",
    "last",
)
_SCALARS = (str, int, float, bool, type(None))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _str_list(field: str, value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ParamError(field, f"{field} must be a list of {what}.")
    return list(value)


def _conditions(field: str, value: Any, depth: int = 0) -> list[dict[str, Any]]:
    if depth > 4:
        raise ParamError(field, "Conditions nest at most four groups deep.")
    if not isinstance(value, list) or not value:
        raise ParamError(field, f"{field} must be a non-empty list of conditions.")
    checked: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise ParamError(field, "Each condition must be an object.")
        if "conditions" in item:  # a nested group: {"match": "all"|"any", "conditions": [...]}
            match = item.get("match", "all")
            if match not in ("all", "any"):
                raise ParamError(field, "A group's match must be 'all' or 'any'.")
            inner = _conditions(field, item["conditions"], depth + 1)
            checked.append({"match": match, "conditions": inner})
            continue
        column, op = item.get("column"), item.get("op")
        if not isinstance(column, str) or not column:
            raise ParamError(field, "Each condition needs a column.")
        if op not in FILTER_OPS:
            raise ParamError(field, f"Unknown operator {op!r}; use one of {', '.join(FILTER_OPS)}.")
        cond: dict[str, Any] = {"column": column, "op": op}
        if op not in ("is_null", "not_null"):
            if "value" not in item:
                raise ParamError(field, f"The condition on {column!r} needs a value.")
            v = item["value"]
            if op in ("in", "not_in"):
                if not isinstance(v, list) or not all(isinstance(x, _SCALARS) for x in v):
                    raise ParamError(field, f"'{op}' needs a list of values.")
            elif not isinstance(v, _SCALARS):
                raise ParamError(field, f"The value compared with {column!r} must be a scalar.")
            cond["value"] = v
        checked.append(cond)
    return checked


def _aggregations(field: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ParamError(field, f"{field} must be a non-empty list of aggregations.")
    checked = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("column"), str):
            raise ParamError(field, "Each aggregation needs a column and a func.")
        func = item.get("func")
        if func not in AGG_FUNCS:
            raise ParamError(
                field, f"Unknown aggregation {func!r}; use one of {', '.join(AGG_FUNCS)}."
            )
        alias = item.get("as") or f"{item['column']}_{func}"
        if not isinstance(alias, str):
            raise ParamError(field, "An aggregation's 'as' must be a string.")
        checked.append({"column": item["column"], "func": func, "as": alias})
    return checked


def check_value(p: Param, value: Any) -> Any:
    """``value`` checked against ``p`` (and lightly normalised), or ParamError."""
    kind, field = p.kind, p.name
    if kind in ("column", "column2", "string", "text"):
        if not isinstance(value, str) or (kind.startswith("column") and not value):
            raise ParamError(
                field, f"{field} must be a {'column name' if 'column' in kind else 'string'}."
            )
        return value
    if kind in ("columns", "columns2"):
        columns = _str_list(field, value, "column names")
        if not columns and p.required:
            raise ParamError(field, f"Pick at least one column for {field}.")
        return columns
    if kind == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ParamError(field, f"{field} must be a list of strings.")
        return list(value)
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ParamError(field, f"{field} must be a whole number.")
    elif kind == "number":
        if not _is_number(value):
            raise ParamError(field, f"{field} must be a number.")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ParamError(field, f"{field} must be true or false.")
        return value
    elif kind == "choice":
        if value not in p.choices:
            raise ParamError(field, f"{field} must be one of {', '.join(p.choices)}.")
        return value
    elif kind == "choices":
        values = _str_list(field, value, "choices")
        unknown = [v for v in values if v not in p.choices]
        if unknown:
            raise ParamError(field, f"Unknown {field}: {', '.join(unknown)}.")
        return values
    elif kind == "mapping":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
        ):
            raise ParamError(field, f"{field} must map names to non-empty names.")
        return dict(value)
    elif kind == "conditions":
        return _conditions(field, value)
    elif kind == "aggregations":
        return _aggregations(field, value)
    elif kind == "dataset":
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ParamError(field, f"{field} must be a dataset id.")
        return value
    elif kind == "any":
        if not isinstance(value, _SCALARS) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise ParamError(field, f"{field} must be a string, a number, true, false or null.")
        return value
    # integer and number: bounds
    if p.minimum is not None and value < p.minimum:
        raise ParamError(field, f"{field} must be at least {p.minimum:g}.")
    if p.maximum is not None and value > p.maximum:
        raise ParamError(field, f"{field} must be at most {p.maximum:g}.")
    return value


def check_params(defn: TransformDef, params: Any) -> dict[str, Any]:
    """The node's parameters, checked, with defaults filled in; ParamError on the first fault."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ParamError("params", "params must be an object.")
    known = {p.name: p for p in defn.params}
    for name in params:
        if name not in known:
            raise ParamError(name, f"{defn.type} has no parameter {name!r}.")
    cleaned: dict[str, Any] = {}
    for p in defn.params:
        value = params.get(p.name)
        if value is None or (value == [] and p.kind in ("columns", "columns2")):
            if p.required:
                raise ParamError(p.name, f"{p.name} is required.")
            cleaned[p.name] = p.default
            continue
        cleaned[p.name] = check_value(p, value)
    return cleaned


def column_refs(
    defn: TransformDef, params: dict[str, Any], *, fitting: bool = True
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(field, column) pairs the node reads from its first input, and from its second.

    When applying a fitted state (``fitting=False``), columns read only to fit are left out.
    """
    first: list[tuple[str, str]] = []
    second: list[tuple[str, str]] = []

    def walk_conditions(field: str, conds: list[dict[str, Any]]) -> None:
        for c in conds:
            if "conditions" in c:
                walk_conditions(field, c["conditions"])
            else:
                first.append((field, c["column"]))

    for p in defn.params:
        value = params.get(p.name)
        if value is None or (p.fit_only and not fitting):
            continue
        if p.kind == "column":
            first.append((p.name, value))
        elif p.kind == "columns":
            first.extend((p.name, c) for c in value)
        elif p.kind == "column2":
            second.append((p.name, value))
        elif p.kind == "columns2":
            second.extend((p.name, c) for c in value)
        elif p.kind == "conditions":
            walk_conditions(p.name, value)
        elif p.kind == "aggregations":
            first.extend((p.name, a["column"]) for a in value)
    return first, second
