"""Suggested constraints from a baseline's statistics, their validation once users edit them,
and the violations current traffic commits against them.

Constraints document (``version`` 1)::

    {"version": 1,
     "features": [{"name", "inferred_type", "completeness",
                   "num_constraints": {"min", "max", "is_non_negative"}       (numeric)
                   "string_constraints": {"domains": [...]}},                 (categorical)
                  ...],
     "monitoring_config": {"<check>": {"enabled": bool, "threshold": ...}, ...,
                           "drift_share_threshold": float}}

Checks (the public contract; each violation is ``{"feature", "check", "description",
"value", "threshold"}``, ``feature`` null for table-level ones; a disabled check yields
nothing):

- ``data_type_check`` (threshold in [0, 1], default 1.0): a feature violates when the share
  of its current non-missing values that match its type is below the threshold. Text
  matches ``String``; numbers match ``Fractional``; whole numbers match ``Integral``;
  ``True``/``False`` match ``Boolean`` (see ``profile_against`` for what counts).
- ``completeness_check`` (threshold in [0, 1], default 0.0): a feature violates when its
  current completeness is below its ``completeness`` minus the threshold.
- ``baseline_drift_check`` (``threshold`` null for each method's default, or > 0;
  ``method`` ``auto`` or one of ``monitor.engine.drift.METHODS``): a feature violates when
  its drift test says it drifted; the table violates (``feature`` null) when the share of
  drifted features is at least ``drift_share_threshold`` (in (0, 1], default 0.5).
- ``missing_column_check`` (threshold an integer ≥ 0, default 0): when more than
  ``threshold`` features are absent from the current data, one violation per absent one.
- ``extra_column_check`` (same): when more than ``threshold`` current columns are not in
  the baseline, one violation per extra column.
- ``categorical_values_check`` (threshold in [0, 1], default 1.0): a feature with
  ``domains`` violates when the share of its current non-missing values inside them is
  below the threshold.
- ``value_range_check`` (threshold in [0, 1], default 0.99): a numeric feature violates when
  the share of its current numbers inside ``[min, max]`` (``[max(min, 0), max]`` when
  ``is_non_negative``; a null bound is open) is below the threshold. The share is exact
  when each bound is a baseline edge (the suggested min and max are) or lies outside the
  current's range; otherwise it interpolates within the baseline's bucket.

Suggestions: ``completeness`` is the baseline's, rounded down to 2 decimals when below 1
(0.988 → 0.98); ``num_constraints`` are the baseline's min and max and whether the min is
≥ 0; ``domains`` (sorted) only for a categorical feature with at most 50 distinct values.

Invariants:

- Features are only baseline columns; the ``features`` list is what is monitored (removing
  one stops its checks, and it is then not "missing" either).
- Violations come table-level first (missing, extra, dataset drift), then per feature in
  the document's order, checks in the order above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monitor.engine.drift import METHODS, P_VALUE_METHODS, DriftReport, compare
from monitor.engine.profile import INFERRED_TYPES, NUMERIC_TYPES

VERSION = 1
MAX_DOMAIN = 50

CHECKS: tuple[str, ...] = (
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
    "value_range_check",
)
DEFAULT_CONFIG: dict[str, Any] = {
    "data_type_check": {"enabled": True, "threshold": 1.0},
    "completeness_check": {"enabled": True, "threshold": 0.0},
    "baseline_drift_check": {"enabled": True, "threshold": None, "method": "auto"},
    "missing_column_check": {"enabled": True, "threshold": 0},
    "extra_column_check": {"enabled": True, "threshold": 0},
    "categorical_values_check": {"enabled": True, "threshold": 1.0},
    "value_range_check": {"enabled": True, "threshold": 0.99},
    "drift_share_threshold": 0.5,
}
_SHARE_CHECKS = frozenset(
    {"data_type_check", "completeness_check", "categorical_values_check", "value_range_check"}
)
_COUNT_CHECKS = frozenset({"missing_column_check", "extra_column_check"})
_FEATURE_KEYS = frozenset(
    {"name", "inferred_type", "completeness", "num_constraints", "string_constraints"}
)


class ConstraintsError(ValueError):
    """A constraints document that cannot be used, naming the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


# ---------------------------------------------------------------------------- suggest


def _floor2(value: float) -> float:
    # round() first so that 0.29 (28.999… hundredths in binary) floors to 0.29, not 0.28.
    return math.floor(round(value * 100, 9)) / 100


def suggest_constraints(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The constraints a baseline's statistics suggest (see the module docstring)."""
    features: list[dict[str, Any]] = []
    for col in stats["columns"]:
        completeness = col.get("completeness")
        c = 1.0 if completeness is None else float(completeness)
        feature: dict[str, Any] = {
            "name": col["name"],
            "inferred_type": col["inferred_type"],
            "completeness": 1.0 if c >= 1 else _floor2(c),
        }
        if col["kind"] == "numeric":
            block = col["numeric"]
            low = block["min"]
            feature["num_constraints"] = {
                "min": low,
                "max": block["max"],
                "is_non_negative": low is not None and low >= 0,
            }
        elif col["inferred_type"] != "Unknown":
            block = col["categorical"]
            if block["distinct"] <= MAX_DOMAIN and block["other"] == 0:
                feature["string_constraints"] = {"domains": sorted(block["frequencies"])}
        features.append(feature)
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_CONFIG.items()}
    return {"version": VERSION, "features": features, "monitoring_config": config}


# ---------------------------------------------------------------------------- validate


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _share(value: Any, field: str) -> None:
    if not _is_number(value) or not 0 <= float(value) <= 1:
        raise ConstraintsError("must be a number between 0 and 1", field)


def _validate_config(config: Any) -> None:
    where = "monitoring_config"
    if not isinstance(config, dict):
        raise ConstraintsError("must be an object", where)
    for key, entry in config.items():
        field = f"{where}.{key}"
        if key == "drift_share_threshold":
            if not _is_number(entry) or not 0 < float(entry) <= 1:
                raise ConstraintsError("must be a number in (0, 1]", field)
            continue
        if key not in CHECKS:
            raise ConstraintsError(f"unknown check; expected one of {', '.join(CHECKS)}", field)
        if not isinstance(entry, dict):
            raise ConstraintsError("must be an object", field)
        allowed = {"enabled", "threshold"} | (
            {"method"} if key == "baseline_drift_check" else set()
        )
        for extra in entry:
            if extra not in allowed:
                raise ConstraintsError("unknown setting", f"{field}.{extra}")
        if "enabled" in entry and not isinstance(entry["enabled"], bool):
            raise ConstraintsError("must be true or false", f"{field}.enabled")
        threshold = entry.get("threshold", DEFAULT_CONFIG[key]["threshold"])
        tfield = f"{field}.threshold"
        if key in _SHARE_CHECKS:
            _share(threshold, tfield)
        elif key in _COUNT_CHECKS:
            if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
                raise ConstraintsError("must be a whole number ≥ 0", tfield)
        else:
            method = entry.get("method", "auto")
            if method not in METHODS:
                raise ConstraintsError(f"must be one of {', '.join(METHODS)}", f"{field}.method")
            if threshold is not None:
                if not _is_number(threshold) or float(threshold) <= 0:
                    raise ConstraintsError("must be null or a number > 0", tfield)
                if method in ("auto", *P_VALUE_METHODS) and float(threshold) >= 1:
                    raise ConstraintsError(
                        f"must be below 1 for method {method!r} (it may be a p-value)", tfield
                    )


def _validate_feature(feature: Any, field: str, baseline: Mapping[str, Any] | None) -> str:
    if not isinstance(feature, dict):
        raise ConstraintsError("must be an object", field)
    for key in feature:
        if key not in _FEATURE_KEYS:
            raise ConstraintsError("unknown key", f"{field}.{key}")
    name = feature.get("name")
    if not isinstance(name, str) or not name:
        raise ConstraintsError("must be a column name", f"{field}.name")
    if baseline is not None and name not in baseline:
        raise ConstraintsError(f"no column {name!r} in the baseline", f"{field}.name")
    inferred = feature.get("inferred_type")
    if inferred not in INFERRED_TYPES:
        raise ConstraintsError(
            f"must be one of {', '.join(sorted(INFERRED_TYPES))}", f"{field}.inferred_type"
        )
    _share(feature.get("completeness"), f"{field}.completeness")
    numeric = feature.get("num_constraints")
    if numeric is not None:
        nfield = f"{field}.num_constraints"
        if not isinstance(numeric, dict):
            raise ConstraintsError("must be an object", nfield)
        for key in numeric:
            if key not in ("min", "max", "is_non_negative"):
                raise ConstraintsError("unknown key", f"{nfield}.{key}")
        for key in ("min", "max"):
            if numeric.get(key) is not None and not _is_number(numeric[key]):
                raise ConstraintsError("must be null or a number", f"{nfield}.{key}")
        low, high = numeric.get("min"), numeric.get("max")
        if low is not None and high is not None and low > high:
            raise ConstraintsError("must not be above max", f"{nfield}.min")
        if not isinstance(numeric.get("is_non_negative", False), bool):
            raise ConstraintsError("must be true or false", f"{nfield}.is_non_negative")
    if numeric is not None and inferred not in NUMERIC_TYPES:
        raise ConstraintsError(
            f"does not apply to a {inferred} feature", f"{field}.num_constraints"
        )
    text = feature.get("string_constraints")
    if text is not None and inferred in NUMERIC_TYPES:
        raise ConstraintsError(
            f"does not apply to a {inferred} feature", f"{field}.string_constraints"
        )
    if text is not None:
        sfield = f"{field}.string_constraints"
        if not isinstance(text, dict) or set(text) - {"domains"}:
            raise ConstraintsError("must be an object holding only domains", sfield)
        domains = text.get("domains")
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise ConstraintsError("must be a list of strings", f"{sfield}.domains")
    return name


def validate_constraints(
    doc: Any, baseline_stats: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``doc`` when it is a usable constraints document, else :class:`ConstraintsError` naming
    the first bad field (``features[2].completeness``,
    ``monitoring_config.data_type_check.threshold``…). With ``baseline_stats``, every feature
    must be one of its columns."""
    if not isinstance(doc, dict):
        raise ConstraintsError("must be an object", "$")
    for key in doc:
        if key not in ("version", "features", "monitoring_config"):
            raise ConstraintsError("unknown key", key)
    if doc.get("version", VERSION) != VERSION:
        raise ConstraintsError(f"must be {VERSION}", "version")
    features = doc.get("features", [])
    if not isinstance(features, list):
        raise ConstraintsError("must be a list", "features")
    columns = None
    if baseline_stats is not None:
        columns = {str(c["name"]): c for c in baseline_stats["columns"]}
    seen: set[str] = set()
    for i, feature in enumerate(features):
        name = _validate_feature(feature, f"features[{i}]", columns)
        if name in seen:
            raise ConstraintsError(f"{name!r} is listed twice", f"features[{i}].name")
        seen.add(name)
    _validate_config(doc.get("monitoring_config", {}))
    return dict(doc)


# ---------------------------------------------------------------------------- check


def _config(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    entry = dict(DEFAULT_CONFIG[key])
    entry.update(doc.get("monitoring_config", {}).get(key, {}))
    return entry


def _violation(
    feature: str | None, check: str, description: str, value: float | None, threshold: Any
) -> dict[str, Any]:
    return {
        "feature": feature,
        "check": check,
        "description": description,
        "value": None if value is None else float(value),
        "threshold": None if threshold is None else float(threshold),
    }


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _type_mismatch(feature: Mapping[str, Any], col: Mapping[str, Any]) -> int:
    """Current non-missing values not of the feature's type."""
    wanted = feature["inferred_type"]
    if wanted in ("String", "Unknown"):
        return 0
    if wanted == "Fractional" and col.get("inferred_type") == "Integral" and "numeric" in col:
        # Every number is Fractional: only what did not parse (in no bucket) mismatches.
        return int(col["count"]) - int(sum(col["numeric"]["counts"]))
    return int(col.get("type_mismatch", 0))


def _count_at_most(block: Mapping[str, Any], x: float, *, strict: bool) -> float:
    """Current numbers ≤ x (< x when ``strict``), from bucket counts on the baseline's edges:
    exact at an edge, interpolated inside a bucket."""
    counts = np.asarray(block["counts"], dtype=np.float64)
    edges = np.asarray(block["edges"], dtype=np.float64)
    at = np.asarray(block["at_edges"], dtype=np.float64)
    total = float(counts.sum())
    low, high = block.get("min"), block.get("max")
    if total == 0 or low is None or high is None:
        return 0.0
    if x < low or (strict and x <= low):
        return 0.0
    if x > high or (not strict and x >= high):
        return total
    upto = np.concatenate(([0.0], np.cumsum(counts)))
    i = int(np.searchsorted(edges, x, side="left"))  # x in bucket i: (e_{i-1}, e_i]
    if i < edges.size and x == edges[i]:
        return float(upto[i + 1] - (at[i] if strict else 0.0))
    # Spread what lies strictly inside the bucket evenly over its span (the outer buckets
    # reach to the current's own min and max).
    start = float(edges[i - 1]) if i > 0 else float(low)
    end = float(edges[i]) if i < edges.size else float(high)
    inside = counts[i] - (at[i] if i < edges.size else 0.0)
    part = (x - start) / (end - start) if end > start else 1.0
    return float(upto[i] + inside * min(1.0, max(0.0, part)))


def _range_share(feature: Mapping[str, Any], block: Mapping[str, Any]) -> float | None:
    bounds = feature.get("num_constraints") or {}
    low, high = bounds.get("min"), bounds.get("max")
    if bounds.get("is_non_negative"):
        low = 0.0 if low is None else max(float(low), 0.0)
    total = float(sum(block["counts"]))
    if total == 0:
        return None
    upto = total if high is None else _count_at_most(block, float(high), strict=False)
    below = 0.0 if low is None else _count_at_most(block, float(low), strict=True)
    return max(0.0, upto - below) / total


def _drift_columns(
    baseline_stats: Mapping[str, Any],
    current_stats: Mapping[str, Any],
    constraints: Mapping[str, Any],
    drift: DriftReport | Mapping[str, Any] | None,
    names: Sequence[str],
) -> dict[str, dict[str, Any]]:
    if drift is None:
        cfg = _config(constraints, "baseline_drift_check")
        drift = compare(
            baseline_stats,
            current_stats,
            method=cfg.get("method", "auto"),
            threshold=cfg.get("threshold"),
            columns=names,
        )
    doc = drift.to_dict() if isinstance(drift, DriftReport) else drift
    return {str(c["name"]): c for c in doc["columns"]}


def check_constraints(
    baseline_stats: Mapping[str, Any],
    constraints: Mapping[str, Any],
    current_stats: Mapping[str, Any],
    drift: DriftReport | Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The violations of ``current_stats`` (from ``profile_against``) against
    ``constraints``. ``drift`` is the current's drift report (a ``DriftReport`` or its
    ``to_dict()``); when None and the drift check is enabled it is computed here with the
    check's method and threshold."""
    baseline_names = {str(c["name"]) for c in baseline_stats["columns"]}
    current = {str(c["name"]): c for c in current_stats["columns"]}
    features = list(constraints.get("features", []))
    out: list[dict[str, Any]] = []

    cfg = _config(constraints, "missing_column_check")
    if cfg["enabled"]:
        absent = [str(f["name"]) for f in features if f["name"] not in current]
        if len(absent) > cfg["threshold"]:
            for name in absent:
                out.append(
                    _violation(
                        name,
                        "missing_column_check",
                        f"Column {name!r} is missing from the current data "
                        f"({len(absent)} missing, {cfg['threshold']} allowed).",
                        len(absent),
                        cfg["threshold"],
                    )
                )
    cfg = _config(constraints, "extra_column_check")
    if cfg["enabled"]:
        extra = [n for n in current if n not in baseline_names]
        if len(extra) > cfg["threshold"]:
            for name in extra:
                out.append(
                    _violation(
                        name,
                        "extra_column_check",
                        f"Column {name!r} is not in the baseline "
                        f"({len(extra)} extra, {cfg['threshold']} allowed).",
                        len(extra),
                        cfg["threshold"],
                    )
                )

    present = [f for f in features if f["name"] in current]
    drift_cfg = _config(constraints, "baseline_drift_check")
    drifts: dict[str, dict[str, Any]] = {}
    if drift_cfg["enabled"] and present:
        names = [str(f["name"]) for f in present]
        drifts = _drift_columns(baseline_stats, current_stats, constraints, drift, names)
        compared = [drifts[n] for n in names if n in drifts]
        drifted = sum(1 for c in compared if c["drifted"])
        share_threshold = float(
            constraints.get("monitoring_config", {}).get(
                "drift_share_threshold", DEFAULT_CONFIG["drift_share_threshold"]
            )
        )
        if compared and drifted / len(compared) >= share_threshold:
            share = drifted / len(compared)
            out.append(
                _violation(
                    None,
                    "baseline_drift_check",
                    f"{drifted} of {len(compared)} columns drifted ({_pct(share)}), at or "
                    f"above the {_pct(share_threshold)} share that marks the dataset drifted.",
                    share,
                    share_threshold,
                )
            )

    for feature in present:
        out.extend(_feature_violations(feature, current[feature["name"]], constraints, drifts))
    return out


def _feature_violations(
    feature: Mapping[str, Any],
    col: Mapping[str, Any],
    constraints: Mapping[str, Any],
    drifts: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    name = str(feature["name"])
    out: list[dict[str, Any]] = []

    cfg = _config(constraints, "data_type_check")
    count = int(col.get("count", 0))
    mismatch = _type_mismatch(feature, col)
    share = (count - mismatch) / count if count else 1.0
    if cfg["enabled"] and share < cfg["threshold"]:
        out.append(
            _violation(
                name,
                "data_type_check",
                f"{_pct(share)} of the values of {name!r} are {feature['inferred_type']} "
                f"({mismatch} of {count} are not), below the required "
                f"{_pct(cfg['threshold'])}.",
                share,
                cfg["threshold"],
            )
        )

    cfg = _config(constraints, "completeness_check")
    completeness = col.get("completeness")
    required = float(feature["completeness"]) - float(cfg["threshold"])
    if cfg["enabled"] and completeness is not None and completeness < required - 1e-12:
        out.append(
            _violation(
                name,
                "completeness_check",
                f"{name!r} is {_pct(completeness)} complete, below the required {_pct(required)}.",
                completeness,
                required,
            )
        )

    d = drifts.get(name)
    if d is not None and d["drifted"]:
        what = "p-value" if d["method"] in P_VALUE_METHODS else "distance"
        relation = "below" if d["method"] in P_VALUE_METHODS else "above"
        out.append(
            _violation(
                name,
                "baseline_drift_check",
                f"{name!r} drifted from the baseline: {d['method']} {what} {d['score']:.4g}, "
                f"{relation} the threshold {d['threshold']:.4g}.",
                d["score"],
                d["threshold"],
            )
        )

    cfg = _config(constraints, "categorical_values_check")
    domains = (feature.get("string_constraints") or {}).get("domains")
    block = col.get("categorical")
    if cfg["enabled"] and domains is not None and block is not None:
        total = sum(block["frequencies"].values()) + block["other"]
        if total:
            inside = sum(block["frequencies"].get(v, 0) for v in set(domains))
            share = inside / total
            if share < cfg["threshold"]:
                outside = sorted(set(block["frequencies"]) - set(domains))[:5]
                out.append(
                    _violation(
                        name,
                        "categorical_values_check",
                        f"{_pct(share)} of the values of {name!r} are in its domain, below the "
                        f"required {_pct(cfg['threshold'])} (for example "
                        f"{', '.join(repr(v) for v in outside) or 'rarer values'}).",
                        share,
                        cfg["threshold"],
                    )
                )

    cfg = _config(constraints, "value_range_check")
    numeric = col.get("numeric")
    if cfg["enabled"] and feature.get("num_constraints") and numeric is not None:
        in_range = _range_share(feature, numeric)
        if in_range is not None and in_range < cfg["threshold"]:
            bounds = feature["num_constraints"]
            out.append(
                _violation(
                    name,
                    "value_range_check",
                    f"{_pct(in_range)} of the values of {name!r} are within "
                    f"[{bounds.get('min')}, {bounds.get('max')}] (current range "
                    f"[{numeric.get('min')}, {numeric.get('max')}]), below the required "
                    f"{_pct(cfg['threshold'])}.",
                    in_range,
                    cfg["threshold"],
                )
            )
    return out
