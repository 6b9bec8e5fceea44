"""Every task type end to end through the API: what an item holds, what a labeler submits,
and what several labelers' answers consolidate into."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.parquet as pq

from labeling.engine.consolidate import decode_rle
from labeling.models import LabelingItem, LabelingJobStatus
from studio import storage


def label_all(api: Any, workers: list[Any], job: Any, on_commit: Any, answer: Any) -> None:
    """Each worker labels until nothing is left for them; ``answer(worker_index, task)``."""
    for index, worker in enumerate(workers):
        while True:
            response = api(worker).post(f"/api/v1/labeling-jobs/{job.pk}/next-task/")
            if response.status_code == 204:
                break
            task = response.json()
            with on_commit(execute=True):
                done = api(worker).post(
                    f"/api/v1/assignments/{task['assignment']}/submit/",
                    {"label": answer(index, task)},
                    format="json",
                )
            assert done.status_code == 200, done.content
    job.refresh_from_db()


def test_multilabel_answers_are_voted_per_label(api, labelers, text_dataset, make_job, on_commit):
    job = make_job(
        text_dataset(1), task_type="text_multilabel", labels=["price", "quality", "delivery"]
    )
    answers = [["price", "quality"], ["quality"], ["quality", "delivery"]]
    label_all(api, labelers(3), job, on_commit, lambda i, task: answers[i])
    item = LabelingItem.objects.get(job=job)
    assert item.label == ["quality"]
    assert 0 < item.confidence < 1


def test_ner_spans_are_clustered_with_boundaries_by_vote(
    api, labelers, text_dataset, make_job, on_commit
):
    job = make_job(text_dataset(1), task_type="ner", labels=["PRODUCT", "OPINION"])
    text = LabelingItem.objects.get(job=job).data["text"]
    start = text.index("product")
    spans = [
        [{"label": "PRODUCT", "start": start, "end": start + 7}],
        [{"label": "PRODUCT", "start": start, "end": start + 7}],
        [
            {"label": "PRODUCT", "start": start - 1, "end": start + 7},
            {"label": "OPINION", "start": 0, "end": 6},
        ],
    ]
    label_all(api, labelers(3), job, on_commit, lambda i, task: spans[i])
    item = LabelingItem.objects.get(job=job)
    assert item.label == [{"label": "PRODUCT", "start": start, "end": start + 7}]
    assert 0.5 < item.confidence <= 1


def test_a_span_past_the_end_of_the_text_is_refused(api, labeler, text_dataset, make_job):
    job = make_job(text_dataset(1), task_type="ner", labels=["PRODUCT"])
    task = api(labeler).post(f"/api/v1/labeling-jobs/{job.pk}/next-task/").json()
    length = len(task["item"]["data"]["text"])
    response = api(labeler).post(
        f"/api/v1/assignments/{task['assignment']}/submit/",
        {"label": [{"label": "PRODUCT", "start": 0, "end": length + 1}]},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "label"


def test_boxes_of_five_workers_average_and_a_lone_box_is_dropped(
    api, labelers, image_dataset, make_job, on_commit
):
    job = make_job(image_dataset(1), task_type="bounding_box", labels=["car", "tree"])
    assert job.workers_per_item == 5

    def boxes(i: int, task: dict[str, Any]) -> list[dict[str, Any]]:
        out = [{"label": "car", "x": 10 + i % 2, "y": 8, "w": 20, "h": 12 - i % 2}]
        if i == 4:
            out.append({"label": "tree", "x": 40, "y": 1, "w": 5, "h": 30})
        return out

    label_all(api, labelers(5), job, on_commit, boxes)
    item = LabelingItem.objects.get(job=job)
    (car,) = item.label
    assert car["label"] == "car"
    assert abs(car["x"] - 10.4) < 1e-6 and abs(car["h"] - 11.6) < 1e-6
    assert 0.5 < item.confidence <= 1


def test_a_box_outside_the_image_is_refused(api, labeler, image_dataset, make_job):
    job = make_job(image_dataset(1), task_type="bounding_box", labels=["car"])
    task = api(labeler).post(f"/api/v1/labeling-jobs/{job.pk}/next-task/").json()
    assert task["item"]["data"]["width"] == 64
    response = api(labeler).post(
        f"/api/v1/assignments/{task['assignment']}/submit/",
        {"label": [{"label": "car", "x": 50, "y": 0, "w": 30, "h": 10}]},
        format="json",
    )
    assert response.status_code == 400 and "width" in response.json()["error"]["message"]


def test_masks_from_polygons_and_brushes_are_voted_per_pixel(
    api, labelers, image_dataset, make_job, on_commit
):
    job = make_job(
        image_dataset(1, size=(16, 12)),
        task_type="semantic_segmentation",
        labels=["road", "sky"],
    )
    # The left half is road (a polygon for two workers, a brush mask for the third).
    brush = {"label": "road", "rle": [0, *([8, 8] * 12)], "size": [12, 16]}
    polygon = {"label": "road", "points": [[0, 0], [8, 0], [8, 12], [0, 12]]}
    answers = [[polygon], [polygon], [brush]]
    label_all(api, labelers(3), job, on_commit, lambda i, task: answers[i])
    item = LabelingItem.objects.get(job=job)
    (shape,) = item.label
    assert shape["label"] == "road" and shape["size"] == [12, 16]
    mask = decode_rle(shape["rle"], 12, 16)
    assert mask[:, :8].all() and not mask[:, 8:].any()
    assert item.confidence > 0.9
    # The consolidated mask exports to COCO as a mask of its class.
    coco = api(job.created_by).get(f"/api/v1/labeling-jobs/{job.pk}/export/?format=coco").json()
    (annotation,) = coco["annotations"]
    assert annotation["category_id"] == 1 and annotation["area"] == 96


def test_video_frames_group_into_one_item_per_sequence_and_tracks_consolidate(
    api, labelers, image_dataset, make_job, on_commit
):
    dataset = image_dataset(6, folders=["clip-a", "clip-b"])
    job = make_job(dataset, task_type="video_tracking", labels=["car"], workers_per_item=2)
    items = list(LabelingItem.objects.filter(job=job).order_by("row"))
    assert [i.data["sequence"] for i in items] == ["clip-a", "clip-b"]
    assert all(len(i.data["frames"]) == 3 for i in items)
    workers = labelers(2)
    task = api(workers[0]).post(f"/api/v1/labeling-jobs/{job.pk}/next-task/").json()
    assert len(task["item"]["data"]["frames"]) == 3
    assert task["item"]["data"]["frames"][1].endswith("?frame=1")

    def track(i: int, task: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "id": 1,
                "label": "car",
                "boxes": [
                    {"frame": f, "x": 5 + 10 * f + i, "y": 5, "w": 10, "h": 8} for f in range(3)
                ],
            }
        ]

    label_all(api, workers, job, on_commit, track)
    item = LabelingItem.objects.filter(job=job).order_by("row").first()
    (consolidated,) = item.label
    assert consolidated["label"] == "car" and len(consolidated["boxes"]) == 3
    # Every frame's row of the output carries its sequence's tracks.
    assert job.status == LabelingJobStatus.COMPLETED
    with storage.open_local(job.output_dataset.data_key) as path:
        table = pq.read_table(path)
    tracks = table.column(job.label_attribute).to_pylist()
    assert len(tracks) == 6 and all(json.loads(t)[0]["label"] == "car" for t in tracks)
