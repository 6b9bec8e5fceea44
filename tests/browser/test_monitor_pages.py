"""Model Monitor's report and Clarify's report in Chromium, against a real studio: a scientist
reads a drifting data-quality execution (the drift table, a feature's baseline and current
distributions overlaid, another feature's after a click) and a Clarify report's charts.

The studio's objects are made as their jobs leave them (``seed_monitoring``, shared with the
page tests), in the studio's own database through ``manage.py shell``.

With SEXTANT_SCREENSHOTS=<folder> the tests also leave monitoring-execution.png,
monitoring-schedule.png, monitoring-baseline.png and clarify-report.png there (1280 px wide;
docs/images holds the ones the documentation shows).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bench.stack
from tests.live import LiveStudio

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SCREENSHOTS = os.environ.get("SEXTANT_SCREENSHOTS", "")
SEED = """
import json, os
from django.contrib.auth import get_user_model
from studio.models import Project
from tests.monitor.test_pages import seed_monitoring
user = get_user_model().objects.get(username="e2e")
ids = seed_monitoring(Project.objects.get(pk=int(os.environ["SEED_PROJECT"])), user)
print(json.dumps(ids))
"""
HIST = "[data-hist-chart]"


def shot(page: Any, name: str, *, full: bool = False) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=full)


@pytest.fixture(scope="module")
def seeded(studio: LiveStudio) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        env={**studio.env, "SEED_PROJECT": str(studio.project)},
        cwd=bench.stack.ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


@pytest.fixture
def scientist(chromium: Any, studio: LiveStudio, tmp_path: Path) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=studio.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/login/")
        page.fill("input[name=username]", "e2e")
        page.fill("input[name=password]", "e2e-password-123")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        page.script_errors = errors
        yield page
    finally:
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        context.close()


def chart(page: Any, selector: str) -> dict[str, Any]:
    """What plotly drew in ``selector``: its traces' names and x values, its axis title."""
    page.wait_for_function(
        "s => { const el = document.querySelector(s);"
        " return el && el.classList.contains('js-plotly-plot') && el.data; }",
        arg=selector,
    )
    return dict(
        page.evaluate(
            """s => { const el = document.querySelector(s);
            return { traces: el.data.length, names: el.data.map(t => t.name),
                     x: el.data.map(t => Array.from(t.x || []).map(String)),
                     title: ((el.layout.xaxis || {}).title || {}).text || "",
                     svg: el.querySelectorAll('.main-svg').length }; }""",
            selector,
        )
    )


def test_the_execution_report_overlays_a_features_distributions(
    scientist: Any, seeded: dict[str, int]
) -> None:
    page = scientist
    page.goto(f"/monitoring/executions/{seeded['execution']}/")
    table = page.locator("[data-testid=drift-table]")
    table.wait_for()
    rows = page.locator("tr[data-drift-row]")
    assert rows.count() == 5
    assert page.locator("[data-testid=violations] tbody tr").count() >= 2
    assert "columns drifted" in page.locator("[data-testid=drift-summary]").inner_text()

    # The first (most drifted) feature is shown at once: baseline and this window overlaid.
    first = rows.nth(0).get_attribute("data-drift-row")
    drawn = chart(page, HIST)
    assert drawn["traces"] == 2 and drawn["names"] == ["baseline", "this window"]
    assert drawn["title"] == first
    assert page.evaluate(f"document.querySelector('{HIST}').layout.barmode") == "overlay"
    # Its drift score across the schedule's four executions.
    trend = chart(page, "[data-feature-trend]")
    assert trend["traces"] == 1 and len(trend["x"][0]) == 4

    # Another feature: the chart follows the click.
    other = page.locator('tr[data-drift-row="city"]')
    other.click()
    page.wait_for_function(f"document.querySelector('{HIST}').layout.xaxis.title.text === 'city'")
    changed = chart(page, HIST)
    assert changed["traces"] == 2 and changed["title"] == "city"
    assert set(changed["x"][0]) >= {"Paris", "Lyon", "Nice"}
    assert changed["x"] != drawn["x"]
    assert "is-selected" in (other.get_attribute("class") or "")

    # Sorting by feature name reorders the rows and keeps the selection.
    page.click("th[data-sort=name]")
    names = [rows.nth(i).get_attribute("data-drift-row") for i in range(rows.count())]
    assert names == sorted(names)
    page.locator('tr[data-drift-row="income"]').click()
    page.wait_for_function(f"document.querySelector('{HIST}').layout.xaxis.title.text === 'income'")
    assert not page.script_errors, page.script_errors
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "monitoring-execution.png", full=True)


def test_the_schedule_and_baseline_pages_draw_their_charts(
    scientist: Any, seeded: dict[str, int]
) -> None:
    page = scientist
    page.goto(f"/monitoring/schedules/{seeded['data_schedule']}/")
    trend = chart(page, "[data-trend-chart]")
    assert "share_drifted" in trend["names"] and trend["traces"] >= 5
    assert page.locator("[data-testid=executions] tbody tr").count() == 5
    shot(page, "monitoring-schedule.png", full=True)

    page.goto(f"/monitoring/baselines/{seeded['baseline']}/")
    page.wait_for_function(
        "document.querySelectorAll('[data-mini-chart].js-plotly-plot').length === 5"
    )
    shot(page, "monitoring-baseline.png", full=True)
    page.click("[data-tab=model]")
    chart(page, "[data-importance-chart]")
    assert not page.script_errors, page.script_errors


def test_the_clarify_report_draws_its_charts(scientist: Any, seeded: dict[str, int]) -> None:
    page = scientist
    page.goto(f"/clarify/{seeded['clarify']}/")
    bias = chart(page, '[data-bias-chart="pre_training_bias"]')
    assert bias["traces"] == 1 and bias["names"] == ["CI"]
    groups = page.evaluate(
        "Array.from(document.querySelector('[data-bias-chart=\"pre_training_bias\"]').data[0].y)"
    )
    assert "sex = Female" in groups and any(g.startswith("⋂ sex & age") for g in groups)
    page.select_option('[data-metric-pick="pre_training_bias"]', "DPL")
    page.wait_for_function(
        "document.querySelector('[data-bias-chart=\"pre_training_bias\"]').data[0].name === 'DPL'"
    )
    shot(page, "clarify-report.png", full=True)

    page.click("[data-tab=post_training_bias]")
    chart(page, '[data-bias-chart="post_training_bias"]')
    page.click("[data-tab=explanations]")
    importance = chart(page, "[data-importance-chart]")
    assert importance["traces"] == 1
    dependence = chart(page, "[data-dependence-chart]")
    assert dependence["title"] == "tenure"
    page.select_option("[data-dependence-pick]", "plan")
    page.wait_for_function(
        "document.querySelector('[data-dependence-chart]').layout.xaxis.title.text === 'plan'"
    )
    waterfall = chart(page, "[data-waterfall-chart]")
    assert waterfall["traces"] == 1
    assert not page.script_errors, page.script_errors


def test_the_sidebar_and_the_home_page_flag_unread_alerts(
    scientist: Any, seeded: dict[str, int]
) -> None:
    page = scientist
    page.goto("/")
    badge = page.locator('a.nav-item[href="/monitoring/"] .nav-count')
    badge.wait_for()
    assert int(badge.inner_text()) >= 1
    card = page.locator('[data-testid="home-monitoring"]')
    assert card.is_visible()
    shot(page, "home-alerts.png")
    card.locator("a.row-title").first.click()
    page.wait_for_url(re.compile(r"/monitoring/executions/\d+/$"))
    assert page.script_errors == []
