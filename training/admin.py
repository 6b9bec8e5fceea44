from django.contrib import admin

from training.models import TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "algorithm", "instance_type", "created_by", "created_at"]
    list_filter = ["project", "algorithm"]
    search_fields = ["name"]
    readonly_fields = ["job", "final_metrics", "result", "model_artifact_key", "created_at"]
