"""The endpoints' cards on the home dashboard (the project's endpoints) and the ops console
(model hosts and every endpoint's health)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.utils import timezone

from endpoints.choices import EndpointStatus, ServerStatus
from endpoints.models import Endpoint, EndpointMetric, ModelHost, ModelServer
from endpoints.services import HOST_STALE_SECONDS
from studio.models import Project
from studio.panels import register_panel


def _health(endpoints: list[Endpoint]) -> list[dict[str, Any]]:
    ids = [e.pk for e in endpoints]
    servers = {
        row["endpoint"]: row
        for row in ModelServer.objects.filter(endpoint__in=ids, retire_at__isnull=True)
        .values("endpoint")
        .annotate(
            total=Count("id"),
            running=Count("id", filter=Q(status=ServerStatus.RUNNING)),
            failed=Count("id", filter=Q(status=ServerStatus.FAILED)),
            restarts=Sum("restarts"),
        )
    }
    since = timezone.now() - timedelta(hours=1)
    traffic = {
        row["endpoint"]: row
        for row in EndpointMetric.objects.filter(endpoint__in=ids, time__gte=since, shadow=False)
        .values("endpoint")
        .annotate(calls=Sum("invocations"), errors=Sum("server_errors"))
    }
    rows = []
    for e in endpoints:
        s = servers.get(e.pk, {})
        t = traffic.get(e.pk, {})
        total, running = s.get("total", 0), s.get("running", 0)
        rows.append(
            {
                "endpoint": e,
                "running": running,
                "total": total,
                "failed": s.get("failed", 0),
                "restarts": s.get("restarts") or 0,
                "calls": t.get("calls") or 0,
                "errors": t.get("errors") or 0,
                "healthy": e.status == EndpointStatus.IN_SERVICE and total and running == total,
            }
        )
    return rows


def home_context(request: HttpRequest, project: Project | None) -> dict[str, Any] | None:
    if project is None:
        return None
    endpoints = list(Endpoint.objects.filter(project=project).order_by("-created_at")[:6])
    if not endpoints:
        return None
    in_service = Endpoint.objects.filter(project=project, status=EndpointStatus.IN_SERVICE).count()
    return {"rows": _health(endpoints), "in_service": in_service}


def ops_context(request: HttpRequest, project: Project | None) -> dict[str, Any] | None:
    fresh = timezone.now() - timedelta(seconds=HOST_STALE_SECONDS)
    hosts = []
    for host in ModelHost.objects.annotate(
        servers_total=Count("servers", filter=Q(servers__retire_at__isnull=True)),
        servers_running=Count(
            "servers",
            filter=Q(servers__retire_at__isnull=True, servers__status=ServerStatus.RUNNING),
        ),
    ).order_by("name"):
        hosts.append({"host": host, "online": host.heartbeat_at >= fresh})
    endpoints = list(Endpoint.objects.select_related("project").order_by("name")[:100])
    return {"hosts": hosts, "rows": _health(endpoints), "stale_seconds": HOST_STALE_SECONDS}


register_panel("home", "endpoints/partials/home_panel.html", home_context)
register_panel("ops", "endpoints/partials/ops_panel.html", ops_context)
