"""Feature-attribution drift: has the ranking of the features by their SHAP importance moved
away from the baseline's? Scored as SageMaker Model Monitor scores it, by the normalized
discounted cumulative gain (NDCG) of the current ranking judged with the baseline's
importances:

    DCG  = Σ_i  a(F_i) / log2(i + 1)     over the current ranking F_1, F_2, … (top k)
    iDCG = the same sum over the baseline's own ranking
    NDCG = DCG / iDCG  (1.0: the same order; below the threshold, 0.90 by default: drift)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_THRESHOLD = 0.90


@dataclass(frozen=True)
class AttributionDrift:
    """The NDCG of the current ranking and the two rankings compared."""

    ndcg: float
    threshold: float
    baseline_ranking: tuple[str, ...]
    current_ranking: tuple[str, ...]

    @property
    def drifted(self) -> bool:
        return self.ndcg < self.threshold

    def violations(self) -> list[dict[str, Any]]:
        """A ``feature_attribution_drift_check`` violation when the ranking moved."""
        if not self.drifted:
            return []
        return [
            {
                "feature": None,
                "check": "feature_attribution_drift_check",
                "description": (
                    f"The features' ranking by SHAP importance moved: NDCG {self.ndcg:.3f} "
                    f"against the baseline, below {self.threshold:g}."
                ),
                "value": self.ndcg,
                "threshold": self.threshold,
            }
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ndcg": self.ndcg,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "baseline_ranking": list(self.baseline_ranking),
            "current_ranking": list(self.current_ranking),
        }


def importances(global_importance: list[dict[str, Any]]) -> dict[str, float]:
    """``[{"feature", "mean_abs_shap"}]`` as a mapping."""
    return {str(row["feature"]): float(row["mean_abs_shap"]) for row in global_importance}


def ndcg(
    baseline: Mapping[str, float],
    current: Mapping[str, float],
    *,
    k: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> AttributionDrift:
    """NDCG of ``current``'s ranking, with ``baseline``'s importances as relevance."""
    ideal = sorted(baseline, key=lambda f: (-baseline[f], f))
    ranked = sorted(current, key=lambda f: (-current[f], f))
    top = k or len(ideal)

    def dcg(order: list[str]) -> float:
        return sum(abs(baseline.get(f, 0.0)) / math.log2(i + 2) for i, f in enumerate(order[:top]))

    best = dcg(ideal)
    score = dcg(ranked) / best if best > 0 else 1.0
    return AttributionDrift(min(1.0, score), threshold, tuple(ideal), tuple(ranked))
