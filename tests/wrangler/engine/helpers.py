"""Helpers the engine tests share: run a transform as a flow would, read a column's values,
stream a flow as a processing job does."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform
from wrangler.engine.stream import stream_flow


def run(type_name: str, df: pd.DataFrame, state: dict[str, Any] | None = None, **params: Any):
    """The transform as a flow runs it: parameters checked and defaulted first."""
    defn = get_transform(type_name)
    assert defn is not None
    return defn.func(df, state=state, **check_params(defn, params))


def values(series: pd.Series) -> list[Any]:
    """The column's values with every kind of null (NaN, NA, NaT) as None."""
    return [None if pd.isna(v) else v for v in series.tolist()]


def streamed(graph, target: str, paths, tmp_path, *, batch_rows: int = 61, dask=None):
    """``target`` run as a processing job runs it (on Dask where ``dask`` gives a client):
    its output read back, its row count, its fitted states and its log lines."""
    out, events = tmp_path / "out.parquet", []
    rows, states = stream_flow(
        graph,
        target,
        sources={n.id: paths[n.params["dataset"]] for n in graph.sources(target)},
        output=out,
        workdir=tmp_path,
        batch_rows=batch_rows,
        on_event=lambda m, p: events.append(m),
        dask=dask,
    )
    return pq.read_table(out).to_pandas(), rows, states, events
