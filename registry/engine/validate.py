"""A model upload's check, in a limited child process: ``python -m registry.engine.validate
spec.json``.

The spec names the stored upload, its kind, the schema and what the uploader said of it
(:class:`registry.engine.package.WrapSpec`). The child loads the model (unpickling runs the
code it names, which is why this is a child with no secrets), predicts on example rows and
writes the ``sextant-model/1`` archive; it prints one JSON object per line (messages,
progress) and writes ``result.json`` beside the spec. A refused model prints
``{"error": {"message", "field"}}`` and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from registry.engine.package import PackageError, WrapSpec, wrap


def _emit(message: dict[str, Any]) -> None:
    print(json.dumps(message, default=str), flush=True)


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    raw = json.loads(spec_path.read_text())
    spec = WrapSpec(
        source=Path(raw["source"]),
        kind=str(raw["kind"]),
        output=Path(raw["output"]),
        input_schema=raw.get("input_schema"),
        problem_type=raw.get("problem_type"),
        classes=raw.get("classes"),
    )
    try:
        metadata = wrap(spec, _emit)
    except PackageError as exc:
        _emit({"error": {"message": exc.message, "field": exc.field}})
        return 1
    (spec_path.parent / "result.json").write_text(json.dumps({"metadata": metadata}, default=str))
    _emit({"result": {"problem_type": metadata["problem_type"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
