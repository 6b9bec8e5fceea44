"""The model-side drift checks: bias that moved from the baseline's, and a feature ranking
that changed order."""

from __future__ import annotations

from monitor.engine.attribution import ndcg
from monitor.engine.bias import bias_drift


def stage(dppl: float, di: float | None) -> dict[str, list[dict[str, object]]]:
    return {
        "post_training_bias": [
            {
                "facet": "city",
                "value_or_threshold": "Nice",
                "metrics": [
                    {"name": "DPPL", "value": dppl},
                    {"name": "DI", "value": di, "error": None if di is not None else "empty"},
                ],
            }
        ]
    }


def test_a_bias_metric_that_moved_past_the_threshold_is_a_violation():
    violations, scores = bias_drift(stage(0.02, 0.9), stage(0.30, 0.95), threshold=0.1)
    assert [(v["feature"], v["check"], v["value"]) for v in violations] == [
        ("city", "bias_drift_check", 0.30)
    ]
    assert violations[0]["description"].startswith("DPPL for city = Nice moved from 0.020")
    assert scores == {"city=Nice:DPPL": 0.30, "city=Nice:DI": 0.95}


def test_a_metric_missing_on_either_side_is_not_compared():
    violations, scores = bias_drift(stage(0.02, None), stage(0.05, 2.0), threshold=0.1)
    assert violations == []
    assert scores["city=Nice:DI"] == 2.0


def test_a_changed_ranking_is_one_table_level_violation():
    baseline = {"x": 0.6, "y": 0.3, "city": 0.1}
    assert ndcg(baseline, {"x": 0.5, "y": 0.2, "city": 0.05}).violations() == []
    moved = ndcg(baseline, {"x": 0.01, "y": 0.7, "city": 0.2})
    [violation] = moved.violations()
    assert violation["check"] == "feature_attribution_drift_check"
    assert violation["feature"] is None and violation["value"] == moved.ndcg < 0.9
