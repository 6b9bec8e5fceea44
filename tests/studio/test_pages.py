"""The HTML pages: who may open them, what they show, and that their forms and buttons work."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studio import services
from studio.choices import DatasetStatus, JobStatus
from studio.models import Dataset, Job, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(owner: Any, project: Project, upload: Any, csv_bytes: bytes) -> Dataset:
    response = upload(owner, project, "churn.csv", csv_bytes)
    assert response.status_code == 201, response.content
    return Dataset.objects.get(pk=response.json()["id"])


@pytest.fixture
def pending_job(owner: Any, project: Project) -> Job:
    # Not captured: the dispatch on commit never runs, so the job stays Pending.
    return services.job_submit(project=project, kind="diagnostic.noop", owner=owner)


def logged_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def page_urls(dataset: Dataset, job: Job) -> list[str]:
    return [
        reverse("home"),
        reverse("project-list"),
        reverse("project-create"),
        reverse("project-detail", args=[dataset.project_id]),
        reverse("dataset-list"),
        reverse("dataset-upload"),
        reverse("dataset-detail", args=[dataset.pk]),
        reverse("job-list"),
        reverse("job-detail", args=[job.pk]),
    ]


def test_every_page_renders_for_the_owner(client: Client, owner: Any, dataset: Dataset) -> None:
    logged_in(client, owner)
    job = dataset.ingest_job
    assert job is not None
    for url in page_urls(dataset, job):
        response = client.get(url)
        assert response.status_code == 200, url


def test_the_dataset_page_shows_preview_types_and_column_profiles(
    client: Client, owner: Any, dataset: Dataset
) -> None:
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY and dataset.profile is not None
    html = (
        logged_in(client, owner).get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    )
    assert "First 100 rows" in html
    assert 'class="col-type">int64<' in html or 'class="col-type">int' in html
    assert "Paris" in html
    # numeric columns get a plotly histogram, categorical ones top-value bars
    assert 'data-histogram="' in html and 'id="profile-data"' in html
    assert 'class="topvals"' in html
    assert "/static/vendor/plotly.min.js" in html
    assert reverse("api-dataset-download", args=[dataset.pk]) in html
    assert "% missing" in html


def test_the_job_page_renders_its_logs_and_links_its_inputs(
    client: Client, owner: Any, dataset: Dataset
) -> None:
    job = dataset.ingest_job
    assert job is not None
    html = logged_in(client, owner).get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "Ready: 200 rows" in html  # a log line, rendered server-side
    assert f'href="{reverse("dataset-detail", args=[dataset.pk])}"' in html
    assert f'data-job="{job.pk}"' in html and "studio/job.js" in html


def test_a_pending_job_says_why_it_waits(client: Client, owner: Any, project: Project) -> None:
    job = services.job_submit(project=project, kind="diagnostic.noop", owner=owner)
    Job.objects.filter(pk=job.pk).update(pending_reason="Waiting for a GPU worker: none is online.")
    html = logged_in(client, owner).get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "Waiting for a GPU worker: none is online." in html
    assert 'data-when="active"' in html  # the Stop button


def test_pages_require_login(client: Client, dataset: Dataset) -> None:
    job = dataset.ingest_job
    assert job is not None
    for url in [*page_urls(dataset, job), reverse("ops")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_stranger_gets_404_on_another_projects_pages(
    client: Client, outsider: Any, other_project: Project, dataset: Dataset
) -> None:
    logged_in(client, outsider)
    job = dataset.ingest_job
    assert job is not None
    assert client.get(reverse("dataset-detail", args=[dataset.pk])).status_code == 404
    assert client.get(reverse("job-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("project-detail", args=[dataset.project_id])).status_code == 404
    assert client.post(reverse("job-stop", args=[job.pk])).status_code == 404
    assert client.post(reverse("dataset-profile", args=[dataset.pk])).status_code == 404
    # and their own project's lists do not show it
    assert dataset.name not in client.get(reverse("dataset-list")).content.decode()


def test_a_labeler_gets_403_on_studio_pages(client: Client, labeler: Any, dataset: Dataset) -> None:
    logged_in(client, labeler)
    job = dataset.ingest_job
    assert job is not None
    # (home sends them to the labeling portal: tests/labeling/test_portal_pages.py)
    for url in [
        reverse("dataset-list"),
        reverse("dataset-upload"),
        reverse("dataset-detail", args=[dataset.pk]),
        reverse("job-list"),
        reverse("job-detail", args=[job.pk]),
        reverse("project-detail", args=[dataset.project_id]),
    ]:
        assert client.get(url).status_code == 403, url


def test_a_viewer_reads_but_cannot_upload_or_profile(
    client: Client, viewer: Any, dataset: Dataset
) -> None:
    logged_in(client, viewer)
    html = client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    assert reverse("dataset-profile", args=[dataset.pk]) not in html
    assert client.get(reverse("dataset-upload")).status_code == 403
    assert client.post(reverse("dataset-profile", args=[dataset.pk])).status_code == 403


def test_the_ops_console_is_for_staff_only(
    client: Client, owner: Any, staff: Any, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert logged_in(client, owner).get(reverse("ops")).status_code == 403
    monkeypatch.setattr("studio.ops.celery_active_queues", lambda timeout=1.0: None)
    html = logged_in(client, staff).get(reverse("ops")).content.decode()
    assert "Workers" in html and "no reply" in html
    assert "Storage used" in html


def test_the_ops_console_survives_a_celery_that_does_not_answer(
    client: Client, staff: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("broker is down")

    monkeypatch.setattr("studio.ops.celery_app.control.inspect", boom)
    monkeypatch.setattr("studio.ops.celery_app.connection_for_read", boom)
    response = logged_in(client, staff).get(reverse("ops"))
    assert response.status_code == 200
    assert "n/a" in response.content.decode()


def test_ops_sends_a_test_job(client: Client, staff: Any, project: Project) -> None:
    response = logged_in(client, staff).post(reverse("ops"), {"kind": "diagnostic.noop"})
    job = Job.objects.get(kind="diagnostic.noop")
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[job.pk])


def test_the_upload_form_shows_a_bad_file_error_in_place(
    client: Client, owner: Any, project: Project
) -> None:
    logged_in(client, owner)
    bad = io.BytesIO(b"MZ\x90\x00binary")
    bad.name = "x.exe"
    response = client.post(reverse("dataset-upload"), {"file": bad})
    assert response.status_code == 200
    html = response.content.decode()
    field = re.search(
        r'<div class="field has-error">\s*<label for="id_file">'
        r'.*?<ul class="errorlist"[^>]*>(.*?)</ul>',
        html,
        re.S,
    )
    assert field is not None and "not supported" in field.group(1)
    assert Dataset.objects.count() == 0


def test_the_upload_form_creates_a_dataset_and_opens_it(
    client: Client, owner: Any, project: Project, csv_bytes: bytes, on_commit: Any
) -> None:
    logged_in(client, owner)
    f = io.BytesIO(csv_bytes)
    f.name = "customers.csv"
    with on_commit(execute=True):
        response = client.post(reverse("dataset-upload"), {"file": f, "name": "customers"})
    dataset = Dataset.objects.get(name="customers")
    assert response.status_code == 302
    assert response["Location"] == reverse("dataset-detail", args=[dataset.pk])
    assert dataset.status == DatasetStatus.READY


def test_the_upload_page_shows_the_curl_equivalent(
    client: Client, owner: Any, project: Project
) -> None:
    html = logged_in(client, owner).get(reverse("dataset-upload")).content.decode()
    assert f"-F project={project.pk}" in html and "/api/v1/datasets/" in html


def test_stop_and_retry_buttons_work_by_post(client: Client, owner: Any, pending_job: Job) -> None:
    logged_in(client, owner)
    stop, retry = (
        reverse("job-stop", args=[pending_job.pk]),
        reverse("job-retry", args=[pending_job.pk]),
    )
    assert client.get(stop).status_code == 405

    response = client.post(stop)
    assert response.status_code == 302 and response["Location"] == reverse(
        "job-detail", args=[pending_job.pk]
    )
    pending_job.refresh_from_db()
    assert pending_job.status == JobStatus.STOPPED

    client.post(retry)
    pending_job.refresh_from_db()
    assert pending_job.status == JobStatus.PENDING

    # retrying a job that is not finished is refused, and the reason is shown on the page
    response = client.post(retry, follow=True)
    assert "Only Failed or Stopped jobs can be retried" in response.content.decode()


def test_a_viewer_cannot_stop_a_job(client: Client, viewer: Any, pending_job: Job) -> None:
    assert (
        logged_in(client, viewer).post(reverse("job-stop", args=[pending_job.pk])).status_code
        == 403
    )
    pending_job.refresh_from_db()
    assert pending_job.status == JobStatus.PENDING


def test_the_sidebar_shows_coming_sections_as_non_links(
    client: Client, owner: Any, project: Project
) -> None:
    html = logged_in(client, owner).get(reverse("home")).content.decode()
    coming = re.findall(r'<span class="nav-item is-coming"[^>]*>(.*?)</span>\s*</span>', html, re.S)
    labels = [re.sub(r"<[^>]+>", " ", item).split()[0] for item in coming]
    assert "Edge" in labels and "Tuning" in labels and "Datasets" not in labels
    link_texts = [re.sub(r"<[^>]+>", "", a) for a in re.findall(r"<a\b[^>]*>(.*?)</a>", html, re.S)]
    assert not any("Edge" in text or "Tuning" in text for text in link_texts)
    assert re.search(r'<a class="nav-item is-current" href="/"', html)


def test_plotly_htmx_and_our_assets_are_served_locally(
    client: Client, owner: Any, project: Project
) -> None:
    html = logged_in(client, owner).get(reverse("home")).content.decode()
    htmx = re.search(r'<script src="(/static/django_htmx/[^"]+)"', html)
    assert htmx is not None
    assert "//cdn" not in html and "https://" not in html
    for url in [
        htmx.group(1),
        "/static/vendor/plotly.min.js",
        "/static/studio/studio.css",
        "/static/studio/studio.js",
        "/static/studio/icons.svg",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url


def test_the_project_switch_sets_the_current_project(
    client: Client, owner: Any, project: Project
) -> None:
    second = services.project_create(user=owner, name="Another one")
    logged_in(client, owner)
    response = client.post(
        reverse("project-switch", args=[second.pk]), {"next": reverse("dataset-list")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("dataset-list")
    assert client.session["sextant_project"] == second.pk
    assert "Another one" in client.get(reverse("home")).content.decode()
    # a detail page of the old project is no place to land after a switch
    response = client.post(
        reverse("project-switch", args=[project.pk]), {"next": reverse("job-detail", args=[1])}
    )
    assert response["Location"] == reverse("job-list")


def test_a_page_of_another_projects_object_makes_that_project_current(
    client: Client, owner: Any, project: Project, dataset: Dataset
) -> None:
    second = services.project_create(user=owner, name="Another one")
    logged_in(client, owner)
    client.post(reverse("project-switch", args=[second.pk]))
    job = dataset.ingest_job
    assert job is not None
    for url in (reverse("job-detail", args=[job.pk]), reverse("dataset-detail", args=[dataset.pk])):
        client.post(reverse("project-switch", args=[second.pk]))
        html = client.get(url).content.decode()
        current = re.search(r'<span class="name">([^<]*)</span>', html)
        assert current is not None and current.group(1) == project.name, url
        assert client.session["sextant_project"] == project.pk


def test_staff_see_another_projects_job_without_a_switch(
    client: Client, owner: Any, other_project: Project, admin_user: Any, project: Project
) -> None:
    job = services.job_submit(project=other_project, kind="diagnostic.noop", owner=None)
    services.project_member_add(project=project, username=admin_user.username, role="viewer")
    logged_in(client, admin_user)
    assert client.get(reverse("job-detail", args=[job.pk])).status_code == 200
    assert client.session.get("sextant_project") in (None, project.pk)


def test_someone_elses_project_cannot_be_switched_to(
    client: Client, owner: Any, other_project: Project
) -> None:
    response = logged_in(client, owner).post(reverse("project-switch", args=[other_project.pk]))
    assert response.status_code == 404


def test_creating_a_project_makes_it_current(client: Client, outsider: Any) -> None:
    logged_in(client, outsider)
    assert "Create a project" in client.get(reverse("home")).content.decode()
    response = client.post(reverse("project-create"), {"name": "Fresh"})
    assert response.status_code == 302
    project = Project.objects.get(name="Fresh")
    assert client.session["sextant_project"] == project.pk
    assert client.post(reverse("project-create"), {"name": ""}).status_code == 200


def test_owners_add_members_and_errors_show_in_place(
    client: Client, owner: Any, member: Any, outsider: Any, project: Project
) -> None:
    logged_in(client, owner)
    url = reverse("project-detail", args=[project.pk])
    response = client.post(url, {"username": "nobody-here", "role": "viewer"})
    assert response.status_code == 200
    assert "There is no user named" in response.content.decode()

    response = client.post(url, {"username": outsider.username, "role": "viewer"})
    assert response.status_code == 302
    assert project.memberships.filter(user=outsider, role="viewer").exists()

    # a scientist sees the members but may not add any
    client.force_login(member)
    assert "Add a member" not in client.get(url).content.decode()
    assert client.post(url, {"username": outsider.username, "role": "owner"}).status_code == 403


def test_the_dataset_list_filters_sorts_and_answers_htmx_with_a_partial(
    client: Client, owner: Any, project: Project, upload: Any, csv_bytes: bytes
) -> None:
    upload(owner, project, "alpha.csv", csv_bytes)
    upload(owner, project, "beta.csv", csv_bytes)
    upload(owner, project, "beta.csv", csv_bytes)  # a second version of beta
    logged_in(client, owner)
    html = client.get(reverse("dataset-list")).content.decode()
    assert "alpha" in html and "v2" in html and "v1</td>" in html
    html = client.get(reverse("dataset-list"), {"q": "alp"}).content.decode()
    assert "alpha" in html and ">beta<" not in html
    html = client.get(reverse("dataset-list"), {"sort": "name"}).content.decode()
    assert html.index(">alpha<") < html.index(">beta<")
    html = client.get(reverse("dataset-list"), {"sort": "-name"}).content.decode()
    assert html.index(">beta<") < html.index(">alpha<")
    partial = client.get(reverse("dataset-list"), {"q": "beta"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b'id="dataset-results"' in partial.content


def test_the_empty_dataset_list_says_what_to_do(
    client: Client, owner: Any, project: Project
) -> None:
    html = logged_in(client, owner).get(reverse("dataset-list")).content.decode()
    assert "Upload a CSV, TSV, Parquet, JSON Lines file or a ZIP of images" in html
    assert reverse("dataset-upload") in html


def test_the_job_list_filters_by_allow_listed_status(
    client: Client, owner: Any, dataset: Dataset, pending_job: Job
) -> None:
    logged_in(client, owner)
    html = client.get(reverse("job-list"), {"status": "Pending"}).content.decode()
    assert f"#{pending_job.pk} · diagnostic.noop" in html
    assert "dataset_ingest" not in html.split("<tbody>", 1)[1]
    # an unknown status is ignored rather than trusted
    html = client.get(reverse("job-list"), {"status": "'; drop table"}).content.decode()
    assert "dataset_ingest" in html


def test_a_pending_dataset_polls_and_reloads_when_ready(
    client: Client, owner: Any, dataset: Dataset
) -> None:
    logged_in(client, owner)
    url = reverse("dataset-detail", args=[dataset.pk])
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.PENDING)
    html = client.get(url).content.decode()
    assert "?part=ingest" in html and 'hx-trigger="every 2s"' in html
    assert client.get(url, {"part": "ingest"}, HTTP_HX_REQUEST="true").status_code == 200
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.READY)
    response = client.get(url, {"part": "ingest"}, HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"


def test_login_and_logout(client: Client, owner: Any) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200 and b"Sign in" in response.content
    response = client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
    assert response.status_code == 200 and b"alert-error" in response.content
    response = client.post(
        reverse("login"), {"username": owner.username, "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get(reverse("logout")).status_code == 405  # never by a link
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302
