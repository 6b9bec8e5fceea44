"""``make run``: migrate, make sure there is an admin, start web + worker + beat, wait.

Never asks anything (it must work with no terminal), and Ctrl-C (SIGINT) or SIGTERM stops
every process it started. If one of them dies, the others are stopped too and it exits
non-zero, so a supervisor sees the failure.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from studio import services
from studio.models import Project


class Command(BaseCommand):
    help = "Start the studio: web server, one Celery worker (default,cpu) and beat."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--queues", default=os.environ.get("QUEUES", "default,cpu"))
        parser.add_argument(
            "--concurrency", type=int, default=int(os.environ.get("CONCURRENCY", "2"))
        )
        parser.add_argument("--no-worker", action="store_true", help="Start the web server only.")

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.ensure_admin()
        bin_dir = Path(sys.executable).parent
        env = os.environ.copy()
        env.setdefault("PYTHONUNBUFFERED", "1")
        commands: list[tuple[str, list[str]]] = [
            (
                "web",
                [
                    str(bin_dir / "uvicorn"),
                    "studio.asgi:application",
                    "--host",
                    opts["host"],
                    "--port",
                    str(opts["port"]),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "--ws",
                    "websockets",
                ],
            )
        ]
        if not opts["no_worker"]:
            commands += [
                (
                    "worker",
                    [
                        str(bin_dir / "celery"),
                        "-A",
                        "studio",
                        "worker",
                        "-Q",
                        opts["queues"],
                        "--concurrency",
                        str(opts["concurrency"]),
                        "--loglevel",
                        "INFO",
                        "-n",
                        f"worker-{opts['queues'].replace(',', '-')}@%h",
                    ],
                ),
                (
                    "beat",
                    [
                        str(bin_dir / "celery"),
                        "-A",
                        "studio",
                        "beat",
                        "--loglevel",
                        "WARNING",
                        "--schedule",
                        str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
                    ],
                ),
            ]
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, cmd in commands:
            # Each child in its own process group: Ctrl-C reaches us once, and we stop
            # the children in order rather than all at once mid-write.
            procs[name] = subprocess.Popen(cmd, env=env, start_new_session=True)
        url = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(self.style.SUCCESS(f"\nSextant is running at {url}  (Ctrl-C stops it)\n"))
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self.shutdown(procs)
        if exit_code:
            sys.exit(exit_code)

    def shutdown(self, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        self.stdout.write("Stopping…")
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stdout.write("Stopped.")

    def ensure_admin(self) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("SEXTANT_ADMIN_USER", "admin")
        password = os.environ.get("SEXTANT_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        admin = users.objects.create_superuser(username=username, email="", password=password)
        if not Project.objects.exists():
            services.project_create(
                user=admin, name="My first project", description="Created for you on first run."
            )
        banner = "=" * 64
        self.stdout.write(
            f"\n{banner}\n First run: created the administrator account.\n"
            f"   username: {username}\n   password: {password}\n"
            f" This password is shown only now. Change it under /admin/.\n{banner}\n"
        )
