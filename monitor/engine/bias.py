"""Clarify bias metrics: how a dataset (pre-training) and a model's predictions
(post-training) treat a sensitive group of rows compared with everyone else.

Every metric is named and defined as SageMaker Clarify defines it, and its value equals the
open-source ``smclarify`` library's ``bias_report`` on the same data (that library is the
reference the tests compare with; it is not imported here).

API::

    Facet(name, values_or_threshold=None)
        values_or_threshold: a list of values (the sensitive group is the rows whose value
        is one of them), a number (the group is the rows whose value is > the number,
        smclarify's interval (threshold, max]), or None (each distinct non-null value in
        turn, in order of first appearance, one entry each).

    bias_report(df, *, label, positive_label_values, facets, predicted_label=None,
                group_variable=None, stages=("pre_training_bias", "post_training_bias"),
                intersectional=True) -> dict

        positive_label_values: a list of label values counted as the favourable outcome,
        or a number: the label is continuous and positive when > the number. Predicted
        labels (a column name, a Series or an array aligned with ``df`` by position) are
        positive under the same rule.

        {"label": "income", "positive_label_values": [">50K"], "num_rows": 1000,
         "pre_training_bias": [
            {"facet": "sex", "value_or_threshold": "Female", "group_size": 312,
             "metrics": [{"name": "CI", "description": "Class Imbalance (CI)",
                          "value": 0.37}, ...]}, ...],
         "post_training_bias": [...]}

        Only the stages asked for appear. Pre-training metrics, in this order: CI, DPL, KL,
        JS, LP, TVD, KS, CDDL; post-training: DPPL, DI, DCAcc, DCR, SD, RD, DAR, DRR, AD,
        TE, CDDPL, FT, GE. ``value_or_threshold`` is the values joined with "," (as
        smclarify writes them) or ">threshold". With two or more facets and
        ``intersectional``, entries for the intersections of the facets' groups follow the
        per-facet entries: ``"facet": "sex & age"``, ``"value_or_threshold": "Female & >40"``
        (every combination where a facet has several groups).

    metrics_for_mask(sensitive, label_positive, *, predicted_positive=None, features=None,
                     group=None, label_values=None, stages=STAGES) -> dict[str, MetricResult]
        The core both of the above use: one boolean sensitive mask against its complement.

Invariants:
    * A metric that cannot be computed never raises: its value is null and an ``error`` key
      says why (an empty group, no group variable for CDDL/CDDPL, a non-numeric feature for
      FT, ...). Contract errors (a missing column, an unknown stage) raise ValueError.
    * Infinities (DI, DCAcc, DCR and TE divide by counts that can be zero; smclarify's
      ``divide`` gives 0 for 0/0 and +-inf for x/0) serialise as the strings "inf" and
      "-inf", so the report always passes ``json.dumps(report, allow_nan=False)``.
    * GE is computed over the whole dataset; like smclarify, it appears in every entry.

Choices where this differs from smclarify (all else matches it within 1e-6):
    * Whether a facet or label is categorical or continuous is stated by the caller (a list
      or a number) rather than guessed from the dtype and the share of distinct values.
    * An empty sensitive group, or an empty complement, nulls CDDL and CDDPL too; smclarify
      returns 0.0 for them there, a value that says nothing.
    * When no prediction is positive smclarify refuses the whole report; here the metrics
      are computed (those that divide by zero follow ``divide``).
    * DCA is named DCAcc as Clarify names it, and KL's description is spelt "Leibler".
    * KL, JS, LP, TVD and KS compare the positive/negative label distributions, as
      smclarify's report does (it passes the collapsed label, not the raw values). Like
      smclarify they keep only the outcomes present in both groups, without renormalising.
      ``metrics_for_mask(label_values=...)`` compares the raw values instead (nulls left
      out), which is what smclarify's metric functions do when called directly.
    * FT fits its k-NN on the frame's other columns, as smclarify's report does: the frame
      less the facet column(s), the label and a predicted-label column (a group variable
      column stays). A non-numeric column there makes FT null, as in smclarify.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

PRE_TRAINING = "pre_training_bias"
POST_TRAINING = "post_training_bias"
STAGES: tuple[str, ...] = (PRE_TRAINING, POST_TRAINING)

PRE_TRAINING_METRICS: tuple[str, ...] = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST_TRAINING_METRICS: tuple[str, ...] = (
    "DPPL",
    "DI",
    "DCAcc",
    "DCR",
    "SD",
    "RD",
    "DAR",
    "DRR",
    "AD",
    "TE",
    "CDDPL",
    "FT",
    "GE",
)

DESCRIPTIONS: dict[str, str] = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Leibler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "DCAcc": "Difference in Conditional Acceptance (DCAcc)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "SD": "Specificity Difference (SD)",
    "RD": "Recall Difference (RD)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "AD": "Accuracy Difference (AD)",
    "TE": "Treatment Equality (TE)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "FT": "Flip Test (FT)",
    "GE": "Generalized Entropy (GE)",
}

# smclarify's FlipTest k-NN: 5 neighbours, or 1 when the advantaged group has 9 rows or fewer.
FT_NEIGHBORS = 5
FT_FEW_NEIGHBORS = 1
FT_FEW_ROWS = 9
# Generalized Entropy's alpha in Clarify (half the squared coefficient of variation).
GE_ALPHA = 2.0

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Facet:
    """One sensitive attribute and which of its values (or a threshold) form the sensitive group."""

    name: str
    values_or_threshold: list[Any] | float | None = None


@dataclass(frozen=True)
class MetricResult:
    """One metric's value (None when it cannot be computed, with the reason in ``error``)."""

    name: str
    description: str
    value: float | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The report's form: infinities as "inf"/"-inf", ``error`` only when there is one."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "value": _json_number(self.value),
        }
        if self.error is not None:
            out["error"] = self.error
        return out


class MetricUnavailableError(ValueError):
    """A metric has no value on this data (the message says why)."""


def _json_number(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def _divide(a: float, b: float) -> float:
    # smclarify's common.divide: 0/0 is 0 and x/0 is a signed infinity, never an error.
    if b == 0:
        if a == 0:
            return 0.0
        return -math.inf if a < 0 else math.inf
    return a / b


def _difference_of_ratios(first: float, second: float) -> float:
    # smclarify sets a difference of two infinite ratios to 0 rather than NaN.
    if first == second and math.isinf(first):
        return 0.0
    return first - second


@dataclass(frozen=True)
class _Confusion:
    """Counts of one side (sensitive group or its complement) of the label x prediction table."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def of(cls, side: BoolArray, label: BoolArray, predicted: BoolArray) -> _Confusion:
        return cls(
            tp=int(np.count_nonzero(side & label & predicted)),
            fp=int(np.count_nonzero(side & ~label & predicted)),
            fn=int(np.count_nonzero(side & label & ~predicted)),
            tn=int(np.count_nonzero(side & ~label & ~predicted)),
        )

    @property
    def size(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


# --- pre-training -------------------------------------------------------------------------


def _positive_proportion_difference(sensitive: BoolArray, outcome: BoolArray) -> float:
    na = int(np.count_nonzero(~sensitive))
    nd = int(np.count_nonzero(sensitive))
    qa = int(np.count_nonzero(~sensitive & outcome)) / na
    qd = int(np.count_nonzero(sensitive & outcome)) / nd
    return qa - qd


def _aligned_distributions(
    sensitive: BoolArray, label_positive: BoolArray, label_values: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pa and Pd over the outcomes present in both groups, each normalised over its group."""
    codes: npt.NDArray[np.intp]
    if label_values is None:
        # False sorts before True, as smclarify's pdf orders the collapsed label.
        codes = label_positive.astype(np.intp)
        n_keys = 2
    else:
        raw = pd.Series(np.asarray(label_values))
        try:
            factor_codes, uniques = pd.factorize(raw, sort=True)
        except TypeError:
            # Values of mixed types cannot be sorted; the order only changes summation order.
            factor_codes, uniques = pd.factorize(raw, sort=False)
        codes = np.asarray(factor_codes, dtype=np.intp)
        n_keys = len(uniques)
    known = codes >= 0
    counts_a = np.bincount(codes[known & ~sensitive], minlength=n_keys).astype(np.float64)
    counts_d = np.bincount(codes[known & sensitive], minlength=n_keys).astype(np.float64)
    common = (counts_a > 0) & (counts_d > 0)
    if not common.any():
        raise MetricUnavailableError(
            "no label value occurs in both the sensitive group and the rest"
        )
    return counts_a[common] / counts_a.sum(), counts_d[common] / counts_d.sum()


def _kl(pa: npt.NDArray[np.float64], pd_: npt.NDArray[np.float64]) -> float:
    return float(np.sum(pa * np.log(pa / pd_)))


def _js(pa: npt.NDArray[np.float64], pd_: npt.NDArray[np.float64]) -> float:
    mix = 0.5 * (pa + pd_)
    return float(0.5 * (np.sum(pa * np.log(pa / mix)) + np.sum(pd_ * np.log(pd_ / mix))))


def _conditional_demographic_disparity(
    sensitive: BoolArray,
    outcome: BoolArray,
    group_codes: npt.NDArray[np.intp] | None,
    n_groups: int,
) -> float:
    """smclarify's CDD: the subgroup-size-weighted mean of (share of the sensitive group among
    the rejected) - (share among the accepted)."""
    if group_codes is None:
        raise MetricUnavailableError("no group variable was given")
    if not outcome.any():
        raise MetricUnavailableError("no positive outcomes in the data")
    if outcome.all():
        raise MetricUnavailableError("no negative outcomes in the data")
    known = group_codes >= 0

    def per_group(rows: BoolArray) -> npt.NDArray[np.float64]:
        return np.bincount(group_codes[known & rows], minlength=n_groups).astype(np.float64)

    sizes = per_group(np.ones_like(sensitive))
    accepted = per_group(outcome)
    rejected = per_group(~outcome)
    # A subgroup with no accepted (rejected) rows contributes a share of 0, as in smclarify.
    share_accepted = np.divide(
        per_group(outcome & sensitive), accepted, out=np.zeros(n_groups), where=accepted > 0
    )
    share_rejected = np.divide(
        per_group(~outcome & sensitive), rejected, out=np.zeros(n_groups), where=rejected > 0
    )
    return _divide(float(np.sum(sizes * (share_rejected - share_accepted))), float(sizes.sum()))


# --- post-training ------------------------------------------------------------------------


def _disparate_impact(sensitive: BoolArray, predicted: BoolArray) -> float:
    qa = int(np.count_nonzero(~sensitive & predicted)) / int(np.count_nonzero(~sensitive))
    qd = int(np.count_nonzero(sensitive & predicted)) / int(np.count_nonzero(sensitive))
    return _divide(qd, qa)


def _flip_test(sensitive: BoolArray, predicted: BoolArray, features: pd.DataFrame | None) -> float:
    """smclarify's FT: a k-NN fitted on the advantaged rows' predictions predicts the sensitive
    rows; (rows the model accepts but the k-NN rejects - rows the model rejects but the k-NN
    accepts) / sensitive rows."""
    from sklearn.neighbors import KNeighborsClassifier

    if features is None:
        raise MetricUnavailableError("no feature columns were given")
    numeric = features.select_dtypes([np.number, bool])
    if len(numeric.columns) != len(features.columns):
        raise MetricUnavailableError("FlipTest does not support non-numeric columns")
    matrix = features.to_numpy()
    advantaged = ~sensitive
    neighbors = (
        FT_NEIGHBORS if int(np.count_nonzero(advantaged)) > FT_FEW_ROWS else FT_FEW_NEIGHBORS
    )
    knn = KNeighborsClassifier(n_neighbors=neighbors, weights="uniform", p=2, metric="minkowski")
    knn.fit(matrix[advantaged], predicted[advantaged])
    as_if_advantaged = np.asarray(knn.predict(matrix[sensitive]), dtype=bool)
    model = predicted[sensitive]
    flipped_positive = int(np.count_nonzero(model & ~as_if_advantaged))
    flipped_negative = int(np.count_nonzero(~model & as_if_advantaged))
    return _divide(flipped_positive - flipped_negative, int(np.count_nonzero(sensitive)))


def _generalized_entropy(label: BoolArray, predicted: BoolArray) -> float:
    n = label.shape[0]
    if n == 0:
        raise MetricUnavailableError("the dataset is empty")
    benefit = predicted.astype(np.float64) - label.astype(np.float64) + 1.0
    mean_benefit = float(benefit.mean())
    if mean_benefit == 0:
        raise MetricUnavailableError(
            "all predicted labels are false negatives; there should be at least one prediction "
            "that is not a false negative"
        )
    ratio = benefit / mean_benefit
    return float(np.sum(ratio**GE_ALPHA - 1.0) / (n * GE_ALPHA * (GE_ALPHA - 1.0)))


def _post_training_by_counts(a: _Confusion, d: _Confusion) -> dict[str, float]:
    """The metrics that only need the two sides' confusion counts (smclarify's DCO, DLA, DLR,
    AD and TE, with its divide and its inf - inf = 0 rule)."""
    # Conditional acceptance/rejection: observed over predicted positives (negatives).
    ca = _divide(a.tp + a.fn, a.tp + a.fp)
    cd = _divide(d.tp + d.fn, d.tp + d.fp)
    cra = _divide(a.fp + a.tn, a.tn + a.fn)
    crd = _divide(d.fp + d.tn, d.tn + d.fn)
    recall_a = _divide(a.tp, a.tp + a.fn)
    recall_d = _divide(d.tp, d.tp + d.fn)
    specificity_a = _divide(a.tn, a.tn + a.fp)
    specificity_d = _divide(d.tn, d.tn + d.fp)
    acceptance_a = _divide(a.tp, a.tp + a.fp)
    acceptance_d = _divide(d.tp, d.tp + d.fp)
    rejection_a = _divide(a.tn, a.tn + a.fn)
    rejection_d = _divide(d.tn, d.tn + d.fn)
    accuracy_a = _divide(a.tp + a.tn, a.size)
    accuracy_d = _divide(d.tp + d.tn, d.size)
    return {
        "DCAcc": _difference_of_ratios(ca, cd),
        "DCR": _difference_of_ratios(crd, cra),
        "SD": _difference_of_ratios(specificity_d, specificity_a),
        "RD": _difference_of_ratios(recall_a, recall_d),
        "DAR": _difference_of_ratios(acceptance_a, acceptance_d),
        "DRR": _difference_of_ratios(rejection_d, rejection_a),
        "AD": _difference_of_ratios(accuracy_a, accuracy_d),
        "TE": _difference_of_ratios(_divide(d.fn, d.fp), _divide(a.fn, a.fp)),
    }


# --- the core -----------------------------------------------------------------------------


def _as_bool(values: npt.ArrayLike, what: str, size: int | None = None) -> BoolArray:
    array = np.asarray(values)
    if array.dtype != np.bool_:
        raise ValueError(f"{what} must be a boolean array, not {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{what} has {array.shape[0]} rows, expected {size}")
    return array


def _result(name: str, compute: Callable[[], float]) -> MetricResult:
    try:
        value = float(compute())
    except MetricUnavailableError as exc:
        return MetricResult(name, DESCRIPTIONS[name], None, str(exc))
    except (ValueError, TypeError) as exc:
        # The k-NN's own refusals (missing values, no feature columns, ...).
        return MetricResult(name, DESCRIPTIONS[name], None, f"{type(exc).__name__}: {exc}")
    return _valued(name, value)


def _valued(name: str, value: float) -> MetricResult:
    if math.isnan(value):
        return MetricResult(name, DESCRIPTIONS[name], None, "the metric is undefined (NaN)")
    return MetricResult(name, DESCRIPTIONS[name], float(value))


def _unavailable(name: str, why: str) -> MetricResult:
    return MetricResult(name, DESCRIPTIONS[name], None, why)


def metrics_for_mask(
    sensitive: npt.ArrayLike,
    label_positive: npt.ArrayLike,
    *,
    predicted_positive: npt.ArrayLike | None = None,
    features: pd.DataFrame | None = None,
    group: npt.ArrayLike | pd.Series | None = None,
    label_values: npt.ArrayLike | None = None,
    stages: Sequence[str] = STAGES,
) -> dict[str, MetricResult]:
    """Every metric of ``stages`` for the rows where ``sensitive`` is True against the rest.

    ``sensitive``, ``label_positive`` and ``predicted_positive`` are boolean arrays of one
    length; ``features`` (same rows) feeds FT's k-NN; ``group`` is the group variable of
    CDDL/CDDPL (nulls belong to no subgroup); ``label_values`` switches KL, JS, LP, TVD and KS
    from the positive/negative collapse to the raw label values. Returns the metrics by name,
    in Clarify's order; post-training stages need ``predicted_positive``.
    """
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; expected some of {list(STAGES)}")
    s = _as_bool(sensitive, "sensitive")
    n = s.shape[0]
    label = _as_bool(label_positive, "label_positive", n)
    predicted: BoolArray | None = None
    if POST_TRAINING in stages:
        if predicted_positive is None:
            raise ValueError("post-training metrics need predicted_positive")
        predicted = _as_bool(predicted_positive, "predicted_positive", n)
    if features is not None and len(features) != n:
        raise ValueError(f"features has {len(features)} rows, expected {n}")
    group_codes: npt.NDArray[np.intp] | None = None
    n_groups = 0
    if group is not None:
        group_array = np.asarray(group)
        if group_array.shape[0] != n:
            raise ValueError(f"group has {group_array.shape[0]} rows, expected {n}")
        factor_codes, uniques = pd.factorize(pd.Series(group_array))
        group_codes = np.asarray(factor_codes, dtype=np.intp)
        n_groups = len(uniques)
    if label_values is not None and np.asarray(label_values).shape[0] != n:
        raise ValueError(f"label_values has {np.asarray(label_values).shape[0]} rows, expected {n}")

    names = [
        *(PRE_TRAINING_METRICS if PRE_TRAINING in stages else ()),
        *(POST_TRAINING_METRICS if POST_TRAINING in stages else ()),
    ]
    nd = int(np.count_nonzero(s))
    na = n - nd
    empty = None
    if nd == 0:
        empty = "the sensitive group is empty"
    elif na == 0:
        empty = "the rest of the data (the complement of the sensitive group) is empty"

    out: dict[str, MetricResult] = {}
    if empty is not None:
        for name in names:
            if name != "GE":
                out[name] = _unavailable(name, empty)
    else:
        if PRE_TRAINING in stages:
            out.update(_pre_training(s, label, label_values, group_codes, n_groups))
        if predicted is not None:
            out.update(_post_training(s, label, predicted, features, group_codes, n_groups))
    if predicted is not None:
        # Dataset-wide, so it holds whatever the group.
        out["GE"] = _result("GE", lambda: _generalized_entropy(label, predicted))
    return {name: out[name] for name in names}


def _pre_training(
    s: BoolArray,
    label: BoolArray,
    label_values: npt.ArrayLike | None,
    group_codes: npt.NDArray[np.intp] | None,
    n_groups: int,
) -> dict[str, MetricResult]:
    n = s.shape[0]
    nd = int(np.count_nonzero(s))
    out = {
        "CI": _result("CI", lambda: float((n - nd) - nd) / n),
        "DPL": _result("DPL", lambda: _positive_proportion_difference(s, label)),
    }
    try:
        pa, pd_ = _aligned_distributions(s, label, label_values)
    except MetricUnavailableError as exc:
        for name in ("KL", "JS", "LP", "TVD", "KS"):
            out[name] = _unavailable(name, str(exc))
    else:
        diff = pa - pd_
        out["KL"] = _result("KL", lambda: _kl(pa, pd_))
        out["JS"] = _result("JS", lambda: _js(pa, pd_))
        out["LP"] = _result("LP", lambda: float(np.linalg.norm(diff, 2)))
        out["TVD"] = _result("TVD", lambda: 0.5 * float(np.linalg.norm(diff, 1)))
        out["KS"] = _result("KS", lambda: float(np.linalg.norm(diff, np.inf)))
    out["CDDL"] = _result(
        "CDDL", lambda: _conditional_demographic_disparity(s, label, group_codes, n_groups)
    )
    return out


def _post_training(
    s: BoolArray,
    label: BoolArray,
    predicted: BoolArray,
    features: pd.DataFrame | None,
    group_codes: npt.NDArray[np.intp] | None,
    n_groups: int,
) -> dict[str, MetricResult]:
    out = {
        "DPPL": _result("DPPL", lambda: _positive_proportion_difference(s, predicted)),
        "DI": _result("DI", lambda: _disparate_impact(s, predicted)),
    }
    by_counts = _post_training_by_counts(
        _Confusion.of(~s, label, predicted), _Confusion.of(s, label, predicted)
    )
    for name, value in by_counts.items():
        out[name] = _valued(name, value)
    out["CDDPL"] = _result(
        "CDDPL", lambda: _conditional_demographic_disparity(s, predicted, group_codes, n_groups)
    )
    out["FT"] = _result("FT", lambda: _flip_test(s, predicted, features))
    return out


# --- the report ---------------------------------------------------------------------------


def _matches(series: pd.Series, values: Sequence[Any]) -> BoolArray:
    """Rows whose value is one of ``values``; like smclarify, when none match, the values are
    converted to the column's element type (e.g. ["1"] against integers) and tried again."""
    mask = np.asarray(series.isin(list(values)), dtype=bool)
    if mask.any():
        return mask
    present = series.dropna()
    if present.empty:
        return mask
    kind = type(present.iloc[0])
    try:
        converted = [kind(value) for value in values]
    except (TypeError, ValueError):
        try:
            converted = [float(value) for value in values]
        except (TypeError, ValueError):
            return mask
    return np.asarray(series.isin(converted), dtype=bool)


def _numeric(series: pd.Series, what: str) -> npt.NDArray[np.float64]:
    try:
        return np.asarray(pd.to_numeric(series), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numeric to be compared with a threshold: {exc}")


def _positive(series: pd.Series, rule: list[Any] | float, what: str) -> BoolArray:
    if isinstance(rule, (list, tuple)):
        if not rule:
            raise ValueError(f"{what}: the list of positive values is empty")
        return _matches(series, rule)
    # NaN > threshold is False: a missing value is never in the positive interval.
    return _numeric(series, what) > float(rule)


def _is_threshold(rule: object) -> bool:
    return isinstance(rule, (int, float, np.integer, np.floating)) and not isinstance(
        rule, (bool, np.bool_)
    )


@dataclass(frozen=True)
class _Group:
    """One sensitive group of one facet: how the report names it and its rows."""

    text: str
    mask: BoolArray


def _facet_groups(df: pd.DataFrame, facet: Facet) -> list[_Group]:
    column = df[facet.name]
    rule = facet.values_or_threshold
    if rule is None:
        distinct = pd.unique(column.dropna())
        return [_Group(str(value), np.asarray(column == value, dtype=bool)) for value in distinct]
    if isinstance(rule, (list, tuple)):
        if not rule:
            raise ValueError(f"facet {facet.name!r}: the list of sensitive values is empty")
        return [_Group(",".join(map(str, rule)), _matches(column, rule))]
    if _is_threshold(rule):
        threshold = rule
        return [_Group(f">{threshold}", _positive(column, float(threshold), facet.name))]
    raise ValueError(f"facet {facet.name!r}: values_or_threshold must be a list, a number or None")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def bias_report(
    df: pd.DataFrame,
    *,
    label: str,
    positive_label_values: list[Any] | float,
    facets: list[Facet],
    predicted_label: str | pd.Series | npt.NDArray[Any] | None = None,
    group_variable: str | None = None,
    stages: Sequence[str] = STAGES,
    intersectional: bool = True,
) -> dict[str, Any]:
    """Clarify's bias report for each facet's sensitive group(s) (and, with several facets,
    their intersections); the shape is in the module docstring."""
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown or not stages:
        raise ValueError(f"stages must be some of {list(STAGES)}, got {list(stages)}")
    if not facets:
        raise ValueError("at least one facet is needed")
    missing = [
        name
        for name in (label, group_variable, *(facet.name for facet in facets))
        if name is not None and name not in df.columns
    ]
    if isinstance(predicted_label, str) and predicted_label not in df.columns:
        missing.append(predicted_label)
    if missing:
        raise ValueError(f"columns not in the data: {missing}")
    if label in {facet.name for facet in facets}:
        raise ValueError(f"the label {label!r} cannot also be a facet")
    if not isinstance(positive_label_values, (list, tuple)) and not _is_threshold(
        positive_label_values
    ):
        raise ValueError("positive_label_values must be a list of values or a number")

    label_positive = _positive(df[label], positive_label_values, "the label")
    predicted_positive: BoolArray | None = None
    if POST_TRAINING in stages:
        if predicted_label is None:
            raise ValueError("post-training metrics need predicted_label")
        if isinstance(predicted_label, str):
            predicted_series = df[predicted_label]
        else:
            values = np.asarray(predicted_label)
            if values.shape[0] != len(df):
                raise ValueError(f"predicted_label has {values.shape[0]} rows, expected {len(df)}")
            predicted_series = pd.Series(values)
        predicted_positive = _positive(
            predicted_series, positive_label_values, "the predicted label"
        )
    group = df[group_variable].to_numpy() if group_variable is not None else None
    # smclarify's report keeps every column but the facet, the label and the predictions
    # (a predicted series is dropped by its name, as smclarify drops its LabelColumn's).
    not_features = [label]
    if isinstance(predicted_label, str):
        not_features.append(predicted_label)
    elif isinstance(predicted_label, pd.Series) and predicted_label.name in df.columns:
        not_features.append(str(predicted_label.name))

    entries: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES if stage in stages}

    def add(facet_name: str, text: str, mask: BoolArray, facet_columns: list[str]) -> None:
        features = df.drop(columns=list(dict.fromkeys([*facet_columns, *not_features])))
        results = metrics_for_mask(
            mask,
            label_positive,
            predicted_positive=predicted_positive,
            features=features,
            group=group,
            stages=list(entries),
        )
        for stage, entry_list in entries.items():
            names = PRE_TRAINING_METRICS if stage == PRE_TRAINING else POST_TRAINING_METRICS
            entry_list.append(
                {
                    "facet": facet_name,
                    "value_or_threshold": text,
                    "group_size": int(np.count_nonzero(mask)),
                    "metrics": [results[name].to_json() for name in names],
                }
            )

    per_facet = [_facet_groups(df, facet) for facet in facets]
    for facet, groups in zip(facets, per_facet, strict=True):
        for g in groups:
            add(facet.name, g.text, g.mask, [facet.name])
    if intersectional and len(facets) >= 2:
        names = [facet.name for facet in facets]
        for combination in itertools.product(*per_facet):
            mask = np.logical_and.reduce([g.mask for g in combination])
            add(" & ".join(names), " & ".join(g.text for g in combination), mask, names)

    if isinstance(positive_label_values, (list, tuple)):
        positive_json: Any = [_jsonable(value) for value in positive_label_values]
    else:
        positive_json = _jsonable(positive_label_values)
    return {
        "label": label,
        "positive_label_values": positive_json,
        "num_rows": len(df),
        **entries,
    }


def metric_values(entries: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    """A report stage's finite values by (facet, group, metric)."""
    out = {}
    for entry in entries:
        for metric in entry.get("metrics", []):
            value = metric.get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                key = (str(entry["facet"]), str(entry["value_or_threshold"]), str(metric["name"]))
                out[key] = float(value)
    return out


def bias_drift(
    reference: Mapping[str, Any], current: Mapping[str, Any], *, threshold: float
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Post-training bias that moved: a ``bias_drift_check`` violation for each metric of a
    facet group whose value is more than ``threshold`` away from the reference's, and every
    current value as a score (``"facet=group:metric"``)."""
    before = metric_values(list(reference.get("post_training_bias") or []))
    now = metric_values(list(current.get("post_training_bias") or []))
    violations = []
    for (facet, group, metric), value in now.items():
        old = before.get((facet, group, metric))
        if old is None or abs(value - old) <= threshold:
            continue
        violations.append(
            {
                "feature": facet,
                "check": "bias_drift_check",
                "description": (
                    f"{metric} for {facet} = {group} moved from {old:.3f} on the baseline to "
                    f"{value:.3f} (more than {threshold:g})."
                ),
                "value": value,
                "threshold": threshold,
            }
        )
    scores = {f"{facet}={group}:{metric}": v for (facet, group, metric), v in now.items()}
    return violations, scores
