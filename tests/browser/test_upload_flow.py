"""Log in, upload a CSV, see its preview and a histogram, watch the job reach Completed."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def test_a_scientist_uploads_a_csv_and_sees_it_profiled(browser_page, studio, tmp_path):
    page = browser_page
    csv = tmp_path / "customers.csv"
    lines = ["id,age,plan,signup"] + [
        f"{i},{20 + i % 45},{['basic', 'pro', 'team'][i % 3]},2024-02-{1 + i % 28:02d}"
        for i in range(500)
    ]
    csv.write_text("\n".join(lines) + "\n")

    page.goto("/login/")
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "e2e-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    page.goto("/datasets/upload/")
    page.set_input_files("input[type=file]", str(csv))
    page.click("form[data-upload-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/datasets/\d+/"))

    # The page follows ingestion by itself and shows the preview once Ready.
    header = page.locator("[data-panel=preview] table th .col-name").first
    header.wait_for(timeout=60_000)
    names = page.locator("[data-panel=preview] table th .col-name").all_inner_texts()
    assert names[:4] == ["id", "age", "plan", "signup"]
    assert page.locator("[data-panel=preview] table tbody tr").count() == 100
    types = page.locator("[data-panel=preview] table th .col-type").all_inner_texts()
    assert types[:4] == ["int64", "int64", "string", "date32[day]"]

    # Column cards draw a plotly histogram once the profile job has completed.
    page.locator("[data-tab=columns]").click()
    page.locator(
        "[data-histogram] .js-plotly-plot, [data-histogram] .plot-container"
    ).first.wait_for(timeout=60_000)

    # The ingestion job's page reaches Completed.
    page.locator("[data-tab=ingestion]").click()
    page.locator("[data-panel=ingestion] a[href*='/jobs/']").first.click()
    page.wait_for_url(re.compile(r"/jobs/\d+/"))
    page.locator("[data-status=Completed], .badge:has-text('Completed')").first.wait_for(
        timeout=60_000
    )
    page.screenshot(path=str(tmp_path / "job.png"))


def test_a_running_job_page_updates_live(browser_page, studio):
    page = browser_page
    page.goto("/login/")
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "e2e-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    job = studio.submit("diagnostic.sleep", seconds=4)
    page.goto(f"/jobs/{job['id']}/")
    # Without a reload: the websocket brings the status, the progress and the log lines.
    page.locator("[data-status=Completed], .badge:has-text('Completed')").first.wait_for(
        timeout=30_000
    )
    assert "Job completed." in page.content()
