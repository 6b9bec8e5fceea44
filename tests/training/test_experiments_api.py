"""Experiments and runs: logged through the API or by training jobs themselves."""

from __future__ import annotations

import pytest

from training.models import Experiment, Run, RunMetric

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(api, member, project):
    response = api(member).post(
        "/api/v1/experiments/", {"project": project.pk, "name": "churn"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def new_run(api, user, experiment, **body):
    response = api(user).post(
        "/api/v1/runs/", {"experiment": experiment["id"], **body}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_runs_log_metrics_params_and_tags_in_batches(api, member, experiment):
    run = new_run(api, member, experiment, name="first", params={"lr": 0.1})
    assert run["status"] == "RUNNING" and len(run["uuid"]) == 32
    points = [
        {"key": "loss", "value": 1 / (s + 1), "step": s, "timestamp": 1000 + s} for s in range(50)
    ]
    response = api(member).post(
        f"/api/v1/runs/{run['id']}/log-batch/",
        {
            "metrics": [*points, {"key": "auc", "value": 0.9}],
            "params": [{"key": "depth", "value": 6}],
            "tags": [{"key": "team", "value": "growth"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["params"] == {"lr": "0.1", "depth": "6"}
    assert got["tags"] == {"team": "growth"}
    assert got["metrics"]["loss"] == {"value": 1 / 50, "step": 49, "timestamp": 1049}
    assert got["metrics"]["auc"]["value"] == 0.9

    series = api(member).get(f"/api/v1/runs/{run['id']}/metrics/?key=loss").json()
    assert [p["step"] for p in series["points"]] == list(range(50))
    small = api(member).get(f"/api/v1/runs/{run['id']}/metrics/?key=loss&max_points=10").json()
    steps = [p["step"] for p in small["points"]]
    assert steps[0] == 0 and steps[-1] == 49 and len(steps) <= 12

    done = api(member).patch(f"/api/v1/runs/{run['id']}/", {"status": "FINISHED"}, format="json")
    assert done.json()["status"] == "FINISHED" and done.json()["end_time"]
    listed = api(member).get(f"/api/v1/runs/?experiment={experiment['id']}").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    assert api(member).get(f"/api/v1/experiments/{experiment['id']}/").json()["run_count"] == 1


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ({"params": [{"key": "lr", "value": 0.2}]}, "params"),
        ({"metrics": [{"key": "loss", "value": "high"}]}, "metrics.0.value"),
        ({"metrics": [{"key": "bad key!", "value": 1}]}, "metrics.0.key"),
        ({"metrics": [{"key": "loss"}]}, "metrics.0"),
        ({"metrics": [{"key": "x", "value": 1, "step": "two"}]}, "metrics.0.step"),
        ({"metrics": [{"key": "x", "value": 1}] * 1001}, "metrics"),
        ({"tags": "team"}, "tags"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_bad_batch_is_refused_whole(batch, field, api, member, experiment):
    run = new_run(api, member, experiment, params={"lr": 0.1})
    batch = {**batch, "metrics": [{"key": "ok", "value": 1}, *batch.get("metrics", [])]}
    response = api(member).post(f"/api/v1/runs/{run['id']}/log-batch/", batch, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    expected = field.replace("metrics.0", "metrics.1") if field.startswith("metrics.0") else field
    assert error["field"] == expected, error
    assert not RunMetric.objects.filter(run_id=run["id"]).exists()  # nothing half-written
    assert Run.objects.get(pk=run["id"]).params == {"lr": "0.1"}


def test_experiment_names_are_unique_in_a_project(api, member, project, experiment):
    again = api(member).post(
        "/api/v1/experiments/", {"project": project.pk, "name": "churn"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "name"


def test_strangers_get_404_and_viewers_read_only(api, outsider, viewer, member, experiment):
    run = new_run(api, member, experiment)
    for path in (f"/api/v1/experiments/{experiment['id']}/", f"/api/v1/runs/{run['id']}/"):
        assert api(outsider).get(path).status_code == 404
        assert api(viewer).get(path).status_code == 200
    batch = {"metrics": [{"key": "x", "value": 1}]}
    assert (
        api(outsider).post(f"/api/v1/runs/{run['id']}/log-batch/", batch, format="json").status_code
        == 404
    )
    assert (
        api(viewer).post(f"/api/v1/runs/{run['id']}/log-batch/", batch, format="json").status_code
        == 403
    )
    assert api(outsider).get("/api/v1/runs/").json()["results"] == []


def test_a_training_job_logs_its_own_run(api, member, project, upload, owner, on_commit):
    rows = "\n".join(f"{i},{(i * 7) % 11},{'ab'[i % 2]}" for i in range(300))
    dataset = upload(owner, project, "d.csv", f"id,x,label\n{rows}\n".encode()).json()["id"]
    with on_commit(execute=True):
        created = (
            api(member)
            .post(
                "/api/v1/training-jobs/",
                {
                    "project": project.pk,
                    "name": "labels",
                    "algorithm": "xgboost",
                    "channels": {"train": dataset, "validation": dataset},
                    "target": "label",
                    "experiment": "label models",
                    "hyperparameters": {"num_round": 12},
                },
                format="json",
            )
            .json()
        )
    run = Run.objects.get(training_job_id=created["id"])
    assert run.experiment.name == "label models"
    assert run.status == "FINISHED" and run.end_time
    assert run.params["algorithm"] == "xgboost" and run.params["num_round"] == "12"
    assert run.tags["sextant.training_job"] == str(created["id"])
    assert run.inputs[0]["channel"] == "train" and run.inputs[0]["dataset"] == dataset
    loss = RunMetric.objects.filter(run=run, key="validation:logloss").order_by("step")
    assert [p.step for p in loss] == [*range(12), 12]  # each round, then the final value
    assert run.metrics["validation:accuracy"]["step"] == 12
    got = api(member).get(f"/api/v1/training-jobs/{created['id']}/").json()
    assert got["run"] == {"id": run.pk, "uuid": run.uuid, "experiment": "label models"}


def test_a_failed_training_job_fails_its_run(api, member, project, upload, owner, on_commit):
    dataset = upload(owner, project, "one.csv", b"x,y\n1,a\n2,a\n3,a\n").json()["id"]
    with on_commit(execute=True):
        created = (
            api(member)
            .post(
                "/api/v1/training-jobs/",
                {
                    "project": project.pk,
                    "name": "one class",
                    "algorithm": "random-forest",
                    "channels": {"train": dataset},
                    "target": "y",
                    "problem_type": "multiclass_classification",
                },
                format="json",
            )
            .json()
        )
    run = Run.objects.get(training_job_id=created["id"])
    assert run.status == "FAILED"
    assert run.experiment == Experiment.objects.get(project=project, name="Default")
