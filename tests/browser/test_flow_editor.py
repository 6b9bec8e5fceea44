"""Build a three-node flow in the editor, preview the last node and see its histograms."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def upload_ready(studio, name: str, text: str) -> dict:
    response = studio.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": studio.project, "name": name},
        files={"file": (f"{name}.csv", text.encode(), "text/csv")},
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    deadline = time.monotonic() + 60
    while dataset["status"] == "Pending" and time.monotonic() < deadline:
        time.sleep(0.25)
        dataset = studio.api("GET", f"/api/v1/datasets/{dataset['id']}/").json()
    assert dataset["status"] == "Ready", dataset
    return dataset


def login(page):
    page.goto("/login/")
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "e2e-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_a_scientist_builds_a_flow_and_previews_its_last_node(browser_page, studio, tmp_path):
    page = browser_page
    rows = ["day,store,sales,opened"] + [
        f"{d},{['north', 'south'][d % 2]},{100 + d * 3 % 17},2024-03-{1 + d % 28:02d} 09:30:00"
        for d in range(300)
    ]
    upload_ready(studio, "sales", "\n".join(rows) + "\n")
    login(page)

    page.goto("/flows/")
    page.fill("#flow-name", "Weekly sales")
    page.select_option("#flow-dataset", label="sales v1")
    page.click("[data-testid=new-flow] button[type=submit]")
    page.wait_for_url(re.compile(r"/flows/\d+/"))

    # The source is there; select it, then add two transforms after it from the palette.
    page.locator("[data-node='source-1']").click()
    page.fill("[data-palette-search]", "lag")
    page.locator("[data-add=lag_features]").click()
    page.locator("[data-param=columns] label", has_text="sales").locator("input").check()
    page.fill("[data-palette-search]", "rolling")
    page.locator("[data-add=rolling_window]").click()
    page.locator("[data-param=columns] label", has_text="sales_lag_1").locator("input").check()
    page.fill("[data-param=window] input", "7")
    page.locator("[data-param=window] input").dispatch_event("change")
    assert page.locator("[data-node]").count() == 3
    assert page.locator(".fe-edge[data-edge]").count() == 2

    # Undo removes the last edit, redo brings it back.
    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+Shift+z")

    page.locator("[data-node='rolling_window-1']").dblclick()
    table = page.locator("[data-drawer-body] table.fe-preview")
    table.wait_for(timeout=30_000)
    headers = page.locator("[data-drawer-body] thead th").all_inner_texts()
    assert any(h.startswith("sales_lag_1_rolling_mean_7") for h in headers)
    assert page.locator("[data-drawer-body] tbody tr").count() == 100
    # A mini-histogram under each numeric column's name.
    assert page.locator("[data-drawer-body] thead th svg.fe-mini rect").count() > 10
    assert "300 rows" in page.locator("[data-drawer-meta]").inner_text()
    # Timestamps read as a person writes them, not as ISO text with milliseconds.
    opened = next(i for i, h in enumerate(headers) if h.startswith("opened"))
    assert "datetime64" in headers[opened]
    first_row = page.locator("[data-drawer-body] tbody tr").first.locator("td")
    assert first_row.nth(opened).inner_text() == "2024-03-01 09:30:00"

    page.click("[data-action=save]")
    page.locator("[data-status]", has_text="Saved as version 2").wait_for(timeout=15_000)
    page.screenshot(path=str(tmp_path / "flow-editor.png"))

    # Previews can use a random sample instead of the first rows; the flow keeps the choice.
    page.click("[data-sample-label]")
    page.select_option("#fe-sample-mode", "random")
    page.fill("#fe-sample-rows", "120")
    page.click("[data-sample-form] button[type=submit]")
    page.locator("[data-drawer-meta]", has_text="120 rows").wait_for(timeout=15_000)
    assert "Random 120 rows" in page.locator("[data-sample-label]").inner_text()

    flow = studio.api("GET", "/api/v1/flows/").json()["results"][0]
    assert [n["type"] for n in flow["graph"]["nodes"]] == [
        "source",
        "lag_features",
        "rolling_window",
    ]
    assert flow["graph"]["nodes"][2]["params"]["window"] == 7
    assert flow["sample"]["mode"] == "random" and flow["version"] == 2


def test_an_error_is_shown_on_the_node_at_fault(browser_page, studio):
    page = browser_page
    upload_ready(studio, "tiny", "a,b\n1,x\n2,y\n")
    login(page)
    page.goto("/flows/")
    page.fill("#flow-name", "Broken")
    page.select_option("#flow-dataset", label="tiny v1")
    page.click("[data-testid=new-flow] button[type=submit]")
    page.wait_for_url(re.compile(r"/flows/\d+/"))
    page.locator("[data-node='source-1']").click()
    page.fill("[data-palette-search]", "group")
    page.locator("[data-add=group_by]").click()
    page.click("[data-action=save]")
    page.locator(".fe-node.has-error[data-node='group_by-1']").wait_for(timeout=15_000)
    assert "required" in page.locator(".fe-node-error").inner_text()


def test_analyses_and_insights_in_the_editor_add_a_recommended_fix(browser_page, studio, tmp_path):
    page = browser_page
    rows = ["id,age,plan,churned"] + [
        f"{i},{'' if i % 4 == 0 else 20 + i % 50},{['basic', 'pro'][i % 2]},{int(i % 7 == 0)}"
        for i in range(400)
    ]
    upload_ready(studio, "customers", "\n".join(rows) + "\n")
    login(page)
    page.goto("/flows/")
    page.fill("#flow-name", "Churn prep")
    page.select_option("#flow-dataset", label="customers v1")
    page.click("[data-testid=new-flow] button[type=submit]")
    page.wait_for_url(re.compile(r"/flows/\d+/"))

    page.locator("[data-node='source-1']").dblclick()
    page.locator("[data-drawer-body] table.fe-preview").wait_for(timeout=30_000)

    page.click("[data-tab=analyze]")
    page.select_option("[data-analysis-kind]", "histogram")
    page.locator("[data-analysis-params] [data-param=column] option[value=age]").wait_for(
        state="attached", timeout=15_000
    )
    page.select_option("[data-analysis-params] [data-param=column]", "age")
    page.click("[data-analysis-form] button[type=submit]")
    page.locator("[data-analysis-out] .js-plotly-plot").first.wait_for(timeout=30_000)

    page.click("[data-tab=insights]")
    page.locator("[data-insights-target] option[value=churned]").wait_for(
        state="attached", timeout=15_000
    )
    page.select_option("[data-insights-target]", "churned")
    page.click("[data-insights-form] button[type=submit]")
    finding = page.locator(".fe-finding[data-check=missing_values]")
    finding.wait_for(timeout=60_000)
    # Each column's details close the report: its distribution, missing share, distinct count.
    age = page.locator(".fe-column-details tr[data-column=age]")
    age.wait_for(timeout=30_000)
    assert age.locator("svg.fe-mini rect").count() == 20
    assert "25%" in age.inner_text()  # every fourth age is empty
    plan = page.locator(".fe-column-details tr[data-column=plan]").inner_text()
    assert "basic (200)" in plan or "pro (200)" in plan
    page.screenshot(path=str(tmp_path / "insights.png"))
    finding.locator("[data-recommend=fill_missing]").click()
    assert page.locator("[data-node='fill_missing-1']").count() == 1
    page.click("[data-action=save]")
    page.locator("[data-status]", has_text="Saved as version 2").wait_for(timeout=15_000)
