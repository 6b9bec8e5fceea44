"""Flows: a DAG of transforms as JSON, versioned on every save."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


def empty_graph() -> dict[str, Any]:
    return {"nodes": [], "edges": []}


class Flow(models.Model):
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    graph = models.JSONField(default=empty_graph)
    version = models.PositiveIntegerField(default=1)
    # How previews sample each source: {"mode", "rows", "seed", "column"}.
    sample = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["project", "-updated_at"], name="flow_recent")]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    """The graph as it was at one save; processing jobs name the version they ran."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    graph = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "version"], name="flow_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.version}"
