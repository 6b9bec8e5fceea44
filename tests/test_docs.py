"""The README and the guides in docs/ link only to files that exist: every image they show
and every page they point to."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); fenced code blocks are skipped.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def local_targets(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    targets = [m.group(1).split("#", 1)[0] for m in LINK.finditer(text)]
    return [t for t in targets if t and not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_every_local_link_and_image_in_the_docs_exists() -> None:
    missing = [
        f"{page.relative_to(ROOT)} → {target}"
        for page in PAGES
        for target in local_targets(page)
        if not (page.parent / target).exists()
    ]
    assert len(PAGES) > 10
    assert missing == []


def test_every_guide_is_linked_from_the_readme() -> None:
    readme = local_targets(ROOT / "README.md")
    guides = {f"docs/{p.name}" for p in PAGES if p.parent.name == "docs"}
    assert guides - set(readme) == set()
