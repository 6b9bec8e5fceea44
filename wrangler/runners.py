"""Job runners of the Data Wrangler: a flow run over the full data (a processing job)."""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings

from studio import services as studio_services
from studio import storage
from studio.errors import ServiceError
from studio.jobs import JobContext, JobFailed, register_runner
from wrangler.engine import parse_flow
from wrangler.engine.contracts import FlowError
from wrangler.models import FlowVersion
from wrangler.services import FLOW_JOB_KIND
from wrangler.sources import source_datasets

ROOT = Path(__file__).resolve().parent.parent
# What a subprocess running user code may see of the environment: no database URL, no
# secret key, no storage credentials.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


def scrubbed_env(workdir: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env.update(
        {
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _limits(memory_bytes: int) -> Any:
    def apply() -> None:
        os.setsid()  # its own process group, so a stop kills whatever it started
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return apply


def run_limited(
    ctx: JobContext, argv: list[str], *, workdir: Path, timeout: float
) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``argv`` under the processing limits, relaying its JSON lines into the job.

    Returns the exit status, the messages it printed and the tail of its stderr. A stop
    request or the time limit kills its whole process group.
    """
    memory = int(settings.SEXTANT_PROCESSING_MEMORY_MB) * 1024 * 1024
    stderr_path = workdir / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=scrubbed_env(workdir),
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=_limits(memory),
        )
        lines: queue.Queue[bytes | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.put(raw)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    raw = lines.get(timeout=0.5)
                except queue.Empty:
                    raw = b""
                if raw is None:
                    break
                if raw:
                    message = _parse_line(raw)
                    messages.append(message)
                    if "message" in message:
                        ctx.log(str(message["message"]))
                    if "progress" in message:
                        ctx.progress(float(message["progress"]))
                if time.monotonic() > deadline:
                    ctx.request_cancel(
                        f"The run went past its time limit ({timeout:g} s).", failed=True
                    )
                ctx.check_cancelled()
        except BaseException:
            _kill(proc)
            raise
        status = proc.wait()
    tail = stderr_path.read_text(errors="replace")[-2000:]
    return status, messages, tail


def _parse_line(raw: bytes) -> dict[str, Any]:
    text = raw.decode(errors="replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        return {"message": text}
    return value if isinstance(value, dict) else {"message": text}


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _failure(status: int, messages: list[dict[str, Any]], stderr_tail: str) -> str:
    for message in reversed(messages):
        if isinstance(message.get("error"), dict):
            error = message["error"]
            where = f" (node {error['node']})" if error.get("node") else ""
            return f"{error.get('message', 'The flow failed')}{where}"
    if status in (-signal.SIGKILL, -signal.SIGSEGV) or "MemoryError" in stderr_tail:
        return (
            "The flow ran out of memory (limit "
            f"{settings.SEXTANT_PROCESSING_MEMORY_MB} MiB, SEXTANT_PROCESSING_MEMORY_MB)."
        )
    last = stderr_tail.strip().splitlines()[-1:] or [f"exit status {status}"]
    return f"The flow failed: {last[0]}"


@register_runner(FLOW_JOB_KIND, queue="cpu", title="Processing: flow")
def run_flow_job(ctx: JobContext) -> dict[str, Any]:
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
