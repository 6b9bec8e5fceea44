"""The task queue's hot statements on PostgreSQL, one round trip each.

Through the ORM, handing out a task took about eight statements and several milliseconds of
query building; here it is one statement: the first open item with a free slot that the
worker never had, locked with ``FOR NO KEY UPDATE SKIP LOCKED``, its ``taken`` raised while
it is still below ``needed``, and the assignment inserted — all or nothing; or the task the
worker already holds, when they hold one. Submitting is a
read and one statement. :mod:`labeling.services` calls these on PostgreSQL and keeps the ORM
path for SQLite and for every case out of the ordinary (an expired, skipped or already
submitted assignment); both keep the invariants of :mod:`labeling.models`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from django.db import connection

from labeling.models import Assignment, LabelingItem, LabelingJob

ITEM: Final = LabelingItem._meta.db_table
ASSIGNMENT: Final = Assignment._meta.db_table
JOB: Final = LabelingJob._meta.db_table

_CANDIDATES = f"""
FROM {ITEM} i JOIN {JOB} j ON j.id = i.job_id
WHERE i.job_id = %(job)s AND i.state = 'open' AND i.taken < i.needed
  AND j.status = 'InProgress'
  AND NOT EXISTS (
    SELECT 1 FROM {ASSIGNMENT} had WHERE had.item_id = i.id AND had.worker_id = %(worker)s
  )
"""

_CLAIM = f"""
WITH held AS (
  SELECT a.id, a.is_review, a.created_at, a.expires_at, i.id AS item_id, i.data,
         i.pre_annotation, i.needed, i.row
  FROM {ASSIGNMENT} a JOIN {ITEM} i ON i.id = a.item_id
  WHERE a.worker_id = %(worker)s AND a.job_id = %(job)s AND a.status = 'assigned'
    AND a.expires_at > %(now)s
  LIMIT 1
), candidate AS (
  SELECT i.id {_CANDIDATES}
    AND NOT EXISTS (SELECT 1 FROM held)
  ORDER BY i.priority, i.id
  LIMIT 1
  FOR NO KEY UPDATE OF i SKIP LOCKED
), claimed AS (
  UPDATE {ITEM} i SET taken = i.taken + 1
  FROM candidate WHERE i.id = candidate.id AND i.taken < i.needed
  RETURNING i.id, i.data, i.pre_annotation, i.needed, i.row
), assigned AS (
  INSERT INTO {ASSIGNMENT} (job_id, item_id, worker_id, status, is_review, created_at, expires_at)
  SELECT %(job)s, claimed.id, %(worker)s, 'assigned', claimed.needed > %(per_item)s,
         %(now)s, %(expires)s
  FROM claimed
  RETURNING id, item_id, is_review, created_at, expires_at
)
SELECT id, is_review, created_at, expires_at, item_id, data, pre_annotation, needed, row
FROM held
UNION ALL
SELECT assigned.id, assigned.is_review, assigned.created_at, assigned.expires_at,
       claimed.id, claimed.data, claimed.pre_annotation, claimed.needed, claimed.row
FROM assigned JOIN claimed ON claimed.id = assigned.item_id
"""

_READ = f"""
SELECT a.status, a.job_id, a.item_id, i.data, i.state
FROM {ASSIGNMENT} a JOIN {ITEM} i ON i.id = a.item_id
WHERE a.id = %(id)s AND a.worker_id = %(worker)s
"""

_SUBMIT = f"""
WITH answered AS (
  UPDATE {ASSIGNMENT} SET status = 'submitted', label = %(label)s::jsonb,
         submitted_at = %(now)s,
         seconds = EXTRACT(EPOCH FROM (%(now)s::timestamptz - created_at))
  WHERE id = %(id)s AND worker_id = %(worker)s AND status = 'assigned'
  RETURNING item_id
)
UPDATE {ITEM} i SET submitted = i.submitted + 1
FROM answered WHERE i.id = answered.item_id AND i.state = 'open'
RETURNING i.submitted, i.needed
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _assignment(row: tuple[Any, ...], *, job_id: int, worker_id: int) -> Assignment:
    """An assignment with its item, as the queue hands it out (read-only instances)."""
    item = LabelingItem(
        pk=row[4],
        job_id=job_id,
        data=_json(row[5]),
        pre_annotation=_json(row[6]),
        needed=row[7],
        row=row[8],
    )
    return Assignment(
        pk=row[0],
        job_id=job_id,
        item=item,
        worker_id=worker_id,
        is_review=row[1],
        created_at=row[2],
        expires_at=row[3],
    )


def claim(
    *, job_id: int, worker_id: int, workers_per_item: int, now: datetime, expires: datetime
) -> Assignment | None:
    """The worker's current task if they hold one, else the first free item, handed out —
    one atomic statement — or None."""
    params = {
        "job": job_id,
        "worker": worker_id,
        "per_item": workers_per_item,
        "now": now,
        "expires": expires,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, params)
        row = cursor.fetchone()
    return None if row is None else _assignment(row, job_id=job_id, worker_id=worker_id)


def candidates_exist(*, job_id: int, worker_id: int) -> bool:
    """Whether an item is free for the worker, locked or not (a claim that found none may
    only have met items other transactions held for a moment)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 {_CANDIDATES})", {"job": job_id, "worker": worker_id}
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def read(*, assignment_id: int, worker_id: int) -> dict[str, Any] | None:
    with connection.cursor() as cursor:
        cursor.execute(_READ, {"id": assignment_id, "worker": worker_id})
        row = cursor.fetchone()
    if row is None:
        return None
    return {
        "status": row[0],
        "job_id": row[1],
        "item_id": row[2],
        "data": _json(row[3]),
        "item_state": row[4],
    }


def submit(
    *, assignment_id: int, worker_id: int, label: Any, now: datetime
) -> tuple[int, int] | None:
    """Store an assigned task's answer and count it on its open item: (submitted, needed),
    or None when the assignment is no longer assigned or its item no longer open (the
    caller's transaction must then be rolled back)."""
    params = {
        "id": assignment_id,
        "worker": worker_id,
        "label": json.dumps(label),
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(_SUBMIT, params)
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]))
