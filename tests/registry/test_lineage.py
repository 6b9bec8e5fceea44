"""A package's lineage: the datasets and training job it came from, and what the apps above
the registry made from it, told through the downstream hook."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registry import services
from registry.lineage import register_downstream, unregister_downstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(owner, project, training):
    return services.model_package_create(
        project=project, user=owner, group="labels", training_job=training
    )


def test_the_lineage_runs_from_the_dataset_through_the_job_to_the_package(
    api, member, package, training
):
    got = api(member).get(f"/api/v1/model-packages/{package.pk}/lineage/").json()
    dataset_id = training.channels["train"]
    assert got["datasets"] == [
        {
            "channel": "train",
            "id": dataset_id,
            "name": "labels",
            "version": 1,
            "url": reverse("dataset-detail", args=[dataset_id]),
        }
    ]
    assert got["training_job"]["id"] == training.pk
    assert got["training_job"]["url"] == reverse("training-job-detail", args=[training.pk])
    assert got["training_job"]["job_url"] == reverse("job-detail", args=[training.job_id])
    assert got["training_job"]["status"] == "Completed"
    assert got["package"]["url"] == reverse("model-package-detail", args=[package.pk])
    assert got["package"]["version"] == 1 and got["validation_job"] is None
    assert got["downstream"] == []


def test_apps_above_add_downstream_objects_and_a_failing_hook_is_skipped(api, member, package):
    def endpoints_of(pkg):
        return [
            {
                "kind": "endpoint",
                "name": f"serve-{pkg.version}",
                "url": "/e/1/",
                "status": "InService",
            }
        ]

    def broken(pkg):
        raise RuntimeError("the endpoints table is gone")

    register_downstream(endpoints_of)
    register_downstream(broken)
    register_downstream(endpoints_of)  # once only
    try:
        got = api(member).get(f"/api/v1/model-packages/{package.pk}/lineage/").json()
    finally:
        unregister_downstream(endpoints_of)
        unregister_downstream(broken)
    assert got["downstream"] == [
        {"kind": "endpoint", "name": "serve-1", "url": "/e/1/", "status": "InService"}
    ]


def test_the_package_page_shows_downstream_objects_and_a_failure(client, owner, package):
    def endpoints_of(pkg):
        return [{"kind": "endpoint", "name": "labels-prod", "url": "/e/9/", "status": "InService"}]

    register_downstream(endpoints_of)
    client.force_login(owner)
    try:
        html = client.get(reverse("model-package-detail", args=[package.pk])).content.decode()
    finally:
        unregister_downstream(endpoints_of)
    assert '<a href="/e/9/">labels-prod</a>' in html and "InService" in html
    services.model_package_fail(package_id=package.pk, reason="ignored: it is Completed")
    package.refresh_from_db()
    assert package.status == "Completed"  # a finished check is never undone
