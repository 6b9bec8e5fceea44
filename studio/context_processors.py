"""What every page needs: the current project, the user's projects, the navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from studio.navigation import NAVIGATION, current_project, navigation_for


def studio(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": NAVIGATION}
    project, projects = current_project(request)
    return {
        "navigation": navigation_for(request, project),
        "current_project": project,
        "my_projects": projects,
    }
