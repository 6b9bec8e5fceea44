"""Helpers the transform tests share: run a transform as a flow would, read a column's values."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform


def run(type_name: str, df: pd.DataFrame, state: dict[str, Any] | None = None, **params: Any):
    """The transform as a flow runs it: parameters checked and defaulted first."""
    defn = get_transform(type_name)
    assert defn is not None
    return defn.func(df, state=state, **check_params(defn, params))


def values(series: pd.Series) -> list[Any]:
    """The column's values with every kind of null (NaN, NA, NaT) as None."""
    return [None if pd.isna(v) else v for v in series.tolist()]
