"""Running a flow (or the part of it a node needs) over pandas frames."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from wrangler.engine.contracts import FlowError, FlowGraph, Node
from wrangler.engine.params import column_refs
from wrangler.engine.registry import get_transform

LoadSource = Callable[[Node], pd.DataFrame]
OnNode = Callable[[Node, pd.DataFrame], None]


def _check_columns(node: Node, frames: list[pd.DataFrame], *, fitting: bool = True) -> None:
    defn = get_transform(node.type)
    assert defn is not None
    first, second = column_refs(defn, node.params, fitting=fitting)
    for refs, frame in ((first, frames[0]), (second, frames[-1])):
        for field, column in refs:
            if column not in frame.columns:
                raise FlowError(
                    f"Column {column!r} is not in this node's input.", node=node.id, field=field
                )


def run_node(
    node: Node, frames: list[pd.DataFrame], state: dict[str, Any] | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One transform over its input frames; any failure becomes a FlowError on the node."""
    defn = get_transform(node.type)
    if defn is None:
        raise FlowError(f"Unknown node type {node.type!r}.", node=node.id, field="type")
    _check_columns(node, frames, fitting=state is None)
    try:
        out, new_state = defn.func(*frames, state=state, **node.params)
    except FlowError:
        raise
    except (ValueError, TypeError, KeyError, ArithmeticError, IndexError) as exc:
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise FlowError(f"{defn.title}: {detail}", node=node.id) from exc
    if not isinstance(out, pd.DataFrame):
        raise FlowError(f"{defn.title} did not produce a table.", node=node.id)
    return out, dict(new_state or {})


def run_flow(
    graph: FlowGraph,
    target: str,
    *,
    load_source: LoadSource,
    states: Mapping[str, dict[str, Any]] | None = None,
    allow_custom_code: bool = False,
    on_node: OnNode | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """The frame at ``target`` and the fitted state of every fitted node on the way.

    With ``states`` (from an earlier fit), fitted nodes apply that state instead of fitting
    again. Custom code runs only where the caller says it may: a worker's subprocess.
    """
    if target not in graph.nodes:
        raise FlowError(f"There is no node {target!r} in this flow.", node=target)
    needed = graph.ancestors(target)
    remaining_uses = {n: 0 for n in needed}
    for n in needed:
        for i in graph.nodes[n].inputs:
            remaining_uses[i] += 1
    results: dict[str, pd.DataFrame] = {}
    fitted: dict[str, dict[str, Any]] = {}
    for node_id in needed:
        node = graph.nodes[node_id]
        if node.type == "source":
            out = load_source(node)
        else:
            defn = get_transform(node.type)
            if defn is not None and defn.custom_code and not allow_custom_code:
                raise FlowError(
                    "Custom code runs only in a worker: run the flow as a job to see it.",
                    node=node.id,
                )
            frames = [results[i] for i in node.inputs]
            given = (states or {}).get(node_id) if defn is not None and defn.fitted else None
            out, state = run_node(node, frames, given)
            if defn is not None and defn.fitted:
                fitted[node_id] = state
        results[node_id] = out
        if on_node is not None:
            on_node(node, out)
        # Free what no later node reads: a long flow keeps only its live frames.
        for i in node.inputs:
            remaining_uses[i] -= 1
            if remaining_uses[i] == 0 and i != target:
                del results[i]
    return results[target], fitted


def check_columns(graph: FlowGraph, *, load_source: LoadSource) -> None:
    """Raise the first FlowError about a column a node needs and its input lacks.

    Runs the whole flow on small source frames (a few rows are enough to know the columns).
    A node that fails for another reason (too few rows for a fit, say), and custom code,
    stops the check below it: what they output is unknown here, and a preview will say more.
    """
    results: dict[str, pd.DataFrame] = {}
    for node_id in graph.order:
        node = graph.nodes[node_id]
        if node.type == "source":
            results[node_id] = load_source(node)
            continue
        defn = get_transform(node.type)
        if defn is None or defn.custom_code or any(i not in results for i in node.inputs):
            continue
        frames = [results[i] for i in node.inputs]
        _check_columns(node, frames)
        try:
            results[node_id], _ = run_node(node, frames, None)
        except FlowError:
            continue
