"""A node's output on a sample: the table, its schema and a small summary per column."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

from studio.choices import JobStatus
from studio.models import Job
from wrangler.models import Flow
from wrangler.services import preview_job_submit
from wrangler.sources import sample_loader, source_datasets

if TYPE_CHECKING:
    import pandas as pd

    from wrangler.engine.contracts import FlowGraph
    from wrangler.engine.sample import SampleSpec


def node_frame(flow: Flow, node: str, spec: SampleSpec, *, graph: Any = None) -> pd.DataFrame:
    """``node``'s output on the sampled sources, from the saved graph or the one given."""
    from wrangler.engine import parse_flow, run_flow
    from wrangler.engine.contracts import FlowError

    parsed = parse_flow(flow.graph if graph is None else graph)
    if node not in parsed.nodes:
        raise FlowError(f"There is no node {node!r} in this flow.", node=node, field="node")
    datasets = source_datasets(flow.project, parsed, node)
    frame, _ = run_flow(parsed, node, load_source=sample_loader(datasets, spec))
    return frame


def flow_analysis(
    flow: Flow, node: str, spec: SampleSpec, kind: str, params: dict[str, Any], *, graph: Any = None
) -> dict[str, Any]:
    """An analysis (or the insights report) of ``node``'s output on the sample."""
    from wrangler.engine import parse_flow
    from wrangler.engine.contracts import FlowError
    from wrangler.engine.preview import analysis_of

    parsed = parse_flow(flow.graph if graph is None else graph)
    if node in parsed.nodes and needs_worker(parsed, node):
        analysis = {"kind": kind, "params": params}
        return worker_compute(flow, parsed, node, spec, limit=0, analysis=analysis)
    frame = node_frame(flow, node, spec, graph=graph)
    try:
        return analysis_of(frame, kind, params)
    except ValueError as exc:
        raise FlowError(str(exc), node=node, field="params")


def flow_preview(
    flow: Flow, node: str, spec: SampleSpec, *, limit: int | None = None, graph: Any = None
) -> dict[str, Any]:
    """What ``node`` outputs on the flow's sources sampled by ``spec``; FlowError if it cannot.

    ``graph``: an unsaved graph of this flow (its sources must still be the project's);
    ``limit``: rows to show, ``PREVIEW_ROWS`` by default.
    """
    from wrangler.engine import parse_flow
    from wrangler.engine.preview import PREVIEW_ROWS, preview_of

    if limit is None:
        limit = PREVIEW_ROWS
    parsed = parse_flow(flow.graph if graph is None else graph)
    if node in parsed.nodes and needs_worker(parsed, node):
        out = worker_compute(flow, parsed, node, spec, limit=limit)
    else:
        out = preview_of(node_frame(flow, node, spec, graph=graph), limit)
    out["sample"] = {"mode": spec.mode, "rows": spec.rows, "seed": spec.seed, "column": spec.column}
    return out


def needs_worker(graph: FlowGraph, node: str) -> bool:
    """Whether ``node`` depends on custom code, which never runs in the web process."""
    from wrangler.engine.registry import get_transform

    for node_id in graph.ancestors(node):
        defn = get_transform(graph.nodes[node_id].type)
        if defn is not None and defn.custom_code:
            return True
    return False


def worker_compute(
    flow: Flow,
    graph: FlowGraph,
    node: str,
    spec: SampleSpec,
    *,
    limit: int,
    analysis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A preview (or an analysis) computed by a worker in a short job on the default queue,
    waited for here."""
    from wrangler.engine.contracts import FlowError

    source_datasets(flow.project, graph, node)  # refuse a bad source before queueing anything
    job = preview_job_submit(
        flow=flow, graph=graph, node=node, spec=spec, limit=limit, analysis=analysis
    )
    deadline = time.monotonic() + settings.SEXTANT_WORKER_PREVIEW_TIMEOUT
    while True:
        job.refresh_from_db(fields=["status", "outputs", "failure_reason"])
        if job.status == JobStatus.COMPLETED:
            break
        if job.status in (JobStatus.FAILED, JobStatus.STOPPED):
            raise FlowError(f"The preview job failed: {job.failure_reason}", node=node)
        if time.monotonic() > deadline:
            Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
                status=JobStatus.STOPPED, failure_reason="Nobody waited for it any more."
            )
            raise FlowError(
                "No worker computed this preview in time: custom code is previewed by a "
                "worker of the default queue. Is one running?",
                node=node,
            )
        time.sleep(0.1)
    outputs = job.outputs or {}
    if "error" in outputs:
        error = outputs["error"]
        raise FlowError(
            error.get("message", "The preview failed."),
            node=error.get("node"),
            field=error.get("field"),
        )
    return dict(outputs["result"])
