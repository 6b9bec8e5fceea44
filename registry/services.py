"""Registry writes: registering model versions (from a training job or an upload), their
approval, their model card.

Permission to reach a project or a package is checked before (``selectors.access_*``);
approving and rejecting additionally need the project's owner role, checked here since it is
the rule of the decision itself, whoever calls. An upload is never unpickled here: it is
stored as it came and checked by a job (:mod:`registry.runners`) in a limited child process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from registry.models import (
    MODEL_CARD_FIELDS,
    ApprovalStatus,
    ModelPackage,
    ModelPackageApproval,
    ModelPackageGroup,
    PackageSource,
    PackageStatus,
)
from studio import storage
from studio.choices import JobStatus, Queue
from studio.errors import ConflictError, ServiceError
from studio.models import Dataset, Project
from studio.selectors import check_role, membership_of
from studio.services import NAME_RE, job_submit
from training.models import Run, TrainingJob

logger = logging.getLogger("registry")

VALIDATE_JOB_KIND: Final = "registry.validate"
#: How long an upload's check may take (loading and predicting a few rows).
VALIDATION_TIMEOUT_SECONDS: Final = 900
MAX_TEXT: Final = 20_000
MAX_COMMENT: Final = 5_000


def _invalid(message: str, field: str | None) -> ServiceError:
    return ServiceError("invalid", message, field=field)


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _display_name(filename: str) -> str:
    """An uploaded file's name as data: its last part, printable, at most 255 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable())[:255]


def package_prefix(package_id: int) -> str:
    return f"registry/packages/{package_id}"


def artifact_key_for(package_id: int) -> str:
    return f"{package_prefix(package_id)}/model.tar.gz"


# --------------------------------------------------------------------------- groups


def _check_group_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name.strip()):
        raise _invalid(
            "A model group's name is 1–200 letters, digits, spaces, '.', '_' or '-', starting "
            "with a letter or digit.",
            "group",
        )
    return name.strip()


def _check_text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{field} is text.", field)
    if len(value) > limit:
        raise _invalid(f"{field} is at most {limit:,} characters.", field)
    return value.strip()


def model_package_group_create(
    *, project: Project, user: Any, name: Any, description: Any = ""
) -> ModelPackageGroup:
    name = _check_group_name(name)
    if ModelPackageGroup.objects.filter(project=project, name=name).exists():
        raise ConflictError("exists", f"There is already a model group {name!r}.", field="group")
    try:
        with transaction.atomic():
            return ModelPackageGroup.objects.create(
                project=project,
                name=name,
                description=_check_text(description, "description"),
                created_by=_user_or_none(user),
            )
    except IntegrityError:  # created by a concurrent request since the check above
        raise ConflictError("exists", f"There is already a model group {name!r}.", field="group")


def ensure_model_package_group(*, project: Project, user: Any, name: Any) -> ModelPackageGroup:
    """The project's model group of that name, made on first use."""
    name = _check_group_name(name)
    found = ModelPackageGroup.objects.filter(project=project, name=name).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return ModelPackageGroup.objects.create(
                project=project, name=name, created_by=_user_or_none(user)
            )
    except IntegrityError:
        return ModelPackageGroup.objects.get(project=project, name=name)


def model_package_group_update(*, group: ModelPackageGroup, description: Any) -> ModelPackageGroup:
    group.description = _check_text(description, "description")
    group.save(update_fields=["description"])
    return group


# --------------------------------------------------------------------------- model cards


def check_model_card(value: Any, *, current: dict[str, Any] | None = None) -> dict[str, str]:
    """The model card with ``value``'s sections replacing ``current``'s (an empty text
    clears a section); every section is free text."""
    card = {k: str(v) for k, v in (current or {}).items() if k in MODEL_CARD_FIELDS}
    if value in (None, ""):
        return card
    if not isinstance(value, dict):
        raise _invalid(
            f"model_card is an object of sections: {', '.join(MODEL_CARD_FIELDS)}.", "model_card"
        )
    for key, text in value.items():
        if key not in MODEL_CARD_FIELDS:
            raise _invalid(
                f"Unknown model card section {key!r}; one of {', '.join(MODEL_CARD_FIELDS)}.",
                f"model_card.{key}",
            )
        checked = _check_text(text, f"model_card.{key}")
        if checked:
            card[key] = checked
        else:
            card.pop(key, None)
    return card


# --------------------------------------------------------------------------- registering


def _next_version(group: ModelPackageGroup) -> tuple[ModelPackageGroup, int]:
    """Call inside a transaction: the group row stays locked until it commits, so two
    registrations never take the same number."""
    locked = ModelPackageGroup.objects.select_for_update().get(pk=group.pk)
    current = ModelPackage.objects.filter(group=locked).aggregate(v=Max("version"))["v"]
    return locked, (current or 0) + 1


def _training_job_of(project: Project, value: Any) -> TrainingJob:
    pk = value.pk if isinstance(value, TrainingJob) else value
    if isinstance(pk, bool) or not isinstance(pk, int | str):
        raise _invalid("training_job is a training job's id.", "training_job")
    try:
        key = int(pk)
    except ValueError:
        raise _invalid("training_job is a training job's id.", "training_job")
    training = TrainingJob.objects.select_related("job").filter(project=project, pk=key).first()
    if training is None:
        raise _invalid(f"There is no training job {key} in this project.", "training_job")
    return training


def _origin(training: TrainingJob) -> dict[str, Any]:
    """What the package came from, kept on it: its lineage survives their deletion."""
    run = Run.objects.filter(training_job=training).first()
    known = {i.get("channel"): i for i in (run.inputs if run is not None else [])}
    datasets = {d.pk: d for d in Dataset.objects.filter(pk__in=training.channels.values())}
    channels = []
    for channel, dataset_id in training.channels.items():
        dataset = datasets.get(dataset_id)
        logged = known.get(channel) or {}
        channels.append(
            {
                "channel": channel,
                "dataset": dataset_id,
                "name": dataset.name if dataset is not None else logged.get("name"),
                "version": dataset.version if dataset is not None else logged.get("version"),
                "rows": dataset.num_rows if dataset is not None else None,
            }
        )
    return {
        "training_job": {
            "id": training.pk,
            "name": training.name,
            "algorithm": training.algorithm,
            "job": training.job_id,
            "run": run.pk if run is not None else None,
        },
        "datasets": channels,
    }


def _training_data_text(origin: dict[str, Any]) -> str:
    parts = []
    for item in origin["datasets"]:
        rows = f", {item['rows']:,} rows" if item.get("rows") is not None else ""
        parts.append(f"{item['channel']}: {item['name']} v{item['version']}{rows}")
    job = origin["training_job"]
    return f"Trained by training job #{job['id']} ({job['algorithm']}) on " + "; ".join(parts) + "."


@transaction.atomic
def model_package_create(
    *,
    project: Project,
    user: Any,
    group: Any,
    training_job: Any = None,
    artifact: Any = None,
    input_schema: Any = None,
    problem_type: Any = None,
    classes: Any = None,
    description: Any = "",
    model_card: Any = None,
) -> ModelPackage:
    """Register a new version in the model group named ``group`` (made on first use).

    From ``training_job`` (a Completed job of this project whose artifact holds a model):
    the artifact is copied to the package's own key and the package is Completed at once.
    From ``artifact`` (an uploaded file): it is stored as it came and a job checks it in a
    limited child process; the package is Pending until that job ends it Completed or Failed.
    """
    if (training_job in (None, "")) == (artifact is None):
        raise _invalid("Give exactly one of training_job or artifact.", "training_job")
    description = _check_text(description, "description")
    card = check_model_card(model_card)
    if training_job not in (None, ""):
        for given, field in (
            (input_schema, "input_schema"),
            (problem_type, "problem_type"),
            (classes, "classes"),
        ):
            if given not in (None, "", []):
                raise _invalid(f"{field} goes with an uploaded artifact.", field)
        training = _training_job_of(project, training_job)
        return _from_training_job(
            project=project,
            user=user,
            group_name=group,
            training=training,
            description=description,
            card=card,
        )
    return _from_upload(
        project=project,
        user=user,
        group_name=group,
        upload=artifact,
        input_schema=input_schema,
        problem_type=problem_type,
        classes=classes,
        description=description,
        card=card,
    )


def _from_training_job(
    *,
    project: Project,
    user: Any,
    group_name: Any,
    training: TrainingJob,
    description: str,
    card: dict[str, str],
) -> ModelPackage:
    from registry.engine import (
        PackageError,
        inspect_archive,
    )

    name = f"training job #{training.pk} ({training.name})"
    if training.job.status != JobStatus.COMPLETED:
        raise _invalid(f"The {name} is {training.job.status}, not Completed.", "training_job")
    if not training.model_artifact_key or not storage.exists(training.model_artifact_key):
        raise _invalid(f"The {name} has no model artifact.", "training_job")
    group = ensure_model_package_group(project=project, user=user, name=group_name)
    origin = _origin(training)
    if "training_data" not in card:
        card["training_data"] = _training_data_text(origin)
    with storage.open_local(training.model_artifact_key) as path:
        try:
            info = inspect_archive(path)
        except PackageError as exc:
            raise _invalid(f"The {name}'s artifact: {exc.message}", "training_job") from None
        if not info.servable:
            if training.algorithm == "script":
                raise _invalid(
                    f"The {name} is a script whose model folder holds no model Sextant can "
                    "serve (a sextant-model/1 archive with model.joblib). Upload the model "
                    "instead: a scikit-learn estimator saved with joblib, or an XGBoost model.",
                    "training_job",
                )
            raise _invalid(f"The {name}'s artifact holds no model to serve.", "training_job")
        group, version = _next_version(group)
        package = ModelPackage.objects.create(
            project=project,
            group=group,
            version=version,
            status=PackageStatus.COMPLETED,
            source=PackageSource.TRAINING_JOB,
            training_job=training,
            metadata=info.metadata,
            metrics=dict(training.final_metrics or {}),
            model_card=card,
            description=description,
            origin=origin,
            created_by=_user_or_none(user),
        )
        key = artifact_key_for(package.pk)
        try:
            size = storage.put_file(key, path)  # a copy: the job's own stays where it is
        except BaseException:
            storage.delete_prefix(package_prefix(package.pk))
            raise
    package.artifact_key, package.artifact_size = key, size
    package.save(update_fields=["artifact_key", "artifact_size"])
    return package


def _from_upload(
    *,
    project: Project,
    user: Any,
    group_name: Any,
    upload: Any,
    input_schema: Any,
    problem_type: Any,
    classes: Any,
    description: str,
    card: dict[str, str],
) -> ModelPackage:
    from registry.engine import (
        PackageError,
        check_classes,
        check_input_schema,
        check_problem_type,
        inspect_archive,
        upload_kind,
    )
    from registry.engine.package import ARCHIVE, suffix_of

    if not hasattr(upload, "read"):
        raise _invalid("artifact is an uploaded file.", "artifact")
    filename = str(getattr(upload, "name", "") or "")
    try:
        kind = upload_kind(filename)
        suffix = suffix_of(filename)
        problem = check_problem_type(problem_type)
        labels = check_classes(classes)
        schema = None
        if kind == ARCHIVE:
            for given, field in ((input_schema, "input_schema"), (labels, "classes")):
                if given not in (None, "", []):
                    raise PackageError(f"A model.tar.gz carries its own {field}.", field)
        elif input_schema in (None, "", []):
            raise PackageError(
                "input_schema is required for this model: the list of its input columns, in "
                'order (["age", "income"] or [{"name": "age", "type": "float"}, …]).',
                "input_schema",
            )
        else:
            schema = check_input_schema(input_schema)
    except PackageError as exc:
        raise _invalid(exc.message, exc.field) from None
    size = int(getattr(upload, "size", 0) or 0)
    if size == 0:
        raise ServiceError("empty_file", "The file is empty.", field="artifact")
    if size > settings.SEXTANT_MAX_UPLOAD_BYTES:
        raise ServiceError(
            "too_large",
            f"The file is larger than the limit of {settings.SEXTANT_MAX_UPLOAD_BYTES} bytes.",
            field="artifact",
        )
    group = ensure_model_package_group(project=project, user=user, name=group_name)
    group, version = _next_version(group)
    package = ModelPackage.objects.create(
        project=project,
        group=group,
        version=version,
        status=PackageStatus.PENDING,
        source=PackageSource.UPLOAD,
        upload_filename=_display_name(filename),
        upload_kind=kind,
        upload_request={"input_schema": schema, "problem_type": problem, "classes": labels},
        model_card=card,
        description=description,
        created_by=_user_or_none(user),
    )
    # The stored name is made here; the uploaded one is only shown.
    package.upload_key = f"{package_prefix(package.pk)}/upload{suffix}"
    try:
        storage.put_upload(package.upload_key, upload)
        if kind == ARCHIVE:
            with storage.open_local(package.upload_key) as path:
                info = inspect_archive(path)
            if not info.servable:
                raise PackageError(
                    f"The archive's format is {info.metadata.get('format')!r} with "
                    f"{'a' if 'model.joblib' in info.members else 'no'} model.joblib: it holds "
                    "no model Sextant can serve (sextant-model/1).",
                    "artifact",
                )
    except PackageError as exc:
        storage.delete_prefix(package_prefix(package.pk))
        raise _invalid(exc.message, exc.field) from None
    except BaseException:
        storage.delete_prefix(package_prefix(package.pk))
        raise
    job = job_submit(
        project=project,
        kind=VALIDATE_JOB_KIND,
        owner=user,
        name=f"Validate model {group.name} v{version}",
        parameters={"model_package": package.pk},
        inputs={"model_package": package.pk},
        resources={"max_runtime_seconds": VALIDATION_TIMEOUT_SECONDS},
        queue=Queue.CPU,
    )
    package.job = job
    package.save(update_fields=["upload_key", "job"])
    return package


# --------------------------------------------------------------------------- the check's end


def model_package_validation_started(*, package_id: int) -> None:
    """The upload's check has started (a retried job finds it InProgress already)."""
    ModelPackage.objects.filter(
        pk=package_id, status__in=(PackageStatus.PENDING, PackageStatus.FAILED)
    ).update(status=PackageStatus.IN_PROGRESS, failure_reason="", updated_at=timezone.now())


@transaction.atomic
def model_package_complete(
    *, package_id: int, path: Path, metadata: dict[str, Any]
) -> ModelPackage:
    """Keep the checked archive at ``path`` (moved) as the package's, and mark it Completed."""
    package = ModelPackage.objects.select_for_update().get(pk=package_id)
    key = artifact_key_for(package.pk)
    package.artifact_size = storage.put_file(key, path, move=True)
    package.artifact_key = key
    package.metadata = metadata
    package.metrics = {
        str(k): float(v)
        for k, v in (metadata.get("metrics") or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    package.status = PackageStatus.COMPLETED
    package.failure_reason = ""
    package.save(
        update_fields=[
            "artifact_key",
            "artifact_size",
            "metadata",
            "metrics",
            "status",
            "failure_reason",
            "updated_at",
        ]
    )
    return package


def model_package_fail(*, package_id: int, reason: str) -> None:
    """A package whose check did not complete ends Failed, with the reason (never after
    it has Completed)."""
    ModelPackage.objects.filter(
        pk=package_id, status__in=(PackageStatus.PENDING, PackageStatus.IN_PROGRESS)
    ).update(
        status=PackageStatus.FAILED,
        failure_reason=reason or "The model's check did not complete.",
        updated_at=timezone.now(),
    )


# --------------------------------------------------------------------------- approval


@transaction.atomic
def _decide(*, package: ModelPackage, user: Any, status: str, comment: Any) -> ModelPackage:
    # The project's owners decide what may be deployed; scientists register, they do not
    # approve their own work.
    check_role(
        membership_of(user, package.project_id), write=True, admin=True, what="model package"
    )
    comment = _check_text(comment, "comment", MAX_COMMENT)
    package = ModelPackage.objects.select_for_update().select_related("group").get(pk=package.pk)
    if status == ApprovalStatus.APPROVED and package.status != PackageStatus.COMPLETED:
        raise ConflictError(
            "not_completed",
            f"{package} is {package.status}: only a Completed package can be approved.",
            field="approval_status",
        )
    if package.approval_status == status:
        return package  # deciding the same again changes nothing and records nothing
    now = timezone.now()
    ModelPackageApproval.objects.create(
        package=package,
        status=status,
        previous_status=package.approval_status,
        user=_user_or_none(user),
        comment=comment,
    )
    package.approval_status = status
    package.approval_updated_by = _user_or_none(user)
    package.approval_updated_at = now
    package.approval_comment = comment
    package.save(
        update_fields=[
            "approval_status",
            "approval_updated_by",
            "approval_updated_at",
            "approval_comment",
            "updated_at",
        ]
    )
    return package


def model_package_approve(*, package: ModelPackage, user: Any, comment: Any = "") -> ModelPackage:
    """Clear a Completed package for deployment (owners only; recorded in its history)."""
    return _decide(package=package, user=user, status=ApprovalStatus.APPROVED, comment=comment)


def model_package_reject(*, package: ModelPackage, user: Any, comment: Any = "") -> ModelPackage:
    """Refuse a package for deployment (owners only; recorded in its history)."""
    return _decide(package=package, user=user, status=ApprovalStatus.REJECTED, comment=comment)


@transaction.atomic
def model_package_update(
    *, package: ModelPackage, description: Any = None, model_card: Any = None
) -> ModelPackage:
    """Change the description, or sections of the model card (the others stay)."""
    package = ModelPackage.objects.select_for_update().select_related("group").get(pk=package.pk)
    if description is not None:
        package.description = _check_text(description, "description")
    if model_card is not None:
        package.model_card = check_model_card(model_card, current=package.model_card)
    package.save(update_fields=["description", "model_card", "updated_at"])
    return package
