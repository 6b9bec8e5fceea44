"""The deploy job: bring up the model servers a configuration needs, then make it live.

It is idempotent on the endpoint: a second attempt plans again and finds the servers the
first one created (same spec, not retired), so it only waits for what is still missing.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction

from endpoints.choices import ServerStatus
from endpoints.models import Endpoint, ModelServer
from endpoints.services import (
    DEPLOY_JOB_KIND,
    deploy_abandon,
    deploy_commit,
    deploy_plan,
    live_hosts,
)
from studio.choices import JobStatus, Queue
from studio.jobs import JobContext, JobFailed, register_runner
from studio.models import Job

POLL_SECONDS = 0.2


def _deploy_finished(job: Job) -> None:
    """A deploy that did not complete leaves the endpoint as it was (or Failed if new)."""
    if job.status == JobStatus.COMPLETED:
        return
    endpoint_id = (job.parameters or {}).get("endpoint")
    endpoint = Endpoint.objects.filter(pk=endpoint_id, job=job).first()
    if endpoint is None or endpoint.pending_config is None:
        return
    planned = list(
        ModelServer.objects.filter(
            endpoint=endpoint, generation__gt=endpoint.generation
        ).values_list("pk", flat=True)
    )
    reason = job.failure_reason or f"The deploy job ended {job.status}."
    deploy_abandon(endpoint_id=endpoint.pk, reason=reason, servers=planned)


@register_runner(
    DEPLOY_JOB_KIND, queue=Queue.DEFAULT, title="Deploy endpoint", on_finish=_deploy_finished
)
def deploy(ctx: JobContext) -> dict[str, Any]:
    endpoint_id = int(ctx.job.parameters["endpoint"])
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise JobFailed("The endpoint was deleted.")
        if endpoint.pending_config is None:  # made live by an earlier attempt
            return {"endpoint": endpoint.pk, "generation": endpoint.generation}
        plan = deploy_plan(endpoint)
    ids = [s.pk for s in plan]
    ctx.log(f"{endpoint.name}: {len(ids)} model server(s) for this configuration.")
    deadline = time.monotonic() + float(settings.SEXTANT_DEPLOY_TIMEOUT)
    said: dict[int, str] = {}
    while True:
        ctx.check_cancelled()
        servers = list(ModelServer.objects.filter(pk__in=ids).select_related("host"))
        if len(servers) != len(ids):
            raise JobFailed("The endpoint was deleted while deploying.")
        unplaced = [s for s in servers if s.host_id is None]
        if unplaced:
            hosts = live_hosts()
            if hosts:
                for i, server in enumerate(unplaced):
                    server.host = hosts[i % len(hosts)]
                    server.save(update_fields=["host", "updated_at"])
        for server in servers:
            where = f" on {server.host.name}:{server.port}" if server.host and server.port else ""
            state = f"{server.status}{where}"
            if said.get(server.pk) != state:
                said[server.pk] = state
                ctx.log(f"Variant {server.variant}, instance {server.pk}: {state}.")
        failed = [s for s in servers if s.status == ServerStatus.FAILED]
        if failed:
            raise JobFailed(f"Variant {failed[0].variant} could not start: {failed[0].last_error}")
        running = sum(s.status == ServerStatus.RUNNING for s in servers)
        ctx.progress(running / max(1, len(servers)))
        if running == len(servers):
            break
        if time.monotonic() > deadline:
            if unplaced and not live_hosts():
                raise JobFailed(
                    "No model host is running: start one with `python manage.py model_host` "
                    "(make run starts one)."
                )
            raise JobFailed(
                f"The model servers did not start within {settings.SEXTANT_DEPLOY_TIMEOUT:g} s."
            )
        time.sleep(POLL_SECONDS)
    endpoint = deploy_commit(endpoint_id=endpoint_id, servers=ids)
    ctx.log(f"{endpoint.name} is InService (generation {endpoint.generation}).")
    return {"endpoint": endpoint.pk, "generation": endpoint.generation}
