"""The flow run of a processing job, as a program: ``python -m wrangler.engine.job SPEC``.

A worker starts it in a subprocess with a memory limit, a time limit and a scrubbed
environment, because a flow may hold custom code. SPEC is a JSON file::

    {"graph": {...}, "target": "n5", "sources": {"n1": "/path/data.parquet"},
     "output": "/path/out.parquet", "states": "/path/states.json"}

or, to preview a node on a sample of its sources (custom code is previewed this way)::

    {"mode": "preview", "graph": {...}, "target": "n5", "sources": {...},
     "sample": {"mode": "first", "rows": 50000, "seed": 0, "column": ""}, "limit": 100,
     "result": "/path/preview.json"}

It prints one JSON object per line on stdout (``{"progress": 0.4, "message": "…"}``), and
on failure ``{"error": {"message", "node"}}`` with exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wrangler.engine.contracts import FlowError, Node
from wrangler.engine.execute import run_flow
from wrangler.engine.graph import parse_flow
from wrangler.engine.preview import preview_of
from wrangler.engine.sample import SampleSpec, read_sample


def emit(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    graph = parse_flow(spec["graph"])
    target = spec["target"]
    needed = graph.ancestors(target)
    done = 0

    def load(node: Node) -> pd.DataFrame:
        emit(message=f"Reading source {node.id} (dataset {node.params['dataset']}).")
        return pq.read_table(spec["sources"][node.id]).to_pandas()

    def on_node(node: Node, frame: pd.DataFrame) -> None:
        nonlocal done
        done += 1
        emit(
            progress=round(0.9 * done / len(needed), 4),
            message=f"{node.id} ({node.type}): {len(frame):,} rows × {len(frame.columns)} columns.",
        )

    frame, states = run_flow(
        graph, target, load_source=load, allow_custom_code=True, on_node=on_node
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, spec["output"])
    Path(spec["states"]).write_text(json.dumps(states, indent=2, default=str))
    return {"num_rows": table.num_rows, "num_columns": table.num_columns}


def preview(spec: dict[str, Any]) -> dict[str, Any]:
    graph = parse_flow(spec["graph"])
    sample = SampleSpec(**spec["sample"])

    def load(node: Node) -> pd.DataFrame:
        return read_sample(spec["sources"][node.id], sample)

    frame, _ = run_flow(graph, spec["target"], load_source=load, allow_custom_code=True)
    Path(spec["result"]).write_text(json.dumps(preview_of(frame, int(spec["limit"]))))
    return {"num_rows": len(frame)}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    try:
        result = preview(spec) if spec.get("mode") == "preview" else run(spec)
    except FlowError as exc:
        emit(error=exc.to_dict())
        return 2
    emit(progress=1.0, result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
