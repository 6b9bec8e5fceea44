from django.contrib import admin

from studio.models import Artifact, Dataset, Job, JobLog, JobMetric, Membership, Project, Worker


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "project", "status", "format", "num_rows", "created_at"]
    list_filter = ["status", "format"]
    search_fields = ["name"]
    readonly_fields = ["ingest_job", "profile_job", "created_at", "updated_at"]


class JobLogInline(admin.TabularInline):
    model = JobLog
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "level", "message"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "project",
        "status",
        "queue",
        "progress",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "queue", "kind"]
    search_fields = ["name", "kind"]
    readonly_fields = ["created_at", "updated_at", "started_at", "finished_at", "heartbeat_at"]
    inlines = [JobLogInline]


@admin.register(JobLog)
class JobLogAdmin(admin.ModelAdmin):
    list_display = ["job", "created_at", "level", "message"]
    list_filter = ["level"]


@admin.register(JobMetric)
class JobMetricAdmin(admin.ModelAdmin):
    list_display = ["job", "name", "step", "value", "created_at"]


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ["job", "name", "size", "content_type", "created_at"]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["hostname", "queues", "gpus", "concurrency", "last_seen"]
