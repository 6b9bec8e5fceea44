"""``make run``: migrate, make sure there is an admin, start web, worker, beat and the model
host, wait.

Never asks anything (it must work with no terminal), and Ctrl-C (SIGINT) or SIGTERM stops
every process it started. If one of them dies, the others are stopped too and it exits
non-zero, so a supervisor sees the failure.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from studio import services
from studio.launcher import Stack, beat_argv, model_host_argv, web_argv, worker_argv
from studio.models import Project


class Command(BaseCommand):
    help = "Start the studio: web server, one Celery worker (default,cpu), beat and the model host."

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
        env = os.environ.copy()
        env.setdefault("PYTHONUNBUFFERED", "1")
        stack = Stack(env=env)
        stack.start("web", web_argv(opts["host"], opts["port"]))
        if not opts["no_worker"]:
            stack.start("worker", worker_argv(opts["queues"], concurrency=opts["concurrency"]))
            stack.start("beat", beat_argv(Path(settings.VAR_DIR) / "celerybeat-schedule"))
            stack.start("model-host", model_host_argv())
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
                dead = stack.dead()
                if dead:
                    name, code = next(iter(dead.items()))
                    self.stderr.write(f"{name} exited with code {code}; stopping the others.")
                    exit_code = code or 1
                    break
                time.sleep(0.5)
        finally:
            self.stdout.write("Stopping…")
            stack.stop()
            self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)

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
