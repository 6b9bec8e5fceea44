"""Virtual environments of the peers a benchmark compares with (MLflow, crowd-kit…): made
with pip on first use under ``var/bench/``, reused while they hold the wanted versions, and
removed again when an install fails, so a half-made one is never reused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


def ensure_venv(
    venv: Path, wanted: dict[str, str], *, name: str, tag: str, extra: tuple[str, ...] = ()
) -> str:
    """Make (or reuse) ``venv`` with the ``wanted`` distributions at those versions, plus
    ``extra`` requirements; "" when it is ready, else why it is not."""
    python = venv / "bin" / "python"
    probe = (
        "import json, importlib.metadata as m\n"
        f"print(json.dumps({{d: m.version(d) for d in {sorted(wanted)!r}}}))"
    )
    if python.exists():
        have = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, check=False
        )
        if have.returncode == 0 and json.loads(have.stdout) == wanted:
            return ""
        shutil.rmtree(venv, ignore_errors=True)
    print(f"[{tag}] installing {name} into {venv} …", flush=True)
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--timeout",
                "30",
                "--retries",
                "2",
                *(f"{dist}=={version}" for dist, version in wanted.items()),
                *extra,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        lines = [x for x in (exc.stderr or "").splitlines() if x.startswith("ERROR")]
        return f"pip could not install {name}: " + (
            "; ".join(lines[-2:]) or f"exit {exc.returncode}"
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        return f"{name}'s environment could not be made: {exc}"
    return ""
