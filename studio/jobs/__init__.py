"""The Job framework: runners per kind, claiming, heartbeats, cancellation and the reaper.

Apps register a runner for each of their job kinds (:func:`register_runner`); the framework
owns everything else — status transitions, log lines, metric points, progress, leases,
cancellation and retries — so no app writes them again.
"""

from studio.jobs.context import JobCancelled, JobContext, JobFailed
from studio.jobs.registry import RunnerSpec, get_runner, register_runner, runner_kinds

__all__ = [
    "JobCancelled",
    "JobContext",
    "JobFailed",
    "RunnerSpec",
    "get_runner",
    "register_runner",
    "runner_kinds",
]
