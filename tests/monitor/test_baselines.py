"""Baselines: computed once by a job from a dataset, returned with their statistics and
constraints, editable, project-scoped."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.models import MonitoringBaseline
from tests.monitor.conftest import package_for, table_dataset

pytestmark = pytest.mark.django_db


def create(api: Any, user: Any, on_commit: Any, **body: Any) -> Any:
    with on_commit(execute=True):
        return api(user).post("/api/v1/monitoring-baselines/", body, format="json")


def test_a_baseline_is_computed_by_a_job_and_returns_statistics_and_constraints(
    api: Any, member: Any, project: Any, train_data: Any, on_commit: Any
) -> None:
    response = create(api, member, on_commit, project=project.pk, dataset=train_data.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "job", "status"} <= set(body)
    got = api(member).get(f"/api/v1/monitoring-baselines/{body['id']}/").json()
    assert got["status"] == "Completed", got["failure_reason"]
    columns = {c["name"]: c for c in got["statistics"]["columns"]}
    assert set(columns) == {"x", "y", "city", "label"}
    assert columns["x"]["inferred_type"] == "Fractional"
    assert columns["x"]["completeness"] == 1.0
    assert sum(columns["x"]["numeric"]["counts"]) == 2000
    assert set(columns["city"]["categorical"]["frequencies"]) == {"Paris", "Lyon", "Nice"}
    features = {f["name"]: f for f in got["constraints"]["features"]}
    assert sorted(features["city"]["string_constraints"]["domains"]) == ["Lyon", "Nice", "Paris"]
    assert "data_type_check" in got["constraints"]["monitoring_config"]


def test_a_baseline_with_a_model_measures_its_quality_and_importance(
    api: Any, member: Any, project: Any, train_data: Any, package: Any, on_commit: Any
) -> None:
    response = create(
        api,
        member,
        on_commit,
        project=project.pk,
        dataset=train_data.pk,
        model_package=package.pk,
        label="label",
        facets=[{"name": "city", "values_or_threshold": ["Nice"]}],
        positive_label_values=["yes"],
    )
    assert response.status_code == 201, response.content
    baseline = MonitoringBaseline.objects.get(pk=response.json()["id"])
    assert baseline.status == "Completed", baseline.failure_reason
    # Only the model's inputs are profiled: that is what traffic carries.
    assert [c["name"] for c in baseline.statistics["columns"]] == ["x", "y", "city"]
    assert baseline.quality["source"] == "dataset"
    assert baseline.quality["metrics"]["accuracy"] > 0.8
    ranking = [r["feature"] for r in baseline.attributions["global_importance"]]
    assert ranking[0] == "x"
    entries = baseline.bias["report"]["post_training_bias"]
    assert entries[0]["facet"] == "city"
    assert {m["name"] for m in entries[0]["metrics"]} >= {"DPPL", "DI", "AD"}


def test_constraints_are_editable_and_a_bad_edit_names_its_field(
    api: Any, member: Any, project: Any, train_data: Any, on_commit: Any
) -> None:
    pk = create(api, member, on_commit, project=project.pk, dataset=train_data.pk).json()["id"]
    constraints = api(member).get(f"/api/v1/monitoring-baselines/{pk}/").json()["constraints"]
    constraints["monitoring_config"]["completeness_check"]["threshold"] = 0.1
    edited = api(member).patch(
        f"/api/v1/monitoring-baselines/{pk}/", {"constraints": constraints}, format="json"
    )
    assert edited.status_code == 200, edited.content
    assert (
        edited.json()["constraints"]["monitoring_config"]["completeness_check"]["threshold"] == 0.1
    )
    assert edited.json()["edited_at"]
    constraints["monitoring_config"]["data_type_check"]["threshold"] = 7
    refused = api(member).patch(
        f"/api/v1/monitoring-baselines/{pk}/", {"constraints": constraints}, format="json"
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "data_type_check" in error["field"]
    stored = MonitoringBaseline.objects.get(pk=pk)
    assert stored.constraints["monitoring_config"]["data_type_check"]["threshold"] == 1.0


def test_edited_statistics_keep_their_shape(
    api: Any, member: Any, project: Any, train_data: Any, on_commit: Any
) -> None:
    pk = create(api, member, on_commit, project=project.pk, dataset=train_data.pk).json()["id"]
    statistics = api(member).get(f"/api/v1/monitoring-baselines/{pk}/").json()["statistics"]
    statistics["columns"] = [c for c in statistics["columns"] if c["name"] != "label"]
    kept = api(member).patch(
        f"/api/v1/monitoring-baselines/{pk}/", {"statistics": statistics}, format="json"
    )
    assert kept.status_code == 200, kept.content
    statistics["columns"][0]["numeric"]["counts"] = [1, 2]
    refused = api(member).patch(
        f"/api/v1/monitoring-baselines/{pk}/", {"statistics": statistics}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["field"].startswith("statistics.columns.0")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": 999999}, "dataset"),
        ({"label": "nope", "model_package": "PACKAGE"}, "label"),
        ({"label": "label"}, "label"),
        ({"facets": [{"name": "city"}], "positive_label_values": ["yes"]}, "facets"),
    ],
)
def test_bad_input_is_refused_with_its_field(
    api: Any,
    member: Any,
    project: Any,
    train_data: Any,
    package: Any,
    on_commit: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    payload = {"project": project.pk, "dataset": train_data.pk, **body}
    if payload.get("model_package") == "PACKAGE":
        payload["model_package"] = package.pk
    response = create(api, member, on_commit, **payload)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not MonitoringBaseline.objects.exists()


def test_strangers_get_404_and_viewers_may_not_create(
    api: Any,
    member: Any,
    viewer: Any,
    outsider: Any,
    project: Any,
    train_data: Any,
    on_commit: Any,
) -> None:
    pk = create(api, member, on_commit, project=project.pk, dataset=train_data.pk).json()["id"]
    assert api(outsider).get(f"/api/v1/monitoring-baselines/{pk}/").status_code == 404
    assert (
        api(outsider)
        .patch(f"/api/v1/monitoring-baselines/{pk}/", {"constraints": {}}, format="json")
        .status_code
        == 404
    )
    assert api(outsider).get("/api/v1/monitoring-baselines/").json()["count"] == 0
    assert api(viewer).get(f"/api/v1/monitoring-baselines/{pk}/").status_code == 200
    refused = create(api, viewer, on_commit, project=project.pk, dataset=train_data.pk)
    assert refused.status_code == 403


def test_a_dataset_of_another_project_is_not_found(
    api: Any, member: Any, project: Any, other_project: Any, outsider: Any, on_commit: Any
) -> None:
    from tests.monitor.conftest import customers

    theirs = table_dataset(other_project, outsider, customers(50), "theirs")
    response = create(api, member, on_commit, project=project.pk, dataset=theirs.pk)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "dataset"
    foreign = package_for(other_project, outsider, "theirs")
    response = create(
        api, member, on_commit, project=project.pk, dataset=999999, model_package=foreign.pk
    )
    assert response.status_code == 400
