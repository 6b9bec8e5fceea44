"""A real studio in a scratch folder: web server, Celery worker and beat as processes.

Two backends: ``embedded`` (SQLite + the filesystem broker, always) and ``services``
(PostgreSQL + Redis, when DATABASE_URL and REDIS_URL are set — always under CI=true).
Timings are shortened (lease 6 s, reaper every 2 s) so recovery is observable quickly. The
scratch databases and the environment come from ``bench.stack``, which the benchmarks share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import requests

import bench.stack
from bench.stack import backend_named, free_port, prepare_database, studio_env
from studio.launcher import (
    Stack,
    beat_argv,
    model_host_argv,
    wait_for_http,
    web_argv,
    worker_argv,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class LiveStudio(bench.stack.LiveStudio):
    """The benchmarks' handle on a studio; ``api`` returns every answer, 4xx included."""

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.url}{path}", **kwargs)

    def submit(self, kind: str, **parameters: Any) -> dict[str, Any]:
        """Submit a diagnostic job through the API and return it."""
        body = {"project": self.project, "kind": kind, "parameters": parameters}
        response = self.api("POST", "/api/v1/jobs/", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def create_user_token(self, username: str) -> str:
        """A user of a project of their own (a stranger to ``project``) and their token."""
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", bench.stack.SETUP_SCRIPT],
            env={
                **self.env,
                "SCRATCH_USER": username,
                "SCRATCH_PASSWORD": f"{username}-pw-123",
                "SCRATCH_PROJECT": f"{username}'s project",
            },
            cwd=bench.stack.ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return str(json.loads(out.strip().splitlines()[-1])["token"])

    def start_worker(self, name: str = "worker") -> None:
        self.stack.start(
            name,
            worker_argv("default,cpu", concurrency=1, name=f"{name}-{uuid.uuid4().hex[:6]}@%h"),
        )


def backends() -> list[str]:
    have_services = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    return ["embedded", "services"] if have_services or IN_CI else ["embedded"]


@contextmanager
def live_studio(
    backend: str, var: Path, *, show_logs: Callable[[], bool], serving: bool = False
) -> Iterator[LiveStudio]:
    """Start a whole studio (web, beat, one worker; the model host if ``serving``) in
    ``var`` on ``backend``."""
    timings = {
        "SEXTANT_JOB_HEARTBEAT_SECONDS": "1",
        "SEXTANT_JOB_LEASE_SECONDS": "6",
        "SEXTANT_REAPER_INTERVAL_SECONDS": "2",
        "SEXTANT_WORKER_STALE_SECONDS": "10",
        "SEXTANT_DIAGNOSTICS_CRASH": "1",
        "SEXTANT_MONITOR_TICK_SECONDS": "1",
    }
    redis_url = urlunparse(
        urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))._replace(path="/14")
    )
    database_url = os.environ.get("DATABASE_URL", "")
    with backend_named(backend, database_url, redis_url) as chosen:
        env = studio_env(chosen, var, timings)
        stack = Stack(env=env, log_dir=var / "logs")
        try:
            setup = prepare_database(
                env, username="e2e", password="e2e-password-123", project="E2E"
            )
            port = free_port()
            stack.start("web", web_argv("127.0.0.1", port))
            stack.start("beat", beat_argv(var / "beat-schedule"))
            studio = LiveStudio(
                f"http://127.0.0.1:{port}",
                setup["token"],
                setup["project"],
                stack,
                env,
                var,
                chosen,
            )
            studio.start_worker()
            if serving:
                stack.start("model-host", model_host_argv("live-host"))
            wait_for_http(f"{studio.url}/login/", timeout=60)
            yield studio
        finally:
            stack.stop()
            if show_logs():
                for log in sorted((var / "logs").glob("*.log")):
                    sys.stderr.write(f"--- {log.name} ---\n{log.read_text()[-4000:]}\n")
