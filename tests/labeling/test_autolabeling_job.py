"""Automated data labeling end to end on a real dataset that ships with scikit-learn (the 8×8
digits): people label a validation sample and the items the model is least sure of; the
model labels the rest where its validated confidence reaches the target accuracy."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from labeling import queue, services
from labeling.engine.autolabel import validation_sample_size
from labeling.models import ItemState, LabelingItem, LabelingJobStatus, LabelSource
from studio.models import Dataset

#: The seed of both jobs' automated labeling (which items form the validation sample, and
#: each round's randomness). It is the job's id otherwise, and on PostgreSQL ids are not rolled
#: back between tests: the outcome would change with the tests that ran before.
SEED = 1


@pytest.fixture(autouse=True)
def pinned_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "auto_labeling_seed", lambda job: SEED)


def digits_zip() -> tuple[bytes, list[int]]:
    digits = load_digits()
    buffer = io.BytesIO()
    truth = []
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
            image = Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L")
            out = io.BytesIO()
            image.save(out, format="PNG")
            # A flat archive: names carry no hint of the class.
            archive.writestr(f"digit{i:04d}.png", out.getvalue())
            truth.append(int(target))
    return buffer.getvalue(), truth


def test_digits_are_mostly_auto_labeled_at_the_target_accuracy(
    upload: Any, owner: Any, labeler: Any, project: Any, make_job: Any, on_commit: Any
) -> None:
    content, truth = digits_zip()
    response = upload(owner, project, "digits.zip", content)
    assert response.status_code == 201, response.content
    dataset = Dataset.objects.get(pk=response.json()["id"])
    names = [str(d) for d in range(10)]
    job = make_job(
        dataset,
        name="digits",
        task_type="image_classification",
        labels=names,
        workers_per_item=1,
        auto_labeling={"enabled": True, "target_accuracy": 0.95},
    )
    n = len(truth)
    assert LabelingItem.objects.filter(
        job=job, state=ItemState.OPEN
    ).count() == 2 * validation_sample_size(n)
    assert LabelingItem.objects.filter(
        job=job, is_validation=True
    ).count() == validation_sample_size(n)
    # The source rows are in the order of the archive, so the item's row names its truth.
    labeled_by_people = 0
    while True:
        job.refresh_from_db()
        if job.status != LabelingJobStatus.IN_PROGRESS:
            break
        assignment = queue.next_task(job=job, worker=labeler)
        if assignment is None:
            with on_commit(execute=True):
                queue.labeling_job_maintain()
            job.refresh_from_db()
            assert job.status != LabelingJobStatus.IN_PROGRESS or queue.next_task(
                job=job, worker=labeler
            ), f"stuck in phase {job.phase}"
            continue
        with on_commit(execute=True):
            queue.assignment_submit(
                assignment_id=assignment.pk,
                worker=labeler,
                label=names[truth[assignment.item.row]],
            )
        labeled_by_people += 1
        assert labeled_by_people <= n
    assert job.status == LabelingJobStatus.COMPLETED, job.failure_reason
    auto = list(
        LabelingItem.objects.filter(job=job, source=LabelSource.AUTO).values_list("row", "label")
    )
    share = len(auto) / n
    accuracy = sum(names[truth[row]] == label for row, label in auto) / max(len(auto), 1)
    assert share >= 0.5, f"only {share:.1%} auto-labeled"
    assert accuracy >= 0.95, f"auto-labels {accuracy:.1%} accurate"
    assert labeled_by_people + len(auto) == n
    rounds = job.auto_rounds
    assert rounds and rounds[0]["estimated_accuracy"] >= 0.95
    assert job.output_dataset is not None and job.output_dataset.is_images


def test_boxes_are_auto_labeled_by_a_detector_taught_by_people(
    upload: Any, owner: Any, labeler: Any, project: Any, make_job: Any, on_commit: Any
) -> None:
    from tests.labeling.engine.test_autolabel import COLOURS, boxes_match, scene

    rng = np.random.default_rng(0)
    scenes = [scene(rng) for _ in range(150)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, (image, _) in enumerate(scenes):
            out = io.BytesIO()
            image.save(out, format="PNG")
            archive.writestr(f"scene{i:04d}.png", out.getvalue())
    response = upload(owner, project, "scenes.zip", buffer.getvalue())
    dataset = Dataset.objects.get(pk=response.json()["id"])
    job = make_job(
        dataset,
        name="rectangles",
        task_type="bounding_box",
        labels=list(COLOURS),
        workers_per_item=1,
        auto_labeling={"enabled": True, "target_accuracy": 0.95},
    )
    while True:
        job.refresh_from_db()
        if job.status != LabelingJobStatus.IN_PROGRESS:
            break
        assignment = queue.next_task(job=job, worker=labeler)
        assert assignment is not None, f"stuck in phase {job.phase}"
        with on_commit(execute=True):
            queue.assignment_submit(
                assignment_id=assignment.pk,
                worker=labeler,
                label=scenes[assignment.item.row][1],
            )
    assert job.status == LabelingJobStatus.COMPLETED, job.failure_reason
    auto = list(
        LabelingItem.objects.filter(job=job, source=LabelSource.AUTO).values_list("row", "label")
    )
    assert len(auto) / len(scenes) >= 0.3
    assert np.mean([boxes_match(boxes, scenes[row][1]) for row, boxes in auto]) >= 0.95
    assert all(
        round_["estimated_accuracy"] is None or round_["estimated_accuracy"] >= 0.95
        for round_ in job.auto_rounds
    )
