"""The labeling hot path — next-task, submit and skip — served by a lean ASGI route.

Django's sync views run, under ASGI, on one shared thread per process, so a hundred
labelers would wait for each other there. These three routes are mounted in front of Django
(``SEXTANT_ASGI_MOUNTS``) and run their work in a pool of threads of their own, each with its
own database connection, so the database works for several labelers at once. They call the
same services and answer with the same bodies and error shapes as the REST API's views
(:mod:`labeling.api`), which stay the reference and the OpenAPI schema.

Credentials are cached for a few seconds: a token's user, or a session's user (with the
session's CSRF token echoed in ``X-CSRFToken``, as the portal does).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.http import Http404
from django.http.cookie import parse_cookie

from labeling import queue, selectors
from labeling.api import task_out
from studio.credentials import CredentialCache, csrf_echoed, session_user, token_user
from studio.errors import ServiceError

logger = logging.getLogger(__name__)

NEXT_TASK: Final = re.compile(r"^/api/v1/labeling-jobs/(\d+)/next-task/$")
ASSIGNMENT: Final = re.compile(r"^/api/v1/assignments/(\d+)/(submit|skip)/$")
CREDENTIAL_TTL_SECONDS: Final = 30.0
BAD_CREDENTIAL_TTL_SECONDS: Final = 5.0
MAX_BODY_BYTES: Final = 16 << 20  # a brush mask of a large image is a long list of runs

_threads = ThreadPoolExecutor(
    max_workers=int(getattr(settings, "SEXTANT_LABELING_THREADS", 8)),
    thread_name_prefix="labeling",
)


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps(
            {"error": {"code": code, "message": message, "field": field}}
        ).encode()


def handles(path: str) -> bool:
    """Whether this route serves ``path`` (everything else goes on to Django)."""
    return bool(NEXT_TASK.match(path) or ASSIGNMENT.match(path))


async def in_thread(func: Callable[[], Any]) -> Any:
    """``func`` on a thread of the pool; a connection the database dropped is reopened once."""

    def run() -> Any:
        try:
            return func()
        except (OperationalError, InterfaceError):
            close_old_connections()
            connection.close()
            return func()

    return await asyncio.get_running_loop().run_in_executor(_threads, run)


# --- who is calling ---------------------------------------------------------------------------
tokens: CredentialCache[Any] = CredentialCache(
    token_user, in_thread, ttl=CREDENTIAL_TTL_SECONDS, bad_ttl=BAD_CREDENTIAL_TTL_SECONDS
)
sessions: CredentialCache[Any] = CredentialCache(
    session_user, in_thread, ttl=CREDENTIAL_TTL_SECONDS, bad_ttl=BAD_CREDENTIAL_TTL_SECONDS
)


async def _caller(headers: dict[bytes, bytes]) -> Any:
    auth = headers.get(b"authorization", b"").decode(errors="replace").split()
    if len(auth) == 2 and auth[0].lower() == "token":
        user = await tokens.get(auth[1])
        if user is None:
            raise HttpError(401, "authentication_failed", "Invalid token.")
        return user
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    session = cookies.get(settings.SESSION_COOKIE_NAME)
    if session and not auth:
        echoed = headers.get(b"x-csrftoken", b"").decode(errors="replace")
        if not csrf_echoed(cookies, echoed):
            raise HttpError(
                403, "permission_denied", "CSRF Failed: send the CSRF token in X-CSRFToken."
            )
        user = await sessions.get(session)
        if user is not None:
            return user
    raise HttpError(401, "not_authenticated", "Authentication credentials were not provided.")


# --- the work, on a pool thread -----------------------------------------------------------------
def _next_task(user: Any, job_id: int) -> tuple[int, Any]:
    job = selectors.access_job_as_worker(user, job_id)
    assignment = queue.next_task(job=job, worker=user)
    if assignment is None:
        return 204, None
    return 200, task_out(assignment, job, user=user)


def _submit(user: Any, assignment_id: int, body: bytes) -> tuple[int, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise HttpError(400, "parse_error", "The body is not valid JSON.")
    if not isinstance(data, dict) or "label" not in data:
        raise HttpError(400, "required", "This field is required.", "label")
    assignment = queue.assignment_submit(
        assignment_id=assignment_id, worker=user, label=data["label"]
    )
    return 200, {
        "assignment": assignment.pk,
        "status": assignment.status,
        "label": assignment.label,
        "submitted_at": assignment.submitted_at.isoformat() if assignment.submitted_at else None,
    }


def _skip(user: Any, assignment_id: int) -> tuple[int, Any]:
    assignment = queue.assignment_skip(assignment_id=assignment_id, worker=user)
    return 200, {"assignment": assignment.pk, "status": assignment.status}


def _guarded(work: Callable[[], tuple[int, Any]]) -> Callable[[], tuple[int, Any]]:
    """The API's error shapes for what the services raise."""

    def run() -> tuple[int, Any]:
        try:
            return work()
        except ServiceError as exc:
            raise HttpError(exc.status, exc.code, exc.message, exc.field)
        except Http404 as exc:
            raise HttpError(404, "not_found", str(exc) or "Not found.")
        except PermissionDenied as exc:
            raise HttpError(403, "permission_denied", str(exc) or "Permission denied.")

    return run


# --- ASGI -----------------------------------------------------------------------------------------
async def _body(receive: Any, headers: dict[bytes, bytes]) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HttpError(413, "payload_too_large", "The request body is too large.", "label")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpError(413, "payload_too_large", "The request body is too large.", "label")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Any, status: int, body: bytes | None) -> None:
    headers = [(b"content-length", str(len(body or b"")).encode()), (b"vary", b"Cookie")]
    if body is not None:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body or b""})


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path: str = scope["path"]
    try:
        if scope.get("method") != "POST":
            raise HttpError(
                405, "method_not_allowed", f'Method "{scope.get("method")}" not allowed.'
            )
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        body = await _body(receive, headers)
        user = await _caller(headers)
        found = NEXT_TASK.match(path)
        if found:
            work = _guarded(lambda: _next_task(user, int(found.group(1))))
        else:
            match = ASSIGNMENT.match(path)
            assert match is not None
            assignment_id = int(match.group(1))
            if match.group(2) == "submit":
                work = _guarded(lambda: _submit(user, assignment_id, body))
            else:
                work = _guarded(lambda: _skip(user, assignment_id))
        status, payload = await in_thread(work)
        await _respond(send, status, None if payload is None else json.dumps(payload).encode())
    except HttpError as exc:
        await _respond(send, exc.status, exc.body)
    except ConnectionResetError:
        return
    except Exception:
        logger.exception("labeling hot path failed on %s", path)
        await _respond(
            send,
            500,
            json.dumps(
                {"error": {"code": "server_error", "message": "Server error.", "field": None}}
            ).encode(),
        )


application.handles = handles  # type: ignore[attr-defined]
