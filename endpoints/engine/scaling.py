"""How many instances a variant should run, from how busy its instances are.

The measure is the mean number of requests in flight across the variant (Little's law:
the sum of request times over a window divided by its length), which routers record every
second. The variant wants enough instances that each carries ``target_in_flight``:
``ceil(concurrency / target)``, within ``[min, max]``. Scaling out happens at once; scaling
in waits until the load has stayed low for the whole cool-down, so a short lull does not
stop instances that the next burst needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalingDecision:
    desired: int
    reason: str


def desired_instances(
    *,
    concurrency: float,
    target: float,
    current: int,
    low: int,
    high: int,
    may_scale_in: bool,
) -> ScalingDecision:
    """The instance count for a variant whose requests in flight average ``concurrency``."""
    wanted = max(low, min(high, math.ceil(concurrency / target) if concurrency > 0 else low))
    if wanted > current:
        return ScalingDecision(
            wanted,
            f"{concurrency:.2f} requests in flight for {current} instance(s) "
            f"above the target of {target:g} each",
        )
    if wanted < current:
        if not may_scale_in:
            return ScalingDecision(current, "load fell; waiting for the cool-down to scale in")
        return ScalingDecision(
            wanted, f"{concurrency:.2f} requests in flight: {wanted} instance(s) carry it"
        )
    return ScalingDecision(current, "on target")
