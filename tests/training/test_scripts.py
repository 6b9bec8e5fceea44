"""Bring-your-own training scripts: SageMaker's contract (channels, hyperparameters as
arguments and environment, the model folder), metrics read from the output by regular
expressions, limits enforced, secrets absent; bad uploads refused before anything runs."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import pytest

from studio import storage
from studio.models import Job, JobMetric
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

TRAIN = """
import argparse, json, os, sys
import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--lr", type=float)
parser.add_argument("--note", type=str)
args = parser.parse_args()

assert "DATABASE_URL" not in os.environ and "SECRET_KEY" not in os.environ
assert "REDIS_URL" not in os.environ
assert json.loads(os.environ["SM_CHANNELS"]) == ["train"]
assert json.loads(os.environ["SM_HPS"]) == {"epochs": 3, "lr": 0.5, "note": "hello world"}
assert os.environ["SM_HP_LR"] == "0.5" and os.environ["SM_NUM_GPUS"] == "0"
df = pd.read_parquet(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.parquet"))
print(f"rows={len(df)} note={args.note}")
for epoch in range(args.epochs):
    print(f"epoch={epoch} train_loss={1.0 / (epoch + 1):.3f} val_acc={0.5 + 0.1 * epoch:.2f}")
print("val_auc: 0.91", file=sys.stderr)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.json"), "w") as f:
    json.dump({"lr": args.lr, "rows": len(df)}, f)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt"), "w") as f:
    f.write("done")
"""

DEFINITIONS = [
    {"name": "train:loss", "regex": r"train_loss=([0-9.]+)"},
    {"name": "validation:acc", "regex": r"val_acc=([0-9.]+)"},
    {"name": "validation:auc", "regex": r"val_auc: ([0-9.]+)"},
]


@pytest.fixture
def dataset(owner, project, upload, csv_bytes):
    return upload(owner, project, "people.csv", csv_bytes).json()["id"]


def submit(api, user, project, filename, content, **fields):
    source = io.BytesIO(content)
    source.name = filename
    data = {"project": project.pk, "name": "my script", "algorithm": "script", "source": source}
    for key, value in fields.items():
        data[key] = json.dumps(value) if isinstance(value, dict | list) else value
    return api(user).post("/api/v1/training-jobs/", data, format="multipart")


def test_a_script_trains_with_sagemakers_contract_and_its_metrics_are_read(
    api, member, project, dataset, on_commit
):
    with on_commit(execute=True):
        response = submit(
            api,
            member,
            project,
            "train.py",
            TRAIN.encode(),
            channels={"train": dataset},
            hyperparameters={"epochs": 3, "lr": 0.5, "note": "hello world"},
            metric_definitions=DEFINITIONS,
        )
    assert response.status_code == 201, response.content
    training = TrainingJob.objects.get(pk=response.json()["id"])
    job = training.job
    assert job.status == "Completed", job.failure_reason
    assert job.kind == "training.script"
    assert training.final_metrics == {
        "train:loss": 0.333,
        "validation:acc": 0.7,
        "validation:auc": 0.91,
    }
    accuracy = JobMetric.objects.filter(job=job, name="validation:acc").order_by("step")
    assert [(m.step, m.value) for m in accuracy] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert job.logs.filter(message="rows=200 note=hello world").exists()

    with tarfile.open(fileobj=storage.open_read(training.model_artifact_key), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "weights.json"]
        weights = json.loads(tar.extractfile("weights.json").read())
        metadata = json.loads(tar.extractfile("metadata.json").read())
    assert weights == {"lr": 0.5, "rows": 200}
    assert metadata["entry_point"] == "train.py" and metadata["metrics"]["validation:acc"] == 0.7
    assert job.outputs["output_data"] == f"jobs/{job.pk}/output.tar.gz"
    got = api(member).get(f"/api/v1/training-jobs/{training.pk}/").json()
    assert got["metric_definitions"] == DEFINITIONS and got["entry_point"] == "train.py"


def test_a_zipped_project_runs_its_entry_point_with_its_own_modules(
    api, member, project, dataset, on_commit
):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/__init__.py", "")
        z.writestr("pkg/model.py", "def score():\n    return 0.75\n")
        z.writestr(
            "src/main.py",
            "import sys, os\n"
            "sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
            "from pkg.model import score\n"
            "print(f'score={score()}')\n",
        )
    with on_commit(execute=True):
        response = submit(
            api,
            member,
            project,
            "code.zip",
            archive.getvalue(),
            entry_point="src/main.py",
            metric_definitions=[{"name": "train:score", "regex": r"score=([0-9.]+)"}],
        )
    assert response.status_code == 201, response.content
    training = TrainingJob.objects.get(pk=response.json()["id"])
    assert training.job.status == "Completed", training.job.failure_reason
    assert training.final_metrics == {"train:score": 0.75}
    assert training.model_artifact_key  # the metadata alone, since the script saved nothing


@pytest.mark.parametrize(
    ("code", "limit", "expected"),
    [
        ("print('about to fail')\nraise RuntimeError('boom')\n", None, "RuntimeError: boom"),
        (
            "import sys\nsys.stdout.buffer.write(bytes(range(256)) + b'\\n')\nsys.exit(3)\n",
            None,
            "exited with status 3",
        ),
        ("import time\nprint('waiting', flush=True)\ntime.sleep(60)\n", 2, "time limit"),
        ("x = bytearray(6 * 1024 ** 3)\n", None, "ran out of memory"),
    ],
    ids=["crash", "garbage", "hang", "memory"],
)
def test_a_script_that_crashes_hangs_or_overreaches_fails_with_the_reason(
    code, limit, expected, api, member, project, on_commit
):
    fields = {"max_runtime_seconds": limit} if limit else {}
    with on_commit(execute=True):
        response = submit(api, member, project, "train.py", code.encode(), **fields)
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["job"])
    assert job.status == "Failed"
    assert expected in job.failure_reason, job.failure_reason


BAD = [
    ({"source": None}, "source"),
    ({"filename": "notes.txt"}, "source"),
    ({"content": b"def broken(:\n"}, "source"),
    ({"filename": "code.zip", "content": b"not a zip"}, "source"),
    ({"filename": "code.zip", "content": "zip:../evil.py", "entry_point": "../evil.py"}, "source"),
    ({"filename": "code.zip", "content": "zip:main.py", "entry_point": "other.py"}, "entry_point"),
    ({"filename": "code.zip", "content": "zip:main.py"}, "entry_point"),
    (
        {"metric_definitions": [{"name": "acc", "regex": "acc=[0-9.]+"}]},
        "metric_definitions.0.regex",
    ),
    ({"metric_definitions": [{"name": "acc", "regex": "acc=(["}]}, "metric_definitions.0.regex"),
    ({"metric_definitions": [{"name": "a b", "regex": "(x)"}]}, "metric_definitions.0.name"),
    ({"metric_definitions": {"name": "acc"}}, "metric_definitions"),
    ({"hyperparameters": {"lr": [1, 2]}}, "hyperparameters.lr"),
    ({"channels": {"9bad": 1}}, "channels.9bad"),
    ({"target": "y"}, "target"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_scripts_are_refused_with_the_field_and_nothing_stored(
    change, field, api, member, project, private_storage
):
    change = dict(change)
    filename = change.pop("filename", "train.py")
    content = change.pop("content", b"print('hi')\n")
    if isinstance(content, str):  # "zip:<member>": a zip holding that one file
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr(content.split(":", 1)[1], "print('hi')\n")
        content = archive.getvalue()
    if change.pop("source", "given") is None:
        data = {"project": project.pk, "name": "x", "algorithm": "script"}
        response = api(member).post("/api/v1/training-jobs/", data, format="multipart")
    else:
        response = submit(api, member, project, filename, content, **change)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field, response.json()
    assert not TrainingJob.objects.exists() and not Job.objects.filter(kind="training.script")
    assert not list(private_storage.rglob("source.*"))


def test_a_built_in_algorithm_takes_no_source(api, member, project, dataset):
    response = submit(api, member, project, "train.py", b"print(1)\n", channels={"train": dataset})
    assert response.status_code == 201  # algorithm "script" in submit(): the baseline
    source = io.BytesIO(b"print(1)\n")
    source.name = "train.py"
    refused = api(member).post(
        "/api/v1/training-jobs/",
        {
            "project": project.pk,
            "name": "x",
            "algorithm": "kmeans",
            "channels": json.dumps({"train": dataset}),
            "source": source,
        },
        format="multipart",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "source"
