"""Running a flow over Parquet sources in bounded memory, batch by batch.

The plan walks the flow in order and keeps, for each node, either a Parquet file or a *lazy*
stage: a Parquet file plus the row-by-row steps still to apply to each of its batches.

- A row-wise transform (``rowwise=True``: each output row depends on its input row alone)
  adds itself to its input's steps: nothing is read yet.
- A fitted transform whose apply is row by row once fitted (a scaler, an encoder,
  ``fill_missing`` with a statistic…; see :data:`FIT_THEN_ROWWISE`) first learns its state
  from one pass over its input, keeping only the columns it reads (its parameters' columns
  and its target), then joins the steps with that state. Fitting on those columns alone
  gives the state fitting on the whole frame gives, since the fit reads nothing else.
- Anything else (group_by, join, sort, lag features, custom code…) reads its inputs whole,
  runs as in :func:`run_flow`, and writes its output to a Parquet file for what follows.

Memory is then about one batch for the row-wise stretches, the fitted columns during a fit,
and whole tables only where a node has to see them whole. Batches are converted to pandas as
the whole table would be (an integer column with gaps anywhere in the file is float64 in
every batch), so the output equals :func:`run_flow`'s on the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wrangler.engine.contracts import FlowError, FlowGraph, Node
from wrangler.engine.execute import run_node
from wrangler.engine.params import column_refs
from wrangler.engine.registry import get_transform

BATCH_ROWS: Final = 262_144

#: Fitted transforms whose apply, given the state, works row by row (for these parameters).
FIT_THEN_ROWWISE: Final[dict[str, Callable[[dict[str, Any]], bool]]] = {
    "fill_missing": lambda p: p.get("strategy") not in ("ffill", "bfill"),
    "split_column": lambda p: True,
    "one_hot_encode": lambda p: True,
    "ordinal_encode": lambda p: True,
    "target_encode": lambda p: True,
    "standard_scale": lambda p: True,
    "min_max_scale": lambda p: True,
    "robust_scale": lambda p: True,
    "power_transform": lambda p: True,
    "bin": lambda p: True,
    "clip_outliers": lambda p: True,
    "pca": lambda p: True,
}

OnEvent = Callable[[str, float | None], None]


@dataclass
class Stage:
    """A node's output: a Parquet file and the row-wise steps still to apply to it."""

    path: Path
    steps: list[tuple[Node, dict[str, Any] | None]] = field(default_factory=list)

    def then(self, node: Node, state: dict[str, Any] | None) -> Stage:
        return Stage(self.path, [*self.steps, (node, state)])


def _pandas_types(schema: pa.Schema, meta: pq.FileMetaData) -> dict[str, str]:
    """Columns a batch must be cast to match the whole table's conversion to pandas."""
    nulls: dict[str, bool] = {}
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for i in range(group.num_columns):
            col = group.column(i)
            stats = col.statistics
            has = stats is None or not stats.has_null_count or stats.null_count > 0
            name = col.path_in_schema.split(".")[0]
            nulls[name] = nulls.get(name, False) or has
    casts: dict[str, str] = {}
    for f in schema:
        if not nulls.get(f.name):
            continue
        if pa.types.is_integer(f.type):
            casts[f.name] = "float64"
        elif pa.types.is_boolean(f.type):
            casts[f.name] = "object"
    return casts


def read_batches(stage: Stage, *, batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """The stage's output, batch by batch, with its steps applied."""
    file = pq.ParquetFile(stage.path)
    casts = _pandas_types(file.schema_arrow, file.metadata)
    for batch in file.iter_batches(batch_size=batch_rows):
        frame = batch.to_pandas()
        for name, dtype in casts.items():
            if frame[name].dtype != dtype:
                frame[name] = frame[name].astype(dtype)
        for node, state in stage.steps:
            frame, _ = run_node(node, [frame], state)
        yield frame


def read_whole(stage: Stage) -> pd.DataFrame:
    if not stage.steps:
        return pq.read_table(stage.path).to_pandas()
    parts = list(read_batches(stage))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def write_stage(stage: Stage, dest: Path, *, batch_rows: int = BATCH_ROWS) -> int:
    """Write the stage's output to ``dest``, batch by batch; returns the row count."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for frame in read_batches(stage, batch_rows=batch_rows):
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(dest, schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:  # no batch at all: an empty file with the source's columns
            pq.write_table(pq.read_schema(stage.path).empty_table(), dest)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _fit_columns(node: Node) -> list[str] | None:
    """The columns a fit reads, or None where it reads them all (no columns picked)."""
    defn = get_transform(node.type)
    assert defn is not None
    first, _ = column_refs(defn, node.params, fitting=True)
    columns = list(dict.fromkeys(column for _, column in first))
    return columns or None


def _fit(stage: Stage, node: Node) -> dict[str, Any]:
    """The node's state, learnt from one pass over the columns it reads."""
    columns = _fit_columns(node)
    parts = []
    for frame in read_batches(stage):
        if columns is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise FlowError(f"Column {missing[0]!r} is not in this node's input.", node=node.id)
            frame = frame[columns]
        parts.append(frame)
    projected = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    _, state = run_node(node, [projected], None)
    return state


def stream_flow(
    graph: FlowGraph,
    target: str,
    *,
    sources: dict[str, Path],
    output: Path,
    workdir: Path,
    on_event: OnEvent | None = None,
    batch_rows: int = BATCH_ROWS,
    allow_custom_code: bool = False,
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Write ``target``'s output to ``output``; returns its row count and the fitted states.

    Custom code runs only where the caller says it may: a worker's subprocess.
    """
    say = on_event or (lambda message, progress: None)
    needed = graph.ancestors(target)
    for node_id in needed:
        defn = get_transform(graph.nodes[node_id].type)
        if defn is not None and defn.custom_code and not allow_custom_code:
            raise FlowError("Custom code runs only in a worker.", node=node_id)
    stages: dict[str, Stage] = {}
    states: dict[str, dict[str, Any]] = {}
    for i, node_id in enumerate(needed):
        node = graph.nodes[node_id]
        progress = 0.9 * i / max(1, len(needed))
        if node.type == "source":
            stages[node_id] = Stage(Path(sources[node_id]))
            continue
        defn = get_transform(node.type)
        assert defn is not None
        inputs = [stages[n] for n in node.inputs]
        fit_rowwise = FIT_THEN_ROWWISE.get(node.type)
        if defn.rowwise and len(inputs) == 1:
            stages[node_id] = inputs[0].then(node, None)
            say(f"{node_id} ({node.type}): row by row.", progress)
        elif defn.fitted and fit_rowwise is not None and fit_rowwise(node.params):
            state = _fit(inputs[0], node)
            states[node_id] = state
            stages[node_id] = inputs[0].then(node, state)
            read = _fit_columns(node)
            say(
                f"{node_id} ({node.type}): fitted on {', '.join(read or ['every column'])}.",
                progress,
            )
        else:
            frames = [read_whole(s) for s in inputs]
            out, state = run_node(node, frames, None)
            if defn.fitted:
                states[node_id] = state
            path = workdir / f"stage-{i}.parquet"
            pq.write_table(pa.Table.from_pandas(out, preserve_index=False), path)
            stages[node_id] = Stage(path)
            say(f"{node_id} ({node.type}): {len(out):,} rows, whole in memory.", progress)
            del frames, out
    rows = write_stage(stages[target], output, batch_rows=batch_rows)
    say(f"Wrote {rows:,} rows.", 1.0)
    return rows, states
