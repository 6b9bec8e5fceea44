"""The training API: training jobs (built-in algorithms), their model artifacts, and the
algorithms with their hyperparameters."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from studio import storage
from studio.api.views import check_choice, check_filters, validated
from studio.choices import JobStatus
from studio.errors import ServiceError
from training import selectors, services
from training.models import Experiment, Run, TrainingJob


class TrainingJobIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    algorithm = serializers.CharField(max_length=64)
    channels = serializers.JSONField(
        required=False, help_text='{"train": 12, "validation": 13, "test": 14}'
    )
    target = serializers.CharField(required=False, allow_blank=True, max_length=255)
    hyperparameters = serializers.JSONField(required=False)
    problem_type = serializers.CharField(required=False, max_length=40)
    instance_type = serializers.CharField(required=False, max_length=40)
    instance_count = serializers.JSONField(required=False)
    max_runtime_seconds = serializers.JSONField(required=False)
    source = serializers.FileField(
        required=False, help_text='algorithm "script": a .py file or a .zip of your code'
    )
    entry_point = serializers.CharField(required=False, allow_blank=True, max_length=255)
    metric_definitions = serializers.JSONField(
        required=False, help_text='[{"name": "validation:acc", "regex": "val_acc=([0-9.]+)"}]'
    )
    experiment = serializers.CharField(
        required=False, max_length=200, help_text='The experiment\'s name ("Default" if none)'
    )
    debugger_rules = serializers.JSONField(
        required=False, help_text='[{"name": "Overfit", "params": {...}, "action": "stop"}]'
    )


class TrainingJobOut(serializers.ModelSerializer):
    status = serializers.CharField(source="job.status")
    failure_reason = serializers.CharField(source="job.failure_reason")
    pending_reason = serializers.CharField(source="job.pending_reason")
    progress = serializers.FloatField(source="job.progress")
    started_at = serializers.DateTimeField(source="job.started_at")
    finished_at = serializers.DateTimeField(source="job.finished_at")
    duration_seconds = serializers.FloatField(source="job.duration_seconds")
    created_by = serializers.CharField(source="created_by.username", default=None)
    model_artifact = serializers.SerializerMethodField()
    run = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "project",
            "name",
            "job",
            "status",
            "algorithm",
            "channels",
            "target",
            "problem_type",
            "hyperparameters",
            "instance_type",
            "instance_count",
            "max_runtime_seconds",
            "entry_point",
            "metric_definitions",
            "debugger_rules",
            "rule_statuses",
            "final_metrics",
            "result",
            "model_artifact",
            "run",
            "failure_reason",
            "pending_reason",
            "progress",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]

    def get_run(self, obj: TrainingJob) -> dict[str, Any] | None:
        run = Run.objects.filter(training_job=obj).select_related("experiment").first()
        if run is None:
            return None
        return {"id": run.pk, "uuid": run.uuid, "experiment": run.experiment.name}

    def get_model_artifact(self, obj: TrainingJob) -> dict[str, Any] | None:
        if not obj.model_artifact_key:
            return None
        url = reverse("api-training-job-model", args=[obj.pk])
        request = self.context.get("request")
        return {
            "key": obj.model_artifact_key,
            "size": obj.model_artifact_size,
            "url": request.build_absolute_uri(url) if request is not None else url,
        }


class TrainingJobViewSet(viewsets.GenericViewSet):
    """SageMaker training jobs: a built-in algorithm, or your script (multipart, with
    ``algorithm: "script"``, ``source`` and ``entry_point``; the structured fields then as
    JSON-encoded strings), on datasets, on the cpu or gpu queue."""

    serializer_class = TrainingJobOut
    queryset = TrainingJob.objects.none()
    FILTERS = {"project", "status"}

    def _out(self, training: TrainingJob) -> dict[str, Any]:
        return dict(TrainingJobOut(training, context={"request": self.request}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("status", str, enum=JobStatus.values),
        ],
        responses=TrainingJobOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, self.FILTERS)
        qs = selectors.training_job_list(
            request.user,
            project_id=filters.get("project"),
            status=check_choice(filters, "status", JobStatus.values),
        )
        page = self.paginate_queryset(qs)
        out = TrainingJobOut(page, many=True, context={"request": request})
        return self.get_paginated_response(out.data)

    @extend_schema(request=TrainingJobIn, responses={201: TrainingJobOut})
    def create(self, request: Request) -> Response:
        from studio.selectors import access_project

        data = validated(TrainingJobIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        training = services.training_job_create(
            project=project,
            user=request.user,
            name=data["name"],
            algorithm=data["algorithm"],
            channels=data.get("channels"),
            target=data.get("target"),
            hyperparameters=data.get("hyperparameters"),
            problem_type=data.get("problem_type"),
            instance_type=data.get("instance_type"),
            instance_count=data.get("instance_count"),
            max_runtime_seconds=data.get("max_runtime_seconds"),
            source=data.get("source"),
            entry_point=data.get("entry_point"),
            metric_definitions=data.get("metric_definitions"),
            experiment=data.get("experiment"),
            debugger_rules=data.get("debugger_rules"),
        )
        return Response(self._out(training), status=status.HTTP_201_CREATED)

    @extend_schema(responses=TrainingJobOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._out(selectors.access_training_job(request.user, pk)))

    @extend_schema(responses={(200, "application/gzip"): bytes})
    @action(detail=True, methods=["get"])
    def model(self, request: Request, pk: str) -> FileResponse:
        """The model artifact, ``model.tar.gz``: the fitted pipeline and its metadata."""
        training = selectors.access_training_job(request.user, pk)
        if not training.model_artifact_key or not storage.exists(training.model_artifact_key):
            raise Http404("This training job has no model yet.")
        response = FileResponse(
            storage.open_read(training.model_artifact_key),
            as_attachment=True,
            filename=f"{training.name}-model.tar.gz".replace(" ", "_"),
            content_type="application/gzip",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def debugger(self, request: Request, pk: str) -> Response:
        """The debugger rules as they stand (``name, params, action, status, message``), each
        with ``figure``: the chart of the values it read (``kind`` "lines" or "bars",
        ``traces`` of ``{name, x, y}``, ``threshold``), and a ``note`` on what it shows."""
        training = selectors.access_training_job(request.user, pk)
        return Response(
            {
                "status": training.job.status,
                "rules": selectors.training_job_rules(training),
            }
        )


class AlgorithmViewSet(viewsets.ViewSet):
    """The built-in algorithms: problem types and hyperparameters with types, ranges and
    defaults (what the API checks and the UI renders)."""

    @extend_schema(responses=dict)
    def list(self, request: Request) -> Response:
        from training.engine import algorithms
        from training.engine.debugger import DEFAULT_RULES, RULES

        return Response(
            {
                "algorithms": [a.to_dict() for a in algorithms()],
                "debugger_rules": [r.to_dict() for r in RULES.values()],
                "default_rules": list(DEFAULT_RULES),
                "instance_types": [t.to_dict() for t in services.INSTANCE_TYPES.values()],
            }
        )


# --------------------------------------------------------------------------- experiments


class ExperimentIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.JSONField(required=False)


class ExperimentPatch(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class ExperimentOut(serializers.ModelSerializer):
    run_count = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = ["id", "project", "name", "description", "tags", "run_count", "created_at"]

    def get_run_count(self, obj: Experiment) -> int:
        counted = getattr(obj, "counted_runs", None)
        return int(counted) if counted is not None else obj.runs.filter(deleted=False).count()


class RunOut(serializers.ModelSerializer):
    training_job = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "uuid",
            "experiment",
            "project",
            "name",
            "status",
            "start_time",
            "end_time",
            "params",
            "tags",
            "metrics",
            "inputs",
            "training_job",
            "created_at",
        ]


class RunCreateIn(serializers.Serializer):
    experiment = serializers.IntegerField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=250)
    start_time = serializers.JSONField(required=False)
    params = serializers.JSONField(required=False)
    tags = serializers.JSONField(required=False)


class RunUpdateIn(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=250)
    status = serializers.CharField(required=False)
    end_time = serializers.JSONField(required=False)


class LogBatchIn(serializers.Serializer):
    metrics = serializers.JSONField(required=False, help_text="[{key, value, step, timestamp}]")
    params = serializers.JSONField(required=False, help_text="[{key, value}]")
    tags = serializers.JSONField(required=False, help_text="[{key, value}]")


class ExperimentViewSet(viewsets.GenericViewSet):
    """Experiments: named groups of runs in a project."""

    serializer_class = ExperimentOut
    queryset = Experiment.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("project", int)], responses=ExperimentOut(many=True)
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project"})
        qs = selectors.experiment_list(request.user, project_id=filters.get("project"))
        qs = qs.annotate(counted_runs=Count("runs", filter=Q(runs__deleted=False)))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ExperimentOut(page, many=True).data)

    @extend_schema(request=ExperimentIn, responses={201: ExperimentOut})
    def create(self, request: Request) -> Response:
        from studio.selectors import access_project

        data = validated(ExperimentIn, request.data)
        project = access_project(request.user, data["project"], write=True)
        experiment = services.experiment_create(
            project=project,
            user=request.user,
            name=data["name"],
            description=data.get("description", ""),
            tags=data.get("tags"),
        )
        return Response(ExperimentOut(experiment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ExperimentOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ExperimentOut(selectors.access_experiment(request.user, pk)).data)

    @extend_schema(request=ExperimentPatch, responses=ExperimentOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        experiment = selectors.access_experiment(request.user, pk, write=True)
        data = validated(ExperimentPatch, request.data)
        experiment = services.experiment_update(
            experiment=experiment, name=data.get("name"), description=data.get("description")
        )
        return Response(ExperimentOut(experiment).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        experiment = selectors.access_experiment(request.user, pk, write=True)
        experiment.deleted = True
        experiment.save(update_fields=["deleted"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunViewSet(viewsets.GenericViewSet):
    """Runs: parameters, tags and metric series, logged by training jobs or any client."""

    serializer_class = RunOut
    queryset = Run.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("project", int), OpenApiParameter("experiment", int)],
        responses=RunOut(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project", "experiment"})
        experiments = None
        if "experiment" in filters:
            experiments = [selectors.access_experiment(request.user, filters["experiment"]).pk]
        qs = selectors.run_list(
            request.user, project_id=filters.get("project"), experiment_ids=experiments
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(RunOut(page, many=True).data)

    @extend_schema(request=RunCreateIn, responses={201: RunOut})
    def create(self, request: Request) -> Response:
        data = validated(RunCreateIn, request.data)
        experiment = selectors.access_experiment(request.user, data["experiment"], write=True)
        run = services.run_create(
            experiment=experiment,
            user=request.user,
            name=data.get("name", ""),
            start_time=data.get("start_time"),
            params=data.get("params"),
            tags=data.get("tags"),
        )
        return Response(RunOut(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RunOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(RunOut(selectors.access_run(request.user, pk)).data)

    @extend_schema(request=RunUpdateIn, responses=RunOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        run = selectors.access_run(request.user, pk, write=True)
        data = validated(RunUpdateIn, request.data)
        run = services.run_update(
            run=run, status=data.get("status"), end_time=data.get("end_time"), name=data.get("name")
        )
        return Response(RunOut(run).data)

    @extend_schema(request=LogBatchIn, responses=RunOut)
    @action(detail=True, methods=["post"], url_path="log-batch")
    def log_batch(self, request: Request, pk: str) -> Response:
        run = selectors.access_run(request.user, pk, write=True)
        data = validated(LogBatchIn, request.data)
        run = services.run_log_batch(
            run=run, metrics=data.get("metrics"), params=data.get("params"), tags=data.get("tags")
        )
        return Response(RunOut(run).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("key", str, required=True),
            OpenApiParameter("max_points", int, description="Downsample to about this many."),
        ],
        responses=dict,
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk: str) -> Response:
        """One metric's series: ``{"key", "points": [{step, value, timestamp}]}``."""
        run = selectors.access_run(request.user, pk)
        filters = check_filters(request, {"key", "max_points"})
        if "key" not in filters:
            raise ServiceError("invalid", "Name the metric: ?key=…", field="key")
        try:
            limit = max(0, min(100_000, int(filters.get("max_points", 0))))
        except ValueError:
            raise ServiceError("invalid", "max_points is a whole number.", field="max_points")
        rows = selectors.metric_history(run, filters["key"], max_points=limit)
        return Response(
            {
                "key": filters["key"],
                "points": [{"step": s, "value": v, "timestamp": t} for s, v, t in rows],
            }
        )
