"""Shared fixtures of the registry's tests: a small trained job (a real one, run inline), a
script job whose model folder holds no model, and helpers that register and upload."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from studio import storage
from studio.choices import DatasetStatus, JobStatus
from studio.models import Dataset, Job
from training.engine.train import train
from training.models import TrainingJob
from training.services import training_job_create

SCRIPT_WITHOUT_MODEL = b"""
import os
print("trained nothing worth keeping")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "notes.txt"), "w") as f:
    f.write("no model here")
"""


LABELS = pd.DataFrame(
    {
        "id": range(200),
        "x": [i % 7 for i in range(200)],
        "y": [(i * 3) % 11 for i in range(200)],
        "label": ["ab"[i % 2] for i in range(200)],
    }
)


@pytest.fixture
def dataset(owner: Any, project: Any, upload: Any) -> int:
    response = upload(owner, project, "labels.csv", LABELS.to_csv(index=False).encode())
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


@pytest.fixture
def real_training(owner: Any, project: Any, dataset: int, on_commit: Any) -> TrainingJob:
    """A Completed random forest trained by a real training job, inline (a few seconds)."""
    with on_commit(execute=True):
        job = training_job_create(
            project=project,
            user=owner,
            name="labels rf",
            algorithm="random-forest",
            channels={"train": dataset},
            target="label",
            hyperparameters={"num_trees": 10},
        )
    job.refresh_from_db()
    assert job.job.status == "Completed", job.job.failure_reason
    return job


@pytest.fixture(scope="session")
def forest(tmp_path_factory: Any) -> tuple[bytes, dict[str, Any]]:
    """The same forest trained once by the training engine: its model.tar.gz and result."""
    folder = tmp_path_factory.mktemp("forest")
    pq.write_table(pa.Table.from_pandas(LABELS, preserve_index=False), folder / "train.parquet")
    spec = {
        "algorithm": "random-forest",
        "hyperparameters": {"num_trees": 10},
        "channels": {"train": str(folder / "train.parquet")},
        "target": "label",
        "problem_type": "auto",
        "threads": 1,
        "device": "cpu",
        "seed": 0,
        "output_dir": str(folder / "output"),
    }
    result = train(spec, lambda message: None)
    return (folder / "output" / "model.tar.gz").read_bytes(), result


@pytest.fixture
def training(owner: Any, project: Any, forest: tuple[bytes, dict[str, Any]]) -> TrainingJob:
    """A Completed training job as the runner leaves one (rows and artifact), made without
    running it again: most tests need a trained job, not the training."""
    data, result = forest
    dataset = Dataset.objects.create(
        project=project,
        name="labels",
        format="csv",
        status=DatasetStatus.READY,
        num_rows=len(LABELS),
        columns=[{"name": c, "dtype": str(LABELS[c].dtype)} for c in LABELS.columns],
        created_by=owner,
    )
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
    path = Path(tempfile.mkdtemp()) / "model.tar.gz"
    path.write_bytes(data)
    size = storage.put_file(key, path, move=True)
    return TrainingJob.objects.create(
        project=project,
        job=job,
        name="labels rf",
        algorithm="random-forest",
        channels={"train": dataset.pk},
        target="label",
        hyperparameters={"num_trees": 10},
        final_metrics=result["final_metrics"],
        result={"problem_type": result["problem_type"], "classes": result["classes"]},
        model_artifact_key=key,
        model_artifact_size=size,
        created_by=owner,
    )


@pytest.fixture
def script_training(owner: Any, project: Any, on_commit: Any) -> TrainingJob:
    """A Completed script job whose model folder holds notes, not a model."""
    source = io.BytesIO(SCRIPT_WITHOUT_MODEL)
    source.name = "train.py"
    with on_commit(execute=True):
        job = training_job_create(
            project=project,
            user=owner,
            name="notes",
            algorithm="script",
            channels={},
            source=source,
        )
    job.refresh_from_db()
    assert job.job.status == "Completed", job.job.failure_reason
    return job


@pytest.fixture
def register(api: Any, on_commit: Any) -> Any:
    """``register(user, project, group, training_job=…, **more)`` through the API."""

    def post(user: Any, project: Any, group: str, **body: Any) -> Any:
        with on_commit(execute=True):
            return api(user).post(
                "/api/v1/model-packages/",
                {"project": project.pk, "group": group, **body},
                format="json",
            )

    return post


@pytest.fixture
def upload_model(api: Any, on_commit: Any) -> Any:
    """``upload_model(user, project, group, filename, content, **fields)`` as multipart;
    the check job runs inline."""

    def post(user: Any, project: Any, group: str, filename: str, content: bytes, **fields: Any):
        artifact = io.BytesIO(content)
        artifact.name = filename
        data: dict[str, Any] = {"project": project.pk, "group": group, "artifact": artifact}
        for key, value in fields.items():
            data[key] = json.dumps(value) if isinstance(value, dict | list) else value
        with on_commit(execute=True):
            return api(user).post("/api/v1/model-packages/", data, format="multipart")

    return post
