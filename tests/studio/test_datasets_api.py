"""Datasets over the API: upload, versions, preview, profile, downloads, bad files."""

from __future__ import annotations

import io
import os
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.models import Dataset, Job

pytestmark = pytest.mark.django_db


def test_uploading_a_csv_makes_a_ready_dataset_with_its_schema(upload, owner, project, csv_bytes):
    response = upload(owner, project, "customers.csv", csv_bytes)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {
        "id",
        "name",
        "version",
        "status",
        "format",
        "num_rows",
        "columns",
        "failure_reason",
        "created_at",
    } <= body.keys()
    assert body["name"] == "customers"
    assert body["version"] == 1
    assert body["format"] == "csv"
    dataset = Dataset.objects.get(pk=body["id"])
    assert dataset.status == "Ready"
    assert dataset.num_rows == 200
    dtypes = {c["name"]: (c["dtype"], c["nullable"]) for c in dataset.columns}
    assert dtypes["age"] == ("int64", True)  # gaps do not turn integers into floats
    assert dtypes["signup"][0].startswith("date")
    assert dtypes["churned"][0] == "bool"


def test_the_api_reports_pending_then_ready(api, upload, owner, project, csv_bytes):
    body = upload(owner, project, "c.csv", csv_bytes).json()
    again = api(owner).get(f"/api/v1/datasets/{body['id']}/").json()
    assert again["status"] == "Ready"
    assert again["num_rows"] == 200


def test_reuploading_a_name_makes_a_new_version(api, upload, owner, project, csv_bytes):
    first = upload(owner, project, "a.csv", csv_bytes, name="customers").json()
    second = upload(owner, project, "b.csv", csv_bytes, name="customers").json()
    assert (first["version"], second["version"]) == (1, 2)
    versions = api(owner).get(f"/api/v1/datasets/{second['id']}/versions/").json()
    assert [v["version"] for v in versions] == [2, 1]
    latest = api(owner).get(f"/api/v1/datasets/?project={project.pk}&latest=true").json()
    assert [d["version"] for d in latest["results"]] == [2]


def test_preview_returns_the_first_100_rows(api, upload, owner, project, csv_bytes):
    dataset = upload(owner, project, "c.csv", csv_bytes).json()
    preview = api(owner).get(f"/api/v1/datasets/{dataset['id']}/preview/").json()
    assert preview["columns"] == ["id", "age", "city", "signup", "churned"]
    assert len(preview["rows"]) == 100
    assert preview["rows"][0][0] == 0
    assert preview["rows"][0][1] is None
    assert preview["rows"][1][2] == "Lyon"


def test_a_profile_job_runs_after_ingestion(api, upload, owner, project, csv_bytes):
    dataset = upload(owner, project, "c.csv", csv_bytes).json()
    profile_job = Job.objects.get(kind="dataset_profile", inputs__dataset=dataset["id"])
    assert profile_job.status == "Completed"
    profile = api(owner).get(f"/api/v1/datasets/{dataset['id']}/profile/").json()
    age = next(c for c in profile["columns"] if c["name"] == "age")
    assert age["missing"] == 20
    assert age["histogram"]["counts"]
    assert sum(age["histogram"]["counts"]) == 180
    city = next(c for c in profile["columns"] if c["name"] == "city")
    assert {v["value"] for v in city["top_values"]} == {"Paris", "Lyon", "Nice"}


def test_every_tabular_format_is_ingested(upload, owner, project, tmp_path):
    table = pa.table({"x": [1, 2, 3], "y": ["a", "b", None]})
    pq.write_table(table, tmp_path / "t.parquet")
    files = {
        "t.tsv": b"x\ty\n1\ta\n2\tb\n3\t\n",
        "t.jsonl": b'{"x": 1, "y": "a"}\n{"x": 2, "y": "b"}\n{"x": 3, "y": null}\n',
        "t.parquet": (tmp_path / "t.parquet").read_bytes(),
    }
    for filename, content in files.items():
        body = upload(owner, project, filename, content).json()
        dataset = Dataset.objects.get(pk=body["id"])
        assert dataset.status == "Ready", (filename, dataset.failure_reason)
        assert dataset.num_rows == 3
        assert [c["name"] for c in dataset.columns] == ["x", "y"]


def png_bytes(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(buf, format="PNG")
    return buf.getvalue()


def test_a_zip_of_images_becomes_an_image_dataset_with_a_manifest(api, upload, owner, project):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("cats/1.png", png_bytes((255, 0, 0)))
        zf.writestr("cats/2.png", png_bytes((0, 255, 0)))
        zf.writestr("dogs/1.png", png_bytes((0, 0, 255)))
    body = upload(owner, project, "pets.zip", buf.getvalue()).json()
    dataset = Dataset.objects.get(pk=body["id"])
    assert dataset.status == "Ready", dataset.failure_reason
    assert dataset.format == "images"
    assert dataset.num_rows == 3
    preview = api(owner).get(f"/api/v1/datasets/{dataset.pk}/preview/").json()
    labels = sorted(row[preview["columns"].index("label")] for row in preview["rows"])
    assert labels == ["cats", "cats", "dogs"]


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("empty.csv", b"", "empty_file"),
        ("junk.csv", os.urandom(4096).replace(b"\n", b"\x00") + b"\x00", "binary_file"),
        ("data.exe", b"MZ\x90\x00", "unknown_format"),
        ("../../etc/passwd", b"root:x:0:0\n", "unknown_format"),
        ("fake.parquet", b"this is not parquet at all", "bad_parquet"),
        ("fake.zip", b"not a zip", "bad_zip"),
    ],
)
def test_bad_files_are_refused_at_upload_and_nothing_is_written(
    upload, owner, project, private_storage, filename, content, code
):
    response = upload(owner, project, filename, content)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == "file"
    assert error["message"]
    assert not Dataset.objects.exists()
    assert not [p for p in private_storage.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n"),
        ("quotes.csv", b'a,b\n1,"unterminated\n2,3\n'),
        ("bad.jsonl", b'{"a": 1}\n{"a": \n'),
    ],
)
def test_files_that_fail_to_parse_end_failed_with_a_reason(
    api, upload, owner, project, private_storage, filename, content
):
    response = upload(owner, project, filename, content)
    assert response.status_code == 201
    dataset = api(owner).get(f"/api/v1/datasets/{response.json()['id']}/").json()
    assert dataset["status"] == "Failed"
    assert dataset["failure_reason"]
    assert Job.objects.get(pk=dataset["ingest_job"]).status == "Failed"
    # No Parquet output is left half-written.
    assert not list(private_storage.rglob("*.parquet"))
    assert api(owner).get(f"/api/v1/datasets/{dataset['id']}/preview/").status_code == 409


def zip_with(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        zip_with("../../evil.png", png_bytes((1, 2, 3))),
        zip_with("/etc/evil.png", png_bytes((1, 2, 3))),
        zip_with("bomb.png", b"\0" * (80 << 20)),
    ],
    ids=["traversal", "absolute", "bomb"],
)
def test_hostile_zips_fail_and_nothing_lands_outside_storage(
    api, upload, owner, project, private_storage, tmp_path, content
):
    response = upload(owner, project, "evil.zip", content)
    assert response.status_code in (201, 400)
    if response.status_code == 201:
        dataset = api(owner).get(f"/api/v1/datasets/{response.json()['id']}/").json()
        assert dataset["status"] == "Failed"
        assert dataset["failure_reason"]
    outside = [p for p in tmp_path.rglob("evil*") if private_storage not in p.parents]
    assert outside == []
    assert not list(private_storage.rglob("*.png"))


def test_a_stranger_gets_404_on_datasets_of_another_project(
    api, upload, owner, project, outsider, csv_bytes
):
    dataset = upload(owner, project, "c.csv", csv_bytes).json()
    client = api(outsider)
    for url in ("", "preview/", "profile/", "versions/", "download/"):
        assert client.get(f"/api/v1/datasets/{dataset['id']}/{url}").status_code == 404, url
    assert client.delete(f"/api/v1/datasets/{dataset['id']}/").status_code == 404
    assert client.get(f"/api/v1/datasets/?project={project.pk}").status_code == 404
    assert client.get("/api/v1/datasets/").json()["results"] == []


def test_a_stranger_cannot_upload_into_another_project(upload, project, outsider, csv_bytes):
    assert upload(outsider, project, "c.csv", csv_bytes).status_code == 404
    assert not Dataset.objects.exists()


def test_a_labeler_gets_403_on_the_datasets_api(api, upload, owner, project, labeler, csv_bytes):
    dataset = upload(owner, project, "c.csv", csv_bytes).json()
    client = api(labeler)
    assert client.get(f"/api/v1/datasets/{dataset['id']}/").status_code == 403
    assert client.get(f"/api/v1/datasets/?project={project.pk}").status_code == 403
    assert upload(labeler, project, "c.csv", csv_bytes).status_code == 403


def test_a_viewer_reads_but_cannot_upload_or_delete(api, upload, owner, project, viewer, csv_bytes):
    dataset = upload(owner, project, "c.csv", csv_bytes).json()
    assert api(viewer).get(f"/api/v1/datasets/{dataset['id']}/preview/").status_code == 200
    assert upload(viewer, project, "c.csv", csv_bytes).status_code == 403
    assert api(viewer).delete(f"/api/v1/datasets/{dataset['id']}/").status_code == 403


def test_downloads_are_attachments_never_inline(api, upload, owner, project):
    dataset = upload(owner, project, "page.csv", b"html\n<script>alert(1)</script>\n").json()
    response = api(owner).get(f"/api/v1/datasets/{dataset['id']}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content).startswith(b"html")


def test_unknown_filters_are_refused(api, owner, project):
    response = api(owner).get(f"/api/v1/datasets/?project={project.pk}&created_by__password=x")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_filter"


def test_deleting_a_dataset_removes_its_files(
    api, upload, owner, project, private_storage, csv_bytes, on_commit
):
    dataset = upload(owner, project, "c.csv", csv_bytes).json()
    assert list(private_storage.rglob("*.parquet"))
    with on_commit(execute=True):
        response = api(owner).delete(f"/api/v1/datasets/{dataset['id']}/")
    assert response.status_code == 204
    assert not Dataset.objects.filter(pk=dataset["id"]).exists()
    assert not [p for p in private_storage.rglob("*") if p.is_file()]
