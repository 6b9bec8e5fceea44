"""Projects (workspaces) and who may do what in them.

Every object of every app belongs to a project; membership and its role are the only source
of permission. Django staff are ops people: they reach the ops console, not other projects.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.choices import Role

READ_ROLES = frozenset({Role.OWNER, Role.SCIENTIST, Role.VIEWER})
WRITE_ROLES = frozenset({Role.OWNER, Role.SCIENTIST})
ADMIN_ROLES = frozenset({Role.OWNER})


class Project(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Whether a model package that is not Approved may serve from an endpoint.
    allow_unapproved_deployments = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")
        ]
        ordering = ["project_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"

    @property
    def can_read(self) -> bool:
        return self.role in READ_ROLES

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def can_admin(self) -> bool:
        return self.role in ADMIN_ROLES
