"""Runners by job kind.

A runner is a function ``run(ctx: JobContext) -> dict`` whose return value becomes the job's
``outputs``. ``on_finish`` (optional) is called once the job has ended — Completed, Failed
or Stopped — from wherever that happened (the run itself, a Stop on a Pending job, or the
reaper giving up on a lost worker), so the domain object a job works for never stays Pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.jobs.context import JobContext
    from studio.models import Job


@dataclass(frozen=True)
class RunnerSpec:
    """How to run one kind of job."""

    kind: str
    run: Callable[[JobContext], dict[str, Any] | None]
    queue: str = "cpu"
    title: str = ""
    on_finish: Callable[[Job], None] | None = None


_RUNNERS: dict[str, RunnerSpec] = {}


def register_runner(
    kind: str,
    *,
    queue: str = "cpu",
    title: str = "",
    on_finish: Callable[[Job], None] | None = None,
) -> Callable[[Callable[[JobContext], dict[str, Any] | None]], Callable[..., Any]]:
    """Register the decorated function as the runner of ``kind``."""

    def decorate(
        func: Callable[[JobContext], dict[str, Any] | None],
    ) -> Callable[[JobContext], dict[str, Any] | None]:
        if kind in _RUNNERS and _RUNNERS[kind].run is not func:
            raise ValueError(f"A runner for job kind {kind!r} is already registered.")
        _RUNNERS[kind] = RunnerSpec(
            kind=kind, run=func, queue=queue, title=title or kind, on_finish=on_finish
        )
        return func

    return decorate


def get_runner(kind: str) -> RunnerSpec | None:
    return _RUNNERS.get(kind)


def runner_kinds() -> list[str]:
    return sorted(_RUNNERS)
