"""Start a training job from the form, see a field's error in place, then watch the job's
metric chart grow while it trains."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def points_drawn(page) -> int:
    return page.evaluate(
        """() => {
            const el = document.querySelector('[data-series-chart="logloss"]');
            return el && el.data ? el.data[0].x.length : 0;
        }"""
    )


def test_a_job_started_from_the_form_draws_its_curves_as_it_trains(browser_page, studio):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30_000, 20)), columns=[f"x{i}" for i in range(20)])
    frame["y"] = ((frame.x0 + frame.x1 * frame.x2 + rng.normal(size=len(frame))) > 0).map(
        {True: "yes", False: "no"}
    )
    response = studio.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": studio.project, "name": "signals"},
        files={"file": ("signals.csv", frame.to_csv(index=False).encode())},
    )
    assert response.status_code == 201, response.text
    studio.wait_job(response.json()["ingest_job"], lambda j: j["status"] == "Completed")
    dataset = response.json()["id"]

    page = browser_page
    page.goto("/login/")
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "e2e-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    page.goto("/training-jobs/new/")
    page.fill("#tj-name", "signals xgboost")
    page.select_option("#tj-algorithm", "xgboost")
    page.select_option("#tj-train", str(dataset))
    page.select_option("#tj-validation", str(dataset))
    page.select_option("#tj-target", "y")
    page.fill("#hp-eta", "fast")
    page.click("[data-submit]")
    error = page.locator('[data-error-for="hyperparameters.eta"] li')
    error.wait_for(timeout=10_000)
    assert error.inner_text() == "eta must be a number, not 'fast'."
    assert page.url.endswith("/training-jobs/new/")

    page.fill("#hp-eta", "0.05")
    page.fill("#hp-num_round", "900")
    page.fill("#hp-max_depth", "8")
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/training-jobs/\d+/$"), timeout=15_000)

    page.click("[data-tab=charts]")
    page.locator('[data-series-chart="logloss"] .main-svg').first.wait_for(timeout=60_000)
    first = points_drawn(page)
    assert 0 < first < 900, first  # drawn while the job trains, without a reload
    page.wait_for_function(
        """() => {
            const el = document.querySelector('[data-series-chart="logloss"]');
            return el && el.data && el.data[0].x.length === 900;
        }""",
        timeout=120_000,
    )
    page.locator(".badge:has-text('Completed')").first.wait_for(timeout=30_000)
    curves = page.evaluate(
        """() => document.querySelector('[data-series-chart="logloss"]').data.map(t => t.name)"""
    )
    assert curves == ["train", "validation"]

    # A rule's chip opens the Debugger tab at the plot of what the rule read.
    page.click('[data-rule="Overfit"]')
    chart = page.locator('[data-rule-chart="Overfit"]')
    chart.locator(".main-svg").first.wait_for(timeout=10_000)
    drawn = page.evaluate(
        """() => {
            const el = document.querySelector('[data-rule-chart="Overfit"]');
            return {n: el.data[0].x.length, shapes: el.layout.shapes.length};
        }"""
    )
    assert drawn == {"n": 500, "shapes": 1}  # the gap thinned to 500 rounds, the threshold
    status = page.locator('[data-rule-card="Overfit"] [data-rule-status]').inner_text()
    assert status in ("IssuesFound", "NoIssuesFound")


def test_a_script_uploaded_in_the_form_trains_and_reports_its_metric(
    browser_page, studio, tmp_path
):
    script = tmp_path / "train.py"
    script.write_text(
        "import argparse, os\n"
        "p = argparse.ArgumentParser(); p.add_argument('--rounds', type=int)\n"
        "args = p.parse_args()\n"
        "for i in range(args.rounds):\n"
        "    print(f'round {i}: acc={0.5 + i / 100:.2f}')\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.txt'), 'w').write('ok')\n"
    )
    page = browser_page
    page.goto("/login/")
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "e2e-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    page.goto("/training-jobs/new/")
    page.fill("#tj-name", "my script")
    page.select_option("#tj-algorithm", "script")
    assert page.locator("#tj-target").is_hidden()
    page.set_input_files("#tj-source", str(script))
    page.fill("#tj-hps", "rounds=5")
    page.fill("#tj-metrics", "train:acc acc=[0-9.]+")  # no group: refused in place
    page.click("[data-submit]")
    error = page.locator('[data-error-for="metric_definitions"] li')
    error.wait_for(timeout=10_000)
    assert "group" in error.inner_text()

    page.fill("#tj-metrics", "train:acc acc=([0-9.]+)")
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/training-jobs/\d+/$"), timeout=15_000)
    page.locator(".badge:has-text('Completed')").first.wait_for(timeout=60_000)
    page.reload()
    table = page.locator("[data-testid=final-metrics]")
    assert "acc" in table.inner_text() and "0.54" in table.inner_text()
    assert page.locator("[data-testid=download-model]").is_visible()
