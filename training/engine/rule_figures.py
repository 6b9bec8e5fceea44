"""The plot behind each debugger rule: the values it read, drawn the way it reads them.

:func:`rule_figures` takes a job's rule statuses, its metric series and the summary of what
else its rules saw (:meth:`training.engine.debugger.Values.summary`) and returns, per rule,
a small chart description — ``lines`` over steps or ``bars`` — with the rule's threshold
where it has one, and a note that says what the chart shows. The page draws it with plotly;
API clients get the same description.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from training.engine.debugger import finite, thinned

Series = dict[str, Sequence[Sequence[float]]]

#: Points a line keeps at most (its ends kept).
MAX_POINTS = 500


@dataclass(frozen=True)
class Trace:
    """One curve or one set of bars."""

    name: str
    x: Sequence[Any]
    y: Sequence[float | None]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class Figure:
    """A chart: ``lines`` (x is the step) or ``bars``; ``threshold`` is drawn as a dashed
    line across (or, for ``threshold_axis="x"``, down) the chart."""

    kind: str
    x_title: str
    y_title: str
    traces: list[Trace] = field(default_factory=list)
    threshold: float | None = None
    threshold_axis: str = "y"
    log_y: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "x_title": self.x_title,
            "y_title": self.y_title,
            "traces": [t.to_dict() for t in self.traces],
            "threshold": self.threshold,
            "threshold_axis": self.threshold_axis,
            "log_y": self.log_y,
        }


@dataclass(frozen=True)
class Inputs:
    """What a rule's plot may draw on."""

    series: Series
    summary: dict[str, Any]
    classes: list[str]


Plot = tuple[Figure | None, str]


def _thin(points: Sequence[Sequence[float]]) -> tuple[list[Any], list[float | None]]:
    kept = thinned(points, MAX_POINTS)
    return [p[0] for p in kept], [finite(p[1]) for p in kept]


def _line(name: str, points: Sequence[Sequence[float]]) -> Trace:
    x, y = _thin(points)
    return Trace(name, x, y)


def _loss_pairs(series: Series) -> list[tuple[str, str, str]]:
    """(metric, train name, validation name) of loss-like metrics logged on both channels,
    the pairs the Overfit and Overtraining rules compare."""
    out = []
    for name in sorted(series):
        if not name.startswith("train:"):
            continue
        metric = name.split(":", 1)[1]
        if re.search(r"loss|error|rmse|mae", metric) and f"validation:{metric}" in series:
            out.append((metric, name, f"validation:{metric}"))
    return out


def _tensor_lines(summary: dict[str, Any], stat: str, pattern: str = "") -> list[Trace]:
    regex = re.compile(pattern) if pattern else None
    traces = []
    for name, rows in sorted((summary.get("tensors") or {}).items()):
        if regex is not None and not regex.search(name):
            continue
        values = rows.get(stat) or []
        traces.append(_line(name, list(zip(rows.get("step") or [], values, strict=False))))
    return traces


def _loss_not_decreasing(p: dict[str, Any], data: Inputs) -> Plot:
    regex = re.compile(p["tensor_regex"])
    names = [n for n in sorted(data.series) if regex.search(n)]
    if not names:
        return None, f"No metric matching {p['tensor_regex']!r} was recorded."
    figure = Figure("lines", "step", "value", [_line(n, data.series[n]) for n in names])
    return figure, (
        f"Metrics matching {p['tensor_regex']!r}; each must fall by {p['diff_percent']}% "
        f"over every {p['num_steps']} steps."
    )


def _overfit(p: dict[str, Any], data: Inputs) -> Plot:
    pairs = _loss_pairs(data.series)
    if not pairs:
        return None, "Overfit compares a loss logged for both train and validation; none was."
    traces = []
    for metric, train_name, validation_name in pairs:
        train = {step: value for step, value in data.series[train_name]}
        gaps = [
            (step, (value - train[step]) / abs(train[step]))
            for step, value in data.series[validation_name]
            if step >= p["start_step"] and train.get(step)
        ]
        traces.append(_line(f"{metric} gap", gaps))
    figure = Figure(
        "lines", "step", "(validation − train) / train", traces, threshold=p["ratio_threshold"]
    )
    return figure, (
        f"How far the validation loss is above the train loss; issues after "
        f"{p['patience']} step(s) above {p['ratio_threshold']:g}."
    )


def _overtraining(p: dict[str, Any], data: Inputs) -> Plot:
    pairs = _loss_pairs(data.series)
    if not pairs:
        return None, "Overtraining follows a loss logged for both train and validation."
    traces = [
        _line(name, data.series[name]) for _, train, valid in pairs for name in (train, valid)
    ]
    return Figure("lines", "step", "loss", traces), (
        f"Issues when train stops improving by {p['delta']:g} for {p['patience_train']} steps, "
        f"or validation for {p['patience_validation']}."
    )


def _stalled(p: dict[str, Any], data: Inputs) -> Plot:
    since = data.summary.get("seconds_since_last_value")
    last = f"; the last value came {since:g} s before the last check" if since else ""
    return None, f"Issues when no value comes for {p['threshold']} s{last}."


def _exploding(p: dict[str, Any], data: Inputs) -> Plot:
    tensors = data.summary.get("tensors") or {}
    if tensors:
        traces = []
        for name, rows in sorted(tensors.items()):
            bad = [
                (nan or 0) + (0 if p["only_nan"] else (inf or 0))
                for nan, inf in zip(rows.get("nan") or [], rows.get("inf") or [], strict=False)
            ]
            traces.append(_line(name, list(zip(rows.get("step") or [], bad, strict=False))))
        label = "NaN values" if p["only_nan"] else "NaN and infinite values"
        return Figure("lines", "step", label, traces, threshold=0), (
            f"{label} in each saved tensor; any above 0 is an issue, as is a metric that "
            "is not a number."
        )
    names = sorted(data.series)
    if not names:
        return None, "No metric or tensor was recorded."
    return Figure("lines", "step", "value", [_line(n, data.series[n]) for n in names]), (
        "Every metric the job logged; a value that is not a number (or infinite) is an issue."
    )


def _vanishing(p: dict[str, Any], data: Inputs) -> Plot:
    traces = _tensor_lines(data.summary, "mean_abs", p["tensor_regex"])
    if not traces:
        return None, (
            f"Reads tensors whose name matches {p['tensor_regex']!r}, saved with "
            "training.hook.save_tensor; none was."
        )
    figure = Figure("lines", "step", "mean |value|", traces, threshold=p["threshold"], log_y=True)
    return figure, f"Issues when the latest mean |value| falls below {p['threshold']:g}."


def _unchanged(p: dict[str, Any], data: Inputs) -> Plot:
    traces = _tensor_lines(data.summary, "mean")
    if not traces:
        return None, "Reads tensors saved with training.hook.save_tensor; none was."
    return Figure("lines", "step", "mean", traces), (
        f"Issues when a tensor's mean stays the same over {p['num_steps']} steps."
    )


def _class_imbalance(p: dict[str, Any], data: Inputs) -> Plot:
    counts = data.summary.get("class_counts") or []
    if not counts:
        return None, "Counts the train channel's rows per class (classification only)."
    names = [data.classes[i] if i < len(data.classes) else f"class {i}" for i in range(len(counts))]
    smallest = min((c for c in counts if c > 0), default=0)
    figure = Figure(
        "bars",
        "class",
        "train rows",
        [Trace("rows", names, [float(c) for c in counts])],
        threshold=smallest * p["threshold_imbalance"] if smallest else None,
    )
    return figure, (
        f"Issues when the largest class has more than {p['threshold_imbalance']}× the rows of "
        "the smallest (the dashed line)."
    )


def _tree_depth(p: dict[str, Any], data: Inputs) -> Plot:
    depths = [int(d) for d in data.summary.get("tree_depths") or []]
    if not depths:
        return None, "Reads the depths of a tree ensemble's trees once it is trained."
    levels = list(range(0, max(depths) + 1))
    counts = [float(depths.count(level)) for level in levels]
    figure = Figure(
        "bars",
        "depth",
        "trees",
        [Trace("trees", levels, counts)],
        threshold=p["depth"],
        threshold_axis="x",
    )
    mean = sum(depths) / len(depths)
    return figure, f"{len(depths)} trees, {mean:.1f} levels deep on average (limit {p['depth']})."


def _importance(p: dict[str, Any], data: Inputs) -> Plot:
    n = p["nfeatures"]
    history = data.summary.get("importance_history") or []
    if len(history) > 1:
        tops = [(step, sum(sorted(shares.values(), reverse=True)[:n])) for step, shares in history]
        figure = Figure(
            "lines", "step", f"share of the top {n}", [_line(f"top {n}", tops)], p["threshold"]
        )
        return figure, (
            f"The share of the importance the top {n} features carry, round by round; issues "
            f"above {p['threshold']:g}."
        )
    shares = data.summary.get("feature_importance") or {}
    if not shares:
        return None, "Reads the model's feature importances (trees and linear models)."
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:20]
    bars = Trace("share", [k for k, _ in top], [float(v) for _, v in top])
    figure = Figure("bars", "feature", "share of importance", [bars])
    return figure, f"Issues when the top {n} features carry more than {p['threshold']:.0%}."


PLOTS: dict[str, Callable[[dict[str, Any], Inputs], Plot]] = {
    "LossNotDecreasing": _loss_not_decreasing,
    "Overfit": _overfit,
    "Overtraining": _overtraining,
    "StalledTrainingRule": _stalled,
    "ExplodingTensor": _exploding,
    "VanishingGradient": _vanishing,
    "UnchangedTensor": _unchanged,
    "ClassImbalance": _class_imbalance,
    "TreeDepth": _tree_depth,
    "FeatureImportanceOverweight": _importance,
}


def rule_figures(
    statuses: list[dict[str, Any]],
    series: Series,
    summary: dict[str, Any] | None,
    classes: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Each rule's status with ``figure`` (a chart description, or None) and ``note``."""
    data = Inputs(series, summary or {}, [str(c) for c in classes or []])
    out = []
    for status in statuses:
        plot = PLOTS.get(str(status.get("name")))
        figure, note = plot(status["params"], data) if plot is not None else (None, "")
        out.append({**status, "figure": figure.to_dict() if figure else None, "note": note})
    return out
