"""Job runners of the Data Wrangler: a flow run over the full data (a processing job)."""

from __future__ import annotations

import json
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings

from studio import services as studio_services
from studio import storage
from studio.choices import DatasetStatus
from studio.engine.contracts import IngestError
from studio.errors import ServiceError
from studio.jobs import JobContext, JobFailed, register_runner
from studio.jobs.sandbox import memory_failure, run_limited
from studio.models import Dataset
from wrangler.models import Flow, FlowVersion
from wrangler.services import FLOW_JOB_KIND, PREVIEW_JOB_KIND, SCRIPT_JOB_KIND
from wrangler.sources import source_datasets


def _failure(
    status: int, messages: list[dict[str, Any]], stderr_tail: str, what: str = "flow"
) -> str:
    for message in reversed(messages):
        if isinstance(message.get("error"), dict):
            error = message["error"]
            where = f" (node {error['node']})" if error.get("node") else ""
            return f"{error.get('message', f'The {what} failed')}{where}"
    if memory_failure(status, stderr_tail):
        return (
            f"The {what} ran out of memory (limit "
            f"{settings.SEXTANT_PROCESSING_MEMORY_MB} MiB, SEXTANT_PROCESSING_MEMORY_MB)."
        )
    last = stderr_tail.strip().splitlines()[-1:] or [f"exit status {status}"]
    return f"The {what} failed: {last[0]}"


@register_runner(FLOW_JOB_KIND, queue="cpu", title="Processing: flow")
def run_flow_job(ctx: JobContext) -> dict[str, Any]:
    from wrangler.engine import parse_flow
    from wrangler.engine.contracts import FlowError

    version = (
        FlowVersion.objects.select_related("flow__project")
        .filter(flow_id=ctx.inputs.get("flow"), version=ctx.inputs.get("version"))
        .first()
    )
    if version is None:
        raise JobFailed("The flow (or the version this job ran) no longer exists.")
    flow, target = version.flow, str(ctx.inputs.get("node"))
    try:
        graph = parse_flow(version.graph)
        datasets = source_datasets(flow.project, graph, target)
    except FlowError as exc:
        raise JobFailed(exc.message + (f" (node {exc.node})" if exc.node else ""))
    ctx.log(f"Running flow {flow.name} v{version.version} up to node {target}.")
    workdir = ctx.workdir
    output, states = workdir / "output.parquet", workdir / "states.json"
    with ExitStack() as stack:
        paths = {
            node_id: str(stack.enter_context(storage.open_local(d.data_key)))
            for node_id, d in datasets.items()
        }
        spec = {
            "graph": version.graph,
            "target": target,
            "sources": paths,
            "output": str(output),
            "states": str(states),
            "dask": {
                "address": settings.DASK_SCHEDULER_ADDRESS,
                # Beyond half the job's memory the local cluster spills to its folder.
                "memory_bytes": int(settings.SEXTANT_PROCESSING_MEMORY_MB) * 1024 * 1024 // 2,
            },
        }
        (workdir / "spec.json").write_text(json.dumps(spec))
        max_runtime = ctx.max_runtime or float(settings.SEXTANT_PROCESSING_TIMEOUT)
        status, messages, stderr_tail = run_limited(
            ctx,
            [sys.executable, "-m", "wrangler.engine.job", str(workdir / "spec.json")],
            workdir=workdir,
            timeout=max_runtime,
        )
    if status != 0 or not output.exists():
        raise JobFailed(_failure(status, messages, stderr_tail))
    name = str(ctx.parameters.get("output_name") or f"{flow.name}-output")
    try:
        dataset = studio_services.dataset_from_parquet(
            project=flow.project, user=ctx.job.owner, name=name, path=output
        )
    except ServiceError as exc:
        raise JobFailed(exc.message)
    studio_services.job_artifact_store(
        job_id=ctx.job_id, name="flow_states.json", path=states, content_type="application/json"
    )
    ctx.log(f"Wrote dataset {dataset.name} v{dataset.version}: {dataset.num_rows:,} rows.")
    return {
        "dataset": dataset.pk,
        "dataset_name": dataset.name,
        "dataset_version": dataset.version,
        "num_rows": dataset.num_rows,
        "flow": flow.pk,
        "flow_version": version.version,
        "node": target,
    }


def _collect_output(folder: Path, dest: Path) -> None:
    """The Parquet or CSV files a script wrote to one output folder, as one Parquet file."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from studio.engine.ingest import ingest_tabular

    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    parquet = [p for p in files if p.suffix in (".parquet", ".pq")]
    text = [p for p in files if p.suffix in (".csv", ".tsv", ".jsonl")]
    if parquet and not text:
        # Several files (parts of one table) are streamed into one, batch by batch.
        source = ds.dataset([str(p) for p in parquet], format="parquet")
        with pq.ParquetWriter(dest, source.schema) as writer:
            for batch in source.to_batches():
                writer.write_batch(batch)
        return
    if len(text) == 1 and not parquet:
        fmt = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}[text[0].suffix]
        ingest_tabular(text[0], fmt, dest)
        return
    names = ", ".join(p.name for p in files[:5]) or "nothing"
    raise JobFailed(
        f"output/{folder.name} must hold Parquet files or one CSV, TSV or JSON Lines file; "
        f"it holds {names}."
    )


@register_runner(SCRIPT_JOB_KIND, queue="cpu", title="Processing: script")
def run_script_job(ctx: JobContext) -> dict[str, Any]:
    base = ctx.workdir / "processing"
    channels_in: dict[str, int] = dict((ctx.inputs or {}).get("datasets") or {})
    channels_out: dict[str, str] = dict(ctx.parameters.get("outputs") or {})
    datasets = {
        d.pk: d
        for d in Dataset.objects.filter(project_id=ctx.project_id, pk__in=channels_in.values())
    }
    for name, dataset_id in channels_in.items():
        dataset = datasets.get(dataset_id)
        if dataset is None or dataset.status != DatasetStatus.READY:
            raise JobFailed(f"Input {name}: dataset {dataset_id} is gone or not Ready.")
        folder = base / "input" / name
        folder.mkdir(parents=True)
        with storage.open_local(dataset.data_key) as path:
            shutil.copyfile(path, folder / "data.parquet")
        ctx.log(f"Input {name}: {dataset.name} v{dataset.version} ({dataset.num_rows:,} rows).")
    for name in channels_out:
        (base / "output" / name).mkdir(parents=True)
    code = base / "code" / "script.py"
    code.parent.mkdir(parents=True)
    code.write_text(str(ctx.parameters.get("script", "")))
    status, _, stderr_tail = run_limited(
        ctx,
        [sys.executable, str(code)],
        workdir=base,
        timeout=ctx.max_runtime or float(settings.SEXTANT_PROCESSING_TIMEOUT),
        env={"SEXTANT_PROCESSING_DIR": str(base)},
    )
    if status != 0:
        raise JobFailed(_failure(status, [], stderr_tail, what="script"))
    produced: dict[str, Any] = {}
    for name, dataset_name in channels_out.items():
        dest = ctx.workdir / f"output-{name}.parquet"
        try:
            _collect_output(base / "output" / name, dest)
        except IngestError as exc:
            raise JobFailed(f"output/{name}: {exc.message}")
        try:
            dataset = studio_services.dataset_from_parquet(
                project=ctx.job.project, user=ctx.job.owner, name=dataset_name, path=dest
            )
        except ServiceError as exc:
            raise JobFailed(exc.message)
        ctx.log(
            f"Output {name}: dataset {dataset.name} v{dataset.version}, {dataset.num_rows:,} rows."
        )
        produced[name] = {"dataset": dataset.pk, "name": dataset.name, "version": dataset.version}
    return {"datasets": produced}


@register_runner(PREVIEW_JOB_KIND, queue="default", title="Preview with custom code")
def run_preview_job(ctx: JobContext) -> dict[str, Any]:
    """A node's preview computed in a limited subprocess; a flow error is a result too."""
    from wrangler.engine import parse_flow
    from wrangler.engine.contracts import FlowError

    version_graph = ctx.parameters["graph"]
    target = str(ctx.inputs.get("node"))
    flow = Flow.objects.select_related("project").filter(pk=ctx.inputs.get("flow")).first()
    if flow is None:
        raise JobFailed("The flow no longer exists.")
    try:
        graph = parse_flow(version_graph)
        datasets = source_datasets(flow.project, graph, target)
    except FlowError as exc:
        return {"error": exc.to_dict()}
    workdir = ctx.workdir
    result = workdir / "preview.json"
    with ExitStack() as stack:
        paths = {
            node_id: str(stack.enter_context(storage.open_local(d.data_key)))
            for node_id, d in datasets.items()
        }
        spec = {
            "mode": "preview",
            "graph": version_graph,
            "target": target,
            "sources": paths,
            "sample": ctx.parameters["sample"],
            "limit": ctx.parameters.get("limit", 100),
            "analysis": ctx.parameters.get("analysis"),
            "result": str(result),
        }
        (workdir / "spec.json").write_text(json.dumps(spec))
        status, messages, stderr_tail = run_limited(
            ctx,
            [sys.executable, "-m", "wrangler.engine.job", str(workdir / "spec.json")],
            workdir=workdir,
            timeout=ctx.max_runtime or 120.0,
        )
    for message in messages:
        if isinstance(message.get("error"), dict):
            return {"error": message["error"]}
    if status != 0 or not result.exists():
        return {"error": {"node": None, "message": _failure(status, messages, stderr_tail)}}
    return {"result": json.loads(result.read_text())}
