"""``/api/v1/training-jobs/``: a built-in algorithm trained on datasets by a job, its final
metrics, its per-round metrics and its model artifact; bad requests refused up front."""

from __future__ import annotations

import io
import tarfile

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from studio.models import Dataset, Job, JobMetric
from training.engine import load
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def csv_of(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.fixture
def cancer(owner, project, upload):
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    train, validation = train_test_split(frame, test_size=0.3, random_state=0)
    ids = {}
    for name, part in (("train", train), ("validation", validation)):
        response = upload(owner, project, f"cancer-{name}.csv", csv_of(part))
        assert response.status_code == 201, response.content
        ids[name] = response.json()["id"]
    return ids, validation


def submit(api, user, project, **body):
    return api(user).post("/api/v1/training-jobs/", {"project": project.pk, **body}, format="json")


def test_xgboost_trains_reports_metrics_per_round_and_keeps_a_model(
    api, member, project, cancer, on_commit, tmp_path
):
    ids, validation = cancer
    with on_commit(execute=True):
        response = submit(
            api,
            member,
            project,
            name="cancer xgb",
            algorithm="xgboost",
            channels=ids,
            target="target",
            hyperparameters={"num_round": "40", "eta": 0.2, "max_depth": 4},
        )
    assert response.status_code == 201, response.content
    created = response.json()
    assert {"id", "job", "status"} <= set(created)
    job = Job.objects.get(pk=created["job"])
    assert job.status == "Completed", job.failure_reason
    assert job.kind == "training.builtin" and job.queue == "cpu"

    got = api(member).get(f"/api/v1/training-jobs/{created['id']}/").json()
    assert got["status"] == "Completed"
    assert got["hyperparameters"]["num_round"] == 40 and got["hyperparameters"]["lambda"] == 1.0
    metrics = got["final_metrics"]
    assert metrics["validation:accuracy"] > 0.93 and metrics["validation:auc"] > 0.97
    assert {"train:logloss", "validation:f1", "validation:precision"} <= set(metrics)
    assert got["result"]["problem_type"] == "binary_classification"
    assert got["result"]["classes"] == ["benign", "malignant"]
    assert got["result"]["feature_importance"]
    assert got["duration_seconds"] is not None and got["started_at"] and got["finished_at"]

    rounds = JobMetric.objects.filter(job=job, name="validation:logloss")
    assert sorted(rounds.values_list("step", flat=True)) == list(range(40))

    artifact = got["model_artifact"]
    assert artifact["key"] == f"jobs/{job.pk}/model.tar.gz" and artifact["size"] > 0
    download = api(member).get(artifact["url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    body = b"".join(download.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert set(tar.getnames()) == {"model.joblib", "metadata.json", "xgboost-model.json"}
    path = tmp_path / "model.tar.gz"
    path.write_bytes(body)
    model = load(path)
    predicted = model.predict(validation.drop(columns="target"))
    accuracy = (predicted["predicted_label"].to_numpy() == validation["target"].to_numpy()).mean()
    assert accuracy == pytest.approx(metrics["validation:accuracy"])
    assert model.metadata["metrics"] == metrics
    assert model.metadata["input_schema"][0] == {
        "name": "mean radius",
        "kind": "numeric",
        "dtype": "float64",
    }


def test_a_regression_is_inferred_from_a_numeric_target(
    api, member, project, upload, owner, on_commit
):
    frame = load_diabetes(as_frame=True).frame
    dataset = upload(owner, project, "diabetes.csv", csv_of(frame)).json()["id"]
    with on_commit(execute=True):
        response = submit(
            api,
            member,
            project,
            name="diabetes",
            algorithm="linear-learner",
            channels={"train": dataset},
            target="target",
            hyperparameters={"wd": 0.5},
        )
    training = TrainingJob.objects.get(pk=response.json()["id"])
    assert training.job.status == "Completed", training.job.failure_reason
    assert training.result["problem_type"] == "regression"
    assert set(training.final_metrics) == {"train:rmse", "train:mae", "train:r2"}
    assert training.final_metrics["train:r2"] > 0.4


def test_a_training_that_cannot_learn_fails_with_the_reason(
    api, member, project, upload, owner, on_commit
):
    frame = pd.DataFrame({"x": range(30), "y": ["only"] * 30})
    dataset = upload(owner, project, "one-class.csv", csv_of(frame)).json()["id"]
    with on_commit(execute=True):
        response = submit(
            api,
            member,
            project,
            name="one class",
            algorithm="random-forest",
            channels={"train": dataset},
            target="y",
            problem_type="multiclass_classification",
        )
    got = api(member).get(f"/api/v1/training-jobs/{response.json()['id']}/").json()
    assert got["status"] == "Failed"
    assert got["failure_reason"] == "The target 'y' has one class; it needs two."
    assert got["model_artifact"] is None


BAD = [
    ({"algorithm": "deep-magic"}, "algorithm"),
    ({"hyperparameters": {"num_round": 0}}, "hyperparameters.num_round"),
    ({"hyperparameters": {"eta": "fast"}}, "hyperparameters.eta"),
    ({"hyperparameters": {"nope": 1}}, "hyperparameters.nope"),
    ({"hyperparameters": {"tree_method": "gpu"}}, "hyperparameters.tree_method"),
    ({"target": ""}, "target"),
    ({"target": "no such column"}, "target"),
    ({"channels": {"validation": "train"}}, "channels"),
    ({"channels": {"train": 999999}}, "channels.train"),
    ({"channels": {"train": "x"}}, "channels.train"),
    ({"channels": {"holdout": 1}}, "channels.holdout"),
    ({"instance_type": "huge"}, "instance_type"),
    ({"instance_count": 0}, "instance_count"),
    ({"instance_count": 17}, "instance_count"),
    ({"instance_count": 2, "algorithm": "random-forest"}, "instance_count"),
    ({"max_runtime_seconds": 0}, "max_runtime_seconds"),
    ({"problem_type": "clustering"}, "problem_type"),
    ({"name": "  "}, "name"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_requests_are_refused_with_the_field_and_nothing_made(
    change, field, api, member, project, cancer
):
    ids, _ = cancer
    body = {
        "name": "x",
        "algorithm": "xgboost",
        "channels": ids,
        "target": "target",
        **change,
    }
    jobs = Job.objects.count()
    response = submit(api, member, project, **body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["message"]
    assert Job.objects.count() == jobs and not TrainingJob.objects.exists()


def test_a_dataset_of_another_project_is_refused(
    api, member, project, other_project, outsider, upload
):
    theirs = upload(outsider, other_project, "theirs.csv", b"a,b\n1,2\n3,4\n").json()["id"]
    response = submit(
        api, member, project, name="x", algorithm="kmeans", channels={"train": theirs}
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "channels.train"


def test_strangers_see_nothing_and_viewers_cannot_train(
    api, member, viewer, outsider, project, cancer, on_commit
):
    ids, _ = cancer
    with on_commit(execute=False):
        created = submit(
            api,
            member,
            project,
            name="x",
            algorithm="knn",
            channels={"train": ids["train"]},
            target="target",
        ).json()
    assert api(outsider).get(f"/api/v1/training-jobs/{created['id']}/").status_code == 404
    assert api(outsider).get(f"/api/v1/training-jobs/{created['id']}/model/").status_code == 404
    assert api(outsider).get("/api/v1/training-jobs/").json()["results"] == []
    assert api(viewer).get(f"/api/v1/training-jobs/{created['id']}/").status_code == 200
    refused = submit(
        api,
        viewer,
        project,
        name="y",
        algorithm="knn",
        channels={"train": ids["train"]},
        target="target",
    )
    assert refused.status_code == 403
    listed = api(member).get(f"/api/v1/training-jobs/?project={project.pk}&status=Pending")
    assert [t["id"] for t in listed.json()["results"]] == [created["id"]]


def test_a_gpu_instance_waits_for_a_gpu_worker(api, member, project, cancer):
    ids, _ = cancer
    response = submit(
        api,
        member,
        project,
        name="gpu",
        algorithm="xgboost",
        channels=ids,
        target="target",
        instance_type="gpu.1",
    )
    assert response.status_code == 201
    got = response.json()
    job = Job.objects.get(pk=got["job"])
    assert job.queue == "gpu" and got["status"] == "Pending"
    assert "Waiting for a GPU worker" in got["pending_reason"]


def test_the_algorithms_list_their_hyperparameters(api, member):
    body = api(member).get("/api/v1/training-algorithms/").json()
    names = {a["name"] for a in body["algorithms"]}
    assert {
        "xgboost",
        "linear-learner",
        "random-forest",
        "knn",
        "mlp",
        "kmeans",
        "pca",
        "isolation-forest",
        "text-classifier",
    } <= names
    xgb = next(a for a in body["algorithms"] if a["name"] == "xgboost")
    eta = next(h for h in xgb["hyperparameters"] if h["name"] == "eta")
    assert eta == {
        "name": "eta",
        "type": "float",
        "default": 0.3,
        "maximum": 1,
        "above": 0,
        "help": "Learning rate: each tree's shrinkage.",
    }
    assert {t["name"] for t in body["instance_types"]} >= {"cpu.small", "gpu.1"}


def test_uploaded_datasets_stay_ready(cancer):
    ids, _ = cancer
    assert Dataset.objects.filter(pk__in=ids.values(), status="Ready").count() == 2


def test_xgboost_on_two_instances_trains_on_dask_as_one_would(
    api, member, project, cancer, on_commit
):
    ids, _ = cancer
    results = {}
    for count in (1, 2):
        with on_commit(execute=True):
            response = submit(
                api,
                member,
                project,
                name=f"cancer x{count}",
                algorithm="xgboost",
                channels=ids,
                target="target",
                instance_count=count,
                hyperparameters={"num_round": 30, "max_depth": 3},
            )
        assert response.status_code == 201, response.content
        training = TrainingJob.objects.get(pk=response.json()["id"])
        assert training.job.status == "Completed", training.job.failure_reason
        results[count] = training
    single, spread = results[1].final_metrics, results[2].final_metrics
    assert spread["validation:accuracy"] == pytest.approx(single["validation:accuracy"], abs=0.02)
    assert spread["validation:logloss"] == pytest.approx(single["validation:logloss"], rel=0.05)
    assert results[2].job.logs.filter(message="Training on 2 Dask workers.").exists()
    points = JobMetric.objects.filter(job=results[2].job, name="validation:logloss")
    assert points.count() == 30


def test_a_forecasting_job_forecasts_the_validation_weeks(
    api, member, owner, project, upload, on_commit
):
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    rows = [
        {
            "store": s,
            "day": d.strftime("%Y-%m-%d"),
            "sales": 10 + 4 * s + (d.day_of_week in (5, 6)) * 3,
        }
        for s in range(3)
        for d in days
    ]
    frame = pd.DataFrame(rows)
    cut = frame["day"] < "2024-04-01"
    ids = {
        "train": upload(owner, project, "sales-train.csv", csv_of(frame[cut])).json()["id"],
        "validation": upload(owner, project, "sales-next.csv", csv_of(frame[~cut])).json()["id"],
    }
    with on_commit(execute=True):
        created = submit(
            api,
            member,
            project,
            name="sales",
            algorithm="forecasting",
            channels=ids,
            target="sales",
            hyperparameters={
                "time_column": "day",
                "series_column": "store",
                "prediction_length": 7,
            },
        ).json()
    training = TrainingJob.objects.get(pk=created["id"])
    assert training.job.status == "Completed", training.job.failure_reason
    assert training.result["problem_type"] == "forecasting"
    assert training.final_metrics["validation:mae"] < 0.5  # a clean weekly pattern
    missing = submit(api, member, project, name="x", algorithm="forecasting", channels=ids)
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "target"
