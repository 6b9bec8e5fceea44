"""Reads of endpoints, with the same permission rules as every project object."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from endpoints.models import Endpoint, EndpointMetric, ModelServer
from registry.models import ModelPackage
from registry.selectors import package_deployable
from studio.models import Project
from studio.selectors import access_project, check_role, membership_of, readable_project_ids


def access_endpoint(user: Any, pk: Any, *, write: bool = False) -> Endpoint:
    """The endpoint for ``user``: 404 for a stranger, 403 for a role that may not act."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such endpoint.")
    endpoint = (
        Endpoint.objects.select_related("project", "created_by", "job").filter(pk=key).first()
    )
    if endpoint is None:
        raise Http404("No such endpoint.")
    check_role(membership_of(user, endpoint.project_id), write=write, what="endpoint")
    return endpoint


def endpoint_list(
    user: Any, *, project_id: Any = None, status: str | None = None
) -> QuerySet[Endpoint]:
    qs = Endpoint.objects.filter(project__in=readable_project_ids(user))
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("project", "created_by")


def endpoint_instances(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The endpoint's model servers: variant, host, status, restarts, last error."""
    out = []
    servers = ModelServer.objects.filter(endpoint=endpoint).select_related("host")
    for s in servers.order_by("variant", "id"):
        live = s.retire_at is None and s.generation <= endpoint.generation
        out.append(
            {
                "id": s.pk,
                "variant": s.variant,
                "status": s.status,
                "host": s.host.name if s.host else None,
                "address": f"{s.host.address}:{s.port}" if s.host and s.port else None,
                "restarts": s.restarts,
                "last_error": s.last_error,
                "live": live,
                "retiring": s.retire_at is not None,
                "models": [m["name"] for m in s.spec.get("models", [])],
            }
        )
    return out


def endpoints_serving_package(package: Any) -> list[Endpoint]:
    """The endpoints whose live or pending configuration names the package."""
    found = []
    package_id = package.pk
    for endpoint in Endpoint.objects.filter(project_id=package.project_id):
        for config in (endpoint.config or {}, endpoint.pending_config or {}):
            variants = list(config.get("variants", []))
            if config.get("shadow"):
                variants.append(config["shadow"])
            if any(m.get("package") == package_id for v in variants for m in v.get("models", [])):
                found.append(endpoint)
                break
    return found


def endpoint_metrics(endpoint: Endpoint, *, seconds: int = 300) -> dict[str, Any]:
    """The endpoint's traffic over the last ``seconds``, per variant and per second:
    invocations per second, latency p50/p99, errors, mean requests in flight; and totals
    with each live variant's share of the traffic (the split as it happened).

    Rows of several router processes for the same second add up; their percentiles are
    combined by invocation-weighted mean (p50) and maximum (p99)."""
    since = timezone.now() - timedelta(seconds=seconds)
    rows = EndpointMetric.objects.filter(endpoint=endpoint, time__gte=since).order_by("time")
    per: dict[str, dict[Any, dict[str, Any]]] = {}
    shadows: set[str] = set()
    for row in rows:
        if row.shadow:
            shadows.add(row.variant)
        bucket = per.setdefault(row.variant, {}).setdefault(
            row.time,
            {
                "n": 0,
                "seconds": 0.0,
                "client": 0,
                "server": 0,
                "p50w": 0.0,
                "p99": None,
                "busy": 0.0,
            },
        )
        bucket["n"] += row.invocations
        bucket["seconds"] = max(bucket["seconds"], row.seconds)
        bucket["client"] += row.client_errors
        bucket["server"] += row.server_errors
        bucket["busy"] += row.concurrency
        if row.p50_ms is not None:
            bucket["p50w"] += row.p50_ms * row.invocations
        if row.p99_ms is not None:
            bucket["p99"] = max(bucket["p99"] or 0.0, row.p99_ms)
    variants: dict[str, Any] = {}
    totals: dict[str, dict[str, Any]] = {}
    for name, buckets in per.items():
        times = sorted(buckets)
        series = [buckets[t] for t in times]
        variants[name] = {
            "shadow": name in shadows,
            "time": [t.isoformat() for t in times],
            "invocations_per_second": [
                round(b["n"] / b["seconds"], 3) if b["seconds"] else 0.0 for b in series
            ],
            "p50_ms": [round(b["p50w"] / b["n"], 3) if b["n"] else None for b in series],
            "p99_ms": [round(b["p99"], 3) if b["p99"] is not None else None for b in series],
            "errors": [b["client"] + b["server"] for b in series],
            "concurrency": [round(b["busy"], 3) for b in series],
        }
        count = sum(b["n"] for b in series)
        totals[name] = {
            "invocations": count,
            "client_errors": sum(b["client"] for b in series),
            "server_errors": sum(b["server"] for b in series),
            "shadow": name in shadows,
        }
    live_total = sum(t["invocations"] for t in totals.values() if not t["shadow"])
    for total in totals.values():
        total["share"] = (
            round(total["invocations"] / live_total, 4)
            if live_total and not total["shadow"]
            else None
        )
    return {"window_seconds": seconds, "variants": variants, "totals": totals}


def endpoint_variants(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The live (or pending) variants, shadow last, with their packages, running instances
    and autoscaling state: what the endpoint's page shows."""
    config = endpoint.config or endpoint.pending_config or {}
    wanted = list(config.get("variants", []))
    if config.get("shadow"):
        wanted.append({**config["shadow"], "shadow": True})
    ids = {m["package"] for v in wanted for m in v.get("models", [])}
    packages = {
        p.pk: p
        for p in ModelPackage.objects.filter(pk__in=ids).select_related("group", "training_job")
    }
    instances = endpoint_instances(endpoint)
    rows = []
    for v in wanted:
        mine = [i for i in instances if i["variant"] == v["name"] and i["live"]]
        rows.append(
            {
                "name": v["name"],
                "shadow": bool(v.get("shadow")),
                "weight": v.get("weight", 0.0),
                "instance_count": v.get("instance_count", 1),
                "running": sum(i["status"] == "Running" for i in mine),
                "models": [packages.get(m["package"]) for m in v.get("models", [])],
                "model_names": [m["name"] for m in v.get("models", [])],
                "multi_model": v.get("multi_model", False),
                "autoscaled": v.get("max_instances", 1) > v.get("min_instances", 1),
                "min": v.get("min_instances", 1),
                "max": v.get("max_instances", 1),
                "target": v.get("target_in_flight"),
                "scaling": (endpoint.scaling or {}).get(v["name"]),
            }
        )
    return rows


def servable_packages(project: Project) -> list[dict[str, Any]]:
    """The project's Completed packages for the new-endpoint form, newest version first per
    group, each saying whether this project lets it deploy."""
    packages = (
        ModelPackage.objects.filter(project=project, status="Completed")
        .select_related("group")
        .order_by("group__name", "-version")[:500]
    )
    required = not project.allow_unapproved_deployments
    return [
        {
            "id": p.pk,
            "label": f"{p.group.name} v{p.version}",
            "approval": p.approval_status,
            "deployable": package_deployable(p, require_approval=required) is None,
        }
        for p in packages
    ]
