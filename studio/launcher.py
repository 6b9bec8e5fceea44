"""Starting and stopping the studio's processes: web, Celery worker(s) and beat.

``make run`` uses it through ``manage.py studio_run``; end-to-end tests and benchmarks use it
to run a real stack in a scratch folder. Each process gets its own process group, so a stop
reaches a worker's pool children too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def web_argv(host: str, port: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "studio.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--ws",
        "websockets-sansio",
    ]


def worker_argv(queues: str, *, concurrency: int = 2, name: str = "", pool: str = "") -> list[str]:
    argv = [
        str(BIN / "celery"),
        "-A",
        "studio",
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "-n",
        name or f"worker-{queues.replace(',', '-')}@%h",
    ]
    if pool:
        argv += ["--pool", pool]
    return argv


def beat_argv(schedule: Path) -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        "studio",
        "beat",
        "--loglevel",
        "WARNING",
        "--schedule",
        str(schedule),
    ]


def model_host_argv(name: str = "") -> list[str]:
    """The machine's model host (``manage.py model_host``): it runs endpoints' model servers."""
    argv = [sys.executable, str(ROOT / "manage.py"), "model_host"]
    if name:
        argv += ["--name", name]
    return argv


@dataclass
class Stack:
    """A set of named processes started together and stopped together."""

    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path | None = None

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )
        self.procs[name] = proc
        return proc

    def dead(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a whole process group (a worker and its pool children)."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            proc.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM each leader (a Celery worker then stops its own pool), SIGKILL stragglers."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
            except ProcessLookupError:
                pass
            proc.wait()


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers at all (any HTTP status counts as up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:g} s") from None
            time.sleep(0.1)
