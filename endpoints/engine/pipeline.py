"""Inference pipelines: a Data Wrangler flow before the model, post-processing after it.

A variant may chain, around its model (which carries its own preprocessing already):

- **a flow**: the transforms of a Data Wrangler flow from its source to a node, applied
  with the state they fitted when the flow ran as a processing job (scalers' means, encoders'
  categories…), so a request's raw columns are prepared exactly as the training data was;
- **post-processing**: label names for a classifier's classes, and for a binary classifier
  the probability threshold above which the positive class is predicted.

Only transforms that map each row to one row can run per request (no filter, sort, join,
group, sample, balance or custom code): :func:`check_flow` says which node is not one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from endpoints.engine.payloads import Column, Outputs, PayloadError
from wrangler.engine.contracts import FlowError, FlowGraph
from wrangler.engine.execute import run_flow
from wrangler.engine.graph import parse_flow
from wrangler.engine.registry import get_transform

#: Row-wise in the catalogue, but they drop rows: a request's row would get no answer.
DROPS_ROWS = frozenset({"filter_rows", "drop_missing"})
#: Fitted, but what they apply changes the rows or the table's shape.
RESHAPES = frozenset({"balance", "pivot"})

NUMERIC_TYPES = ("int", "uint", "double", "float", "halffloat", "bool", "decimal")


def arrow_numeric(dtype: str) -> bool:
    """Whether a dataset column's Arrow type is a number (booleans count as 0/1)."""
    return dtype.startswith(NUMERIC_TYPES)


def check_flow(graph: FlowGraph, target: str) -> str | None:
    """Why the flow up to ``target`` cannot run per request, or None if it can."""
    needed = graph.ancestors(target)
    sources = [n for n in needed if graph.nodes[n].type == "source"]
    if len(sources) != 1:
        return f"An inference flow reads one source; this one reads {len(sources)}."
    for node_id in needed:
        node = graph.nodes[node_id]
        if node.type == "source":
            continue
        defn = get_transform(node.type)
        if defn is None:
            return f"Node {node_id} has an unknown type {node.type!r}."
        if (
            node.type in DROPS_ROWS
            or node.type in RESHAPES
            or defn.custom_code
            or not (defn.rowwise or defn.fitted)
        ):
            return (
                f"Node {node_id} ({defn.title}) does not map each row to one row, so it "
                "cannot prepare requests: end the inference flow before it."
            )
    return None


@dataclass
class FlowStep:
    """A flow's transforms up to ``target``, applied with their fitted ``states``.

    ``columns`` are what a request sends: the source dataset's columns (less the target,
    which requests do not have: it is filled with gaps for the flow's sake)."""

    graph: dict[str, Any]
    target: str
    states: dict[str, dict[str, Any]]
    columns: list[Column]
    label: str | None = None

    def __post_init__(self) -> None:
        self._parsed = parse_flow(self.graph)
        reason = check_flow(self._parsed, self.target)
        if reason is not None:
            raise ValueError(reason)

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.label and self.label not in frame.columns:
            frame = frame.assign(**{self.label: np.nan})
        try:
            out, _ = run_flow(
                self._parsed, self.target, load_source=lambda node: frame, states=self.states
            )
        except FlowError as exc:
            where = f" (node {exc.node})" if exc.node else ""
            raise PayloadError(
                f"The inference flow could not prepare these rows{where}: {exc.message}",
                status=422,
                code="flow_failed",
                field=exc.field,
            ) from None
        if len(out) != len(frame):
            raise PayloadError(
                f"The inference flow returned {len(out)} rows for {len(frame)}.",
                status=422,
                code="flow_failed",
            )
        return out.reset_index(drop=True)


@dataclass(frozen=True)
class PostProcess:
    """What happens to a classifier's answers before they leave.

    ``label_names`` renames classes (``{"0": "stay", "1": "churn"}``: keys are the classes as
    text); ``threshold`` (binary only) predicts ``positive_label`` — the second class by
    default — when its probability reaches it."""

    label_names: dict[str, str] | None = None
    threshold: float | None = None
    positive_label: str | None = None

    def apply(self, outputs: Outputs) -> Outputs:
        labels = outputs.labels
        if labels is None:
            return outputs
        columns = dict(outputs.columns)
        if self.threshold is not None and len(labels) == 2:
            positive = (
                [str(v) for v in labels].index(self.positive_label)
                if self.positive_label is not None
                else 1
            )
            proba = columns["probabilities"]
            chosen = np.where(proba[:, positive] >= self.threshold, positive, 1 - positive)
            columns["predicted_label"] = np.asarray(labels, dtype=object)[chosen]
            columns["probability"] = proba[np.arange(len(chosen)), chosen]
        if self.label_names:
            names = self.label_names
            columns["predicted_label"] = np.asarray(
                [names.get(str(v), v) for v in columns["predicted_label"].tolist()], dtype=object
            )
            labels = [names.get(str(v), v) for v in labels]
        return Outputs(columns, outputs.primary, labels)


def flow_step(spec: dict[str, Any] | None) -> FlowStep | None:
    """The flow step of a manifest's ``pipeline.flow`` entry."""
    if not spec:
        return None
    return FlowStep(
        graph=spec["graph"],
        target=spec["target"],
        states=spec.get("states") or {},
        columns=[Column(c["name"], bool(c["numeric"])) for c in spec["columns"]],
        label=spec.get("label"),
    )


def post_process(spec: dict[str, Any] | None) -> PostProcess | None:
    if not spec:
        return None
    return PostProcess(
        label_names=spec.get("label_names") or None,
        threshold=spec.get("threshold"),
        positive_label=spec.get("positive_label"),
    )
