"""The labeling API: jobs and their labels, stats and exports; the task queue that labelers
(and scripts) work through; teams of labelers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import queue, selectors, services
from labeling.exports import EXPORT_FORMATS, export_job
from labeling.models import (
    Assignment,
    Consolidation,
    ItemState,
    LabelingItem,
    LabelingJob,
    LabelingJobStatus,
    LabelingTeam,
    TaskType,
)
from studio import storage
from studio.api.views import check_choice, check_filters, validated
from studio.errors import ServiceError
from studio.selectors import access_dataset, access_project


# --- serializers ------------------------------------------------------------------------
class AutoLabelingIn(serializers.Serializer):
    enabled = serializers.BooleanField(default=False)
    target_accuracy = serializers.FloatField(default=0.95, min_value=0.5, max_value=0.999)


class LabelingJobIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    dataset = serializers.IntegerField()
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    data_column = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The column to label: the text column, or 'image' (the default for images).",
    )
    labels = serializers.ListField(child=serializers.CharField(max_length=200), min_length=1)
    workers_per_item = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=5,
        help_text="Distinct labelers per item: 1–5; 3 by default, 5 for boxes.",
    )
    instructions = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Markdown shown to labelers beside each task (with good and bad examples).",
    )
    time_limit_seconds = serializers.IntegerField(required=False, default=300)
    gold_items = serializers.JSONField(
        required=False, help_text='Items with a known answer: [{"row": 12, "label": "spam"}].'
    )
    auto_labeling = AutoLabelingIn(required=False)
    verifies = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Verification jobs: the kind of label they review (a task type).",
    )
    pre_annotation_column = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="A column holding labels to verify or to start from (e.g. a model's).",
    )
    pre_annotations = serializers.JSONField(
        required=False,
        help_text="Label Studio tasks (JSON export) whose labels are pre-annotations.",
    )
    sequence_column = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Video tracking: the column grouping frames into sequences (default: label).",
    )
    show_previous_answers = serializers.BooleanField(required=False, default=False)
    consolidation = serializers.ChoiceField(
        choices=Consolidation.values, required=False, default=Consolidation.DAWID_SKENE
    )
    label_attribute = serializers.CharField(required=False, allow_blank=True, default="")
    teams = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class LabelingJobOut(serializers.ModelSerializer):
    dataset_name = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None)
    auto_labeling = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = LabelingJob
        fields = [
            "id",
            "project",
            "name",
            "dataset",
            "dataset_name",
            "task_type",
            "verifies",
            "data_column",
            "sequence_column",
            "pre_annotation_column",
            "labels",
            "label_attribute",
            "workers_per_item",
            "instructions",
            "time_limit_seconds",
            "show_previous_answers",
            "consolidation",
            "auto_labeling",
            "teams",
            "status",
            "phase",
            "failure_reason",
            "items_total",
            "progress",
            "output_dataset",
            "setup_job",
            "created_by",
            "created_at",
            "updated_at",
            "completed_at",
        ]

    def get_dataset_name(self, obj: LabelingJob) -> str | None:
        return str(obj.dataset) if obj.dataset else None

    def get_auto_labeling(self, obj: LabelingJob) -> dict[str, Any]:
        return {
            "enabled": obj.auto_labeling,
            "target_accuracy": obj.target_accuracy,
            "rounds": obj.auto_rounds,
        }

    def get_teams(self, obj: LabelingJob) -> list[str]:
        return [t.name for t in obj.teams.all()]

    def get_progress(self, obj: LabelingJob) -> dict[str, int]:
        return selectors.job_progress(obj)


class WorkerJobOut(serializers.ModelSerializer):
    """What a labeler sees of a job: enough to label, nothing of the data behind it."""

    class Meta:
        model = LabelingJob
        fields = [
            "id",
            "name",
            "task_type",
            "verifies",
            "labels",
            "instructions",
            "time_limit_seconds",
            "status",
        ]


class TeamIn(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    members = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class TeamPatch(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    members = serializers.ListField(child=serializers.CharField(), required=False)


class TeamOut(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = LabelingTeam
        fields = ["id", "project", "name", "description", "members", "created_at"]

    def get_members(self, obj: LabelingTeam) -> list[str]:
        return sorted(u.username for u in obj.members.all())


class SubmitIn(serializers.Serializer):
    label = serializers.JSONField(
        help_text="A class; a list of classes; spans [{label, start, end}]; boxes "
        "[{label, x, y, w, h}]; shapes; tracks; or a verdict {verdict, label}."
    )


class ReviewIn(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    workers = serializers.IntegerField(required=False, default=1)


def _task_text(task: Any, key: str) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    value = data.get(key, data.get("text")) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


# --- item data as clients see it ----------------------------------------------------------
def _item_url(job_id: int, item_id: int, what: str = "image") -> str:
    return reverse("api-labeling-item-image", args=[job_id, item_id])


def public_data(job_id: int, item: LabelingItem) -> dict[str, Any]:
    """The item's data with storage keys turned into URLs the client may fetch."""
    data = dict(item.data)
    url = _item_url(job_id, item.pk)
    if "image" in data:
        data["image_url"] = url
        data.pop("image")
    if "frames" in data:
        data["frames"] = [f"{url}?frame={i}" for i in range(len(data["frames"]))]
    return data


def task_out(assignment: Assignment, job: LabelingJob, *, user: Any) -> dict[str, Any]:
    item = assignment.item
    out_item: dict[str, Any] = {"id": item.pk, "data": public_data(job.pk, item)}
    if item.pre_annotation is not None:
        out_item["pre_annotation"] = item.pre_annotation
    if assignment.is_review or job.show_previous_answers:
        out_item["previous_answers"] = selectors.previous_answers(item, exclude_worker=user)
    if assignment.is_review:
        current = LabelingItem.objects.filter(pk=item.pk).values("label", "review_comment").first()
        out_item["review"] = {
            "comment": (current or {}).get("review_comment", ""),
            "current_label": (current or {}).get("label"),
        }
    return {
        "assignment": assignment.pk,
        "item": out_item,
        "expires_at": assignment.expires_at.isoformat(),
        "task_type": job.task_type,
        "labels": job.labels,
    }


def record_out(item: LabelingItem, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "item_id": item.pk,
        "row": item.row,
        "label": item.label,
        "confidence": item.confidence,
        "source": item.source,
        "annotations": annotations,
    }


class FileNegotiation(DefaultContentNegotiation):
    """Exports answer with a file of their own; ``?format=`` names that file's format, not
    one of the API's renderers."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


# --- viewsets -----------------------------------------------------------------------------
class LabelingJobViewSet(viewsets.GenericViewSet):
    """Ground Truth's labeling jobs over a dataset; their task queue, labels and exports."""

    serializer_class = LabelingJobOut
    queryset = LabelingJob.objects.none()
    FILTERS = {"project", "status", "search"}

    def _out(self, job: LabelingJob) -> dict[str, Any]:
        return dict(LabelingJobOut(job).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("status", str, enum=LabelingJobStatus.values),
            OpenApiParameter("search", str),
        ],
        responses=LabelingJobOut(many=True),
    )
    def list(self, request: Request) -> Response:
        """The project readers' jobs in full; a labeler gets the jobs they work on, in the
        worker's shape (no dataset, no other project's jobs)."""
        filters = check_filters(request, self.FILTERS)
        check_choice(filters, "status", LabelingJobStatus.values)
        readable = selectors.labeling_job_list(
            request.user,
            project_id=filters.get("project"),
            status=filters.get("status"),
            search=filters.get("search", ""),
        )
        if readable.exists() or not selectors.worker_jobs(request.user).exists():
            page = self.paginate_queryset(readable.prefetch_related("teams"))
            return self.get_paginated_response(LabelingJobOut(page, many=True).data)
        mine = selectors.worker_jobs(request.user).filter(status__in=selectors.active_statuses())
        page = self.paginate_queryset(mine)
        return self.get_paginated_response(WorkerJobOut(page, many=True).data)

    @extend_schema(request=LabelingJobIn, responses={201: LabelingJobOut})
    def create(self, request: Request) -> Response:
        from labeling.engine.formats import FormatError, from_label_studio

        data = validated(LabelingJobIn, request.data)
        project = access_project(request.user, data.pop("project"), write=True)
        dataset = access_dataset(request.user, data.pop("dataset"))
        if dataset.project_id != project.pk:
            raise ServiceError(
                "invalid", "The dataset belongs to another project.", field="dataset"
            )
        raw_pre = data.pop("pre_annotations", None)
        pre = None
        if raw_pre is not None:
            kind = (
                data.get("verifies")
                if data["task_type"] == TaskType.VERIFICATION
                else data["task_type"]
            )
            try:
                pairs = from_label_studio(raw_pre, task_type=kind, labels=data["labels"])
            except FormatError as exc:
                raise ServiceError(exc.code, exc.message, field="pre_annotations")
            # Tasks without a row number are matched to items by their text.
            key = data.get("data_column") or "text"
            pre = [
                (row, value, _task_text(task, key))
                for (row, value), task in zip(pairs, raw_pre, strict=True)
            ]
        auto = data.pop("auto_labeling", None)
        job = services.labeling_job_create(
            project=project,
            user=request.user,
            dataset=dataset,
            pre_annotations=pre,
            auto_labeling=dict(auto) if auto else None,
            **data,
        )
        return Response(self._out(job), status=status.HTTP_201_CREATED)

    @extend_schema(responses=LabelingJobOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._out(selectors.access_labeling_job(request.user, pk)))

    @extend_schema(request=None, responses=LabelingJobOut)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        job = selectors.access_labeling_job(request.user, pk, write=True)
        services.labeling_job_stop(job=job)
        return Response(self._out(selectors.access_labeling_job(request.user, pk)))

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(
                description='{"assignment", "item": {"id", "data"}, "expires_at"}'
            ),
            204: OpenApiResponse(description="Nothing left for this worker."),
        },
    )
    @action(detail=True, methods=["post"], url_path="next-task")
    def next_task(self, request: Request, pk: str) -> Response:
        """The worker's next task (their current one if they have one open)."""
        job = selectors.access_job_as_worker(request.user, pk)
        assignment = queue.next_task(job=job, worker=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(task_out(assignment, job, user=request.user))

    @extend_schema(responses=OpenApiResponse(description="The worker's own numbers in this job."))
    @action(detail=True, methods=["get"])
    def me(self, request: Request, pk: str) -> Response:
        job = selectors.access_job_as_worker(request.user, pk)
        return Response(
            {"job": WorkerJobOut(job).data, "stats": selectors.worker_stats(request.user, job)}
        )

    @extend_schema(
        parameters=[OpenApiParameter("item", int, description="Only these items (repeatable).")],
        responses=OpenApiResponse(
            description='[{"item_id", "label", "confidence", "source", "annotations"}]'
        ),
    )
    @action(detail=True, methods=["get"])
    def labels(self, request: Request, pk: str) -> Response:
        """Consolidated labels with their provenance (paginated)."""
        job = selectors.access_labeling_job(request.user, pk)
        check_filters(request, {"item"})
        item_ids = None
        if request.query_params.getlist("item"):
            try:
                item_ids = [int(v) for v in request.query_params.getlist("item")]
            except ValueError:
                raise ServiceError("invalid", "item is an item id.", field="item")
        page = self.paginate_queryset(selectors.job_labels(job, item_ids=item_ids))
        annotations = selectors.item_annotations([item.pk for item in page])
        return self.get_paginated_response(
            [record_out(item, annotations[item.pk]) for item in page]
        )

    @extend_schema(responses=OpenApiResponse(description="The dashboard's numbers."))
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: str) -> Response:
        job = selectors.access_labeling_job(request.user, pk)
        return Response(selectors.job_stats(job))

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=[*EXPORT_FORMATS])],
        responses=OpenApiResponse(description="The labels as a file."),
    )
    @action(
        detail=True, methods=["get"], url_path="export", content_negotiation_class=FileNegotiation
    )
    def export(self, request: Request, pk: str) -> HttpResponse:
        job = selectors.access_labeling_job(request.user, pk)
        check_filters(request, set())
        fmt = request.query_params.get("format") or "manifest"
        if fmt not in EXPORT_FORMATS:
            raise ServiceError(
                "invalid",
                f"Unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}.",
                field="format",
            )
        body, content_type, filename = export_job(job, fmt)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=ItemState.values),
            OpenApiParameter("order", str, enum=["row", "confidence"]),
        ],
        responses=OpenApiResponse(description="The job's items with their answers."),
    )
    @action(detail=True, methods=["get"])
    def items(self, request: Request, pk: str) -> Response:
        job = selectors.access_labeling_job(request.user, pk)
        filters = check_filters(request, {"state", "order", "source"})
        check_choice(filters, "state", ItemState.values)
        check_choice(filters, "order", ["row", "confidence"])
        qs = LabelingItem.objects.filter(job=job)
        if filters.get("state"):
            qs = qs.filter(state=filters["state"])
        if filters.get("source"):
            qs = qs.filter(source=filters["source"])
        order = filters.get("order", "row")
        qs = qs.order_by("confidence", "id") if order == "confidence" else qs.order_by("row")
        if order == "confidence":
            qs = qs.filter(confidence__isnull=False)
        page = self.paginate_queryset(qs)
        annotations = selectors.item_annotations([item.pk for item in page])
        return self.get_paginated_response(
            [
                {
                    **record_out(item, annotations[item.pk]),
                    "state": item.state,
                    "data": public_data(job.pk, item),
                    "pre_annotation": item.pre_annotation,
                    "is_validation": item.is_validation,
                    "gold": item.gold_label is not None,
                }
                for item in page
            ]
        )


class LabelingItemViewSet(viewsets.GenericViewSet):
    """An item of a job: its image (labelers: only items of their tasks), and review."""

    queryset = LabelingItem.objects.none()
    serializer_class = ReviewIn

    @extend_schema(
        parameters=[OpenApiParameter("frame", int)],
        responses=OpenApiResponse(description="The image (or a frame of a sequence)."),
    )
    def image(self, request: Request, job_pk: str, pk: str) -> FileResponse:
        job = _job_for_item_reader(request.user, job_pk)
        item = selectors.access_assignment_item(request.user, job, pk)
        key = item.data.get("image")
        if "frames" in item.data:
            try:
                key = item.data["frames"][int(request.query_params.get("frame", "0"))]
            except (ValueError, IndexError):
                raise ServiceError("invalid", "No such frame.", field="frame")
        if not key or not storage.exists(key):
            raise ServiceError("not_found", "This item has no image.", field=None)
        response = FileResponse(storage.open_read(key))
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @extend_schema(request=ReviewIn, responses=OpenApiResponse(description="The item, open again."))
    def review(self, request: Request, job_pk: str, pk: str) -> Response:
        job = selectors.access_labeling_job(request.user, job_pk, write=True)
        item = selectors.access_assignment_item(request.user, job, pk)
        data = validated(ReviewIn, request.data)
        item = services.labeling_item_review(
            job=job, item=item, comment=data["comment"], workers=data["workers"]
        )
        return Response({"item_id": item.pk, "state": item.state, "needed": item.needed})


def _job_for_item_reader(user: Any, job_id: Any) -> LabelingJob:
    """A scientist's job, or a labeler's (who then reaches only items of their tasks)."""
    try:
        return selectors.access_labeling_job(user, job_id)
    except (Http404, PermissionDenied):
        return selectors.access_job_as_worker(user, job_id)


class AssignmentViewSet(viewsets.GenericViewSet):
    """A task handed to a labeler: submit its label once, or skip it."""

    queryset = Assignment.objects.none()
    serializer_class = SubmitIn

    @extend_schema(request=SubmitIn, responses=OpenApiResponse(description="The stored answer."))
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        data = validated(SubmitIn, request.data)
        try:
            assignment_id = int(pk)
        except ValueError:
            raise ServiceError("not_found", "No such assignment.")
        assignment = queue.assignment_submit(
            assignment_id=assignment_id, worker=request.user, label=data["label"]
        )
        return Response(
            {
                "assignment": assignment.pk,
                "status": assignment.status,
                "label": assignment.label,
                "submitted_at": assignment.submitted_at.isoformat()
                if assignment.submitted_at
                else None,
            }
        )

    @extend_schema(request=None, responses=OpenApiResponse(description="The skipped assignment."))
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str) -> Response:
        try:
            assignment_id = int(pk)
        except ValueError:
            raise ServiceError("not_found", "No such assignment.")
        assignment = queue.assignment_skip(assignment_id=assignment_id, worker=request.user)
        return Response({"assignment": assignment.pk, "status": assignment.status})


class LabelingTeamViewSet(viewsets.GenericViewSet):
    """Teams of a project's members that labeling jobs are given to."""

    serializer_class = TeamOut
    queryset = LabelingTeam.objects.none()

    @extend_schema(parameters=[OpenApiParameter("project", int)], responses=TeamOut(many=True))
    def list(self, request: Request) -> Response:
        filters = check_filters(request, {"project"})
        page = self.paginate_queryset(
            selectors.labeling_team_list(request.user, project_id=filters.get("project"))
        )
        return self.get_paginated_response(TeamOut(page, many=True).data)

    @extend_schema(request=TeamIn, responses={201: TeamOut})
    def create(self, request: Request) -> Response:
        data = validated(TeamIn, request.data)
        project = access_project(request.user, data.pop("project"), write=True)
        team = services.labeling_team_create(project=project, **data)
        return Response(TeamOut(team).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TeamOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TeamOut(selectors.access_labeling_team(request.user, pk)).data)

    @extend_schema(request=TeamPatch, responses=TeamOut)
    def partial_update(self, request: Request, pk: str) -> Response:
        team = selectors.access_labeling_team(request.user, pk, write=True)
        data = validated(TeamPatch, request.data)
        team = services.labeling_team_update(team=team, **data)
        return Response(TeamOut(team).data)

    def destroy(self, request: Request, pk: str) -> Response:
        team = selectors.access_labeling_team(request.user, pk, write=True)
        services.labeling_team_delete(team=team)
        return Response(status=status.HTTP_204_NO_CONTENT)
