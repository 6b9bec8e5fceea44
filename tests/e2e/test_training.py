"""A training job run by a real worker: metrics per round while it trains, final metrics,
a model that predicts alone; and a long one stopped."""

from __future__ import annotations

import io
import tarfile
import time
from urllib.parse import urlsplit

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from tests.e2e.test_flows import ready_dataset
from training.engine import load

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FINISHED = {"Completed", "Failed", "Stopped"}


def wait_training(live, training_id: int, until, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = live.api("GET", f"/api/v1/training-jobs/{training_id}/").json()
        if until(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_a_worker_trains_xgboost_and_its_model_predicts_alone(live, tmp_path):
    frame = load_breast_cancer(as_frame=True).frame
    dataset = ready_dataset(live, "cancer", frame.to_csv(index=False))
    response = live.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": live.project,
            "name": "cancer",
            "algorithm": "xgboost",
            "channels": {"train": dataset["id"], "validation": dataset["id"]},
            "target": "target",
            "hyperparameters": {"num_round": 30, "eta": 0.3},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    done = wait_training(live, created["id"], lambda t: t["status"] in FINISHED)
    assert done["status"] == "Completed", done["failure_reason"]
    assert done["final_metrics"]["validation:auc"] > 0.99  # validated on its training rows

    series = live.api("GET", f"/api/v1/jobs/{created['job']}/metrics/").json()
    assert [p["step"] for p in series["train:logloss"]] == list(range(30))
    losses = [p["value"] for p in series["train:logloss"]]
    assert losses[-1] < losses[0]

    url = done["model_artifact"]["url"]
    assert url.startswith("http")
    download = live.api("GET", urlsplit(url).path)
    assert download.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(download.content)) as tar:
        assert "model.joblib" in tar.getnames()
    path = tmp_path / "model.tar.gz"
    path.write_bytes(download.content)
    predicted = load(path).predict(frame.drop(columns="target").head(50))
    truth = frame["target"].head(50).to_numpy()
    assert (predicted["predicted_label"].to_numpy() == truth).mean() > 0.95


def test_a_training_job_stopped_while_it_runs_ends_stopped(live):
    rows = 20_000
    frame = pd.DataFrame({f"x{i}": (pd.Series(range(rows)) * (i + 1)) % 97 for i in range(20)})
    frame["y"] = (frame["x0"] + frame["x3"]) % 2
    dataset = ready_dataset(live, "wide", frame.to_csv(index=False))
    created = live.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": live.project,
            "name": "long",
            "algorithm": "mlp",
            "channels": {"train": dataset["id"]},
            "target": "y",
            "hyperparameters": {"epochs": 100_000, "hidden_layer_sizes": "256,256"},
        },
    ).json()
    running = wait_training(live, created["id"], lambda t: t["status"] == "Running")
    assert running["status"] == "Running"
    time.sleep(1.0)  # inside the child process by now
    stop = live.api("POST", f"/api/v1/jobs/{created['job']}/stop/")
    assert stop.status_code == 200, stop.text
    done = wait_training(live, created["id"], lambda t: t["status"] in FINISHED, timeout=60)
    assert done["status"] == "Stopped"
    assert done["model_artifact"] is None


SCRIPT = """
import argparse, os, sys
import pandas as pd
p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int); args = p.parse_args()
assert "DATABASE_URL" not in os.environ and "SECRET_KEY" not in os.environ
assert "REDIS_URL" not in os.environ and "SEXTANT_VAR_DIR" not in os.environ
df = pd.read_parquet(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.parquet"))
for epoch in range(args.epochs):
    print(f"epoch {epoch}: val_acc={0.6 + epoch / 20:.2f}", file=sys.stderr)
open(os.path.join(os.environ["SM_MODEL_DIR"], "rows.txt"), "w").write(str(len(df)))
"""


def test_a_worker_runs_a_script_and_reads_its_metrics(live):
    dataset = ready_dataset(live, "small", "a,b\n" + "\n".join(f"{i},{i * 2}" for i in range(50)))
    response = live.api(
        "POST",
        "/api/v1/training-jobs/",
        data={
            "project": live.project,
            "name": "script",
            "algorithm": "script",
            "channels": f'{{"train": {dataset["id"]}}}',
            "hyperparameters": '{"epochs": 4}',
            "metric_definitions": '[{"name": "validation:acc", "regex": "val_acc=([0-9.]+)"}]',
        },
        files={"source": ("train.py", SCRIPT.encode())},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    done = wait_training(live, created["id"], lambda t: t["status"] in FINISHED)
    assert done["status"] == "Completed", done["failure_reason"]
    assert done["final_metrics"] == {"validation:acc": 0.75}
    series = live.api("GET", f"/api/v1/jobs/{created['job']}/metrics/").json()
    assert [p["value"] for p in series["validation:acc"]] == [0.6, 0.65, 0.7, 0.75]
    model = live.api("GET", urlsplit(done["model_artifact"]["url"]).path)
    with tarfile.open(fileobj=io.BytesIO(model.content)) as tar:
        assert tar.extractfile("rows.txt").read() == b"50"
