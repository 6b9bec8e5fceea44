"""Fifty labelers at once over the API, on PostgreSQL: every item gets exactly
``workers_per_item`` answers from distinct workers, nothing is lost or stored twice, and the
assignments people walked away from come back to the queue once they expire."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.models import (
    Assignment,
    AssignmentStatus,
    ItemState,
    LabelingItem,
    LabelingJob,
    LabelingJobStatus,
)
from labeling.queue import labeling_job_maintain
from studio.choices import Role
from studio.services import project_member_add
from tests.conftest import IN_CI, make_user

WORKERS = 50
ITEMS = 120
PER_ITEM = 3


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("CI=true but the tests are not running on PostgreSQL.")
        pytest.skip("Needs PostgreSQL (set DATABASE_URL): SQLite has no concurrent writers.")


def _worker(
    user: Any,
    token: str,
    job_id: int,
    seed: int,
    log: dict[str, list[Any]],
    errors: list[str],
    barrier: threading.Barrier,
) -> None:
    rng = random.Random(seed)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    barrier.wait()
    try:
        while True:
            response = client.post(f"/api/v1/labeling-jobs/{job_id}/next-task/")
            if response.status_code == 204:
                return
            if response.status_code != 200:
                errors.append(f"next-task {response.status_code}: {response.content[:200]!r}")
                return
            task = response.json()
            roll = rng.random()
            if roll < 0.05:
                # Walks away: the assignment stays open until it expires.
                log["abandoned"].append(task["assignment"])
                return
            if roll < 0.12:
                client.post(f"/api/v1/assignments/{task['assignment']}/skip/")
                log["skipped"].append(task["assignment"])
                continue
            label = rng.choice(["cat", "dog", "bird"])
            body = {"label": label}
            url = f"/api/v1/assignments/{task['assignment']}/submit/"
            first = client.post(url, body, format="json")
            if first.status_code != 200:
                errors.append(f"submit {first.status_code}: {first.content[:200]!r}")
                return
            if roll > 0.9:  # a retried request: must change nothing
                again = client.post(url, body, format="json")
                if again.status_code != 200 or again.json() != first.json():
                    errors.append(f"resubmit {again.status_code}")
            log["submitted"].append((task["assignment"], task["item"]["id"], user.pk))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_fifty_labelers_at_once_keep_every_invariant(
    postgresql: None, project: Any, text_dataset: Any, make_job: Any
) -> None:
    from rest_framework.authtoken.models import Token

    job = make_job(
        text_dataset(ITEMS),
        labels=["cat", "dog", "bird"],
        workers_per_item=PER_ITEM,
        time_limit_seconds=60,
        consolidation="majority_vote",
    )
    users = []
    for i in range(WORKERS):
        user = make_user(f"crowd{i:02d}")
        project_member_add(project=project, username=user.username, role=Role.LABELER)
        users.append((user, Token.objects.create(user=user).key))

    log: dict[str, list[Any]] = defaultdict(list)
    errors: list[str] = []

    def run_round() -> None:
        barrier = threading.Barrier(WORKERS)
        threads = [
            threading.Thread(
                target=_worker,
                args=(
                    user,
                    token,
                    job.pk,
                    seed * 7919 + len(log["submitted"]),
                    log,
                    errors,
                    barrier,
                ),
            )
            for seed, (user, token) in enumerate(users)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert not any(t.is_alive() for t in threads), "a labeler hung"

    run_round()
    assert not errors, errors[:5]
    # Time passes: what people walked away from expires and goes back to the queue.
    for _ in range(20):
        if LabelingJob.objects.get(pk=job.pk).status == LabelingJobStatus.COMPLETED:
            break
        Assignment.objects.filter(job=job, status=AssignmentStatus.ASSIGNED).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        labeling_job_maintain()
        run_round()
        assert not errors, errors[:5]

    job.refresh_from_db()
    assert job.status == LabelingJobStatus.COMPLETED, job.failure_reason
    items = LabelingItem.objects.filter(job=job)
    assert items.count() == ITEMS
    assert set(items.values_list("state", flat=True)) == {ItemState.DONE}
    submitted = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED)
    per_item = Counter(submitted.values_list("item_id", flat=True))
    assert set(per_item.values()) == {PER_ITEM}
    assert len(per_item) == ITEMS
    pairs = list(submitted.values_list("item_id", "worker_id"))
    assert len(pairs) == len(set(pairs)) == ITEMS * PER_ITEM  # distinct workers per item
    # Nothing lost: every answer a labeler got a 200 for is stored, once.
    answered = {a for a, _, _ in log["submitted"]}
    assert answered == set(submitted.values_list("pk", flat=True))
    assert all(i.submitted == i.needed == PER_ITEM for i in items)
    assert log["abandoned"], "the test meant some labelers to walk away"
    assert Assignment.objects.filter(
        pk__in=log["abandoned"], status=AssignmentStatus.EXPIRED
    ).exists()
