"""Parsing and checking a flow's JSON into a :class:`FlowGraph`.

A flow is ``{"nodes": [{"id", "type", "params", "position"?, "label"?}], "edges": [[from, to],
…]}``. An edge may name the input it feeds as a third item (``[from, to, 1]`` is the second
input of a join); otherwise a node's inputs follow the order of its edges.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from wrangler.engine.contracts import FlowError, FlowGraph, Node, ParamError
from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform

NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NODE_KEYS = {"id", "type", "params", "position", "label"}
MAX_NODES = 500


def _source_params(node_id: str, params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise FlowError("params must be an object.", node=node_id, field="params")
    unknown = set(params) - {"dataset"}
    if unknown:
        raise FlowError(
            f"A source has no parameter {sorted(unknown)[0]!r}.",
            node=node_id,
            field=sorted(unknown)[0],
        )
    dataset = params.get("dataset")
    if not isinstance(dataset, int) or isinstance(dataset, bool) or dataset <= 0:
        raise FlowError("Pick the dataset this source reads.", node=node_id, field="dataset")
    return {"dataset": dataset}


def parse_flow(data: Any) -> FlowGraph:
    """The flow checked: ids, types, parameters, edges, inputs per node, no cycle."""
    if not isinstance(data, dict):
        raise FlowError("A flow is an object with nodes and edges.")
    raw_nodes, raw_edges = data.get("nodes", []), data.get("edges", [])
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        raise FlowError("nodes and edges must be lists.")
    if len(raw_nodes) > MAX_NODES:
        raise FlowError(f"A flow has at most {MAX_NODES} nodes.")
    checked: dict[str, tuple[str, dict[str, Any], int]] = {}
    for raw in raw_nodes:
        if not isinstance(raw, dict):
            raise FlowError("Each node must be an object.")
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not NODE_ID.match(node_id):
            raise FlowError(
                "A node id is 1–64 letters, digits, '-' or '_'.", node=str(node_id), field="id"
            )
        if node_id in checked:
            raise FlowError("Two nodes have this id.", node=node_id, field="id")
        extra = set(raw) - NODE_KEYS
        if extra:
            raise FlowError(f"Unknown node key {sorted(extra)[0]!r}.", node=node_id)
        kind = raw.get("type")
        if kind == "source":
            checked[node_id] = ("source", _source_params(node_id, raw.get("params", {})), 0)
            continue
        defn = get_transform(kind) if isinstance(kind, str) else None
        if defn is None:
            raise FlowError(f"Unknown node type {kind!r}.", node=node_id, field="type")
        try:
            params = check_params(defn, raw.get("params", {}))
        except ParamError as exc:
            raise FlowError(exc.message, node=node_id, field=exc.field)
        checked[node_id] = (defn.type, params, defn.inputs)

    inputs: dict[str, list[tuple[int, int, str]]] = {n: [] for n in checked}
    for position, edge in enumerate(raw_edges):
        if (
            not isinstance(edge, list | tuple)
            or len(edge) not in (2, 3)
            or not all(isinstance(e, str) for e in edge[:2])
        ):
            raise FlowError("Each edge is [from, to] or [from, to, input].")
        src, dst = edge[0], edge[1]
        for end in (src, dst):
            if end not in checked:
                raise FlowError(
                    f"An edge refers to a node that does not exist ({end!r}).", node=end
                )
        slot = edge[2] if len(edge) == 3 else None
        if slot is not None and (not isinstance(slot, int) or isinstance(slot, bool) or slot < 0):
            raise FlowError("An edge's input index must be 0 or more.", node=dst)
        inputs[dst].append((slot if slot is not None else 1_000_000, position, src))

    nodes: dict[str, Node] = {}
    for node_id, (kind, params, wanted) in checked.items():
        upstream = tuple(src for _, _, src in sorted(inputs[node_id]))
        if len(set(upstream)) != len(upstream):
            raise FlowError("The same node is connected twice to this one.", node=node_id)
        if len(upstream) != wanted:
            if wanted == 0:
                message = "A source takes no input."
            elif not upstream:
                message = "Connect an input to this node."
            else:
                plural = "s" if wanted > 1 else ""
                message = f"This node takes {wanted} input{plural}, not {len(upstream)}."
            raise FlowError(message, node=node_id)
        nodes[node_id] = Node(id=node_id, type=kind, params=params, inputs=upstream)

    return FlowGraph(nodes=nodes, order=_topological(nodes))


def _topological(nodes: dict[str, Node]) -> tuple[str, ...]:
    """Kahn's algorithm in the nodes' own order, so the result is stable."""
    remaining = {n: len(node.inputs) for n, node in nodes.items()}
    consumers: dict[str, list[str]] = {n: [] for n in nodes}
    for n, node in nodes.items():
        for i in node.inputs:
            consumers[i].append(n)
    ready = deque(n for n, count in remaining.items() if count == 0)
    order: list[str] = []
    while ready:
        current = ready.popleft()
        order.append(current)
        for consumer in consumers[current]:
            remaining[consumer] -= 1
            if remaining[consumer] == 0:
                ready.append(consumer)
    if len(order) != len(nodes):
        stuck = next(n for n in nodes if n not in order)
        raise FlowError("This node is part of a cycle.", node=stuck)
    return tuple(order)
