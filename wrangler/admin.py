from django.contrib import admin

from wrangler.models import Flow, FlowVersion


class FlowVersionInline(admin.TabularInline):
    model = FlowVersion
    extra = 0
    fields = ["version", "created_by", "created_at"]
    readonly_fields = ["version", "created_by", "created_at"]
    can_delete = False


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "version", "created_by", "updated_at"]
    list_filter = ["project"]
    search_fields = ["name"]
    readonly_fields = ["version", "created_at", "updated_at"]
    inlines = [FlowVersionInline]
