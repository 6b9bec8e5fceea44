"""The training guide's algorithm reference is the registry's own."""

from __future__ import annotations

from pathlib import Path

from training.engine.reference import markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


def test_the_guide_lists_every_algorithm_as_the_registry_declares_it():
    text = DOC.read_text()
    block = text.split("<!-- algorithms:start -->\n", 1)[1].split("<!-- algorithms:end -->", 1)[0]
    assert block == markdown(), "run: python -m training.engine.reference"
