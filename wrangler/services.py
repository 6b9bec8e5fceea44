"""Every write of the Data Wrangler: flows and the processing jobs that run them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F

from studio.choices import DatasetStatus
from studio.errors import ServiceError
from studio.models import Dataset, Job, Project
from studio.services import NAME_RE, job_submit
from wrangler.models import Flow, FlowVersion, empty_graph
from wrangler.sources import sample_loader, sample_spec, source_datasets

if TYPE_CHECKING:
    from wrangler.engine.contracts import FlowError, FlowGraph
    from wrangler.engine.sample import SampleSpec

#: Rows per source for the column check made at every save.
CHECK_ROWS = 200
FLOW_JOB_KIND = "processing.flow"
SCRIPT_JOB_KIND = "processing.script"
PREVIEW_JOB_KIND = "wrangler.preview"
PROCESSING_KINDS = (FLOW_JOB_KIND, SCRIPT_JOB_KIND)
MAX_SCRIPT_BYTES = 256 * 1024
CHANNEL_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def flow_error(exc: FlowError) -> ServiceError:
    """A FlowError as the API's error: the node at fault travels with it."""
    if exc.field in ("node", "params") or (exc.field or "").startswith("sample"):
        field = exc.field  # about the request, not the graph
    elif exc.node and exc.field:
        field = f"graph.nodes.{exc.node}.{exc.field}"
    else:
        field = "graph"
    return ServiceError("invalid_flow", exc.message, field=field, node=exc.node)


def check_flow(*, project: Project, graph: Any) -> FlowGraph:
    """The graph parsed and checked against its sources' columns; ServiceError if invalid."""
    from wrangler.engine import parse_flow
    from wrangler.engine.contracts import FlowError
    from wrangler.engine.execute import check_columns
    from wrangler.engine.sample import SampleSpec

    try:
        parsed = parse_flow(graph)
        datasets = source_datasets(project, parsed)
        check_columns(parsed, load_source=sample_loader(datasets, SampleSpec(rows=CHECK_ROWS)))
    except FlowError as exc:
        raise flow_error(exc)
    return parsed


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        raise ServiceError(
            "invalid", "A flow needs a name of at most 120 characters.", field="name"
        )
    return name.strip()


def _check_sample(sample: Any) -> dict[str, Any]:
    from wrangler.engine.contracts import FlowError

    try:
        spec = sample_spec(sample)
    except FlowError as exc:
        raise ServiceError("invalid", exc.message, field=exc.field)
    return {"mode": spec.mode, "rows": spec.rows, "seed": spec.seed, "column": spec.column}


@transaction.atomic
def flow_create(
    *,
    project: Project,
    user: Any,
    name: str,
    graph: Any = None,
    description: str = "",
    sample: Any = None,
    source_dataset: int | None = None,
) -> Flow:
    """A new flow: the graph given, or one source node reading ``source_dataset``, or empty."""
    if graph is None and source_dataset is not None:
        graph = {
            "nodes": [
                {
                    "id": "source-1",
                    "type": "source",
                    "params": {"dataset": source_dataset},
                    "position": {"x": 80, "y": 120},
                }
            ],
            "edges": [],
        }
    graph = graph if graph is not None else empty_graph()
    check_flow(project=project, graph=graph)
    flow = Flow.objects.create(
        project=project,
        name=_check_name(name),
        description=description or "",
        graph=graph,
        sample=_check_sample(sample),
        created_by=user,
    )
    FlowVersion.objects.create(flow=flow, version=1, graph=graph, created_by=user)
    return flow


@transaction.atomic
def flow_update(
    *,
    flow: Flow,
    user: Any,
    name: str | None = None,
    graph: Any = None,
    description: str | None = None,
    sample: Any = None,
) -> Flow:
    """Change a flow; a changed graph becomes a new version (the old ones stay)."""
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    fields = ["updated_at"]
    if name is not None:
        flow.name = _check_name(name)
        fields.append("name")
    if description is not None:
        flow.description = description
        fields.append("description")
    if sample is not None:
        flow.sample = _check_sample(sample)
        fields.append("sample")
    if graph is not None and graph != flow.graph:
        check_flow(project=flow.project, graph=graph)
        flow.graph = graph
        flow.version = F("version") + 1
        fields += ["graph", "version"]
    flow.save(update_fields=fields)
    flow.refresh_from_db()
    if "graph" in fields:
        FlowVersion.objects.create(flow=flow, version=flow.version, graph=graph, created_by=user)
    return flow


@transaction.atomic
def flow_delete(*, flow: Flow) -> None:
    flow.delete()


def flow_run(*, flow: Flow, user: Any, node: Any, output_name: Any) -> Job:
    """Run the flow up to ``node`` over the full data as a processing job.

    The job runs the version saved now, whatever edits follow; its output becomes a new
    dataset (or a new version of ``output_name``).
    """
    if not isinstance(output_name, str) or not NAME_RE.match(output_name.strip()):
        raise ServiceError(
            "invalid",
            "output_name is 1–200 letters, digits, spaces, '.', '_' or '-', starting with a "
            "letter or digit.",
            field="output_name",
        )
    graph = check_flow(project=flow.project, graph=flow.graph)
    if not isinstance(node, str) or node not in graph.nodes:
        raise ServiceError("invalid", f"There is no node {node!r} in this flow.", field="node")
    if graph.nodes[node].type == "source":
        raise ServiceError("invalid", "Pick a transform node to run, not a source.", field="node")
    return job_submit(
        project=flow.project,
        kind=FLOW_JOB_KIND,
        owner=user,
        name=f"Flow {flow.name} → {output_name.strip()}",
        inputs={"flow": flow.pk, "version": flow.version, "node": node},
        parameters={"output_name": output_name.strip()},
    )


def _channels(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ServiceError("invalid", f"{field} must map channel names to values.", field=field)
    for name in value:
        if not isinstance(name, str) or not CHANNEL_RE.match(name):
            raise ServiceError(
                "invalid",
                f"A channel name is 1–64 letters, digits, '-' or '_' (got {name!r}).",
                field=f"{field}.{name}",
            )
    return dict(value)


def processing_script_submit(
    *,
    project: Project,
    user: Any,
    script: Any,
    inputs: Any = None,
    outputs: Any = None,
    resources: dict[str, Any] | None = None,
) -> Job:
    """Run a user's Python script over input datasets; what it writes becomes datasets.

    Each input dataset is a folder ``processing/input/<channel>/`` holding ``data.parquet``;
    each output channel a folder ``processing/output/<channel>/`` whose Parquet or CSV files
    become a new dataset (or version) named as ``outputs`` says. The script runs in a
    subprocess with the processing limits and a scrubbed environment.
    """
    if not isinstance(script, str) or not script.strip():
        raise ServiceError("invalid", "script is the Python code to run.", field="script")
    if len(script.encode()) > MAX_SCRIPT_BYTES:
        raise ServiceError(
            "invalid", f"The script is larger than {MAX_SCRIPT_BYTES // 1024} KiB.", field="script"
        )
    try:
        compile(script, "script.py", "exec")
    except SyntaxError as exc:
        raise ServiceError(
            "invalid", f"The script does not parse: {exc.msg} (line {exc.lineno}).", field="script"
        )
    channels_in = _channels(inputs, "inputs")
    found = {
        d.pk: d
        for d in Dataset.objects.filter(
            project=project, pk__in=[v for v in channels_in.values() if isinstance(v, int)]
        )
    }
    for name, dataset_id in channels_in.items():
        dataset = found.get(dataset_id) if isinstance(dataset_id, int) else None
        if dataset is None:
            raise ServiceError(
                "invalid",
                f"There is no dataset {dataset_id!r} in this project.",
                field=f"inputs.{name}",
            )
        if dataset.status != DatasetStatus.READY:
            raise ServiceError(
                "invalid",
                f"Dataset {dataset.name} is {dataset.status}, not Ready.",
                field=f"inputs.{name}",
            )
    if isinstance(outputs, list):
        outputs = {name: name for name in outputs}
    channels_out = _channels(outputs, "outputs")
    for name, dataset_name in channels_out.items():
        if not isinstance(dataset_name, str) or not NAME_RE.match(dataset_name.strip()):
            raise ServiceError(
                "invalid",
                "An output's dataset name is 1–200 letters, digits, spaces, '.', '_' or '-'.",
                field=f"outputs.{name}",
            )
    return job_submit(
        project=project,
        kind=SCRIPT_JOB_KIND,
        owner=user,
        name="Processing script"
        + (f" → {', '.join(channels_out.values())}" if channels_out else ""),
        inputs={"datasets": channels_in},
        parameters={"script": script, "outputs": {k: v.strip() for k, v in channels_out.items()}},
        resources=resources or {},
    )


def preview_job_submit(
    *,
    flow: Flow,
    graph: FlowGraph,
    node: str,
    spec: SampleSpec,
    limit: int,
    analysis: dict[str, Any] | None = None,
) -> Job:
    """A preview (or an analysis) computed by a worker: for nodes that follow custom code."""
    return job_submit(
        project=flow.project,
        kind=PREVIEW_JOB_KIND,
        name=f"Preview {flow.name} · {node}",
        inputs={"flow": flow.pk, "node": node},
        parameters={
            "graph": {
                "nodes": [
                    {"id": n.id, "type": n.type, "params": n.params} for n in graph.nodes.values()
                ],
                "edges": [
                    [i, n.id, k] for n in graph.nodes.values() for k, i in enumerate(n.inputs)
                ],
            },
            "sample": {
                "mode": spec.mode,
                "rows": spec.rows,
                "seed": spec.seed,
                "column": spec.column,
            },
            "limit": limit,
            "analysis": analysis,
        },
        resources={"max_runtime_seconds": 120},
    )
