"""``/api/v1/transform-jobs/`` and the batch-transform pages: a registered model scores a
dataset into a new dataset (jobs run inline), bad requests are refused before anything is
made, and the project's roles apply."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.db.models import RestrictedError
from django.urls import reverse
from django.utils import timezone

from endpoints.models import TransformJob
from registry.models import ModelPackage, ModelPackageGroup, PackageStatus
from registry.selectors import package_lineage
from registry.services import model_package_create
from studio import storage
from studio.choices import DatasetStatus, JobStatus
from studio.engine.ingest import parquet_columns
from studio.models import Dataset, Job
from tests.endpoints.transform_models import (
    archive,
    failing_archive,
    features,
    table,
    write_parquet,
)
from training.engine.artifact import load, read_metadata
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

API = "/api/v1/transform-jobs/"


def make_dataset(project, owner, frame: pd.DataFrame, name: str, row_group_rows: int = 10_000):
    """A Ready dataset as ingestion leaves one, with the row groups asked for."""
    dataset = Dataset.objects.create(
        project=project, name=name, format="parquet", created_by=owner, status=DatasetStatus.READY
    )
    path = write_parquet(frame, Path(tempfile.mkdtemp()) / "data.parquet", row_group_rows)
    rows, columns = parquet_columns(path)
    dataset.data_key = f"datasets/{project.pk}/{dataset.pk}/data.parquet"
    storage.put_file(dataset.data_key, path, move=True)
    dataset.num_rows, dataset.columns = rows, [c.to_dict() for c in columns]
    dataset.save()
    return dataset


def register(project, owner, model: Path, group: str) -> ModelPackage:
    """A package registered from a Completed training job whose artifact is ``model``."""
    now = timezone.now()
    job = Job.objects.create(
        project=project,
        kind="training.builtin",
        owner=owner,
        status=JobStatus.COMPLETED,
        queue="cpu",
        progress=1.0,
        started_at=now,
        finished_at=now,
    )
    key = f"jobs/{job.pk}/model.tar.gz"
    copy = Path(tempfile.mkdtemp()) / "model.tar.gz"
    copy.write_bytes(model.read_bytes())
    storage.put_file(key, copy, move=True)
    metadata = read_metadata(model)
    training = TrainingJob.objects.create(
        project=project,
        job=job,
        name=group,
        algorithm=metadata["algorithm"],
        target=metadata["target"],
        result={"problem_type": metadata["problem_type"], "classes": metadata["classes"]},
        model_artifact_key=key,
        model_artifact_size=copy.stat().st_size if copy.exists() else 0,
        created_by=owner,
    )
    return model_package_create(project=project, user=owner, group=group, training_job=training.pk)


@pytest.fixture
def customers(project, owner) -> Dataset:
    return make_dataset(project, owner, features(table()), "customers", row_group_rows=100)


@pytest.fixture
def classifier(project, owner) -> ModelPackage:
    return register(project, owner, archive("classifier"), "churn")


@pytest.fixture
def regressor(project, owner) -> ModelPackage:
    return register(project, owner, archive("regressor"), "spend")


class Started:
    """A transform created through the API, its job run inline once the request committed:
    ``status_code`` is the POST's, ``json()`` the transform as it stands afterwards."""

    def __init__(self, response: Any, after: Any) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self._after = after

    def json(self) -> dict[str, Any]:
        return dict(self._after)


def start(api, user, on_commit, **body) -> Started:
    with on_commit(execute=True):
        response = api(user).post(API, body, format="json")
    if response.status_code != 201:
        return Started(response, response.json())
    return Started(response, api(user).get(f"{API}{response.json()['id']}/").json())


def read_output(transform: dict[str, Any]) -> pd.DataFrame:
    dataset = Dataset.objects.get(pk=transform["output_dataset"]["id"])
    with storage.open_local(dataset.data_key) as path:
        return pq.read_table(path).to_pandas()


def test_a_classifier_scores_a_dataset_into_a_new_dataset(
    api, member, project, customers, classifier, on_commit
):
    response = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="churn scores",
        model_package=classifier.pk,
        dataset=customers.pk,
        join_input=["id", "city"],
        batch_rows=37,
    )
    assert response.status_code == 201, response.content
    created = response.json()
    # Approval is for endpoints: a package still pending approval scores data.
    assert created["model_package"]["approval_status"] == "PendingManualApproval"
    assert created["status"] == "Completed", created["failure_reason"]
    assert created["progress"] == 1.0
    assert created["rows_done"] == created["rows_total"] == len(table())
    assert created["output_dataset"]["name"] == "customers-predictions"
    assert created["output_dataset"]["version"] == 1
    job = Job.objects.get(pk=created["job"])
    assert job.kind == "endpoints.transform" and job.queue == "cpu"
    assert job.outputs["dataset"] == created["output_dataset"]["id"]

    got = read_output(created)
    frame = features(table())
    expected = load(archive("classifier")).predict(frame)
    assert list(got.columns) == [
        "id",
        "city",
        "predicted_label",
        "probability_no",
        "probability_yes",
    ]
    assert got["id"].tolist() == frame["id"].tolist()  # the input's order
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_dtype=False)
    output = Dataset.objects.get(pk=created["output_dataset"]["id"])
    assert output.status == "Ready" and output.num_rows == len(frame)
    assert [c["name"] for c in output.columns] == list(got.columns)

    again = api(member).get(f"{API}{created['id']}/").json()
    assert again == created
    lines = list(job.logs.values_list("message", flat=True))
    assert any("Wrote dataset customers-predictions v1" in line for line in lines)


def test_a_regressor_keeps_every_input_column_and_a_second_run_is_a_new_version(
    api, member, project, customers, regressor, on_commit
):
    body = {
        "project": project.pk,
        "name": "spend",
        "model_package": regressor.pk,
        "dataset": customers.pk,
        "join_input": ["*"],
        "output_name": "spend forecast",
    }
    first = start(api, member, on_commit, **body).json()
    assert first["status"] == "Completed", first["failure_reason"]
    got = read_output(first)
    frame = features(table())
    assert list(got.columns) == [*frame.columns, "prediction"]
    expected = load(archive("regressor")).predict(frame)["prediction"]
    assert got["prediction"].tolist() == expected.tolist()
    pd.testing.assert_frame_equal(got[list(frame.columns)], frame, check_dtype=False)

    second = start(api, member, on_commit, **body).json()
    assert second["output_dataset"]["name"] == "spend forecast"
    assert second["output_dataset"]["version"] == 2


def test_several_instances_share_the_row_groups_and_keep_the_order(
    api, member, project, customers, classifier, on_commit
):
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="wide",
        model_package=classifier.pk,
        dataset=customers.pk,
        join_input=["id"],
        batch_rows=40,
        instance_count=3,
    ).json()
    assert created["status"] == "Completed", created["failure_reason"]
    assert created["instance_count"] == 3
    got = read_output(created)
    frame = features(table())
    assert got["id"].tolist() == frame["id"].tolist()
    expected = load(archive("classifier")).predict(frame)
    pd.testing.assert_frame_equal(got.drop(columns="id"), expected, check_dtype=False)
    lines = Job.objects.get(pk=created["job"]).logs.values_list("message", flat=True)
    assert any("on 3 instances (200, 200, 200 rows)" in line for line in lines)


def test_a_model_that_fails_fails_the_job_with_the_reason(
    api, member, project, owner, customers, on_commit
):
    broken = register(project, owner, failing_archive(), "broken")
    before = Dataset.objects.count()
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="broken",
        model_package=broken.pk,
        dataset=customers.pk,
        batch_rows=50,
    ).json()
    assert created["status"] == "Failed"
    assert created["failure_reason"].startswith("The model failed on rows 1–50: AttributeError")
    assert created["output_dataset"] is None
    assert Dataset.objects.count() == before


def test_an_uploaded_csv_dataset_is_scored(
    api, member, owner, project, upload, classifier, on_commit
):
    frame = features(table(90))
    uploaded = upload(owner, project, "new customers.csv", frame.to_csv(index=False).encode())
    assert uploaded.status_code == 201, uploaded.content
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="new customers",
        model_package=classifier.pk,
        dataset=uploaded.json()["id"],
        join_input=["id"],
    ).json()
    assert created["status"] == "Completed", created["failure_reason"]
    got = read_output(created)
    assert got["id"].tolist() == list(range(90))
    expected = load(archive("classifier")).predict(frame)
    assert got["predicted_label"].tolist() == expected["predicted_label"].tolist()


def refusals(project, other, customers, classifier, regressor, extra) -> list[tuple[dict, str]]:
    base = {
        "project": project.pk,
        "name": "ok",
        "model_package": regressor.pk,
        "dataset": customers.pk,
    }
    cases: list[tuple[dict, str]] = [
        ({"name": ""}, "name"),
        ({"name": "../etc"}, "name"),
        ({"model_package": "twelve"}, "model_package"),
        ({"model_package": 987654}, "model_package"),
        ({"model_package": extra["pending"].pk}, "model_package"),
        ({"model_package": extra["foreign_package"].pk}, "model_package"),
        ({"model_package": extra["forecaster"].pk}, "model_package"),
        ({"dataset": None}, "dataset"),
        ({"dataset": 987654}, "dataset"),
        ({"dataset": extra["foreign_dataset"].pk}, "dataset"),
        ({"dataset": extra["pending_dataset"].pk}, "dataset"),
        ({"dataset": extra["empty_dataset"].pk}, "dataset"),
        ({"dataset": extra["without_x"].pk}, "dataset"),
        ({"join_input": "id"}, "join_input"),
        ({"join_input": [1]}, "join_input"),
        ({"join_input": ["nope"]}, "join_input"),
        ({"join_input": ["*", "id"]}, "join_input"),
        ({"join_input": ["prediction"], "dataset": extra["with_prediction"].pk}, "join_input"),
        ({"batch_rows": 0}, "batch_rows"),
        ({"batch_rows": 1_000_001}, "batch_rows"),
        ({"batch_rows": "many"}, "batch_rows"),
        ({"batch_rows": True}, "batch_rows"),
        ({"instance_count": 0}, "instance_count"),
        ({"instance_count": 17}, "instance_count"),
        ({"instance_count": 2.5}, "instance_count"),
        ({"output_name": "a/b"}, "output_name"),
    ]
    return [({**base, **change}, field) for change, field in cases]


def test_every_bad_request_is_refused_with_its_field_and_makes_nothing(
    api, member, owner, outsider, project, other_project, customers, classifier, regressor
):
    frame = features(table(20))
    pending = ModelPackage.objects.create(
        project=project,
        group=ModelPackageGroup.objects.create(project=project, name="uploaded"),
        version=1,
        status=PackageStatus.PENDING,
        source="upload",
    )
    forecaster = register(project, owner, archive("regressor"), "forecast")
    forecaster.metadata = {**forecaster.metadata, "problem_type": "forecasting"}
    forecaster.save()
    extra = {
        "pending": pending,
        "forecaster": forecaster,
        "foreign_package": register(other_project, outsider, archive("regressor"), "theirs"),
        "foreign_dataset": make_dataset(other_project, outsider, frame, "theirs"),
        "pending_dataset": Dataset.objects.create(
            project=project, name="uploading", format="csv", created_by=owner
        ),
        "empty_dataset": make_dataset(project, owner, frame.head(0), "empty"),
        "without_x": make_dataset(project, owner, frame.drop(columns="x"), "no x"),
        "with_prediction": make_dataset(project, owner, frame.assign(prediction=1.0), "scored"),
    }
    jobs = Job.objects.count()
    for body, field in refusals(project, other_project, customers, classifier, regressor, extra):
        response = api(member).post(API, body, format="json")
        assert response.status_code == 400, (body, response.content)
        error = response.json()["error"]
        assert error["field"] == field, (body, error)
        assert error["message"] and error["code"]
    assert TransformJob.objects.count() == 0
    assert Job.objects.count() == jobs


def test_strangers_get_404_and_viewers_403(
    api, member, viewer, outsider, project, customers, classifier, on_commit
):
    body = {
        "project": project.pk,
        "name": "scores",
        "model_package": classifier.pk,
        "dataset": customers.pk,
    }
    assert api(outsider).post(API, body, format="json").status_code == 404
    assert api(viewer).post(API, body, format="json").status_code == 403
    assert api(None).post(API, body, format="json").status_code in (401, 403)
    created = start(api, member, on_commit, **body).json()
    detail = f"{API}{created['id']}/"
    assert api(outsider).get(detail).status_code == 404
    assert api(outsider).get(f"{API}?project={project.pk}").status_code == 404
    assert api(outsider).get(API).json()["results"] == []
    assert api(outsider).post(f"{detail}stop/").status_code == 404
    assert api(viewer).get(detail).status_code == 200
    assert api(viewer).post(f"{detail}stop/").status_code == 403
    assert [t["id"] for t in api(viewer).get(API).json()["results"]] == [created["id"]]


def test_the_list_filters_by_project_and_status(
    api, member, project, customers, classifier, on_commit
):
    body = {"project": project.pk, "model_package": classifier.pk, "dataset": customers.pk}
    done = start(api, member, on_commit, name="done", **body).json()
    with on_commit(execute=False):  # its job is never sent: it stays Pending
        waiting = api(member).post(API, {**body, "name": "waiting"}, format="json").json()
    listed = api(member).get(f"{API}?project={project.pk}").json()["results"]
    assert [t["id"] for t in listed] == [waiting["id"], done["id"]]
    pending = api(member).get(f"{API}?status=Pending").json()["results"]
    assert [t["id"] for t in pending] == [waiting["id"]]
    for query, field in (("status=Done", "status"), ("colour=red", "colour")):
        response = api(member).get(f"{API}?{query}")
        assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_a_transform_that_has_not_started_stops_at_once(
    api, member, project, customers, classifier, on_commit
):
    body = {
        "project": project.pk,
        "name": "later",
        "model_package": classifier.pk,
        "dataset": customers.pk,
    }
    with on_commit(execute=False):
        created = api(member).post(API, body, format="json").json()
    assert created["status"] == "Pending" and created["output_dataset"] is None
    stopped = api(member).post(f"{API}{created['id']}/stop/")
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["status"] == "Stopped"
    again = api(member).post(f"{API}{created['id']}/stop/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_running"


def test_the_package_shows_its_transforms_and_cannot_be_deleted_from_under_them(
    api, member, project, customers, classifier, on_commit
):
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="lineage",
        model_package=classifier.pk,
        dataset=customers.pk,
    ).json()
    downstream = package_lineage(classifier)["downstream"]
    assert {
        "kind": "batch transform",
        "name": "lineage",
        "url": f"/transform-jobs/{created['id']}/",
        "status": "Completed",
    } in downstream
    with pytest.raises(RestrictedError):
        classifier.delete()
    project.delete()  # the whole project, transforms and packages together, still goes
    assert not TransformJob.objects.exists()


def test_the_list_page_shows_the_way_to_start_and_then_the_transforms(
    client, member, project, customers, classifier, api, on_commit
):
    client.force_login(member)
    empty = client.get(reverse("transform-job-list"))
    assert empty.status_code == 200
    assert b"No batch transforms yet" in empty.content
    assert b'href="/transform-jobs/new/"' in empty.content
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="march scores",
        model_package=classifier.pk,
        dataset=customers.pk,
    ).json()
    page = client.get(reverse("transform-job-list")).content.decode()
    assert f'href="/transform-jobs/{created["id"]}/"' in page and "march scores" in page
    assert f'href="/datasets/{created["output_dataset"]["id"]}/"' in page
    assert f'href="{reverse("model-package-detail", args=[classifier.pk])}"' in page
    assert "badge-completed" in page
    assert 'href="/transform-jobs/"' in client.get(reverse("home")).content.decode()


def test_the_form_offers_the_projects_models_and_datasets_with_one_preselected(
    client, member, project, customers, classifier
):
    client.force_login(member)
    form = client.get(f"{reverse('transform-job-new')}?model_package={classifier.pk}")
    assert form.status_code == 200
    config = form.context["config"]
    assert config["api"] == API and config["initial"]["model_package"] == classifier.pk
    assert [p["id"] for p in config["packages"]] == [classifier.pk]
    assert config["packages"][0]["columns"] == ["x", "y", "city"]
    assert [d["id"] for d in config["datasets"]] == [customers.pk]
    assert b'id="transform-config"' in form.content and b"data-transform-form" in form.content
    package = client.get(reverse("model-package-detail", args=[classifier.pk])).content
    assert f"/transform-jobs/new/?model_package={classifier.pk}".encode() in package


def test_the_detail_page_shows_progress_the_log_and_the_predictions(
    client, member, project, customers, classifier, api, on_commit
):
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="detail",
        model_package=classifier.pk,
        dataset=customers.pk,
        join_input=["id"],
    ).json()
    client.force_login(member)
    page = client.get(reverse("transform-job-detail", args=[created["id"]])).content.decode()
    assert 'data-progress role="progressbar"' in page and 'aria-valuenow="100"' in page
    assert f'data-job="{created["job"]}"' in page  # studio/job.js follows it live
    assert f'href="/datasets/{created["output_dataset"]["id"]}/"' in page
    assert "customers-predictions v1" in page
    assert "600</strong> of 600 rows scored" in page
    assert "predicted_label, probability_no, probability_yes" in page
    assert "Wrote dataset customers-predictions v1" in page  # the log


def test_viewers_read_the_pages_without_actions_and_strangers_get_404(
    client, member, viewer, outsider, project, customers, classifier, api, on_commit
):
    created = start(
        api,
        member,
        on_commit,
        project=project.pk,
        name="roles",
        model_package=classifier.pk,
        dataset=customers.pk,
    ).json()
    detail = reverse("transform-job-detail", args=[created["id"]])
    client.force_login(viewer)
    assert b"Run again" not in client.get(detail).content
    listed = client.get(reverse("transform-job-list")).content
    assert b"roles" in listed and b"New batch transform" not in listed
    assert b"read-only" in client.get(reverse("transform-job-new")).content
    client.force_login(outsider)
    assert client.get(detail).status_code == 404
