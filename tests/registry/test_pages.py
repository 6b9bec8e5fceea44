"""The registry's pages: the Models list, a group's versions, a package's model card with
its lineage and approval history, the register form and the training job's Register button."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from registry import services
from registry.models import ModelPackage

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(owner, project, training):
    package = services.model_package_create(
        project=project,
        user=owner,
        group="labels",
        training_job=training,
        model_card={"intended_use": "Sorting demo labels.", "caveats": "Tiny data."},
    )
    return services.model_package_approve(package=package, user=owner, comment="Looks right.")


def page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_empty_list_says_how_to_register_a_model(client, member, project):
    html = page(client, member, reverse("model-group-list"))
    assert "No models registered yet" in html
    assert f'href="{reverse("model-package-register")}"' in html
    assert 'href="/models/"' in html  # the sidebar's entry is live


def test_the_list_shows_each_group_with_its_latest_version_and_approval(client, member, package):
    html = page(client, member, reverse("model-group-list"))
    assert f'href="{reverse("model-group-detail", args=[package.group_id])}"' in html
    assert f'href="{reverse("model-package-detail", args=[package.pk])}">v1</a>' in html
    assert 'class="badge badge-completed" data-approval="Approved"' in html


def test_the_group_page_lists_versions_with_their_badges(client, viewer, package, training):
    html = page(client, viewer, reverse("model-group-detail", args=[package.group_id]))
    assert 'data-testid="model-versions"' in html
    assert f'href="{reverse("training-job-detail", args=[training.pk])}"' in html
    assert 'data-approval="Approved"' in html and "train:auc" in html
    assert "Register a version" not in html  # a viewer registers nothing


def test_the_package_page_is_the_model_card_with_lineage_and_history(
    client, owner, package, training
):
    html = page(client, owner, reverse("model-package-detail", args=[package.pk]))
    assert 'labels <span class="muted">v1</span>' in html
    assert 'data-package-status="Completed"' in html and 'data-approval="Approved"' in html
    assert "Sorting demo labels." in html and "Tiny data." in html
    assert 'data-testid="package-metrics"' in html and "auc" in html
    assert 'data-testid="input-schema"' in html and ">x</td>" in html
    assert reverse("api-model-package-artifact", args=[package.pk]) in html
    assert reverse("dataset-detail", args=[training.channels["train"]]) in html
    assert reverse("training-job-detail", args=[training.pk]) in html
    assert reverse("job-detail", args=[training.job_id]) in html
    assert "Looks right." in html and 'data-testid="approval-history"' in html
    assert 'data-testid="approval-menu"' in html  # the owner decides
    assert reverse("model-package-edit", args=[package.pk]) in html


def test_a_scientist_edits_the_card_but_sees_no_approval_buttons(client, member, package):
    html = page(client, member, reverse("model-package-detail", args=[package.pk]))
    assert 'data-testid="approval-menu"' not in html
    assert "Edit the model card" in html
    response = client.post(
        reverse("model-package-edit", args=[package.pk]),
        {"description": "Forest", "intended_use": "Demos only.", "caveats": ""},
    )
    assert response.status_code == 302
    package.refresh_from_db()
    assert package.model_card["intended_use"] == "Demos only."
    assert "caveats" not in package.model_card and package.description == "Forest"
    assert client.post(reverse("model-package-approve", args=[package.pk])).status_code == 403


def test_an_owner_rejects_from_the_page_with_a_comment(client, owner, package):
    client.force_login(owner)
    response = client.post(
        reverse("model-package-reject", args=[package.pk]), {"comment": "Bias found."}
    )
    assert response.status_code == 302
    package.refresh_from_db()
    assert package.approval_status == "Rejected" and package.approval_comment == "Bias found."
    html = client.get(response["Location"]).content.decode()
    assert "labels v1 is rejected." in html and "Bias found." in html


def test_the_training_job_page_offers_register_and_its_post_makes_a_version(
    client, member, viewer, training
):
    html = page(client, member, reverse("training-job-detail", args=[training.pk]))
    assert 'data-testid="register-model"' in html
    assert f'action="{reverse("model-package-register")}"' in html
    assert f'name="training_job" value="{training.pk}"' in html
    viewer_html = page(client, viewer, reverse("training-job-detail", args=[training.pk]))
    assert 'data-testid="register-model"' not in viewer_html

    client.force_login(member)
    response = client.post(
        reverse("model-package-register"), {"training_job": training.pk, "group": "labels"}
    )
    package = ModelPackage.objects.get()
    assert response["Location"] == reverse("model-package-detail", args=[package.pk])
    refused = client.post(
        reverse("model-package-register"), {"training_job": training.pk, "group": "bad/name"}
    )
    assert refused["Location"] == reverse("training-job-detail", args=[training.pk])
    assert "name is 1–200 letters" in client.get(refused["Location"]).content.decode()


def test_the_register_form_uploads_and_shows_refusals_beside_the_field(
    client, member, project, training
):
    html = page(client, member, reverse("model-package-register"))
    assert 'data-testid="upload-form"' in html and f'<option value="{training.pk}">' in html
    artifact = io.BytesIO(b"\x80\x04 model")
    artifact.name = "model.joblib"
    refused = client.post(
        reverse("model-package-register"), {"group": "churn", "artifact": artifact}
    )
    assert refused.status_code == 200
    assert "input_schema is required" in refused.content.decode()
    artifact = io.BytesIO(b"\x80\x04 model")
    artifact.name = "model.joblib"
    response = client.post(
        reverse("model-package-register"),
        {"group": "churn", "artifact": artifact, "input_schema": "age, city\nincome"},
    )
    package = ModelPackage.objects.get()
    assert response["Location"] == reverse("model-package-detail", args=[package.pk])
    assert [c["name"] for c in package.upload_request["input_schema"]] == ["age", "city", "income"]
    pending = page(client, member, reverse("model-package-detail", args=[package.pk]))
    assert 'id="validation-progress"' in pending  # the check has not run: it says so


def test_strangers_get_404_and_viewers_may_not_register(client, outsider, viewer, package):
    client.force_login(outsider)
    for url in (
        reverse("model-package-detail", args=[package.pk]),
        reverse("model-group-detail", args=[package.group_id]),
    ):
        assert client.get(url).status_code == 404
    assert client.post(reverse("model-package-approve", args=[package.pk])).status_code == 404
    assert client.post(reverse("model-package-edit", args=[package.pk])).status_code == 404
    client.force_login(viewer)
    assert client.get(reverse("model-package-register")).status_code == 403
