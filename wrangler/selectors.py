"""Reads of flows, with the same permission rules as every project object."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from studio.selectors import access_project, check_role, membership_of, readable_project_ids
from wrangler.models import Flow


def access_flow(user: Any, flow_id: Any, *, write: bool = False) -> Flow:
    """The flow for ``user``: 404 for a stranger, 403 for a role that may not read or write it."""
    try:
        pk = int(flow_id)
    except (TypeError, ValueError):
        raise Http404("No such flow.")
    flow = Flow.objects.select_related("project").filter(pk=pk).first()
    if flow is None:
        raise Http404("No such flow.")
    check_role(membership_of(user, flow.project_id), write=write, what="flow")
    return flow


def flow_list(user: Any, *, project_id: Any = None, search: str = "") -> QuerySet[Flow]:
    qs = Flow.objects.filter(project__in=readable_project_ids(user))
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    if search:
        qs = qs.filter(name__icontains=search)
    return qs.select_related("project", "created_by")
