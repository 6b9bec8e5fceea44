"""Viewsets of the core API. They check access (selectors), call services, and shape output."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from studio import selectors, services, storage
from studio.api.serializers import (
    DatasetIn,
    DatasetOut,
    DiagnosticJobIn,
    JobLogOut,
    JobOut,
    MemberIn,
    MemberOut,
    PreviewOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    role_map,
)
from studio.choices import DatasetStatus, JobStatus, Queue
from studio.errors import ConflictError, ServiceError
from studio.models import Dataset, Job, Membership, Project

COMMON_PARAMS = {"page", "page_size", "format"}


def check_filters(request: Request, allowed: set[str]) -> dict[str, str]:
    """Only allow-listed query parameters; anything else is refused, not silently ignored."""
    unknown = sorted(set(request.query_params) - allowed - COMMON_PARAMS)
    if unknown:
        raise ServiceError(
            "unknown_filter",
            f"Unknown query parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}.",
            field=unknown[0],
        )
    return {k: v for k, v in request.query_params.items() if k in allowed and v != ""}


def check_choice(filters: dict[str, str], name: str, choices: Any) -> str | None:
    """The filter ``name`` if given, which must be one of ``choices`` (else a 400)."""
    value = filters.get(name)
    if value and value not in choices:
        raise ServiceError("invalid", f"Unknown {name} {value!r}.", field=name)
    return value or None


def validated(serializer_class: Any, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ProjectViewSet(viewsets.GenericViewSet):
    serializer_class = ProjectOut
    queryset = Project.objects.none()  # for the schema only: reads go through selectors

    @extend_schema(responses=ProjectOut(many=True))
    def list(self, request: Request) -> Response:
        check_filters(request, set())
        projects = selectors.project_list(request.user)
        roles = role_map(Membership.objects.filter(user=request.user))
        page = self.paginate_queryset(projects)
        return self.get_paginated_response(
            ProjectOut(page, many=True, context={"roles": roles}).data
        )

    @extend_schema(request=ProjectIn, responses={201: ProjectOut})
    def create(self, request: Request) -> Response:
        data = validated(ProjectIn, request.data)
        project = services.project_create(user=request.user, **data)
        return Response(
            ProjectOut(project, context={"roles": {project.pk: "owner"}}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses=ProjectOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        project = selectors.access_project(request.user, pk, any_member=True)
        roles = role_map(Membership.objects.filter(user=request.user, project=project))
        return Response(ProjectOut(project, context={"roles": roles}).data)

    @extend_schema(request=ProjectPatch, responses=ProjectOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Rename, describe, or allow packages that are not Approved to deploy (owners)."""
        project = selectors.access_project(request.user, pk, admin=True)
        project = services.project_update(project=project, **validated(ProjectPatch, request.data))
        roles = role_map(Membership.objects.filter(user=request.user, project=project))
        return Response(ProjectOut(project, context={"roles": roles}).data)

    @extend_schema(methods=["GET"], responses=MemberOut(many=True))
    @extend_schema(methods=["POST"], request=MemberIn, responses={201: MemberOut})
    @action(detail=True, methods=["get", "post"], url_path="members")
    def members(self, request: Request, pk: str) -> Response:
        if request.method == "POST":
            project = selectors.access_project(request.user, pk, admin=True)
            data = validated(MemberIn, request.data)
            membership = services.project_member_add(project=project, **data)
            return Response(MemberOut(membership).data, status=status.HTTP_201_CREATED)
        project = selectors.access_project(request.user, pk)
        members = project.memberships.select_related("user").order_by("user__username")
        return Response(MemberOut(members, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[\w.@+-]+)")
    def remove_member(self, request: Request, pk: str, username: str) -> Response:
        project = selectors.access_project(request.user, pk, admin=True)
        services.project_member_remove(project=project, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetViewSet(viewsets.GenericViewSet):
    serializer_class = DatasetOut
    queryset = Dataset.objects.none()
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    FILTERS = {"project", "name", "status", "format", "latest", "search"}

    @extend_schema(
        parameters=[OpenApiParameter("project", int), OpenApiParameter("latest", bool)],
        responses=DatasetOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        project = (
            selectors.access_project(request.user, filters["project"])
            if "project" in filters
            else None
        )
        qs = selectors.dataset_list(
            request.user,
            project=project,
            latest_only=filters.get("latest", "").lower() in {"1", "true"},
            search=filters.get("search", ""),
        )
        if "name" in filters:
            qs = qs.filter(name=filters["name"])
        if "status" in filters:
            qs = qs.filter(status=filters["status"])
        if "format" in filters:
            qs = qs.filter(format=filters["format"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(DatasetOut(page, many=True).data)

    @extend_schema(request={"multipart/form-data": DatasetIn}, responses={201: DatasetOut})
    def create(self, request: Request) -> Response:
        data = validated(DatasetIn, request.data)
        project = selectors.access_project(request.user, data["project"], write=True)
        dataset = services.dataset_upload(
            project=project, user=request.user, upload=data["file"], name=data.get("name", "")
        )
        dataset.refresh_from_db()
        return Response(DatasetOut(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DatasetOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(DatasetOut(selectors.access_dataset(request.user, pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        dataset = selectors.access_dataset(request.user, pk, write=True)
        services.dataset_delete(dataset=dataset)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=DatasetOut(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        dataset = selectors.access_dataset(request.user, pk)
        return Response(DatasetOut(selectors.dataset_versions(dataset), many=True).data)

    @extend_schema(responses=PreviewOut)
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str) -> Response:
        from studio.engine.ingest import preview_parquet

        dataset = selectors.access_dataset(request.user, pk)
        _require_ready(dataset)
        with storage.open_local(dataset.data_key) as path:
            columns, rows = preview_parquet(path, limit=100)
        dtypes = {c["name"]: c["dtype"] for c in dataset.columns}
        return Response(
            {"columns": columns, "dtypes": [dtypes.get(c, "") for c in columns], "rows": rows}
        )

    @extend_schema(methods=["GET"], responses=dict)
    @extend_schema(methods=["POST"], request=None, responses={202: JobOut})
    @action(detail=True, methods=["get", "post"])
    def profile(self, request: Request, pk: str) -> Response:
        if request.method == "POST":
            dataset = selectors.access_dataset(request.user, pk, write=True)
            job = services.dataset_profile_start(dataset=dataset, user=request.user)
            return Response(JobOut(job).data, status=status.HTTP_202_ACCEPTED)
        dataset = selectors.access_dataset(request.user, pk)
        if dataset.profile is None:
            raise ServiceError(
                "not_profiled",
                "This dataset has no profile yet; POST to this URL to compute one.",
                field=None,
            )
        return Response(dataset.profile)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> FileResponse:
        dataset = selectors.access_dataset(request.user, pk)
        which = request.query_params.get("file", "source")
        if which not in {"source", "parquet"}:
            raise ServiceError("invalid", "file must be 'source' or 'parquet'.", field="file")
        if which == "parquet":
            _require_ready(dataset)
            key, filename = dataset.data_key, f"{dataset.name}-v{dataset.version}.parquet"
        else:
            key = dataset.source_key
            filename = f"{dataset.name}-v{dataset.version}.{dataset.source_key.rsplit('.', 1)[-1]}"
        # Always an attachment, never rendered inline: an uploaded .html must not run here.
        response = FileResponse(
            storage.open_read(key),
            as_attachment=True,
            filename=filename,
            content_type="application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _require_ready(dataset: Any) -> None:
    if dataset.status != DatasetStatus.READY:
        raise ConflictError(
            "not_ready",
            f"The dataset is {dataset.status}."
            + (f" {dataset.failure_reason}" if dataset.failure_reason else ""),
        )


class JobViewSet(viewsets.GenericViewSet):
    serializer_class = JobOut
    queryset = Job.objects.none()
    FILTERS = {"project", "status", "kind", "queue"}

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("status", str, enum=JobStatus.values),
            OpenApiParameter("kind", str),
            OpenApiParameter("queue", str, enum=Queue.values),
        ],
        responses=JobOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        if filters.get("status") and filters["status"] not in JobStatus.values:
            raise ServiceError("invalid", f"Unknown status {filters['status']!r}.", field="status")
        project = (
            selectors.access_project(request.user, filters["project"])
            if "project" in filters
            else None
        )
        qs = selectors.job_list(
            request.user,
            project=project,
            status=filters.get("status"),
            kind=filters.get("kind"),
            queue=filters.get("queue"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(JobOut(page, many=True).data)

    @extend_schema(request=DiagnosticJobIn, responses={201: JobOut})
    def create(self, request: Request) -> Response:
        """Submit a diagnostic job (``diagnostic.noop`` or ``diagnostic.sleep``).

        Other kinds are created through their own resources (datasets, training jobs…);
        diagnostics let people and scripts check that a queue and its workers answer.
        """
        data = validated(DiagnosticJobIn, request.data)
        project = selectors.access_project(request.user, data["project"], write=True)
        job = services.job_submit(
            project=project,
            kind=data["kind"],
            owner=request.user,
            parameters=data["parameters"],
            resources=data["resources"],
            queue=data.get("queue") or None,
        )
        return Response(JobOut(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=JobOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(JobOut(selectors.access_job(request.user, pk)).data)

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="Only lines with a greater id.")],
        responses=JobLogOut(many=True),
    )
    @action(detail=True, methods=["get"])
    def logs(self, request: Request, pk: str) -> Response:
        job = selectors.access_job(request.user, pk)
        try:
            after = int(request.query_params.get("after", 0))
            limit = min(5000, max(1, int(request.query_params.get("limit", 1000))))
        except ValueError:
            raise ServiceError("invalid", "after and limit must be whole numbers.", field="after")
        lines = selectors.job_logs(job, after=after, limit=limit)
        return Response(JobLogOut(lines, many=True).data)

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk: str) -> Response:
        job = selectors.access_job(request.user, pk)
        series = selectors.job_metric_series(job)
        return Response(
            {name: [{"step": s, "value": v} for s, v in points] for name, points in series.items()}
        )

    @extend_schema(request=None, responses=JobOut)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        job = selectors.access_job(request.user, pk, write=True)
        return Response(JobOut(services.job_stop(job=job, user=request.user)).data)

    @extend_schema(request=None, responses=JobOut)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        job = selectors.access_job(request.user, pk, write=True)
        return Response(JobOut(services.job_retry(job=job, user=request.user)).data)
