"""What was made from a model package, told by the apps above the registry.

The registry cannot import the apps that deploy its packages (they sit in higher layers), so
those apps register a function here when they load::

    from registry.lineage import register_downstream

    @register_downstream
    def endpoints_of(package):
        return [{"kind": "endpoint", "name": "churn", "url": "/endpoints/3/",
                 "status": "InService"}]

Each function takes a :class:`~registry.models.ModelPackage` and returns a list of dicts
with ``kind``, ``name``, ``url`` and ``status``; :func:`downstream` gathers them all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from registry.models import ModelPackage

logger = logging.getLogger("registry")

Downstream = Callable[[ModelPackage], list[dict[str, Any]]]
KEYS = ("kind", "name", "url", "status")

_HOOKS: list[Downstream] = []


def register_downstream(fn: Downstream) -> Downstream:
    """Add ``fn`` to the functions that list a package's downstream objects (once; usable
    as a decorator)."""
    if fn not in _HOOKS:
        _HOOKS.append(fn)
    return fn


def unregister_downstream(fn: Downstream) -> None:
    if fn in _HOOKS:
        _HOOKS.remove(fn)


def downstream(package: ModelPackage) -> list[dict[str, Any]]:
    """Every object made from ``package``, as the registered functions list them.

    A failing function is logged and skipped: the lineage of a package must still show
    when one app above has a problem.
    """
    found: list[dict[str, Any]] = []
    for fn in list(_HOOKS):
        try:
            items = fn(package)
        except Exception:
            logger.exception("A downstream lineage hook (%r) failed", fn)
            continue
        for item in items or []:
            if isinstance(item, dict):
                found.append({key: item.get(key) or "" for key in KEYS})
    return found
