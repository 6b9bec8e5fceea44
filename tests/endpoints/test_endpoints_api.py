"""The endpoints API and pages without serving processes: every refusal names its field,
permissions, a deploy with no model host, the metrics as the dashboard reads them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from endpoints.models import Endpoint, EndpointMetric, ModelServer
from registry.models import ModelPackage, ModelPackageGroup
from studio import services as studio_services

URL = "/api/v1/endpoints/"


@pytest.fixture(autouse=True)
def fast(settings: Any) -> None:
    settings.SEXTANT_DEPLOY_TIMEOUT = 0.3


def make_package(
    project: Any, *, approval: str = "Approved", status: str = "Completed", group: str = "churn"
) -> ModelPackage:
    found, _ = ModelPackageGroup.objects.get_or_create(project=project, name=group)
    version = found.versions.count() + 1
    return ModelPackage.objects.create(
        project=project,
        group=found,
        version=version,
        status=status,
        approval_status=approval,
        source="training_job",
        artifact_key=f"registry/packages/x{version}/model.tar.gz",
        metadata={
            "problem_type": "binary_classification",
            "input_schema": [
                {"name": "a", "kind": "numeric", "dtype": "float64"},
                {"name": "b", "kind": "numeric", "dtype": "float64"},
            ],
        },
    )


@pytest.fixture
def package(project: Any) -> ModelPackage:
    return make_package(project)


def create(client: Any, project: Any, **body: Any) -> Any:
    payload = {
        "project": project.pk,
        "name": "churn",
        "variants": [{"name": "A", "model_package": body.pop("package", None)}],
        **body,
    }
    return client.post(URL, payload, format="json")


def test_a_deploy_with_no_model_host_fails_the_endpoint_with_the_reason(
    api, owner, project, package, on_commit
):
    with on_commit(execute=True):
        response = create(api(owner), project, package=package.pk)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "Creating" and created["invocation_url"].endswith(
        "/invocations/churn"
    )
    assert created["variants"][0]["model_package"] == package.pk
    assert created["variants"][0]["models"] == ["churn/1"]
    endpoint = api(owner).get(f"{URL}{created['id']}/").json()
    assert endpoint["status"] == "Failed"
    assert "No model host is running" in endpoint["failure_reason"]
    assert not ModelServer.objects.filter(endpoint_id=created["id"], retire_at__isnull=True)
    again = api(owner).post(f"{URL}{created['id']}/update/", {"variants": []}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "no spaces"}, "name"),
        ({"name": "-leading"}, "name"),
        ({"variants": []}, "variants"),
        ({"variants": [{"name": "A", "model_package": 999}]}, "variants.0.model_package"),
        ({"variants": [{"name": "A", "model_package": "1"}]}, "variants.0.model_package"),
        ({"variants": [{"name": "A", "weight": 0}]}, "variants"),
        ({"variants": [{"name": "A", "weight": -1}]}, "variants.0.weight"),
        ({"variants": [{"name": "A", "instance_count": 0}]}, "variants.0.instance_count"),
        ({"variants": [{"name": "A", "instance_count": 17}]}, "variants.0.instance_count"),
        ({"variants": [{"name": "A"}, {"name": "A"}]}, "variants"),
        ({"variants": [{"name": "A", "colour": "red"}]}, "variants.0.colour"),
        ({"data_capture": {"percent": 101}}, "data_capture.percent"),
        ({"data_capture": 5}, "data_capture"),
        ({"shadow": {"name": "A"}}, "shadow.name"),
    ],
)
def test_bad_configurations_are_refused_with_the_field(api, owner, project, package, body, field):
    variants = body.pop("variants", None)
    if variants is not None:
        variants = [{"model_package": package.pk, **v} for v in variants]
        body["variants"] = variants
    payload = {
        "project": project.pk,
        "name": "churn",
        "variants": [{"name": "A", "model_package": package.pk}],
        **body,
    }
    if "shadow" in payload:
        payload["shadow"] = {"model_package": package.pk, **payload["shadow"]}
    response = api(owner).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not Endpoint.objects.exists()


def test_only_approved_and_completed_packages_deploy_unless_the_project_allows(api, owner, project):
    pending = make_package(project, approval="PendingManualApproval")
    refused = create(api(owner), project, package=pending.pk)
    assert refused.status_code == 400
    assert "PendingManualApproval" in refused.json()["error"]["message"]
    validating = make_package(project, status="InProgress")
    assert create(api(owner), project, package=validating.pk).status_code == 400
    project.allow_unapproved_deployments = True
    project.save()
    assert create(api(owner), project, package=pending.pk).status_code == 201


def test_a_package_of_another_project_is_not_found(api, owner, outsider, project, package):
    other = studio_services.project_create(user=outsider, name="Elsewhere")
    foreign = make_package(other)
    response = create(api(owner), project, package=foreign.pk)
    assert response.status_code == 400
    assert "no model package" in response.json()["error"]["message"]


def test_endpoint_names_are_unique(api, owner, project, package, on_commit):
    with on_commit(execute=False):
        assert create(api(owner), project, package=package.pk).status_code == 201
        second = create(api(owner), project, package=package.pk)
    assert second.status_code == 409 and second.json()["error"]["field"] == "name"


def test_roles_and_strangers(api, owner, viewer, outsider, project, package, on_commit):
    assert create(api(viewer), project, package=package.pk).status_code == 403
    assert create(api(outsider), project, package=package.pk).status_code == 404
    with on_commit(execute=False):
        created = create(api(owner), project, package=package.pk).json()
    for path in ("", "instances/", "metrics/"):
        assert api(outsider).get(f"{URL}{created['id']}/{path}").status_code == 404
        assert api(viewer).get(f"{URL}{created['id']}/{path}").status_code == 200
    assert api(outsider).delete(f"{URL}{created['id']}/").status_code == 404
    assert api(viewer).delete(f"{URL}{created['id']}/").status_code == 403
    assert api(outsider).get(URL).json()["results"] == []
    assert api(owner).delete(f"{URL}{created['id']}/").status_code == 204
    assert not Endpoint.objects.exists()


def test_an_update_keeps_what_it_does_not_name(api, owner, project, package, on_commit):
    second = make_package(project)
    endpoint = Endpoint.objects.create(
        project=project,
        name="live",
        status="InService",
        generation=1,
        config={
            "variants": [
                {
                    "name": "A",
                    "model_package": package.pk,
                    "weight": 1.0,
                    "instance_count": 2,
                    "min_instances": 2,
                    "max_instances": 2,
                    "target_in_flight": 4.0,
                    "memory_budget_mb": 1024,
                    "multi_model": False,
                    "models": [],
                }
            ],
            "shadow": None,
            "data_capture": {"percent": 5.0},
            "multi_model": False,
        },
    )
    with on_commit(execute=False):
        response = api(owner).post(
            f"{URL}{endpoint.pk}/update/",
            {
                "variants": [
                    {"name": "A", "weight": 3},
                    {"name": "B", "model_package": second.pk, "weight": 1},
                ]
            },
            format="json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "Updating"
    # What serves is unchanged until the deploy makes the new configuration live.
    assert body["variants"][0]["weight"] == 1.0
    pending = body["pending"]
    assert [(v["name"], v["weight"], v["instance_count"]) for v in pending["variants"]] == [
        ("A", 3.0, 2),
        ("B", 1.0, 1),
    ]
    assert pending["data_capture"] == {"percent": 5.0}
    assert api(owner).post(f"{URL}{endpoint.pk}/update/", {}, format="json").status_code == 409


def test_metrics_sum_the_routers_rows_per_second(api, owner, project, package):
    endpoint = Endpoint.objects.create(project=project, name="m", status="InService")
    now = timezone.now().replace(microsecond=0)
    rows = [
        ("A", False, now, 30, 1, 0, 1.0, 4.0),
        ("A", False, now, 10, 0, 1, 3.0, 9.0),  # a second router process, same second
        ("B", False, now, 20, 0, 0, 2.0, 5.0),
        ("S", True, now, 60, 0, 0, 2.5, 6.0),
        ("A", False, now - timedelta(hours=1), 99, 0, 0, 1.0, 1.0),  # out of the window
    ]
    for variant, shadow, t, n, c4, c5, p50, p99 in rows:
        EndpointMetric.objects.create(
            endpoint=endpoint,
            variant=variant,
            shadow=shadow,
            time=t,
            seconds=1.0,
            invocations=n,
            client_errors=c4,
            server_errors=c5,
            p50_ms=p50,
            p99_ms=p99,
            mean_ms=p50,
            concurrency=0.5,
        )
    data = api(owner).get(f"{URL}{endpoint.pk}/metrics/?seconds=600").json()
    a = data["variants"]["A"]
    assert a["invocations_per_second"] == [40.0]
    assert a["p50_ms"] == [1.5]  # (30 × 1 + 10 × 3) / 40
    assert a["p99_ms"] == [9.0] and a["errors"] == [2] and a["concurrency"] == [1.0]
    assert data["totals"]["A"]["share"] == pytest.approx(40 / 60, abs=1e-4)
    assert data["totals"]["S"]["shadow"] is True and data["totals"]["S"]["share"] is None
    assert api(owner).get(f"{URL}{endpoint.pk}/metrics/?seconds=0").status_code == 400
    assert api(owner).get(f"{URL}{endpoint.pk}/metrics/?window=5").status_code == 400


def test_pages_list_create_and_show_endpoints(client, owner, project, package, on_commit):
    client.force_login(owner)
    empty = client.get("/endpoints/")
    assert empty.status_code == 200 and b"No endpoints yet" in empty.content
    form = client.get(f"/endpoints/new/?model_package={package.pk}")
    assert form.status_code == 200 and b"endpoint-config" in form.content
    assert b'"selected": ' + str(package.pk).encode() in form.content
    endpoint = Endpoint.objects.create(
        project=project,
        name="churn",
        status="InService",
        generation=1,
        config={
            "variants": [
                {
                    "name": "A",
                    "model_package": package.pk,
                    "weight": 1.0,
                    "instance_count": 1,
                    "multi_model": False,
                    "models": [{"package": package.pk, "name": "churn/1"}],
                }
            ],
            "shadow": None,
            "data_capture": {"percent": 10.0},
        },
    )
    listed = client.get("/endpoints/")
    assert b"/invocations/churn" in listed.content
    page = client.get(f"/endpoints/{endpoint.pk}/")
    assert page.status_code == 200
    for fragment in (
        b"data-endpoint-dashboard",
        b"Traffic split",
        b"Test invoke",
        b"churn v1",
        b"10%",
    ):
        assert fragment in page.content, fragment
    model = client.get(f"/models/packages/{package.pk}/")
    assert f"/endpoints/new/?model_package={package.pk}".encode() in model.content
    lineage = client.get(f"/api/v1/model-packages/{package.pk}/lineage/").json()
    assert {
        "kind": "endpoint",
        "name": "churn",
        "url": f"/endpoints/{endpoint.pk}/",
        "status": "InService",
    } in lineage["downstream"]


def test_a_stranger_gets_404_on_the_pages(client, outsider, project, package):
    endpoint = Endpoint.objects.create(project=project, name="x", status="InService")
    client.force_login(outsider)
    assert client.get(f"/endpoints/{endpoint.pk}/").status_code == 404


def test_home_and_ops_show_the_endpoints(client, owner, staff, project, package):
    from endpoints.models import ModelHost

    host = ModelHost.objects.create(name="serve-1", address="10.0.0.5", heartbeat_at=timezone.now())
    endpoint = Endpoint.objects.create(project=project, name="churn", status="InService")
    ModelServer.objects.create(
        endpoint=endpoint,
        variant="A",
        spec={},
        spec_hash="x",
        status="Running",
        host=host,
        restarts=2,
    )
    EndpointMetric.objects.create(
        endpoint=endpoint, variant="A", time=timezone.now(), invocations=42, server_errors=1
    )
    client.force_login(owner)
    home = client.get("/").content.decode()
    assert 'data-testid="home-endpoints"' in home and "/invocations/churn" in home
    assert "1 in service" in home
    client.force_login(staff)
    ops = client.get("/ops/").content.decode()
    assert 'data-testid="ops-serving"' in ops
    assert "serve-1" in ops and "10.0.0.5" in ops and "1 / 1 running" in ops
    assert "churn" in ops and "Churn" in ops
