"""The exported script computes what the engine computes, for every transform type."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.flows import EXAMPLES, demo_frame, regions_frame, single_node_flow
from wrangler.engine import catalog, parse_flow, run_flow
from wrangler.engine.export import to_notebook, to_python

FRAMES = {1: demo_frame(600, seed=1), 2: regions_frame(200)}
NEW = {1: demo_frame(300, seed=2), 2: regions_frame(100)}
TYPES = sorted(t.type for t in catalog())


def load_from(frames):
    return lambda node: frames[node.params["dataset"]]


def exported_run(code: str):
    namespace = {"__name__": "exported_flow"}
    exec(compile(code, "flow.py", "exec"), namespace)
    return namespace["run"]


def test_every_transform_type_has_an_example():
    assert sorted(EXAMPLES) == TYPES


@pytest.mark.parametrize("kind", TYPES)
def test_the_script_reproduces_the_engine_on_fit_and_on_new_data(kind):
    graph = parse_flow(single_node_flow(kind))
    expected, states = run_flow(graph, "t", load_source=load_from(FRAMES), allow_custom_code=True)
    code = to_python(graph, "t", title=kind)
    assert "wrangler" not in code and "studio" not in code  # it needs nothing of Sextant
    run = exported_run(code)
    sources = {n.id: FRAMES[n.params["dataset"]] for n in graph.sources()}
    got, fitted = run(sources)
    pd.testing.assert_frame_equal(got, expected)
    # Fitted state, applied to new data, gives the same result on both sides.
    new_sources = {n.id: NEW[n.params["dataset"]] for n in graph.sources()}
    expected_new, _ = run_flow(
        graph, "t", load_source=load_from(NEW), states=states, allow_custom_code=True
    )
    got_new, _ = run(new_sources, {k: v for k, v in fitted.items() if k in states})
    pd.testing.assert_frame_equal(got_new, expected_new)


def test_the_notebook_holds_the_same_code_as_cells():
    graph = parse_flow(single_node_flow("fill_missing"))
    import nbformat

    nb = nbformat.reads(to_notebook(graph, "t", title="x"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "def fill_missing(" in code and "def run(sources" in code
