"""Exports of a finished job (Ground Truth manifest, CSV, COCO, Label Studio) and their
round trip: Label Studio's JSON comes back in as the pre-annotations of a verification job."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from labeling.models import LabelingItem, LabelingJobStatus


def finish(api: Any, worker: Any, job: Any, on_commit: Any, answer: Any) -> None:
    while True:
        response = api(worker).post(f"/api/v1/labeling-jobs/{job.pk}/next-task/")
        if response.status_code == 204:
            break
        task = response.json()
        with on_commit(execute=True):
            done = api(worker).post(
                f"/api/v1/assignments/{task['assignment']}/submit/",
                {"label": answer(task)},
                format="json",
            )
        assert done.status_code == 200, done.content
    job.refresh_from_db()
    assert job.status == LabelingJobStatus.COMPLETED


def export(api: Any, user: Any, job: Any, fmt: str) -> Any:
    response = api(user).get(f"/api/v1/labeling-jobs/{job.pk}/export/?format={fmt}")
    assert response.status_code == 200, response.content
    return response


def sentiment(task: dict[str, Any]) -> str:
    return (
        "positive"
        if "review 0" in task["item"]["data"]["text"] or "great" in task["item"]["data"]["text"]
        else "negative"
    )


def test_a_text_job_exports_as_manifest_csv_and_label_studio(
    api, owner, labeler, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(4), workers_per_item=1, label_attribute="sentiment")
    finish(api, labeler, job, on_commit, sentiment)
    manifest = export(api, owner, job, "manifest")
    assert manifest["Content-Disposition"].endswith('.manifest"')
    lines = [json.loads(line) for line in manifest.content.decode().splitlines()]
    assert len(lines) == 4
    first = lines[0]
    assert first["source"].startswith("review 0:")
    assert first["sentiment"] == 0  # the class index, as Ground Truth writes it
    meta = first["sentiment-metadata"]
    assert meta["class-name"] == "positive" and meta["human-annotated"] == "yes"
    assert meta["job-name"] == "labeling-job/sentiment"
    rows = list(csv.DictReader(io.StringIO(export(api, owner, job, "csv").content.decode())))
    assert [r["label"] for r in rows] == [r_label(line) for line in lines]
    tasks = export(api, owner, job, "label_studio").json()
    assert len(tasks) == 4
    choice = tasks[0]["annotations"][0]["result"][0]
    assert choice["type"] == "choices" and choice["value"]["choices"] == ["positive"]
    coco = api(owner).get(f"/api/v1/labeling-jobs/{job.pk}/export/?format=coco")
    assert coco.status_code == 400 and coco.json()["error"]["field"] == "format"
    bad = api(owner).get(f"/api/v1/labeling-jobs/{job.pk}/export/?format=xml")
    assert bad.status_code == 400


def r_label(line: dict[str, Any]) -> str:
    return str(line["sentiment-metadata"]["class-name"])


def test_label_studio_labels_come_back_as_pre_annotations_to_verify(
    api, owner, labeler, member, project, text_dataset, make_job, on_commit
):
    dataset = text_dataset(4)
    job = make_job(dataset, workers_per_item=1)
    finish(api, labeler, job, on_commit, sentiment)
    tasks = export(api, owner, job, "label_studio").json()
    verify = make_job(
        dataset,
        name="check sentiment",
        task_type="verification",
        verifies="text_classification",
        workers_per_item=1,
        pre_annotations=tasks,
    )
    items = list(LabelingItem.objects.filter(job=verify).order_by("row"))
    original = dict(LabelingItem.objects.filter(job=job).values_list("row", "label"))
    assert [i.pre_annotation for i in items] == [original[i.row] for i in items]
    task = api(member).post(f"/api/v1/labeling-jobs/{verify.pk}/next-task/").json()
    assert task["item"]["pre_annotation"] == original[0]
    with on_commit(execute=True):
        adjusted = api(member).post(
            f"/api/v1/assignments/{task['assignment']}/submit/",
            {"label": {"verdict": "adjust", "label": "negative"}},
            format="json",
        )
    assert adjusted.status_code == 200
    assert LabelingItem.objects.get(pk=task["item"]["id"]).label == "negative"


def test_boxes_export_to_coco_and_round_trip_through_label_studio(
    api, owner, labelers, image_dataset, make_job, on_commit
):
    dataset = image_dataset(2)
    job = make_job(dataset, task_type="bounding_box", labels=["car", "tree"], workers_per_item=1)
    (worker,) = labelers(1)
    finish(
        api,
        worker,
        job,
        on_commit,
        lambda task: [
            {"label": "car", "x": 4, "y": 6, "w": 20, "h": 10},
            {"label": "tree", "x": 30, "y": 2, "w": 8, "h": 30},
        ],
    )
    coco = export(api, owner, job, "coco").json()
    assert len(coco["images"]) == 2 and len(coco["annotations"]) == 4
    assert {c["name"] for c in coco["categories"]} == {"car", "tree"}
    car = next(a for a in coco["annotations"] if a["category_id"] == 1)
    assert car["bbox"] == [4.0, 6.0, 20.0, 10.0] and car["area"] == 200.0
    tasks = export(api, owner, job, "label_studio").json()
    rect = next(
        r for r in tasks[0]["annotations"][0]["result"] if r["value"]["rectanglelabels"] == ["car"]
    )
    assert rect["type"] == "rectanglelabels" and rect["original_width"] == 64
    assert abs(rect["value"]["x"] - 4 / 64 * 100) < 1e-9
    verify = make_job(
        dataset,
        name="check boxes",
        task_type="verification",
        verifies="bounding_box",
        labels=["car", "tree"],
        workers_per_item=1,
        pre_annotations=tasks,
    )
    item = LabelingItem.objects.filter(job=verify).order_by("row").first()
    boxes = {b["label"]: b for b in item.pre_annotation}
    assert abs(boxes["car"]["x"] - 4) < 1e-6 and abs(boxes["tree"]["h"] - 30) < 1e-6
