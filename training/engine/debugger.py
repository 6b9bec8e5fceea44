"""Debugger rules: checks of a training job's values as it runs, SageMaker Debugger's.

A job records, per step, its metrics (``train:logloss``, ``validation:auc``…) and, from a
script through :mod:`training.hook`, named scalars and tensors (each tensor as its
statistics: mean, mean of absolute values, min, max, count of NaN and infinite values). The
rules read those :class:`Values` and answer ``InProgress`` (nothing to say yet),
``NoIssuesFound`` or ``IssuesFound`` with what they saw. A rule with the action ``stop``
stops the job when it finds issues.

Some rules need what only the end of training knows (the class counts, the trees, the
feature importances): those are evaluated once, after the fit (``final=True``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

IN_PROGRESS = "InProgress"
NO_ISSUES = "NoIssuesFound"
ISSUES = "IssuesFound"
ACTIONS = ("", "stop")


@dataclass
class Values:
    """What a job has recorded so far."""

    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    tensors: dict[str, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)
    class_counts: list[int] = field(default_factory=list)
    tree_depths: list[int] = field(default_factory=list)
    feature_importance: dict[str, float] = field(default_factory=dict)
    # The importances as training went (XGBoost reports them every few rounds).
    importance_history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    seconds_since_last_value: float = 0.0
    finished: bool = False

    def add(self, name: str, step: int, value: float) -> None:
        self.series.setdefault(name, []).append((step, value))

    def add_tensor(self, name: str, step: int, stats: dict[str, float]) -> None:
        self.tensors.setdefault(name, []).append((step, stats))

    def add_importance(self, step: int, shares: dict[str, float]) -> None:
        self.feature_importance = dict(shares)
        self.importance_history.append((step, dict(shares)))

    def summary(self, limit: int = 500) -> dict[str, Any]:
        """What the rules read besides the metric series (which the job keeps as metric
        points), JSON-ready, each history thinned to about ``limit`` points, ends kept: the
        data behind the rules' plots."""
        tensors = {}
        for name, rows in self.tensors.items():
            kept = thinned(rows, limit)
            tensors[name] = {"step": [step for step, _ in kept]} | {
                stat: [finite(stats.get(stat)) for _, stats in kept] for stat in TENSOR_STATS
            }
        history = thinned(self.importance_history, limit)
        return {
            "tensors": tensors,
            "class_counts": list(self.class_counts),
            "tree_depths": list(self.tree_depths),
            "feature_importance": dict(self.feature_importance),
            "importance_history": [[step, shares] for step, shares in history],
            "seconds_since_last_value": round(self.seconds_since_last_value, 1),
        }


#: The statistics of a tensor that :mod:`training.hook` records, in a summary's order.
TENSOR_STATS = ("mean", "mean_abs", "min", "max", "nan", "inf")


def thinned(rows: Sequence[Any], limit: int) -> list[Any]:
    """At most about ``limit`` of ``rows``, evenly spread, the first and last kept."""
    if len(rows) <= limit:
        return list(rows)
    last = len(rows) - 1
    picks = sorted({round(i * last / (limit - 1)) for i in range(limit)})
    return [rows[i] for i in picks]


def finite(value: Any) -> float | None:
    """JSON has no NaN: a missing, unreadable or non-finite value is None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Finding:
    status: str
    message: str = ""


@dataclass(frozen=True)
class RuleDef:
    name: str
    params: dict[str, Any]  # defaults
    description: str
    check: Callable[[Values, dict[str, Any]], Finding]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "description": self.description}


def _losses(values: Values, pattern: str) -> dict[str, list[tuple[int, float]]]:
    regex = re.compile(pattern)
    return {k: v for k, v in values.series.items() if regex.search(k)}


def _loss_not_decreasing(values: Values, p: dict[str, Any]) -> Finding:
    found = _losses(values, p["tensor_regex"])
    if not found:
        return Finding(IN_PROGRESS)
    for name, points in found.items():
        if len(points) <= p["num_steps"]:
            return Finding(IN_PROGRESS)
        before, now = points[-p["num_steps"] - 1][1], points[-1][1]
        if before > 0 and (before - now) / before * 100 < p["diff_percent"]:
            return Finding(
                ISSUES,
                f"{name} went from {before:.4g} to {now:.4g} over the last {p['num_steps']} "
                f"steps: less than {p['diff_percent']}% lower.",
            )
    return Finding(NO_ISSUES)


def _pairs(values: Values) -> list[tuple[str, list[tuple[int, float]], list[tuple[int, float]]]]:
    """Loss-like metrics logged for both train and validation."""
    out = []
    for name, train in values.series.items():
        if not name.startswith("train:"):
            continue
        metric = name.split(":", 1)[1]
        if not re.search(r"loss|error|rmse|mae", metric):
            continue
        validation = values.series.get(f"validation:{metric}")
        if validation:
            out.append((metric, train, validation))
    return out


def _overfit(values: Values, p: dict[str, Any]) -> Finding:
    pairs = _pairs(values)
    if not pairs:
        return Finding(IN_PROGRESS)
    for metric, train, validation in pairs:
        by_step = dict(train)
        ratios = [
            (step, (value - by_step[step]) / abs(by_step[step]))
            for step, value in validation
            if step >= p["start_step"] and step in by_step and by_step[step] != 0
        ]
        over = 0
        for step, ratio in ratios:
            over = over + 1 if ratio > p["ratio_threshold"] else 0
            if over >= p["patience"]:
                return Finding(
                    ISSUES,
                    f"At step {step}, validation {metric} is {ratio:.0%} above train "
                    f"(threshold {p['ratio_threshold']:.0%}).",
                )
    return Finding(NO_ISSUES)


def _not_improving(points: list[tuple[int, float]], patience: int, delta: float) -> int | None:
    """The step from which ``points`` (a loss) has not improved by ``delta`` for
    ``patience`` steps, or None."""
    best, since = math.inf, 0
    for step, value in points:
        if value < best - delta:
            best, since = value, 0
        else:
            since += 1
            if since >= patience:
                return step
    return None


def _overtraining(values: Values, p: dict[str, Any]) -> Finding:
    pairs = _pairs(values)
    if not pairs:
        return Finding(IN_PROGRESS)
    for metric, train, validation in pairs:
        stalled = _not_improving(train, p["patience_train"], p["delta"])
        if stalled is not None:
            return Finding(
                ISSUES,
                f"train {metric} has not improved since step {stalled - p['patience_train']}.",
            )
        stalled = _not_improving(validation, p["patience_validation"], p["delta"])
        if stalled is not None:
            return Finding(
                ISSUES,
                f"validation {metric} has not improved for {p['patience_validation']} steps "
                f"(by step {stalled}).",
            )
    return Finding(NO_ISSUES)


def _stalled(values: Values, p: dict[str, Any]) -> Finding:
    if values.seconds_since_last_value > p["threshold"]:
        return Finding(
            ISSUES,
            f"No new value for {values.seconds_since_last_value:.0f} s "
            f"(threshold {p['threshold']} s).",
        )
    return Finding(NO_ISSUES if values.finished else IN_PROGRESS)


def _exploding(values: Values, p: dict[str, Any]) -> Finding:
    for name, points in values.series.items():
        for step, value in points:
            if math.isnan(value) or (not p["only_nan"] and math.isinf(value)):
                return Finding(ISSUES, f"{name} is {value} at step {step}.")
    for name, rows in values.tensors.items():
        for step, stats in rows:
            bad = stats.get("nan", 0) + (0 if p["only_nan"] else stats.get("inf", 0))
            if bad:
                return Finding(
                    ISSUES, f"Tensor {name} has {int(bad)} NaN or infinite values at step {step}."
                )
    return Finding(NO_ISSUES if values.series or values.tensors else IN_PROGRESS)


def _vanishing(values: Values, p: dict[str, Any]) -> Finding:
    regex = re.compile(p["tensor_regex"])
    seen = False
    for name, rows in values.tensors.items():
        if not regex.search(name):
            continue
        seen = True
        step, stats = rows[-1]
        if stats.get("mean_abs", math.inf) < p["threshold"]:
            return Finding(
                ISSUES,
                f"Mean |{name}| is {stats['mean_abs']:.2g} at step {step} "
                f"(below {p['threshold']:g}).",
            )
    return Finding(NO_ISSUES if seen else IN_PROGRESS)


def _unchanged(values: Values, p: dict[str, Any]) -> Finding:
    n = p["num_steps"]
    checked = False
    for name, rows in values.tensors.items():
        if len(rows) < n:
            continue
        checked = True
        last = [stats.get("mean", 0.0) for _, stats in rows[-n:]]
        if all(math.isclose(v, last[0], rel_tol=p["rtol"], abs_tol=p["atol"]) for v in last):
            return Finding(ISSUES, f"Tensor {name} has not changed over the last {n} steps.")
    return Finding(NO_ISSUES if checked else IN_PROGRESS)


def _class_imbalance(values: Values, p: dict[str, Any]) -> Finding:
    counts = [c for c in values.class_counts if c > 0]
    if len(counts) < 2:
        return Finding(NO_ISSUES if values.finished else IN_PROGRESS)
    ratio = max(counts) / min(counts)
    if ratio > p["threshold_imbalance"]:
        return Finding(
            ISSUES,
            f"The largest class has {ratio:.1f}× the rows of the smallest "
            f"(threshold {p['threshold_imbalance']}×).",
        )
    return Finding(NO_ISSUES)


def _tree_depth(values: Values, p: dict[str, Any]) -> Finding:
    if not values.tree_depths:
        return Finding(NO_ISSUES if values.finished else IN_PROGRESS)
    mean = sum(values.tree_depths) / len(values.tree_depths)
    if mean > p["depth"]:
        return Finding(
            ISSUES,
            f"The trees are {mean:.1f} levels deep on average, deeper than {p['depth']}: "
            "deep trees fit noise; try a lower max_depth.",
        )
    return Finding(NO_ISSUES)


def _importance(values: Values, p: dict[str, Any]) -> Finding:
    shares = sorted(values.feature_importance.values(), reverse=True)
    if not shares:
        return Finding(NO_ISSUES if values.finished else IN_PROGRESS)
    top = sum(shares[: p["nfeatures"]])
    if top > p["threshold"]:
        return Finding(
            ISSUES,
            f"The top {p['nfeatures']} features carry {top:.0%} of the importance "
            f"(threshold {p['threshold']:.0%}).",
        )
    return Finding(NO_ISSUES)


RULES: dict[str, RuleDef] = {
    rule.name: rule
    for rule in (
        RuleDef(
            "LossNotDecreasing",
            {"tensor_regex": "loss", "num_steps": 10, "diff_percent": 0.1},
            "A loss has not decreased by diff_percent % over the last num_steps steps.",
            _loss_not_decreasing,
        ),
        RuleDef(
            "Overfit",
            {"start_step": 0, "patience": 1, "ratio_threshold": 0.1},
            "Validation loss above train loss by more than ratio_threshold, for patience steps.",
            _overfit,
        ),
        RuleDef(
            "Overtraining",
            {"patience_train": 5, "patience_validation": 10, "delta": 0.01},
            "Train loss stalled for patience_train steps, or validation for patience_validation.",
            _overtraining,
        ),
        RuleDef(
            "StalledTrainingRule",
            {"threshold": 1800},
            "No new value for threshold seconds.",
            _stalled,
        ),
        RuleDef(
            "ExplodingTensor",
            {"only_nan": False},
            "A metric or tensor is NaN (or infinite, unless only_nan).",
            _exploding,
        ),
        RuleDef(
            "VanishingGradient",
            {"threshold": 1e-7, "tensor_regex": "grad"},
            "The mean absolute value of a gradient tensor is below threshold.",
            _vanishing,
        ),
        RuleDef(
            "UnchangedTensor",
            {"num_steps": 3, "rtol": 1e-5, "atol": 1e-8},
            "A tensor's mean has not changed over num_steps steps.",
            _unchanged,
        ),
        RuleDef(
            "ClassImbalance",
            {"threshold_imbalance": 10},
            "The largest class has more than threshold_imbalance times the smallest's rows.",
            _class_imbalance,
        ),
        RuleDef(
            "TreeDepth",
            {"depth": 4},
            "The trees are deeper than depth on average (XGBoost, random forest).",
            _tree_depth,
        ),
        RuleDef(
            "FeatureImportanceOverweight",
            {"threshold": 0.8, "nfeatures": 3},
            "The top nfeatures features carry more than threshold of the importance.",
            _importance,
        ),
    )
}

#: Rules a job gets when it names none.
DEFAULT_RULES = (
    "LossNotDecreasing",
    "Overfit",
    "Overtraining",
    "ExplodingTensor",
    "ClassImbalance",
)


class RuleError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_rules(value: Any) -> list[dict[str, Any]]:
    """``[{"name", "params", "action"}]`` checked, with each rule's defaults filled in;
    ``None`` gives the default set."""
    if value is None:
        value = [{"name": name} for name in DEFAULT_RULES]
    if not isinstance(value, list):
        raise RuleError(
            'debugger_rules is a list of {"name", "params", "action"}.', "debugger_rules"
        )
    out, seen = [], set()
    for i, item in enumerate(value):
        where = f"debugger_rules.{i}"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise RuleError('Each rule is {"name", "params", "action"}.', where)
        rule = RULES.get(str(item["name"]))
        if rule is None:
            raise RuleError(
                f"Unknown rule {item['name']!r}; one of {', '.join(RULES)}.", f"{where}.name"
            )
        if rule.name in seen:
            raise RuleError(f"{rule.name} is listed twice.", f"{where}.name")
        seen.add(rule.name)
        params = dict(rule.params)
        given = item.get("params") or {}
        if not isinstance(given, dict):
            raise RuleError("params is an object.", f"{where}.params")
        for key, raw in given.items():
            if key not in params:
                raise RuleError(
                    f"{rule.name} takes {', '.join(params)}; not {key!r}.", f"{where}.params.{key}"
                )
            default = params[key]
            try:
                if isinstance(default, bool):
                    params[key] = raw if isinstance(raw, bool) else str(raw).lower() == "true"
                elif isinstance(default, int):
                    params[key] = int(raw)
                elif isinstance(default, float):
                    params[key] = float(raw)
                else:
                    params[key] = str(raw)
                    re.compile(params[key])
            except (TypeError, ValueError, re.error):
                raise RuleError(
                    f"{key} must be like {default!r}.", f"{where}.params.{key}"
                ) from None
        action = item.get("action") or ""
        if action not in ACTIONS:
            raise RuleError('action is "stop" or empty.', f"{where}.action")
        out.append({"name": rule.name, "params": params, "action": action})
    return out


def evaluate(rules: list[dict[str, Any]], values: Values) -> list[dict[str, Any]]:
    """Each rule's status and message on ``values``."""
    out = []
    for rule in rules:
        finding = RULES[rule["name"]].check(values, rule["params"])
        status = finding.status
        if values.finished and status == IN_PROGRESS:
            status = NO_ISSUES  # nothing it could check came: it found nothing
        out.append({**rule, "status": status, "message": finding.message})
    return out
