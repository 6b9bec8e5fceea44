"""The pages of Model Monitor and Clarify: the Monitoring section and its forms, a baseline,
a schedule and an execution's report, the Clarify list, form and report — each for a
member, a stranger (404) and nobody (the login page) — and the self-contained HTML report.

The objects are made with the ORM as their jobs leave them; their documents come from the
monitor's engines run on small synthetic tables (no job runs), so the pages read the very
shapes the jobs write. :func:`seed_monitoring` is shared with the browser test.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from endpoints.choices import EndpointStatus
from endpoints.models import Endpoint
from monitor.engine.bias import Facet, bias_report
from monitor.engine.checks import check_constraints, suggest_constraints
from monitor.engine.drift import compare
from monitor.engine.profile import profile_against, profile_table
from monitor.engine.quality import classification_metrics
from monitor.models import (
    ClarifyJob,
    ExecutionStatus,
    MonitoringAlert,
    MonitoringBaseline,
    MonitoringExecution,
    MonitoringSchedule,
)
from registry.models import ModelPackage, ModelPackageGroup, PackageSource, PackageStatus
from studio.choices import DatasetStatus, JobStatus
from studio.models import Dataset, Job, Project

pytestmark = pytest.mark.django_db

FEATURES = ["age", "income", "tenure", "city", "plan"]


def customers(rows: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A customers table; ``shift`` moves income up and the city mix towards Nice."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows),
            "income": rng.lognormal(10.3 + 0.6 * shift, 0.45, rows),
            "tenure": rng.gamma(2.0, 12.0, rows),
            "city": rng.choice(
                ["Paris", "Lyon", "Nice"],
                rows,
                p=[0.5 - 0.25 * shift, 0.3 - 0.15 * shift, 0.2 + 0.4 * shift],
            ),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.6, 0.3, 0.1]),
            "sex": rng.choice(["Female", "Male"], rows),
        }
    )
    score = frame["tenure"] / 24 + (frame["plan"] != "basic") * 0.8 - 0.9
    frame["churned"] = np.where(score + rng.normal(0, 0.6, rows) > 0, "yes", "no")
    return frame


def predictions(frame: pd.DataFrame, *, seed: int, noise: float) -> np.ndarray:
    """A model's answers: the label, flipped for a share ``noise`` of the rows."""
    rng = np.random.default_rng(seed)
    flip = rng.random(len(frame)) < noise
    truth = frame["churned"].to_numpy()
    return np.where(flip, np.where(truth == "yes", "no", "yes"), truth)


def _importance(weights: dict[str, float]) -> list[dict[str, Any]]:
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    return [{"feature": f, "mean_abs_shap": v} for f, v in ranked]


def explanations(frame: pd.DataFrame) -> dict[str, Any]:
    """SHAP explanations as the explain engine writes them (values made up, shape real)."""
    rng = np.random.default_rng(5)
    weights = {"tenure": 0.61, "plan": 0.42, "income": 0.17, "age": 0.08, "city": 0.05}
    rows = []
    for i in range(8):
        attributions = {f: float(rng.normal(0, w)) for f, w in weights.items()}
        rows.append(
            {
                "index": i,
                "prediction": -0.4 + sum(attributions.values()),
                "attributions": attributions,
            }
        )
    sample = frame.head(200)
    return {
        "method": "tree",
        "output": "log-odds of 'yes'",
        "classes": ["no", "yes"],
        "expected_value": -0.4,
        "features": FEATURES,
        "global_importance": _importance(weights),
        "rows": rows,
        "dependence": {
            "tenure": {
                "x": [float(v) for v in sample["tenure"]],
                "shap": [float(v / 24 - 1) for v in sample["tenure"]],
            },
            "plan": {
                "x": list(sample["plan"]),
                "shap": [0.5 if p != "basic" else -0.3 for p in sample["plan"]],
            },
        },
    }


def _schedule(project: Project, user: Any, endpoint: Endpoint, baseline: Any, kind: str, name: str):
    return MonitoringSchedule.objects.create(
        project=project,
        name=name,
        endpoint=endpoint,
        baseline=baseline,
        monitor_type=kind,
        schedule="hourly",
        cron="0 * * * *",
        window_hours=1.0,
        alert_emails=["ml-team@example.com"] if kind == "data_quality" else [],
        next_run_at=timezone.now() + timedelta(minutes=25),
        created_by=user,
    )


def _execution(schedule: MonitoringSchedule, hours_ago: float, **fields: Any):
    end = timezone.now() - timedelta(hours=hours_ago)
    execution = MonitoringExecution.objects.create(
        schedule=schedule,
        project_id=schedule.project_id,
        window_start=end - timedelta(hours=1),
        window_end=end,
        **fields,
    )
    MonitoringExecution.objects.filter(pk=execution.pk).update(created_at=end)
    return execution


def seed_monitoring(project: Project, user: Any) -> dict[str, int]:
    """A baseline with a model, four schedules of an endpoint with their executions (the
    data-quality one drifting more each hour), alerts and a Clarify job; returns their ids."""
    reference = customers(3000, seed=1)
    dataset = Dataset.objects.create(
        project=project,
        name="customers",
        format="csv",
        status=DatasetStatus.READY,
        num_rows=len(reference),
        data_key="datasets/customers/data.parquet",
        columns=[{"name": c, "dtype": str(reference[c].dtype)} for c in reference],
        created_by=user,
    )
    group = ModelPackageGroup.objects.create(project=project, name="churn", created_by=user)
    package = ModelPackage.objects.create(
        project=project,
        group=group,
        version=1,
        status=PackageStatus.COMPLETED,
        approval_status="Approved",
        source=PackageSource.UPLOAD,
        artifact_key="model-packages/churn/model.tar.gz",
        metadata={
            "problem_type": "binary_classification",
            "classes": ["no", "yes"],
            "input_schema": [{"name": f, "kind": "numeric"} for f in FEATURES],
        },
        created_by=user,
    )
    endpoint = Endpoint.objects.create(
        project=project,
        name=f"churn-{project.pk}",
        status=EndpointStatus.IN_SERVICE,
        config={"variants": [], "data_capture": {"percent": 100.0}},
        created_by=user,
    )

    statistics = profile_table(reference[FEATURES])
    constraints = suggest_constraints(statistics)
    predicted = predictions(reference, seed=2, noise=0.12)
    quality = classification_metrics(list(reference["churned"]), list(predicted))
    facets = [Facet("sex", ["Female"]), Facet("age", 40)]
    bias = bias_report(
        reference,
        label="churned",
        positive_label_values=["no"],
        facets=facets,
        predicted_label=predicted,
        stages=("post_training_bias",),
    )
    importance = explanations(reference)["global_importance"]
    baseline = MonitoringBaseline.objects.create(
        project=project,
        name="customers-v1",
        dataset=dataset,
        dataset_label="customers v1",
        model_package=package,
        label="churned",
        status="Completed",
        statistics=statistics,
        constraints=constraints,
        quality={"metrics": quality, "source": "dataset"},
        bias={
            "request": {
                "facets": [
                    {"name": "sex", "values_or_threshold": ["Female"]},
                    {"name": "age", "values_or_threshold": 40},
                ],
                "positive_label_values": ["no"],
            },
            "report": bias,
        },
        attributions={"global_importance": importance},
        created_by=user,
    )

    # Data quality: four hourly runs, each window further from the baseline.
    data = _schedule(project, user, endpoint, baseline, "data_quality", "churn data quality")
    executions = []
    for i, shift in enumerate([0.0, 0.25, 0.6, 1.0]):
        window = customers(600, seed=10 + i, shift=shift)[FEATURES].copy()
        if shift >= 1.0:
            window.loc[window.index[:90], "age"] = None  # a broken upstream join
        current = profile_against(statistics, window)
        drift = compare(statistics, current)
        violations = check_constraints(statistics, constraints, current, drift)
        document = drift.to_dict()
        scores = {"share_drifted": float(document["share_drifted"])}
        scores.update(
            {f"drift:{c['name']}": c["statistic"] for c in document["columns"] if c["statistic"]}
        )
        executions.append(
            _execution(
                data,
                3 - i,
                status=ExecutionStatus.COMPLETED_WITH_VIOLATIONS
                if violations
                else ExecutionStatus.COMPLETED,
                num_rows=len(window),
                violations=violations,
                scores=scores,
                report={
                    "monitor_type": "data_quality",
                    "rows": len(window),
                    "drift": document,
                    "statistics": current,
                },
            )
        )
    latest = executions[-1]
    assert latest.violations, "the shifted window must violate the baseline's constraints"
    for execution in executions:
        if execution.violations:
            MonitoringAlert.objects.create(
                project=project,
                schedule=data,
                execution=execution,
                num_violations=len(execution.violations),
                summary=f"{endpoint.name}: {len(execution.violations)} violations",
                read_at=None if execution is latest else timezone.now(),
            )
    empty = _execution(
        data,
        5,
        status=ExecutionStatus.COMPLETED,
        report={
            "monitor_type": "data_quality",
            "note": "No captured traffic in this window: is data capture on for the endpoint?",
        },
    )

    # Model quality against ground truth: accuracy fell from the baseline's.
    model = _schedule(project, user, endpoint, baseline, "model_quality", "churn model quality")
    window = customers(400, seed=30, shift=0.6)
    now = classification_metrics(
        list(window["churned"]), list(predictions(window, seed=31, noise=0.3))
    )
    quality_execution = _execution(
        model,
        1,
        status=ExecutionStatus.COMPLETED_WITH_VIOLATIONS,
        num_rows=400,
        violations=[
            {
                "feature": None,
                "check": "model_quality_check",
                "description": f"accuracy fell to {now['accuracy']:.3f} from "
                f"{quality['accuracy']:.3f} on the baseline (tolerance 0.05).",
                "value": now["accuracy"],
                "threshold": quality["accuracy"] - 0.05,
            }
        ],
        scores={"accuracy": now["accuracy"], "f1": now["f1"]},
        report={
            "monitor_type": "model_quality",
            "labeled_rows": 400,
            "metrics": now,
            "baseline_metrics": quality,
            "tolerance": 0.05,
        },
    )

    # Bias drift: the same facets on labeled traffic.
    fairness = _schedule(project, user, endpoint, baseline, "bias_drift", "churn bias drift")
    drifted = bias_report(
        window,
        label="churned",
        positive_label_values=["no"],
        facets=facets,
        predicted_label=predictions(window, seed=32, noise=0.3),
        stages=("post_training_bias",),
    )
    moved = []
    before = {
        (e["facet"], e["value_or_threshold"], m["name"]): m["value"]
        for e in bias["post_training_bias"]
        for m in e["metrics"]
    }
    for entry in drifted["post_training_bias"]:
        for metric in entry["metrics"]:
            key = (entry["facet"], entry["value_or_threshold"], metric["name"])
            value, old = metric["value"], before.get(key)
            if isinstance(value, float) and isinstance(old, float) and abs(value - old) > 0.1:
                moved.append(
                    {
                        "feature": entry["facet"],
                        "check": "bias_drift_check",
                        "description": f"{metric['name']} for {entry['facet']} = "
                        f"{entry['value_or_threshold']} moved from {old:.3f} on the baseline "
                        f"to {value:.3f} (more than 0.1).",
                        "value": value,
                        "threshold": 0.1,
                    }
                )
    bias_execution = _execution(
        fairness,
        1,
        status=ExecutionStatus.COMPLETED_WITH_VIOLATIONS if moved else ExecutionStatus.COMPLETED,
        num_rows=400,
        violations=moved,
        scores={},
        report={
            "monitor_type": "bias_drift",
            "labeled_rows": 400,
            "threshold": 0.1,
            "bias": drifted,
            "baseline_bias": bias,
        },
    )

    # Feature attribution: plan overtook tenure.
    shap = _schedule(
        project, user, endpoint, baseline, "feature_attribution_drift", "churn attributions"
    )
    current_importance = _importance(
        {"plan": 0.66, "income": 0.35, "tenure": 0.21, "age": 0.09, "city": 0.04}
    )
    attribution_execution = _execution(
        shap,
        1,
        status=ExecutionStatus.COMPLETED_WITH_VIOLATIONS,
        num_rows=400,
        violations=[
            {
                "feature": None,
                "check": "feature_attribution_drift_check",
                "description": "The features' ranking by SHAP importance moved: NDCG 0.842 "
                "against the baseline, below 0.9.",
                "value": 0.842,
                "threshold": 0.9,
            }
        ],
        scores={"ndcg": 0.842},
        report={
            "monitor_type": "feature_attribution_drift",
            "attribution": {
                "ndcg": 0.842,
                "threshold": 0.9,
                "drifted": True,
                "baseline_ranking": [r["feature"] for r in importance],
                "current_ranking": [r["feature"] for r in current_importance],
            },
            "current_importance": current_importance,
            "baseline_importance": importance,
        },
    )

    # Clarify: both bias stages and SHAP explanations of the model.
    job = Job.objects.create(
        project=project,
        kind="monitor.clarify",
        name="Clarify customers bias",
        owner=user,
        status=JobStatus.COMPLETED,
        queue="cpu",
    )
    clarify_report = bias_report(
        reference,
        label="churned",
        positive_label_values=["no"],
        facets=facets,
        predicted_label=predicted,
    )
    clarify = ClarifyJob.objects.create(
        project=project,
        job=job,
        name="customers bias",
        dataset=dataset,
        dataset_label="customers v1",
        label="churned",
        positive_label_values=["no"],
        facets=baseline.bias["request"]["facets"],
        model_package=package,
        methods=["pre_training_bias", "post_training_bias", "shap"],
        options={"rows": 1000, "background_k": 10},
        report={
            "label": "churned",
            "positive_label_values": ["no"],
            "facets": baseline.bias["request"]["facets"],
            "methods": ["pre_training_bias", "post_training_bias", "shap"],
            "dataset": {"id": dataset.pk, "name": "customers", "version": 1},
            "num_rows": clarify_report["num_rows"],
            "pre_training_bias": clarify_report["pre_training_bias"],
            "post_training_bias": clarify_report["post_training_bias"],
            "explanations": explanations(reference),
        },
        created_by=user,
    )
    return {
        "dataset": dataset.pk,
        "package": package.pk,
        "endpoint": endpoint.pk,
        "baseline": baseline.pk,
        "data_schedule": data.pk,
        "model_schedule": model.pk,
        "execution": latest.pk,
        "first_execution": executions[0].pk,
        "empty_execution": empty.pk,
        "quality_execution": quality_execution.pk,
        "bias_execution": bias_execution.pk,
        "attribution_execution": attribution_execution.pk,
        "clarify": clarify.pk,
    }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def seeded(project: Project, owner: Any) -> dict[str, int]:
    return seed_monitoring(project, owner)


def page(client: Client, user: Any, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def pages(ids: dict[str, int]) -> list[str]:
    return [
        reverse("monitoring-home"),
        reverse("monitoring-baseline-new"),
        reverse("monitoring-baseline-detail", args=[ids["baseline"]]),
        reverse("monitoring-schedule-new"),
        reverse("monitoring-schedule-detail", args=[ids["data_schedule"]]),
        reverse("monitoring-execution-detail", args=[ids["execution"]]),
        reverse("clarify-job-list"),
        reverse("clarify-job-new"),
        reverse("clarify-job-detail", args=[ids["clarify"]]),
    ]


# --------------------------------------------------------------------------- access


def test_every_page_renders_for_a_member(client: Client, member: Any, seeded: dict) -> None:
    for url in pages(seeded):
        html = page(client, member, url)
        assert "<h1>" in html, url


def test_a_stranger_gets_404_on_every_object_page(
    client: Client, outsider: Any, other_project: Project, seeded: dict
) -> None:
    client.force_login(outsider)
    for url in [
        reverse("monitoring-baseline-detail", args=[seeded["baseline"]]),
        reverse("monitoring-schedule-detail", args=[seeded["data_schedule"]]),
        reverse("monitoring-execution-detail", args=[seeded["execution"]]),
        reverse("clarify-job-detail", args=[seeded["clarify"]]),
    ]:
        assert client.get(url).status_code == 404, url
    # The section's lists show the stranger's own project: nothing of this one.
    html = client.get(reverse("monitoring-home")).content.decode()
    assert "churn data quality" not in html and "No monitoring schedules yet" in html
    assert "customers bias" not in client.get(reverse("clarify-job-list")).content.decode()


def test_nobody_is_sent_to_the_login_page(client: Client, seeded: dict) -> None:
    for url in pages(seeded):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_the_sidebar_links_monitoring_and_clarify(client: Client, member: Any, project) -> None:
    html = page(client, member, reverse("home"))
    assert f'href="{reverse("monitoring-home")}"' in html
    assert f'href="{reverse("clarify-job-list")}"' in html
    coming = re.findall(r'<span class="nav-item is-coming"[^>]*>(.*?)</span>\s*</span>', html, re.S)
    labels = [re.sub(r"<[^>]+>", " ", item).split()[0] for item in coming]
    assert "Monitoring" not in labels and "Clarify" not in labels
    current = page(client, member, reverse("clarify-job-list"))
    assert re.search(r'<a class="nav-item is-current" href="/clarify/"', current)


# --------------------------------------------------------------------------- monitoring home


def test_the_section_lists_schedules_baselines_and_alerts(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(client, member, reverse("monitoring-home"))
    schedule = reverse("monitoring-schedule-detail", args=[seeded["data_schedule"]])
    assert f'href="{schedule}"' in html and "churn data quality" in html
    assert f'href="{reverse("endpoint-detail", args=[seeded["endpoint"]])}"' in html
    assert 'title="cron (UTC): 0 * * * *"' in html and ">hourly<" in html
    assert 'data-monitor-status="CompletedWithViolations"' in html and "violations</span>" in html
    assert 'data-monitor-status="Scheduled"' in html
    assert f'href="{reverse("monitoring-baseline-detail", args=[seeded["baseline"]])}"' in html
    assert "customers-v1" in html
    # One alert is unread: bold, counted on the tab, and read with one click.
    assert html.count('class="is-unread"') == 1
    assert 'data-testid="unread-alerts">1 unread' in html
    assert reverse("api-monitoring-alert-read") in html and "Mark all read" in html


def test_an_empty_section_says_to_make_a_baseline_first(
    client: Client, member: Any, project: Project
) -> None:
    html = page(client, member, reverse("monitoring-home"))
    assert "No monitoring schedules yet" in html and "No baselines yet" in html
    assert f'href="{reverse("monitoring-baseline-new")}"' in html
    assert f'class="btn btn-primary" href="{reverse("monitoring-schedule-new")}"' not in html


def test_schedules_sort_by_name(client: Client, member: Any, seeded: dict) -> None:
    html = page(client, member, reverse("monitoring-home") + "?sort=name")
    names = re.findall(r'class="row-title" href="/monitoring/schedules/\d+/">([^<]+)<', html)
    assert names == sorted(names) and len(names) == 4


def test_alerts_are_marked_read_through_the_api(
    client: Client, member: Any, seeded: dict, project: Project
) -> None:
    client.force_login(member)
    response = client.post(
        reverse("api-monitoring-alert-read"),
        {"project": project.pk},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json() == {"marked": 1}
    html = page(client, member, reverse("monitoring-home"))
    assert 'class="is-unread"' not in html and "Mark all read" not in html


# --------------------------------------------------------------------------- baselines


def test_the_baseline_page_shows_statistics_constraints_and_the_model(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(client, member, reverse("monitoring-baseline-detail", args=[seeded["baseline"]]))
    for name in FEATURES:
        assert f'<strong class="mono">{name}</strong>' in html
    assert ">Integral<" in html and ">Fractional<" in html and ">String<" in html
    assert 'data-mini-chart="0"' in html and 'id="baseline-charts"' in html
    # Constraints: the document to edit, and its checks as a table.
    assert 'data-testid="constraints"' in html and "&quot;monitoring_config&quot;" in html
    assert "baseline_drift_check" in html and "value_range_check" in html
    assert reverse("api-monitoring-baseline-detail", args=[seeded["baseline"]]) in html
    # The model's quality, bias and importance.
    assert 'data-testid="baseline-quality"' in html and ">accuracy<" in html
    assert 'data-testid="baseline-bias"' in html and "DPPL" in html
    assert 'id="baseline-importance"' in html and "tenure" in html
    assert f'href="{reverse("dataset-detail", args=[seeded["dataset"]])}"' in html
    assert f'href="{reverse("model-package-detail", args=[seeded["package"]])}"' in html


def test_a_running_baseline_links_its_job_and_polls(
    client: Client, member: Any, project: Project, owner: Any
) -> None:
    job = Job.objects.create(project=project, kind="monitor.baseline", owner=owner)
    baseline = MonitoringBaseline.objects.create(
        project=project, name="pending", dataset_label="customers v1", status="InProgress", job=job
    )
    html = page(client, member, reverse("monitoring-baseline-detail", args=[baseline.pk]))
    assert 'data-testid="baseline-running"' in html and 'data-poll="1"' in html
    assert f'href="{reverse("job-detail", args=[job.pk])}"' in html
    assert 'data-tab="statistics"' not in html


def test_the_baseline_form_offers_ready_tables_and_completed_models(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(client, member, reverse("monitoring-baseline-new"))
    assert 'id="baseline-config"' in html and "customers v1" in html and "churn v1" in html
    assert reverse("api-monitoring-baseline-list") in html
    assert 'data-error-for="positive_label_values"' in html and "As a request" in html


# --------------------------------------------------------------------------- schedules


def test_the_schedule_form_preselects_the_endpoint_and_knows_what_a_baseline_serves(
    client: Client, member: Any, seeded: dict
) -> None:
    url = reverse("monitoring-schedule-new") + f"?endpoint={seeded['endpoint']}"
    html = page(client, member, url)
    assert f'"selected": {{"endpoint": {seeded["endpoint"]}, "baseline": null}}' in html
    assert '"model_quality": true' in html and '"bias_drift": true' in html
    assert "SEXTANT_WEBHOOK_ALLOWLIST" in html


def test_the_endpoint_page_links_to_a_new_schedule_for_it(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(client, member, reverse("endpoint-detail", args=[seeded["endpoint"]]))
    wanted = reverse("monitoring-schedule-new") + f"?endpoint={seeded['endpoint']}"
    assert f'href="{wanted}"' in html and ">Monitor</a>" in html


def test_the_schedule_page_has_its_actions_trend_and_history(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(
        client, member, reverse("monitoring-schedule-detail", args=[seeded["data_schedule"]])
    )
    assert 'data-testid="run-now"' in html and 'data-testid="stop"' in html
    assert 'data-testid="delete"' in html
    assert reverse("api-monitoring-schedule-run-now", args=[seeded["data_schedule"]]) in html
    assert 'data-testid="trend-chart"' in html and '"share_drifted"' in html
    assert '"drift:income"' in html
    execution = reverse("monitoring-execution-detail", args=[seeded["execution"]])
    assert f'href="{execution}"' in html
    assert html.count('href="/monitoring/executions/') == 5


def test_a_viewer_sees_no_schedule_actions(client: Client, viewer: Any, seeded: dict) -> None:
    html = page(
        client, viewer, reverse("monitoring-schedule-detail", args=[seeded["data_schedule"]])
    )
    assert 'data-testid="run-now"' not in html and 'data-testid="delete"' not in html


def test_a_long_history_is_paginated(
    client: Client, member: Any, seeded: dict, project: Project
) -> None:
    schedule = MonitoringSchedule.objects.get(pk=seeded["model_schedule"])
    for i in range(55):
        _execution(schedule, 10 + i, status=ExecutionStatus.COMPLETED)
    html = page(client, member, reverse("monitoring-schedule-detail", args=[schedule.pk]))
    assert "1–50 of 56" in html and "?page=2" in html


# --------------------------------------------------------------------------- executions


def test_the_data_quality_report_lists_violations_and_drift_per_feature(
    client: Client, member: Any, seeded: dict
) -> None:
    execution = MonitoringExecution.objects.get(pk=seeded["execution"])
    html = page(client, member, reverse("monitoring-execution-detail", args=[execution.pk]))
    assert f"{len(execution.violations)} violation" in html
    for violation in execution.violations:
        assert violation["check"] in html
    assert "completeness_check" in html and "baseline_drift_check" in html
    drift = execution.report["drift"]
    assert f"{drift['num_drifted']} of {drift['num_columns']} columns drifted" in html
    for name in FEATURES:
        assert f'data-drift-row="{name}"' in html
    # Drifted columns come first, and the histograms travel with the page.
    rows = re.findall(r'data-drift-row="([^"]+)"[^>]*data-drifted="(\d)"', html)
    flags = [flag for _, flag in rows]
    assert flags == sorted(flags, reverse=True) and flags[0] == "1"
    assert 'id="execution-charts"' in html and '"histogram"' in html
    assert 'data-testid="label-rows"' in html and 'data-testid="retrain"' in html
    assert reverse("api-monitoring-execution-label", args=[execution.pk]) in html
    assert reverse("api-monitoring-execution-retrain", args=[execution.pk]) in html
    assert 'data-testid="download-json"' in html
    assert reverse("api-monitoring-execution-detail", args=[execution.pk]) in html


def test_a_report_note_is_shown(client: Client, member: Any, seeded: dict) -> None:
    html = page(
        client, member, reverse("monitoring-execution-detail", args=[seeded["empty_execution"]])
    )
    assert 'data-testid="report-note"' in html and "No captured traffic in this window" in html


def test_the_model_quality_report_compares_with_the_baseline(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(
        client, member, reverse("monitoring-execution-detail", args=[seeded["quality_execution"]])
    )
    assert 'data-testid="quality-table"' in html
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert f'<td class="mono">{metric}</td>' in html
    assert 'class="num change-worse"' in html  # accuracy fell
    assert 'data-testid="confusion-chart"' in html and '"confusion"' in html
    assert "accuracy fell to" in html


def test_an_estimated_quality_report_says_so(client: Client, member: Any, seeded: dict) -> None:
    schedule = MonitoringSchedule.objects.get(pk=seeded["model_schedule"])
    metrics = {"problem": "binary", "accuracy": 0.81, "f1": 0.7, "estimated": True}
    execution = _execution(
        schedule,
        0.5,
        status=ExecutionStatus.COMPLETED,
        report={
            "monitor_type": "model_quality",
            "labeled_rows": 0,
            "metrics": metrics,
            "baseline_metrics": {"accuracy": 0.88, "f1": 0.8},
            "tolerance": 0.05,
            "note": "No ground truth has arrived for these predictions: the metrics are "
            "estimated from the model's confidence (CBPE).",
        },
    )
    html = page(client, member, reverse("monitoring-execution-detail", args=[execution.pk]))
    assert "<strong>Estimated.</strong>" in html and "CBPE" in html
    assert "No confusion matrix for this model." in html


def test_the_bias_drift_report_tables_each_group_against_the_baseline(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(
        client, member, reverse("monitoring-execution-detail", args=[seeded["bias_execution"]])
    )
    assert 'data-testid="bias-table"' in html
    assert ">Female<" in html and "&gt;40" in html
    for metric in ("DPPL", "DI", "DCAcc", "RD"):
        assert f">{metric}</span>" in html


def test_the_attribution_report_compares_importances(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(
        client,
        member,
        reverse("monitoring-execution-detail", args=[seeded["attribution_execution"]]),
    )
    assert "NDCG 0.842" in html and "the features' ranking drifted" in html
    assert 'data-testid="importance-chart"' in html and '"baseline_importance"' in html


def test_a_running_execution_polls_and_hides_the_report(
    client: Client, member: Any, seeded: dict
) -> None:
    schedule = MonitoringSchedule.objects.get(pk=seeded["data_schedule"])
    execution = _execution(schedule, 0, status=ExecutionStatus.IN_PROGRESS)
    html = page(client, member, reverse("monitoring-execution-detail", args=[execution.pk]))
    assert 'data-poll="2000"' in html and 'data-testid="execution-running"' in html
    assert 'data-monitor-status="InProgress"' in html and "In progress" in html
    assert 'data-testid="violations"' not in html


# --------------------------------------------------------------------------- clarify


def test_the_clarify_list_links_each_job(client: Client, member: Any, seeded: dict) -> None:
    html = page(client, member, reverse("clarify-job-list"))
    assert f'href="{reverse("clarify-job-detail", args=[seeded["clarify"]])}"' in html
    assert "customers bias" in html and "Post-training bias" in html and "SHAP" in html
    assert 'class="badge badge-completed"' in html
    assert f'href="{reverse("clarify-job-new")}"' in html


def test_an_empty_clarify_list_says_what_to_do(
    client: Client, member: Any, project: Project
) -> None:
    html = page(client, member, reverse("clarify-job-list"))
    assert "No Clarify jobs yet" in html and f'href="{reverse("dataset-upload")}"' in html


def test_the_clarify_form_lists_methods_and_datasets(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(client, member, reverse("clarify-job-new") + f"?dataset={seeded['dataset']}")
    assert 'id="clarify-config"' in html and "pre_training_bias" in html
    assert f'"dataset": {seeded["dataset"]}' in html
    assert reverse("api-clarify-job-list") in html


def test_the_clarify_report_page_shows_each_group_and_the_explanations(
    client: Client, member: Any, seeded: dict
) -> None:
    html = page(client, member, reverse("clarify-job-detail", args=[seeded["clarify"]]))
    assert 'data-tab="pre_training_bias"' in html and 'data-tab="post_training_bias"' in html
    assert 'data-tab="explanations"' in html
    assert 'title="Class Imbalance (CI)">CI</span>' in html
    assert 'title="Disparate Impact (DI)">DI</span>' in html
    assert "sex &amp; age" in html and ">intersection<" in html
    assert "no group variable was given" in html  # CDDL has no value, and says why
    for chart in ("importance-chart", "dependence-chart", "waterfall-chart"):
        assert f'data-testid="{chart}"' in html
    url = reverse("api-clarify-job-download", args=[seeded["clarify"]])
    assert f'href="{url}?file=html"' in html and f'href="{url}?file=json"' in html


def test_the_html_report_is_self_contained(client: Client, member: Any, seeded: dict) -> None:
    client.force_login(member)
    url = reverse("api-clarify-job-download", args=[seeded["clarify"]])
    response = client.get(url + "?file=html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for metric in ("Class Imbalance (CI)", "DPPL", "Disparate Impact (DI)", "CDDL"):
        assert metric in html
    assert "customers bias" in html and "Global importance" in html and "tenure" in html
    assert "sex &amp; age" in html and "intersection" in html
    # plotly.js is inlined once; nothing is fetched from anywhere.
    sources = re.findall(r"<script[^>]*\bsrc=", html)
    links = re.findall(r"<link[^>]*href=\"https?://", html)
    assert sources == [] and links == []
    assert html.count("* plotly.js v") == 1 and len(html) > 3_000_000
    assert html.count("Plotly.newPlot(") >= 4
