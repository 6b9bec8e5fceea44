"""Sending an alert: an e-mail through Django's mail settings and a JSON POST to the
schedule's webhook (only under an allow-listed prefix, checked again at send time: the list
may have changed since the schedule was made). Each channel's outcome is recorded on the
alert; a failure of one never stops the other."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from monitor.models import MonitoringAlert
from monitor.services import alert_deliveries, webhook_allowed

logger = logging.getLogger("monitor.alerts")


def alert_payload(alert: MonitoringAlert) -> dict[str, Any]:
    execution = alert.execution
    schedule = alert.schedule
    return {
        "alert": alert.pk,
        "summary": alert.summary,
        "project": alert.project_id,
        "endpoint": schedule.endpoint.name,
        "schedule": {
            "id": schedule.pk,
            "name": schedule.name,
            "monitor_type": schedule.monitor_type,
        },
        "execution": {
            "id": execution.pk,
            "status": execution.status,
            "window_start": execution.window_start.isoformat(),
            "window_end": execution.window_end.isoformat(),
            "url": f"/monitoring/executions/{execution.pk}/",
        },
        "violations": execution.violations,
        "created_at": alert.created_at.isoformat(),
    }


def _email(alert: MonitoringAlert, payload: dict[str, Any]) -> str:
    recipients = list(alert.schedule.alert_emails or [])
    if not recipients:
        return "none"
    lines = [alert.summary, ""]
    for v in payload["violations"][:50]:
        lines.append(f"- {v.get('check')}: {v.get('description')}")
    lines += ["", f"Report: {payload['execution']['url']}"]
    try:
        send_mail(
            subject=f"[Sextant] {alert.summary}"[:200],
            message="\n".join(lines),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception as exc:  # a mail server down must not lose the webhook
        logger.warning("Could not e-mail alert %s: %s", alert.pk, exc)
        return f"error: {exc}"[:300]
    return "sent"


def _webhook(alert: MonitoringAlert, payload: dict[str, Any]) -> str:
    url = alert.schedule.webhook_url
    if not url:
        return "none"
    if not webhook_allowed(url):
        return "error: the URL is no longer in the webhook allow-list"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Sextant-Monitor"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.SEXTANT_WEBHOOK_TIMEOUT) as reply:
            return f"sent ({reply.status})"
    except urllib.error.HTTPError as exc:
        return f"error: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("Could not call the webhook of alert %s: %s", alert.pk, exc)
        return f"error: {exc}"[:300]


def alert_send(alert_id: int) -> dict[str, str]:
    """Send the alert on every channel its schedule names; idempotent per channel."""
    alert = (
        MonitoringAlert.objects.select_related("schedule__endpoint", "execution")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        return {}
    done = dict(alert.deliveries or {})
    payload = alert_payload(alert)
    if not str(done.get("email", "")).startswith("sent"):
        done["email"] = _email(alert, payload)
    if not str(done.get("webhook", "")).startswith("sent"):
        done["webhook"] = _webhook(alert, payload)
    alert_deliveries(alert_id=alert.pk, deliveries=done)
    return done
