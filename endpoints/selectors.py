"""Reads of endpoints, with the same permission rules as every project object."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from endpoints.models import Endpoint, ModelServer
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
