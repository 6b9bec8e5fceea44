"""Jobs over the API: list, detail, logs, stop, retry, and who may see what."""

from __future__ import annotations

import pytest

from studio import services
from studio.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_job(project, owner, on_commit):
    with on_commit(execute=True):
        job = services.job_submit(
            project=project, kind="diagnostic.sleep", owner=owner, parameters={"seconds": 0.05}
        )
    job.refresh_from_db()
    return job


def test_jobs_are_listed_by_project(api, project, owner, finished_job):
    body = api(owner).get(f"/api/v1/jobs/?project={project.pk}").json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == finished_job.pk
    assert body["results"][0]["status"] == "Completed"


def test_jobs_filter_by_status_and_kind(api, project, owner, finished_job):
    client = api(owner)
    assert client.get(f"/api/v1/jobs/?project={project.pk}&status=Failed").json()["count"] == 0
    assert (
        client.get(f"/api/v1/jobs/?project={project.pk}&kind=diagnostic.sleep").json()["count"] == 1
    )
    bad = client.get(f"/api/v1/jobs/?project={project.pk}&status=Exploded")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "status"
    assert client.get("/api/v1/jobs/?owner__password=x").status_code == 400


def test_job_detail_has_the_framework_fields(api, owner, finished_job):
    body = api(owner).get(f"/api/v1/jobs/{finished_job.pk}/").json()
    for field in (
        "kind",
        "status",
        "queue",
        "progress",
        "parameters",
        "failure_reason",
        "attempts",
        "heartbeat_at",
        "created_at",
        "started_at",
        "finished_at",
    ):
        assert field in body
    assert body["progress"] == 1.0


def test_logs_are_paged_by_id(api, owner, finished_job):
    lines = api(owner).get(f"/api/v1/jobs/{finished_job.pk}/logs/").json()
    assert len(lines) >= 2
    newer = api(owner).get(f"/api/v1/jobs/{finished_job.pk}/logs/?after={lines[0]['id']}").json()
    assert [line["id"] for line in newer] == [line["id"] for line in lines[1:]]


def test_metrics_come_as_series(api, owner, finished_job):
    body = api(owner).get(f"/api/v1/jobs/{finished_job.pk}/metrics/").json()
    assert body["elapsed_seconds"][0]["step"] == 0


def test_stop_on_a_finished_job_is_a_409(api, owner, finished_job):
    response = api(owner).post(f"/api/v1/jobs/{finished_job.pk}/stop/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_running"


def test_stop_on_a_pending_job(api, project, owner):
    job = services.job_submit(project=project, kind="diagnostic.sleep", owner=owner)
    response = api(owner).post(f"/api/v1/jobs/{job.pk}/stop/")
    assert response.status_code == 200
    assert response.json()["status"] == "Stopped"


def test_a_viewer_cannot_stop_jobs(api, project, owner, viewer):
    job = services.job_submit(project=project, kind="diagnostic.sleep", owner=owner)
    assert api(viewer).get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert api(viewer).post(f"/api/v1/jobs/{job.pk}/stop/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == "Pending"


def test_a_stranger_gets_404_on_jobs_of_another_project(api, project, outsider, finished_job):
    client = api(outsider)
    for suffix in ("", "logs/", "metrics/"):
        assert client.get(f"/api/v1/jobs/{finished_job.pk}/{suffix}").status_code == 404
    assert client.post(f"/api/v1/jobs/{finished_job.pk}/stop/").status_code == 404
    assert client.post(f"/api/v1/jobs/{finished_job.pk}/retry/").status_code == 404
    assert client.get(f"/api/v1/jobs/?project={project.pk}").status_code == 404
    assert client.get("/api/v1/jobs/").json()["count"] == 0


def test_staff_see_every_job(api, staff, finished_job):
    assert api(staff).get(f"/api/v1/jobs/{finished_job.pk}/").status_code == 200
    assert api(staff).get("/api/v1/jobs/").json()["count"] == 1


def test_a_diagnostic_job_can_be_submitted_through_the_api(api, project, member, on_commit):
    with on_commit(execute=True):
        response = api(member).post(
            "/api/v1/jobs/",
            {"project": project.pk, "kind": "diagnostic.sleep", "parameters": {"seconds": 0.01}},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert Job.objects.get(pk=response.json()["id"]).status == "Completed"


def test_only_diagnostic_kinds_can_be_submitted_directly(api, project, member):
    response = api(member).post(
        "/api/v1/jobs/", {"project": project.pk, "kind": "dataset_ingest"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "kind"
    assert not Job.objects.exists()
