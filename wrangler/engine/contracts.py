"""Plain contracts of the flow engine: frozen dataclasses and its two errors.

A transform is a plain function ``f(*frames, state=None, **params) -> (frame, state)``: it fits
when ``state`` is None and returns what it learnt (JSON-safe: numbers, strings, lists, dicts),
and applies that state unchanged when given one, so a flow fitted on training data applies to
new data exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

#: The kinds of parameter a transform may declare; the API validates them and the editor
#: renders each as a form control.
PARAM_KINDS: Final = frozenset(
    {
        "column",  # one column of the (first) input
        "columns",  # a list of columns of the (first) input
        "column2",  # one column of the second input (joins)
        "columns2",  # columns of the second input
        "string",
        "text",  # multi-line text: code, expressions
        "integer",
        "number",
        "boolean",
        "choice",  # one of ``choices``
        "choices",  # a subset of ``choices``
        "strings",  # a list of free strings
        "mapping",  # {string: string}
        "conditions",  # filter_rows: [{"column", "op", "value"}], joined by "and"/"or"
        "aggregations",  # group_by: [{"column", "func", "as"?}]
        "dataset",  # a dataset id (sources)
        "any",  # a JSON scalar
    }
)


class ParamError(ValueError):
    """A parameter that does not fit its declaration."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FlowError(Exception):
    """A flow that cannot be built or run, pinned to the node at fault (None: the whole flow)."""

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Param:
    """One parameter of a transform: its kind, whether it is needed, and its default."""

    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    fit_only: bool = False  # a column read only while fitting (a target): new data may lack it

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "required": self.required,
            "default": self.default,
            "choices": list(self.choices),
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "fit_only": self.fit_only,
        }


@dataclass(frozen=True)
class TransformDef:
    """A registered transform: its function and what the API and the editor know of it."""

    type: str
    title: str
    category: str
    func: Callable[..., tuple[Any, dict[str, Any]]]
    params: tuple[Param, ...] = ()
    inputs: int = 1
    description: str = ""
    fitted: bool = False  # learns state from its input (scalers, encoders…)
    rowwise: bool = False  # each row's output depends on that row alone (streams in batches)
    custom_code: bool = False  # runs user code: only ever in a worker subprocess
    helpers: tuple[Callable[..., Any], ...] = ()  # module functions the export must include

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "category": self.category,
            "description": self.description,
            "inputs": self.inputs,
            "fitted": self.fitted,
            "rowwise": self.rowwise,
            "custom_code": self.custom_code,
            "params": [p.to_dict() for p in self.params],
        }


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()  # upstream node ids, in the order of the transform's inputs


@dataclass(frozen=True)
class FlowGraph:
    """A parsed, checked flow: nodes by id, in an order where inputs come first."""

    nodes: dict[str, Node]
    order: tuple[str, ...]

    def ancestors(self, node_id: str) -> list[str]:
        """``node_id`` and every node it depends on, inputs first."""
        needed: set[str] = set()
        stack = [node_id]
        while stack:
            current = stack.pop()
            if current in needed:
                continue
            needed.add(current)
            stack.extend(self.nodes[current].inputs)
        return [n for n in self.order if n in needed]

    def sources(self, node_id: str | None = None) -> list[Node]:
        ids = self.ancestors(node_id) if node_id else list(self.order)
        return [self.nodes[n] for n in ids if self.nodes[n].type == "source"]

    def sinks(self) -> list[str]:
        used = {i for n in self.nodes.values() for i in n.inputs}
        return [n for n in self.order if n not in used]
