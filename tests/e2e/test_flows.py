"""A flow previewed, run by a real worker (custom code included) and exported, end to end."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FINISHED = {"Completed", "Failed", "Stopped"}


def ready_dataset(live, name: str, text: str) -> dict:
    response = live.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": live.project, "name": name},
        files={"file": (f"{name}.csv", text.encode())},
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    live.wait_job(dataset["ingest_job"], lambda j: j["status"] == "Completed")
    return live.api("GET", f"/api/v1/datasets/{dataset['id']}/").json()


def test_a_flow_with_custom_code_runs_in_a_worker_and_its_export_agrees(live, tmp_path):
    rows = "\n".join(f"{i},{'' if i % 9 == 0 else 20 + i % 40},{'ab'[i % 2]}" for i in range(3000))
    dataset = ready_dataset(live, "people", f"id,age,group\n{rows}\n")
    graph = {
        "nodes": [
            {"id": "src", "type": "source", "params": {"dataset": dataset["id"]}},
            {
                "id": "fill",
                "type": "fill_missing",
                "params": {"columns": ["age"], "strategy": "mean"},
            },
            {
                "id": "code",
                "type": "custom_pandas",
                "params": {"code": "df['age2'] = df['age'] * 2"},
            },
            {"id": "scale", "type": "standard_scale", "params": {"columns": ["age2"]}},
        ],
        "edges": [["src", "fill"], ["fill", "code"], ["code", "scale"]],
    }
    flow = live.api(
        "POST", "/api/v1/flows/", json={"project": live.project, "name": "People", "graph": graph}
    ).json()
    preview = live.api("POST", f"/api/v1/flows/{flow['id']}/preview/", json={"node": "fill"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["summary"]["age"]["missing"] == 0
    # Custom code never runs in the web process: a worker previews the nodes that follow it.
    after_code = live.api("POST", f"/api/v1/flows/{flow['id']}/preview/", json={"node": "scale"})
    assert after_code.status_code == 200, after_code.text
    assert after_code.json()["columns"][-1] == "age2"
    assert abs(after_code.json()["summary"]["age2"]["mean"]) < 1e-6  # scaled

    run = live.api(
        "POST",
        f"/api/v1/flows/{flow['id']}/run/",
        json={"node": "scale", "output_name": "people clean"},
    )
    assert run.status_code == 202, run.text
    job = live.wait_job(run.json()["job"], lambda j: j["status"] in FINISHED, timeout=120)
    assert job["status"] == "Completed", job
    out = live.api("GET", f"/api/v1/datasets/{job['outputs']['dataset']}/").json()
    assert (out["name"], out["status"], out["num_rows"]) == ("people clean", "Ready", 3000)
    logs = [line["message"] for line in live.api("GET", f"/api/v1/jobs/{job['id']}/logs/").json()]
    # Streamed where it can be: the fill and the scaler by batches, the custom code whole.
    assert any("scale (standard_scale): fitted on age2" in m for m in logs), logs
    assert any("code (custom_pandas): 3,000 rows, whole in memory" in m for m in logs), logs
    assert any("Wrote 3,000 rows" in m for m in logs), logs

    script = tmp_path / "people.py"
    script.write_bytes(live.api("GET", f"/api/v1/flows/{flow['id']}/export/?format=python").content)
    source = tmp_path / "people.parquet"
    source.write_bytes(
        live.api("GET", f"/api/v1/datasets/{dataset['id']}/download/?file=parquet").content
    )
    produced = tmp_path / "produced.parquet"
    produced.write_bytes(
        live.api("GET", f"/api/v1/datasets/{out['id']}/download/?file=parquet").content
    )
    result = subprocess.run(
        [sys.executable, str(script), "--source", f"src={source}", str(tmp_path / "mine.parquet")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "mine.parquet"), pd.read_parquet(produced)
    )


def test_a_flow_that_runs_out_of_its_memory_limit_fails_with_the_reason(live):
    dataset = ready_dataset(live, "small", "a\n1\n2\n")
    graph = {
        "nodes": [
            {"id": "src", "type": "source", "params": {"dataset": dataset["id"]}},
            {
                "id": "hog",
                "type": "custom_pandas",
                "params": {"code": "x = bytearray(64 * 1024**3)"},
            },
        ],
        "edges": [["src", "hog"]],
    }
    flow = live.api(
        "POST", "/api/v1/flows/", json={"project": live.project, "name": "Hog", "graph": graph}
    ).json()
    run = live.api(
        "POST", f"/api/v1/flows/{flow['id']}/run/", json={"node": "hog", "output_name": "x"}
    )
    job = live.wait_job(run.json()["job"], lambda j: j["status"] in FINISHED, timeout=120)
    assert job["status"] == "Failed"
    assert "MemoryError" in job["failure_reason"] or "memory" in job["failure_reason"]
