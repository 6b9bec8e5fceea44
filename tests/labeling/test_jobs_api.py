"""Labeling jobs through the API: creation and its checks, who sees what, teams, stats."""

from __future__ import annotations

from typing import Any

import pytest

from labeling.models import ItemState, LabelingItem, LabelingJobStatus

URL = "/api/v1/labeling-jobs/"


def body(project: Any, dataset: Any, **extra: Any) -> dict[str, Any]:
    return {
        "project": project.pk,
        "name": "sentiment",
        "dataset": dataset.pk,
        "task_type": "text_classification",
        "data_column": "text",
        "labels": ["positive", "negative"],
        **extra,
    }


def test_a_job_turns_every_row_into_an_item_and_goes_in_progress(
    api, owner, project, text_dataset, make_job
):
    dataset = text_dataset(7)
    job = make_job(dataset, instructions="Be **kind**.")
    assert job.status == LabelingJobStatus.IN_PROGRESS
    assert job.items_total == 7
    assert job.workers_per_item == 3
    rows = list(LabelingItem.objects.filter(job=job).values_list("row", "state", "needed"))
    assert rows == [(i, ItemState.OPEN, 3) for i in range(7)]
    out = api(owner).get(f"{URL}{job.pk}/").json()
    assert out["progress"] == {"total": 7, "done": 0, "human": 0, "auto": 0, "open": 7, "held": 0}
    assert out["auto_labeling"] == {"enabled": False, "target_accuracy": 0.95, "rounds": []}


def test_boxes_default_to_five_workers_per_item(image_dataset, make_job):
    job = make_job(image_dataset(2), task_type="bounding_box", labels=["car"])
    assert job.workers_per_item == 5
    item = LabelingItem.objects.filter(job=job).first()
    assert item.data["width"] == 64 and item.data["height"] == 48
    assert item.data["image"].endswith(".png")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"task_type": "poem"}, "task_type"),
        ({"data_column": "nope"}, "data_column"),
        ({"labels": []}, "labels"),
        ({"labels": ["a", "a"]}, "labels"),
        ({"workers_per_item": 6}, "workers_per_item"),
        ({"time_limit_seconds": 5}, "time_limit_seconds"),
        ({"task_type": "ner", "auto_labeling": {"enabled": True}}, "auto_labeling"),
        ({"task_type": "bounding_box"}, "dataset"),
        ({"gold_items": [{"row": 0, "label": "meh"}]}, "gold_items"),
        ({"task_type": "verification"}, "verifies"),
        ({"label_attribute": "text"}, "label_attribute"),
    ],
)
def test_a_bad_spec_gets_a_clear_error_and_creates_nothing(
    api, owner, project, text_dataset, extra, field
):
    dataset = text_dataset(3)
    response = api(owner).post(URL, body(project, dataset, **extra), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not LabelingItem.objects.exists()
    assert api(owner).get(URL).json()["count"] == 0


def test_a_duplicate_name_is_a_conflict(api, owner, project, text_dataset, make_job):
    dataset = text_dataset(3)
    make_job(dataset)
    response = api(owner).post(URL, body(project, dataset), format="json")
    assert response.status_code == 409 and response.json()["error"]["field"] == "name"


def test_a_stranger_gets_404_everywhere(api, outsider, text_dataset, make_job):
    job = make_job(text_dataset(2))
    item = LabelingItem.objects.filter(job=job).first()
    client = api(outsider)
    for path in ("", "labels/", "stats/", "items/", "export/?format=csv", "me/"):
        assert client.get(f"{URL}{job.pk}/{path}").status_code == 404, path
    assert client.post(f"{URL}{job.pk}/next-task/").status_code == 404
    assert client.post(f"{URL}{job.pk}/stop/").status_code == 404
    assert client.get(f"{URL}{job.pk}/items/{item.pk}/image/").status_code == 404
    assert client.get(URL).json()["count"] == 0


def test_a_stranger_cannot_use_another_projects_dataset(api, outsider, other_project, text_dataset):
    dataset = text_dataset(2)
    response = api(outsider).post(URL, body(other_project, dataset), format="json")
    assert response.status_code == 404


def test_a_labeler_sees_only_their_jobs_and_nothing_of_the_data(
    api, labeler, text_dataset, make_job
):
    job = make_job(text_dataset(2), instructions="Read carefully.")
    client = api(labeler)
    listed = client.get(URL).json()["results"]
    assert [j["id"] for j in listed] == [job.pk]
    assert set(listed[0]) == {
        "id",
        "name",
        "task_type",
        "verifies",
        "labels",
        "instructions",
        "time_limit_seconds",
        "status",
    }
    # The job's full view, its labels, stats and exports are the scientists'.
    for path in ("", "labels/", "stats/", "items/", "export/?format=csv"):
        assert client.get(f"{URL}{job.pk}/{path}").status_code == 404, path
    assert client.get("/api/v1/datasets/").status_code in (403, 200)
    if client.get("/api/v1/datasets/").status_code == 200:
        assert client.get("/api/v1/datasets/").json()["count"] == 0
    assert client.get(f"/api/v1/datasets/{job.dataset_id}/").status_code in (403, 404)


def test_a_labeler_sees_an_image_only_through_their_own_task(
    api, labeler, member, image_dataset, make_job
):
    job = make_job(image_dataset(2), task_type="image_classification", labels=["red", "blue"])
    first, second = LabelingItem.objects.filter(job=job).order_by("row")
    client = api(labeler)
    assert client.get(f"{URL}{job.pk}/items/{first.pk}/image/").status_code == 404
    task = client.post(f"{URL}{job.pk}/next-task/").json()
    assert task["item"]["id"] == first.pk
    image = client.get(task["item"]["data"]["image_url"])
    assert image.status_code == 200 and b"".join(image.streaming_content)[:4] == b"\x89PNG"
    assert client.get(f"{URL}{job.pk}/items/{second.pk}/image/").status_code == 404
    assert api(member).get(f"{URL}{job.pk}/items/{second.pk}/image/").status_code == 200


def test_a_viewer_reads_jobs_but_may_not_create_stop_or_label(
    api, viewer, project, text_dataset, make_job
):
    dataset = text_dataset(2)
    job = make_job(dataset)
    client = api(viewer)
    assert client.get(f"{URL}{job.pk}/").status_code == 200
    assert client.post(URL, body(project, dataset, name="x"), format="json").status_code == 403
    assert client.post(f"{URL}{job.pk}/stop/").status_code == 403
    assert client.post(f"{URL}{job.pk}/next-task/").status_code == 404


def test_a_job_given_to_a_team_is_only_for_its_members(
    api, owner, project, labelers, text_dataset, make_job
):
    inside, outside = labelers(2)
    response = api(owner).post(
        "/api/v1/labeling-teams/",
        {"project": project.pk, "name": "linguists", "members": [inside.username]},
        format="json",
    )
    assert response.status_code == 201 and response.json()["members"] == [inside.username]
    job = make_job(text_dataset(2), teams=["linguists"])
    assert api(inside).post(f"{URL}{job.pk}/next-task/").status_code == 200
    assert api(outside).post(f"{URL}{job.pk}/next-task/").status_code == 404
    assert api(outside).get(URL).json()["count"] == 0


def test_a_team_takes_only_project_members(api, owner, project, outsider):
    response = api(owner).post(
        "/api/v1/labeling-teams/",
        {"project": project.pk, "name": "x", "members": [outsider.username]},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "members"


def test_stats_show_progress_agreement_distribution_and_leaders(
    api, owner, labelers, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(2), workers_per_item=2)
    for worker in labelers(2):
        for _ in range(2):
            task = api(worker).post(f"{URL}{job.pk}/next-task/").json()
            label = (
                "positive"
                if worker.username == "labeler00" or task["item"]["id"] % 2
                else "negative"
            )
            with on_commit(execute=True):
                api(worker).post(
                    f"/api/v1/assignments/{task['assignment']}/submit/",
                    {"label": label},
                    format="json",
                )
    stats = api(owner).get(f"{URL}{job.pk}/stats/").json()
    assert stats["progress"]["done"] == 2 and stats["progress"]["human"] == 2
    assert stats["labels_per_hour"] == 4
    assert sum(c["count"] for c in stats["class_distribution"]) == 2
    assert [w["answers"] for w in stats["leaderboard"]] == [2, 2]
    assert len(stats["most_disputed"]) == 2
    assert 0.5 <= stats["agreement"] <= 1


def test_a_finished_job_scores_each_labeler_on_gold_items_and_agreement(
    api, owner, labelers, text_dataset, make_job, on_commit
):
    job = make_job(
        text_dataset(6),
        workers_per_item=3,
        gold_items=[{"row": 0, "label": "positive"}, {"row": 1, "label": "negative"}],
    )
    good_a, good_b, contrarian = labelers(3)
    truth = {i: "positive" if i % 2 == 0 else "negative" for i in range(6)}
    for worker in (good_a, good_b, contrarian):
        while True:
            response = api(worker).post(f"{URL}{job.pk}/next-task/")
            if response.status_code == 204:
                break
            task = response.json()
            row = LabelingItem.objects.get(pk=task["item"]["id"]).row
            label = truth[row]
            if worker is contrarian:
                label = "negative" if label == "positive" else "positive"
            with on_commit(execute=True):
                api(worker).post(
                    f"/api/v1/assignments/{task['assignment']}/submit/",
                    {"label": label},
                    format="json",
                )
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.COMPLETED
    stats = job.worker_stats
    assert stats[good_a.username]["gold_accuracy"] == 1.0
    assert stats[contrarian.username]["gold_accuracy"] == 0.0
    assert stats[contrarian.username]["agreement"] == 0.0
    assert stats[good_b.username]["agreement"] == 1.0
    labels = dict(LabelingItem.objects.filter(job=job).values_list("row", "label"))
    assert labels == truth
    leaders = {
        w["worker"]: w for w in api(owner).get(f"{URL}{job.pk}/stats/").json()["leaderboard"]
    }
    assert leaders[contrarian.username]["gold_accuracy"] == 0.0
