"""Running a job's work in a limited subprocess: user code, flows over big data, training.

The child gets its own process group (a stop kills everything it started), an address-space
limit, a time limit, and an environment without the studio's secrets (no database URL, no
secret key, no storage credentials). JSON lines it prints become the job's log lines,
progress and metric points as they come.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from studio.jobs.context import JobContext

ROOT = Path(__file__).resolve().parents[2]  # the checkout, for the children's imports
# What a subprocess running user code may see of the environment: no database URL, no
# secret key, no storage credentials.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


def scrubbed_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env.update(
        {
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def _limits(memory_bytes: int) -> Any:
    def apply() -> None:
        os.setsid()  # its own process group, so a stop kills whatever it started
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return apply


def run_limited(
    ctx: JobContext,
    argv: list[str],
    *,
    workdir: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    memory_bytes: int | None = None,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    merge_stderr: bool = False,
    on_tick: Callable[[], None] | None = None,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``argv`` under the job's limits, relaying its JSON lines into the job.

    ``memory_bytes`` defaults to the processing limit (``SEXTANT_PROCESSING_MEMORY_MB``).
    Each line is a JSON object (other text is a log line): ``message`` becomes a log line,
    ``progress`` the job's progress, ``metric`` (``{name, value, step}``) a metric point;
    ``on_message`` sees every one as it comes. Returns the exit status, the last 1,000
    messages and the tail of its stderr (``merge_stderr``: of its whole output, which then
    all goes through the log). A stop request or the time limit kills its process group.
    """
    memory = memory_bytes or int(settings.SEXTANT_PROCESSING_MEMORY_MB) * 1024 * 1024
    stderr_path = workdir / "stderr.txt"
    recent: deque[str] = deque(maxlen=40)
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=scrubbed_env(workdir, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else stderr,
            preexec_fn=_limits(memory),
        )
        lines: queue.Queue[bytes | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.put(raw)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        messages: deque[dict[str, Any]] = deque(maxlen=1000)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    raw = lines.get(timeout=0.5)
                except queue.Empty:
                    raw = b""
                if raw is None:
                    break
                if raw:
                    message = parse_line(raw)
                    messages.append(message)
                    recent.append(_text(raw).rstrip())
                    if "message" in message:
                        ctx.log(str(message["message"]))
                    if "progress" in message:
                        ctx.progress(float(message["progress"]))
                    point = message.get("metric")
                    if isinstance(point, dict):
                        _record(ctx, point)
                    if on_message is not None:
                        on_message(message)
                if on_tick is not None:
                    on_tick()  # at least every half second
                if time.monotonic() > deadline:
                    ctx.request_cancel(
                        f"The run went past its time limit ({timeout:g} s).", failed=True
                    )
                ctx.check_cancelled()
        except BaseException:
            kill(proc)
            raise
        status = proc.wait()
    if merge_stderr:
        tail = "\n".join(recent)[-2000:]
    else:
        tail = _text(stderr_path.read_bytes()[-8000:])[-2000:]
    return status, list(messages), tail


def _text(raw: bytes) -> str:
    """A line of a child's output as text a database stores: undecodable bytes and NUL
    characters (which PostgreSQL's text refuses) become U+FFFD."""
    return raw.decode(errors="replace").replace("\x00", "\ufffd")


def parse_line(raw: bytes) -> dict[str, Any]:
    text = _text(raw).strip()
    try:
        value = json.loads(text)
    except ValueError:
        return {"message": text}
    return value if isinstance(value, dict) else {"message": text}


def kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _record(ctx: JobContext, point: dict[str, Any]) -> None:
    try:
        ctx.metric(str(point["name"])[:200], float(point["value"]), int(point.get("step", 0)))
    except (KeyError, TypeError, ValueError):
        ctx.log(f"Ignored a metric point that is not {{name, value, step}}: {point!r}")


def memory_failure(status: int, stderr_tail: str) -> bool:
    """Whether a child's end looks like it ran out of memory."""
    return status in (-signal.SIGKILL, -signal.SIGSEGV) or "MemoryError" in stderr_tail
