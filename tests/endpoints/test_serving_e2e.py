"""Endpoints served for real: a worker deploys, the model host starts model-server
processes, the studio's router answers /invocations and /v2 — register, approve, deploy,
invoke, split, pin, shadow, update under load, capture, restart, delete."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from bench.loadgen import run_load, run_sync
from tests.e2e.test_flows import ready_dataset
from tests.live import LiveStudio, backends, live_studio
from training.engine.artifact import load as load_model

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FEATURES = [f"f{i}" for i in range(6)]
FINISHED = {"Completed", "Failed", "Stopped"}


def wait(live: LiveStudio, path: str, until, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = live.api("GET", path).json()
        if until(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


@pytest.fixture(scope="module", params=backends())
def live(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[LiveStudio]:
    var = tmp_path_factory.mktemp(f"serving-{request.param}")
    with live_studio(
        request.param, var, show_logs=lambda: bool(request.session.testsfailed), serving=True
    ) as studio:
        yield studio


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    x, y = make_classification(600, len(FEATURES), n_informative=4, random_state=3)
    df = pd.DataFrame(x, columns=FEATURES)
    df["target"] = np.where(y == 1, "churn", "stay")
    return df


@pytest.fixture(scope="module")
def packages(live: LiveStudio, frame: pd.DataFrame) -> list[int]:
    """Two approved versions of a churn model (different rounds), one pending."""
    dataset = ready_dataset(live, "churn", frame.to_csv(index=False))
    ids = []
    for rounds in (20, 5, 8):
        created = live.api(
            "POST",
            "/api/v1/training-jobs/",
            json={
                "project": live.project,
                "name": f"churn-{rounds}",
                "algorithm": "xgboost",
                "channels": {"train": dataset["id"]},
                "target": "target",
                "hyperparameters": {"num_round": rounds},
            },
        ).json()
        done = wait(
            live, f"/api/v1/training-jobs/{created['id']}/", lambda t: t["status"] in FINISHED
        )
        assert done["status"] == "Completed", done["failure_reason"]
        package = live.api(
            "POST",
            "/api/v1/model-packages/",
            json={"project": live.project, "group": "churn", "training_job": created["id"]},
        )
        assert package.status_code == 201, package.text
        ids.append(package.json()["id"])
    for pk in ids[:2]:
        approved = live.api(
            "POST",
            f"/api/v1/model-packages/{pk}/approve/",
            json={"comment": "Holdout AUC is fine."},
        )
        assert approved.status_code == 200, approved.text
    return ids


def deploy(live: LiveStudio, name: str, variants: list[dict], **extra) -> dict:
    response = live.api(
        "POST",
        "/api/v1/endpoints/",
        json={"project": live.project, "name": name, "variants": variants, **extra},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "Creating"
    done = wait(live, f"/api/v1/endpoints/{created['id']}/", lambda e: e["status"] != "Creating")
    assert done["status"] == "InService", done["failure_reason"]
    return done


def csv_rows(frame: pd.DataFrame, n: int = 1, start: int = 0) -> str:
    return frame[FEATURES].iloc[start : start + n].to_csv(header=False, index=False)


def invoke(live: LiveStudio, name: str, body, content_type: str = "text/csv", **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return live.api(
        "POST", f"/invocations/{name}", data=data, headers={"Content-Type": content_type, **headers}
    )


def load(
    live: LiveStudio,
    name: str,
    body: str,
    *,
    total: int | None = None,
    concurrency: int = 8,
    until=None,
    headers: dict | None = None,
):
    head = {"Content-Type": "text/csv", "Authorization": f"Token {live.token}", **(headers or {})}
    return run_sync(
        run_load(
            f"{live.url}/invocations/{name}",
            lambda i: (body.encode(), head),
            total=total,
            concurrency=concurrency,
            until=until,
            keep_body=False,
        )
    )


def test_an_approved_package_serves_csv_json_and_v2(live, packages, frame):
    endpoint = deploy(live, "churn", [{"name": "A", "model_package": packages[0]}])
    assert endpoint["invocation_url"].endswith("/invocations/churn")

    answer = invoke(live, "churn", csv_rows(frame, 3))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["X-Invoked-Variant"] == "A"
    labels = answer.text.splitlines()
    assert len(labels) == 3 and set(labels) <= {"churn", "stay"}

    rows = frame[FEATURES].head(3)
    by_list = invoke(live, "churn", {"instances": rows.values.tolist()}, "application/json")
    by_name = invoke(
        live, "churn", {"instances": rows.to_dict(orient="records")}, "application/json"
    )
    assert by_list.status_code == by_name.status_code == 200
    predictions = by_list.json()["predictions"]
    assert [p["predicted_label"] for p in predictions] == labels
    assert by_name.json() == by_list.json()
    assert by_list.json()["labels"] == ["churn", "stay"]

    infer = live.api(
        "POST",
        "/v2/models/churn/infer",
        json={
            "id": "q1",
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [3, 6],
                    "datatype": "FP32",
                    "data": rows.values.ravel().tolist(),
                }
            ],
        },
    )
    assert infer.status_code == 200, infer.text
    outputs = {o["name"]: o for o in infer.json()["outputs"]}
    assert infer.json()["model_name"] == "churn" and infer.json()["id"] == "q1"
    assert outputs["predicted_label"]["data"] == labels

    meta = live.api("GET", "/v2/models/churn")
    assert meta.status_code == 200 and [i["name"] for i in meta.json()["inputs"]] == FEATURES
    assert live.api("GET", "/v2/models/churn/ready").json()["ready"] is True
    assert live.api("GET", "/v2/health/live").status_code == 200
    assert live.api("GET", "/v2/health/ready").json() == {"ready": True}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        ("", "text/csv", 400, "empty"),
        ("1,2,3\n", "text/csv", 400, "takes 6"),
        ("1,2,three,4,5,6\n", "text/csv", 400, "'three' is not a number"),
        ("{oops", "application/json", 400, "not valid JSON"),
        ('{"instances": [[1, 2]]}', "application/json", 400, "takes 6"),
        ("<xml/>", "application/xml", 415, "text/csv or application/json"),
    ],
)
def test_bad_payloads_get_clear_4xx_and_the_endpoint_keeps_serving(
    live, packages, frame, body, content_type, status, fragment
):
    answer = invoke(live, "churn", body, content_type)
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["error"]["message"]
    assert invoke(live, "churn", csv_rows(frame)).status_code == 200


def test_a_body_over_the_limit_is_refused(live, packages):
    answer = invoke(live, "churn", b"1," * (3 * 1024 * 1024 + 10))
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_callers_need_a_token_of_the_endpoints_project(live, packages, frame):
    anonymous = live.session.post(
        f"{live.url}/invocations/churn",
        data=csv_rows(frame),
        headers={"Content-Type": "text/csv", "Authorization": ""},
    )
    assert anonymous.status_code == 401
    bad = invoke(live, "churn", csv_rows(frame), Authorization="Token not-a-token")
    assert bad.status_code == 401
    stranger = live.create_user_token("stranger")
    refused = invoke(live, "churn", csv_rows(frame), Authorization=f"Token {stranger}")
    assert refused.status_code == 404
    assert invoke(live, "nope", csv_rows(frame)).status_code == 404


def test_traffic_splits_by_weight_and_a_request_may_pin_its_variant(live, packages, frame):
    deploy(
        live,
        "split",
        [
            {"name": "A", "model_package": packages[0], "weight": 0.7},
            {"name": "B", "model_package": packages[1], "weight": 0.3},
        ],
    )
    result = load(live, "split", csv_rows(frame), total=10_000, concurrency=16)
    assert not result.errors and all(a.status == 200 for a in result.answers)
    seen = Counter(a.headers["x-invoked-variant"] for a in result.answers)
    assert len(result.answers) == 10_000
    assert abs(seen["A"] / 10_000 - 0.7) <= 0.02, seen

    pinned = load(live, "split", csv_rows(frame), total=200, headers={"X-Target-Variant": "B"})
    assert {a.headers["x-invoked-variant"] for a in pinned.answers} == {"B"}
    unknown = invoke(live, "split", csv_rows(frame), **{"X-Target-Variant": "C"})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "X-Target-Variant"


def test_a_shadow_gets_a_copy_whose_answers_are_recorded_never_returned(live, packages, frame):
    endpoint = deploy(
        live,
        "shadowed",
        [{"name": "live", "model_package": packages[0]}],
        shadow={"name": "candidate", "model_package": packages[1]},
        data_capture={"percent": 100},
    )
    result = load(live, "shadowed", csv_rows(frame), total=50, concurrency=4)
    assert {a.headers["x-invoked-variant"] for a in result.answers} == {"live"}
    assert all(a.status == 200 for a in result.answers)
    root = live.var / "storage" / "data-capture" / "shadowed"

    def captured(variant: str) -> list[dict]:
        return [
            json.loads(line)
            for f in sorted((root / variant).rglob("*.jsonl"))
            for line in f.read_text().splitlines()
        ]

    deadline = time.monotonic() + 15
    while (len(captured("live")) < 50 or len(captured("candidate")) < 50) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.3)
    live_events, shadow_events = captured("live"), captured("candidate")
    assert len(live_events) == 50 and len(shadow_events) == 50
    assert {e["event_id"] for e in live_events} == {e["event_id"] for e in shadow_events}
    assert all(e["shadow"] for e in shadow_events) and not any(e["shadow"] for e in live_events)
    first = live_events[0]
    assert first["input"] == {
        "content_type": "text/csv",
        "encoding": "CSV",
        "data": csv_rows(frame),
    }
    assert first["output"]["data"].strip() in {"churn", "stay"}
    assert first["endpoint"] == "shadowed" and first["variant"] == "live"
    # Partitioned by endpoint / variant / YYYY / MM / DD / HH.
    files = list((root / "live").rglob("*.jsonl"))
    assert len(files[0].relative_to(root / "live").parts) == 5

    metrics = wait(
        live,
        f"/api/v1/endpoints/{endpoint['id']}/metrics/",
        lambda m: m["totals"].get("live", {}).get("invocations", 0) >= 50,
    )
    assert metrics["totals"]["live"]["invocations"] == 50
    assert metrics["totals"]["live"]["share"] == 1.0
    assert metrics["totals"]["candidate"]["shadow"] is True


def test_an_update_under_load_switches_with_no_failed_request(live, packages, frame):
    endpoint = deploy(live, "rolling", [{"name": "A", "model_package": packages[0]}])
    stop = threading.Event()
    box: dict = {}

    def traffic() -> None:
        box["load"] = load(live, "rolling", csv_rows(frame), concurrency=4, until=stop.is_set)

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        time.sleep(1.0)
        response = live.api(
            "POST",
            f"/api/v1/endpoints/{endpoint['id']}/update/",
            json={
                "variants": [{"name": "B", "model_package": packages[1], "weight": 1}],
            },
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "Updating"
        done = wait(
            live, f"/api/v1/endpoints/{endpoint['id']}/", lambda e: e["status"] != "Updating"
        )
        assert done["status"] == "InService", done["failure_reason"]
        time.sleep(2.5)
    finally:
        stop.set()
        thread.join()
    result = box["load"]
    assert not result.errors
    statuses = Counter(a.status for a in result.answers)
    assert statuses == {200: len(result.answers)}, statuses
    variants = [a.headers["x-invoked-variant"] for a in result.answers]
    assert variants[0] == "A" and variants[-1] == "B"
    assert len(result.answers) > 100

    weights = live.api(
        "POST",
        f"/api/v1/endpoints/{endpoint['id']}/update/",
        json={"variants": [{"name": "B", "weight": 2}]},
    )
    assert weights.status_code == 202
    done = wait(live, f"/api/v1/endpoints/{endpoint['id']}/", lambda e: e["status"] != "Updating")
    assert (
        done["variants"][0]["weight"] == 2 and done["variants"][0]["model_package"] == (packages[1])
    )


def test_only_approved_packages_deploy(live, packages):
    response = live.api(
        "POST",
        "/api/v1/endpoints/",
        json={
            "project": live.project,
            "name": "pending",
            "variants": [{"name": "A", "model_package": packages[2]}],
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "variants.0.model_package"
    assert "PendingManualApproval" in error["message"]


def test_a_dead_model_server_is_restarted(live, packages, frame):
    endpoint = deploy(live, "sturdy", [{"name": "A", "model_package": packages[0]}])
    path = f"/api/v1/endpoints/{endpoint['id']}/instances/"
    before = live.api("GET", path).json()["instances"][0]
    pid = _server_pid(live, before["id"])
    os.kill(pid, signal.SIGKILL)
    after = wait(
        live,
        path,
        lambda d: d["instances"][0]["restarts"] == 1 and d["instances"][0]["status"] == "Running",
    )["instances"][0]
    assert after["restarts"] == 1 and after["status"] == "Running"
    assert "Exited" in after["last_error"]
    answer = wait_for(lambda: invoke(live, "sturdy", csv_rows(frame)).status_code == 200)
    assert answer


def test_delete_stops_every_model_server(live, packages):
    endpoint = deploy(
        live, "doomed", [{"name": "A", "model_package": packages[0], "instance_count": 2}]
    )
    instances = live.api("GET", f"/api/v1/endpoints/{endpoint['id']}/instances/").json()
    pids = [_server_pid(live, i["id"]) for i in instances["instances"]]
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    assert live.api("DELETE", f"/api/v1/endpoints/{endpoint['id']}/").status_code == 204
    assert wait_for(lambda: not any(_alive(p) for p in pids), timeout=20)
    assert live.api("GET", f"/api/v1/endpoints/{endpoint['id']}/").status_code == 404
    assert invoke(live, "doomed", "1,2,3,4,5,6\n").status_code == 404


def test_a_multi_model_endpoint_picks_the_model_per_request(live, packages, frame):
    deploy(live, "many", [{"name": "A", "model_packages": packages[:2], "memory_budget_mb": 64}])
    for target in ("churn/1", "churn/2", "churn/1"):
        answer = invoke(live, "many", csv_rows(frame), **{"X-Target-Model": target})
        assert answer.status_code == 200, answer.text
    missing = invoke(live, "many", csv_rows(frame))
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "model_required"
    unknown = invoke(live, "many", csv_rows(frame), **{"X-Target-Model": "churn/9"})
    assert unknown.status_code == 404


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _server_pid(live: LiveStudio, server_id: int) -> int:
    """The pid of a model server, from its process list entry (its manifest path)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        wanted = str(live.var / "model-host" / "servers" / str(server_id) / "manifest.json")
        if wanted.encode() in cmdline:
            return int(proc.name)
    raise AssertionError(f"No process for model server {server_id}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_an_inference_pipeline_answers_as_the_flow_and_model_applied_by_hand(live, tmp_path):
    """A flow (fill, scale, one-hot) run as a processing job; a model trained on its output;
    a variant chaining the two with label names and a threshold."""
    rng = np.random.default_rng(11)
    rows = 400
    plan = rng.choice(["basic", "pro", "team"], size=rows)
    usage = rng.normal(10, 3, size=rows).round(3)
    usage[::13] = np.nan
    raw = pd.DataFrame({"plan": plan, "usage": usage, "age": rng.integers(18, 80, rows)})
    raw["churned"] = np.where((plan == "basic") & (np.nan_to_num(usage, nan=10) < 10), 1, 0)
    source = ready_dataset(live, "accounts", raw.to_csv(index=False))
    graph = {
        "nodes": [
            {"id": "src", "type": "source", "params": {"dataset": source["id"]}},
            {
                "id": "fill",
                "type": "fill_missing",
                "params": {"columns": ["usage"], "strategy": "median"},
            },
            {"id": "scale", "type": "standard_scale", "params": {"columns": ["usage", "age"]}},
            {"id": "onehot", "type": "one_hot_encode", "params": {"columns": ["plan"]}},
        ],
        "edges": [["src", "fill"], ["fill", "scale"], ["scale", "onehot"]],
    }
    flow = live.api(
        "POST", "/api/v1/flows/", json={"project": live.project, "name": "accounts", "graph": graph}
    ).json()
    run = live.api(
        "POST",
        f"/api/v1/flows/{flow['id']}/run/",
        json={"node": "onehot", "output_name": "accounts prepared"},
    )
    assert run.status_code == 202, run.text
    job = live.wait_job(run.json()["job"], lambda j: j["status"] in FINISHED, timeout=120)
    assert job["status"] == "Completed", job
    prepared_id = job["outputs"]["dataset"]
    training = live.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": live.project,
            "name": "accounts",
            "algorithm": "xgboost",
            "channels": {"train": prepared_id},
            "target": "churned",
            "hyperparameters": {"num_round": 15},
        },
    ).json()
    done = wait(live, f"/api/v1/training-jobs/{training['id']}/", lambda t: t["status"] in FINISHED)
    assert done["status"] == "Completed", done["failure_reason"]
    package = live.api(
        "POST",
        "/api/v1/model-packages/",
        json={"project": live.project, "group": "accounts", "training_job": training["id"]},
    ).json()
    live.api("POST", f"/api/v1/model-packages/{package['id']}/approve/", json={})

    bad = live.api(
        "POST",
        "/api/v1/endpoints/",
        json={
            "project": live.project,
            "name": "accounts-bad",
            "variants": [
                {
                    "name": "A",
                    "model_package": package["id"],
                    "pipeline": {"flow_job": job["id"], "threshold": 2},
                }
            ],
        },
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "variants.0.pipeline.threshold"
    endpoint = deploy(
        live,
        "accounts",
        [
            {
                "name": "A",
                "model_package": package["id"],
                "pipeline": {
                    "flow_job": job["id"],
                    "label_names": {"0": "stays", "1": "churns"},
                    "threshold": 0.3,
                },
            }
        ],
    )
    assert endpoint["variants"][0]["pipeline"]["columns"] == ["plan", "usage", "age"]

    sample = raw.drop(columns="churned").head(25)
    answer = invoke(live, "accounts", sample.to_csv(header=False, index=False, na_rep=""))
    assert answer.status_code == 200, answer.text
    served = answer.text.splitlines()

    # By hand: the processing job's own output rows (the flow fitted and applied to the
    # same raw rows), and the registered model.
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(
        live.api("GET", f"/api/v1/model-packages/{package['id']}/artifact/").content
    )
    prepared = tmp_path / "prepared.parquet"
    prepared.write_bytes(
        live.api("GET", f"/api/v1/datasets/{prepared_id}/download/?file=parquet").content
    )
    predicted = load_model(archive).predict(pd.read_parquet(prepared).head(25))
    expected = np.where(predicted["probability_1"] >= 0.3, "churns", "stays")
    assert served == list(expected)
    by_json = invoke(
        live,
        "accounts",
        {"instances": [{"plan": "basic", "usage": 2.0, "age": 30}]},
        "application/json",
    )
    assert by_json.json()["labels"] == ["stays", "churns"]
