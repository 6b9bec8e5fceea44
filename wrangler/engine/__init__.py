"""Data Wrangler's compute: flows of transforms over pandas frames. Imports nothing from Django.

Usable from a notebook::

    from wrangler.engine import parse_flow, run_flow
    graph = parse_flow({"nodes": [...], "edges": [...]})
    frame, states = run_flow(graph, "n3", load_source=lambda ref: pd.read_parquet(paths[ref]))
"""

from wrangler.engine.contracts import FlowError, FlowGraph, Node, Param, ParamError, TransformDef
from wrangler.engine.execute import run_flow
from wrangler.engine.graph import parse_flow
from wrangler.engine.registry import catalog, get_transform
from wrangler.engine.transforms import registered  # importing it fills the registry

__all__ = [
    "FlowError",
    "FlowGraph",
    "Node",
    "Param",
    "ParamError",
    "TransformDef",
    "catalog",
    "get_transform",
    "parse_flow",
    "registered",
    "run_flow",
]
