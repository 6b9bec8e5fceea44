"""``/api/v1/model-packages/`` from training jobs: versions per group, the package's own copy
of the model, its model card and metrics; bad requests refused with the field at fault."""

from __future__ import annotations

import io
import tarfile

import pandas as pd
import pytest

from registry.models import ModelPackage, ModelPackageGroup
from registry.selectors import package_deployable
from studio import storage
from training.engine import load

pytestmark = pytest.mark.django_db


def test_a_training_job_registers_as_a_completed_version_with_its_own_artifact(
    api, member, project, real_training, register, tmp_path
):
    training = real_training
    response = register(
        member,
        project,
        "labels",
        training_job=training.pk,
        description="First forest.",
        model_card={"intended_use": "Sorting labels in the demo."},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["group"] == "labels" and body["version"] == 1
    assert body["status"] == "Completed"
    assert body["approval_status"] == "PendingManualApproval"
    assert body["source"] == "training_job" and body["training_job"] == training.pk
    assert body["problem_type"] == "binary_classification"
    assert body["classes"] == ["a", "b"]
    assert [c["name"] for c in body["input_schema"]] == ["id", "x", "y"]
    assert body["metrics"] == training.final_metrics and "train:auc" in body["metrics"]
    assert body["model_card"]["intended_use"] == "Sorting labels in the demo."
    assert "training job #" in body["model_card"]["training_data"]  # filled in from lineage
    assert body["created_by"] == member.username and body["failure_reason"] == ""
    assert body["framework"]["scikit-learn"]

    package = ModelPackage.objects.get(pk=body["id"])
    assert package.artifact_key == f"registry/packages/{package.pk}/model.tar.gz"
    assert package.artifact_key != training.model_artifact_key
    assert package.metadata["format"] == "sextant-model/1"
    assert (
        package_deployable(package)
        == "labels v1 is not approved for deployment (Pending approval)."
    )
    assert package_deployable(package, require_approval=False) is None

    download = api(member).get(body["artifact"]["url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    data = b"".join(download.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert {"model.joblib", "metadata.json"} <= set(tar.getnames())
    path = tmp_path / "model.tar.gz"
    path.write_bytes(data)
    model = load(path)
    out = model.predict(pd.DataFrame({"id": [1, 2], "x": [1, 2], "y": [3, 6]}))
    assert list(out.columns) == ["predicted_label", "probability_a", "probability_b"]


def test_the_package_survives_the_deletion_of_its_training_job(
    api, member, project, training, register
):
    body = register(member, project, "labels", training_job=training.pk).json()
    job_key = training.model_artifact_key
    training.job.delete()  # the training job goes with its job (and its artifact row)
    storage.delete_prefix(job_key.rsplit("/", 1)[0])
    package = ModelPackage.objects.get(pk=body["id"])
    assert package.training_job is None
    assert storage.exists(package.artifact_key)
    got = api(member).get(f"/api/v1/model-packages/{package.pk}/").json()
    assert got["status"] == "Completed" and got["artifact"] is not None
    lineage = api(member).get(f"/api/v1/model-packages/{package.pk}/lineage/").json()
    assert lineage["training_job"]["name"] == "labels rf"
    assert lineage["training_job"]["status"] == "Deleted" and lineage["training_job"]["url"] is None
    assert lineage["datasets"][0]["name"] == "labels"


def test_versions_count_up_within_a_group_and_start_again_in_another(
    api, member, project, training, register
):
    versions = [
        register(member, project, group, training_job=training.pk).json()["version"]
        for group in ("labels", "labels", "labels", "other")
    ]
    assert versions == [1, 2, 3, 1]
    assert ModelPackageGroup.objects.filter(project=project).count() == 2
    groups = api(member).get(f"/api/v1/model-package-groups/?project={project.pk}").json()
    by_name = {g["name"]: g for g in groups["results"]}
    assert by_name["labels"]["version_count"] == 3 and by_name["labels"]["latest_version"] == 3
    assert by_name["labels"]["latest_approved_version"] is None


def test_the_list_filters_by_group_approval_and_status(api, owner, project, training, register):
    first = register(owner, project, "labels", training_job=training.pk).json()
    register(owner, project, "other", training_job=training.pk)
    api(owner).post(f"/api/v1/model-packages/{first['id']}/approve/", {}, format="json")
    client = api(owner)
    listed = client.get(f"/api/v1/model-packages/?project={project.pk}").json()
    assert listed["count"] == 2
    assert [
        p["id"] for p in client.get("/api/v1/model-packages/?group=labels").json()["results"]
    ] == [first["id"]]
    group_id = ModelPackageGroup.objects.get(name="labels").pk
    assert client.get(f"/api/v1/model-packages/?group={group_id}").json()["count"] == 1
    approved = client.get("/api/v1/model-packages/?approval_status=Approved").json()
    assert [p["id"] for p in approved["results"]] == [first["id"]]
    assert client.get("/api/v1/model-packages/?status=Failed").json()["count"] == 0
    bad = client.get("/api/v1/model-packages/?approval_status=Maybe")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "approval_status"
    unknown = client.get("/api/v1/model-packages/?colour=red")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_filter"


def test_the_model_card_and_description_change_section_by_section(
    api, member, viewer, project, training, register
):
    body = register(member, project, "labels", training_job=training.pk).json()
    url = f"/api/v1/model-packages/{body['id']}/"
    patched = api(member).patch(
        url, {"model_card": {"caveats": "Small sample.", "intended_use": "Demos."}}, format="json"
    )
    assert patched.status_code == 200, patched.content
    card = patched.json()["model_card"]
    assert card["caveats"] == "Small sample." and card["intended_use"] == "Demos."
    assert "training_data" in card  # the other sections stay
    cleared = (
        api(member)
        .patch(url, {"model_card": {"caveats": ""}, "description": "Forest v1"}, format="json")
        .json()
    )
    assert "caveats" not in cleared["model_card"] and cleared["description"] == "Forest v1"
    bad = api(member).patch(url, {"model_card": {"colour": "blue"}}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "model_card.colour"
    assert api(viewer).patch(url, {"description": "x"}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "training_job"),
        ({"training_job": 999_999}, "training_job"),
        ({"training_job": "seven"}, "training_job"),
        ({"group": "bad/name"}, "group"),
        ({"group": ""}, "group"),
        ({"input_schema": ["a"]}, "input_schema"),
        ({"model_card": "nice"}, "model_card"),
        ({"model_card": {"intended_use": 5}}, "model_card.intended_use"),
    ],
)
def test_bad_requests_are_refused_with_the_field(api, member, project, training, body, field):
    payload = {"project": project.pk, "group": "labels", "training_job": training.pk, **body}
    if not body:  # neither a training job nor an artifact
        del payload["training_job"]
    response = api(member).post("/api/v1/model-packages/", payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field and error["message"]
    assert not ModelPackage.objects.exists()


def test_a_job_of_another_project_or_not_completed_is_refused(
    api, owner, outsider, project, other_project, training, register
):
    theirs = register(outsider, other_project, "labels", training_job=training.pk)
    assert theirs.status_code == 400
    assert (
        theirs.json()["error"]["message"]
        == f"There is no training job {training.pk} in this project."
    )
    training.job.status = "Running"
    training.job.save(update_fields=["status"])
    running = register(owner, project, "labels", training_job=training.pk)
    assert running.status_code == 400
    assert "is Running, not Completed" in running.json()["error"]["message"]


def test_a_script_job_without_a_model_is_refused(member, project, script_training, register):
    response = register(member, project, "notes", training_job=script_training.pk)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == "training_job"
    assert "holds no model Sextant can serve" in error["message"]
    assert not ModelPackage.objects.exists() and not ModelPackageGroup.objects.exists()


def test_roles_and_strangers(api, viewer, outsider, owner, project, training, register):
    denied = register(viewer, project, "labels", training_job=training.pk)
    assert denied.status_code == 403
    body = register(owner, project, "labels", training_job=training.pk).json()
    group = ModelPackageGroup.objects.get()
    stranger = api(outsider)
    for url in (
        f"/api/v1/model-packages/{body['id']}/",
        f"/api/v1/model-packages/{body['id']}/lineage/",
        f"/api/v1/model-packages/{body['id']}/artifact/",
        f"/api/v1/model-packages/{body['id']}/approvals/",
        f"/api/v1/model-package-groups/{group.pk}/",
    ):
        assert stranger.get(url).status_code == 404, url
    for action in ("approve", "reject"):
        assert stranger.post(f"/api/v1/model-packages/{body['id']}/{action}/").status_code == 404
    assert stranger.patch(f"/api/v1/model-packages/{body['id']}/", {}).status_code == 404
    assert stranger.get("/api/v1/model-packages/").json()["count"] == 0
    assert stranger.get("/api/v1/model-package-groups/").json()["count"] == 0
    assert stranger.get(f"/api/v1/model-packages/?project={project.pk}").status_code == 404
    assert register(outsider, project, "labels", training_job=training.pk).status_code == 404
    assert api(viewer).get(f"/api/v1/model-packages/{body['id']}/").status_code == 200


def test_groups_are_created_described_and_refused_twice(api, member, viewer, project):
    client = api(member)
    made = client.post(
        "/api/v1/model-package-groups/",
        {"project": project.pk, "name": "churn", "description": "Who leaves."},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["version_count"] == 0 and made.json()["latest_version"] is None
    again = client.post(
        "/api/v1/model-package-groups/", {"project": project.pk, "name": "churn"}, format="json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "exists"
    url = f"/api/v1/model-package-groups/{made.json()['id']}/"
    assert client.patch(url, {"description": "Churn."}, format="json").json()["description"] == (
        "Churn."
    )
    assert api(viewer).patch(url, {"description": "x"}, format="json").status_code == 403


def test_the_openapi_schema_still_builds(api, member):
    response = api(member).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/model-packages/{id}/approve/" in response.content
