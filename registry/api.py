"""The registry API: model packages (versions of a model, registered from a training job or
uploaded), their approval and model card, lineage and artifact; and model package groups."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from registry import selectors, services
from registry.models import (
    MODEL_CARD_FIELDS,
    ApprovalStatus,
    ModelPackage,
    ModelPackageGroup,
    PackageStatus,
)
from studio import storage
from studio.api.views import check_filters, validated
from studio.errors import ConflictError, ServiceError
from studio.selectors import access_project


class ModelPackageIn(serializers.Serializer):
    project = serializers.IntegerField()
    group = serializers.CharField(
        max_length=200, help_text="The model group's name; made on first use."
    )
    training_job = serializers.IntegerField(
        required=False, help_text="A Completed training job of the project (JSON body)."
    )
    artifact = serializers.FileField(
        required=False,
        allow_empty_file=True,  # the service refuses it in its own words
        help_text="Multipart: a Sextant model.tar.gz, a scikit-learn model saved with joblib "
        "or pickle (.joblib, .pkl), or an XGBoost model (.json, .ubj).",
    )
    input_schema = serializers.JSONField(
        required=False,
        error_messages={
            # DRF formats these messages: braces are doubled.
            "invalid": 'input_schema is a JSON list: ["age", "income"] or '
            '[{{"name": "age", "type": "float"}}, …].'
        },
        help_text='The input columns, in order: ["age", "income"] or '
        '[{"name": "age", "type": "float"}, …] (required for .joblib/.pkl/.json/.ubj).',
    )
    problem_type = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Inferred when left out."
    )
    classes = serializers.JSONField(
        required=False,
        help_text="An XGBoost classifier's labels, in the order of its outputs.",
        error_messages={"invalid": 'classes is a JSON list of labels: ["no", "yes"].'},
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    model_card = serializers.JSONField(
        required=False,
        help_text="Sections: " + ", ".join(MODEL_CARD_FIELDS),
        error_messages={"invalid": "model_card is a JSON object of sections."},
    )


class ModelPackagePatch(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    model_card = serializers.JSONField(
        required=False,
        help_text="Sections to change (an empty text clears one): " + ", ".join(MODEL_CARD_FIELDS),
    )


class DecisionIn(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ModelPackageOut(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name")
    name = serializers.CharField(source="__str__")
    created_by = serializers.CharField(source="created_by.username", default=None)
    approval_updated_by = serializers.CharField(source="approval_updated_by.username", default=None)
    problem_type = serializers.SerializerMethodField()
    algorithm = serializers.SerializerMethodField()
    classes = serializers.SerializerMethodField()
    input_schema = serializers.SerializerMethodField()
    framework = serializers.SerializerMethodField()
    artifact = serializers.SerializerMethodField()
    upload = serializers.SerializerMethodField()

    class Meta:
        model = ModelPackage
        fields = [
            "id",
            "project",
            "group",
            "group_id",
            "version",
            "name",
            "status",
            "approval_status",
            "approval_updated_by",
            "approval_updated_at",
            "approval_comment",
            "source",
            "training_job",
            "job",
            "problem_type",
            "algorithm",
            "classes",
            "input_schema",
            "framework",
            "metrics",
            "model_card",
            "description",
            "artifact",
            "upload",
            "failure_reason",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def _meta(self, obj: ModelPackage, key: str) -> Any:
        return (obj.metadata or {}).get(key)

    def get_problem_type(self, obj: ModelPackage) -> str | None:
        return self._meta(obj, "problem_type")

    def get_algorithm(self, obj: ModelPackage) -> str | None:
        return self._meta(obj, "algorithm")

    def get_classes(self, obj: ModelPackage) -> list[Any] | None:
        return self._meta(obj, "classes")

    def get_input_schema(self, obj: ModelPackage) -> list[dict[str, str]]:
        return obj.input_schema

    def get_framework(self, obj: ModelPackage) -> dict[str, str]:
        return dict(self._meta(obj, "framework") or {})

    def get_artifact(self, obj: ModelPackage) -> dict[str, Any] | None:
        if obj.status != PackageStatus.COMPLETED or not obj.artifact_key:
            return None
        url = reverse("api-model-package-artifact", args=[obj.pk])
        request = self.context.get("request")
        return {
            "key": obj.artifact_key,
            "size": obj.artifact_size,
            "url": request.build_absolute_uri(url) if request is not None else url,
        }

    def get_upload(self, obj: ModelPackage) -> dict[str, str] | None:
        if not obj.upload_key:
            return None
        return {"filename": obj.upload_filename, "kind": obj.upload_kind}


class ModelPackageGroupIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ModelPackageGroupPatch(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)


class ModelPackageGroupOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    version_count = serializers.IntegerField(default=0)
    latest_version = serializers.IntegerField(default=None)
    latest_approved_version = serializers.IntegerField(default=None)
    updated_at = serializers.DateTimeField(default=None)

    class Meta:
        model = ModelPackageGroup
        fields = [
            "id",
            "project",
            "name",
            "description",
            "version_count",
            "latest_version",
            "latest_approved_version",
            "created_by",
            "created_at",
            "updated_at",
        ]


def _check_choice(filters: dict[str, str], name: str, values: list[str]) -> None:
    if filters.get(name) and filters[name] not in values:
        raise ServiceError(
            "invalid", f"Unknown {name} {filters[name]!r}; one of {', '.join(values)}.", field=name
        )


class ModelPackageViewSet(viewsets.GenericViewSet):
    """SageMaker's model packages: versions of a model in a group, registered from a
    training job (JSON) or uploaded (multipart, the structured fields as JSON strings), each
    approved or rejected by the project's owners before deployment."""

    serializer_class = ModelPackageOut
    queryset = ModelPackage.objects.none()
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    FILTERS = {"project", "group", "approval_status", "status"}

    def _out(self, package: ModelPackage) -> dict[str, Any]:
        return dict(ModelPackageOut(package, context={"request": self.request}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("group", str, description="The group's id or name."),
            OpenApiParameter("approval_status", str, enum=ApprovalStatus.values),
            OpenApiParameter("status", str, enum=PackageStatus.values),
        ],
        responses=ModelPackageOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        _check_choice(filters, "approval_status", list(ApprovalStatus.values))
        _check_choice(filters, "status", list(PackageStatus.values))
        qs = selectors.model_package_list(
            request.user,
            project_id=filters.get("project"),
            group=filters.get("group"),
            approval_status=filters.get("approval_status"),
            status=filters.get("status"),
        )
        page = self.paginate_queryset(qs)
        out = ModelPackageOut(page, many=True, context={"request": request})
        return self.get_paginated_response(out.data)

    @extend_schema(
        request={"application/json": ModelPackageIn, "multipart/form-data": ModelPackageIn},
        responses={201: ModelPackageOut},
    )
    def create(self, request: Request) -> Response:
        data = validated(ModelPackageIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        package = services.model_package_create(
            project=project,
            user=request.user,
            group=data["group"],
            training_job=data.get("training_job"),
            artifact=data.get("artifact"),
            input_schema=data.get("input_schema"),
            problem_type=data.get("problem_type"),
            classes=data.get("classes"),
            description=data.get("description", ""),
            model_card=data.get("model_card"),
        )
        # An upload's check may have run already (inline mode): answer with what is now.
        package = selectors.access_model_package(request.user, package.pk)
        return Response(self._out(package), status=status.HTTP_201_CREATED)

    @extend_schema(responses=ModelPackageOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._out(selectors.access_model_package(request.user, pk)))

    @extend_schema(request=ModelPackagePatch, responses=ModelPackageOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        package = selectors.access_model_package(request.user, pk, write=True)
        data = validated(ModelPackagePatch, request.data)
        package = services.model_package_update(
            package=package, description=data.get("description"), model_card=data.get("model_card")
        )
        return Response(self._out(selectors.access_model_package(request.user, package.pk)))

    @extend_schema(request=DecisionIn, responses=ModelPackageOut)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Approve the package for deployment (the project's owners; Completed packages)."""
        package = selectors.access_model_package(request.user, pk, write=True)
        data = validated(DecisionIn, request.data)
        services.model_package_approve(package=package, user=request.user, comment=data["comment"])
        return Response(self._out(selectors.access_model_package(request.user, pk)))

    @extend_schema(request=DecisionIn, responses=ModelPackageOut)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Reject the package for deployment (the project's owners)."""
        package = selectors.access_model_package(request.user, pk, write=True)
        data = validated(DecisionIn, request.data)
        services.model_package_reject(package=package, user=request.user, comment=data["comment"])
        return Response(self._out(selectors.access_model_package(request.user, pk)))

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def approvals(self, request: Request, pk: str) -> Response:
        """The approval history, oldest first: ``status, previous_status, user, comment,
        created_at``."""
        package = selectors.access_model_package(request.user, pk)
        return Response(
            [
                {
                    "status": a.status,
                    "previous_status": a.previous_status,
                    "user": a.user.get_username() if a.user else None,
                    "comment": a.comment,
                    "created_at": a.created_at,
                }
                for a in selectors.approval_history(package)
            ]
        )

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def lineage(self, request: Request, pk: str) -> Response:
        """Datasets → training job → this package → what was made from it (endpoints…)."""
        package = selectors.access_model_package(request.user, pk)
        return Response(selectors.package_lineage(package))

    @extend_schema(responses={(200, "application/gzip"): bytes})
    @action(detail=True, methods=["get"])
    def artifact(self, request: Request, pk: str) -> FileResponse:
        """The package's ``model.tar.gz`` (``sextant-model/1``), once it is Completed."""
        package = selectors.access_model_package(request.user, pk)
        if package.status != PackageStatus.COMPLETED or not storage.exists(package.artifact_key):
            raise ConflictError(
                "not_completed", f"{package} is {package.status}: it has no model artifact yet."
            )
        response = FileResponse(
            storage.open_read(package.artifact_key),
            as_attachment=True,
            filename=f"{package.group.name}-v{package.version}-model.tar.gz".replace(" ", "_"),
            content_type="application/gzip",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ModelPackageGroupViewSet(viewsets.GenericViewSet):
    """Model package groups: a named line of versions, with their count, the latest and the
    latest approved version."""

    serializer_class = ModelPackageGroupOut
    queryset = ModelPackageGroup.objects.none()

    def _annotated(self, group: ModelPackageGroup) -> ModelPackageGroup:
        found = selectors.model_package_group_list(self.request.user).filter(pk=group.pk).first()
        return found or group

    @extend_schema(
        parameters=[OpenApiParameter("project", int)], responses=ModelPackageGroupOut(many=True)
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project"})
        qs = selectors.model_package_group_list(request.user, project_id=filters.get("project"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ModelPackageGroupOut(page, many=True).data)

    @extend_schema(request=ModelPackageGroupIn, responses={201: ModelPackageGroupOut})
    def create(self, request: Request) -> Response:
        data = validated(ModelPackageGroupIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        group = services.model_package_group_create(
            project=project,
            user=request.user,
            name=data["name"],
            description=data.get("description", ""),
        )
        return Response(
            ModelPackageGroupOut(self._annotated(group)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses=ModelPackageGroupOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        group = selectors.access_model_package_group(request.user, pk)
        return Response(ModelPackageGroupOut(self._annotated(group)).data)

    @extend_schema(request=ModelPackageGroupPatch, responses=ModelPackageGroupOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        group = selectors.access_model_package_group(request.user, pk, write=True)
        data = validated(ModelPackageGroupPatch, request.data)
        group = services.model_package_group_update(group=group, description=data["description"])
        return Response(ModelPackageGroupOut(self._annotated(group)).data)
