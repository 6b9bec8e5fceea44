"""Input and output shapes of the core API. Serializers validate and shape; they never save."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from studio.choices import Queue, Role
from studio.models import Dataset, Job, JobLog, Membership, Project


class ProjectIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectPatch(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    allow_unapproved_deployments = serializers.BooleanField(required=False)


class ProjectOut(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "created_by",
            "created_at",
            "role",
            "allow_unapproved_deployments",
        ]

    def get_role(self, obj: Project) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(obj.pk)


class MemberIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberOut(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]


class DatasetIn(serializers.Serializer):
    project = serializers.IntegerField()
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ColumnOut(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField()
    nullable = serializers.BooleanField()


class DatasetOut(serializers.ModelSerializer):
    columns = ColumnOut(many=True)
    created_by = serializers.CharField(source="created_by.username")
    has_profile = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "project",
            "name",
            "version",
            "status",
            "format",
            "num_rows",
            "columns",
            "failure_reason",
            "created_at",
            "updated_at",
            "created_by",
            "source_filename",
            "source_bytes",
            "ingest_job",
            "profile_job",
            "has_profile",
            "links",
        ]

    def get_has_profile(self, obj: Dataset) -> bool:
        return obj.profile is not None

    def get_links(self, obj: Dataset) -> dict[str, str]:
        return {
            "preview": reverse("api-dataset-preview", args=[obj.pk]),
            "profile": reverse("api-dataset-profile", args=[obj.pk]),
            "download": reverse("api-dataset-download", args=[obj.pk]),
            "page": reverse("dataset-detail", args=[obj.pk]),
        }


class JobOut(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", default=None)
    duration_seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "name",
            "owner",
            "status",
            "queue",
            "resources",
            "parameters",
            "inputs",
            "outputs",
            "failure_reason",
            "pending_reason",
            "progress",
            "attempts",
            "max_attempts",
            "worker",
            "heartbeat_at",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]


class DiagnosticJobIn(serializers.Serializer):
    project = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=["diagnostic.noop", "diagnostic.sleep", "diagnostic.crash"]
    )
    parameters = serializers.DictField(required=False, default=dict)
    resources = serializers.DictField(required=False, default=dict)
    queue = serializers.ChoiceField(choices=Queue.choices, required=False)


class JobLogOut(serializers.ModelSerializer):
    class Meta:
        model = JobLog
        fields = ["id", "created_at", "level", "message"]


class PreviewOut(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    dtypes = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField())


def role_map(memberships: Any) -> dict[int, str]:
    return {m.project_id: m.role for m in memberships}
