"""The OpenAPI schema and the browsable docs, served with no internet."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_schema_lists_every_core_route(client, owner):
    client.force_login(owner)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for route in (
        "/api/v1/projects/",
        "/api/v1/projects/{id}/members/",
        "/api/v1/datasets/",
        "/api/v1/datasets/{id}/preview/",
        "/api/v1/jobs/",
        "/api/v1/jobs/{id}/logs/",
        "/api/v1/jobs/{id}/stop/",
    ):
        assert route in paths, route


def test_the_docs_page_loads_its_assets_locally(client, owner):
    client.force_login(owner)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html[:500]
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
    for src in sources:
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200, src
