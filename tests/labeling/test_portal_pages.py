"""The worker portal's pages: the labeler's jobs and nobody else's, the task page and its
sanitised instructions, and labelers landing in the portal instead of the studio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import Client

from labeling import selectors, services
from labeling.models import LabelingJob, LabelingJobStatus
from studio import services as studio_services
from studio.choices import Role
from studio.models import Project
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def fresh_worker_cache() -> None:
    # The right to label a job is cached per process for a few seconds; tests start clean.
    selectors.forget_worker_cache()


def page(user: Any, path: str) -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(path)


def other_project_job(
    tmp_path: Path, outsider: Any, other_project: Project, on_commit: Any
) -> LabelingJob:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"text": ["a secret review", "another one"]}), path)
    dataset = studio_services.dataset_from_parquet(
        project=other_project, user=outsider, name="secrets", path=path
    )
    with on_commit(execute=True):
        job = services.labeling_job_create(
            project=other_project,
            user=outsider,
            name="their job",
            dataset=dataset,
            task_type="text_classification",
            labels=["a", "b"],
            data_column="text",
        )
    job.refresh_from_db()
    return job


def test_the_portal_lists_only_the_labelers_jobs(
    labeler, outsider, other_project, text_dataset, make_job, tmp_path, on_commit
):
    mine = make_job(text_dataset(5), name="sentiment", workers_per_item=1)
    theirs = other_project_job(tmp_path, outsider, other_project, on_commit)
    assert theirs.status == LabelingJobStatus.IN_PROGRESS
    response = page(labeler, "/portal/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "sentiment" in html
    assert f"/portal/jobs/{mine.pk}/" in html
    assert "Start labeling" in html
    assert "their job" not in html
    assert f"/portal/jobs/{theirs.pk}/" not in html
    [row] = response.context["jobs"]
    assert (row["job"].pk, row["remaining"], row["answers"]) == (mine.pk, 5, 0)


def test_the_portal_counts_the_labelers_own_answers(
    api, labeler, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(3), workers_per_item=1)
    client = api(labeler)
    task = client.post(f"/api/v1/labeling-jobs/{job.pk}/next-task/").json()
    with on_commit(execute=True):
        client.post(
            f"/api/v1/assignments/{task['assignment']}/submit/",
            {"label": "positive"},
            format="json",
        )
    [row] = page(labeler, "/portal/").context["jobs"]
    assert (row["remaining"], row["answers"]) == (2, 1)


def test_a_job_that_is_no_longer_active_is_not_listed(labeler, text_dataset, make_job):
    job = make_job(text_dataset(2))
    LabelingJob.objects.filter(pk=job.pk).update(status=LabelingJobStatus.COMPLETED)
    html = page(labeler, "/portal/").content.decode()
    assert "No labeling work for you right now" in html


def test_a_labeler_outside_the_jobs_team_sees_nothing(labeler, project, text_dataset, make_job):
    colleague = make_user("carla")
    studio_services.project_member_add(project=project, username="carla", role=Role.LABELER)
    services.labeling_team_create(project=project, name="linguists", members=["carla"])
    job = make_job(text_dataset(3), teams=["linguists"])

    response = page(labeler, "/portal/")
    assert response.context["jobs"] == []
    assert "No labeling work for you right now" in response.content.decode()
    assert page(labeler, f"/portal/jobs/{job.pk}/").status_code == 404
    assert page(colleague, f"/portal/jobs/{job.pk}/").status_code == 200


def test_an_outsider_gets_404_on_a_jobs_task_page(outsider, viewer, text_dataset, make_job):
    job = make_job(text_dataset(2))
    assert page(outsider, f"/portal/jobs/{job.pk}/").status_code == 404
    assert page(viewer, f"/portal/jobs/{job.pk}/").status_code == 404
    assert page(outsider, "/portal/jobs/999999/").status_code == 404


def test_the_portal_asks_strangers_to_sign_in(text_dataset, make_job):
    job = make_job(text_dataset(2))
    for path in ("/portal/", f"/portal/jobs/{job.pk}/"):
        response = page(None, path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_task_page_renders_the_instructions_sanitised(labeler, text_dataset, make_job):
    job = make_job(
        text_dataset(2),
        instructions="**Be careful** with sarcasm.\n\n<script>alert('owned')</script>\n\n"
        '<a href="javascript:alert(1)">click</a>',
    )
    response = page(labeler, f"/portal/jobs/{job.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>Be careful</strong> with sarcasm." in html
    assert "alert('owned')" not in html
    assert "javascript:" not in html


def test_the_task_page_carries_what_the_portal_script_needs(labeler, text_dataset, make_job):
    job = make_job(text_dataset(2), labels=["positive", "negative", "neutral"])
    response = page(labeler, f"/portal/jobs/{job.pk}/")
    html = response.content.decode()
    start = html.index('<script id="portal-config" type="application/json">')
    config = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert config["job"]["labels"] == ["positive", "negative", "neutral"]
    assert config["job"]["kind"] == "text_classification"
    assert config["urls"]["next"] == f"/api/v1/labeling-jobs/{job.pk}/next-task/"
    assert config["urls"]["submit"] == "/api/v1/assignments/{id}/submit/"
    assert config["urls"]["skip"] == "/api/v1/assignments/{id}/skip/"
    assert config["urls"]["me"] == f"/api/v1/labeling-jobs/{job.pk}/me/"
    # Nothing of the studio: no sidebar, no project switcher, but a way to sign out.
    assert 'class="sidebar"' not in html
    assert "Switch project" not in html
    assert 'action="/logout/"' in html


def test_a_labeler_is_sent_from_the_studio_home_to_the_portal(labeler, project):
    response = page(labeler, "/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/"


def test_a_scientist_stays_in_the_studio(member, project):
    assert page(member, "/").status_code == 200


def test_someone_who_labels_in_one_project_and_works_in_another_stays_in_the_studio(
    labeler, project, other_project
):
    studio_services.project_member_add(
        project=other_project, username=labeler.username, role=Role.SCIENTIST
    )
    assert page(labeler, "/").get("Location") != "/portal/"


def test_a_labelers_agreement_on_boxes_counts_matching_boxes(
    api, labeler, image_dataset, make_job, on_commit
):
    job = make_job(image_dataset(2), task_type="bounding_box", labels=["car"], workers_per_item=1)
    client = api(labeler)
    task = client.post(f"/api/v1/labeling-jobs/{job.pk}/next-task/").json()
    box = {"label": "car", "x": 4, "y": 5, "w": 20, "h": 10}
    with on_commit(execute=True):
        client.post(
            f"/api/v1/assignments/{task['assignment']}/submit/", {"label": [box]}, format="json"
        )
    stats = client.get(f"/api/v1/labeling-jobs/{job.pk}/me/").json()["stats"]
    assert stats["answers"] == 1
    assert stats["agreement"] == 1.0
