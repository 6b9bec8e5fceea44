"""Shared fixtures: the three personas (owner, member, outsider) plus a labeler and a viewer,
API clients that authenticate with tokens, and a private storage folder for every test.

Under ``CI=true`` the services CI provides (PostgreSQL, Redis, Chromium) must be there: a
missing one fails the run instead of being skipped.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from studio import services
from studio.choices import Role
from studio.models import Project

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not IN_CI:
        return
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        pytest.exit(
            f"CI=true but {', '.join(missing)} is not set: tests must use the real services.", 3
        )
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit("CI=true but the tests are not running on PostgreSQL.", 3)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, and before it is dropped, no session left on it.

    Async tests reach the database from asgiref's executor threads; a pooled PostgreSQL
    connection one of them still holds at the end would make DROP DATABASE fail.
    """
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """PBKDF2 takes ~0.4 s a password on CI's cores and most tests make five users: hash
    test passwords with a fast hasher (live studios started by tests keep the real one)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def private_storage(settings: Any, tmp_path: Path) -> Path:
    """Each test gets its own storage and work folders; nothing leaks between tests."""
    root = tmp_path / "storage"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    settings.VAR_DIR = tmp_path / "var"
    settings.SEXTANT_RUN_JOBS_INLINE = True
    return root


def make_user(username: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(
        username=username, password="correct horse battery staple", **extra
    )


@pytest.fixture
def owner(db: Any) -> Any:
    return make_user("olivia")


@pytest.fixture
def member(db: Any) -> Any:
    return make_user("sam")


@pytest.fixture
def labeler(db: Any) -> Any:
    return make_user("lena")


@pytest.fixture
def viewer(db: Any) -> Any:
    return make_user("vic")


@pytest.fixture
def outsider(db: Any) -> Any:
    return make_user("otto")


@pytest.fixture
def staff(db: Any) -> Any:
    return make_user("ops", is_staff=True)


@pytest.fixture
def project(owner: Any, member: Any, labeler: Any, viewer: Any) -> Project:
    project = services.project_create(user=owner, name="Churn")
    services.project_member_add(project=project, username=member.username, role=Role.SCIENTIST)
    services.project_member_add(project=project, username=labeler.username, role=Role.LABELER)
    services.project_member_add(project=project, username=viewer.username, role=Role.VIEWER)
    return project


@pytest.fixture
def other_project(outsider: Any) -> Project:
    return services.project_create(user=outsider, name="Someone else's")


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    """``api(user)`` → a client authenticated with that user's token (None: anonymous)."""

    def client_for(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def upload(
    api: Callable[[Any], APIClient], django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """Upload bytes as a dataset through the API, running its jobs inline."""

    def do_upload(
        user: Any, project: Project, filename: str, content: bytes, name: str = ""
    ) -> Any:
        f = io.BytesIO(content)
        f.name = filename
        data: dict[str, Any] = {"project": project.pk, "file": f}
        if name:
            data["name"] = name
        with django_capture_on_commit_callbacks(execute=True):
            return api(user).post("/api/v1/datasets/", data, format="multipart")

    return do_upload


@pytest.fixture
def csv_bytes() -> bytes:
    rows = ["id,age,city,signup,churned"]
    for i in range(200):
        age = "" if i % 10 == 0 else str(20 + i % 50)
        rows.append(
            f"{i},{age},{['Paris', 'Lyon', 'Nice'][i % 3]},2024-01-{1 + i % 28:02d},{i % 2 == 0}"
        )
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Iterator[Any]:
    yield django_capture_on_commit_callbacks
