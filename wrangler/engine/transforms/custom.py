"""User-written pandas code, run only in a worker's subprocess (the flow runner sees to it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform


def _custom_line(exc: BaseException, filename: str) -> int | None:
    """The line of the user's code where ``exc`` was raised (the innermost), if it was there."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


@transform(
    "custom_pandas",
    title="Custom pandas code",
    category="Custom",
    custom_code=True,
    helpers=[_custom_line],
    params=[
        Param(
            "code",
            "text",
            required=True,
            help="Python with df (a copy of the input), pd and np; leave the result in df.",
        ),
    ],
)
def custom_pandas(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    code: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run your own pandas code on the table: it gets ``df`` and must leave a DataFrame in it.

    For example ``df["total"] = df["price"] * df["qty"]`` or ``df = df.query("qty > 0")``.
    """
    filename = "<your code>"
    try:
        compiled = compile(code, filename, "exec")
    except SyntaxError as exc:
        where = f" on line {exc.lineno}" if exc.lineno else ""
        raise ValueError(f"Your code has a syntax error{where}: {exc.msg}.")
    except ValueError as exc:  # e.g. a null byte in the source
        raise ValueError(f"Your code cannot be read: {exc}.")
    namespace: dict[str, Any] = {"df": df.copy(), "pd": pd, "np": np}
    try:
        exec(compiled, namespace)
    except SystemExit:
        raise ValueError("Your code called exit(); leave the result in df instead.")
    except Exception as exc:
        line = _custom_line(exc, filename)
        where = f" (line {line})" if line is not None else ""
        raise ValueError(f"Your code raised {type(exc).__name__}: {exc}{where}") from exc
    result = namespace.get("df")
    if isinstance(result, pd.Series):
        raise ValueError(
            "Your code left a Series in df, not a DataFrame; use df = df.to_frame() or "
            "df[['a', 'b']] with double brackets."
        )
    if not isinstance(result, pd.DataFrame):
        raise ValueError(
            f"Your code must leave a DataFrame in df; it holds {type(result).__name__} instead."
        )
    return result, {}
