"""The lean ASGI route of next-task, submit and skip answers as the REST API's views do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from bench.loadgen import run_sync
from labeling import fastpath
from labeling.models import Assignment, AssignmentStatus, LabelingItem
from studio.asgi import application as studio_asgi

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_credentials() -> None:
    fastpath.tokens.clear()
    fastpath.sessions.clear()


def call(
    path: str,
    *,
    method: str = "POST",
    body: Any = None,
    token: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    app: Any = fastpath.application,
) -> tuple[int, Any]:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    scope_headers = list(headers or [])
    if token:
        scope_headers.append((b"authorization", f"Token {token}".encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": scope_headers}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run_sync(app(scope, receive, send))
    status = sent[0]["status"]
    content = sent[1]["body"]
    return status, json.loads(content) if content else None


def token_of(user: Any) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def test_only_the_three_hot_routes_are_served_here() -> None:
    assert fastpath.handles("/api/v1/labeling-jobs/12/next-task/")
    assert fastpath.handles("/api/v1/assignments/3/submit/")
    assert fastpath.handles("/api/v1/assignments/3/skip/")
    assert not fastpath.handles("/api/v1/labeling-jobs/12/")
    assert not fastpath.handles("/api/v1/labeling-jobs/12/labels/")
    assert not fastpath.handles("/api/v1/assignments/")


def test_a_labeler_takes_submits_and_resubmits_through_the_lean_route(
    labeler: Any, text_dataset: Any, make_job: Any
) -> None:
    job = make_job(text_dataset(1), workers_per_item=1)
    token = token_of(labeler)
    status, task = call(f"/api/v1/labeling-jobs/{job.pk}/next-task/", token=token)
    assert status == 200
    assert set(task) >= {"assignment", "item", "expires_at", "task_type", "labels"}
    assert task["item"]["data"]["text"].startswith("review 0:")
    url = f"/api/v1/assignments/{task['assignment']}/submit/"
    first = call(url, body={"label": "positive"}, token=token)
    again = call(url, body={"label": "positive"}, token=token)
    assert first == again and first[0] == 200 and first[1]["status"] == "submitted"
    assert LabelingItem.objects.get(pk=task["item"]["id"]).submitted == 1
    assert call(f"/api/v1/labeling-jobs/{job.pk}/next-task/", token=token) == (204, None)


def test_the_lean_route_and_the_api_view_give_the_same_task(
    api: Any, labelers: Any, text_dataset: Any, make_job: Any
) -> None:
    a, b = labelers(2)
    job = make_job(text_dataset(2), workers_per_item=1)
    status, lean = call(f"/api/v1/labeling-jobs/{job.pk}/next-task/", token=token_of(a))
    view = api(b).post(f"/api/v1/labeling-jobs/{job.pk}/next-task/").json()
    assert status == 200
    assert set(lean) == set(view)
    assert set(lean["item"]) == set(view["item"])


def test_errors_have_the_apis_shape(
    labeler: Any, outsider: Any, text_dataset: Any, make_job: Any
) -> None:
    job = make_job(text_dataset(1), workers_per_item=1)
    path = f"/api/v1/labeling-jobs/{job.pk}/next-task/"
    status, body = call(path)
    assert status == 401 and body["error"]["code"] == "not_authenticated"
    assert call(path, token="not-a-token")[0] == 401
    status, body = call(path, token=token_of(outsider))
    assert status == 404 and body["error"]["code"] == "not_found"
    assert call(path, method="GET", token=token_of(labeler))[0] == 405
    _, task = call(path, token=token_of(labeler))
    submit = f"/api/v1/assignments/{task['assignment']}/submit/"
    status, body = call(submit, body=b"{not json", token=token_of(labeler))
    assert status == 400
    status, body = call(submit, body={"label": "maybe"}, token=token_of(labeler))
    assert status == 400 and body["error"]["field"] == "label"
    status, body = call(submit, body={"label": "positive"}, token=token_of(outsider))
    assert status == 404
    assert Assignment.objects.get(pk=task["assignment"]).status == AssignmentStatus.ASSIGNED


def test_a_skip_through_the_lean_route_frees_the_slot(
    labeler: Any, text_dataset: Any, make_job: Any
) -> None:
    job = make_job(text_dataset(1), workers_per_item=1)
    _, task = call(f"/api/v1/labeling-jobs/{job.pk}/next-task/", token=token_of(labeler))
    status, body = call(f"/api/v1/assignments/{task['assignment']}/skip/", token=token_of(labeler))
    assert (status, body["status"]) == (200, "skipped")
    assert LabelingItem.objects.get(pk=task["item"]["id"]).taken == 0


def test_the_portal_session_must_echo_its_csrf_token(
    labeler: Any, text_dataset: Any, make_job: Any
) -> None:
    job = make_job(text_dataset(1), workers_per_item=1)
    client = Client()
    client.force_login(labeler)
    session = client.cookies["sessionid"].value
    path = f"/api/v1/labeling-jobs/{job.pk}/next-task/"
    cookie = f"sessionid={session}; csrftoken=abc123".encode()
    status, body = call(path, headers=[(b"cookie", cookie)])
    assert status == 403 and "CSRF" in body["error"]["message"]
    status, body = call(path, headers=[(b"cookie", cookie), (b"x-csrftoken", b"abc123")])
    assert status == 200 and body["assignment"]


def test_the_studio_sends_only_the_hot_routes_to_the_lean_app(
    labeler: Any, text_dataset: Any, make_job: Any
) -> None:
    job = make_job(text_dataset(1), workers_per_item=1)
    status, _ = call(
        f"/api/v1/labeling-jobs/{job.pk}/next-task/", token=token_of(labeler), app=studio_asgi
    )
    assert status == 200
