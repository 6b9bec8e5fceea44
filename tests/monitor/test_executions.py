"""Monitoring executions over crafted captured traffic: each violation type, model quality
from uploaded ground truth (and estimated without it), alerts by e-mail and webhook, and the
loop back into labeling and training."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core import mail
from django.utils import timezone

from monitor import services
from monitor.ground_truth import ground_truth_frame
from monitor.models import (
    MonitoringAlert,
    MonitoringBaseline,
    MonitoringExecution,
    MonitoringSchedule,
)
from tests.monitor.conftest import customers
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def model_baseline(
    member: Any, project: Any, train_data: Any, package: Any, on_commit: Any, **more: Any
) -> MonitoringBaseline:
    """A Completed baseline of the training data with the model and its label."""
    with on_commit(execute=True):
        created = services.monitoring_baseline_create(
            project=project,
            user=member,
            dataset=train_data.pk,
            model_package=package.pk,
            label="label",
            **more,
        )
    created.refresh_from_db()
    assert created.status == "Completed", created.failure_reason
    return created


@pytest.fixture
def baseline(
    member: Any, project: Any, train_data: Any, package: Any, on_commit: Any
) -> MonitoringBaseline:
    return model_baseline(member, project, train_data, package, on_commit)


def run(api: Any, user: Any, on_commit: Any, schedule: Any) -> dict[str, Any]:
    with on_commit(execute=True):
        started = api(user).post(f"/api/v1/monitoring-schedules/{schedule.pk}/run-now/")
    assert started.status_code == 202, started.content
    execution = api(user).get(f"/api/v1/monitoring-executions/{started.json()['execution']}/")
    body: dict[str, Any] = execution.json()
    assert body["status"] in ("Completed", "CompletedWithViolations"), body["failure_reason"]
    return body


def schedule_of(
    member: Any, project: Any, endpoint: Any, baseline: Any, kind: str, **more: Any
) -> Any:
    return services.monitoring_schedule_create(
        project=project,
        user=member,
        endpoint=endpoint.pk,
        baseline=baseline.pk,
        monitor_type=kind,
        schedule="hourly",
        **more,
    )


def checks(execution: dict[str, Any]) -> set[str]:
    return {v["check"] for v in execution["violations"]}


def test_traffic_like_the_baseline_has_no_violations(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    capture(endpoint, customers(300, seed=99))
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality")
    execution = run(api, member, on_commit, schedule)
    assert execution["status"] == "Completed", execution["violations"]
    assert execution["num_rows"] == 300
    drift = {c["name"]: c for c in execution["report"]["drift"]["columns"]}
    assert set(drift) == {"x", "y", "city"}
    assert not any(c["drifted"] for c in drift.values())
    assert execution["scores"]["share_drifted"] == 0.0


def crafted(kind: str) -> tuple[pd.DataFrame, list[dict[str, Any]] | None]:
    """Traffic that breaks one constraint, as rows (CSV) or JSON-object instances."""
    frame = customers(300, seed=5)
    rows = [{"x": float(r.x), "y": float(r.y), "city": r.city} for r in frame.itertuples()]
    if kind == "data_type_check":
        for row in rows[:100]:
            row["x"] = "n/a"
        return frame, rows
    if kind == "completeness_check":
        for row in rows[:150]:
            row["y"] = None
        return frame, rows
    if kind == "baseline_drift_check":
        return customers(300, seed=5, shift=2.0), None
    if kind == "missing_column_check":
        return frame, [{k: v for k, v in row.items() if k != "y"} for row in rows]
    if kind == "extra_column_check":
        return frame, [{**row, "coupon": "SPRING"} for row in rows]
    if kind == "categorical_values_check":
        frame = frame.assign(city=np.where(np.arange(300) % 2 == 0, "Berlin", frame["city"]))
        return frame, None
    if kind == "value_range_check":
        frame = frame.assign(y=np.where(np.arange(300) % 4 == 0, 1e6, frame["y"]))
        return frame, None
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "data_type_check",
        "completeness_check",
        "baseline_drift_check",
        "missing_column_check",
        "extra_column_check",
        "categorical_values_check",
        "value_range_check",
    ],
)
def test_each_violation_type_is_found_in_crafted_traffic(
    api: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    capture: Any,
    on_commit: Any,
    kind: str,
) -> None:
    frame, json_rows = crafted(kind)
    capture(endpoint, frame, json_rows=json_rows)
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality")
    execution = run(api, member, on_commit, schedule)
    assert execution["status"] == "CompletedWithViolations"
    assert kind in checks(execution), execution["violations"]
    violation = next(v for v in execution["violations"] if v["check"] == kind)
    assert set(violation) == {"feature", "check", "description", "value", "threshold"}
    assert violation["description"]


def test_a_disabled_check_finds_nothing(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    frame, _ = crafted("categorical_values_check")
    capture(endpoint, frame)
    constraints = baseline.constraints
    constraints["monitoring_config"]["categorical_values_check"]["enabled"] = False
    services.monitoring_baseline_update(baseline=baseline, constraints=constraints)
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality")
    assert "categorical_values_check" not in checks(run(api, member, on_commit, schedule))


def test_model_quality_joins_uploaded_ground_truth_to_the_predictions(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    frame = customers(400, seed=11)
    truth = list(frame["label"])
    # The model answered wrongly for half of the requests.
    answered = [t if i % 2 else ("no" if t == "yes" else "yes") for i, t in enumerate(truth)]
    ids = capture(endpoint, frame, predicted=answered)
    rows = [{"event_id": e, "label": t} for e, t in zip(ids, truth, strict=True)]
    uploaded = api(member).post(
        f"/api/v1/endpoints/{endpoint.pk}/ground-truth/", {"rows": rows}, format="json"
    )
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["rows"] == 400
    schedule = schedule_of(member, project, endpoint, baseline, "model_quality")
    execution = run(api, member, on_commit, schedule)
    metrics = execution["report"]["metrics"]
    assert execution["report"]["labeled_rows"] == 400
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert "model_quality_check" in checks(execution)
    assert execution["scores"]["accuracy"] == pytest.approx(0.5)


def test_without_ground_truth_model_quality_is_estimated_from_confidence(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    frame = customers(200, seed=12)
    capture(endpoint, frame, confidence=[0.55] * 200)
    schedule = schedule_of(member, project, endpoint, baseline, "model_quality")
    execution = run(api, member, on_commit, schedule)
    assert execution["report"]["metrics"]["estimated"] is True
    assert execution["report"]["metrics"]["accuracy"] == pytest.approx(0.55, abs=0.01)
    assert "confidence" in execution["report"]["note"]
    assert "model_quality_check" in checks(execution)


def test_ground_truth_is_checked_whole_and_can_come_as_a_csv_file(
    api: Any, member: Any, outsider: Any, endpoint: Any
) -> None:
    url = f"/api/v1/endpoints/{endpoint.pk}/ground-truth/"
    bad = api(member).post(
        url, {"rows": [{"event_id": "a", "label": "yes"}, {"label": "no"}]}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "rows.1.event_id"
    import io

    upload = io.BytesIO(b"event_id,label,row\nabc,yes,0\ndef,no,1\n")
    upload.name = "truth.csv"
    ok = api(member).post(url, {"file": upload}, format="multipart")
    assert ok.status_code == 201, ok.content
    assert ok.json()["rows"] == 2
    frame = ground_truth_frame(endpoint)
    assert list(frame["event_id"]) == ["abc", "def"]
    assert (
        api(outsider)
        .post(url, {"rows": [{"event_id": "a", "label": 1}]}, format="json")
        .status_code
        == 404
    )
    assert api(outsider).get(url).status_code == 404


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Hook)
    Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts"
    server.shutdown()


def test_a_violation_raises_an_alert_in_the_studio_by_mail_and_by_webhook(
    api: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    capture: Any,
    on_commit: Any,
    settings: Any,
    hook: str,
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SEXTANT_WEBHOOK_ALLOWLIST = [hook.rsplit("/", 1)[0] + "/"]
    frame, _ = crafted("categorical_values_check")
    capture(endpoint, frame)
    schedule = schedule_of(
        member,
        project,
        endpoint,
        baseline,
        "data_quality",
        alert_emails=["ops@example.org"],
        webhook_url=hook,
    )
    execution = run(api, member, on_commit, schedule)
    alert = MonitoringAlert.objects.get(execution_id=execution["id"])
    assert alert.deliveries["email"] == "sent"
    assert alert.deliveries["webhook"].startswith("sent")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.org"]
    assert "city" in mail.outbox[0].body
    assert Hook.received[0]["execution"]["id"] == execution["id"]
    assert Hook.received[0]["violations"] == execution["violations"]
    unread = api(member).get(f"/api/v1/monitoring-alerts/?project={project.pk}&unread=1").json()
    assert unread["count"] == 1
    marked = api(member).post(
        "/api/v1/monitoring-alerts/read/", {"project": project.pk}, format="json"
    )
    assert marked.json() == {"marked": 1}
    assert (
        api(member).get(f"/api/v1/monitoring-alerts/?project={project.pk}&unread=1").json()["count"]
        == 0
    )


def test_a_webhook_removed_from_the_allow_list_is_not_called(
    api: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    capture: Any,
    on_commit: Any,
    settings: Any,
    hook: str,
) -> None:
    settings.SEXTANT_WEBHOOK_ALLOWLIST = [hook]
    frame, _ = crafted("categorical_values_check")
    capture(endpoint, frame)
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality", webhook_url=hook)
    settings.SEXTANT_WEBHOOK_ALLOWLIST = []
    execution = run(api, member, on_commit, schedule)
    alert = MonitoringAlert.objects.get(execution_id=execution["id"])
    assert "allow-list" in alert.deliveries["webhook"]
    assert Hook.received == []


def test_one_click_labels_the_captured_rows(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    capture(endpoint, crafted("categorical_values_check")[0])
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality")
    execution = run(api, member, on_commit, schedule)
    with on_commit(execute=True):
        response = api(member).post(f"/api/v1/monitoring-executions/{execution['id']}/label/")
    assert response.status_code == 201, response.content
    job = api(member).get(f"/api/v1/labeling-jobs/{response.json()['labeling_job']}/").json()
    again = api(member).post(f"/api/v1/monitoring-executions/{execution['id']}/label/")
    assert again.json()["labeling_job"] == job["id"]  # a second click makes no second job
    linked = api(member).get(f"/api/v1/monitoring-executions/{execution['id']}/").json()
    assert linked["labeling_job"] == job["id"]
    assert job["task_type"] == "text_classification"
    assert job["labels"] == ["no", "yes"]
    assert job["status"] in ("Initializing", "InProgress")


def test_one_click_retrains_on_the_traffic_that_has_ground_truth(
    api: Any,
    member: Any,
    owner: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    package: Any,
    capture: Any,
    on_commit: Any,
) -> None:
    frame = customers(200, seed=21)
    ids = capture(endpoint, frame)
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality")
    execution = run(api, member, on_commit, schedule)
    url = f"/api/v1/monitoring-executions/{execution['id']}/retrain/"
    refused = api(member).post(url)
    assert refused.status_code == 400  # the model came from an upload: no recipe
    from studio.models import Job

    origin = TrainingJob.objects.create(
        project=project,
        job=Job.objects.create(project=project, kind="training.builtin", status="Completed"),
        name="churn",
        algorithm="xgboost",
        channels={"train": baseline.dataset_id},
        target="label",
        hyperparameters={"num_round": 10},
        created_by=owner,
    )
    package.training_job = origin
    package.save(update_fields=["training_job"])
    assert api(member).post(url).status_code == 400  # no ground truth yet
    api(member).post(
        f"/api/v1/endpoints/{endpoint.pk}/ground-truth/",
        {"rows": [{"event_id": e, "label": t} for e, t in zip(ids, frame["label"], strict=True)]},
        format="json",
    )
    with on_commit(execute=True):
        response = api(member).post(url)
    assert response.status_code == 201, response.content
    training = TrainingJob.objects.get(pk=response.json()["training_job"])
    assert training.algorithm == "xgboost" and training.target == "label"
    assert training.job.status == "Completed", training.job.failure_reason
    dataset = api(member).get(f"/api/v1/datasets/{response.json()['dataset']}/").json()
    assert dataset["num_rows"] == 2000 + 200  # the baseline's rows and the labeled traffic


def test_executions_are_listed_per_schedule_newest_first(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    capture(endpoint, customers(100, seed=3))
    schedule = schedule_of(member, project, endpoint, baseline, "data_quality")
    first = run(api, member, on_commit, schedule)
    second = run(api, member, on_commit, schedule)
    listed = api(member).get(f"/api/v1/monitoring-executions/?schedule={schedule.pk}").json()
    assert [e["id"] for e in listed["results"]] == [second["id"], first["id"]]
    assert MonitoringExecution.objects.filter(schedule=schedule).count() == 2


@pytest.fixture
def bias_baseline(
    member: Any, project: Any, train_data: Any, package: Any, on_commit: Any
) -> MonitoringBaseline:
    return model_baseline(
        member,
        project,
        train_data,
        package,
        on_commit,
        facets=[{"name": "city", "values_or_threshold": ["Nice"]}],
        positive_label_values=["yes"],
    )


def test_bias_drift_compares_the_traffic_s_bias_with_the_baseline_s(
    api: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    bias_baseline: Any,
    capture: Any,
    on_commit: Any,
) -> None:
    frame = customers(600, seed=31)
    truth = list(frame["label"])
    # The model now turns down everyone in Nice: its bias against them jumps.
    answered = ["no" if city == "Nice" else t for city, t in zip(frame["city"], truth, strict=True)]
    ids = capture(endpoint, frame, predicted=answered)
    api(member).post(
        f"/api/v1/endpoints/{endpoint.pk}/ground-truth/",
        {"rows": [{"event_id": e, "label": t} for e, t in zip(ids, truth, strict=True)]},
        format="json",
    )
    schedule = schedule_of(member, project, endpoint, bias_baseline, "bias_drift")
    execution = run(api, member, on_commit, schedule)
    assert execution["report"]["labeled_rows"] == 600
    drifted = {
        v["description"].split(" ")[0]
        for v in execution["violations"]
        if v["check"] == "bias_drift_check"
    }
    assert {"DPPL", "DI"} & drifted, execution["violations"]
    assert any(key.startswith("city=Nice:") for key in execution["scores"])


def test_feature_attribution_drift_notices_the_features_changing_order(
    api: Any, member: Any, project: Any, endpoint: Any, baseline: Any, capture: Any, on_commit: Any
) -> None:
    same = customers(300, seed=41)
    capture(endpoint, same)
    schedule = schedule_of(member, project, endpoint, baseline, "feature_attribution_drift")
    steady = run(api, member, on_commit, schedule)
    assert steady["report"]["attribution"]["ndcg"] > 0.9
    assert "feature_attribution_drift_check" not in checks(steady)
    # Then traffic where x hardly varies and y varies a lot: y drives the answers now. The
    # schedule looks at the last 3 minutes only, which hold just that traffic.
    later = same.assign(x=0.0, y=same["y"] * 6)
    capture(endpoint, later, when=timezone.now() - timedelta(minutes=1))
    MonitoringSchedule.objects.filter(pk=schedule.pk).update(window_hours=0.05)
    schedule.refresh_from_db()
    drifted = run(api, member, on_commit, schedule)
    assert drifted["num_rows"] == 300
    assert drifted["report"]["current_importance"][0]["feature"] == "y"
    assert drifted["report"]["attribution"]["ndcg"] < 0.9
    assert "feature_attribution_drift_check" in checks(drifted)


def test_a_ground_truth_file_too_large_is_refused(
    api: Any, member: Any, endpoint: Any, monkeypatch: Any
) -> None:
    import io

    from monitor import api as monitor_api

    monkeypatch.setattr(monitor_api, "MAX_TRUTH_FILE_BYTES", 10)
    upload = io.BytesIO(b"event_id,label\nabc,yes\n")
    upload.name = "truth.csv"
    response = api(member).post(
        f"/api/v1/endpoints/{endpoint.pk}/ground-truth/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_large"
    assert not ground_truth_frame(endpoint).shape[0]


def test_the_labels_of_a_labeling_job_over_captured_rows_become_ground_truth(
    api: Any,
    client: Any,
    member: Any,
    project: Any,
    endpoint: Any,
    baseline: Any,
    capture: Any,
    on_commit: Any,
) -> None:
    client.force_login(member)
    frame = customers(12, seed=51)
    capture(endpoint, frame)
    schedule = schedule_of(member, project, endpoint, baseline, "model_quality")
    execution = run(api, member, on_commit, schedule)
    with on_commit(execute=True):
        created = api(member).post(f"/api/v1/monitoring-executions/{execution['id']}/label/")
    job_id = created.json()["labeling_job"]
    url = f"/api/v1/endpoints/{endpoint.pk}/ground-truth/"
    early = api(member).post(url, {"labeling_job": job_id}, format="json")
    assert early.status_code == 400 and early.json()["error"]["field"] == "labeling_job"
    # A scientist labels every captured row in the portal's queue: "yes" for all of them.
    for _ in range(12):
        task = api(member).post(f"/api/v1/labeling-jobs/{job_id}/next-task/").json()
        with on_commit(execute=True):
            done = api(member).post(
                f"/api/v1/assignments/{task['assignment']}/submit/", {"label": "yes"}, format="json"
            )
        assert done.status_code == 200, done.content
    status = api(member).get(f"/api/v1/labeling-jobs/{job_id}/").json()["status"]
    assert status == "Completed"
    page = client.get(f"/monitoring/executions/{execution['id']}/").content.decode()
    assert 'data-testid="use-labels"' in page
    imported = api(member).post(url, {"labeling_job": job_id}, format="json")
    assert imported.status_code == 201, imported.content
    assert imported.json()["rows"] == 12
    checked = run(api, member, on_commit, schedule)
    assert checked["report"]["labeled_rows"] == 12
    expected = (frame["label"] == "yes").mean()
    assert checked["report"]["metrics"]["accuracy"] == pytest.approx(expected)
