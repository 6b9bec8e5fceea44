"""Unread alerts show beside Monitoring in the sidebar and on the home page, for members of
the project only, and go once they are read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from monitor.models import MonitoringAlert
from tests.monitor.test_pages import seed_monitoring

pytestmark = pytest.mark.django_db


def page(client: Client, user: Any, url: str = "/") -> str:
    client.force_login(user)
    return client.get(url).content.decode()


def test_unread_alerts_are_counted_in_the_sidebar_and_listed_on_the_home_page(
    client: Client, member: Any, owner: Any, project: Any
) -> None:
    seed_monitoring(project, owner)
    unread = MonitoringAlert.objects.filter(project=project, read_at__isnull=True).count()
    assert unread > 0
    html = page(client, member)
    badge = re.search(
        r'href="/monitoring/"[^>]*>.*?<span class="nav-count"[^>]*>(\d+)</span>', html, re.S
    )
    assert badge is not None and int(badge.group(1)) == unread
    assert 'data-testid="home-monitoring"' in html
    first = MonitoringAlert.objects.filter(project=project).order_by("-created_at").first()
    assert first is not None
    assert f"/monitoring/executions/{first.execution_id}/" in html


def test_read_alerts_leave_no_mark_and_strangers_never_see_them(
    client: Client, member: Any, owner: Any, outsider: Any, project: Any, other_project: Any
) -> None:
    seed_monitoring(project, owner)
    html = page(client, outsider)
    assert "nav-count" not in html and "home-monitoring" not in html
    MonitoringAlert.objects.filter(project=project).update(read_at="2026-12-07T00:00:00Z")
    html = page(client, member)
    assert "nav-count" not in html and "home-monitoring" not in html


def test_a_labelers_pages_count_no_alerts_and_log_no_error(
    client: Client, labeler: Any, owner: Any, project: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seed_monitoring(project, owner)
    assert MonitoringAlert.objects.filter(project=project, read_at__isnull=True).exists()
    with caplog.at_level("ERROR"):
        html = page(client, labeler, "/portal/")
    assert "nav-count" not in html and "home-monitoring" not in html
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
