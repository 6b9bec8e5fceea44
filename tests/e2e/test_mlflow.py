"""MLflow's own client, unmodified, logs runs into the studio through its tracking API."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CLIENT = """
import mlflow
from mlflow.tracking import MlflowClient

mlflow.set_experiment("churn")
with mlflow.start_run(run_name="baseline") as run:
    mlflow.log_param("learning_rate", 0.1)
    mlflow.log_params({"depth": 6, "model": "gbm"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"auc": 0.91, "accuracy": 0.88})
    mlflow.set_tag("team", "growth")
    run_id = run.info.run_id

with mlflow.start_run(run_name="deeper"):
    mlflow.log_param("learning_rate", 0.05)
    mlflow.log_metric("auc", 0.93)

client = MlflowClient()
got = client.get_run(run_id)
assert got.info.status == "FINISHED", got.info.status
assert got.data.params == {"learning_rate": "0.1", "depth": "6", "model": "gbm"}
assert got.data.metrics["loss"] == 0.2 and got.data.tags["team"] == "growth"
history = client.get_metric_history(run_id, "loss")
assert [m.step for m in history] == [0, 1, 2, 3, 4]
best = mlflow.search_runs(
    experiment_names=["churn"], filter_string="metrics.auc > 0.92", output_format="list"
)
assert [r.info.run_name for r in best] == ["deeper"], [r.info.run_name for r in best]
ordered = mlflow.search_runs(
    experiment_names=["churn"], order_by=["metrics.auc DESC"], output_format="list"
)
assert [r.info.run_name for r in ordered] == ["deeper", "baseline"]
try:
    mlflow.start_run(run_id=run_id)
    mlflow.log_param("learning_rate", 0.2)  # a run's parameters do not change
except mlflow.exceptions.MlflowException as exc:
    assert "do not change" in str(exc), exc
else:
    raise AssertionError("a changed parameter was accepted")
finally:
    mlflow.end_run()
print("logged", run_id)
"""


def test_the_mlflow_client_logs_runs_into_the_studio(live):
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"{live.url}/projects/{live.project}",
        "MLFLOW_TRACKING_TOKEN": live.token,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    run_id = done.stdout.split("logged ", 1)[1].strip()

    # The same run through the studio's own API.
    runs = live.api("GET", f"/api/v1/runs/?project={live.project}").json()["results"]
    run = next(r for r in runs if r["uuid"] == run_id)
    assert run["name"] == "baseline" and run["status"] == "FINISHED"
    assert run["metrics"]["auc"]["value"] == 0.91
    series = live.api("GET", f"/api/v1/runs/{run['id']}/metrics/?key=loss").json()
    assert [p["step"] for p in series["points"]] == [0, 1, 2, 3, 4]
    experiment = live.api("GET", f"/api/v1/experiments/{run['experiment']}/").json()
    assert experiment["name"] == "churn"
