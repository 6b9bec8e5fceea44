"""The monitor's marks on the core's pages: unread alerts beside Monitoring in the sidebar,
and a home card listing them."""

from __future__ import annotations

from typing import Any, Final

from django.http import HttpRequest

from monitor.selectors import alert_list, unread_alert_count
from studio.models import Project
from studio.navigation import register_nav_badge
from studio.panels import register_panel

SHOWN: Final = 5


def unread_alerts(request: HttpRequest, project: Project) -> int:
    return unread_alert_count(request.user, project.pk)


def home_context(request: HttpRequest, project: Project | None) -> dict[str, Any] | None:
    """The project's unread alerts (None when there are none)."""
    if project is None:
        return None
    count = unread_alert_count(request.user, project.pk)  # 0 for a role that may not read
    if not count:
        return None
    alerts = list(alert_list(request.user, project_id=project.pk, unread=True)[:SHOWN])
    return {"alerts": alerts, "count": count}


register_nav_badge("monitoring-home", unread_alerts)
register_panel("home", "monitor/partials/home_panel.html", home_context)
