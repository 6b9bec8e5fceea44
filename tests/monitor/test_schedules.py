"""Monitoring schedules: hourly, daily or cron; run now; fired once per fire time by the
tick beat calls; stopped and started; project-scoped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from monitor import services
from monitor.models import MonitoringBaseline, MonitoringExecution, MonitoringSchedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def baseline(member: Any, project: Any, train_data: Any, on_commit: Any) -> MonitoringBaseline:
    with on_commit(execute=True):
        created = services.monitoring_baseline_create(
            project=project, user=member, dataset=train_data.pk
        )
    created.refresh_from_db()
    assert created.status == "Completed", created.failure_reason
    return created


def schedule_body(project: Any, endpoint: Any, baseline: Any, /, **more: Any) -> dict[str, Any]:
    return {
        "project": project.pk,
        "endpoint": endpoint.pk,
        "baseline": baseline.pk,
        "monitor_type": "data_quality",
        "schedule": "hourly",
        **more,
    }


def test_an_hourly_schedule_fires_at_the_next_hour(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any
) -> None:
    response = api(member).post(
        "/api/v1/monitoring-schedules/", schedule_body(project, endpoint, baseline), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["cron"] == "0 * * * *"
    assert body["status"] == "Scheduled"
    assert body["window_hours"] == 1.0
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert next_run.minute == 0 and next_run.second == 0
    assert timedelta(0) < next_run - timezone.now() <= timedelta(hours=1)


@pytest.mark.parametrize(
    ("expression", "cron", "hours"),
    [("daily", "0 0 * * *", 24.0), ("*/15 * * * *", "*/15 * * * *", 0.25)],
)
def test_daily_and_cron_schedules_look_at_the_traffic_since_the_last_fire(
    api: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    expression: str,
    cron: str,
    hours: float,
) -> None:
    body = schedule_body(project, endpoint, baseline, schedule=expression)
    created = api(member).post("/api/v1/monitoring-schedules/", body, format="json").json()
    assert created["cron"] == cron
    assert created["window_hours"] == pytest.approx(hours)


@pytest.mark.parametrize(
    ("more", "field"),
    [
        ({"schedule": "every now and then"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"monitor_type": "vibes"}, "monitor_type"),
        ({"monitor_type": "model_quality"}, "baseline"),
        ({"monitor_type": "bias_drift"}, "baseline"),
        ({"webhook_url": "http://127.0.0.1:9/hook"}, "webhook_url"),
        ({"webhook_url": "ftp://example.org/"}, "webhook_url"),
        ({"alert_emails": ["not an address"]}, "alert_emails.0"),
        ({"window_hours": -1}, "window_hours"),
        ({"config": {"tolerance": 0.1}}, "config"),
        ({"endpoint": 999999}, "endpoint"),
    ],
)
def test_a_bad_schedule_is_refused_with_its_field(
    api: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    more: dict[str, Any],
    field: str,
) -> None:
    body = schedule_body(project, endpoint, baseline, **more)
    response = api(member).post("/api/v1/monitoring-schedules/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not MonitoringSchedule.objects.exists()


def test_a_webhook_under_an_allowed_prefix_is_accepted_and_a_lookalike_is_not(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, settings: Any
) -> None:
    settings.SEXTANT_WEBHOOK_ALLOWLIST = ["https://hooks.example.org/sextant"]
    ok = schedule_body(
        project, endpoint, baseline, webhook_url="https://hooks.example.org/sextant/a"
    )
    assert api(member).post("/api/v1/monitoring-schedules/", ok, format="json").status_code == 201
    for url in ("https://hooks.example.org/sextantx", "https://hooks.example.org.evil/sextant/a"):
        body = schedule_body(project, endpoint, baseline, webhook_url=url)
        refused = api(member).post("/api/v1/monitoring-schedules/", body, format="json")
        assert refused.status_code == 400, url


def test_run_now_starts_an_execution_and_returns_its_job(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, on_commit: Any
) -> None:
    schedule = (
        api(member)
        .post(
            "/api/v1/monitoring-schedules/",
            schedule_body(project, endpoint, baseline),
            format="json",
        )
        .json()
    )
    with on_commit(execute=True):
        response = api(member).post(f"/api/v1/monitoring-schedules/{schedule['id']}/run-now/")
    assert response.status_code == 202, response.content
    assert response.json()["job"]
    listed = api(member).get(f"/api/v1/monitoring-executions/?schedule={schedule['id']}").json()
    assert listed["count"] == 1
    execution = listed["results"][0]
    assert {"id", "status", "started_at", "violations", "report"} <= set(execution)
    # No traffic was captured: it says so rather than failing.
    assert execution["status"] == "Completed"
    assert "No captured traffic" in execution["report"]["note"]


def test_the_tick_starts_a_due_schedule_once_and_moves_it_on(
    member: Any, project: Any, endpoint: Any, baseline: Any, on_commit: Any
) -> None:
    schedule = services.monitoring_schedule_create(
        project=project,
        user=member,
        endpoint=endpoint.pk,
        baseline=baseline.pk,
        monitor_type="data_quality",
        schedule="*/10 * * * *",
    )
    fire = datetime(2026, 12, 7, 10, 10, tzinfo=UTC)
    MonitoringSchedule.objects.filter(pk=schedule.pk).update(next_run_at=fire)
    late = fire + timedelta(seconds=7)
    with on_commit(execute=True):
        assert services.schedules_tick(now=late) == 1
        assert services.schedules_tick(now=late) == 0
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 12, 7, 10, 20, tzinfo=UTC)
    execution = MonitoringExecution.objects.get(schedule=schedule)
    assert execution.trigger == "schedule"
    assert execution.window_end == fire
    assert execution.window_start == fire - timedelta(minutes=10)


def test_a_stopped_schedule_does_not_fire_until_started_again(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any
) -> None:
    pk = (
        api(member)
        .post(
            "/api/v1/monitoring-schedules/",
            schedule_body(project, endpoint, baseline),
            format="json",
        )
        .json()["id"]
    )
    stopped = api(member).patch(
        f"/api/v1/monitoring-schedules/{pk}/", {"status": "Stopped"}, format="json"
    )
    assert stopped.json()["status"] == "Stopped" and stopped.json()["next_run_at"] is None
    assert services.schedules_tick(now=timezone.now() + timedelta(days=2)) == 0
    started = api(member).patch(
        f"/api/v1/monitoring-schedules/{pk}/", {"status": "Scheduled"}, format="json"
    )
    assert started.json()["next_run_at"] is not None


def test_strangers_get_404_for_schedules_and_executions(
    api: Any,
    member: Any,
    outsider: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    on_commit: Any,
) -> None:
    pk = (
        api(member)
        .post(
            "/api/v1/monitoring-schedules/",
            schedule_body(project, endpoint, baseline),
            format="json",
        )
        .json()["id"]
    )
    with on_commit(execute=True):
        execution = api(member).post(f"/api/v1/monitoring-schedules/{pk}/run-now/").json()
    stranger = api(outsider)
    assert stranger.get(f"/api/v1/monitoring-schedules/{pk}/").status_code == 404
    assert stranger.post(f"/api/v1/monitoring-schedules/{pk}/run-now/").status_code == 404
    assert stranger.get(f"/api/v1/monitoring-executions/?schedule={pk}").status_code == 404
    assert (
        stranger.get(f"/api/v1/monitoring-executions/{execution['execution']}/").status_code == 404
    )
    assert stranger.delete(f"/api/v1/monitoring-schedules/{pk}/").status_code == 404
    assert stranger.get("/api/v1/monitoring-executions/").json()["count"] == 0


def test_a_baseline_in_use_cannot_be_deleted(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any
) -> None:
    api(member).post(
        "/api/v1/monitoring-schedules/", schedule_body(project, endpoint, baseline), format="json"
    )
    response = api(member).delete(f"/api/v1/monitoring-baselines/{baseline.pk}/")
    assert response.status_code == 409
