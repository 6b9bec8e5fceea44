"""Progress reporting shared by the engine's long-running steps.

Engines never know who listens: a task may write the fraction to a Job row or broadcast it,
so calls are throttled to 1% steps and never go backwards (a restart re-reads from the top).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float], None]


class ThrottledProgress:
    """Forwards a rising fraction in [0, 1] to an optional callback, at most once per 1%."""

    def __init__(self, callback: ProgressCallback | None, *, step: float = 0.01) -> None:
        self._callback = callback
        self._step = step
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        if self._callback is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction >= self._last + self._step or (fraction == 1.0 and self._last < 1.0):
            self._last = fraction
            self._callback(fraction)
