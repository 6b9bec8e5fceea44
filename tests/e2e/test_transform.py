"""A batch transform run by a real worker: a model trained and registered through the API
scores a dataset of several row groups on two instances, and the predictions dataset it
makes equals the model's own predictions, row for row, in order."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.e2e.test_flows import ready_dataset
from training.engine import load

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FINISHED = {"Completed", "Failed", "Stopped"}


def customers(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"id": np.arange(rows), "x": rng.normal(size=rows), "y": rng.normal(size=rows)}
    )
    frame["label"] = np.where(frame["x"] - frame["y"] > 0, "yes", "no")
    return frame


def wait(live, path: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = live.api("GET", path).json()
        if got["status"] in FINISHED or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_a_worker_scores_a_dataset_on_two_instances_in_order(live, tmp_path):
    train = ready_dataset(live, "labelled", customers(2_000, 0).to_csv(index=False))
    created = live.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": live.project,
            "name": "labels",
            "algorithm": "xgboost",
            "channels": {"train": train["id"]},
            "target": "label",
            "hyperparameters": {"num_round": 10},
        },
    ).json()
    trained = wait(live, f"/api/v1/training-jobs/{created['id']}/")
    assert trained["status"] == "Completed", trained["failure_reason"]
    package = live.api(
        "POST",
        "/api/v1/model-packages/",
        json={"project": live.project, "group": "labels", "training_job": created["id"]},
    ).json()
    assert package["status"] == "Completed", package

    # Ingestion writes row groups of 65,536 rows and more: 150,000 rows make two or three.
    frame = customers(150_000, 1).drop(columns="label")
    scored = ready_dataset(live, "to score", frame.to_csv(index=False))
    response = live.api(
        "POST",
        "/api/v1/transform-jobs/",
        json={
            "project": live.project,
            "name": "scores",
            "model_package": package["id"],
            "dataset": scored["id"],
            "join_input": ["id"],
            "batch_rows": 20_000,
            "instance_count": 2,
        },
    )
    assert response.status_code == 201, response.text
    done = wait(live, f"/api/v1/transform-jobs/{response.json()['id']}/")
    assert done["status"] == "Completed", done["failure_reason"]
    assert done["rows_done"] == done["rows_total"] == 150_000
    output = done["output_dataset"]
    assert output["name"] == "to score-predictions" and output["num_rows"] == 150_000
    logs = live.api("GET", f"/api/v1/jobs/{done['job']}/logs/").json()
    assert any("on 2 instances" in line["message"] for line in logs)

    download = live.api("GET", f"/api/v1/datasets/{output['id']}/download/?file=parquet")
    assert download.status_code == 200
    got = pq.read_table(io.BytesIO(download.content)).to_pandas()
    assert got["id"].tolist() == frame["id"].tolist()
    artifact = live.api("GET", f"/api/v1/training-jobs/{created['id']}/model/")
    (tmp_path / "model.tar.gz").write_bytes(artifact.content)
    expected = load(tmp_path / "model.tar.gz").predict(frame)
    assert got["predicted_label"].tolist() == expected["predicted_label"].tolist()
    assert np.allclose(got["probability_yes"], expected["probability_yes"])
