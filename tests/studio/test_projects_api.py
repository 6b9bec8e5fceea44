"""Projects and members over the API."""

from __future__ import annotations

import pytest

from studio.models import Membership

pytestmark = pytest.mark.django_db


def test_the_creator_of_a_project_becomes_its_owner(api, owner):
    response = api(owner).post("/api/v1/projects/", {"name": "Fraud"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Fraud"
    assert body["role"] == "owner"
    assert Membership.objects.get(project_id=body["id"], user=owner).role == "owner"


def test_a_project_without_a_name_is_refused_with_the_field(api, owner):
    response = api(owner).post("/api/v1/projects/", {"name": ""}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "name"
    assert error["message"]


def test_the_list_shows_only_my_projects(api, project, other_project, member):
    names = [p["name"] for p in api(member).get("/api/v1/projects/").json()["results"]]
    assert names == ["Churn"]


def test_anonymous_requests_are_refused(api, project):
    response = api(None).get("/api/v1/projects/")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_an_owner_adds_a_member_with_a_role(api, project, owner, outsider):
    response = api(owner).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": outsider.username, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json() == {**response.json(), "username": "otto", "role": "viewer"}
    members = api(owner).get(f"/api/v1/projects/{project.pk}/members/").json()
    assert {"username": "otto", "role": "viewer"}.items() <= next(
        m for m in members if m["username"] == "otto"
    ).items()


def test_adding_an_existing_member_changes_their_role(api, project, owner, member):
    response = api(owner).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": member.username, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 201
    assert Membership.objects.get(project=project, user=member).role == "viewer"


def test_only_owners_manage_members(api, project, member, outsider):
    response = api(member).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": outsider.username, "role": "owner"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_an_unknown_role_or_user_is_a_clear_400(api, project, owner):
    bad_role = api(owner).post(
        f"/api/v1/projects/{project.pk}/members/", {"username": "sam", "role": "god"}, format="json"
    )
    assert bad_role.status_code == 400
    assert bad_role.json()["error"]["field"] == "role"
    nobody = api(owner).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": "nobody", "role": "viewer"},
        format="json",
    )
    assert nobody.status_code == 400
    assert nobody.json()["error"]["field"] == "username"


def test_the_last_owner_cannot_be_demoted(api, project, owner):
    response = api(owner).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": owner.username, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 409
    assert Membership.objects.get(project=project, user=owner).role == "owner"


def test_a_stranger_gets_404_on_someone_elses_project(api, project, outsider):
    assert api(outsider).get(f"/api/v1/projects/{project.pk}/").status_code == 404
    assert api(outsider).get(f"/api/v1/projects/{project.pk}/members/").status_code == 404
    response = api(outsider).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": outsider.username, "role": "owner"},
        format="json",
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(project=project, user=outsider).exists()


def test_a_labeler_can_see_the_project_but_not_its_members(api, project, labeler):
    assert api(labeler).get(f"/api/v1/projects/{project.pk}/").json()["role"] == "labeler"
    assert api(labeler).get(f"/api/v1/projects/{project.pk}/members/").status_code == 403


def test_token_keys_come_from_drf_create_token(owner):
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    out = StringIO()
    call_command("drf_create_token", owner.username, stdout=out)
    assert Token.objects.get(user=owner).key in out.getvalue()


def test_only_an_owner_changes_a_project_and_may_allow_unapproved_deployments(
    api, project, owner, member, outsider
):
    url = f"/api/v1/projects/{project.pk}/"
    assert api(member).patch(url, {"allow_unapproved_deployments": True}).status_code == 403
    assert api(outsider).patch(url, {"name": "Mine"}).status_code == 404
    response = api(owner).patch(url, {"allow_unapproved_deployments": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["allow_unapproved_deployments"] is True
    assert response.json()["name"] == "Churn"  # what is not given stays
    blank = api(owner).patch(url, {"name": "  "}, format="json")
    assert blank.status_code == 400 and blank.json()["error"]["field"] == "name"
    project.refresh_from_db()
    assert project.allow_unapproved_deployments and project.name == "Churn"
