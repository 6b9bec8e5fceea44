"""Start a batch transform from a model's page: the form preselects the model, shows a
field's error in place, then the transform's page follows the job to its predictions."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def upload(studio, name: str, frame: pd.DataFrame) -> int:
    response = studio.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": studio.project, "name": name},
        files={"file": (f"{name}.csv", frame.to_csv(index=False).encode())},
    )
    assert response.status_code == 201, response.text
    studio.wait_job(response.json()["ingest_job"], lambda j: j["status"] == "Completed")
    return int(response.json()["id"])


def test_a_transform_started_from_a_models_page_ends_with_its_predictions(browser_page, studio):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": range(3_000), "a": rng.normal(size=3_000)})
    frame["b"] = rng.normal(size=3_000)
    frame["y"] = np.where(frame.a + frame.b > 0, "up", "down")
    train = upload(studio, "history", frame.drop(columns="id"))
    training = studio.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": studio.project,
            "name": "updown",
            "algorithm": "random-forest",
            "channels": {"train": train},
            "target": "y",
            "hyperparameters": {"num_trees": 10},
        },
    ).json()
    deadline = time.monotonic() + 120
    while studio.api("GET", f"/api/v1/jobs/{training['job']}/").json()["status"] != "Completed":
        assert time.monotonic() < deadline, "the training job did not complete"
        time.sleep(0.3)
    package = studio.api(
        "POST",
        "/api/v1/model-packages/",
        json={"project": studio.project, "group": "updown", "training_job": training["id"]},
    ).json()
    fresh = upload(studio, "today", frame.drop(columns="y"))

    page = browser_page
    page.goto("/login/")
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "e2e-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    page.goto(f"/models/packages/{package['id']}/")
    page.click("[data-testid=batch-transform]")
    page.wait_for_url(re.compile(r"/transform-jobs/new/\?model_package=\d+$"))
    assert page.input_value("#bt-package") == str(package["id"])
    page.fill("#bt-name", "today scores")
    page.select_option("#bt-dataset", str(fresh))
    page.check('[data-join="id"]')
    page.fill("#bt-instances", "99")
    page.click("[data-submit]")
    error = page.locator('[data-error-for="instance_count"] li')
    error.wait_for(timeout=10_000)
    assert error.inner_text() == "instance_count is a whole number from 1 to 16."

    page.fill("#bt-instances", "")
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/transform-jobs/\d+/$"))
    page.locator("[data-testid=output-dataset]").wait_for(timeout=60_000)
    assert page.locator("[data-status-badge]").inner_text() == "Completed"
    assert "3,000</strong> of 3,000 rows scored" in page.content()
    page.click("[data-testid=output-dataset]")
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    assert "today-predictions" in page.content()
