"""Labeling instructions: Markdown rendered to HTML, then sanitised, since whoever writes a
job's instructions must not be able to run script in a labeler's browser."""

from __future__ import annotations

import markdown as md
import nh3

_TAGS = {
    "a",
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
    "span",
    "del",
}


def render_instructions(text: str) -> str:
    """Safe HTML for a job's Markdown instructions (tables and fenced code included)."""
    html = md.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"])
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}, "*": {"class"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
