"""Serves JavaScript that ships inside Python packages as ordinary static files.

plotly's wheel carries plotly.min.js; exposing it as ``vendor/plotly.min.js`` means no CDN,
no npm, and the same file in the embedded mode (finders) and in production (collectstatic).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# Found without importing plotly, which the web process need not load to serve a file.
_PLOTLY = importlib.util.find_spec("plotly")
assert _PLOTLY is not None and _PLOTLY.origin is not None, "plotly is a dependency"
PACKAGED = {"vendor/plotly.min.js": Path(_PLOTLY.origin).parent / "package_data" / "plotly.min.js"}


class PackagedAssetsFinder(BaseFinder):
    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        source = PACKAGED.get(path)
        if source is None or not source.exists():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns: Any) -> Any:
        for rel, source in PACKAGED.items():
            if source.exists():
                storage = FileSystemStorage(location=str(source.parent))
                storage.prefix = str(Path(rel).parent)  # type: ignore[attr-defined]
                yield source.name, storage
