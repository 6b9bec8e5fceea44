"""A training job's child process: ``python -m training.engine.job spec.json``.

It trains as :func:`training.engine.train.train` says, printing one JSON object per line
(messages, progress, metric points) for the worker to relay, then ``{"result": …}``; a
problem with the data or settings prints ``{"error": {"message", "field"}}`` and exits 1.
The result is also written to ``result.json`` beside the spec.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from training.engine.train import TrainingError, train


def _emit(message: dict[str, Any]) -> None:
    print(json.dumps(message, default=str), flush=True)


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    try:
        result = train(spec, _emit)
    except TrainingError as exc:
        _emit({"error": {"message": exc.message, "field": exc.field}})
        return 1
    (spec_path.parent / "result.json").write_text(json.dumps(result, default=str))
    _emit({"result": {"final_metrics": result["final_metrics"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
