"""A flow as a standalone pandas script or a Jupyter notebook.

The script carries the source of every transform it uses, copied from this package, so it
runs without Sextant and computes exactly what a processing job computes: the same functions
on the same frames, fitting as the job fits.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import nbformat

from wrangler.engine.contracts import FlowGraph
from wrangler.engine.registry import get_transform

HEADER_IMPORTS = """\
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
"""


def function_source(func: Callable[..., Any]) -> str:
    """The source of a module-level function without its decorators."""
    source = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(source)
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    lines = source.splitlines()
    return "\n".join(lines[definition.lineno - 1 :]).rstrip() + "\n"


def _functions_for(graph: FlowGraph, target: str) -> list[Callable[..., Any]]:
    """Helpers first, then transforms, each once, in a stable order."""
    seen: dict[str, Callable[..., Any]] = {}
    for node_id in graph.ancestors(target):
        node = graph.nodes[node_id]
        if node.type == "source":
            continue
        defn = get_transform(node.type)
        assert defn is not None
        for helper in defn.helpers:
            seen.setdefault(helper.__name__, helper)
    for node_id in graph.ancestors(target):
        node = graph.nodes[node_id]
        if node.type != "source":
            defn = get_transform(node.type)
            assert defn is not None
            seen.setdefault(defn.func.__name__, defn.func)
    return list(seen.values())


def _var(node_id: str) -> str:
    return "node_" + "".join(c if c.isalnum() else "_" for c in node_id)


def _steps(graph: FlowGraph, target: str) -> list[str]:
    """``run``'s body: one line per node, in the flow's order."""
    lines = []
    for node_id in graph.ancestors(target):
        node = graph.nodes[node_id]
        if node.type == "source":
            lines.append(f"{_var(node_id)} = sources[{node_id!r}]")
            continue
        defn = get_transform(node.type)
        assert defn is not None
        args = ", ".join(_var(i) for i in node.inputs)
        kwargs = ", ".join(f"{k}={v!r}" for k, v in node.params.items())
        if defn.fitted:
            call = f"{defn.func.__name__}({args}, state=states.get({node_id!r}), {kwargs})"
            lines.append(f"{_var(node_id)}, fitted[{node_id!r}] = {call}  # {defn.title}")
        else:
            call = f"{defn.func.__name__}({args}, state=None, {kwargs})"
            lines.append(f"{_var(node_id)}, _ = {call}  # {defn.title}")
    lines.append(f"return {_var(target)}, fitted")
    return lines


def _run_function(graph: FlowGraph, target: str) -> str:
    body = textwrap.indent("\n".join(_steps(graph, target)), "    ")
    return (
        "def run(sources, states=None):\n"
        '    """The flow\'s output and the state each node fitted; sources: node id -> frame."""\n'
        "    states = states or {}\n"
        "    fitted = {}\n"
        f"{body}\n"
    )


def _main(graph: FlowGraph, target: str, source_paths: Mapping[str, str]) -> str:
    defaults = {n.id: source_paths.get(n.id, f"{n.id}.parquet") for n in graph.sources(target)}
    return f"""\
SOURCES = {json.dumps(defaults, indent=4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", default=[], metavar="NODE=PATH",
                        help="Parquet or CSV file of a source node (default: SOURCES above).")
    parser.add_argument("--states", help="JSON file of fitted states to apply instead of fitting.")
    parser.add_argument("--save-states", help="Write the fitted states to this JSON file.")
    parser.add_argument("output", nargs="?", default="output.parquet")
    args = parser.parse_args()
    paths = dict(SOURCES)
    paths.update(dict(item.split("=", 1) for item in args.source))
    read = lambda p: pd.read_csv(p) if p.endswith(".csv") else pd.read_parquet(p)  # noqa: E731
    sources = {{node: read(path) for node, path in paths.items()}}
    states = json.load(open(args.states)) if args.states else None
    frame, fitted = run(sources, states)
    frame.to_parquet(args.output, index=False)
    if args.save_states:
        with open(args.save_states, "w") as f:
            json.dump(fitted, f, indent=2)
    print(f"{{len(frame)}} rows x {{len(frame.columns)}} columns -> {{args.output}}")


if __name__ == "__main__":
    main()
"""


def to_python(
    graph: FlowGraph,
    target: str,
    *,
    title: str = "flow",
    source_paths: Mapping[str, str] | None = None,
) -> str:
    """A script reproducing ``target``: ``python flow.py --source n1=data.parquet out.parquet``."""
    functions = "\n\n".join(function_source(f) for f in _functions_for(graph, target))
    return (
        f'"""{title}: reproduces node {target!r} of this Sextant flow with pandas.\n\n'
        "Needs Python 3.11+, numpy and pandas 3 or newer (scikit-learn and scipy for some\n"
        "transforms). Run it with the source datasets as Parquet or CSV files:\n"
        f"    python {_slug(title)}.py --source NODE=PATH ... output.parquet\n"
        '"""\n\n'
        f"{HEADER_IMPORTS}\n\n{functions}\n\n{_run_function(graph, target)}\n\n"
        f"{_main(graph, target, source_paths or {})}"
    )


def to_notebook(
    graph: FlowGraph,
    target: str,
    *,
    title: str = "flow",
    source_paths: Mapping[str, str] | None = None,
) -> str:
    """The same as :func:`to_python`, as a notebook: imports, one cell per function, then a run."""
    nb = nbformat.v4.new_notebook()
    paths = {n.id: (source_paths or {}).get(n.id, f"{n.id}.parquet") for n in graph.sources(target)}
    cells = [
        nbformat.v4.new_markdown_cell(
            f"# {title}\n\nReproduces node `{target}` of this Sextant flow with pandas. "
            "Point `SOURCES` at the source datasets (Parquet or CSV) and run all cells."
        ),
        nbformat.v4.new_code_cell(HEADER_IMPORTS.rstrip()),
    ]
    cells += [
        nbformat.v4.new_code_cell(function_source(f).rstrip())
        for f in _functions_for(graph, target)
    ]
    cells.append(nbformat.v4.new_code_cell(_run_function(graph, target).rstrip()))
    cells.append(
        nbformat.v4.new_code_cell(
            f"SOURCES = {json.dumps(paths, indent=4)}\n"
            "read = lambda p: pd.read_csv(p) if p.endswith('.csv') else pd.read_parquet(p)\n"
            "frame, fitted = run({node: read(path) for node, path in SOURCES.items()})\n"
            "frame.head()"
        )
    )
    nb.cells = cells
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.validate(nb)
    return str(nbformat.writes(nb))


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_") or "flow"
