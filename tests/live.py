"""A real studio in a scratch folder: web server, Celery worker and beat as processes.

Two backends: ``embedded`` (SQLite + the filesystem broker, always) and ``services``
(PostgreSQL + Redis, when DATABASE_URL and REDIS_URL are set — always under CI=true).
Timings are shortened (lease 6 s, reaper every 2 s) so recovery is observable quickly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import requests

from studio.launcher import ROOT, Stack, beat_argv, wait_for_http, web_argv, worker_argv

IN_CI = os.environ.get("CI", "").lower() == "true"
SETUP_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from studio import services
user = get_user_model().objects.create_user("e2e", password="e2e-password-123")
project = services.project_create(user=user, name="E2E")
print(json.dumps({"token": Token.objects.create(user=user).key, "project": project.pk}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveStudio:
    url: str
    token: str
    project: int
    stack: Stack
    env: dict[str, str]
    backend: str

    @property
    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Token {self.token}"
        return s

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.url}{path}", timeout=30, **kwargs)

    def wait_job(
        self, job_id: int, until: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.api("GET", f"/api/v1/jobs/{job_id}/").json()
            if until(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}")
            time.sleep(0.2)

    def start_worker(self, name: str = "worker") -> None:
        self.stack.start(
            name,
            worker_argv("default,cpu", concurrency=1, name=f"{name}-{uuid.uuid4().hex[:6]}@%h"),
        )


def _services_env() -> tuple[dict[str, str], Callable[[], None]]:
    """A fresh PostgreSQL database and a Redis database number for one stack."""
    import psycopg
    import redis

    base = urlparse(os.environ["DATABASE_URL"])
    name = f"sextant_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = urlparse(os.environ["REDIS_URL"])
    redis_url = redis_url._replace(path="/14")
    client = redis.Redis.from_url(urlunparse(redis_url))
    client.flushdb()

    def cleanup() -> None:
        client.flushdb()
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    env = {
        "DATABASE_URL": urlunparse(base._replace(path=f"/{name}")),
        "REDIS_URL": urlunparse(redis_url),
    }
    return env, cleanup


def backends() -> list[str]:
    have_services = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    return ["embedded", "services"] if have_services or IN_CI else ["embedded"]


@contextmanager
def live_studio(backend: str, var: Path, *, show_logs: Callable[[], bool]) -> Iterator[LiveStudio]:
    """Start a whole studio (web, beat, one worker) in ``var`` on ``backend``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SEXTANT_RUN_JOBS_INLINE"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "SEXTANT_VAR_DIR": str(var),
            "SEXTANT_JOB_HEARTBEAT_SECONDS": "1",
            "SEXTANT_JOB_LEASE_SECONDS": "6",
            "SEXTANT_REAPER_INTERVAL_SECONDS": "2",
            "SEXTANT_WORKER_STALE_SECONDS": "10",
            "SEXTANT_DIAGNOSTICS_CRASH": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "services":
        extra, cleanup = _services_env()
        env.update(extra)
    python = sys.executable
    stack = Stack(env=env, log_dir=var / "logs")
    try:
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        out = subprocess.run(
            [python, "manage.py", "shell", "-c", SETUP_SCRIPT],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        setup = json.loads(out.strip().splitlines()[-1])
        port = free_port()
        stack.start("web", web_argv("127.0.0.1", port))
        stack.start("beat", beat_argv(var / "beat-schedule"))
        studio = LiveStudio(
            f"http://127.0.0.1:{port}", setup["token"], setup["project"], stack, env, backend
        )
        studio.start_worker()
        wait_for_http(f"{studio.url}/login/", timeout=60)
        yield studio
    finally:
        stack.stop()
        cleanup()
        if show_logs():
            for log in sorted((var / "logs").glob("*.log")):
                sys.stderr.write(f"--- {log.name} ---\n{log.read_text()[-4000:]}\n")
