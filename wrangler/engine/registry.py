"""The transforms by type name.

Each module of ``transforms/`` registers its own on import; the package's ``__init__``
imports them all, so importing anything from ``wrangler.engine`` fills the registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from wrangler.engine.contracts import PARAM_KINDS, Param, TransformDef

_TRANSFORMS: dict[str, TransformDef] = {}


def transform(
    type: str,
    *,
    title: str,
    category: str,
    params: Iterable[Param] = (),
    inputs: int = 1,
    description: str = "",
    fitted: bool = False,
    rowwise: bool = False,
    custom_code: bool = False,
    helpers: Iterable[Callable[..., Any]] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the transform ``type``."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        declared = tuple(params)
        for p in declared:
            if p.kind not in PARAM_KINDS:
                raise ValueError(f"{type}: unknown parameter kind {p.kind!r}")
        if type in _TRANSFORMS and _TRANSFORMS[type].func is not func:
            raise ValueError(f"transform {type!r} registered twice")
        _TRANSFORMS[type] = TransformDef(
            type=type,
            title=title,
            category=category,
            func=func,
            params=declared,
            inputs=inputs,
            description=description or _plain((func.__doc__ or "").strip().split("\n")[0]),
            fitted=fitted,
            rowwise=rowwise,
            custom_code=custom_code,
            helpers=tuple(helpers),
        )
        return func

    return register


def _plain(line: str) -> str:
    """A docstring's first line as the palette and forms show it: ``name`` becomes name."""
    return re.sub(r"``(.+?)``", r"\1", line)


def get_transform(type: str) -> TransformDef | None:
    return _TRANSFORMS.get(type)


def catalog() -> list[TransformDef]:
    """Every transform, by category then title (the source node is not a transform)."""
    return sorted(_TRANSFORMS.values(), key=lambda t: (t.category, t.title))
