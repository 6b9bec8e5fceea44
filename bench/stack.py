"""A real studio in a scratch folder for benchmarks, and memory sampling of its processes.

Migrate, create a user, a token and a project with ``manage.py shell -c``, then run uvicorn
and a Celery worker with :mod:`studio.launcher`. The end-to-end and browser tests
(``tests/live.py``) build their studios from the same pieces. Two backends: ``embedded``
(SQLite + the filesystem broker) and ``services`` (a scratch PostgreSQL database + a Redis
database number, both emptied after).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psutil
import requests

from studio.launcher import ROOT, Stack, model_host_argv, wait_for_http, web_argv, worker_argv

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"

SETUP_SCRIPT = """
import json, os
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from studio import services
user = get_user_model().objects.create_user(
    os.environ["SCRATCH_USER"], password=os.environ["SCRATCH_PASSWORD"]
)
project = services.project_create(user=user, name=os.environ["SCRATCH_PROJECT"])
print(json.dumps({"token": Token.objects.create(user=user).key, "project": project.pk}))
"""

# Variables of the calling shell that would point a scratch studio at a real installation.
_INHERITED_OUT = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SEXTANT_RUN_JOBS_INLINE",
    "SEXTANT_VAR_DIR",
    "SEXTANT_STORAGE_ROOT",
    "SEXTANT_STORAGE_BACKEND",
    "DEBUG",
}


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Backend:
    """Where a scratch studio keeps its rows and its queue."""

    name: str  # "embedded" or "services"
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.name == "services":
            return "PostgreSQL + Redis"
        return "SQLite + filesystem broker"


@contextmanager
def embedded_backend() -> Iterator[Backend]:
    yield Backend("embedded")


@contextmanager
def services_backend(database_url: str, redis_url: str) -> Iterator[Backend]:
    """A fresh PostgreSQL database and an emptied Redis database, removed afterwards."""
    import psycopg
    import redis

    admin = urlparse(database_url)
    name = f"sextant_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield Backend(
            "services",
            {"DATABASE_URL": urlunparse(admin._replace(path=f"/{name}")), "REDIS_URL": redis_url},
        )
    finally:
        client.flushdb()
        client.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def backend_named(name: str, database_url: str, redis_url: str) -> Iterator[Backend]:
    if name == "services":
        with services_backend(database_url, redis_url) as backend:
            yield backend
    else:
        with embedded_backend() as backend:
            yield backend


# --------------------------------------------------------------------------- the studio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def studio_env(backend: Backend, var: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "SEXTANT_VAR_DIR": str(var),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(backend.env)
    env.update(extra or {})
    return env


def prepare_database(
    env: dict[str, str],
    *,
    username: str = "bench",
    password: str = "bench-password-123",
    project: str = "Bench",
) -> dict[str, Any]:
    """Migrate and create a user, its token and a project; returns the token and project id."""
    python = sys.executable
    setup_env = {
        **env,
        "SCRATCH_USER": username,
        "SCRATCH_PASSWORD": password,
        "SCRATCH_PROJECT": project,
    }
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", SETUP_SCRIPT],
        env=setup_env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


@dataclass
class LiveStudio:
    url: str
    token: str
    project: int
    stack: Stack
    env: dict[str, str]
    var: Path
    backend: Backend
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.headers["Authorization"] = f"Token {self.token}"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        response = self.session.request(method, f"{self.url}{path}", **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response

    def wait_job(
        self,
        job_id: int,
        until: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 120.0,
        poll: float = 0.05,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.api("GET", f"/api/v1/jobs/{job_id}/").json()
            if until(job):
                return job
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} did not get there in {timeout:g} s: {job}")
            time.sleep(poll)

    def submit_noop(self) -> dict[str, Any]:
        body = {"project": self.project, "kind": "diagnostic.noop"}
        return dict(self.api("POST", "/api/v1/jobs/", json=body).json())

    def wait_worker(self, timeout: float = 120.0) -> None:
        """Block until a worker runs jobs: one no-op job goes all the way through."""
        job = self.submit_noop()
        self.wait_job(job["id"], lambda j: j["status"] == "Completed", timeout=timeout)

    def check_alive(self) -> None:
        dead = self.stack.dead()
        if dead:
            raise RuntimeError(f"studio processes died: {dead}; logs in {self.var / 'logs'}")

    def pid(self, name: str) -> int:
        return self.stack.procs[name].pid

    def log(self, name: str) -> Path:
        return self.var / "logs" / f"{name}.log"


@contextmanager
def live_studio(
    backend: Backend,
    scratch: Path,
    *,
    extra_env: dict[str, str] | None = None,
    queues: str = "default,cpu",
    serving: bool = False,
) -> Iterator[LiveStudio]:
    """Web (uvicorn) + one prefork worker of concurrency 1, in ``scratch/studio-<backend>``;
    with ``serving``, the model host too, which runs the endpoints' model servers."""
    var = scratch / f"studio-{backend.name}-{uuid.uuid4().hex[:6]}"
    var.mkdir(parents=True)
    env = studio_env(backend, var, extra_env)
    setup = prepare_database(env)
    port = free_port()
    stack = Stack(env=env, log_dir=var / "logs")
    studio = LiveStudio(
        f"http://127.0.0.1:{port}", setup["token"], setup["project"], stack, env, var, backend
    )
    try:
        stack.start("web", web_argv("127.0.0.1", port))
        stack.start(
            "worker",
            worker_argv(queues, concurrency=1, name=f"bench-{uuid.uuid4().hex[:6]}@%h"),
        )
        if serving:
            stack.start("model-host", model_host_argv(f"bench-{uuid.uuid4().hex[:6]}"))
        wait_for_http(f"{studio.url}/login/", timeout=60)
        studio.wait_worker()
        yield studio
    finally:
        stack.stop()
        studio.session.close()


# --------------------------------------------------------------------------- memory


@dataclass
class TreePeak:
    """Peaks over a process and all its descendants, in bytes."""

    rss_sum: int = 0  # RSS summed over the tree (counts pages shared after fork twice)
    pss_sum: int = 0  # proportional set size summed: shared pages split among sharers
    rss_max_one: int = 0  # the largest RSS of any single process of the tree

    def update(self, rss_sum: int, pss_sum: int, rss_max_one: int) -> None:
        self.rss_sum = max(self.rss_sum, rss_sum)
        self.pss_sum = max(self.pss_sum, pss_sum)
        self.rss_max_one = max(self.rss_max_one, rss_max_one)


def tree_memory(pid: int) -> tuple[int, int, int]:
    """(RSS sum, PSS sum, largest single RSS) of ``pid`` and its descendants, now."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    rss_sum = pss_sum = rss_max = 0
    for proc in procs:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            info = proc.memory_full_info()
            rss_sum += info.rss
            pss_sum += getattr(info, "pss", info.rss)
            rss_max = max(rss_max, info.rss)
    return rss_sum, pss_sum, rss_max


class MemorySampler:
    """Samples the memory of named process trees every ``interval`` seconds, off-thread.

    Samples are kept with their wall-clock time, so peaks can be taken afterwards over any
    window, such as one bounded by timestamps the studio itself recorded.
    """

    def __init__(self, pids: dict[str, int], interval: float = 0.05) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self.samples: dict[str, list[tuple[float, int, int, int]]] = {n: [] for n in self.pids}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        now = time.time()
        measured = {name: tree_memory(pid) for name, pid in self.pids.items()}
        with self._lock:
            for name, values in measured.items():
                self.samples[name].append((now, *values))

    def peak(self, name: str, start: float = 0.0, end: float = float("inf")) -> TreePeak:
        """Peaks of ``name`` over the samples taken between ``start`` and ``end`` (time.time())."""
        peak = TreePeak()
        with self._lock:
            for at, rss_sum, pss_sum, rss_max in self.samples[name]:
                if start <= at <= end:
                    peak.update(rss_sum, pss_sum, rss_max)
        return peak
