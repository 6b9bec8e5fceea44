"""Batch transform: a model package scores every row of a dataset, and the predictions become
a new dataset — the writes and the reads of this topic of the endpoints app.

A transform is checked whole before anything is created (the package, the dataset, their
columns, the sizes); then a Job of kind :data:`TRANSFORM_JOB_KIND` runs it on the cpu queue
(``endpoints.runners``): the model scores in a limited child process, never here, since its
archive is a pickle.

Approval is not asked for: scoring a dataset serves nobody's requests, so any ``Completed``
package may be used, where a real-time endpoint needs an ``Approved`` one.

Invariants:
- ``output_dataset`` is set once, by the run that wrote it; a later attempt returns it.
- ``rows_done`` only grows within an attempt, and starts from 0 with each attempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404

from endpoints.models import TransformJob
from registry.models import ModelPackage, PackageStatus
from studio.choices import DatasetStatus, Queue
from studio.errors import ServiceError
from studio.models import Dataset, Project
from studio.selectors import access_project, check_role, membership_of, readable_project_ids
from studio.services import NAME_RE, dataset_from_parquet, job_stop, job_submit

TRANSFORM_JOB_KIND: Final = "endpoints.transform"
MAX_NAME: Final = 120
OUTPUT_SUFFIX: Final = "-predictions"


def _invalid(message: str, field: str) -> ServiceError:
    return ServiceError("invalid", message, field=field)


def _id(value: Any, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{field} is the id of a {what}.", field)
    return value


def _count(value: Any, field: str, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise _invalid(f"{field} is a whole number from 1 to {high:,}.", field)
    return value


def _name(value: Any, field: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not NAME_RE.match(text) or len(text) > limit:
        raise _invalid(
            f"A name is 1–{limit} letters, digits, spaces, '.', '_' or '-', starting with a "
            "letter or digit.",
            field,
        )
    return text


def _package(project: Project, value: Any) -> ModelPackage:
    package = (
        ModelPackage.objects.select_related("group")
        .filter(project=project, pk=_id(value, "model_package", "model package"))
        .first()
    )
    if package is None:
        raise _invalid(f"There is no model package {value} in this project.", "model_package")
    if package.status != PackageStatus.COMPLETED or not package.artifact_key:
        reason = f": {package.failure_reason}" if package.failure_reason else ""
        raise _invalid(
            f"Model package {package} is {package.status}{reason}; only a Completed package "
            "can score data.",
            "model_package",
        )
    return package


def _dataset(project: Project, value: Any) -> Dataset:
    dataset = Dataset.objects.filter(project=project, pk=_id(value, "dataset", "dataset")).first()
    if dataset is None:
        raise _invalid(f"There is no dataset {value} in this project.", "dataset")
    if dataset.status != DatasetStatus.READY or not dataset.data_key:
        raise _invalid(f"Dataset {dataset} is {dataset.status}, not Ready.", "dataset")
    if dataset.is_images:
        raise _invalid(f"Dataset {dataset} holds images; batch transform scores tables.", "dataset")
    if not dataset.num_rows:
        raise _invalid(f"Dataset {dataset} has no rows to score.", "dataset")
    return dataset


def _join_input(value: Any) -> list[str]:
    from endpoints.engine.transform import (
        ALL_COLUMNS,
    )

    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise _invalid(
            f'join_input is a list of input column names, or ["{ALL_COLUMNS}"] for all.',
            "join_input",
        )
    return list(value)


@transaction.atomic
def transform_job_create(
    *,
    project: Project,
    user: Any,
    name: Any,
    model_package: Any,
    dataset: Any,
    join_input: Any = None,
    batch_rows: Any = None,
    instance_count: Any = None,
    output_name: Any = None,
) -> TransformJob:
    """Check everything a batch transform needs, then create it and queue its Job.

    ``model_package`` must be a Completed package of the project (approval is not needed);
    ``dataset`` a Ready tabular dataset of the project with every column the model reads;
    ``join_input`` names input columns copied beside the predictions (``["*"]``: all).
    The predictions become dataset ``output_name`` (default ``<dataset>-predictions``), a
    new version of it if it exists.
    """
    from endpoints.engine.transform import (
        DEFAULT_BATCH_ROWS,
        MAX_BATCH_ROWS,
        MAX_INSTANCES,
        TransformError,
        check_columns,
    )

    name = _name(name, "name", MAX_NAME)
    package = _package(project, model_package)
    source = _dataset(project, dataset)
    joined = _join_input(join_input)
    rows = _count(batch_rows, "batch_rows", MAX_BATCH_ROWS, DEFAULT_BATCH_ROWS)
    instances = _count(instance_count, "instance_count", MAX_INSTANCES, 1)
    try:
        # The package's metadata is its archive's metadata.json: read, never unpickled.
        check_columns(
            package.metadata or {}, [str(c.get("name")) for c in source.columns or []], joined
        )
    except TransformError as exc:
        raise _invalid(exc.message, exc.field or "model_package") from None
    if output_name in (None, ""):
        output = f"{source.name[: 200 - len(OUTPUT_SUFFIX)]}{OUTPUT_SUFFIX}"
    else:
        output = _name(output_name, "output_name", 200)
    job = job_submit(
        project=project,
        kind=TRANSFORM_JOB_KIND,
        owner=user,
        name=f"Batch transform {name}",
        inputs={"dataset": source.pk, "model_package": package.pk},
        resources={"instance_count": instances},
        queue=Queue.CPU,
    )
    return TransformJob.objects.create(
        project=project,
        job=job,
        name=name,
        model_package=package,
        dataset=source,
        join_input=joined,
        output_name=output,
        batch_rows=rows,
        instance_count=instances,
        rows_total=source.num_rows or 0,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def transform_job_stop(*, transform: TransformJob, user: Any) -> TransformJob:
    """Stop the transform's job (at once if it has not started); what it wrote is dropped."""
    job_stop(job=transform.job, user=user)
    transform.job.refresh_from_db()
    return transform


def transform_job_started(*, transform_id: int) -> None:
    """A new attempt scores from the first row again."""
    TransformJob.objects.filter(pk=transform_id, output_dataset__isnull=True).update(rows_done=0)


def transform_job_progress(*, transform_id: int, rows_done: int) -> None:
    TransformJob.objects.filter(pk=transform_id, output_dataset__isnull=True).update(
        rows_done=rows_done
    )


def transform_job_finish(*, transform_id: int, path: Path, rows: int) -> TransformJob:
    """Register the predictions file at ``path`` as a new dataset (moving the file) and link
    it; a transform already linked returns as it is (a retried run after success)."""
    with transaction.atomic():
        transform = (
            TransformJob.objects.select_for_update(of=("self",))
            .select_related("project", "created_by")
            .get(pk=transform_id)
        )
        if transform.output_dataset_id is not None:
            return transform
        # The dataset needs a creator: the transform's, or the project's if that user is gone.
        user = transform.created_by or transform.project.created_by
        output = dataset_from_parquet(
            project=transform.project, user=user, name=transform.output_name, path=path
        )
        transform.output_dataset = output
        transform.rows_done = rows
        transform.save(update_fields=["output_dataset", "rows_done"])
    return transform


# --- reads ------------------------------------------------------------------------------
def access_transform_job(user: Any, pk: Any, *, write: bool = False) -> TransformJob:
    """The transform for ``user``: 404 for a stranger, 403 for a role that may not act."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such transform job.")
    transform = (
        TransformJob.objects.select_related(
            "job",
            "project",
            "created_by",
            "model_package__group",
            "dataset",
            "output_dataset",
        )
        .filter(pk=key)
        .first()
    )
    if transform is None:
        raise Http404("No such transform job.")
    check_role(membership_of(user, transform.project_id), write=write, what="transform job")
    return transform


def transform_job_list(
    user: Any, *, project_id: Any = None, status: str | None = None
) -> QuerySet[TransformJob]:
    """The transforms ``user`` may read, newest first; ``status`` is their job's."""
    qs = TransformJob.objects.filter(project__in=readable_project_ids(user))
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    if status:
        qs = qs.filter(job__status=status)
    return qs.select_related(
        "job", "project", "created_by", "model_package__group", "dataset", "output_dataset"
    )


def transforms_of_package(package: ModelPackage) -> QuerySet[TransformJob]:
    return (
        TransformJob.objects.filter(model_package=package)
        .select_related("job")
        .order_by("-created_at", "-id")
    )


def transform_ready_inputs(project: Project) -> dict[str, list[dict[str, Any]]]:
    """What the new-transform form offers: the project's Completed packages (with the
    columns each reads) and its Ready tabular datasets (with their columns)."""
    packages = (
        ModelPackage.objects.filter(project=project, status=PackageStatus.COMPLETED)
        .select_related("group")
        .order_by("group__name", "-version")[:500]
    )
    datasets = (
        Dataset.objects.filter(project=project, status=DatasetStatus.READY)
        .exclude(format="images")
        .order_by("name", "-version")[:500]
    )
    return {
        "packages": [
            {
                "id": p.pk,
                "label": f"{p.group.name} v{p.version}",
                "approval": p.approval_status,
                "problem_type": p.problem_type,
                "columns": [str(c.get("name")) for c in p.input_schema],
            }
            for p in packages
        ],
        "datasets": [
            {
                "id": d.pk,
                "name": d.name,
                "label": f"{d.name} v{d.version} · {d.num_rows or 0:,} rows",
                "columns": [str(c.get("name")) for c in d.columns or []],
            }
            for d in datasets
        ],
    }
