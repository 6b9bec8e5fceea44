"""Every write of the core: projects and members, datasets, jobs.

Views, the API, tasks, runners, the admin and management commands all call these. Each runs
in one transaction and sends work to the queues only once that transaction has committed.
Permission checks happen before (``selectors.access_*``); services check the data.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from studio import events, storage
from studio.choices import DatasetStatus, JobStatus, LogLevel, Queue, Role
from studio.engine.contracts import IngestError
from studio.errors import ConflictError, ServiceError
from studio.jobs.dispatch import dispatch_on_commit, gpu_workers_online
from studio.jobs.execution import after_finish
from studio.jobs.registry import get_runner
from studio.models import Artifact, Dataset, Job, JobLog, Membership, Project

NAME_RE = re.compile(r"^[\w][\w .\-]{0,199}$")
ARTIFACT_NAME_RE = re.compile(r"^[\w][\w.\-]{0,199}$")


# --- projects -------------------------------------------------------------------------
@transaction.atomic
def project_create(*, user: Any, name: str, description: str = "") -> Project:
    name = (name or "").strip()
    if not name:
        raise ServiceError("invalid", "A project needs a name.", field="name")
    project = Project.objects.create(name=name[:120], description=description, created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


def project_update(
    *,
    project: Project,
    name: str | None = None,
    description: str | None = None,
    allow_unapproved_deployments: bool | None = None,
) -> Project:
    """Change what is given; the rest stays."""
    fields = []
    if name is not None:
        if not name.strip():
            raise ServiceError("invalid", "A project needs a name.", field="name")
        project.name = name.strip()
        fields.append("name")
    if description is not None:
        project.description = description
        fields.append("description")
    if allow_unapproved_deployments is not None:
        project.allow_unapproved_deployments = allow_unapproved_deployments
        fields.append("allow_unapproved_deployments")
    if fields:
        project.save(update_fields=fields)
    return project


@transaction.atomic
def project_member_add(*, project: Project, username: str, role: str) -> Membership:
    """Add a member or change an existing member's role."""
    if role not in Role.values:
        raise ServiceError(
            "invalid", f"Role must be one of: {', '.join(Role.values)}.", field="role"
        )
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ServiceError("not_found", f"There is no user named {username!r}.", field="username")
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        _ensure_an_owner_remains(project, membership, new_role=role)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def project_member_remove(*, project: Project, username: str) -> None:
    membership = Membership.objects.filter(project=project, user__username=username).first()
    if membership is None:
        raise ServiceError("not_found", f"{username!r} is not a member.", field="username")
    _ensure_an_owner_remains(project, membership, new_role=None)
    membership.delete()


def _ensure_an_owner_remains(
    project: Project, membership: Membership, *, new_role: str | None
) -> None:
    if membership.role == Role.OWNER and new_role != Role.OWNER:
        owners = Membership.objects.select_for_update().filter(project=project, role=Role.OWNER)
        if owners.count() <= 1:
            raise ConflictError(
                "last_owner", "A project must keep at least one owner.", field="role"
            )


# --- datasets -------------------------------------------------------------------------
def _dataset_prefix(dataset: Dataset) -> str:
    return f"datasets/{dataset.project_id}/{dataset.pk}"


def dataset_upload(*, project: Project, user: Any, upload: File, name: str = "") -> Dataset:
    """Store an uploaded file as a new dataset (or a new version of one) and ingest it.

    The file is checked cheaply here (extension, emptiness, binary junk in text formats);
    the full conversion runs as a job, which ends the dataset Ready or Failed.
    """
    from studio.engine.ingest import detect_format, sniff

    filename = PurePath(str(getattr(upload, "name", "") or "")).name
    try:
        fmt = detect_format(filename)
    except IngestError as exc:
        raise ServiceError(exc.code, exc.message, field="file")
    name = (name or PurePath(filename).stem).strip()
    if not NAME_RE.match(name):
        raise ServiceError(
            "invalid",
            "A dataset name is 1–200 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit.",
            field="name",
        )
    size = int(getattr(upload, "size", 0) or 0)
    if size == 0:
        raise ServiceError("empty_file", "The file is empty.", field="file")
    if size > settings.SEXTANT_MAX_UPLOAD_BYTES:
        raise ServiceError(
            "too_large",
            f"The file is larger than the limit of {settings.SEXTANT_MAX_UPLOAD_BYTES} bytes.",
            field="file",
        )
    dataset = _dataset_reserve(project=project, user=user, name=name, fmt=fmt, filename=filename)
    prefix = _dataset_prefix(dataset)
    try:
        dataset.source_key = f"{prefix}/source.{fmt if fmt != 'images' else 'zip'}"
        dataset.source_bytes = storage.put_upload(dataset.source_key, upload)
        with storage.open_local(dataset.source_key) as path:
            sniff(path, fmt)
    except IngestError as exc:
        _dataset_discard(dataset)
        raise ServiceError(exc.code, exc.message, field="file")
    except BaseException:
        _dataset_discard(dataset)
        raise
    with transaction.atomic():
        dataset.data_key = f"{prefix}/data.parquet"
        job = job_submit(
            project=project,
            kind="dataset_ingest",
            owner=user,
            name=f"Ingest {dataset.name} v{dataset.version}",
            inputs={"dataset": dataset.pk},
        )
        dataset.ingest_job = job
        dataset.save(
            update_fields=["source_key", "source_bytes", "data_key", "ingest_job", "updated_at"]
        )
    return dataset


def dataset_from_parquet(
    *, project: Project, user: Any, name: str, path: Path, images_of: Dataset | None = None
) -> Dataset:
    """A new Ready dataset (or version) made of a Parquet file a job wrote; moves the file.

    Processing jobs call this for their outputs; the profile job starts as for an upload.
    With ``images_of`` (a dataset of images), the file is an image manifest whose images are
    that dataset's: they are copied along, and the new version is a dataset of images too.
    """
    from studio.engine.ingest import parquet_columns

    name = name.strip()
    if not NAME_RE.match(name):
        raise ServiceError(
            "invalid",
            "A dataset name is 1–200 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit.",
            field="output_name",
        )
    num_rows, columns = parquet_columns(path)
    fmt = "images" if images_of is not None else "parquet"
    dataset = _dataset_reserve(
        project=project, user=user, name=name, fmt=fmt, filename=f"{name}.parquet"
    )
    try:
        prefix = _dataset_prefix(dataset)
        dataset.data_key = f"{prefix}/data.parquet"
        dataset.source_key = dataset.data_key
        if images_of is not None:
            storage.copy_prefix(f"{_dataset_prefix(images_of)}/images", f"{prefix}/images")
        dataset.source_bytes = storage.put_file(dataset.data_key, path, move=True)
    except BaseException:
        _dataset_discard(dataset)
        raise
    with transaction.atomic():
        dataset.status = DatasetStatus.READY
        dataset.num_rows = num_rows
        dataset.columns = [c.to_dict() for c in columns]
        dataset.save(
            update_fields=[
                "data_key",
                "source_key",
                "source_bytes",
                "status",
                "num_rows",
                "columns",
                "updated_at",
            ]
        )
        if images_of is None:
            dataset_profile_start(dataset=dataset, user=user)
    return dataset


def dataset_file_key(dataset: Dataset, name: str) -> str:
    """The storage key of a file of a dataset of images (``name`` as its manifest gives it)."""
    return f"{_dataset_prefix(dataset)}/{name}"


def _dataset_reserve(*, project: Project, user: Any, name: str, fmt: str, filename: str) -> Dataset:
    # Versions are numbered per (project, name); the unique constraint settles a race
    # between two uploads of the same name, and the loser simply takes the next number.
    for _ in range(5):
        try:
            with transaction.atomic():
                current = Dataset.objects.filter(project=project, name=name).aggregate(
                    v=Max("version")
                )["v"]
                return Dataset.objects.create(
                    project=project,
                    name=name,
                    version=(current or 0) + 1,
                    format=fmt,
                    source_filename=filename[:255],
                    created_by=user,
                )
        except IntegrityError:
            continue
    raise ConflictError("conflict", "Too many concurrent uploads of this name; try again.")


def _dataset_discard(dataset: Dataset) -> None:
    storage.delete_prefix(_dataset_prefix(dataset))
    Dataset.objects.filter(pk=dataset.pk).delete()


@transaction.atomic
def dataset_delete(*, dataset: Dataset) -> None:
    prefix = _dataset_prefix(dataset)
    dataset.delete()
    transaction.on_commit(lambda: storage.delete_prefix(prefix))


@transaction.atomic
def dataset_mark_ready(*, dataset_id: int, num_rows: int, columns: list[dict[str, Any]]) -> Dataset:
    dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
    dataset.status = DatasetStatus.READY
    dataset.num_rows = num_rows
    dataset.columns = columns
    dataset.failure_reason = ""
    dataset.save(update_fields=["status", "num_rows", "columns", "failure_reason", "updated_at"])
    return dataset


@transaction.atomic
def dataset_mark_pending(*, dataset_id: int) -> None:
    """A retried ingestion starts over: the dataset is Pending again until it ends."""
    Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.FAILED).update(
        status=DatasetStatus.PENDING, failure_reason="", updated_at=timezone.now()
    )


@transaction.atomic
def dataset_mark_failed(*, dataset_id: int, reason: str) -> None:
    Dataset.objects.filter(pk=dataset_id).exclude(status=DatasetStatus.READY).update(
        status=DatasetStatus.FAILED,
        failure_reason=reason or "Ingestion did not complete.",
        updated_at=timezone.now(),
    )


@transaction.atomic
def dataset_profile_store(*, dataset_id: int, profile: dict[str, Any]) -> None:
    Dataset.objects.filter(pk=dataset_id).update(profile=profile, updated_at=timezone.now())


@transaction.atomic
def dataset_profile_start(*, dataset: Dataset, user: Any) -> Job:
    if dataset.status != DatasetStatus.READY:
        raise ConflictError("not_ready", "The dataset is not Ready yet.")
    if dataset.is_images:
        raise ServiceError("unsupported", "Image datasets have no column profile.")
    active = Job.objects.filter(
        kind="dataset_profile",
        inputs__dataset=dataset.pk,
        status__in=(JobStatus.PENDING, JobStatus.STARTING, JobStatus.RUNNING),
    ).first()
    if active is not None:
        return active  # one profile at a time is enough
    job = job_submit(
        project=dataset.project,
        kind="dataset_profile",
        owner=user,
        name=f"Profile {dataset.name} v{dataset.version}",
        inputs={"dataset": dataset.pk},
    )
    Dataset.objects.filter(pk=dataset.pk).update(profile_job=job)
    return job


# --- jobs -----------------------------------------------------------------------------
def job_submit(
    *,
    project: Project,
    kind: str,
    owner: Any = None,
    name: str = "",
    parameters: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    queue: str | None = None,
) -> Job:
    """Create a Pending job and send it to its queue once the transaction commits.

    The row alone is one INSERT, atomic by itself, so a transaction of its own is opened only
    when a log line goes with it: outside any transaction the job is then sent at once,
    without a BEGIN and a COMMIT on the way (inside one, it waits for that one's commit).
    """
    spec = get_runner(kind)
    if spec is None:
        raise ServiceError("invalid", f"Unknown job kind {kind!r}.", field="kind")
    resources = dict(resources or {})
    queue = queue or spec.queue
    if queue not in Queue.values:
        raise ServiceError("invalid", f"Unknown queue {queue!r}.", field="queue")
    pending_reason = ""
    fell_back = False
    if queue == Queue.GPU and gpu_workers_online() == 0:
        if resources.get("allow_cpu_fallback"):
            queue, fell_back = Queue.CPU, True
        else:
            pending_reason = (
                "Waiting for a GPU worker: none is online. Start one with "
                "`celery -A studio worker -Q gpu`, or allow CPU fallback."
            )
    with transaction.atomic() if fell_back else nullcontext():
        job = Job.objects.create(
            project=project,
            kind=kind,
            name=name or spec.title,
            owner=owner if getattr(owner, "is_authenticated", False) else None,
            queue=queue,
            parameters=parameters or {},
            inputs=inputs or {},
            resources=resources,
            pending_reason=pending_reason,
            max_attempts=settings.SEXTANT_JOB_MAX_ATTEMPTS,
        )
        if fell_back:
            _job_log(job, "No GPU worker online: falling back to the CPU queue as allowed.")
        dispatch_on_commit(job)
    return job


def job_artifact_store(
    *, job_id: int, name: str, path: Path, content_type: str = "application/octet-stream"
) -> Artifact:
    """Keep a file a job produced under ``jobs/<id>/`` (moved, not copied); replaces one of
    the same name, so a retried attempt stores its own."""
    if not ARTIFACT_NAME_RE.match(name):
        raise ServiceError("invalid", f"Bad artifact name {name!r}.", field="name")
    key = f"jobs/{job_id}/{name}"
    size = storage.put_file(key, path, move=True)
    artifact, _ = Artifact.objects.update_or_create(
        job_id=job_id,
        name=name,
        defaults={"storage_key": key, "size": size, "content_type": content_type},
    )
    return artifact


def _job_log(job: Job, message: str, level: str = LogLevel.INFO) -> None:
    JobLog.objects.create(job=job, created_at=timezone.now(), level=level, message=message)


@transaction.atomic
def job_stop(*, job: Job, user: Any) -> Job:
    """Stop a job: at once if it has not started, else by a flag its run checks."""
    who = getattr(user, "username", "someone")
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.STOPPED,
        cancel_requested=True,
        finished_at=now,
        updated_at=now,
        failure_reason="",
        pending_reason="",
    ):
        _job_log(job, f"Stopped by {who} before it started.")
        job.refresh_from_db()
        transaction.on_commit(lambda: after_finish(job))
        return job
    if Job.objects.filter(pk=job.pk, status__in=(JobStatus.STARTING, JobStatus.RUNNING)).update(
        status=JobStatus.STOPPING, cancel_requested=True, updated_at=now
    ):
        _job_log(job, f"Stop requested by {who}.")
        job_id = job.pk
        transaction.on_commit(lambda: events.job_changed(job_id))
    elif not Job.objects.filter(pk=job.pk, status=JobStatus.STOPPING).exists():
        raise ConflictError("not_running", f"The job is {job.status}; there is nothing to stop.")
    job.refresh_from_db()
    return job


@transaction.atomic
def job_retry(*, job: Job, user: Any) -> Job:
    """Run a Failed or Stopped job again, from the start, with its attempt count reset."""
    now = timezone.now()
    changed = Job.objects.filter(
        pk=job.pk, status__in=(JobStatus.FAILED, JobStatus.STOPPED)
    ).update(
        status=JobStatus.PENDING,
        attempts=0,
        cancel_requested=False,
        failure_reason="",
        pending_reason="",
        progress=0.0,
        started_at=None,
        finished_at=None,
        lease_expires_at=None,
        worker="",
        updated_at=now,
    )
    if not changed:
        raise ConflictError(
            "not_finished", f"Only Failed or Stopped jobs can be retried; this one is {job.status}."
        )
    _job_log(job, f"Retried by {getattr(user, 'username', 'someone')}.")
    job.refresh_from_db()
    dispatch_on_commit(job)
    return job
