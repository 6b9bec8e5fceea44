"""Record values for the debugger from your training script: ``from training.hook import
save_scalar, save_tensor``.

Each call prints one JSON line that the training job reads: a scalar becomes a metric point
(charts, final metrics, rules), a tensor is summarised here (its mean, mean of absolute
values, min, max, and counts of NaN and infinite values) and checked by the rules that look
at tensors (ExplodingTensor, VanishingGradient, UnchangedTensor). Nothing is sent over the
network, and nothing here needs the studio: outside a training job the lines are just printed.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def save_scalar(name: str, value: float, step: int = 0) -> None:
    """One point of the metric ``name`` (e.g. ``train:loss``) at ``step``."""
    print(
        json.dumps({"metric": {"name": name, "value": float(value), "step": int(step)}}), flush=True
    )


def _stats(values: Any) -> dict[str, float]:
    try:
        import numpy as np

        array = np.asarray(values, dtype="float64").ravel()
        finite = array[np.isfinite(array)]
        return {
            "size": float(array.size),
            "nan": float(np.isnan(array).sum()),
            "inf": float(np.isinf(array).sum()),
            "mean": float(finite.mean()) if finite.size else math.nan,
            "mean_abs": float(np.abs(finite).mean()) if finite.size else math.nan,
            "min": float(finite.min()) if finite.size else math.nan,
            "max": float(finite.max()) if finite.size else math.nan,
        }
    except ImportError:  # pragma: no cover - numpy ships with the studio
        flat = [float(v) for v in values]
        finite = [v for v in flat if math.isfinite(v)]
        return {
            "size": float(len(flat)),
            "nan": float(sum(math.isnan(v) for v in flat)),
            "inf": float(sum(math.isinf(v) for v in flat)),
            "mean": sum(finite) / len(finite) if finite else math.nan,
            "mean_abs": sum(abs(v) for v in finite) / len(finite) if finite else math.nan,
            "min": min(finite) if finite else math.nan,
            "max": max(finite) if finite else math.nan,
        }


def save_tensor(name: str, values: Any, step: int = 0) -> None:
    """A tensor's statistics at ``step`` (an array, a list, anything numpy can read)."""
    stats = _stats(values)
    line = {"debug": {"name": name, "step": int(step), "tensor": stats}}
    sys.stdout.write(json.dumps(line, allow_nan=True) + "\n")
    sys.stdout.flush()
