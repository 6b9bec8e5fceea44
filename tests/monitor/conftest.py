"""What the monitor's tests stand on: a customers table, an XGBoost classifier trained on it
once per session, its model package, an endpoint serving it with data capture on, and a way
to write captured traffic as the endpoint's recorder writes it."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from endpoints.choices import EndpointStatus
from endpoints.engine.capture import Event, file_name, new_event_id, partition_key
from endpoints.models import Endpoint
from registry.models import ModelPackage, ModelPackageGroup, PackageSource, PackageStatus
from studio import storage
from studio.choices import DatasetStatus
from studio.models import Dataset, Project
from training.engine.artifact import read_metadata
from training.engine.train import train

FEATURES = ["x", "y", "city"]
CLASSES = ["no", "yes"]


def customers(rows: int = 2000, *, seed: int = 7, shift: float = 0.0) -> pd.DataFrame:
    """Two numbers, a city and a yes/no label that depends on them (and a group column)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=shift, size=rows)
    y = rng.normal(size=rows)
    city = rng.choice(["Paris", "Lyon", "Nice"], size=rows, p=[0.5, 0.3, 0.2])
    noise = rng.normal(scale=0.5, size=rows)
    score = x + 0.5 * y + np.where(city == "Paris", 0.5, 0.0) + noise
    return pd.DataFrame({"x": x, "y": y, "city": city, "label": np.where(score > 0, "yes", "no")})


@functools.cache
def archive() -> Path:
    """``model.tar.gz`` of an XGBoost classifier of ``label`` (trained once)."""
    folder = Path(tempfile.mkdtemp(prefix="monitor-model-"))
    pq.write_table(pa.Table.from_pandas(customers(), preserve_index=False), folder / "t.parquet")
    train(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 20, "max_depth": 3},
            "channels": {"train": str(folder / "t.parquet")},
            "target": "label",
            "problem_type": "auto",
            "threads": 1,
            "device": "cpu",
            "seed": 0,
            "output_dir": str(folder / "output"),
        },
        lambda message: None,
    )
    return folder / "output" / "model.tar.gz"


def table_dataset(project: Project, owner: Any, frame: pd.DataFrame, name: str) -> Dataset:
    """A Ready dataset of ``frame`` as an upload leaves one (without the upload's jobs)."""
    dataset = Dataset.objects.create(
        project=project,
        name=name,
        format="parquet",
        status=DatasetStatus.READY,
        num_rows=len(frame),
        columns=[{"name": c, "dtype": str(frame[c].dtype), "nullable": True} for c in frame],
        created_by=owner,
    )
    path = Path(tempfile.mkdtemp()) / "data.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    key = f"datasets/{dataset.pk}/data.parquet"
    storage.put_file(key, path, move=True)
    Dataset.objects.filter(pk=dataset.pk).update(data_key=key)
    dataset.refresh_from_db()
    return dataset


def package_for(project: Project, owner: Any, name: str = "churn") -> ModelPackage:
    group = ModelPackageGroup.objects.create(project=project, name=name, created_by=owner)
    metadata = read_metadata(archive())
    package = ModelPackage.objects.create(
        project=project,
        group=group,
        version=1,
        status=PackageStatus.COMPLETED,
        approval_status="Approved",
        source=PackageSource.UPLOAD,
        metadata=metadata,
        metrics=metadata.get("metrics") or {},
        created_by=owner,
    )
    key = f"model-packages/{package.pk}/model.tar.gz"
    copy = Path(tempfile.mkdtemp()) / "model.tar.gz"
    copy.write_bytes(archive().read_bytes())
    size = storage.put_file(key, copy, move=True)
    ModelPackage.objects.filter(pk=package.pk).update(artifact_key=key, artifact_size=size)
    package.refresh_from_db()
    return package


@pytest.fixture
def train_data(project: Project, owner: Any) -> Dataset:
    return table_dataset(project, owner, customers(), "customers")


@pytest.fixture
def package(project: Project, owner: Any) -> ModelPackage:
    return package_for(project, owner)


@pytest.fixture
def endpoint(project: Project, owner: Any, package: ModelPackage) -> Endpoint:
    return Endpoint.objects.create(
        project=project,
        name="churn",
        status=EndpointStatus.IN_SERVICE,
        config={
            "variants": [
                {"name": "A", "model_package": package.pk, "weight": 1.0, "instance_count": 1}
            ],
            "shadow": None,
            "data_capture": {"percent": 100.0},
        },
        generation=1,
        created_by=owner,
    )


def _csv(frame: pd.DataFrame) -> bytes:
    return frame[FEATURES].to_csv(header=False, index=False).encode()


def _answer(predicted: list[str], confidence: list[float]) -> bytes:
    rows = []
    for label, p in zip(predicted, confidence, strict=True):
        yes = p if label == "yes" else 1 - p
        rows.append({"predicted_label": label, "probability": p, "probabilities": [1 - yes, yes]})
    return json.dumps({"predictions": rows, "labels": CLASSES}).encode()


@pytest.fixture
def capture() -> Callable[..., list[str]]:
    """``capture(endpoint, frame, when=…, predicted=…, json_rows=…)`` writes one captured
    request per row of ``frame`` (CSV bodies, or JSON objects with ``json_rows``) as the
    recorder does; returns the event ids. Predictions default to the ``label`` column."""

    def write(
        endpoint: Endpoint,
        frame: pd.DataFrame,
        *,
        when: datetime | None = None,
        predicted: list[str] | None = None,
        confidence: list[float] | None = None,
        json_rows: list[dict[str, Any]] | None = None,
        variant: str = "A",
    ) -> list[str]:
        when = when or timezone.now() - timedelta(minutes=5)
        labels = predicted if predicted is not None else list(frame["label"])
        sure = confidence if confidence is not None else [0.9] * len(labels)
        lines, ids = [], []
        for i in range(len(frame)):
            event_id = new_event_id()
            ids.append(event_id)
            if json_rows is not None:
                body = json.dumps({"instances": [json_rows[i]]}).encode()
                kind = "application/json"
            else:
                body = _csv(frame.iloc[[i]])
                kind = "text/csv"
            lines.append(
                Event(
                    event_id=event_id,
                    time=when + timedelta(milliseconds=i),
                    endpoint=endpoint.name,
                    variant=variant,
                    status=200,
                    latency_ms=1.0,
                    input_type=kind,
                    input_data=body,
                    output_type="application/json",
                    output_data=_answer([labels[i]], [sure[i]]),
                ).line()
            )
        path = Path(tempfile.mkdtemp()) / "capture.jsonl"
        path.write_text("\n".join(lines) + "\n")
        storage.put_file(
            f"{partition_key(endpoint.name, variant, when)}/{file_name(when)}", path, move=True
        )
        return ids

    return write
