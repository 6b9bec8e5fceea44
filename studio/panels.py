"""Cards that apps above the core add to the core's pages (the home dashboard, the ops
console), without the core importing them.

An app registers, when it loads, a template and a function giving its context::

    register_panel("home", "endpoints/partials/home_panel.html", home_context)

The function takes the request and the page's project (None on the ops console) and returns
the template's context, or None to show nothing. A failing panel is logged and left out: a
page must render when one app above has a problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from studio.models import Project

logger = logging.getLogger(__name__)

PAGES = ("home", "ops")
Context = Callable[[HttpRequest, Project | None], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    template: str
    context: Context


_PANELS: dict[str, list[Panel]] = {page: [] for page in PAGES}


def register_panel(page: str, template: str, context: Context) -> None:
    if page not in _PANELS:
        raise ValueError(f"No page {page!r} takes panels ({', '.join(PAGES)}).")
    panel = Panel(template, context)
    if panel not in _PANELS[page]:
        _PANELS[page].append(panel)


def panels(page: str, request: HttpRequest, project: Project | None) -> list[dict[str, Any]]:
    """The page's panels that have something to show: ``[{"template", "context"}]``."""
    shown = []
    for panel in _PANELS[page]:
        try:
            context = panel.context(request, project)
        except Exception:  # one app's failure must not take the page down
            logger.exception("The %s panel %s failed", page, panel.template)
            continue
        if context is not None:
            shown.append({"template": panel.template, "context": context})
    return shown
