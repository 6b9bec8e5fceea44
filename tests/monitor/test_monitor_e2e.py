"""Model Monitor for real: an endpoint served by model-server processes captures its
traffic, a baseline job profiles the training data, and a cron schedule fires under beat —
its execution finds the drift planted in the traffic, with no one pressing a button."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from tests.e2e.test_flows import ready_dataset
from tests.endpoints.test_serving_e2e import deploy, invoke, wait
from tests.live import LiveStudio, backends, live_studio

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

FINISHED = {"Completed", "Failed", "Stopped"}


@pytest.fixture(scope="module", params=backends())
def live(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[LiveStudio]:
    var = tmp_path_factory.mktemp(f"monitor-{request.param}")
    with live_studio(
        request.param, var, show_logs=lambda: bool(request.session.testsfailed), serving=True
    ) as studio:
        yield studio


def table(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"age": rng.normal(40 + shift, 8, rows).round(1), "income": rng.lognormal(10, 0.4, rows)}
    )
    frame["plan"] = rng.choice(["basic", "pro"], rows)
    frame["churn"] = np.where(frame["age"] + rng.normal(0, 5, rows) > 42, "yes", "no")
    return frame


def test_a_cron_schedule_fires_under_beat_and_finds_the_planted_drift(live: LiveStudio) -> None:
    train = table(1500, seed=1)
    dataset = ready_dataset(live, "customers", train.to_csv(index=False))
    created = live.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": live.project,
            "name": "churn",
            "algorithm": "xgboost",
            "channels": {"train": dataset["id"]},
            "target": "churn",
            "hyperparameters": {"num_round": 10},
        },
    ).json()
    done = wait(live, f"/api/v1/training-jobs/{created['id']}/", lambda t: t["status"] in FINISHED)
    assert done["status"] == "Completed", done["failure_reason"]
    package = live.api(
        "POST",
        "/api/v1/model-packages/",
        json={"project": live.project, "group": "churn", "training_job": created["id"]},
    ).json()
    live.api("POST", f"/api/v1/model-packages/{package['id']}/approve/", json={})
    endpoint = deploy(
        live,
        "churn-monitored",
        [{"name": "A", "model_package": package["id"]}],
        data_capture={"percent": 100},
    )
    baseline = live.api(
        "POST",
        "/api/v1/monitoring-baselines/",
        json={"project": live.project, "dataset": dataset["id"], "model_package": package["id"]},
    ).json()
    ready = wait(
        live,
        f"/api/v1/monitoring-baselines/{baseline['id']}/",
        lambda b: b["status"] in ("Completed", "Failed"),
    )
    assert ready["status"] == "Completed", ready["failure_reason"]

    # Older customers than the model was trained on: the age column drifts.
    shifted = table(300, seed=2, shift=15.0)
    body = shifted[["age", "income", "plan"]].to_csv(header=False, index=False)
    for start in range(0, 300, 30):
        chunk = "\n".join(body.splitlines()[start : start + 30]) + "\n"
        assert invoke(live, "churn-monitored", chunk).status_code == 200

    schedule = live.api(
        "POST",
        "/api/v1/monitoring-schedules/",
        json={
            "project": live.project,
            "endpoint": endpoint["id"],
            "baseline": baseline["id"],
            "monitor_type": "data_quality",
            "schedule": "* * * * *",
            "window_hours": 1,
        },
    )
    assert schedule.status_code == 201, schedule.text
    schedule_id = schedule.json()["id"]
    deadline = time.monotonic() + 150
    executions: list[dict] = []
    while time.monotonic() < deadline:
        executions = live.api(
            "GET", f"/api/v1/monitoring-executions/?schedule={schedule_id}"
        ).json()["results"]
        if executions and executions[-1]["status"] not in ("Pending", "InProgress"):
            break
        time.sleep(1)
    assert executions, "beat never fired the schedule"
    first = executions[-1]
    assert first["status"] == "CompletedWithViolations", first
    assert first["report"]["rows"] == 300
    drifted = {c["name"] for c in first["report"]["drift"]["columns"] if c["drifted"]}
    assert "age" in drifted and "plan" not in drifted
    assert any(
        v["check"] == "baseline_drift_check" and v["feature"] == "age" for v in first["violations"]
    )
    alerts = live.api("GET", f"/api/v1/monitoring-alerts/?project={live.project}").json()
    assert alerts["results"] and alerts["results"][0]["execution"] == first["id"]
