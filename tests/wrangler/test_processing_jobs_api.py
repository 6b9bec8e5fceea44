"""``/api/v1/processing-jobs/``: a user's script or a flow over datasets, outputs to datasets."""

from __future__ import annotations

import pandas as pd
import pytest

from studio import storage
from studio.models import Dataset, Job
from wrangler.engine import parse_flow, run_flow

pytestmark = pytest.mark.django_db

SCRIPT = """
import os, json
import pandas as pd
base = os.environ["SEXTANT_PROCESSING_DIR"]
df = pd.read_parquet(f"{base}/input/customers/data.parquet")
print(json.dumps({"progress": 0.5, "message": f"read {len(df)} rows"}))
adults = df[df["age"] >= 40]
adults.to_parquet(f"{base}/output/adults/part-0.parquet", index=False)
counts = df.groupby("city").size().rename("n").reset_index()
counts.to_csv(f"{base}/output/cities/c.csv", index=False)
assert "DATABASE_URL" not in os.environ and "SECRET_KEY" not in os.environ
"""


@pytest.fixture
def dataset(owner, project, upload, csv_bytes):
    response = upload(owner, project, "customers.csv", csv_bytes)
    return Dataset.objects.get(pk=response.json()["id"])


def submit(api, user, project, **body):
    return api(user).post(
        "/api/v1/processing-jobs/", {"project": project.pk, **body}, format="json"
    )


def run_flow_job(api, user, project, on_commit, graph, *, node, output_name):
    """Save ``graph`` as a flow and run it up to ``node`` as a processing job, to the end."""
    flow = (
        api(user)
        .post("/api/v1/flows/", {"project": project.pk, "name": "f", "graph": graph}, format="json")
        .json()
    )
    with on_commit(execute=True):
        response = submit(api, user, project, flow=flow["id"], node=node, output_name=output_name)
    assert response.status_code == 201, response.content
    return Job.objects.get(pk=response.json()["id"])


def test_a_script_reads_its_inputs_and_each_output_folder_becomes_a_dataset(
    api, member, project, dataset, on_commit
):
    with on_commit(execute=True):
        response = submit(
            api,
            member,
            project,
            script=SCRIPT,
            inputs={"customers": dataset.pk},
            outputs={"adults": "adults", "cities": "city counts"},
        )
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "Completed", job.failure_reason
    assert job.kind == "processing.script" and job.queue == "cpu"
    adults = Dataset.objects.get(pk=job.outputs["datasets"]["adults"]["dataset"])
    cities = Dataset.objects.get(pk=job.outputs["datasets"]["cities"]["dataset"])
    assert adults.status == "Ready" and 0 < adults.num_rows < 200
    assert (cities.name, cities.num_rows) == ("city counts", 3)
    logs = [line.message for line in job.logs.all()]
    assert "read 200 rows" in logs
    detail = api(member).get(f"/api/v1/processing-jobs/{job.pk}/").json()
    assert detail["outputs"]["datasets"]["cities"]["name"] == "city counts"
    listed = api(member).get(f"/api/v1/processing-jobs/?project={project.pk}").json()["results"]
    assert [j["id"] for j in listed] == [job.pk]


def test_a_failing_script_fails_the_job_with_its_error(api, member, project, dataset, on_commit):
    with on_commit(execute=True):
        response = submit(api, member, project, script="raise SystemExit('no luck here')")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "Failed"
    assert "no luck here" in job.failure_reason


@pytest.mark.parametrize(
    "body, field",
    [
        ({"script": "def broken(:"}, "script"),
        ({"script": "x = 1", "inputs": {"../etc": 1}}, "inputs.../etc"),
        ({"script": "x = 1", "inputs": {"a": 999999}}, "inputs.a"),
        ({"script": "x = 1", "outputs": {"a": "../../passwd"}}, "outputs.a"),
        ({}, "flow"),
    ],
)
def test_bad_requests_are_refused_with_the_field_at_fault(api, member, project, body, field):
    response = submit(api, member, project, **body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not Job.objects.filter(kind__startswith="processing").exists()


def test_a_flow_runs_as_a_processing_job(api, member, project, dataset, on_commit):
    graph = {
        "nodes": [
            {"id": "s", "type": "source", "params": {"dataset": dataset.pk}},
            {"id": "d", "type": "drop_missing", "params": {"columns": ["age"]}},
        ],
        "edges": [["s", "d"]],
    }
    job = run_flow_job(api, member, project, on_commit, graph, node="d", output_name="no gaps")
    assert job.status == "Completed", job.failure_reason
    assert Dataset.objects.get(pk=job.outputs["dataset"]).num_rows == 180


def test_whole_table_steps_of_a_flow_job_run_on_dask(api, member, project, dataset, on_commit):
    graph = {
        "nodes": [
            {"id": "s", "type": "source", "params": {"dataset": dataset.pk}},
            {"id": "f", "type": "fill_missing", "params": {"columns": ["age"], "strategy": "mean"}},
            {"id": "o", "type": "sort", "params": {"columns": ["age"], "ascending": False}},
            {
                "id": "g",
                "type": "group_by",
                "params": {
                    "by": ["city"],
                    "aggregations": [
                        {"column": "age", "func": "median", "as": "median_age"},
                        {"column": "id", "func": "first", "as": "oldest"},
                    ],
                },
            },
        ],
        "edges": [["s", "f"], ["f", "o"], ["o", "g"]],
    }
    job = run_flow_job(api, member, project, on_commit, graph, node="g", output_name="cities")
    assert job.status == "Completed", job.failure_reason
    logs = [line.message for line in job.logs.all()]
    assert "Starting Dask on a local cluster." in logs
    assert "o (sort): on Dask, handed on to g." in logs
    assert any(m.startswith("g (group_by): 3 rows, on Dask") for m in logs), logs
    out = Dataset.objects.get(pk=job.outputs["dataset"])
    with storage.open_local(out.data_key) as path:
        got = pd.read_parquet(path)
    with storage.open_local(dataset.data_key) as path:
        source = pd.read_parquet(path)
    expected, _ = run_flow(parse_flow(graph), "g", load_source=lambda node: source)
    pd.testing.assert_frame_equal(got, expected)
    assert got["city"].tolist() == ["Lyon", "Nice", "Paris"]


def test_strangers_and_viewers_cannot_run_or_see_processing_jobs(
    api, member, viewer, outsider, project, dataset, on_commit
):
    assert submit(api, viewer, project, script="x = 1").status_code == 403
    assert submit(api, outsider, project, script="x = 1").status_code == 404
    with on_commit(execute=True):
        job_id = submit(api, member, project, script="x = 1").json()["id"]
    assert api(outsider).get(f"/api/v1/processing-jobs/{job_id}/").status_code == 404
    assert api(viewer).get(f"/api/v1/processing-jobs/{job_id}/").status_code == 200
    noop = (
        api(member)
        .post("/api/v1/jobs/", {"project": project.pk, "kind": "diagnostic.noop"}, format="json")
        .json()
    )
    assert api(member).get(f"/api/v1/processing-jobs/{noop['id']}/").status_code == 404
