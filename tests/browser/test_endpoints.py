"""A scientist deploys an approved model from its page and watches live traffic on the
endpoint's dashboard, tries the test panel, then deletes the endpoint — in Chromium, against
a real studio with its model host."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from bench.loadgen import run_load
from tests.e2e.test_flows import ready_dataset
from tests.live import LiveStudio, live_studio

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(300)]

FEATURES = ["tenure", "charges", "calls", "logins"]


@pytest.fixture(scope="module")
def studio(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStudio]:
    var = tmp_path_factory.mktemp("browser-serving")
    with live_studio(
        "embedded", var, show_logs=lambda: bool(request.session.testsfailed), serving=True
    ) as live:
        yield live


def wait(live: LiveStudio, path: str, until: Any, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = live.api("GET", path).json()
        if until(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def approved_package(live: LiveStudio) -> int:
    x, y = make_classification(400, len(FEATURES), n_informative=2, n_redundant=0, random_state=5)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["churned"] = np.where(y == 1, "yes", "no")
    dataset = ready_dataset(live, "customers", frame.to_csv(index=False))
    job = live.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": live.project,
            "name": "churn",
            "algorithm": "xgboost",
            "channels": {"train": dataset["id"]},
            "target": "churned",
            "hyperparameters": {"num_round": 10},
        },
    ).json()
    done = wait(
        live,
        f"/api/v1/training-jobs/{job['id']}/",
        lambda t: t["status"] in ("Completed", "Failed"),
    )
    assert done["status"] == "Completed", done["failure_reason"]
    package = live.api(
        "POST",
        "/api/v1/model-packages/",
        json={"project": live.project, "group": "churn", "training_job": job["id"]},
    ).json()
    approved = live.api("POST", f"/api/v1/model-packages/{package['id']}/approve/", json={})
    assert approved.status_code == 200
    return int(package["id"])


def test_deploy_from_the_model_page_and_watch_live_traffic(
    chromium: Any, studio: LiveStudio, tmp_path: Path
) -> None:
    package = approved_package(studio)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=studio.url)
    page = context.new_page()
    try:
        page.goto("/login/")
        page.fill("input[name=username]", "e2e")
        page.fill("input[name=password]", "e2e-password-123")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))

        page.goto(f"/models/packages/{package}/")
        page.click("[data-testid=deploy]")
        page.wait_for_url(re.compile(r"/endpoints/new/"))
        assert page.locator("[data-package]").input_value() == str(package)
        page.fill("#ep-name", "has spaces")
        page.click("[data-submit]")
        error = page.locator('[data-error-for="name"] li')
        error.wait_for()
        assert "letters, digits and hyphens" in error.inner_text()

        page.fill("#ep-name", "churn-live")
        page.fill("#ep-capture", "50")
        page.click("[data-submit]")
        page.wait_for_url(re.compile(r"/endpoints/\d+/$"))
        page.locator(".badge-inservice").first.wait_for(timeout=60_000)

        stop = threading.Event()
        body = b"0.1,0.2,0.3,0.4\n"
        head = {"Content-Type": "text/csv", "Authorization": f"Token {studio.token}"}

        def traffic() -> None:
            asyncio.run(
                run_load(
                    f"{studio.url}/invocations/churn-live",
                    lambda i: (body, head),
                    concurrency=2,
                    until=stop.is_set,
                    keep_body=False,
                )
            )

        thread = threading.Thread(target=traffic)
        thread.start()
        try:
            page.wait_for_function(
                "() => { const t = document.querySelector('[data-kpi=\"rate\"]').textContent;"
                " return t !== '—' && parseFloat(t.replace(/,/g, '')) > 0; }",
                timeout=30_000,
            )
            rate = page.locator('[data-chart="rate"] .scatterlayer .trace')
            rate.first.wait_for()
            assert page.locator('[data-chart="split"] .pielayer').count() == 1
            page.wait_for_function(
                "() => document.querySelector('[data-share=\"primary\"]').textContent.includes('%')"
            )
            assert page.locator('[data-share="primary"]').inner_text() == "100%"
            assert page.locator('[data-kpi="p50"]').inner_text().endswith("ms")
        finally:
            stop.set()
            thread.join()

        page.click("[data-invoke-send]")
        result = page.locator("[data-invoke-result]")
        result.locator(".badge").wait_for()
        assert "200" in result.inner_text() and "primary" in result.inner_text()
        page.select_option("[data-invoke-type]", "application/json")
        page.click("[data-invoke-send]")
        page.wait_for_function(
            "() => document.querySelector('[data-invoke-result]').textContent"
            ".includes('predictions')"
        )
        assert "predicted_label" in result.inner_text()
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-delete-endpoint]")
        page.wait_for_url(re.compile(r"/endpoints/$"))
        assert "No endpoints yet" in page.content()
    finally:
        context.close()
