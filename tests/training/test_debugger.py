"""Debugger rules: each rule on made-up values, their configuration checked, and rules
watching real training jobs (one stopping an overfitting job as it trains)."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from studio.models import Job, JobMetric
from training.engine import debugger
from training.engine.debugger import ISSUES, NO_ISSUES, Values, check_rules, evaluate
from training.models import TrainingJob


def status_of(name: str, values: Values, **params) -> tuple[str, str]:
    rules = check_rules([{"name": name, "params": params}])
    (result,) = evaluate(rules, values)
    return result["status"], result["message"]


def curve(values: list[float]) -> list[tuple[int, float]]:
    return list(enumerate(values))


def test_loss_not_decreasing():
    flat = Values(series={"train:loss": curve([1.0] * 5 + [0.5] * 12)})
    assert status_of("LossNotDecreasing", flat)[0] == ISSUES
    falling = Values(series={"train:loss": curve([1 / (s + 1) for s in range(20)])})
    assert status_of("LossNotDecreasing", falling)[0] == NO_ISSUES


def test_overfit_compares_validation_with_train_loss():
    train = curve([1 / (s + 1) for s in range(10)])
    close = Values(
        series={"train:logloss": train, "validation:logloss": curve([v * 1.05 for _, v in train])}
    )
    assert status_of("Overfit", close)[0] == NO_ISSUES
    apart = Values(
        series={"train:logloss": train, "validation:logloss": curve([v * 1.5 for _, v in train])}
    )
    status, message = status_of("Overfit", apart, patience=3)
    assert status == ISSUES and "50% above train" in message


def test_overtraining_sees_a_stalled_validation_loss():
    train = curve([1 / (s + 1) for s in range(30)])
    validation = curve([0.5 - s / 100 for s in range(5)] + [0.46] * 25)
    values = Values(series={"train:rmse": train, "validation:rmse": validation})
    status, message = status_of("Overtraining", values, patience_train=50)
    assert status == ISSUES and "validation rmse has not improved for 10 steps" in message


def test_stalled_training():
    values = Values(series={"train:loss": [(0, 1.0)]}, seconds_since_last_value=2000)
    assert status_of("StalledTrainingRule", values)[0] == ISSUES
    values.seconds_since_last_value = 10
    assert status_of("StalledTrainingRule", values, threshold=60)[0] == "InProgress"


def test_exploding_tensor_and_only_nan():
    values = Values(series={"train:loss": [(0, 1.0), (1, math.inf)]})
    assert status_of("ExplodingTensor", values)[0] == ISSUES
    assert status_of("ExplodingTensor", values, only_nan=True)[0] == NO_ISSUES
    values = Values(tensors={"weights": [(3, {"nan": 2.0, "inf": 0.0, "mean": 0.1})]})
    assert "weights has 2 NaN" in status_of("ExplodingTensor", values)[1]


def test_vanishing_gradient_and_unchanged_tensor():
    tiny = Values(tensors={"layer1/grad": [(0, {"mean_abs": 1e-3}), (1, {"mean_abs": 1e-9})]})
    assert status_of("VanishingGradient", tiny)[0] == ISSUES
    frozen = Values(tensors={"w": [(s, {"mean": 0.25}) for s in range(4)]})
    assert status_of("UnchangedTensor", frozen)[0] == ISSUES
    moving = Values(tensors={"w": [(s, {"mean": 0.25 + s}) for s in range(4)]})
    assert status_of("UnchangedTensor", moving)[0] == NO_ISSUES


def test_rules_read_at_the_end_of_training():
    done = Values(
        class_counts=[950, 50],
        tree_depths=[6, 6, 5],
        feature_importance={"a": 0.7, "b": 0.15, "c": 0.1, "d": 0.05},
        finished=True,
    )
    assert status_of("ClassImbalance", done)[0] == ISSUES  # 19×
    assert status_of("ClassImbalance", done, threshold_imbalance=20)[0] == NO_ISSUES
    assert status_of("TreeDepth", done)[0] == ISSUES
    assert status_of("FeatureImportanceOverweight", done)[0] == ISSUES  # 95% in the top 3
    assert status_of("FeatureImportanceOverweight", done, nfeatures=1)[0] == NO_ISSUES


def test_rule_configuration_is_checked():
    assert [r["name"] for r in check_rules(None)] == list(debugger.DEFAULT_RULES)
    (rule,) = check_rules([{"name": "Overfit", "params": {"patience": "3"}, "action": "stop"}])
    assert rule == {
        "name": "Overfit",
        "params": {"start_step": 0, "patience": 3, "ratio_threshold": 0.1},
        "action": "stop",
    }
    bad = [
        ([{"name": "Magic"}], "debugger_rules.0.name"),
        ([{"name": "Overfit", "params": {"nope": 1}}], "debugger_rules.0.params.nope"),
        ([{"name": "Overfit", "params": {"patience": "many"}}], "debugger_rules.0.params.patience"),
        ([{"name": "Overfit", "action": "explode"}], "debugger_rules.0.action"),
        ([{"name": "Overfit"}, {"name": "Overfit"}], "debugger_rules.1.name"),
        ("Overfit", "debugger_rules"),
    ]
    for value, field in bad:
        with pytest.raises(debugger.RuleError) as caught:
            check_rules(value)
        assert caught.value.field == field


# --------------------------------------------------------------------------- with jobs


def noisy_dataset(upload, owner, project, name: str, rows: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 8)), columns=[f"x{i}" for i in range(8)])
    frame["y"] = rng.integers(0, 2, rows)  # labels with nothing to learn: deep trees overfit
    response = upload(owner, project, f"{name}.csv", frame.to_csv(index=False).encode())
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


@pytest.mark.django_db
def test_a_rule_stops_an_overfitting_job_as_it_trains(
    api, member, owner, project, upload, on_commit
):
    train = noisy_dataset(upload, owner, project, "train", 3000, 1)
    validation = noisy_dataset(upload, owner, project, "validation", 1000, 2)
    with on_commit(execute=True):
        response = api(member).post(
            "/api/v1/training-jobs/",
            {
                "project": project.pk,
                "name": "overfit",
                "algorithm": "xgboost",
                "channels": {"train": train, "validation": validation},
                "target": "y",
                "hyperparameters": {"num_round": 20000, "max_depth": 10, "eta": 0.3},
                "debugger_rules": [
                    {
                        "name": "Overfit",
                        # From step 20: XGBoost has reported its trees and importances twice.
                        "params": {"ratio_threshold": 0.3, "patience": 3, "start_step": 20},
                        "action": "stop",
                    },
                    {"name": "TreeDepth"},
                ],
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    training = TrainingJob.objects.get(pk=response.json()["id"])
    job = training.job
    assert job.status == "Stopped", (job.status, job.failure_reason)
    assert job.failure_reason.startswith("Stopped by the rule Overfit: At step")
    rounds = JobMetric.objects.filter(job=job, name="validation:logloss").count()
    assert 0 < rounds < 20000, rounds  # stopped long before the end
    statuses = {s["name"]: s for s in training.rule_statuses}
    assert statuses["Overfit"]["status"] == ISSUES and statuses["Overfit"]["action"] == "stop"
    assert job.logs.filter(message__startswith="Rule Overfit: issues found.").exists()
    got = api(member).get(f"/api/v1/training-jobs/{training.pk}/").json()
    assert got["rule_statuses"][0]["name"] == "Overfit"
    # The plot behind each rule: the gap Overfit compared, the depths TreeDepth read.
    rules = api(member).get(f"/api/v1/training-jobs/{training.pk}/debugger/").json()["rules"]
    overfit, depth = rules
    assert overfit["figure"]["threshold"] == 0.3
    (gap,) = overfit["figure"]["traces"]
    assert gap["name"] == "logloss gap" and gap["x"][0] == 20 and gap["x"][-1] == rounds - 1
    # XGBoost reported its trees and importances as it trained, though it never finished.
    assert depth["status"] == ISSUES and depth["figure"]["kind"] == "bars"
    assert sum(depth["figure"]["traces"][0]["y"]) == len(training.debug_values["tree_depths"])
    assert len(training.debug_values["importance_history"]) >= 2


@pytest.mark.django_db
def test_rules_read_the_trained_model_when_it_completes(
    api, member, owner, project, upload, on_commit
):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    frame["y"] = (frame["signal"] > 1.5).astype(int)  # about 7% positives
    dataset = upload(owner, project, "skewed.csv", frame.to_csv(index=False).encode()).json()["id"]
    with on_commit(execute=True):
        created = (
            api(member)
            .post(
                "/api/v1/training-jobs/",
                {
                    "project": project.pk,
                    "name": "skewed",
                    "algorithm": "random-forest",
                    "channels": {"train": dataset},
                    "target": "y",
                    "hyperparameters": {"num_trees": 10},
                    "debugger_rules": [
                        "ClassImbalance",
                        "TreeDepth",
                        "FeatureImportanceOverweight",
                    ],
                },
                format="json",
            )
            .json()
        )
    training = TrainingJob.objects.get(pk=created["id"])
    assert training.job.status == "Completed", training.job.failure_reason
    statuses = {s["name"]: s["status"] for s in training.rule_statuses}
    # One clean split on the signal decides every row: shallow trees, all importance there.
    assert statuses == {
        "ClassImbalance": ISSUES,
        "TreeDepth": NO_ISSUES,
        "FeatureImportanceOverweight": ISSUES,
    }
    rules = api(member).get(f"/api/v1/training-jobs/{training.pk}/debugger/").json()["rules"]
    figures = {r["name"]: r["figure"] for r in rules}
    bars = figures["ClassImbalance"]["traces"][0]
    assert bars["x"] == ["0", "1"] and bars["y"] == [
        float((frame["y"] == 0).sum()),
        float(frame["y"].sum()),
    ]
    assert len(training.debug_values["tree_depths"]) == 10
    assert figures["FeatureImportanceOverweight"]["traces"][0]["x"][0] == "signal"


@pytest.mark.django_db
def test_a_script_saves_tensors_and_a_nan_stops_it(api, member, project, on_commit):
    script = (
        "import math, time\n"
        "from training.hook import save_scalar, save_tensor\n"
        "for step in range(1000):\n"
        "    save_scalar('train:loss', 1.0 / (step + 1), step)\n"
        "    save_tensor('layer/grad', [0.5, -0.5, math.nan if step == 3 else 0.1], step)\n"
        "    time.sleep(0.05)\n"
    )
    source = io.BytesIO(script.encode())
    source.name = "train.py"
    rules = [{"name": "ExplodingTensor", "action": "stop"}, {"name": "VanishingGradient"}]
    with on_commit(execute=True):
        response = api(member).post(
            "/api/v1/training-jobs/",
            {
                "project": project.pk,
                "name": "nan",
                "algorithm": "script",
                "source": source,
                "debugger_rules": json.dumps(rules),
            },
            format="multipart",
        )
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["job"])
    assert job.status == "Stopped"
    assert "ExplodingTensor" in job.failure_reason and "layer/grad" in job.failure_reason
    assert JobMetric.objects.filter(job=job, name="train:loss").count() < 1000
    # The tensor's statistics are kept for the plots, the NaN counted at its step.
    tensor = TrainingJob.objects.get(job=job).debug_values["tensors"]["layer/grad"]
    assert tensor["step"][:4] == [0, 1, 2, 3]
    assert tensor["nan"][3] == 1.0 and tensor["nan"][2] == 0.0
    assert math.isclose(tensor["mean_abs"][0], (0.5 + 0.5 + 0.1) / 3)


TINY = b"x,y\n1,a\n2,b\n3,a\n4,b\n"


def knn_job(client, project, uploaded, rules=None):
    """A knn training job on an uploaded dataset, with the default rules unless ``rules``."""
    body = {
        "project": project.pk,
        "name": "x",
        "algorithm": "knn",
        "channels": {"train": uploaded.json()["id"]},
        "target": "y",
    }
    if rules is not None:
        body["debugger_rules"] = rules
    return client.post("/api/v1/training-jobs/", body, format="json")


@pytest.mark.django_db
def test_strangers_get_404_on_the_rules(api, member, outsider, project, upload, owner):
    pk = knn_job(api(member), project, upload(owner, project, "d.csv", TINY)).json()["id"]
    assert api(outsider).get(f"/api/v1/training-jobs/{pk}/debugger/").status_code == 404
    rules = api(member).get(f"/api/v1/training-jobs/{pk}/debugger/").json()["rules"]
    assert [r["name"] for r in rules] == list(debugger.DEFAULT_RULES)
    assert all(r["status"] == "InProgress" and r["note"] for r in rules)


@pytest.mark.django_db
def test_bad_rules_are_refused(api, member, project, upload, owner):
    dataset = upload(owner, project, "d.csv", TINY)
    response = knn_job(api(member), project, dataset, [{"name": "Overfit", "action": "panic"}])
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "debugger_rules.0.action"
    assert not TrainingJob.objects.exists()
