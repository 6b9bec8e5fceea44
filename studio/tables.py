"""The list pages' tables: ``?sort=`` over allow-listed columns, the header links that set it,
and pages of 50 rows. Shared by the core's lists and the apps' (they may not import views)."""

from __future__ import annotations

from typing import Any, Final

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE: Final = 50


def paginate(request: HttpRequest, items: QuerySet[Any] | list[Any]) -> Page:
    """The ``?page=`` of ``items`` (the last one for a number past it, the first for junk)."""
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def sort_queryset(
    request: HttpRequest, qs: QuerySet[Any], columns: dict[str, str], default: str
) -> tuple[QuerySet[Any], str]:
    """Order by an allow-listed ``?sort=`` key (``-key`` descending); unknown keys fall back."""
    sort = request.GET.get("sort", default)
    key = sort.lstrip("-")
    if key not in columns:
        sort, key = default, default.lstrip("-")
    field = columns[key]
    return qs.order_by(f"-{field}" if sort.startswith("-") else field, "-id"), sort


def sort_header(
    request: HttpRequest,
    sort: str,
    key: str,
    label: str,
    *,
    num: bool = False,
    first_desc: bool = False,
) -> dict[str, Any]:
    """A column header that links to the same page sorted by ``key`` (toggling direction)."""
    params = request.GET.copy()
    params.pop("page", None)
    active = sort.lstrip("-") == key
    desc = active and sort.startswith("-")
    if active:
        params["sort"] = key if desc else f"-{key}"
    else:
        params["sort"] = f"-{key}" if first_desc else key
    return {
        "key": key,
        "label": label,
        "url": f"?{params.urlencode()}",
        "active": active,
        "desc": desc,
        "num": num,
    }
