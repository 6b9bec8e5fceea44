"""The endpoints that serve a model package and the batch transforms that scored with it,
for the registry's lineage."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from endpoints.selectors import endpoints_serving_package
from endpoints.transform import transforms_of_package
from registry.lineage import register_downstream


@register_downstream
def endpoints_of(package: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": "endpoint",
            "name": e.name,
            "url": reverse("endpoint-detail", args=[e.pk]),
            "status": e.status,
        }
        for e in endpoints_serving_package(package)
    ]


@register_downstream
def transforms_of(package: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": "batch transform",
            "name": t.name,
            "url": reverse("transform-job-detail", args=[t.pk]),
            "status": t.job.status,
        }
        for t in transforms_of_package(package)[:50]
    ]
