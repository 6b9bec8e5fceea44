"""Pages of the Data Wrangler: the flows of a project and the flow editor."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse

from studio import selectors as studio_selectors
from studio.choices import DatasetStatus
from studio.errors import ServiceError
from studio.models import Project
from studio.navigation import enter_project, page_project
from studio.selectors import can_write
from wrangler import selectors, services
from wrangler.models import Flow

SECTION = "flow-list"


def _ready_datasets(request: HttpRequest, project: Project) -> list[dict[str, object]]:
    qs = studio_selectors.dataset_list(request.user, project=project).filter(
        status=DatasetStatus.READY
    )
    return [
        {
            "id": d.pk,
            "name": d.name,
            "version": d.version,
            "rows": d.num_rows,
            "columns": [c["name"] for c in d.columns or []],
        }
        for d in qs.order_by("name", "-version")[:500]
    ]


@login_required
def flow_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    writable = can_write(request.user, project.pk)
    datasets = _ready_datasets(request, project)
    if request.method == "POST":
        project = page_project(request, write=True)
        assert project is not None
        name = request.POST.get("name", "").strip()
        dataset = request.POST.get("dataset", "")
        try:
            flow = services.flow_create(
                project=project,
                user=request.user,
                name=name,
                source_dataset=int(dataset) if dataset.isdigit() else None,
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("flow-editor", flow.pk)
    q = request.GET.get("q", "").strip()[:200]
    flows = selectors.flow_list(request.user, project_id=project.pk, search=q)
    return render(
        request,
        "wrangler/flow_list.html",
        {
            "section": SECTION,
            "project": project,
            "flows": flows[:200],
            "q": q,
            "can_write": writable,
            "datasets": datasets,
            "preselect": request.GET.get("dataset", ""),
        },
    )


@login_required
def flow_editor(request: HttpRequest, pk: int) -> HttpResponse:
    from wrangler.engine import catalog

    flow: Flow = selectors.access_flow(request.user, pk)
    project = flow.project
    enter_project(request, project.pk)
    config = {
        "flow": {
            "id": flow.pk,
            "name": flow.name,
            "version": flow.version,
            "graph": flow.graph,
            "sample": flow.sample,
        },
        "transforms": [t.to_dict() for t in catalog()],
        "datasets": _ready_datasets(request, project),
        "canWrite": can_write(request.user, project.pk),
        "urls": {
            "flow": f"/api/v1/flows/{flow.pk}/",
            "preview": f"/api/v1/flows/{flow.pk}/preview/",
            "run": f"/api/v1/flows/{flow.pk}/run/",
            "export": f"/api/v1/flows/{flow.pk}/export/",
            "job": reverse("job-detail", args=[0]).replace("/0/", "/{id}/"),
            "dataset": reverse("dataset-detail", args=[0]).replace("/0/", "/{id}/"),
            "analyses": f"/api/v1/flows/{flow.pk}/analyses/",
            "plotly": static("vendor/plotly.min.js"),
        },
    }
    return render(
        request,
        "wrangler/flow_editor.html",
        {"section": SECTION, "flow": flow, "project": project, "config": config},
    )
