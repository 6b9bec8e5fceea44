"""The flows API: CRUD, node previews, runs as processing jobs, exports and the transforms."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from studio import selectors as studio_selectors
from studio.api.serializers import JobOut
from studio.api.views import check_filters, validated
from studio.errors import ServiceError
from studio.models import Job
from wrangler import selectors, services
from wrangler.models import Flow, FlowVersion
from wrangler.previews import flow_analysis, flow_preview
from wrangler.sources import sample_spec, source_datasets

#: ``wrangler.engine.analyses.ANALYSES`` and the Insights report, named here so that the API
#: loads without the engine (pandas, plotly); a test holds the two lists equal.
ANALYSIS_KINDS = (
    "summary",
    "histogram",
    "scatter",
    "box",
    "correlation",
    "target_leakage",
    "quick_model",
    "insights",
)


class FlowOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Flow
        fields = [
            "id",
            "project",
            "name",
            "description",
            "graph",
            "version",
            "sample",
            "created_by",
            "created_at",
            "updated_at",
        ]


class FlowVersionOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = FlowVersion
        fields = ["version", "graph", "created_by", "created_at"]


class FlowIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    graph = serializers.JSONField(required=False)
    sample = serializers.JSONField(required=False)


class FlowPatch(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    graph = serializers.JSONField(required=False)
    sample = serializers.JSONField(required=False)


class PreviewIn(serializers.Serializer):
    node = serializers.CharField(max_length=64)
    graph = serializers.JSONField(required=False, help_text="An unsaved graph to preview instead.")
    sample = serializers.JSONField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)


class AnalysisIn(serializers.Serializer):
    node = serializers.CharField(max_length=64)
    kind = serializers.ChoiceField(choices=ANALYSIS_KINDS)
    params = serializers.JSONField(required=False, default=dict)
    graph = serializers.JSONField(required=False)
    sample = serializers.JSONField(required=False)


class RunIn(serializers.Serializer):
    node = serializers.CharField(max_length=64)
    output_name = serializers.CharField(max_length=200)


class _TextRenderer(renderers.BaseRenderer):
    """Lets ``?format=python|notebook`` pick the export (DRF reads ``format`` itself)."""

    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, str | bytes):
            return data.encode() if isinstance(data, str) else data
        return json.dumps(data).encode()  # error bodies


class PythonRenderer(_TextRenderer):
    media_type = "text/x-python"
    format = "python"


class NotebookRenderer(_TextRenderer):
    media_type = "application/x-ipynb+json"
    format = "notebook"


class FlowViewSet(viewsets.GenericViewSet):
    serializer_class = FlowOut
    queryset = Flow.objects.none()  # for the schema only: reads go through selectors
    FILTERS = {"project", "search"}

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        fmt = request.query_params.get("format")
        if self.action == "export":
            if force:  # the retry made to render an error: errors are JSON
                return JSONRenderer(), JSONRenderer.media_type
            if fmt not in (None, "python", "notebook"):
                raise ServiceError("invalid", "format is python or notebook.", field="format")
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        parameters=[OpenApiParameter("project", int), OpenApiParameter("search", str)],
        responses=FlowOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        qs = selectors.flow_list(
            request.user, project_id=filters.get("project"), search=filters.get("search", "")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(FlowOut(page, many=True).data)

    @extend_schema(request=FlowIn, responses={201: FlowOut})
    def create(self, request: Request) -> Response:
        data = validated(FlowIn, request.data)
        project = studio_selectors.access_project(request.user, data.pop("project"), write=True)
        flow = services.flow_create(project=project, user=request.user, **data)
        return Response(FlowOut(flow).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=FlowOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(FlowOut(selectors.access_flow(request.user, pk)).data)

    @extend_schema(request=FlowPatch, responses=FlowOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        flow = selectors.access_flow(request.user, pk, write=True)
        data = validated(FlowPatch, request.data)
        return Response(FlowOut(services.flow_update(flow=flow, user=request.user, **data)).data)

    @extend_schema(request=FlowPatch, responses=FlowOut)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.flow_delete(flow=selectors.access_flow(request.user, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=FlowVersionOut(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        flow = selectors.access_flow(request.user, pk)
        page = self.paginate_queryset(flow.versions.select_related("created_by"))
        return self.get_paginated_response(FlowVersionOut(page, many=True).data)

    @extend_schema(request=PreviewIn, responses=dict)
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str) -> Response:
        """A node's output on a sample of the sources (first 50,000 rows unless told).

        ``graph`` previews an edited graph before it is saved (the editor does this).
        """
        from wrangler.engine.contracts import FlowError

        flow = selectors.access_flow(request.user, pk)
        data = validated(PreviewIn, request.data)
        try:
            spec = sample_spec(data.get("sample") if "sample" in data else flow.sample)
            preview = flow_preview(
                flow, data["node"], spec, limit=data["limit"], graph=data.get("graph")
            )
            return Response(preview)
        except FlowError as exc:
            raise services.flow_error(exc)

    @extend_schema(request=AnalysisIn, responses=dict)
    @action(detail=True, methods=["post"], url_path="analyses")
    def analyses(self, request: Request, pk: str) -> Response:
        """Charts and checks of a node's output on the sample: summary, histogram, scatter,
        box, correlation, target_leakage, quick_model, or the insights report."""
        from wrangler.engine.contracts import FlowError

        flow = selectors.access_flow(request.user, pk)
        data = validated(AnalysisIn, request.data)
        if not isinstance(data["params"], dict):
            raise ServiceError("invalid", "params must be an object.", field="params")
        try:
            spec = sample_spec(data.get("sample") if "sample" in data else flow.sample)
            result = flow_analysis(
                flow, data["node"], spec, data["kind"], data["params"], graph=data.get("graph")
            )
        except FlowError as exc:
            raise services.flow_error(exc)
        return Response(result)

    @extend_schema(request=RunIn, responses={202: dict})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str) -> Response:
        """Run the flow up to a node over the full data; the job's outputs name the dataset."""
        flow = selectors.access_flow(request.user, pk, write=True)
        data = validated(RunIn, request.data)
        job = services.flow_run(flow=flow, user=request.user, **data)
        return Response({"job": job.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=["python", "notebook"]),
            OpenApiParameter("node", str, description="The node to reproduce (default: the last)."),
        ],
        responses={(200, "text/x-python"): str},
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[PythonRenderer, NotebookRenderer, JSONRenderer],
    )
    def export(self, request: Request, pk: str) -> HttpResponse:
        """The flow as a standalone pandas script or a Jupyter notebook."""
        from wrangler.engine import parse_flow
        from wrangler.engine.contracts import FlowError
        from wrangler.engine.export import to_notebook, to_python

        flow = selectors.access_flow(request.user, pk)
        fmt = request.query_params.get("format", "python")
        check_filters(request, {"node"})
        try:
            graph = parse_flow(flow.graph)
            sinks = graph.sinks()
            node = request.query_params.get("node") or (sinks[-1] if sinks else "")
            if node not in graph.nodes:
                raise FlowError("The flow has no such node to export.", node=node or None)
            datasets = source_datasets(flow.project, graph, node)
        except FlowError as exc:
            raise services.flow_error(exc)
        paths = {n: f"{d.name}_v{d.version}.parquet" for n, d in datasets.items()}
        slug = "".join(c if c.isalnum() else "_" for c in flow.name.lower()).strip("_") or "flow"
        if fmt == "python":
            body = to_python(graph, node, title=flow.name, source_paths=paths)
            content_type, ext = "text/x-python", "py"
        else:
            body, content_type, ext = (
                to_notebook(graph, node, title=flow.name, source_paths=paths),
                "application/x-ipynb+json",
                "ipynb",
            )
        response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}.{ext}"'
        return response

    @extend_schema(responses=dict)
    @action(detail=False, methods=["get"])
    def transforms(self, request: Request) -> Response:
        """Every transform type with its parameter schema (the editor builds its forms from it)."""
        from wrangler.engine import catalog

        return Response({"transforms": [t.to_dict() for t in catalog()]})


class ProcessingJobIn(serializers.Serializer):
    project = serializers.IntegerField()
    flow = serializers.IntegerField(required=False, help_text="Run this flow…")
    node = serializers.CharField(max_length=64, required=False, help_text="…up to this node…")
    output_name = serializers.CharField(max_length=200, required=False, help_text="…into this.")
    script = serializers.CharField(
        required=False, trim_whitespace=False, help_text="Or run this Python script."
    )
    inputs = serializers.JSONField(required=False, help_text="Script: channel → dataset id.")
    outputs = serializers.JSONField(required=False, help_text="Script: channel → dataset name.")
    resources = serializers.JSONField(required=False, help_text='{"max_runtime_seconds": 600}')


class ProcessingJobViewSet(viewsets.GenericViewSet):
    """SageMaker Processing: a flow or a script over datasets, on the cpu queue."""

    serializer_class = JobOut
    queryset = Job.objects.none()
    FILTERS = {"project", "status"}

    @extend_schema(
        parameters=[OpenApiParameter("project", int), OpenApiParameter("status", str)],
        responses=JobOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        project = (
            studio_selectors.access_project(request.user, filters["project"])
            if "project" in filters
            else None
        )
        qs = studio_selectors.job_list(request.user, project=project, status=filters.get("status"))
        page = self.paginate_queryset(qs.filter(kind__in=services.PROCESSING_KINDS))
        return self.get_paginated_response(JobOut(page, many=True).data)

    @extend_schema(request=ProcessingJobIn, responses={201: JobOut})
    def create(self, request: Request) -> Response:
        data = validated(ProcessingJobIn, request.data)
        project = studio_selectors.access_project(request.user, data["project"], write=True)
        resources = data.get("resources") or {}
        if not isinstance(resources, dict):
            raise ServiceError("invalid", "resources must be an object.", field="resources")
        if "flow" in data:
            if "script" in data:
                raise ServiceError("invalid", "Give a flow or a script, not both.", field="script")
            flow = selectors.access_flow(request.user, data["flow"], write=True)
            if flow.project_id != project.pk:
                raise ServiceError("invalid", "The flow is not in this project.", field="flow")
            job = services.flow_run(
                flow=flow,
                user=request.user,
                node=data.get("node"),
                output_name=data.get("output_name"),
            )
        elif "script" in data:
            job = services.processing_script_submit(
                project=project,
                user=request.user,
                script=data["script"],
                inputs=data.get("inputs"),
                outputs=data.get("outputs"),
                resources=resources,
            )
        else:
            raise ServiceError(
                "invalid", "Give a flow (with node and output_name) or a script.", field="flow"
            )
        return Response(JobOut(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=JobOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        job = studio_selectors.access_job(request.user, pk)
        if job.kind not in services.PROCESSING_KINDS:
            raise Http404("No such processing job.")
        return Response(JobOut(job).data)
