"""Fixtures of the labeling tests: datasets of text and of images, jobs made through the API
with their setup run inline, and labelers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from labeling.models import LabelingJob
from labeling.selectors import forget_worker_cache
from studio import services
from studio.choices import Role
from studio.models import Dataset, Project
from tests.conftest import make_user

WORDS = {
    "positive": ["great", "love", "excellent", "wonderful", "happy", "superb"],
    "negative": ["awful", "hate", "terrible", "broken", "sad", "refund"],
}


def review_text(i: int) -> tuple[str, str]:
    """A short generated review and its true class."""
    truth = "positive" if i % 2 == 0 else "negative"
    words = WORDS[truth]
    return f"review {i}: {words[i % 6]} and {words[(i // 2) % 6]} product", truth


@pytest.fixture(autouse=True)
def fresh_worker_cache() -> None:
    """Rows of rolled-back tests reuse ids: a job remembered by an earlier test is not this one."""
    forget_worker_cache()


@pytest.fixture
def text_dataset(tmp_path: Path, project: Project, owner: Any) -> Callable[..., Dataset]:
    """``text_dataset(n)`` → a Ready tabular dataset with ``id``, ``text`` and ``truth``."""

    def make(
        n: int = 12, *, name: str = "reviews", extra: dict[str, list[Any]] | None = None
    ) -> Dataset:
        texts, truths = zip(*(review_text(i) for i in range(n)), strict=True) if n else ((), ())
        columns: dict[str, Any] = {"id": list(range(n)), "text": list(texts), "truth": list(truths)}
        columns.update(extra or {})
        path = tmp_path / f"{name}-{n}.parquet"
        pq.write_table(pa.table(columns), path)
        return services.dataset_from_parquet(project=project, user=owner, name=name, path=path)

    return make


def png_bytes(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def images_zip(
    count: int, *, size: tuple[int, int] = (64, 48), folders: list[str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            folder = folders[i % len(folders)] if folders else ("red" if i % 2 else "blue")
            colour = (200, 30, 30) if folder == "red" else (30, 30, 200)
            archive.writestr(f"{folder}/img{i:03d}.png", png_bytes(*size, colour))
    return buffer.getvalue()


@pytest.fixture
def image_dataset(
    upload: Callable[..., Any], owner: Any, project: Project
) -> Callable[..., Dataset]:
    def make(count: int = 4, **kwargs: Any) -> Dataset:
        response = upload(owner, project, "pictures.zip", images_zip(count, **kwargs))
        assert response.status_code == 201, response.content
        return Dataset.objects.get(pk=response.json()["id"])

    return make


@pytest.fixture
def make_job(
    api: Callable[[Any], Any], owner: Any, project: Project, on_commit: Any
) -> Callable[..., LabelingJob]:
    """Create a labeling job through the API as the owner; its setup job runs inline."""

    def make(dataset: Dataset, **spec: Any) -> LabelingJob:
        body = {
            "project": project.pk,
            "name": spec.pop("name", "sentiment"),
            "dataset": dataset.pk,
            "task_type": spec.pop("task_type", "text_classification"),
            "labels": spec.pop("labels", ["positive", "negative"]),
            **spec,
        }
        if dataset.is_images:
            body.setdefault("data_column", "image")
        else:
            body.setdefault("data_column", "text")
        with on_commit(execute=True):
            response = api(owner).post("/api/v1/labeling-jobs/", body, format="json")
        assert response.status_code == 201, response.content
        return LabelingJob.objects.get(pk=response.json()["id"])

    return make


@pytest.fixture
def labelers(project: Project) -> Callable[[int], list[Any]]:
    """``labelers(n)`` → n more users with the labeler role in the project."""

    def make(n: int) -> list[Any]:
        users = []
        for i in range(n):
            user = make_user(f"labeler{i:02d}")
            services.project_member_add(project=project, username=user.username, role=Role.LABELER)
            users.append(user)
        return users

    return make
