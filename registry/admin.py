from django.contrib import admin

from registry.models import ModelPackage, ModelPackageApproval, ModelPackageGroup


@admin.register(ModelPackageGroup)
class ModelPackageGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_by", "created_at"]
    list_filter = ["project"]
    search_fields = ["name"]


class ApprovalInline(admin.TabularInline):
    model = ModelPackageApproval
    extra = 0
    readonly_fields = ["status", "previous_status", "user", "comment", "created_at"]
    can_delete = False


@admin.register(ModelPackage)
class ModelPackageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "project", "status", "approval_status", "source", "created_at"]
    list_filter = ["project", "status", "approval_status", "source"]
    search_fields = ["group__name"]
    # Approval goes through the registry's services (owners only, with history), not here.
    readonly_fields = [
        "status",
        "approval_status",
        "approval_updated_by",
        "approval_updated_at",
        "approval_comment",
        "artifact_key",
        "artifact_size",
        "metadata",
        "metrics",
        "origin",
        "upload_key",
        "job",
        "training_job",
        "created_at",
    ]
    inlines = [ApprovalInline]
