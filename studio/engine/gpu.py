"""Finding the GPUs a worker can use, without importing any CUDA library."""

from __future__ import annotations

import os
import shutil
import subprocess


def detect_gpus(timeout: float = 10.0) -> list[str]:
    """Names of the CUDA devices visible to this process (empty when there are none)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in {"", "-1"}:
        return []
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    names = [line.strip() for line in out.splitlines() if line.strip()]
    if visible:
        wanted = {v.strip() for v in visible.split(",")}
        names = [n for i, n in enumerate(names) if str(i) in wanted]
    return names
