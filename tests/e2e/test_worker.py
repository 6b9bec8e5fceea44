"""End to end with real processes: upload → ingest → profile, and recovery from dead workers."""

from __future__ import annotations

import signal
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FINISHED = {"Completed", "Failed", "Stopped"}


def test_an_upload_is_ingested_and_profiled_by_a_real_worker(live):
    rows = "\n".join(f"{i},{i * 0.5},{'abc'[i % 3]}" for i in range(5000))
    response = live.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": live.project},
        files={"file": ("numbers.csv", f"n,half,letter\n{rows}\n".encode())},
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    # The upload answers once the file is stored; a quick worker may have ingested it
    # before the answer is written.
    assert dataset["status"] in ("Pending", "Ready")
    ingest = live.wait_job(dataset["ingest_job"], lambda j: j["status"] in FINISHED)
    assert ingest["status"] == "Completed", ingest
    dataset = live.api("GET", f"/api/v1/datasets/{dataset['id']}/").json()
    assert (dataset["status"], dataset["num_rows"]) == ("Ready", 5000)
    profile_job = dataset["profile_job"]
    assert profile_job
    live.wait_job(profile_job, lambda j: j["status"] == "Completed")
    profile = live.api("GET", f"/api/v1/datasets/{dataset['id']}/profile/").json()
    half = next(c for c in profile["columns"] if c["name"] == "half")
    assert half["max"] == pytest.approx(2499.5)


def test_a_job_survives_its_worker_being_killed(live):
    job = live.submit("diagnostic.sleep", seconds=6)
    live.wait_job(job["id"], lambda j: j["status"] == "Running" and j["progress"] > 0.05)
    live.stack.kill("worker", signal.SIGKILL)  # the whole worker: main process and pool
    killed_at = time.monotonic()
    live.start_worker("worker")
    done = live.wait_job(job["id"], lambda j: j["status"] in FINISHED, timeout=90)
    recovered_in = time.monotonic() - killed_at
    assert done["status"] == "Completed", done
    assert done["attempts"] == 2
    assert recovered_in < 60
    logs = live.api("GET", f"/api/v1/jobs/{job['id']}/logs/").json()
    assert any("stopped responding" in line["message"] for line in logs)


def test_a_job_that_kills_its_worker_fails_after_the_attempt_cap(live):
    job = live.submit("diagnostic.crash")
    done = live.wait_job(job["id"], lambda j: j["status"] in FINISHED, timeout=150)
    assert done["status"] == "Failed"
    assert done["attempts"] == done["max_attempts"] == 3
    assert "attempt" in done["failure_reason"]
    # The worker pool survived its children being killed and still runs jobs.
    ok = live.submit("diagnostic.noop")
    assert live.wait_job(ok["id"], lambda j: j["status"] in FINISHED)["status"] == "Completed"


def test_stop_reaches_a_running_job(live):
    job = live.submit("diagnostic.sleep", seconds=30)
    live.wait_job(job["id"], lambda j: j["status"] == "Running")
    stopped = live.api("POST", f"/api/v1/jobs/{job['id']}/stop/").json()
    assert stopped["status"] == "Stopping"
    done = live.wait_job(job["id"], lambda j: j["status"] in FINISHED, timeout=20)
    assert done["status"] == "Stopped"
