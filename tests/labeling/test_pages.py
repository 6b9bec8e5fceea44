"""The studio's labeling pages: the list, the new-job form, a job's dashboard with its Stop
and Send back for review buttons, the home page's card and the dataset page's Label action;
who may see and do what on them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from labeling.models import ItemState, LabelingItem, LabelingJob, LabelingJobStatus, LabelingTeam

pytestmark = pytest.mark.django_db


def page(client: Any, user: Any, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def answer_all(api: Any, workers: list[Any], job: LabelingJob, on_commit: Any, *, split: int = -1):
    """Every worker answers every item of ``job``: the truth, except that the first worker
    says the opposite on items whose row is divisible by ``split``."""
    for n, worker in enumerate(workers):
        client = api(worker)
        while True:
            response = client.post(f"/api/v1/labeling-jobs/{job.pk}/next-task/")
            if response.status_code == 204:
                break
            task = response.json()
            row = LabelingItem.objects.get(pk=task["item"]["id"]).row
            label = "positive" if row % 2 == 0 else "negative"
            if n == 0 and split > 0 and row % split == 0:
                label = "negative" if label == "positive" else "positive"
            with on_commit(execute=True):
                done = client.post(
                    f"/api/v1/assignments/{task['assignment']}/submit/",
                    {"label": label},
                    format="json",
                )
            assert done.status_code == 200, done.content


@pytest.fixture
def job(text_dataset: Any, make_job: Any) -> LabelingJob:
    job = make_job(
        text_dataset(6),
        name="review sentiment",
        workers_per_item=3,
        instructions="## Be **kind**\n<script>alert(1)</script>",
    )
    assert job.status == LabelingJobStatus.IN_PROGRESS
    return job


def test_the_list_shows_the_projects_jobs(client, member, job):
    html = page(client, member, reverse("labeling-job-list"))
    assert 'data-testid="labeling-jobs"' in html
    assert f'href="{reverse("labeling-job-detail", args=[job.pk])}"' in html
    assert f'href="{reverse("dataset-detail", args=[job.dataset_id])}"' in html
    assert "Text classification" in html
    assert 'data-labeling-status="InProgress"' in html and "In progress" in html
    assert 'role="progressbar"' in html and "0 of 6" in html
    assert f'href="{reverse("labeling-job-new")}"' in html
    assert 'href="/labeling/"' in html  # the sidebar's entry is live


def test_the_list_sorts_filters_and_says_what_to_do_when_empty(
    client, member, text_dataset, make_job
):
    dataset = text_dataset(2)
    make_job(dataset, name="alpha")
    make_job(dataset, name="beta")
    html = page(client, member, reverse("labeling-job-list") + "?sort=name")
    assert html.index(">alpha<") < html.index(">beta<")
    html = page(client, member, reverse("labeling-job-list") + "?sort=-name")
    assert html.index(">beta<") < html.index(">alpha<")
    html = page(client, member, reverse("labeling-job-list") + "?q=alp")
    assert ">alpha<" in html and ">beta<" not in html
    LabelingJob.objects.all().delete()
    html = page(client, member, reverse("labeling-job-list"))
    assert "No labeling jobs yet" in html and "New labeling job" in html


def test_the_new_form_renders_with_the_ready_datasets(client, member, text_dataset):
    dataset = text_dataset(3)
    html = page(client, member, reverse("labeling-job-new") + f"?dataset={dataset.pk}")
    assert 'id="labeling-config"' in html and "data-labeling-form" in html
    assert f'"selected": {dataset.pk}' in html
    assert f'"id": {dataset.pk}' in html and '"name": "text"' in html
    assert '"api": "/api/v1/labeling-jobs/"' in html
    assert "text_classification" in html and "bounding_box" in html
    assert 'data-error-for="labels"' in html and 'data-error-for="gold_items"' in html
    assert "data-show-request" in html


def test_the_new_form_previews_instructions_as_labelers_see_them(client, member, project):
    client.force_login(member)
    response = client.post(
        reverse("labeling-job-new"),
        {"instructions": "**bold** <script>x()</script>"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "<strong>bold</strong>" in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_the_dashboard_renders_with_stats(client, member, api, labelers, job, on_commit):
    answer_all(api, labelers(3), job, on_commit, split=2)
    html = page(client, member, reverse("labeling-job-detail", args=[job.pk]))
    assert 'id="labeling-stats"' in html
    assert 'data-testid="progress"' in html
    assert 'data-kpi="done">6<' in html and 'data-kpi="done_pct">100%<' in html
    assert 'data-testid="leaderboard"' in html and "labeler00" in html
    assert 'data-testid="disputed"' in html and "Send back for review" in html
    assert reverse("api-labeling-job-stats", args=[job.pk]) in html
    assert reverse("api-labeling-job-export", args=[job.pk]) + "?format=csv" in html
    assert "?format=coco" not in html  # COCO is for boxes and masks
    assert reverse("portal-task", args=[job.pk]) in html
    assert "<h2>Be <strong>kind</strong></h2>" in html  # the Settings tab
    assert "<script>alert(1)</script>" not in html


def test_the_stats_api_feeds_the_dashboard_live(api, member, labelers, job, on_commit):
    answer_all(api, labelers(3), job, on_commit, split=2)
    stats = api(member).get(f"/api/v1/labeling-jobs/{job.pk}/stats/").json()
    assert stats["progress"]["human"] == 6
    assert [w["worker"] for w in stats["leaderboard"]][:1] == ["labeler00"]
    # The worker who disagreed on every other item agrees less than the others.
    agreement = {w["worker"]: w["agreement"] for w in stats["leaderboard"]}
    assert agreement["labeler00"] < agreement["labeler01"] == 1.0
    disputed = stats["most_disputed"][0]
    assert disputed["text"].startswith("review ") and len(disputed["answers"]) == 3


def test_stop_works_for_a_scientist(client, member, job):
    client.force_login(member)
    response = client.post(reverse("labeling-job-stop", args=[job.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("labeling-job-detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status in (LabelingJobStatus.STOPPING, LabelingJobStatus.STOPPED)


def test_stop_is_403_for_a_viewer(client, viewer, job):
    html = page(client, viewer, reverse("labeling-job-detail", args=[job.pk]))
    assert 'data-testid="stop"' not in html and "Send back for review" not in html
    response = client.post(reverse("labeling-job-stop", args=[job.pk]))
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.IN_PROGRESS


def test_stop_is_post_only(client, member, job):
    client.force_login(member)
    assert client.get(reverse("labeling-job-stop", args=[job.pk])).status_code == 405


def test_a_labeler_gets_403_on_the_studio_pages(client, labeler, job):
    client.force_login(labeler)
    assert client.get(reverse("labeling-job-list")).status_code == 403
    assert client.get(reverse("labeling-job-new")).status_code == 403
    # A job's dashboard is not theirs either: they label in the portal.
    assert client.get(reverse("labeling-job-detail", args=[job.pk])).status_code == 404


def test_an_outsider_gets_404_on_the_job_page(client, outsider, other_project, job):
    client.force_login(outsider)
    assert client.get(reverse("labeling-job-detail", args=[job.pk])).status_code == 404
    assert client.post(reverse("labeling-job-stop", args=[job.pk])).status_code == 404


def test_send_back_for_review_reopens_the_item(client, member, api, labelers, job, on_commit):
    answer_all(api, labelers(3), job, on_commit, split=2)
    item = LabelingItem.objects.filter(job=job).order_by("confidence").first()
    assert item.state == ItemState.DONE
    client.force_login(member)
    response = client.post(reverse("labeling-item-review", args=[job.pk, item.pk]))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.state == ItemState.OPEN and item.needed == item.submitted + 1
    html = client.get(response["Location"]).content.decode()
    assert f"Item {item.row} is back in the queue" in html


def test_sending_back_an_open_item_says_why_not(client, member, job):
    item = LabelingItem.objects.filter(job=job).first()
    client.force_login(member)
    response = client.post(reverse("labeling-item-review", args=[job.pk, item.pk]), follow=True)
    assert "Only a completed item can be sent back for review." in response.content.decode()


def test_the_home_panel_shows_a_job_in_progress(client, member, job):
    html = page(client, member, reverse("home"))
    assert 'data-testid="home-labeling"' in html
    assert f'href="{reverse("labeling-job-detail", args=[job.pk])}"' in html
    assert "0 / 6" in html


def test_the_home_panel_is_left_out_without_a_job_in_progress(client, member, project):
    html = page(client, member, reverse("home"))
    assert 'data-testid="home-labeling"' not in html


def test_the_dataset_page_links_its_label_action_to_the_new_form(client, member, text_dataset):
    dataset = text_dataset(3)
    html = page(client, member, reverse("dataset-detail", args=[dataset.pk]))
    assert f'href="{reverse("labeling-job-new")}?dataset={dataset.pk}"' in html


def test_a_scientist_makes_a_team_changes_it_and_removes_it(client, member, labeler, project):
    client.force_login(member)
    page = client.get("/labeling/teams/")
    assert page.status_code == 200 and b"No teams yet" in page.content
    made = client.post(
        "/labeling/teams/", {"action": "create", "name": "linguists", "members": [labeler.username]}
    )
    assert made.status_code == 302
    team = LabelingTeam.objects.get(project=project, name="linguists")
    assert [u.username for u in team.members.all()] == [labeler.username]
    page = client.get("/labeling/teams/")
    assert b'data-team="linguists"' in page.content
    client.post(
        "/labeling/teams/", {"action": "update", "team": team.pk, "members": [member.username]}
    )
    assert [u.username for u in team.members.all()] == [member.username]
    again = client.post("/labeling/teams/", {"action": "create", "name": "linguists"})
    assert again.status_code == 400 and b"exists already" in again.content
    client.post("/labeling/teams/", {"action": "delete", "team": team.pk})
    assert not LabelingTeam.objects.filter(pk=team.pk).exists()


def test_a_viewer_sees_teams_but_may_not_change_them_and_a_labeler_gets_403(
    client, viewer, labeler, project
):
    client.force_login(viewer)
    assert client.get("/labeling/teams/").status_code == 200
    assert client.post("/labeling/teams/", {"action": "create", "name": "x"}).status_code == 403
    assert not LabelingTeam.objects.exists()
    client.force_login(labeler)
    assert client.get("/labeling/teams/").status_code == 403
