"""The training pages: the list, the form (and its clone), a job's page; strangers get 404."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from training.services import training_job_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def training(owner, project, upload, on_commit):
    rows = "\n".join(f"{i},{i % 7},{'ab'[i % 2]}" for i in range(200))
    dataset = upload(owner, project, "d.csv", f"id,x,label\n{rows}\n".encode()).json()["id"]
    with on_commit(execute=True):
        return training_job_create(
            project=project,
            user=owner,
            name="labels rf",
            algorithm="random-forest",
            channels={"train": dataset},
            target="label",
            hyperparameters={"num_trees": 10},
        )


def test_the_list_shows_the_job_with_its_key_metric(client, owner, training):
    client.force_login(owner)
    html = client.get(reverse("training-job-list")).content.decode()
    assert "labels rf" in html and "train:auc" in html
    assert f'href="{reverse("training-job-detail", args=[training.pk])}"' in html
    assert 'href="/training-jobs/"' in html  # the sidebar's entry is live


def test_the_job_page_shows_metrics_hyperparameters_lineage_and_the_model(client, owner, training):
    client.force_login(owner)
    training.refresh_from_db()
    html = client.get(reverse("training-job-detail", args=[training.pk])).content.decode()
    assert training.job.status == "Completed", training.job.failure_reason
    assert "binary classification" in html
    assert re.search(r"<td class=\"mono\">num_trees</td><td class=\"mono num\">10</td>", html)
    assert reverse("api-training-job-model", args=[training.pk]) in html
    assert "Clone and edit" in html and f"?from={training.pk}" in html
    series = json.loads(re.search(r'id="training-series"[^>]*>(.*?)</script>', html).group(1))
    assert series == {}  # a forest reports no metric per round


def test_the_form_starts_as_a_copy_when_cloning(client, owner, training):
    client.force_login(owner)
    html = client.get(reverse("training-job-new") + f"?from={training.pk}").content.decode()
    config = json.loads(re.search(r'id="training-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["initial"]["name"] == "labels rf (copy)"
    assert config["initial"]["algorithm"] == "random-forest"
    assert config["initial"]["hyperparameters"]["num_trees"] == 10
    assert {a["name"] for a in config["algorithms"]} >= {"xgboost", "kmeans"}


def test_the_dataset_page_trains_on_its_dataset(client, owner, viewer, training):
    dataset = training.channels["train"]
    client.force_login(owner)
    page = client.get(reverse("dataset-detail", args=[dataset])).content.decode()
    assert f'href="{reverse("training-job-new")}?dataset={dataset}"' in page
    assert f'href="{reverse("flow-list")}?dataset={dataset}"' in page
    html = client.get(reverse("training-job-new") + f"?dataset={dataset}").content.decode()
    config = json.loads(re.search(r'id="training-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["initial"]["channels"] == {"train": dataset}
    # A dataset of no project of theirs is not preselected.
    html = client.get(reverse("training-job-new") + "?dataset=999999").content.decode()
    config = json.loads(re.search(r'id="training-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["initial"]["channels"] == {}
    # A viewer reads the dataset but gets no button that leads to a form they cannot submit.
    client.force_login(viewer)
    page = client.get(reverse("dataset-detail", args=[dataset])).content.decode()
    assert reverse("training-job-new") not in page and f"?dataset={dataset}" in page  # Label
    assert f'href="{reverse("flow-list")}?dataset=' not in page


def test_strangers_get_404(client, outsider, training):
    client.force_login(outsider)
    assert client.get(reverse("training-job-detail", args=[training.pk])).status_code == 404
    new = client.get(reverse("training-job-new") + f"?from={training.pk}")
    assert new.status_code in (200, 404)
    if new.status_code == 200:  # their own project's form, never a copy of ours
        assert "labels rf" not in new.content.decode()
