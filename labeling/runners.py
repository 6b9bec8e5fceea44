"""The labeling job's background work: turning a dataset into items, the automated-labeling
model rounds, and the finishing pass (whole-job consolidation, the output dataset)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labeling import services
from labeling.consolidation import consolidate_job
from labeling.engine.shapes import LabelError, check_label
from labeling.models import (
    Assignment,
    AssignmentStatus,
    ItemState,
    LabelingItem,
    LabelingJob,
    LabelSource,
    Phase,
    TaskType,
)
from studio import storage
from studio.choices import JobStatus
from studio.jobs import JobContext, JobFailed, register_runner
from studio.models import Job
from studio.services import dataset_file_key, dataset_from_parquet

if TYPE_CHECKING:
    from PIL import Image

    from labeling.engine.autolabel import (
        AutoLabelRound,
        BoxRound,
    )


def _job_of(ctx: JobContext) -> LabelingJob:
    job = (
        LabelingJob.objects.select_related("project", "dataset", "created_by")
        .filter(pk=ctx.parameters.get("labeling_job"))
        .first()
    )
    if job is None:
        raise JobFailed("The labeling job no longer exists.")
    return job


def _setup_finished(job: Job) -> None:
    if job.status != JobStatus.COMPLETED:
        services.labeling_job_fail(
            job_id=int((job.parameters or {}).get("labeling_job", 0)),
            reason=job.failure_reason or f"Setting up the items was {job.status.lower()}.",
        )


def _parse_pre(value: Any) -> Any:
    """A pre-annotation cell: JSON text (a list, an object, a quoted string) or a bare class."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[0] in '[{"':
            try:
                return json.loads(text)
            except ValueError:
                return text
        return text
    return value


@register_runner(
    services.SETUP_JOB_KIND, queue="cpu", title="Set up labeling job", on_finish=_setup_finished
)
def run_setup(ctx: JobContext) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from labeling.engine.autolabel import (
        validation_sample_size,
    )

    job = _job_of(ctx)
    dataset = job.dataset
    if dataset is None or not dataset.data_key:
        raise JobFailed("The labeling job's dataset no longer exists.")
    kind = job.label_kind
    with storage.open_local(dataset.data_key) as path:
        table = pq.read_table(path)
    columns = set(table.column_names)
    wanted = [c for c in (job.data_column, job.sequence_column, job.pre_annotation_column) if c]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise JobFailed(f"The dataset has no column {missing[0]!r}.")
    data = table.column(job.data_column).to_pylist()
    pre = (
        table.column(job.pre_annotation_column).to_pylist()
        if job.pre_annotation_column
        else [None] * len(data)
    )
    width = table.column("width").to_pylist() if "width" in columns else [None] * len(data)
    height = table.column("height").to_pylist() if "height" in columns else [None] * len(data)
    items: list[dict[str, Any]] = []
    if kind == TaskType.VIDEO_TRACKING:
        names = table.column("source_name").to_pylist() if "source_name" in columns else data
        sequences: dict[str, list[int]] = defaultdict(list)
        for row, key in enumerate(table.column(job.sequence_column).to_pylist()):
            sequences[str(key)].append(row)
        for key, rows in sequences.items():
            rows.sort(key=lambda r: (str(names[r]), r))
            items.append(
                {
                    "row": rows[0],
                    "data": {
                        "sequence": key,
                        "frames": [dataset_file_key(dataset, str(data[r])) for r in rows],
                        "width": width[rows[0]],
                        "height": height[rows[0]],
                    },
                    "pre": pre[rows[0]],
                }
            )
        items.sort(key=lambda i: i["row"])
    elif dataset.is_images:
        for row, name in enumerate(data):
            items.append(
                {
                    "row": row,
                    "data": {
                        "image": dataset_file_key(dataset, str(name)),
                        "width": width[row],
                        "height": height[row],
                    },
                    "pre": pre[row],
                }
            )
    else:
        for row, text in enumerate(data):
            items.append(
                {"row": row, "data": {"text": "" if text is None else str(text)}, "pre": pre[row]}
            )
    ctx.log(f"{len(items):,} items from {dataset} ({table.num_rows:,} rows).")
    by_row = {item["row"]: item for item in items}
    by_text = {item["data"].get("text"): item for item in items if "text" in item["data"]}
    imported = 0
    for row, value, match in ctx.parameters.get("pre_annotations") or []:
        target = by_row.get(row) if row is not None else None
        if target is None and isinstance(match, str):
            target = by_text.get(match)
        if target is not None:
            target["pre"] = value
            imported += 1
    bad = 0
    out = []
    for item in items:
        raw = _parse_pre(item.pop("pre"))
        if raw is not None:
            try:
                item["pre_annotation"] = check_label(kind, raw, labels=job.labels)
            except LabelError as exc:
                bad += 1
                if bad <= 5:
                    ctx.log(f"Row {item['row']}: the pre-annotation is ignored: {exc.message}")
        if job.task_type == TaskType.VERIFICATION and item.get("pre_annotation") is None:
            continue  # nothing to verify
        out.append(item)
    if imported:
        ctx.log(f"{imported:,} imported pre-annotations matched items.")
    if bad:
        ctx.log(f"{bad:,} pre-annotations did not fit the labels and were ignored.", "warning")
    gold = {int(row): value for row, value in ctx.parameters.get("gold") or []}
    for item in out:
        if item["row"] in gold:
            item["gold_label"] = gold[item["row"]]
    unknown_gold = set(gold) - {item["row"] for item in out}
    if unknown_gold:
        raise JobFailed(f"Gold row {min(unknown_gold)} is not an item of the dataset.")
    count = services.labeling_items_create(job=job, items=out)
    if job.auto_labeling:
        ctx.log(
            f"Automated labeling: {validation_sample_size(count):,} items for validation and "
            "as many for a first training batch go to people first."
        )
    return {"labeling_job": job.pk, "items": count}


# --- automated labeling ------------------------------------------------------------------
def _features(job: LabelingJob, items: list[LabelingItem]) -> Any:
    from PIL import Image

    from labeling.engine.features import image_features, text_features

    if job.task_type == TaskType.TEXT_CLASSIFICATION:
        return text_features([item.data.get("text", "") for item in items])
    images = []
    for item in items:
        with storage.open_local(item.data["image"]) as path, Image.open(path) as image:
            images.append(image.convert("RGB"))
    return image_features(images)


def _autolabel_finished(job: Job) -> None:
    if job.status != JobStatus.COMPLETED:
        services.labeling_model_failed(
            job_id=int((job.parameters or {}).get("labeling_job", 0)),
            reason=job.failure_reason or f"The model round was {job.status.lower()}.",
        )


@register_runner(
    services.AUTOLABEL_JOB_KIND, queue="cpu", title="Auto-label", on_finish=_autolabel_finished
)
def run_autolabel(ctx: JobContext) -> dict[str, Any]:
    import numpy as np

    from labeling.engine.autolabel import (
        run_round,
        validation_sample_size,
    )

    job = _job_of(ctx)
    round_number = int(ctx.parameters.get("round", len(job.auto_rounds) + 1))
    if job.phase != Phase.MODEL:
        return {"labeling_job": job.pk, "skipped": True}
    items = list(LabelingItem.objects.filter(job=job).order_by("row"))
    if job.task_type == TaskType.BOUNDING_BOX:
        return _box_round(ctx, job, items, round_number)
    classes = {name: i for i, name in enumerate(job.labels)}
    train = [
        i
        for i, item in enumerate(items)
        if item.state == ItemState.DONE
        and item.source == LabelSource.HUMAN
        and not item.is_validation
        and item.label in classes
    ]
    validation = [
        i
        for i, item in enumerate(items)
        if item.state == ItemState.DONE and item.is_validation and item.label in classes
    ]
    pool = [i for i, item in enumerate(items) if item.state == ItemState.HELD]
    ctx.log(
        f"Round {round_number}: {len(train):,} human labels to learn from, "
        f"{len(validation):,} validation items, {len(pool):,} items waiting."
    )
    batch = max(validation_sample_size(len(items)), 1)
    if not pool:
        services.labeling_auto_round_store(
            job_id=job.pk,
            round_number=round_number,
            auto=[],
            next_for_humans=[],
            summary={"auto_labeled": 0, "sent_to_humans": 0},
        )
        return {"labeling_job": job.pk}
    if len(set(items[i].label for i in train)) < 2 or not validation:
        ctx.log("Too few distinct human labels to train on: this batch goes to people.")
        chosen = [items[i].pk for i in pool[:batch]]
        services.labeling_auto_round_store(
            job_id=job.pk,
            round_number=round_number,
            auto=[],
            next_for_humans=chosen,
            summary={"auto_labeled": 0, "sent_to_humans": len(chosen), "threshold": None},
        )
        return {"labeling_job": job.pk, "auto_labeled": 0}
    x = _features(job, items)
    ctx.progress(0.3)
    y = np.array([classes.get(str(item.label), -1) for item in items])
    result = run_round(
        x_train=x[train],
        y_train=y[train],
        x_validation=x[validation],
        y_validation=y[validation],
        x_pool=x[pool],
        n_classes=len(job.labels),
        target_accuracy=job.target_accuracy,
        batch_size=batch,
        seed=services.auto_labeling_seed(job) + round_number,
    )
    auto = [
        (items[pool[int(p)]].pk, job.labels[int(label)], float(conf))
        for p, label, conf in zip(
            result.auto_indices, result.auto_labels, result.auto_confidence, strict=True
        )
    ]
    chosen = [items[pool[int(p)]].pk for p in result.next_for_humans]
    return _store_round(ctx, job, round_number, result, auto, chosen, trained_on=len(train))


def _store_round(
    ctx: JobContext,
    job: LabelingJob,
    round_number: int,
    result: AutoLabelRound | BoxRound,
    auto: list[tuple[int, Any, float]],
    chosen: list[int],
    *,
    trained_on: int,
) -> dict[str, Any]:
    summary = {
        "threshold": result.threshold,
        "estimated_accuracy": result.estimated_accuracy,
        "validation_accuracy": result.validation_accuracy,
        "coverage": result.coverage,
        "trained_on": trained_on,
        "auto_labeled": len(auto),
        "sent_to_humans": len(chosen),
    }
    ctx.log(
        f"Threshold {result.threshold} (estimated accuracy {result.estimated_accuracy}): "
        f"{len(auto):,} items auto-labeled, {len(chosen):,} sent to people next."
    )
    services.labeling_auto_round_store(
        job_id=job.pk, round_number=round_number, auto=auto, next_for_humans=chosen, summary=summary
    )
    return {"labeling_job": job.pk, **summary}


def _storage_images(items: list[LabelingItem]) -> list[Image.Image]:
    from PIL import Image

    images = []
    for item in items:
        with storage.open_local(item.data["image"]) as path, Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def _box_round(
    ctx: JobContext, job: LabelingJob, items: list[LabelingItem], round_number: int
) -> dict[str, Any]:
    """A round for boxes: a sliding-window detector learns from the people's boxes."""
    from labeling.engine.autolabel import (
        run_box_round,
        validation_sample_size,
    )

    human = [i for i in items if i.state == ItemState.DONE and i.source == LabelSource.HUMAN]
    train = [i for i in human if not i.is_validation]
    validation = [i for i in human if i.is_validation]
    pool = [i for i in items if i.state == ItemState.HELD]
    batch = max(validation_sample_size(len(items)), 1)
    ctx.log(
        f"Round {round_number}: {len(train):,} images with people's boxes to learn from, "
        f"{len(validation):,} validation images, {len(pool):,} waiting."
    )
    if not pool or not validation:
        chosen = [i.pk for i in pool[:batch]]
        services.labeling_auto_round_store(
            job_id=job.pk,
            round_number=round_number,
            auto=[],
            next_for_humans=chosen,
            summary={"auto_labeled": 0, "sent_to_humans": len(chosen), "threshold": None},
        )
        return {"labeling_job": job.pk, "auto_labeled": 0}
    result = run_box_round(
        train_images=_storage_images(train),
        train_boxes=[i.label or [] for i in train],
        validation_images=_storage_images(validation),
        validation_boxes=[i.label or [] for i in validation],
        pool_images=_storage_images(pool),
        labels=job.labels,
        target_accuracy=job.target_accuracy,
        batch_size=batch,
        seed=services.auto_labeling_seed(job) + round_number,
    )
    auto = [
        (pool[int(p)].pk, boxes, float(conf))
        for p, boxes, conf in zip(
            result.auto_indices, result.auto_boxes, result.auto_confidence, strict=True
        )
    ]
    chosen = [pool[int(p)].pk for p in result.next_for_humans]
    return _store_round(ctx, job, round_number, result, auto, chosen, trained_on=len(train))


# --- the finishing pass ---------------------------------------------------------------------
def _finish_finished(job: Job) -> None:
    if job.status != JobStatus.COMPLETED:
        services.labeling_job_fail(
            job_id=int((job.parameters or {}).get("labeling_job", 0)),
            reason=job.failure_reason or f"Finishing the job was {job.status.lower()}.",
        )


@register_runner(
    services.FINISH_JOB_KIND, queue="cpu", title="Finish labeling job", on_finish=_finish_finished
)
def run_finish(ctx: JobContext) -> dict[str, Any]:
    job = _job_of(ctx)
    answers = list(
        Assignment.objects.filter(
            job=job, status=AssignmentStatus.SUBMITTED, is_review=False
        ).values_list("item_id", "worker__username", "label")
    )
    items = list(LabelingItem.objects.filter(job=job).order_by("row"))
    reviewed = set(
        Assignment.objects.filter(
            job=job, status=AssignmentStatus.SUBMITTED, is_review=True
        ).values_list("item_id", flat=True)
    )
    labels, quality = consolidate_job(job, items, answers, reviewed=reviewed)
    services.labeling_labels_store(job_id=job.pk, labels=labels, worker_stats=quality)
    ctx.log(
        f"Consolidated {len(labels):,} items from {len(answers):,} answers ({job.consolidation})."
    )
    ctx.progress(0.5)
    output = _write_output(ctx, job)
    services.labeling_job_complete(job_id=job.pk, output_dataset=output)
    return {"labeling_job": job.pk, "output_dataset": output.pk if output else None}


def _write_output(ctx: JobContext, job: LabelingJob) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset = job.dataset
    if dataset is None or not dataset.data_key:
        ctx.log("The source dataset is gone: no output dataset.", "warning")
        return None
    with storage.open_local(dataset.data_key) as path:
        table = pq.read_table(path)
    n = table.num_rows
    label_col: list[str | None] = [None] * n
    confidence: list[float | None] = [None] * n
    source: list[str | None] = [None] * n
    classification = job.label_kind in ("text_classification", "image_classification")
    done = LabelingItem.objects.filter(job=job, state=ItemState.DONE).values_list(
        "row", "data", "label", "confidence", "source"
    )
    sequences: dict[str, list[int]] = defaultdict(list)
    if job.label_kind == TaskType.VIDEO_TRACKING:
        for r, key in enumerate(table.column(job.sequence_column).to_pylist()):
            sequences[str(key)].append(r)
    for row, data, label, conf, src in done.iterator(chunk_size=5000):
        # A sequence's label goes on every one of its frames' rows.
        rows = sequences.get(str(data.get("sequence")), [row]) if sequences else [row]
        value = label if classification and isinstance(label, str) else json.dumps(label)
        for r in rows:
            if 0 <= r < n:
                label_col[r], confidence[r], source[r] = value, conf, src
    attr = job.label_attribute
    table = table.append_column(attr, pa.array(label_col, pa.string()))
    table = table.append_column(f"{attr}_confidence", pa.array(confidence, pa.float64()))
    table = table.append_column(f"{attr}_source", pa.array(source, pa.string()))
    out = Path(ctx.workdir) / "labeled.parquet"
    pq.write_table(table, out)
    new = dataset_from_parquet(
        project=job.project,
        user=job.created_by,
        name=dataset.name,
        path=out,
        images_of=dataset if dataset.is_images else None,
    )
    ctx.log(f"Output: {new} with columns {attr}, {attr}_confidence and {attr}_source.")
    return new
