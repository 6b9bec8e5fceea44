"""Clarify jobs through the API: bias before and after training, SHAP explanations, the
report as JSON and HTML, checked input, project scope."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from monitor.engine.bias import Facet, bias_report
from monitor.models import ClarifyJob
from tests.monitor.conftest import customers, table_dataset

pytestmark = pytest.mark.django_db


def create(api: Any, user: Any, on_commit: Any, **body: Any) -> Any:
    with on_commit(execute=True):
        return api(user).post("/api/v1/clarify-jobs/", body, format="json")


@pytest.fixture
def people(project: Any, owner: Any) -> Any:
    frame = customers(1500, seed=4)
    rng = np.random.default_rng(4)
    frame["age"] = rng.integers(18, 80, size=len(frame))
    return table_dataset(project, owner, frame, "people")


def test_pre_training_bias_needs_no_model_and_matches_the_engine(
    api: Any, member: Any, project: Any, people: Any, on_commit: Any
) -> None:
    response = create(
        api,
        member,
        on_commit,
        project=project.pk,
        dataset=people.pk,
        label="label",
        positive_label_values=["yes"],
        facets=[
            {"name": "city", "values_or_threshold": ["Nice"]},
            {"name": "age", "values_or_threshold": 50},
        ],
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "job"} <= set(body)
    got = api(member).get(f"/api/v1/clarify-jobs/{body['id']}/").json()
    assert got["status"] == "Completed", got["failure_reason"]
    entries = got["report"]["pre_training_bias"]
    groups = [(e["facet"], e["value_or_threshold"]) for e in entries]
    assert groups == [("city", "Nice"), ("age", ">50"), ("city & age", "Nice & >50")]
    names = [m["name"] for m in entries[0]["metrics"]]
    assert names == ["CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL"]
    frame = customers(1500, seed=4)
    frame["age"] = np.random.default_rng(4).integers(18, 80, size=len(frame))
    expected = bias_report(
        frame,
        label="label",
        positive_label_values=["yes"],
        facets=[Facet("city", ["Nice"]), Facet("age", 50)],
        stages=("pre_training_bias",),
    )
    assert entries == json.loads(json.dumps(expected["pre_training_bias"]))


def test_post_training_bias_and_explanations_of_a_model(
    api: Any, member: Any, project: Any, people: Any, package: Any, on_commit: Any
) -> None:
    response = create(
        api,
        member,
        on_commit,
        project=project.pk,
        dataset=people.pk,
        label="label",
        positive_label_values=["yes"],
        facets=[{"name": "city", "values_or_threshold": ["Nice"]}],
        model_package=package.pk,
        methods=["pre_training_bias", "post_training_bias", "shap"],
        shap={"rows": 200},
    )
    assert response.status_code == 201, response.content
    clarify = ClarifyJob.objects.get(pk=response.json()["id"])
    assert clarify.job.status == "Completed", clarify.job.failure_reason
    report = clarify.report
    post = {m["name"] for m in report["post_training_bias"][0]["metrics"]}
    assert post == {
        "DPPL",
        "DI",
        "DCAcc",
        "DCR",
        "SD",
        "RD",
        "DAR",
        "DRR",
        "AD",
        "TE",
        "CDDPL",
        "FT",
        "GE",
    }
    explanations = report["explanations"]
    assert explanations["method"] == "tree"
    assert explanations["features"] == ["x", "y", "city"]
    assert explanations["global_importance"][0]["feature"] == "x"
    row = explanations["rows"][0]
    total = sum(row["attributions"].values()) + explanations["expected_value"]
    assert total == pytest.approx(row["prediction"], abs=1e-4)  # SHAP additivity
    assert "x" in explanations["dependence"]


def test_the_report_downloads_as_json_and_as_self_contained_html(
    api: Any, member: Any, project: Any, people: Any, on_commit: Any
) -> None:
    pk = create(
        api,
        member,
        on_commit,
        project=project.pk,
        dataset=people.pk,
        label="label",
        positive_label_values=["yes"],
        facets=[{"name": "city", "values_or_threshold": ["Nice"]}],
    ).json()["id"]
    as_json = api(member).get(f"/api/v1/clarify-jobs/{pk}/report/?file=json")
    assert as_json.status_code == 200
    assert json.loads(as_json.content)["pre_training_bias"][0]["facet"] == "city"
    as_html = api(member).get(f"/api/v1/clarify-jobs/{pk}/report/?file=html")
    assert as_html.status_code == 200
    page = as_html.content.decode()
    assert "Class Imbalance" in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None  # plotly.js is inlined
    assert "attachment" in as_html["Content-Disposition"]


@pytest.mark.parametrize(
    ("more", "field"),
    [
        ({"label": "nope"}, "label"),
        ({"positive_label_values": []}, "positive_label_values"),
        ({"facets": [{"name": "planet"}]}, "facets.0.name"),
        ({"facets": [{"name": "label"}]}, "facets"),
        ({"methods": ["shap"]}, "model_package"),
        ({"methods": ["astrology"]}, "methods"),
        ({"group_variable": "planet"}, "group_variable"),
        ({"dataset": 999999}, "dataset"),
    ],
)
def test_a_bad_clarify_job_is_refused_with_its_field(
    api: Any,
    member: Any,
    project: Any,
    people: Any,
    on_commit: Any,
    more: dict[str, Any],
    field: str,
) -> None:
    body = {
        "project": project.pk,
        "dataset": people.pk,
        "label": "label",
        "positive_label_values": ["yes"],
        "facets": [{"name": "city", "values_or_threshold": ["Nice"]}],
        **more,
    }
    response = create(api, member, on_commit, **body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not ClarifyJob.objects.exists()


def test_strangers_get_404_and_viewers_may_read_but_not_create(
    api: Any, member: Any, viewer: Any, outsider: Any, project: Any, people: Any, on_commit: Any
) -> None:
    body = {
        "project": project.pk,
        "dataset": people.pk,
        "label": "label",
        "positive_label_values": ["yes"],
        "facets": [{"name": "city", "values_or_threshold": ["Nice"]}],
    }
    pk = create(api, member, on_commit, **body).json()["id"]
    assert api(outsider).get(f"/api/v1/clarify-jobs/{pk}/").status_code == 404
    assert api(outsider).get(f"/api/v1/clarify-jobs/{pk}/report/?file=html").status_code == 404
    assert api(outsider).get("/api/v1/clarify-jobs/").json()["count"] == 0
    assert api(viewer).get(f"/api/v1/clarify-jobs/{pk}/").status_code == 200
    assert create(api, viewer, on_commit, **body).status_code == 403
