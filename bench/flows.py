"""A demo table and example parameters for every transform of the Data Wrangler.

The preview benchmark and the export tests run each transform type on the same data with
these parameters, so a new transform needs an entry here (a test says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.registry import get_transform

CITIES = ["Paris", "Lyon", "Zürich", "São Paulo", "Nice"]
PLANS = ["basic", "pro", "team"]


def demo_frame(rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Mixed columns with gaps, text, dates and a binary target; ``rows`` rows."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, rows).round(1)
    age[rng.random(rows) < 0.08] = np.nan
    signup = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    seen = signup + pd.to_timedelta(rng.integers(0, 200, rows), unit="D")
    income = np.exp(rng.normal(10, 0.6, rows)).round(2)
    churned = (rng.random(rows) < 0.1 + 0.3 * (income < np.median(income))).astype("int64")
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "age": age,
            "income": income,
            "score": rng.integers(0, 100, rows),
            "city": pd.Series(rng.choice(CITIES, rows), dtype="str"),
            "plan": pd.Series(rng.choice(PLANS, rows), dtype="str"),
            "signup": pd.Series(signup.strftime("%Y-%m-%d"), dtype="str"),
            "last_seen": pd.Series(seen.strftime("%Y-%m-%d %H:%M:%S"), dtype="str"),
            "text": pd.Series(
                [f"Order #{i % 97}, from {c}!" for i, c in enumerate(rng.choice(CITIES, rows))],
                dtype="str",
            ),
            "churned": churned,
        }
    )


def regions_frame(rows: int) -> pd.DataFrame:
    """A second table for joins and concatenations: ids with a region."""
    return pd.DataFrame(
        {
            "id": np.arange(0, rows * 2, 2, dtype="int64"),
            "region": pd.Series(
                [["north", "south", "east"][i % 3] for i in range(rows)], dtype="str"
            ),
        }
    )


#: Parameters of each transform type on ``demo_frame`` (and ``regions_frame`` as 2nd input).
EXAMPLES: dict[str, dict[str, Any]] = {
    "drop_columns": {"columns": ["text"]},
    "select_columns": {"columns": ["id", "age", "city"]},
    "rename_columns": {"mapping": {"age": "age_years"}},
    "cast": {"columns": ["score"], "to": "float"},
    "duplicate_column": {"column": "age", "new_name": "age_copy"},
    "split_column": {"column": "text", "delimiter": " "},
    "fill_missing": {"columns": ["age"], "strategy": "median"},
    "drop_missing": {"columns": ["age"]},
    "filter_rows": {
        "conditions": [
            {"column": "age", "op": ">", "value": 45},
            {"column": "city", "op": "in", "value": ["Zürich", "Nice"]},
        ],
        "match": "any",
    },
    "deduplicate": {"columns": ["city", "plan"]},
    "sample": {"n": 500, "seed": 1},
    "sort": {"columns": ["income"], "ascending": False},
    "one_hot_encode": {"columns": ["city"]},
    "ordinal_encode": {"columns": ["plan"]},
    "target_encode": {"columns": ["city"], "target": "churned"},
    "hash_encode": {"columns": ["city"], "n_features": 4},
    "standard_scale": {"columns": ["income", "age"]},
    "min_max_scale": {"columns": ["income"]},
    "robust_scale": {"columns": ["income"]},
    "log_transform": {"columns": ["income"], "method": "log1p"},
    "power_transform": {"columns": ["income"]},
    "bin": {"columns": ["income"], "bins": 4, "strategy": "quantile"},
    "clip_outliers": {"columns": ["income"], "method": "iqr"},
    "formula": {"expression": "income / (score + 1)", "new_column": "ratio"},
    "text_clean": {"columns": ["text"], "operations": ["lower", "punctuation"]},
    "regex_extract": {"column": "text", "pattern": r"#(\d+)"},
    "regex_replace": {"columns": ["text"], "pattern": r"\d", "replacement": "#"},
    "text_length": {"columns": ["text"]},
    "parse_datetime": {"columns": ["signup"]},
    "extract_datetime": {"column": "signup", "parts": ["year", "month", "weekday"]},
    "datetime_diff": {"start": "signup", "end": "last_seen", "unit": "days"},
    "join": {"how": "left", "left_on": ["id"], "right_on": ["id"]},
    "concat": {"source_column": "part"},
    "balance": {"target": "churned", "method": "random_oversample", "seed": 0},
    "group_by": {"by": ["city"], "aggregations": [{"column": "income", "func": "mean"}]},
    "pivot": {"index": ["plan"], "columns": "city", "values": "income"},
    "lag_features": {"columns": ["income"], "lags": ["1", "7"], "order_by": "signup"},
    "rolling_window": {"columns": ["income"], "window": 7, "order_by": "signup"},
    "pca": {"columns": ["income", "score"], "n_components": 2},
    "train_test_split": {"test_size": 0.25, "seed": 3, "part": "train"},
    "custom_pandas": {"code": "df['double'] = df['income'] * 2"},
}


def single_node_flow(kind: str, *, dataset: int = 1, second: int = 2) -> dict[str, Any]:
    """A flow of one ``kind`` node over the demo source (and the regions one if it takes two)."""
    defn = get_transform(kind)
    assert defn is not None
    nodes = [{"id": "n1", "type": "source", "params": {"dataset": dataset}}]
    edges = [["n1", "t"]]
    if defn.inputs == 2:
        nodes.append({"id": "n2", "type": "source", "params": {"dataset": second}})
        edges.append(["n2", "t"])
    nodes.append({"id": "t", "type": kind, "params": EXAMPLES[kind]})
    return {"nodes": nodes, "edges": edges}
