"""The experiment pages: the list, an experiment's run table, the compare view."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from training import services
from training.models import Experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(owner, project):
    experiment = services.experiment_create(project=project, user=owner, name="sweep")
    made = []
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        run = services.run_create(
            experiment=experiment, user=owner, name=f"lr {lr}", params={"lr": lr}
        )
        points = [{"key": "loss", "value": 1 / (s + 1 + i), "step": s} for s in range(800)]
        services.run_log_batch(run=run, metrics=points[:500])
        services.run_log_batch(
            run=run, metrics=[*points[500:], {"key": "auc", "value": 0.8 + i / 100}]
        )
        made.append(run)
    return experiment, made


def page_json(html: str, element: str):
    return json.loads(re.search(rf'id="{element}"[^>]*>(.*?)</script>', html, re.S).group(1))


def test_the_experiment_list_and_run_table(client, owner, runs):
    experiment, _ = runs
    client.force_login(owner)
    html = client.get(reverse("experiment-list")).content.decode()
    assert "sweep" in html and reverse("experiment-detail", args=[experiment.pk]) in html
    html = client.get(reverse("experiment-detail", args=[experiment.pk])).content.decode()
    rows = page_json(html, "runs-data")
    assert {r["name"] for r in rows} == {"lr 0.1", "lr 0.01", "lr 0.001"}
    assert all(r["params"]["lr"] and r["metrics"]["loss"] for r in rows)


def test_compare_sends_each_curve_downsampled(client, owner, runs):
    _, made = runs
    client.force_login(owner)
    url = reverse("experiment-compare") + "?runs=" + ",".join(str(r.pk) for r in made)
    html = client.get(url).content.decode()
    series = page_json(html, "compare-series")
    assert set(series) == {"loss"}  # auc is one value per run, not a curve
    curves = series["loss"]
    assert len(curves) == 3
    for points in curves.values():
        assert 400 <= len(points) <= 502
        assert points[0][0] == 0 and points[-1][0] == 799


def test_a_stranger_cannot_compare_our_runs(client, outsider, runs):
    _, made = runs
    client.force_login(outsider)
    url = reverse("experiment-compare") + f"?runs={made[0].pk},{made[1].pk}"
    assert client.get(url).status_code == 404
    assert (
        client.get(reverse("experiment-detail", args=[Experiment.objects.get().pk])).status_code
        == 404
    )


def test_a_runs_page_has_its_curves(client, owner, runs):
    _, made = runs
    client.force_login(owner)
    html = client.get(reverse("run-detail", args=[made[0].pk])).content.decode()
    charts = page_json(html, "run-charts")
    assert set(charts["series"]) == {"loss"} and len(charts["series"]["loss"]) <= 502
    assert charts["curves"] == {} and "lr" in html


def test_a_classifier_runs_page_has_its_confusion_matrix_and_curves(
    client, owner, project, upload, on_commit
):
    rows = "\n".join(f"{i},{(i * 7) % 11},{'ab'[(i * 7) % 11 > 5]}" for i in range(300))
    dataset = upload(owner, project, "d.csv", f"id,x,label\n{rows}\n".encode()).json()["id"]
    with on_commit(execute=True):
        training = services.training_job_create(
            project=project,
            user=owner,
            name="labels",
            algorithm="xgboost",
            channels={"train": dataset, "validation": dataset},
            target="label",
            hyperparameters={"num_round": 5},
        )
    client.force_login(owner)
    run = training.run
    charts = page_json(
        client.get(reverse("run-detail", args=[run.pk])).content.decode(), "run-charts"
    )
    curves = charts["curves"]
    assert curves["channel"] == "validation" and curves["classes"] == ["a", "b"]
    assert sum(map(sum, curves["confusion"])) == 300
    assert curves["roc"][0] == [0.0, 0.0] and curves["roc"][-1] == [1.0, 1.0]
    assert curves["pr"] and charts["importance"]
    assert set(charts["series"]) >= {"train:logloss", "validation:logloss"}
