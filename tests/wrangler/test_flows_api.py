"""``/api/v1/flows/``: CRUD with versions, previews, runs as processing jobs, exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from studio.models import Dataset, Job
from wrangler.engine import parse_flow, run_flow
from wrangler.models import Flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(owner, project, upload, csv_bytes):
    response = upload(owner, project, "customers.csv", csv_bytes)
    assert response.status_code == 201, response.content
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert dataset.status == "Ready", dataset.failure_reason
    return dataset


def simple_flow(dataset_id: int) -> dict:
    return {
        "nodes": [
            {"id": "n1", "type": "source", "params": {"dataset": dataset_id}},
            {
                "id": "n2",
                "type": "lag_features",
                "params": {"columns": ["age"], "lags": ["1", "2"], "order_by": "id"},
            },
            {
                "id": "n3",
                "type": "pivot",
                "params": {"index": ["signup"], "columns": "city", "values": "age"},
            },
        ],
        "edges": [["n1", "n2"], ["n2", "n3"]],
    }


def make_cycle(graph: dict) -> None:
    # n2 (two inputs) reads n1 and n3, and n3 reads n2.
    graph["nodes"][1] = {"id": "n2", "type": "concat", "params": {}}
    graph["edges"].append(["n3", "n2"])


def create(api, user, project, graph, name="Clean customers"):
    return api(user).post(
        "/api/v1/flows/", {"project": project.pk, "name": name, "graph": graph}, format="json"
    )


def test_a_scientist_creates_a_flow_and_each_graph_change_is_a_new_version(
    api, member, project, dataset
):
    response = create(api, member, project, simple_flow(dataset.pk))
    assert response.status_code == 201, response.content
    flow = response.json()
    assert flow["version"] == 1 and flow["graph"]["nodes"][0]["type"] == "source"

    changed = simple_flow(dataset.pk)
    changed["nodes"][1]["params"]["lags"] = ["3"]
    response = api(member).patch(f"/api/v1/flows/{flow['id']}/", {"graph": changed}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    renamed = api(member).patch(f"/api/v1/flows/{flow['id']}/", {"name": "New"}, format="json")
    assert renamed.json()["version"] == 2  # a rename is not a new version of the graph

    versions = api(member).get(f"/api/v1/flows/{flow['id']}/versions/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["graph"]["nodes"][1]["params"]["lags"] == ["1", "2"]
    listed = api(member).get(f"/api/v1/flows/?project={project.pk}").json()["results"]
    assert [f["name"] for f in listed] == ["New"]


@pytest.mark.parametrize(
    "mutate, node, message",
    [
        (make_cycle, None, "cycle"),
        (lambda g: g["nodes"][1].update(type="teleport"), "n2", "Unknown node type"),
        (lambda g: g["nodes"][1]["params"].update(columns=["salary"]), "n2", "salary"),
        (lambda g: g["nodes"][2]["params"].update(index="signup"), "n3", "index"),
        (lambda g: g["nodes"][1]["params"].update(window=3), "n2", "no parameter"),
        (lambda g: g["edges"].pop(), "n3", "Connect an input"),
    ],
    ids=[
        "cycle",
        "unknown type",
        "missing column",
        "wrong parameter type",
        "unknown param",
        "no input",
    ],
)
def test_an_invalid_graph_is_refused_with_the_node_at_fault(
    api, member, project, dataset, mutate, node, message
):
    graph = simple_flow(dataset.pk)
    mutate(graph)
    response = create(api, member, project, graph)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_flow"
    assert message in error["message"]
    if node is None:
        assert error["node"] in ("n2", "n3")
    else:
        assert error["node"] == node
    assert not Flow.objects.exists()


def test_a_source_must_be_a_ready_dataset_of_the_same_project(
    api, member, outsider, project, other_project, upload, csv_bytes
):
    theirs = upload(outsider, other_project, "theirs.csv", csv_bytes).json()["id"]
    response = create(api, member, project, simple_flow(theirs))
    assert response.status_code == 400
    assert response.json()["error"]["node"] == "n1"
    assert response.json()["error"]["field"] == "graph.nodes.n1.dataset"


def test_preview_shows_a_nodes_output_with_its_schema_and_column_summaries(
    api, member, project, dataset
):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    response = api(member).post(
        f"/api/v1/flows/{flow['id']}/preview/", {"node": "n2"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["columns"][-2:] == ["age_lag_1", "age_lag_2"]
    assert body["num_rows"] == 200 and len(body["rows"]) == 100
    assert {"name": "age_lag_1", "dtype": "float64"} in body["schema"]
    # The first row has no earlier row: its lag is null, not NaN (JSON has no NaN).
    assert body["rows"][0][body["columns"].index("age_lag_1")] is None
    assert body["summary"]["age"]["missing"] == 20
    assert sum(body["summary"]["age"]["histogram"]["counts"]) == 180
    assert body["summary"]["city"]["top"][0]["count"] == 67

    sampled = (
        api(member)
        .post(
            f"/api/v1/flows/{flow['id']}/preview/",
            {"node": "n1", "sample": {"mode": "random", "rows": 50, "seed": 3}},
            format="json",
        )
        .json()
    )
    assert sampled["num_rows"] == 50
    strat = (
        api(member)
        .post(
            f"/api/v1/flows/{flow['id']}/preview/",
            {"node": "n1", "sample": {"mode": "stratified", "rows": 60, "column": "city"}},
            format="json",
        )
        .json()
    )
    cities = strat["summary"]["city"]["top"]
    assert {c["value"] for c in cities} == {"Paris", "Lyon", "Nice"}
    assert max(c["count"] for c in cities) - min(c["count"] for c in cities) <= 3


def test_preview_of_a_missing_node_or_a_bad_sample_is_a_400(api, member, project, dataset):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    url = f"/api/v1/flows/{flow['id']}/preview/"
    missing = api(member).post(url, {"node": "n9"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["node"] == "n9"
    bad = api(member).post(url, {"node": "n2", "sample": {"mode": "sideways"}}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "sample.mode"


def test_a_stranger_gets_404_and_a_viewer_may_read_but_not_change(
    api, member, viewer, outsider, labeler, project, dataset
):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    url = f"/api/v1/flows/{flow['id']}/"
    assert api(outsider).get(url).status_code == 404
    assert api(outsider).post(url + "preview/", {"node": "n2"}, format="json").status_code == 404
    assert api(outsider).get(url + "export/?format=python").status_code == 404
    assert api(outsider).get(f"/api/v1/flows/?project={project.pk}").status_code == 404
    assert api(outsider).get("/api/v1/flows/").json()["results"] == []
    assert api(labeler).get(url).status_code == 403
    assert api(viewer).get(url).status_code == 200
    assert api(viewer).patch(url, {"name": "x"}, format="json").status_code == 403
    assert api(viewer).delete(url).status_code == 403
    run = api(viewer).post(url + "run/", {"node": "n3", "output_name": "x"}, format="json")
    assert run.status_code == 403
    assert api(member).delete(url).status_code == 204
    assert api(member).get(url).status_code == 404


def test_the_transforms_catalog_lists_every_type_with_its_parameters(api, member):
    body = api(member).get("/api/v1/flows/transforms/").json()
    types = {t["type"]: t for t in body["transforms"]}
    assert types["join"]["inputs"] == 2
    assert {"name": "how", "kind": "choice"}.items() <= types["join"]["params"][0].items()
    assert types["pivot"]["fitted"] is True


def test_running_a_flow_makes_a_new_dataset_and_keeps_the_fitted_state(
    api, member, project, dataset, on_commit
):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    with on_commit(execute=True):
        response = api(member).post(
            f"/api/v1/flows/{flow['id']}/run/",
            {"node": "n3", "output_name": "by day"},
            format="json",
        )
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"])
    assert job.status == "Completed", job.failure_reason
    assert job.kind == "processing.flow"
    out = Dataset.objects.get(pk=job.outputs["dataset"])
    assert (out.name, out.status, out.project_id) == ("by day", "Ready", project.pk)
    assert [c["name"] for c in out.columns] == ["signup", "city_Lyon", "city_Nice", "city_Paris"]
    assert out.num_rows == 28
    states = job.artifacts.get(name="flow_states.json")
    assert states.size > 0
    preview = api(member).get(f"/api/v1/datasets/{out.pk}/preview/").json()
    assert preview["columns"][0] == "signup"


def test_a_run_refuses_a_bad_output_name_or_a_source_node(api, member, project, dataset):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    url = f"/api/v1/flows/{flow['id']}/run/"
    bad = api(member).post(url, {"node": "n3", "output_name": "../etc"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "output_name"
    source = api(member).post(url, {"node": "n1", "output_name": "ok"}, format="json")
    assert source.status_code == 400 and source.json()["error"]["field"] == "node"
    assert not Job.objects.filter(kind="processing.flow").exists()


def test_the_exported_script_reproduces_the_jobs_output(
    api, member, project, dataset, on_commit, tmp_path
):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    with on_commit(execute=True):
        job_id = (
            api(member)
            .post(
                f"/api/v1/flows/{flow['id']}/run/",
                {"node": "n3", "output_name": "out"},
                format="json",
            )
            .json()["job"]
        )
    job = Job.objects.get(pk=job_id)
    produced = Dataset.objects.get(pk=job.outputs["dataset"])

    response = api(member).get(f"/api/v1/flows/{flow['id']}/export/?format=python&node=n3")
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == 'attachment; filename="clean_customers.py"'
    script = tmp_path / "flow.py"
    script.write_bytes(response.content)
    source = tmp_path / "source.parquet"
    from studio import storage

    with storage.open_local(dataset.data_key) as path:
        source.write_bytes(Path(path).read_bytes())
    with storage.open_local(produced.data_key) as path:
        expected = pd.read_parquet(path)
    out = tmp_path / "out.parquet"
    # A fresh interpreter in an empty folder: the script needs nothing of Sextant.
    result = subprocess.run(
        [sys.executable, str(script), "--source", f"n1={source}", str(out)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)

    notebook = api(member).get(f"/api/v1/flows/{flow['id']}/export/?format=notebook")
    assert notebook.status_code == 200
    nb = nbformat.reads(notebook.content.decode(), as_version=4)
    nbformat.validate(nb)
    assert any("def pivot(" in cell.source for cell in nb.cells)
    wrong = api(member).get(f"/api/v1/flows/{flow['id']}/export/?format=xlsx")
    assert wrong.status_code == 400 and wrong["Content-Type"] == "application/json"
    assert wrong.json()["error"]["field"] == "format"


@pytest.mark.django_db(transaction=True)
def test_a_node_after_custom_code_is_previewed_by_a_worker_not_the_web_process(
    api, member, project, upload, csv_bytes, monkeypatch
):
    dataset_id = upload(member, project, "people.csv", csv_bytes).json()["id"]
    graph = {
        "nodes": [
            {"id": "s", "type": "source", "params": {"dataset": dataset_id}},
            {"id": "c", "type": "custom_pandas", "params": {"code": "df = df.assign(k=1)"}},
        ],
        "edges": [["s", "c"]],
    }
    flow = create(api, member, project, graph).json()
    # The web process itself refuses to run custom code...
    with pytest.raises(Exception, match="only in a worker"):
        run_flow(parse_flow(graph), "c", load_source=lambda n: None)
    # ...so the preview comes from a job (run inline here, in a subprocess as on a worker).
    response = api(member).post(
        f"/api/v1/flows/{flow['id']}/preview/", {"node": "c"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["columns"][-1] == "k"
    job = Job.objects.get(kind="wrangler.preview")
    assert job.status == "Completed" and job.queue == "default"


def test_analyses_of_a_node_are_charts_and_tables(api, member, project, dataset):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    url = f"/api/v1/flows/{flow['id']}/analyses/"
    hist = api(member).post(
        url, {"node": "n2", "kind": "histogram", "params": {"column": "age"}}, format="json"
    )
    assert hist.status_code == 200, hist.content
    body = hist.json()
    assert body["kind"] == "histogram" and body["num_rows"] == 200
    assert body["figures"][0]["data"][0]["type"] in ("histogram", "bar")
    summary = api(member).post(url, {"node": "n1", "kind": "summary"}, format="json").json()
    assert "age" in [row[0] for row in summary["table"]["rows"]]
    corr = api(member).post(
        url, {"node": "n2", "kind": "correlation", "params": {"method": "spearman"}}, format="json"
    )
    assert corr.status_code == 200 and corr.json()["figures"][0]["data"][0]["type"] == "heatmap"


def test_a_bad_analysis_is_a_400_naming_what_to_fix(api, member, outsider, project, dataset):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    url = f"/api/v1/flows/{flow['id']}/analyses/"
    unknown = api(member).post(url, {"node": "n2", "kind": "tarot"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "kind"
    missing = api(member).post(
        url, {"node": "n2", "kind": "histogram", "params": {"column": "salary"}}, format="json"
    )
    assert missing.status_code == 400
    assert "salary" in missing.json()["error"]["message"]
    assert missing.json()["error"]["field"] == "params"
    stranger = api(outsider).post(url, {"node": "n2", "kind": "summary"}, format="json")
    assert stranger.status_code == 404


def test_the_insights_report_recommends_a_transform_for_each_fixable_finding(
    api, member, project, dataset
):
    flow = create(api, member, project, simple_flow(dataset.pk)).json()
    response = api(member).post(
        f"/api/v1/flows/{flow['id']}/analyses/",
        {"node": "n1", "kind": "insights", "params": {"target": "churned"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    report = response.json()["report"]
    assert report["summary"]["rows"] == 200
    missing = next(f for f in report["findings"] if f["id"] == "missing_values:age")
    assert missing["severity"] == "medium"
    assert missing["recommendation"]["type"] == "fill_missing"
    assert missing["recommendation"]["params"]["columns"] == ["age"]
    # The recommended node is valid as it is: a flow with it saves.
    graph = simple_flow(dataset.pk)
    graph["nodes"].append({"id": "fix", **missing["recommendation"]})
    graph["nodes"][-1].pop("title")
    graph["edges"].append(["n1", "fix"])
    saved = api(member).patch(f"/api/v1/flows/{flow['id']}/", {"graph": graph}, format="json")
    assert saved.status_code == 200, saved.content


@pytest.mark.django_db(transaction=True)
def test_a_node_after_custom_code_is_analysed_by_a_worker_too(
    api, member, project, upload, csv_bytes
):
    dataset_id = upload(member, project, "people.csv", csv_bytes).json()["id"]
    graph = {
        "nodes": [
            {"id": "s", "type": "source", "params": {"dataset": dataset_id}},
            {"id": "c", "type": "custom_pandas", "params": {"code": "df['age2'] = df['age'] * 2"}},
        ],
        "edges": [["s", "c"]],
    }
    flow = create(api, member, project, graph).json()
    url = f"/api/v1/flows/{flow['id']}/analyses/"
    hist = api(member).post(
        url, {"node": "c", "kind": "histogram", "params": {"column": "age2"}}, format="json"
    )
    assert hist.status_code == 200, hist.content
    assert hist.json()["num_rows"] == 200 and hist.json()["figures"]
    bad = api(member).post(
        url, {"node": "c", "kind": "histogram", "params": {"column": "nope"}}, format="json"
    )
    assert bad.status_code == 400 and "nope" in bad.json()["error"]["message"]
    assert bad.json()["error"]["field"] == "params"
    assert Job.objects.filter(kind="wrangler.preview", status="Completed").count() == 2
