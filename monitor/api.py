"""The monitor's API: baselines, monitoring schedules and executions, alerts, ground truth for
an endpoint's captured predictions, and Clarify jobs."""

from __future__ import annotations

import io
import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from endpoints.selectors import access_endpoint
from monitor import ground_truth, loop, selectors, services
from monitor.clarify import clarify_job_create, clarify_job_stop
from monitor.models import (
    ClarifyJob,
    ExecutionStatus,
    GroundTruthUpload,
    MonitoringAlert,
    MonitoringBaseline,
    MonitoringExecution,
    MonitoringSchedule,
    MonitorType,
)
from monitor.reports import clarify_report_html
from studio.api.views import check_choice, check_filters, validated
from studio.errors import ServiceError
from studio.selectors import access_project

#: Ground truth is parsed in the web process: a file is kept to a size that is cheap to parse.
MAX_TRUTH_FILE_BYTES = 64 * 2**20

FACETS_HELP = (
    '[{"name": "sex", "values_or_threshold": ["Female"]}, '
    '{"name": "age", "values_or_threshold": 40}]'
)


def _ref(obj: Any, label: str) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": label}


# --------------------------------------------------------------------------- baselines


class BaselineIn(serializers.Serializer):
    project = serializers.IntegerField()
    dataset = serializers.IntegerField()
    name = serializers.CharField(required=False, allow_blank=True)
    model_package = serializers.IntegerField(required=False, allow_null=True)
    label = serializers.CharField(required=False, allow_blank=True)
    positive_label_values = serializers.JSONField(required=False, allow_null=True)
    facets = serializers.JSONField(required=False, allow_null=True, help_text=FACETS_HELP)


class BaselineEditIn(serializers.Serializer):
    statistics = serializers.JSONField(required=False)
    constraints = serializers.JSONField(required=False)


class BaselineOut(serializers.ModelSerializer):
    dataset = serializers.SerializerMethodField()
    model_package = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None)
    bias = serializers.SerializerMethodField()

    class Meta:
        model = MonitoringBaseline
        fields = [
            "id",
            "project",
            "name",
            "status",
            "job",
            "dataset",
            "model_package",
            "label",
            "statistics",
            "constraints",
            "quality",
            "bias",
            "attributions",
            "failure_reason",
            "created_by",
            "created_at",
            "edited_at",
        ]

    def get_dataset(self, obj: MonitoringBaseline) -> dict[str, Any] | None:
        if obj.dataset_id is None:
            return {"id": None, "name": obj.dataset_label}
        return {"id": obj.dataset_id, "name": obj.dataset_label}

    def get_model_package(self, obj: MonitoringBaseline) -> dict[str, Any] | None:
        package = obj.model_package
        return None if package is None else {"id": package.pk, "name": str(package)}

    def get_bias(self, obj: MonitoringBaseline) -> dict[str, Any]:
        return dict(obj.bias or {})


class BaselineViewSet(viewsets.GenericViewSet):
    """What normal looks like for a model's traffic: computed once by a job from a dataset
    (per-column statistics and suggested constraints; with a model and a label, its quality,
    bias and SHAP importance), then reused by every execution. Both documents are editable."""

    serializer_class = BaselineOut
    queryset = MonitoringBaseline.objects.none()

    @extend_schema(parameters=[OpenApiParameter("project", int)], responses=BaselineOut(many=True))
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project"})
        page = self.paginate_queryset(
            selectors.baseline_list(request.user, project_id=filters.get("project"))
        )
        return self.get_paginated_response(BaselineOut(page, many=True).data)

    @extend_schema(request=BaselineIn, responses={201: BaselineOut})
    def create(self, request: Request) -> Response:
        data = validated(BaselineIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        baseline = services.monitoring_baseline_create(
            project=project,
            user=request.user,
            dataset=data["dataset"],
            name=data.get("name"),
            model_package=data.get("model_package"),
            label=data.get("label"),
            positive_label_values=data.get("positive_label_values"),
            facets=data.get("facets"),
        )
        baseline = selectors.access_baseline(request.user, baseline.pk)
        return Response(BaselineOut(baseline).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=BaselineOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(BaselineOut(selectors.access_baseline(request.user, pk)).data)

    @extend_schema(request=BaselineEditIn, responses=BaselineOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        baseline = selectors.access_baseline(request.user, pk, write=True)
        data = validated(BaselineEditIn, request.data)
        services.monitoring_baseline_update(
            baseline=baseline,
            statistics=data.get("statistics"),
            constraints=data.get("constraints"),
        )
        return Response(BaselineOut(selectors.access_baseline(request.user, pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.monitoring_baseline_delete(
            baseline=selectors.access_baseline(request.user, pk, write=True)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- schedules


class ScheduleIn(serializers.Serializer):
    project = serializers.IntegerField()
    endpoint = serializers.IntegerField()
    baseline = serializers.IntegerField()
    monitor_type = serializers.CharField(help_text=", ".join(MonitorType.values))
    schedule = serializers.CharField(help_text='"hourly", "daily" or a cron string (UTC)')
    name = serializers.CharField(required=False, allow_blank=True)
    window_hours = serializers.FloatField(required=False)
    config = serializers.JSONField(required=False)
    alert_emails = serializers.JSONField(required=False)
    webhook_url = serializers.CharField(required=False, allow_blank=True)


class ScheduleEditIn(serializers.Serializer):
    status = serializers.CharField(required=False, help_text="Scheduled or Stopped")
    schedule = serializers.CharField(required=False)
    window_hours = serializers.FloatField(required=False)
    config = serializers.JSONField(required=False)
    alert_emails = serializers.JSONField(required=False)
    webhook_url = serializers.CharField(required=False, allow_blank=True)


class ScheduleOut(serializers.ModelSerializer):
    endpoint = serializers.SerializerMethodField()
    baseline = serializers.SerializerMethodField()
    latest_execution = serializers.SerializerMethodField()

    class Meta:
        model = MonitoringSchedule
        fields = [
            "id",
            "project",
            "name",
            "endpoint",
            "baseline",
            "monitor_type",
            "schedule",
            "cron",
            "status",
            "window_hours",
            "config",
            "alert_emails",
            "webhook_url",
            "next_run_at",
            "last_run_at",
            "latest_execution",
            "created_at",
        ]

    def get_endpoint(self, obj: MonitoringSchedule) -> dict[str, Any] | None:
        return _ref(obj.endpoint, obj.endpoint.name)

    def get_baseline(self, obj: MonitoringSchedule) -> dict[str, Any] | None:
        return _ref(obj.baseline, obj.baseline.name)

    def get_latest_execution(self, obj: MonitoringSchedule) -> dict[str, Any] | None:
        latest = obj.executions.order_by("-created_at", "-id").first()
        if latest is None:
            return None
        return {
            "id": latest.pk,
            "status": latest.status,
            "violations": len(latest.violations or []),
            "created_at": latest.created_at,
        }


class ScheduleViewSet(viewsets.GenericViewSet):
    """Monitors of an endpoint's captured traffic against a baseline, fired by beat on an
    hourly, daily or cron schedule (UTC), or now on request."""

    serializer_class = ScheduleOut
    queryset = MonitoringSchedule.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("project", int), OpenApiParameter("endpoint", int)],
        responses=ScheduleOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project", "endpoint"})
        qs = selectors.schedule_list(
            request.user, project_id=filters.get("project"), endpoint_id=filters.get("endpoint")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ScheduleOut(page, many=True).data)

    @extend_schema(request=ScheduleIn, responses={201: ScheduleOut})
    def create(self, request: Request) -> Response:
        data = validated(ScheduleIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        schedule = services.monitoring_schedule_create(
            project=project,
            user=request.user,
            endpoint=data["endpoint"],
            baseline=data["baseline"],
            monitor_type=data["monitor_type"],
            schedule=data["schedule"],
            name=data.get("name"),
            window_hours=data.get("window_hours"),
            config=data.get("config"),
            alert_emails=data.get("alert_emails"),
            webhook_url=data.get("webhook_url"),
        )
        return Response(ScheduleOut(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ScheduleOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ScheduleOut(selectors.access_schedule(request.user, pk)).data)

    @extend_schema(request=ScheduleEditIn, responses=ScheduleOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        schedule = selectors.access_schedule(request.user, pk, write=True)
        data = validated(ScheduleEditIn, request.data)
        services.monitoring_schedule_update(
            schedule=schedule,
            status=data.get("status"),
            schedule_expr=data.get("schedule"),
            window_hours=data.get("window_hours"),
            config=data.get("config"),
            alert_emails=data.get("alert_emails"),
            webhook_url=data.get("webhook_url"),
        )
        return Response(ScheduleOut(selectors.access_schedule(request.user, pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        schedule = selectors.access_schedule(request.user, pk, write=True)
        services.monitoring_schedule_delete(schedule=schedule, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"], url_path="run-now", url_name="run-now")
    def run_now(self, request: Request, pk: str) -> Response:
        """Run the monitor now over the last ``window_hours`` of traffic → ``{"job"}``."""
        schedule = selectors.access_schedule(request.user, pk, write=True)
        execution = services.monitoring_execution_start(schedule=schedule, user=request.user)
        return Response(
            {"job": execution.job.pk if execution.job else None, "execution": execution.pk},
            status=status.HTTP_202_ACCEPTED,
        )


# --------------------------------------------------------------------------- executions


class ExecutionOut(serializers.ModelSerializer):
    job = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = MonitoringExecution
        fields = [
            "id",
            "schedule",
            "job",
            "status",
            "trigger",
            "window_start",
            "window_end",
            "num_rows",
            "violations",
            "report",
            "scores",
            "failure_reason",
            "labeling_job",
            "created_at",
            "started_at",
            "ended_at",
        ]


class ExecutionViewSet(viewsets.GenericViewSet):
    """Runs of the monitoring schedules: the violations found and the report."""

    serializer_class = ExecutionOut
    queryset = MonitoringExecution.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("schedule", int),
            OpenApiParameter("project", int),
            OpenApiParameter("status", str, enum=ExecutionStatus.values),
        ],
        responses=ExecutionOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"schedule", "project", "status"})
        qs = selectors.execution_list(
            request.user,
            schedule_id=filters.get("schedule"),
            project_id=filters.get("project"),
            status=check_choice(filters, "status", ExecutionStatus.values),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ExecutionOut(page, many=True).data)

    @extend_schema(responses=ExecutionOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ExecutionOut(selectors.access_execution(request.user, pk)).data)

    @extend_schema(request=None, responses={201: dict})
    @action(detail=True, methods=["post"])
    def label(self, request: Request, pk: str) -> Response:
        """Start a labeling job on the execution's captured rows → ``{"labeling_job"}``."""
        execution = selectors.access_execution(request.user, pk, write=True)
        job = loop.label_captured_rows(execution=execution, user=request.user)
        return Response({"labeling_job": job.pk}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: dict})
    @action(detail=True, methods=["post"])
    def retrain(self, request: Request, pk: str) -> Response:
        """Train the model again on the captured rows that have ground truth (with the
        baseline's data) → ``{"training_job", "dataset"}``."""
        execution = selectors.access_execution(request.user, pk, write=True)
        training, dataset = loop.retrain_on_fresh_data(execution=execution, user=request.user)
        return Response(
            {"training_job": training.pk, "dataset": dataset.pk}, status=status.HTTP_201_CREATED
        )


# --------------------------------------------------------------------------- alerts


class AlertOut(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="schedule.endpoint.name")

    class Meta:
        model = MonitoringAlert
        fields = [
            "id",
            "project",
            "schedule",
            "execution",
            "endpoint",
            "num_violations",
            "summary",
            "deliveries",
            "read_at",
            "created_at",
        ]


class AlertReadIn(serializers.Serializer):
    project = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField(), required=False)


class AlertViewSet(viewsets.GenericViewSet):
    """In-app alerts: one per execution that found violations."""

    serializer_class = AlertOut
    queryset = MonitoringAlert.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("project", int), OpenApiParameter("unread", bool)],
        responses=AlertOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project", "unread"})
        qs = selectors.alert_list(
            request.user,
            project_id=filters.get("project"),
            unread=filters.get("unread") in ("1", "true", "True"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AlertOut(page, many=True).data)

    @extend_schema(request=AlertReadIn, responses={200: dict})
    @action(detail=False, methods=["post"])
    def read(self, request: Request) -> Response:
        """Mark the project's alerts (or those of ``ids``) read → ``{"marked"}``."""
        data = validated(AlertReadIn, request.data)
        project = access_project(request.user, data["project"])
        qs = MonitoringAlert.objects.filter(project=project)
        if data.get("ids"):
            qs = qs.filter(pk__in=data["ids"])
        return Response({"marked": services.alert_mark_read(alerts=qs)})


# --------------------------------------------------------------------------- ground truth


class GroundTruthIn(serializers.Serializer):
    rows = serializers.JSONField(
        required=False, help_text='[{"event_id": "…", "label": "yes", "row": 0}, …]'
    )
    file = serializers.FileField(
        required=False, help_text="CSV or JSON Lines: event_id, label, row"
    )


class GroundTruthOut(serializers.ModelSerializer):
    class Meta:
        model = GroundTruthUpload
        fields = ["id", "endpoint", "rows", "created_at"]


def _rows_from_file(upload: Any) -> list[dict[str, Any]]:
    """A CSV or JSON Lines file of labels as rows (parsed by pyarrow, then checked)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    if upload.size > MAX_TRUTH_FILE_BYTES:
        raise ServiceError(
            "too_large",
            f"A ground-truth file holds at most {MAX_TRUTH_FILE_BYTES // 2**20} MiB; send a "
            "larger set in several files.",
            field="file",
        )
    raw = upload.read()
    name = str(getattr(upload, "name", "")).lower()
    try:
        if name.endswith((".jsonl", ".json", ".ndjson")):
            table = pajson.read_json(io.BytesIO(raw))
        else:
            table = pacsv.read_csv(
                io.BytesIO(raw),
                convert_options=pacsv.ConvertOptions(
                    column_types={"event_id": pa.string(), "label": pa.string()}
                ),
            )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ServiceError("invalid", f"Could not read the file: {exc}", field="file")
    if "event_id" not in table.column_names or "label" not in table.column_names:
        raise ServiceError("invalid", "The file needs columns event_id and label.", field="file")
    keep = [c for c in ("event_id", "label", "row") if c in table.column_names]
    rows: list[dict[str, Any]] = table.select(keep).to_pylist()
    return rows


class GroundTruthView(APIView):
    """Labels for an endpoint's captured predictions, keyed by the captured ``event_id``
    (and ``row`` within a multi-row request); the model-quality and bias-drift monitors
    join them to what the model answered."""

    serializer_class = GroundTruthOut

    @extend_schema(responses=GroundTruthOut(many=True))
    def get(self, request: Request, pk: str) -> Response:
        endpoint = access_endpoint(request.user, pk)
        uploads = GroundTruthUpload.objects.filter(endpoint=endpoint).order_by("-created_at")[:200]
        return Response(GroundTruthOut(uploads, many=True).data)

    @extend_schema(request=GroundTruthIn, responses={201: GroundTruthOut})
    def post(self, request: Request, pk: str) -> Response:
        endpoint = access_endpoint(request.user, pk, write=True)
        upload = request.FILES.get("file")
        if upload is None and request.data.get("labeling_job") is not None:
            created = ground_truth.ground_truth_from_labeling_job(
                endpoint=endpoint, user=request.user, labeling_job=request.data["labeling_job"]
            )
            return Response(GroundTruthOut(created).data, status=status.HTTP_201_CREATED)
        rows = _rows_from_file(upload) if upload is not None else request.data.get("rows")
        created = ground_truth.ground_truth_upload(endpoint=endpoint, user=request.user, rows=rows)
        return Response(GroundTruthOut(created).data, status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- clarify


class ClarifyIn(serializers.Serializer):
    project = serializers.IntegerField()
    dataset = serializers.IntegerField()
    label = serializers.CharField()
    positive_label_values = serializers.JSONField()
    facets = serializers.JSONField(required=False, allow_null=True, help_text=FACETS_HELP)
    model_package = serializers.IntegerField(required=False, allow_null=True)
    methods = serializers.JSONField(
        required=False, help_text='["pre_training_bias", "post_training_bias", "shap"]'
    )
    group_variable = serializers.CharField(required=False, allow_blank=True)
    name = serializers.CharField(required=False, allow_blank=True)
    shap = serializers.JSONField(
        required=False, help_text='{"rows": 1000, "background_k": 10, "seed": 0}'
    )


class ClarifyOut(serializers.ModelSerializer):
    status = serializers.CharField(source="job.status")
    failure_reason = serializers.CharField(source="job.failure_reason")
    dataset = serializers.SerializerMethodField()
    model_package = serializers.SerializerMethodField()

    class Meta:
        model = ClarifyJob
        fields = [
            "id",
            "project",
            "name",
            "job",
            "status",
            "failure_reason",
            "dataset",
            "label",
            "positive_label_values",
            "facets",
            "group_variable",
            "model_package",
            "methods",
            "options",
            "report",
            "created_at",
        ]

    def get_dataset(self, obj: ClarifyJob) -> dict[str, Any]:
        return {"id": obj.dataset_id, "name": obj.dataset_label}

    def get_model_package(self, obj: ClarifyJob) -> dict[str, Any] | None:
        package = obj.model_package
        return None if package is None else {"id": package.pk, "name": str(package)}


class ClarifyViewSet(viewsets.GenericViewSet):
    """Clarify: bias metrics before training (of the data) and after (of a model's
    predictions), per facet and for their intersection, and SHAP explanations."""

    serializer_class = ClarifyOut
    queryset = ClarifyJob.objects.none()

    @extend_schema(parameters=[OpenApiParameter("project", int)], responses=ClarifyOut(many=True))
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project"})
        page = self.paginate_queryset(
            selectors.clarify_job_list(request.user, project_id=filters.get("project"))
        )
        return self.get_paginated_response(ClarifyOut(page, many=True).data)

    @extend_schema(request=ClarifyIn, responses={201: ClarifyOut})
    def create(self, request: Request) -> Response:
        data = validated(ClarifyIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        clarify = clarify_job_create(
            project=project,
            user=request.user,
            dataset=data["dataset"],
            label=data["label"],
            positive_label_values=data["positive_label_values"],
            facets=data.get("facets"),
            model_package=data.get("model_package"),
            methods=data.get("methods"),
            group_variable=data.get("group_variable"),
            name=data.get("name"),
            shap=data.get("shap"),
        )
        clarify = selectors.access_clarify_job(request.user, clarify.pk)
        return Response(ClarifyOut(clarify).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ClarifyOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ClarifyOut(selectors.access_clarify_job(request.user, pk)).data)

    @extend_schema(request=None, responses=ClarifyOut)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        clarify = selectors.access_clarify_job(request.user, pk, write=True)
        clarify_job_stop(clarify=clarify, user=request.user)
        return Response(ClarifyOut(selectors.access_clarify_job(request.user, pk)).data)

    @extend_schema(
        parameters=[OpenApiParameter("file", str, enum=["json", "html"])],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"], url_path="report")
    def download(self, request: Request, pk: str) -> HttpResponse:
        """The report as a file: ``?file=json`` (default) or ``html`` (self-contained)."""
        clarify = selectors.access_clarify_job(request.user, pk)
        wanted = request.query_params.get("file", "json")
        if wanted not in ("json", "html"):
            raise ServiceError("invalid", "file is json or html.", field="file")
        if not clarify.report:
            raise ServiceError("not_ready", "The report is not ready yet.", field=None)
        return clarify_report_download(clarify, wanted)


def clarify_report_download(clarify: ClarifyJob, wanted: str) -> HttpResponse:
    stem = f"clarify-{clarify.pk}"
    if wanted == "html":
        response = HttpResponse(
            clarify_report_html(clarify), content_type="text/html; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{stem}.html"'
        return response
    response = HttpResponse(json.dumps(clarify.report, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{stem}.json"'
    return response
