"""The model registry: groups of versioned model packages, their approval and model card.

Invariants:
- A package is ``Completed`` only once ``artifact_key`` names a ``sextant-model/1`` archive
  (``model.tar.gz``) in storage that :func:`training.engine.artifact.load` loads, and
  ``metadata`` holds that archive's ``metadata.json``. The archive is the package's own copy:
  deleting the training job it came from leaves it whole.
- Versions count 1, 2, … within a group, allocated under a lock on the group row.
- Every approval decision is kept in :class:`ModelPackageApproval`, in order.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PackageStatus(models.TextChoices):
    """Whether the package's artifact is ready to serve (SageMaker's ModelPackageStatus)."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"


class ApprovalStatus(models.TextChoices):
    """Whether people have cleared it for deployment (SageMaker's ModelApprovalStatus)."""

    PENDING_MANUAL_APPROVAL = "PendingManualApproval", "Pending approval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class PackageSource(models.TextChoices):
    TRAINING_JOB = "training_job", "Training job"
    UPLOAD = "upload", "Upload"


#: The model card's sections, in the order a reader meets them.
MODEL_CARD_FIELDS = (
    "intended_use",
    "out_of_scope",
    "training_data",
    "evaluation",
    "caveats",
    "ethical_considerations",
)


class ModelPackageGroup(models.Model):
    """A named line of model versions in a project (one problem, many versions)."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="model_package_groups"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="model_group_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ModelPackage(models.Model):
    """One version of a model: its artifact, what it takes and predicts, its metrics, its
    model card, where it came from, and whether it is approved for deployment."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="model_packages"
    )
    group = models.ForeignKey(ModelPackageGroup, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=PackageStatus.choices, default=PackageStatus.PENDING
    )
    approval_status = models.CharField(
        max_length=24,
        choices=ApprovalStatus.choices,
        default=ApprovalStatus.PENDING_MANUAL_APPROVAL,
    )
    approval_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approval_updated_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True, default="")
    source = models.CharField(max_length=16, choices=PackageSource.choices)
    training_job = models.ForeignKey(
        "training.TrainingJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_packages",
    )
    # The job that checks an upload (null for a package made from a training job).
    job = models.ForeignKey(
        "studio.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An upload as it came (kept for download and re-validation); its name is only data.
    upload_key = models.CharField(max_length=500, blank=True, default="")
    upload_filename = models.CharField(max_length=255, blank=True, default="")
    upload_kind = models.CharField(max_length=16, blank=True, default="")
    upload_request = models.JSONField(default=dict, blank=True)  # schema, problem type, classes
    # The training job and datasets it came from, as they were when it was registered: its
    # lineage still reads after they are deleted.
    origin = models.JSONField(default=dict, blank=True)
    artifact_key = models.CharField(max_length=500, blank=True, default="")
    artifact_size = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)  # the archive's metadata.json
    metrics = models.JSONField(default=dict, blank=True)
    model_card = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    failure_reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "version"], name="model_package_unique_version"
            )
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="model_package_recent"),
            models.Index(fields=["group", "-version"], name="model_package_versions"),
        ]

    def __str__(self) -> str:
        return f"{self.group.name} v{self.version}"

    @property
    def is_completed(self) -> bool:
        return self.status == PackageStatus.COMPLETED

    @property
    def problem_type(self) -> str:
        return str((self.metadata or {}).get("problem_type") or "")

    @property
    def input_schema(self) -> list[dict[str, str]]:
        return list((self.metadata or {}).get("input_schema") or [])

    @property
    def classes(self) -> list[object]:
        return list((self.metadata or {}).get("classes") or [])


class ModelPackageApproval(models.Model):
    """One approval decision: who set which status, when, and why."""

    package = models.ForeignKey(ModelPackage, on_delete=models.CASCADE, related_name="approvals")
    status = models.CharField(max_length=24, choices=ApprovalStatus.choices)
    previous_status = models.CharField(max_length=24, choices=ApprovalStatus.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.package} → {self.status}"
