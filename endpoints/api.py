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
from endpoints.models import Endpoint
from studio.api.views import check_filters, validated
from studio.errors import ServiceError
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
            "invocation_url",
            "deploy_job",
            "created_by",
            "created_at",
            "updated_at",
        ]

    @staticmethod
    def _variant(v: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "name",
            "model_package",
            "model_packages",
            "weight",
            "instance_count",
            "min_instances",
            "max_instances",
            "target_in_flight",
            "memory_budget_mb",
        )
        out = {k: v[k] for k in keys if k in v}
        out["models"] = [m["name"] for m in v.get("models", [])]
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
        if filters.get("status") and filters["status"] not in EndpointStatus.values:
            raise ServiceError("invalid", f"Unknown status {filters['status']!r}.", field="status")
        qs = selectors.endpoint_list(
            request.user, project_id=filters.get("project"), status=filters.get("status")
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
