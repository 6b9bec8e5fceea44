"""The model host: the process on a machine that runs its model servers and keeps them up.

``manage.py model_host`` (started by ``make run`` with the rest of the studio; one per
serving machine in production) registers the machine, then several times a second brings
what runs in line with the ``ModelServer`` rows assigned to it:

- a Pending row gets its model files fetched into a local cache and a server process
  started (``python -m endpoints.engine.server``), with a scrubbed environment: no database,
  no secret, no storage credentials;
- a Starting row becomes Running once its server has written its address, or Failed with
  the end of its log if it exited before (a model that cannot load will not load on retry);
- a Running server that dies is started again on the same row (``restarts`` counts it);
- a row retired past its ``retire_at``, or gone, has its process stopped (SIGTERM, then
  SIGKILL after a grace).

Every server is a child of the host: a host that stops stops its servers, and a host that
starts again kills what a previous run of it may have left and starts them afresh.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from endpoints.choices import ServerStatus
from endpoints.models import ModelHost, ModelServer
from studio import storage
from studio.jobs.sandbox import ROOT, scrubbed_env

logger = logging.getLogger("endpoints.host")

TICK_SECONDS = 0.25
HEARTBEAT_SECONDS = 2.0
STOP_GRACE_SECONDS = 5.0
LOG_TAIL_BYTES = 4000


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    folder: Path
    started: float


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - LOG_TAIL_BYTES))
            return handle.read().decode(errors="replace").strip()
    except OSError:
        return ""


def _reason(log: str) -> str:
    """The line of a server's log that says why it stopped (its last non-empty line)."""
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "The model server exited without saying why."


class Host:
    def __init__(self, *, name: str, address: str, folder: Path) -> None:
        self.name = name
        self.address = address
        self.folder = folder
        self.cache = folder / "model-cache"
        self.runs = folder / "servers"
        self.procs: dict[int, Process] = {}
        self.row: ModelHost | None = None
        self.last_beat = 0.0

    # ------------------------------------------------------------------------ lifecycle

    def register(self) -> ModelHost:
        self.row, _ = ModelHost.objects.update_or_create(
            name=self.name,
            defaults={"address": self.address, "pid": os.getpid(), "heartbeat_at": timezone.now()},
        )
        # What a previous run of this host left behind is not ours to watch: stop it (its
        # rows may have moved to another host meanwhile) and let the rows start afresh.
        _kill_leftovers(self.runs)
        ModelServer.objects.filter(host=self.row).exclude(status=ServerStatus.FAILED).update(
            status=ServerStatus.PENDING, pid=0, port=0, updated_at=timezone.now()
        )
        self.last_beat = time.monotonic()
        return self.row

    def run(self, stop: threading.Event) -> None:
        self.register()
        logger.info("Model host %s serving on %s", self.name, self.address)
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:  # a database hiccup must not end hosting
                    logger.exception("Model host tick failed")
                    close_old_connections()
                stop.wait(TICK_SECONDS)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for server_id in list(self.procs):
            self._stop(server_id)
        if self.row is not None:
            ModelServer.objects.filter(host=self.row).exclude(status=ServerStatus.FAILED).update(
                status=ServerStatus.PENDING, pid=0, port=0, updated_at=timezone.now()
            )

    # ----------------------------------------------------------------------------- tick

    def tick(self) -> None:
        assert self.row is not None
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            ModelHost.objects.filter(pk=self.row.pk).update(heartbeat_at=timezone.now())
            self.last_beat = now
        rows = {s.pk: s for s in ModelServer.objects.filter(host=self.row)}
        wall = timezone.now()
        for server_id in list(self.procs):
            row = rows.get(server_id)
            if row is None or (row.retire_at is not None and row.retire_at <= wall):
                self._stop(server_id)
        for row in rows.values():
            if row.retire_at is not None and row.retire_at <= wall:
                ModelServer.objects.filter(pk=row.pk).delete()
                continue
            self._reconcile(row)

    def _reconcile(self, row: ModelServer) -> None:
        if row.status == ServerStatus.FAILED:
            return
        proc = self.procs.get(row.pk)
        if proc is None:
            self._start(row, restart=row.status == ServerStatus.RUNNING)
            return
        code = proc.popen.poll()
        if code is not None:
            reason = _reason(_tail(proc.folder / "server.log"))
            del self.procs[row.pk]
            if row.status == ServerStatus.RUNNING:
                logger.warning("Model server %s exited (%s); starting it again", row, code)
                self._start(row, restart=True, error=f"Exited with status {code}: {reason}")
            else:
                _set(row.pk, status=ServerStatus.FAILED, last_error=reason, pid=0)
            return
        if row.status != ServerStatus.RUNNING:
            address = proc.folder / "address"
            if address.exists():
                _, port = address.read_text().split()
                _set(row.pk, status=ServerStatus.RUNNING, port=int(port), pid=proc.popen.pid)

    # ------------------------------------------------------------------------- starting

    def _model_file(self, model: dict[str, Any]) -> Path:
        """A local copy of the package's archive (packages never change once made)."""
        target = self.cache / str(model["package"]) / "model.tar.gz"
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with storage.open_local(model["artifact_key"]) as source:
            shutil.copyfile(source, partial)
        os.replace(partial, target)
        return target

    def _start(self, row: ModelServer, *, restart: bool = False, error: str = "") -> None:
        folder = self.runs / str(row.pk)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            models = {
                m["name"]: {
                    "path": str(self._model_file(m)),
                    "version": m["version"],
                    "pipeline": m.get("pipeline"),
                }
                for m in row.spec["models"]
            }
        except (OSError, KeyError, ValueError) as exc:
            _set(
                row.pk,
                status=ServerStatus.FAILED,
                last_error=f"The model files could not be read: {exc}",
            )
            return
        manifest = {
            "models": models,
            "multi_model": row.spec.get("multi_model", False),
            "memory_budget_mb": row.spec.get("memory_budget_mb", 1024),
            "memory_limit_mb": memory_limit_mb(row.spec),
            "host": self.address,
            "port": 0,
            "address_file": str(folder / "address"),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        log = (folder / "server.log").open("ab")
        env = scrubbed_env(folder, {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
        popen = subprocess.Popen(
            [sys.executable, "-m", "endpoints.engine.server", str(folder / "manifest.json")],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[row.pk] = Process(popen, folder, time.monotonic())
        updates: dict[str, Any] = {"status": ServerStatus.STARTING, "pid": popen.pid, "port": 0}
        if restart:
            updates["restarts"] = row.restarts + 1
            updates["last_error"] = error or row.last_error
        _set(row.pk, **updates)

    def _stop(self, server_id: int) -> None:
        proc = self.procs.pop(server_id, None)
        if proc is None:
            return
        _terminate(proc.popen)
        shutil.rmtree(proc.folder, ignore_errors=True)


def memory_limit_mb(spec: dict[str, Any]) -> int:
    """The address space a variant's model server may take: the setting, or the variant's
    model memory budget plus 1 GiB for the interpreter and its libraries when that is more;
    0 (no limit) when the setting is 0."""
    setting = int(settings.SEXTANT_MODEL_SERVER_MEMORY_MB)
    if setting <= 0:
        return 0
    return max(setting, int(spec.get("memory_budget_mb", 1024)) + 1024)


def _set(server_id: int, **fields: Any) -> None:
    """Update a server row, touching ``updated_at``: routers watch it for changes."""
    ModelServer.objects.filter(pk=server_id).update(updated_at=timezone.now(), **fields)


def _terminate(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is not None:
        return
    try:
        os.killpg(popen.pid, signal.SIGTERM)
        popen.wait(timeout=STOP_GRACE_SECONDS)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        popen.wait()


def _kill_leftovers(runs: Path) -> None:
    """Kill the model servers a previous run of this host started (their manifests are
    under its ``runs`` folder; nothing else is touched)."""
    marker = str(runs).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"endpoints.engine.server" in cmdline and marker in cmdline:
            try:
                os.killpg(int(proc.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def default_name() -> str:
    return settings.SEXTANT_MODEL_HOST_NAME or socket.gethostname()
