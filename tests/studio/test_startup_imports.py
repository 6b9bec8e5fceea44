"""What a process loads before it does any work: the web process and the worker start
without the data libraries, which only the requests and jobs that use them import, and the
worker without the web layer (views, serializers, the API schema) either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from studio.launcher import ROOT

#: Each adds tens of MiB to every process that imports it (scikit-learn with SciPy: ~150).
HEAVY = ("pandas", "pyarrow", "sklearn", "scipy", "plotly", "PIL", "xgboost", "shap", "numpy")

STARTUP = """
import json, os, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # every app's views, serializers and forms
from studio.celery import app
app.loader.import_default_modules()  # every task module
print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""


def loaded_at_start(script: str, modules: tuple[str, ...], var: Path) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported once ``script`` ran."""
    # Unset, as in production: the worker's own module decides whether checks run.
    env = {key: value for key, value in os.environ.items() if key != "CELERY_SKIP_CHECKS"} | {
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "SEXTANT_VAR_DIR": str(var),
    }
    result = subprocess.run(
        [sys.executable, "-c", script, *modules],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_studio_starts_without_the_data_libraries(tmp_path: Path) -> None:
    loaded = loaded_at_start(STARTUP, HEAVY, tmp_path)
    assert loaded == [], f"imported at start: {loaded}"


WORKER_STARTUP = """
import json, sys
import django
django.setup()
from studio.celery import app
app.loader.import_default_modules()  # what `celery -A studio worker` does before forking
print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""
#: The web layer: the URLconf with every view, and the libraries only pages and the API use.
WEB_ONLY = ("studio.urls", "studio.api.views", "rest_framework.views", "drf_spectacular.openapi")


def test_a_worker_starts_without_the_web_layer(tmp_path: Path) -> None:
    loaded = loaded_at_start(WORKER_STARTUP, (*WEB_ONLY, *HEAVY), tmp_path)
    assert loaded == [], f"imported when a worker starts: {loaded}"


def test_the_api_names_every_analysis_the_engine_runs() -> None:
    from wrangler.api import ANALYSIS_KINDS
    from wrangler.engine.analyses import ANALYSES

    assert list(ANALYSIS_KINDS) == [*ANALYSES, "insights"]
