"""The endpoints API: create, read, update (new variants or weights) and delete real-time
endpoints. Invocation is not here: it is the lean ASGI path of ``endpoints.serving``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from endpoints import selectors, services
from endpoints.choices import EndpointStatus
from endpoints.models import Endpoint, TransformJob
from endpoints.transform import (
    access_transform_job,
    transform_job_create,
    transform_job_list,
    transform_job_stop,
)
from studio.api.views import check_choice, check_filters, validated
from studio.choices import JobStatus
from studio.errors import ServiceError
from studio.models import Dataset
from studio.selectors import access_project

VARIANTS_HELP = (
    '[{"name": "A", "model_package": 12, "weight": 0.7, "instance_count": 1}, …]; '
    'multi-model: "model_packages": [12, 13, …]'
)


class EndpointIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=63)
    variants = serializers.JSONField(help_text=VARIANTS_HELP)
    shadow = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='{"name": "shadow", "model_package": 13, "instance_count": 1}',
    )
    data_capture = serializers.JSONField(
        required=False, allow_null=True, help_text='{"percent": 10}'
    )


class EndpointUpdateIn(serializers.Serializer):
    variants = serializers.JSONField(required=False, help_text=VARIANTS_HELP)
    shadow = serializers.JSONField(
        required=False, allow_null=True, help_text="null removes the shadow"
    )
    data_capture = serializers.JSONField(required=False, allow_null=True)


class EndpointOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    variants = serializers.SerializerMethodField()
    shadow = serializers.SerializerMethodField()
    data_capture = serializers.SerializerMethodField()
    pending = serializers.SerializerMethodField()
    invocation_url = serializers.SerializerMethodField()
    deploy_job = serializers.IntegerField(source="job_id", default=None)

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "project",
            "name",
            "status",
            "failure_reason",
            "variants",
            "shadow",
            "data_capture",
            "pending",
            "generation",
            "scaling",
            "invocation_url",
            "deploy_job",
            "created_by",
            "created_at",
            "updated_at",
        ]

    @staticmethod
    def _variant(v: dict[str, Any]) -> dict[str, Any]:
        keys = (*services.VARIANT_SETTINGS, "model_package", "model_packages")
        out = {k: v[k] for k in keys if k in v}
        out["models"] = [m["name"] for m in v.get("models", [])]
        pipeline = v.get("pipeline")
        if pipeline:
            flow = pipeline.get("flow")
            out["pipeline"] = {
                "flow_job": flow["job"] if flow else None,
                "flow": flow["flow"] if flow else None,
                "flow_version": flow["flow_version"] if flow else None,
                "node": flow["target"] if flow else None,
                "columns": [c["name"] for c in flow["columns"]] if flow else None,
                **pipeline.get("post", {}),
            }
        return out

    def _config(self, obj: Endpoint) -> dict[str, Any]:
        return obj.config or obj.pending_config or {}

    def get_variants(self, obj: Endpoint) -> list[dict[str, Any]]:
        return [self._variant(v) for v in self._config(obj).get("variants", [])]

    def get_shadow(self, obj: Endpoint) -> dict[str, Any] | None:
        shadow = self._config(obj).get("shadow")
        return self._variant(shadow) if shadow else None

    def get_data_capture(self, obj: Endpoint) -> dict[str, Any]:
        return dict(self._config(obj).get("data_capture") or {"percent": 0.0})

    def get_pending(self, obj: Endpoint) -> dict[str, Any] | None:
        """The configuration a running deploy brings up (while Creating or Updating)."""
        pending = obj.pending_config
        if not pending:
            return None
        return {
            "variants": [self._variant(v) for v in pending.get("variants", [])],
            "shadow": self._variant(pending["shadow"]) if pending.get("shadow") else None,
            "data_capture": pending.get("data_capture"),
        }

    def get_invocation_url(self, obj: Endpoint) -> str:
        path = f"/invocations/{obj.name}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class EndpointViewSet(viewsets.GenericViewSet):
    """Real-time endpoints: variants of approved model packages behind one URL, split by
    weight, with an optional shadow and data capture. Status ``Creating → InService |
    Failed``; an update goes ``Updating → InService`` and serves throughout."""

    serializer_class = EndpointOut
    queryset = Endpoint.objects.none()
    FILTERS = {"project", "status"}

    def _out(self, endpoint: Endpoint) -> dict[str, Any]:
        return dict(EndpointOut(endpoint, context={"request": self.request}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("status", str, enum=EndpointStatus.values),
        ],
        responses=EndpointOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        qs = selectors.endpoint_list(
            request.user,
            project_id=filters.get("project"),
            status=check_choice(filters, "status", EndpointStatus.values),
        )
        page = self.paginate_queryset(qs)
        out = EndpointOut(page, many=True, context={"request": request})
        return self.get_paginated_response(out.data)

    @extend_schema(request=EndpointIn, responses={201: EndpointOut})
    def create(self, request: Request) -> Response:
        data = validated(EndpointIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        endpoint = services.endpoint_create(
            project=project,
            user=request.user,
            name=data["name"],
            variants=data["variants"],
            shadow=data.get("shadow"),
            data_capture=data.get("data_capture"),
        )
        return Response(self._out(endpoint), status=status.HTTP_201_CREATED)

    @extend_schema(responses=EndpointOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._out(selectors.access_endpoint(request.user, pk)))

    @extend_schema(request=EndpointUpdateIn, responses={202: EndpointOut})
    @action(detail=True, methods=["post"], url_path="update", url_name="update")
    def update_config(self, request: Request, pk: str) -> Response:
        """New variants, weights, instance counts, shadow or capture rate. A variant named
        as an existing one keeps what is not given (``[{"name": "A", "weight": 0.5}]``
        changes a weight only). The endpoint serves its current configuration until the
        new one is up, then switches with no failed request."""
        endpoint = selectors.access_endpoint(request.user, pk, write=True)
        data = validated(EndpointUpdateIn, request.data)
        endpoint = services.endpoint_update(
            endpoint=endpoint,
            user=request.user,
            variants=data.get("variants"),
            shadow=data["shadow"] if "shadow" in data else ...,
            data_capture=data.get("data_capture"),
        )
        return Response(self._out(endpoint), status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        endpoint = selectors.access_endpoint(request.user, pk, write=True)
        services.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def instances(self, request: Request, pk: str) -> Response:
        """The model servers behind the endpoint: variant, host, status, restarts."""
        endpoint = selectors.access_endpoint(request.user, pk)
        return Response({"instances": selectors.endpoint_instances(endpoint)})

    @extend_schema(parameters=[OpenApiParameter("seconds", int)], responses=dict)
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk: str) -> Response:
        """Traffic over the last ``seconds`` (default 300, at most a day), per variant and per
        second: ``invocations_per_second``, ``p50_ms``, ``p99_ms``, ``errors``,
        ``concurrency``; and ``totals`` with each variant's ``share`` of the live traffic."""
        endpoint = selectors.access_endpoint(request.user, pk)
        filters = check_filters(request, {"seconds"})
        try:
            seconds = int(filters.get("seconds", 300))
        except ValueError:
            seconds = -1
        if not 1 <= seconds <= 86_400:
            raise ServiceError("invalid", "seconds is between 1 and 86400.", field="seconds")
        return Response(selectors.endpoint_metrics(endpoint, seconds=seconds))


# --------------------------------------------------------------------------- batch transform


class TransformJobIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    model_package = serializers.IntegerField(help_text="A Completed model package's id")
    dataset = serializers.IntegerField(help_text="A Ready dataset's id")
    join_input = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Input columns copied beside the predictions: ["id", "city"], or ["*"]',
    )
    batch_rows = serializers.JSONField(
        required=False, allow_null=True, help_text="Rows scored at a time (default 10000)"
    )
    instance_count = serializers.JSONField(
        required=False, allow_null=True, help_text="Processes sharing the row groups (1–16)"
    )
    output_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text='The predictions dataset\'s name (default "<dataset>-predictions")',
    )


class TransformJobOut(serializers.ModelSerializer):
    status = serializers.CharField(source="job.status")
    failure_reason = serializers.CharField(source="job.failure_reason")
    pending_reason = serializers.CharField(source="job.pending_reason")
    progress = serializers.FloatField(source="job.progress")
    started_at = serializers.DateTimeField(source="job.started_at")
    finished_at = serializers.DateTimeField(source="job.finished_at")
    duration_seconds = serializers.FloatField(source="job.duration_seconds")
    created_by = serializers.CharField(source="created_by.username", default=None)
    model_package = serializers.SerializerMethodField()
    dataset = serializers.SerializerMethodField()
    output_dataset = serializers.SerializerMethodField()

    class Meta:
        model = TransformJob
        fields = [
            "id",
            "project",
            "name",
            "job",
            "status",
            "model_package",
            "dataset",
            "join_input",
            "output_name",
            "output_dataset",
            "batch_rows",
            "instance_count",
            "rows_total",
            "rows_done",
            "progress",
            "failure_reason",
            "pending_reason",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]

    def get_model_package(self, obj: TransformJob) -> dict[str, Any]:
        package = obj.model_package
        return {
            "id": package.pk,
            "group": package.group.name,
            "version": package.version,
            "approval_status": package.approval_status,
        }

    @staticmethod
    def _dataset(dataset: Dataset | None) -> dict[str, Any] | None:
        if dataset is None:
            return None
        return {
            "id": dataset.pk,
            "name": dataset.name,
            "version": dataset.version,
            "num_rows": dataset.num_rows,
        }

    def get_dataset(self, obj: TransformJob) -> dict[str, Any] | None:
        return self._dataset(obj.dataset)

    def get_output_dataset(self, obj: TransformJob) -> dict[str, Any] | None:
        return self._dataset(obj.output_dataset)


class TransformJobViewSet(viewsets.GenericViewSet):
    """Batch transform: a Completed model package (approval is not needed) scores every row
    of a dataset on the cpu queue; the predictions, with the input columns of
    ``join_input``, become a new dataset (``output_dataset`` once Completed)."""

    serializer_class = TransformJobOut
    queryset = TransformJob.objects.none()
    FILTERS = {"project", "status"}

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("status", str, enum=JobStatus.values),
        ],
        responses=TransformJobOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        qs = transform_job_list(
            request.user,
            project_id=filters.get("project"),
            status=check_choice(filters, "status", JobStatus.values),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(TransformJobOut(page, many=True).data)

    @extend_schema(request=TransformJobIn, responses={201: TransformJobOut})
    def create(self, request: Request) -> Response:
        data = validated(TransformJobIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        transform = transform_job_create(
            project=project,
            user=request.user,
            name=data["name"],
            model_package=data["model_package"],
            dataset=data["dataset"],
            join_input=data.get("join_input"),
            batch_rows=data.get("batch_rows"),
            instance_count=data.get("instance_count"),
            output_name=data.get("output_name"),
        )
        # Where jobs run inline (SEXTANT_RUN_JOBS_INLINE) it may have ended already.
        transform = access_transform_job(request.user, transform.pk)
        return Response(TransformJobOut(transform).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TransformJobOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TransformJobOut(access_transform_job(request.user, pk)).data)

    @extend_schema(request=None, responses=TransformJobOut)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        """Stop the transform: at once if it has not started, else at its next batch; no
        predictions dataset is made. 409 when it has already ended."""
        transform = access_transform_job(request.user, pk, write=True)
        transform_job_stop(transform=transform, user=request.user)
        return Response(TransformJobOut(access_transform_job(request.user, pk)).data)
