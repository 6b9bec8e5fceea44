"""A job's labels as files: Ground Truth's output manifest, CSV, COCO and Label Studio JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from django.utils import timezone

from labeling.models import LabelingJob, TaskType
from labeling.selectors import item_annotations, job_labels
from studio.errors import ServiceError

EXPORT_FORMATS: Final = ("manifest", "csv", "coco", "label_studio")
_COCO_KINDS: Final = frozenset({TaskType.BOUNDING_BOX, TaskType.SEMANTIC_SEGMENTATION})


def job_records(job: LabelingJob, *, chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every labeled item as the engine's export record, in row order, a chunk at a time."""
    qs = job_labels(job)
    last = -1
    while True:
        page = list(qs.filter(row__gt=last)[:chunk])
        if not page:
            return
        annotations = item_annotations([item.pk for item in page])
        for item in page:
            data = item.data
            source_ref = data.get("text")
            if source_ref is None:
                source_ref = data.get("image") or json.dumps(data.get("frames", []))
            yield {
                "item_id": item.pk,
                "row": item.row,
                "source_ref": source_ref,
                "label": item.label,
                "confidence": item.confidence,
                "source": item.source,
                "annotations": annotations[item.pk],
                "width": data.get("width"),
                "height": data.get("height"),
            }
        last = page[-1].row


def export_job(job: LabelingJob, fmt: str) -> tuple[bytes, str, str]:
    """The file's bytes, content type and name."""
    from labeling.engine.formats import to_coco, to_csv, to_ground_truth_manifest, to_label_studio

    kind = job.label_kind
    records = list(job_records(job))
    stem = f"{job.label_attribute}"
    if fmt == "manifest":
        lines = to_ground_truth_manifest(
            records,
            task_type=kind,
            labels=job.labels,
            job_name=job.name,
            label_attribute=job.label_attribute,
            created_at=(job.completed_at or timezone.now()).isoformat(),
        )
        body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        return body.encode(), "application/jsonl", f"{stem}.manifest"
    if fmt == "csv":
        return to_csv(records, task_type=kind).encode(), "text/csv", f"{stem}.csv"
    if fmt == "coco":
        if kind not in _COCO_KINDS:
            raise ServiceError(
                "invalid",
                "COCO holds boxes and masks: export this job as manifest, csv or label_studio.",
                field="format",
            )
        body = json.dumps(to_coco(records, labels=job.labels, task_type=kind))
        return body.encode(), "application/json", f"{stem}.coco.json"
    if fmt == "label_studio":
        data_key = (
            "text"
            if kind in (TaskType.TEXT_CLASSIFICATION, TaskType.TEXT_MULTILABEL, TaskType.NER)
            else "image"
        )
        tasks = to_label_studio(records, task_type=kind, labels=job.labels, data_key=data_key)
        return json.dumps(tasks).encode(), "application/json", f"{stem}.label-studio.json"
    raise ServiceError("invalid", f"Unknown export format {fmt!r}.", field="format")
