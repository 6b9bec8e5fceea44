"""Uploaded models: stored as they came, checked by a job in a limited child process (never
unpickled here), and wrapped into an archive that loads with the training engine and
predicts as the original did; what cannot be served ends Failed with the reason."""

from __future__ import annotations

import io
import os
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from registry.models import ModelPackage
from studio import storage
from studio.models import Job
from training.engine import load

pytestmark = pytest.mark.django_db

SCHEMA = [
    {"name": "age", "type": "float"},
    {"name": "city", "type": "string"},
    {"name": "income", "type": "float"},
]


def people(rows: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "city": rng.choice(["Paris", "Lyon", "Nice"], rows),
            "income": rng.normal(30_000, 8_000, rows).round(),
        }
    )
    label = np.where((frame["age"] > 45) | (frame["city"] == "Nice"), "yes", "no")
    return frame, pd.Series(label, name="churned")


def pipeline_bytes() -> tuple[bytes, Pipeline, pd.DataFrame]:
    frame, label = people()
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("city", OneHotEncoder(), ["city"]),  # refuses unknown cities
                        ("numbers", "passthrough", ["age", "income"]),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    ).fit(frame, label)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue(), pipeline, frame


def uploaded(api, upload_model, user, project, group, filename, data, **fields):
    """Upload, check the answer (Pending: the check runs once the request has committed),
    and return the package as it is once its check job has run."""
    response = upload_model(user, project, group, filename, data, **fields)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "Pending"
    got = api(user).get(f"/api/v1/model-packages/{response.json()['id']}/")
    return got.json()


def downloaded(api, user, body, tmp_path):
    response = api(user).get(body["artifact"]["url"])
    assert response.status_code == 200
    path = tmp_path / f"package-{body['id']}.tar.gz"
    path.write_bytes(b"".join(response.streaming_content))
    return load(path)


def test_a_scikit_learn_pipeline_is_checked_wrapped_and_predicts_as_the_original(
    api, member, project, upload_model, tmp_path
):
    data, pipeline, frame = pipeline_bytes()
    body = uploaded(
        api,
        upload_model,
        member,
        project,
        "churn",
        "churn-pipeline.joblib",
        data,
        input_schema=SCHEMA,
    )
    assert body["version"] == 1 and body["source"] == "upload"
    assert body["status"] == "Completed", body["failure_reason"]
    assert body["upload"] == {"filename": "churn-pipeline.joblib", "kind": "sklearn"}
    assert body["problem_type"] == "binary_classification"
    assert body["classes"] == ["no", "yes"]
    assert body["algorithm"] == "scikit-learn"
    assert [(c["name"], c["kind"]) for c in body["input_schema"]] == [
        ("age", "numeric"),
        ("city", "categorical"),
        ("income", "numeric"),
    ]
    package = ModelPackage.objects.get(pk=body["id"])
    assert package.upload_key == f"registry/packages/{package.pk}/upload.joblib"
    assert storage.exists(package.upload_key)  # kept as it came
    job = Job.objects.get(pk=body["job"])
    assert job.status == "Completed" and job.kind == "registry.validate" and job.queue == "cpu"
    assert any("Predicted 8 example rows" in line.message for line in job.logs.all())

    model = downloaded(api, member, body, tmp_path)
    predicted = model.predict(frame.head(50))
    expected = pipeline.predict_proba(frame.head(50))
    np.testing.assert_allclose(predicted["probability_yes"], expected[:, 1])
    assert list(predicted["predicted_label"]) == list(pipeline.predict(frame.head(50)))
    assert model.metadata["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"


def test_an_xgboost_model_in_its_own_format_is_wrapped_with_its_labels(
    api, member, project, upload_model, tmp_path
):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(x, y)
    path = tmp_path / "flowers.json"
    model.save_model(path)
    body = uploaded(
        api,
        upload_model,
        member,
        project,
        "flowers",
        "flowers.json",
        path.read_bytes(),
        input_schema=["f0", "f1", "f2", "f3"],
        classes=["small", "medium", "large"],
    )
    assert body["status"] == "Completed", body["failure_reason"]
    assert body["problem_type"] == "multiclass_classification"
    assert body["classes"] == ["small", "medium", "large"]
    assert body["algorithm"] == "xgboost"
    wrapped = downloaded(api, member, body, tmp_path)
    assert wrapped.metadata["objective"] == "multi:softprob"
    frame = pd.DataFrame(x[:40], columns=["f0", "f1", "f2", "f3"])
    predicted = wrapped.predict(frame)
    np.testing.assert_allclose(
        predicted[["probability_small", "probability_medium", "probability_large"]].to_numpy(),
        model.predict_proba(x[:40]),
        rtol=1e-6,
    )


def test_a_training_jobs_archive_uploads_as_it_is(
    api, member, project, upload_model, forest, tmp_path
):
    data, result = forest
    body = uploaded(api, upload_model, member, project, "labels", "model.tar.gz", data)
    assert body["status"] == "Completed", body["failure_reason"]
    assert body["problem_type"] == "binary_classification" and body["classes"] == ["a", "b"]
    assert body["metrics"] == result["final_metrics"]
    model = downloaded(api, member, body, tmp_path)
    assert model.metadata["algorithm"] == "random-forest"


def test_a_broken_upload_ends_failed_with_the_reason(api, member, project, upload_model):
    body = uploaded(
        api,
        upload_model,
        member,
        project,
        "churn",
        "broken.pkl",
        b"not a pickle",
        input_schema=["a"],
    )
    assert body["status"] == "Failed"
    assert body["failure_reason"].startswith("The model could not be loaded: ")
    assert body["artifact"] is None
    assert api(member).get(f"/api/v1/model-packages/{body['id']}/artifact/").status_code == 409
    assert Job.objects.get(pk=body["job"]).status == "Failed"


def test_a_schema_that_does_not_match_the_model_ends_failed_naming_the_column(
    api, member, project, upload_model
):
    data, _, _ = pipeline_bytes()
    body = uploaded(
        api,
        upload_model,
        member,
        project,
        "churn",
        "pipeline.joblib",
        data,
        input_schema=["age", "town", "income"],
    )
    assert body["status"] == "Failed"
    assert "fitted on a column 'city' that input_schema does not name" in body["failure_reason"]


def test_the_upload_is_unpickled_only_in_a_child_process_without_secrets(
    api, member, project, upload_model
):
    class Probe:
        def __reduce__(self):
            code = (
                "import os; raise RuntimeError("
                "f\"pid={os.getpid()} secret={'SECRET_KEY' in os.environ} "
                "db={'DATABASE_URL' in os.environ}\")"
            )
            return (exec, (code,))

    data = pickle.dumps(Probe())
    body = uploaded(
        api, upload_model, member, project, "evil", "evil.pkl", data, input_schema=["a"]
    )
    assert body["status"] == "Failed"
    reason = body["failure_reason"]
    assert "RuntimeError: pid=" in reason and "secret=False db=False" in reason
    assert f"pid={os.getpid()} " not in reason


@pytest.mark.parametrize(
    ("filename", "fields", "field", "message"),
    [
        ("model.joblib", {}, "input_schema", "input_schema is required"),
        ("model.json", {"input_schema": []}, "input_schema", "input_schema is required"),
        ("model.exe", {"input_schema": ["a"]}, "artifact", "Upload a model.tar.gz"),
        ("model.joblib", {"input_schema": "a, b"}, "input_schema", "JSON list"),
        (
            "model.joblib",
            {"input_schema": [{"name": "a", "type": "blob"}]},
            "input_schema.0.type",
            "Unknown column type",
        ),
        ("model.joblib", {"input_schema": ["a", "a"]}, "input_schema.1", "named twice"),
        (
            "model.joblib",
            {"input_schema": ["a"], "problem_type": "magic"},
            "problem_type",
            "one of",
        ),
        ("model.json", {"input_schema": ["a"], "classes": ["x"]}, "classes", "at least two"),
        ("model.tar.gz", {"input_schema": ["a"]}, "input_schema", "carries its own"),
    ],
)
def test_bad_uploads_are_refused_up_front_and_nothing_is_stored(
    member, project, upload_model, filename, fields, field, message, private_storage
):
    response = upload_model(member, project, "churn", filename, b"\x80\x04data", **fields)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field and message in error["message"], error
    assert not ModelPackage.objects.exists()
    assert not (private_storage / "registry").exists() or not any(
        (private_storage / "registry").rglob("*.*")
    )


def test_an_archive_that_holds_no_model_is_refused_up_front(
    member, project, upload_model, script_training
):
    with storage.open_local(script_training.model_artifact_key) as path:
        data = path.read_bytes()
    response = upload_model(member, project, "notes", "model.tar.gz", data)
    assert response.status_code == 400
    assert "holds no model Sextant can serve" in response.json()["error"]["message"]
    empty = upload_model(member, project, "notes", "model.joblib", b"", input_schema=["a"])
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_file"
