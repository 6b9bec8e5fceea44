"""Approving and rejecting model packages: owners only, Completed packages only for
approval, every decision kept with who, when and why."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied

from registry import services
from registry.models import ModelPackage, ModelPackageApproval
from registry.selectors import package_deployable

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(owner, project, training):
    return services.model_package_create(
        project=project, user=owner, group="labels", training_job=training
    )


def decide(api, user, package, action, comment=None):
    body = {} if comment is None else {"comment": comment}
    return api(user).post(f"/api/v1/model-packages/{package.pk}/{action}/", body, format="json")


def test_an_owner_approves_then_rejects_and_the_history_keeps_both(api, owner, package):
    approved = decide(api, owner, package, "approve", "Metrics reviewed; AUC above the bar.")
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert body["approval_status"] == "Approved"
    assert body["approval_updated_by"] == owner.username
    assert body["approval_comment"] == "Metrics reviewed; AUC above the bar."
    assert body["approval_updated_at"]
    package.refresh_from_db()
    assert package_deployable(package) is None

    rejected = decide(api, owner, package, "reject", "Drift found in March data.").json()
    assert rejected["approval_status"] == "Rejected"
    again = decide(api, owner, package, "approve").json()
    assert again["approval_status"] == "Approved" and again["approval_comment"] == ""

    history = api(owner).get(f"/api/v1/model-packages/{package.pk}/approvals/").json()
    assert [(h["previous_status"], h["status"]) for h in history] == [
        ("PendingManualApproval", "Approved"),
        ("Approved", "Rejected"),
        ("Rejected", "Approved"),
    ]
    assert [h["user"] for h in history] == [owner.username] * 3
    assert history[1]["comment"] == "Drift found in March data."
    assert all(h["created_at"] for h in history)


def test_deciding_the_same_again_records_nothing(api, owner, package):
    decide(api, owner, package, "approve", "ok")
    second = decide(api, owner, package, "approve", "still ok")
    assert second.status_code == 200 and second.json()["approval_comment"] == "ok"
    assert ModelPackageApproval.objects.count() == 1


def test_a_scientist_or_a_viewer_may_not_decide(api, member, viewer, package):
    for user in (member, viewer):
        for action in ("approve", "reject"):
            response = decide(api, user, package, action)
            assert response.status_code == 403, (user, action)
            assert response.json()["error"]["message"]
    package.refresh_from_db()
    assert package.approval_status == "PendingManualApproval"
    assert not ModelPackageApproval.objects.exists()
    with pytest.raises(PermissionDenied):
        services.model_package_approve(package=package, user=member)


def test_a_package_that_is_not_completed_cannot_be_approved(
    api, owner, member, project, upload_model
):
    artifact = io.BytesIO(b"\x80\x04 not checked yet")
    artifact.name = "model.joblib"
    # Created without running its check: the package stays Pending.
    response = api(member).post(
        "/api/v1/model-packages/",
        {"project": project.pk, "group": "churn", "artifact": artifact, "input_schema": '["a"]'},
        format="multipart",
    )
    assert response.status_code == 201 and response.json()["status"] == "Pending"
    package = ModelPackage.objects.get(pk=response.json()["id"])
    refused = decide(api, owner, package, "approve")
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "not_completed",
        "message": "churn v1 is Pending: only a Completed package can be approved.",
        "field": "approval_status",
    }
    assert (
        package_deployable(package, require_approval=False) == "churn v1 is Pending, not Completed."
    )
    # Rejecting is always possible: a package can be ruled out before its check ends.
    assert decide(api, owner, package, "reject", "Wrong model").json()["approval_status"] == (
        "Rejected"
    )


def test_a_comment_too_long_is_refused(api, owner, package):
    response = decide(api, owner, package, "approve", "x" * 5001)
    assert response.status_code == 400 and response.json()["error"]["field"] == "comment"
