"""The flow run of a processing job, as a program: ``python -m wrangler.engine.job SPEC``.

A worker starts it in a subprocess with a memory limit, a time limit and a scrubbed
environment, because a flow may hold custom code. SPEC is a JSON file::

    {"graph": {...}, "target": "n5", "sources": {"n1": "/path/data.parquet"},
     "output": "/path/out.parquet", "states": "/path/states.json",
     "dask": {"address": "" or "tcp://scheduler:8786", "memory_bytes": 4294967296}}

The whole-table steps that can run on Dask do (:mod:`wrangler.engine.scale`): on the
scheduler at ``address``, or on a LocalCluster started in this process on first use.

or, to preview (or, with ``"analysis": {"kind", "params"}``, analyse) a node on a sample of
its sources, as custom code is previewed::

    {"mode": "preview", "graph": {...}, "target": "n5", "sources": {...},
     "sample": {"mode": "first", "rows": 50000, "seed": 0, "column": ""}, "limit": 100,
     "result": "/path/preview.json"}

It prints one JSON object per line on stdout (``{"progress": 0.4, "message": "…"}``), and
on failure ``{"error": {"message", "node"}}`` with exit status 2.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from wrangler.engine import scale
from wrangler.engine.contracts import FlowError, Node
from wrangler.engine.execute import run_flow
from wrangler.engine.graph import parse_flow
from wrangler.engine.preview import analysis_of, preview_of
from wrangler.engine.sample import SampleSpec, read_sample
from wrangler.engine.stream import stream_flow

if TYPE_CHECKING:
    from distributed import Client


def emit(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """The flow over the full data, streamed batch by batch where its nodes allow."""
    graph = parse_flow(spec["graph"])
    output = Path(spec["output"])

    def on_event(message: str, progress: float | None) -> None:
        if progress is None:
            emit(message=message)
        else:
            emit(progress=round(0.95 * progress, 4), message=message)

    dask = spec.get("dask") or {}
    with ExitStack() as stack:

        def dask_client() -> Client:
            """Started when the flow first needs it (stream_flow asks once), closed after."""
            emit(message=f"Starting Dask on {dask.get('address') or 'a local cluster'}.")
            return stack.enter_context(
                scale.dask_client(
                    dask.get("address") or None,
                    output.parent / "dask",
                    memory_bytes=dask.get("memory_bytes"),
                )
            )

        rows, states = stream_flow(
            graph,
            spec["target"],
            sources={k: Path(v) for k, v in spec["sources"].items()},
            output=output,
            workdir=output.parent,
            on_event=on_event,
            allow_custom_code=True,
            dask=dask_client,
        )
    Path(spec["states"]).write_text(json.dumps(states, indent=2, default=str))
    return {"num_rows": rows, "num_columns": len(pq.read_schema(output))}


def preview(spec: dict[str, Any]) -> dict[str, Any]:
    graph = parse_flow(spec["graph"])
    sample = SampleSpec(**spec["sample"])

    def load(node: Node) -> pd.DataFrame:
        return read_sample(spec["sources"][node.id], sample)

    frame, _ = run_flow(graph, spec["target"], load_source=load, allow_custom_code=True)
    if spec.get("analysis"):
        try:
            result = analysis_of(frame, spec["analysis"]["kind"], spec["analysis"]["params"])
        except ValueError as exc:
            raise FlowError(str(exc), node=spec["target"], field="params")
    else:
        result = preview_of(frame, int(spec["limit"]))
    Path(spec["result"]).write_text(json.dumps(result))
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
