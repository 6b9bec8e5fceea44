"""The task queue through the API: next task, submit, skip, expiry and review, with the
invariants of an item going to distinct workers and an answer being stored once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from labeling.models import (
    Assignment,
    AssignmentStatus,
    ItemState,
    LabelingItem,
    LabelingJobStatus,
)


def take(client: Any, job: Any) -> Any:
    return client.post(f"/api/v1/labeling-jobs/{job.pk}/next-task/")


def submit(client: Any, assignment: int, label: Any, on_commit: Any = None) -> Any:
    if on_commit is None:
        return client.post(
            f"/api/v1/assignments/{assignment}/submit/", {"label": label}, format="json"
        )
    with on_commit(execute=True):
        return client.post(
            f"/api/v1/assignments/{assignment}/submit/", {"label": label}, format="json"
        )


def test_a_labeler_takes_a_task_with_its_text_and_time_limit(api, labeler, text_dataset, make_job):
    job = make_job(text_dataset(3), workers_per_item=1)
    response = take(api(labeler), job)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"assignment", "item", "expires_at"}
    assert body["item"]["data"]["text"].startswith("review 0:")
    assert body["task_type"] == "text_classification"
    assert body["labels"] == ["positive", "negative"]


def test_asking_again_gives_the_same_open_task(api, labeler, text_dataset, make_job):
    job = make_job(text_dataset(3))
    first = take(api(labeler), job).json()
    again = take(api(labeler), job).json()
    assert again["assignment"] == first["assignment"]
    assert Assignment.objects.filter(worker=labeler).count() == 1


def test_an_item_goes_to_distinct_workers_and_then_no_more(
    api, labelers, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(1), workers_per_item=2)
    a, b, c = labelers(3)
    task_a = take(api(a), job).json()
    assert submit(api(a), task_a["assignment"], "positive", on_commit).status_code == 200
    # The same worker never gets the item again.
    assert take(api(a), job).status_code == 204
    task_b = take(api(b), job).json()
    assert task_b["item"]["id"] == task_a["item"]["id"]
    assert submit(api(b), task_b["assignment"], "positive", on_commit).status_code == 200
    assert take(api(c), job).status_code == 204
    item = LabelingItem.objects.get(job=job)
    assert (item.state, item.submitted, item.label) == (ItemState.DONE, 2, "positive")
    assert item.confidence > 0.99  # the job-wide Dawid–Skene pass, once all are in


def test_submitting_twice_stores_the_answer_once(api, labeler, text_dataset, make_job, on_commit):
    job = make_job(text_dataset(2), workers_per_item=1)
    task = take(api(labeler), job).json()
    first = submit(api(labeler), task["assignment"], "negative", on_commit)
    again = submit(api(labeler), task["assignment"], "negative", on_commit)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    item = LabelingItem.objects.get(pk=task["item"]["id"])
    assert item.submitted == 1
    other = submit(api(labeler), task["assignment"], "positive", on_commit)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "already_submitted"
    assert Assignment.objects.get(pk=task["assignment"]).label == "negative"


def test_a_bad_label_is_refused_and_nothing_is_stored(api, labeler, text_dataset, make_job):
    job = make_job(text_dataset(2), workers_per_item=1)
    task = take(api(labeler), job).json()
    response = submit(api(labeler), task["assignment"], "neutral")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "label" and "neutral" in error["message"]
    assignment = Assignment.objects.get(pk=task["assignment"])
    assert assignment.status == AssignmentStatus.ASSIGNED and assignment.label is None


def test_someone_elses_assignment_is_not_found(api, labeler, member, text_dataset, make_job):
    job = make_job(text_dataset(2), workers_per_item=1)
    task = take(api(labeler), job).json()
    assert submit(api(member), task["assignment"], "positive").status_code == 404
    assert api(member).post(f"/api/v1/assignments/{task['assignment']}/skip/").status_code == 404


def test_a_skipped_item_goes_to_others_and_never_back(api, labelers, text_dataset, make_job):
    job = make_job(text_dataset(1), workers_per_item=1)
    a, b = labelers(2)
    task = take(api(a), job).json()
    assert (
        api(a).post(f"/api/v1/assignments/{task['assignment']}/skip/").json()["status"] == "skipped"
    )
    assert take(api(a), job).status_code == 204
    assert take(api(b), job).json()["item"]["id"] == task["item"]["id"]


def test_an_expired_assignment_returns_to_the_queue(
    api, labelers, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(1), workers_per_item=1)
    a, b = labelers(2)
    task = take(api(a), job).json()
    assert take(api(b), job).status_code == 204  # the only slot is taken
    Assignment.objects.filter(pk=task["assignment"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    task_b = take(api(b), job).json()
    assert task_b["item"]["id"] == task["item"]["id"]
    assert Assignment.objects.get(pk=task["assignment"]).status == AssignmentStatus.EXPIRED
    # The late answer no longer has a slot; the new holder's answer counts.
    late = submit(api(a), task["assignment"], "positive", on_commit)
    assert late.status_code == 409 and late.json()["error"]["code"] == "assignment_expired"
    assert submit(api(b), task_b["assignment"], "negative", on_commit).status_code == 200
    assert LabelingItem.objects.get(pk=task["item"]["id"]).label == "negative"


def test_a_late_answer_counts_while_its_slot_is_still_free(
    api, labeler, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(1), workers_per_item=1)
    task = take(api(labeler), job).json()
    Assignment.objects.filter(pk=task["assignment"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    from labeling.queue import assignments_expire

    assert assignments_expire(job_id=job.pk) == 1
    assert submit(api(labeler), task["assignment"], "positive", on_commit).status_code == 200
    assert LabelingItem.objects.get(pk=task["item"]["id"]).state == ItemState.DONE


def test_the_last_answer_completes_the_job_with_an_output_dataset(
    api, labeler, text_dataset, make_job, on_commit
):
    dataset = text_dataset(3)
    job = make_job(dataset, workers_per_item=1, label_attribute="sentiment")
    for _ in range(3):
        task = take(api(labeler), job).json()
        assert submit(api(labeler), task["assignment"], "positive", on_commit).status_code == 200
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.COMPLETED
    assert job.output_dataset is not None
    assert job.output_dataset.name == dataset.name and job.output_dataset.version == 2
    names = [c["name"] for c in job.output_dataset.columns]
    assert names[-3:] == ["sentiment", "sentiment_confidence", "sentiment_source"]


def test_labels_keep_their_provenance(api, owner, labelers, text_dataset, make_job, on_commit):
    job = make_job(text_dataset(1), workers_per_item=3)
    for worker, label in zip(labelers(3), ["positive", "positive", "negative"], strict=True):
        task = take(api(worker), job).json()
        submit(api(worker), task["assignment"], label, on_commit)
    body = api(owner).get(f"/api/v1/labeling-jobs/{job.pk}/labels/").json()
    (record,) = body["results"]
    assert record["label"] == "positive"
    assert record["source"] == "human"
    assert 0.5 < record["confidence"] <= 1
    assert sorted(a["label"] for a in record["annotations"]) == ["negative", "positive", "positive"]
    assert {a["worker"] for a in record["annotations"]} == {"labeler00", "labeler01", "labeler02"}


def test_earlier_answers_are_hidden_unless_the_job_shows_them(
    api, labelers, text_dataset, make_job, on_commit
):
    a, b = labelers(2)
    hidden = make_job(text_dataset(1, name="one"), name="hidden", workers_per_item=2)
    task = take(api(a), hidden).json()
    submit(api(a), task["assignment"], "positive", on_commit)
    assert "previous_answers" not in take(api(b), hidden).json()["item"]
    shown = make_job(
        text_dataset(1, name="two"), name="shown", workers_per_item=2, show_previous_answers=True
    )
    task = take(api(a), shown).json()
    submit(api(a), task["assignment"], "negative", on_commit)
    assert take(api(b), shown).json()["item"]["previous_answers"] == ["negative"]


def test_a_completed_item_sent_back_for_review_is_corrected(
    api, owner, labelers, text_dataset, make_job, on_commit
):
    a, b = labelers(2)
    job = make_job(text_dataset(2), workers_per_item=1)
    for _ in range(2):
        task = take(api(a), job).json()
        submit(api(a), task["assignment"], "positive", on_commit)
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.COMPLETED
    item = LabelingItem.objects.filter(job=job).order_by("row").last()
    response = api(owner).post(
        f"/api/v1/labeling-jobs/{job.pk}/items/{item.pk}/review/",
        {"comment": "This one is negative."},
        format="json",
    )
    assert response.status_code == 200 and response.json()["state"] == "open"
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.IN_PROGRESS
    review = take(api(b), job).json()
    assert review["item"]["id"] == item.pk
    assert review["item"]["review"] == {
        "comment": "This one is negative.",
        "current_label": "positive",
    }
    assert review["item"]["previous_answers"] == ["positive"]
    assert submit(api(b), review["assignment"], "negative", on_commit).status_code == 200
    item.refresh_from_db()
    assert item.label == "negative"
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.COMPLETED


def test_nothing_is_handed_out_once_the_job_is_stopped(
    api, owner, labelers, text_dataset, make_job, on_commit
):
    a, b = labelers(2)
    job = make_job(text_dataset(4), workers_per_item=1)
    task = take(api(a), job).json()
    with on_commit(execute=True):
        assert api(owner).post(f"/api/v1/labeling-jobs/{job.pk}/stop/").status_code == 200
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.STOPPED
    assert take(api(b), job).status_code == 204
    assert submit(api(a), task["assignment"], "positive").status_code == 409
