"""The Data Quality and Insights report: what is wrong with a frame, and the step that fixes it.

``insights_report(df, target=…)`` runs every check on the frame (``insights_profile``) and,
given a target, fits a quick XGBoost model (``insights_model``). Each problem found is a
*finding*::

    {"id": "missing_values:age", "check": "missing_values", "severity": "medium",
     "title": "…", "detail": "…", "columns": ["age"],
     "recommendation": {"type": "fill_missing", "params": {...}, "title": "…"} or None}

A recommendation is a transform of the flow editor with parameters that pass that
transform's checks, so the studio can add it to the flow in one click.

The profile is built for speed (well under two seconds on 200,000 rows × 30 columns on two
cores): each column is factorized once, and the codes serve the distinct counts, the most
frequent value and the whole-row duplicates; the isolation forest sees at most 50,000 rows
and 30 columns, the leakage check at most 20,000 rows and 40 columns.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wrangler.engine.analyses import (
    LEAKAGE_THRESHOLD,
    PROBLEMS,
    ColumnStats,
    FloatArray,
    IntArray,
    bar_counts_figure,
    check_frame,
    column_stats,
    correlation_figure,
    factorize,
    histogram_figure,
    importance_figure,
    json_scalar,
    leakage_scores,
    numeric_values,
    pearson_matrix,
    prepare_model_data,
    require_column,
    resolve_problem,
    rounded,
    split_model_data,
)
from wrangler.engine.charts import PALETTE, SEQUENTIAL, style, to_json

SEVERITIES: Final = ("high", "medium", "low", "info")
CHECKS: Final = (
    "missing_values",
    "duplicate_rows",
    "constant_column",
    "near_constant",
    "high_cardinality",
    "outliers",
    "anomalous_rows",
    "skew",
    "class_imbalance",
    "target_leakage",
    "quick_model",
)
FIGURES: Final = ("missing", "correlation", "target", "confusion_matrix", "importances")

#: Bars of a numeric column's histogram, and most frequent values listed for the others,
#: in the report's column details (as in a node's preview).
HISTOGRAM_BINS: Final = 20
TOP_VALUES: Final = 8
#: Rows the isolation forest and the correlation heatmap look at (a random sample beyond).
MAX_SAMPLE_ROWS: Final = 50_000
#: Columns the isolation forest and the correlation heatmap use (the first ones).
MAX_FOREST_COLUMNS: Final = 30
MAX_CORRELATION_COLUMNS: Final = 30
MAX_LEAKAGE_ROWS: Final = 20_000
#: Values further than this many robust standard deviations from the median are outliers.
OUTLIER_SIGMAS: Final = 5.0
MAD_TO_STD: Final = 1.4826
SKEW_LIMIT: Final = 3.0
#: Isolation-forest anomaly score (0..1) from which a row clearly stands apart.
ANOMALY_SCORE: Final = 0.7


def _finding(
    check: str,
    subject: str,
    severity: str,
    title: str,
    detail: str,
    columns: Sequence[str],
    recommendation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": f"{check}:{subject}",
        "check": check,
        "severity": severity,
        "title": title,
        "detail": detail,
        "columns": list(columns),
        "recommendation": recommendation,
    }


def _recommend(type: str, params: dict[str, Any], title: str) -> dict[str, Any]:
    return {"type": type, "params": params, "title": title}


def _drop(column: str) -> dict[str, Any]:
    return _recommend("drop_columns", {"columns": [column]}, f"Drop the column {column!r}")


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _share(part: float, whole: float) -> str:
    """``part`` of ``whole`` as text: "12.5 %", or "< 0.01 %" rather than a misleading 0."""
    pct = _pct(part, whole)
    return "< 0.01 %" if part and pct < 0.01 else f"{pct:g} %"


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _fmt(value: Any) -> str:
    """A number as the report writes it: four significant digits, thousands separated."""
    number = rounded(value, 4)
    if number is None:
        return "—"
    return f"{number:,}" if isinstance(number, int) else f"{number:,.4g}"


def _quietly(check: Callable[..., Any]) -> Callable[..., Any]:
    """``check`` under ``np.errstate(all="ignore")``, which a pool thread does not inherit."""

    def run(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return check(*args)

    return run


def _in_threads(
    pool: ThreadPoolExecutor, check: Callable[..., Any], *args: Iterable[Any]
) -> list[Any]:
    return list(pool.map(_quietly(check), *args))


def _column_details(stats: ColumnStats, present: FloatArray | None) -> dict[str, Any]:
    """One column's details, in the shape of a preview's column summary: missing share,
    distinct count, then a histogram with min, max and mean (numbers) or the most frequent
    values (the rest)."""
    details: dict[str, Any] = {
        "name": stats.name,
        "kind": stats.kind,
        "dtype": stats.dtype,
        "missing": stats.missing,
        "missing_pct": _pct(stats.missing, stats.rows),
        "distinct": stats.distinct,
    }
    if present is not None and len(present):
        counts, edges = np.histogram(present, bins=HISTOGRAM_BINS)
        details["histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
        details["min"], details["max"] = float(present.min()), float(present.max())
        details["mean"] = float(present.mean())
    elif stats.count and stats.uniques is not None:
        counts = np.bincount(stats.codes[stats.codes >= 0], minlength=stats.distinct)
        order = np.argsort(-counts, kind="stable")[:TOP_VALUES]
        # Written as the preview writes them: the values' own dtype turned to text.
        texts = pd.Series(stats.uniques[order]).astype(str).tolist()
        details["top"] = [
            {"value": text, "count": int(counts[i])} for text, i in zip(texts, order, strict=True)
        ]
    return details


def _spread(name: str, values: FloatArray, rows: int) -> list[dict[str, Any]]:
    """The outlier and skew findings of one numeric column."""
    found = (_outliers(name, values, rows), _skew(name, values))
    return [f for f in found if f is not None]


def _check_options(problem: str, seed: int) -> None:
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError("seed must be a whole number of 0 or more.")


def _sort_key(finding: dict[str, Any]) -> tuple[int, str, str]:
    return (SEVERITIES.index(finding["severity"]), finding["check"], finding["id"])


# ---------------------------------------------------------------- checks


def _missing_values(stats: Sequence[ColumnStats], target: str | None) -> list[dict[str, Any]]:
    findings = []
    for s in stats:
        if not s.missing:
            continue
        ratio = s.missing / s.rows
        severity = "high" if ratio > 0.5 else "medium" if ratio > 0.05 else "low"
        if s.name == target:
            # Filling a target invents answers: the rows without one are dropped instead.
            rec = _recommend(
                "drop_missing",
                {"columns": [s.name], "how": "any"},
                f"Drop the rows with no {s.name!r}",
            )
        elif ratio > 0.7:
            rec = _drop(s.name)
        elif s.kind == "numeric":
            rec = _recommend(
                "fill_missing",
                {"columns": [s.name], "strategy": "median"},
                "Fill missing values with the median",
            )
        else:
            rec = _recommend(
                "fill_missing",
                {"columns": [s.name], "strategy": "mode"},
                "Fill missing values with the most frequent value",
            )
        findings.append(
            _finding(
                "missing_values",
                s.name,
                severity,
                f"{s.name!r} is missing {_share(s.missing, s.rows)} of its values",
                f"{s.missing:,} of {_count(s.rows, 'row')} "
                f"{'has' if s.missing == 1 else 'have'} no value in {s.name!r}."
                + (" Most of the column is empty." if ratio > 0.7 else ""),
                [s.name],
                rec,
            )
        )
    return findings


def _duplicate_count(stats: Sequence[ColumnStats]) -> int:
    """Rows that repeat an earlier row in every column, from the columns' codes.

    The codes are folded into one int64 key per row (re-factorized before it could
    overflow), which is what ``df.duplicated()`` does, minus hashing every column again.
    """
    rows = stats[0].rows
    key = np.zeros(rows, dtype=np.int64)
    bound = 1  # the key takes values in [0, bound)
    for s in stats:
        width = s.distinct + 1  # codes -1..distinct-1, shifted to 0..distinct
        if bound * width >= 2**62:
            codes, uniques = pd.factorize(key)
            key, bound = np.asarray(codes, dtype=np.int64), len(uniques)
            if bound == rows:  # every row already differs: no duplicates
                return 0
        key = key * width + (s.codes + 1)
        bound *= width
    return rows - len(pd.unique(key))


def _duplicates(count: int, rows: int) -> list[dict[str, Any]]:
    if not count:
        return []
    return [
        _finding(
            "duplicate_rows",
            "rows",
            "medium" if count > 0.01 * rows else "low",
            f"{_count(count, 'row')} {'repeats' if count == 1 else 'repeat'} another row exactly",
            f"{count:,} of {_count(rows, 'row')} ({_share(count, rows)}) match an earlier row in "
            "every column; "
            "they weigh twice in statistics and can leak between train and test splits.",
            [],
            _recommend("deduplicate", {"keep": "first"}, "Remove duplicate rows"),
        )
    ]


def _constants(stats: Sequence[ColumnStats], target: str | None) -> list[dict[str, Any]]:
    findings = []
    for s in stats:
        if s.name == target or s.count < 2:
            continue
        if s.distinct == 1:
            findings.append(
                _finding(
                    "constant_column",
                    s.name,
                    "high",
                    f"{s.name!r} holds a single value",
                    f"Every non-missing value of {s.name!r} is {s.top!r}; the column carries "
                    "no information.",
                    [s.name],
                    _drop(s.name),
                )
            )
        elif s.top_count >= 0.99 * s.count:
            share = _pct(s.top_count, s.count)
            findings.append(
                _finding(
                    "near_constant",
                    s.name,
                    "medium",
                    f"{s.name!r} is almost constant",
                    f"{share:g} % of the non-missing values of {s.name!r} are {s.top!r}; the "
                    f"other {_count(s.count - s.top_count, 'row')} are too few to learn from.",
                    [s.name],
                    _drop(s.name),
                )
            )
    return findings


def _cardinality(stats: Sequence[ColumnStats], target: str | None) -> list[dict[str, Any]]:
    findings = []
    for s in stats:
        if s.kind != "categorical" or s.name == target:
            continue
        if not ((s.distinct >= 0.5 * s.rows and s.distinct > 100) or s.distinct > 1000):
            continue
        if s.distinct == s.count:
            findings.append(
                _finding(
                    "high_cardinality",
                    s.name,
                    "medium",
                    f"{s.name!r} looks like an identifier",
                    f"Every one of the {s.count:,} values of {s.name!r} is different: it names "
                    "rows rather than describing them, and a model can only memorise it.",
                    [s.name],
                    _drop(s.name),
                )
            )
        else:
            findings.append(
                _finding(
                    "high_cardinality",
                    s.name,
                    "low",
                    f"{s.name!r} has {s.distinct:,} distinct values",
                    f"{s.name!r} has {s.distinct:,} distinct values over {s.rows:,} rows; one-hot "
                    "encoding it would add as many columns. Hashing spreads them over a fixed 32.",
                    [s.name],
                    _recommend(
                        "hash_encode",
                        {"columns": [s.name], "n_features": 32},
                        f"Hash-encode {s.name!r} into 32 columns",
                    ),
                )
            )
    return findings


def _outliers(name: str, values: FloatArray, rows: int) -> dict[str, Any] | None:
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    if mad == 0:  # over half the values are equal: no robust scale to measure against
        return None
    sigma = MAD_TO_STD * mad
    beyond = int(np.count_nonzero(np.abs(values - median) > OUTLIER_SIGMAS * sigma))
    if not beyond:
        return None
    return _finding(
        "outliers",
        name,
        "medium" if beyond > 0.01 * rows else "low",
        f"{name!r} has {_count(beyond, 'extreme value')}",
        f"{_count(beyond, 'value')} of {name!r} ({_share(beyond, rows)} of rows) "
        f"{'lies' if beyond == 1 else 'lie'} more than "
        f"{OUTLIER_SIGMAS:g} robust standard deviations ({_fmt(sigma)}) from its median "
        f"({_fmt(median)}); the range is {_fmt(values.min())} to {_fmt(values.max())}.",
        [name],
        _recommend(
            "clip_outliers",
            {
                "columns": [name],
                "method": "quantile",
                "lower_quantile": 0.001,
                "upper_quantile": 0.999,
            },
            "Clip to the 0.1 % and 99.9 % quantiles",
        ),
    )


def skewness(values: FloatArray) -> float:
    """The Fisher-Pearson skewness of ``values`` (``scipy.stats.skew`` with ``bias=True``,
    NaN for a near-constant column as there), in three passes and no array-API dispatch."""
    mean = float(values.mean())
    deviation = values - mean
    squared = deviation * deviation
    m2 = float(squared.mean())
    if m2 <= (np.finfo(np.float64).eps * mean) ** 2:
        return math.nan
    m3 = float(np.dot(squared, deviation)) / len(values)
    return float(m3 / m2**1.5)


def _skew(name: str, values: FloatArray) -> dict[str, Any] | None:
    if len(values) < 3 or values.min() == values.max():
        return None
    value = skewness(values)
    if not math.isfinite(value) or abs(value) <= SKEW_LIMIT:
        return None
    if values.min() >= 0:
        rec = _recommend(
            "log_transform", {"columns": [name], "method": "log1p"}, "Apply log(1 + x)"
        )
    else:
        rec = _recommend(
            "power_transform",
            {"columns": [name], "method": "yeo-johnson"},
            "Apply a Yeo-Johnson power transform",
        )
    side = "right" if value > 0 else "left"
    extreme = values.max() if value > 0 else values.min()
    return _finding(
        "skew",
        name,
        "medium",
        f"{name!r} is heavily skewed",
        f"{name!r} has a skewness of {value:.2f} (a long {side} tail); its median is "
        f"{_fmt(np.median(values))} but it reaches {_fmt(extreme)}. "
        "Linear models and distances work better on a less skewed scale.",
        [name],
        rec,
    )


def _anomalies(
    columns: dict[str, FloatArray], sample: IntArray, seed: int
) -> dict[str, Any] | None:
    """An isolation forest over the sampled rows of the numeric ``columns``.

    The forest's own verdict (``predict == -1`` with ``contamination="auto"``: an anomaly
    score above 0.5) is loose in few dimensions, where it flags a fifth to a half of clean
    Gaussian or uniform rows; it is reported, but the finding counts only the rows that
    stand clearly apart, scoring at least ``ANOMALY_SCORE`` (injected outliers score ~0.8,
    clean rows rarely pass 0.65). No such row, no finding.
    """
    from sklearn.ensemble import IsolationForest

    if len(columns) < 2 or len(sample) < 10:
        return None
    names = list(columns)
    matrix = np.empty((len(sample), len(names)))
    for j, name in enumerate(names):
        values = columns[name][sample]
        missing = np.isnan(values)
        if missing.any():
            values = np.where(missing, np.nanmedian(values) if not missing.all() else 0.0, values)
        matrix[:, j] = values
    forest = IsolationForest(n_estimators=100, contamination="auto", random_state=seed)
    raw = forest.fit(matrix).score_samples(matrix)  # minus the anomaly score
    loose = int((raw < forest.offset_).sum())  # what predict() calls -1, without rescoring
    clear = -raw >= ANOMALY_SCORE
    count = int(clear.sum())
    if not count:
        return None
    mean, std = matrix.mean(axis=0), matrix.std(axis=0)
    shift = (matrix[clear].mean(axis=0) - mean) / np.where(std > 0, std, 1.0)
    top = np.argsort(-np.abs(shift), kind="stable")[:3]
    differ = ", ".join(f"{names[j]!r} ({shift[j]:+.1f} sd)" for j in top)
    scope = f"{len(sample):,} rows" if len(sample) < MAX_SAMPLE_ROWS else "a sample of 50,000 rows"
    verb = "stands" if count == 1 else "stand"
    return _finding(
        "anomalous_rows",
        "rows",
        "low" if count > 0.01 * len(sample) else "info",
        f"{_count(count, 'row')} {verb} apart from the rest",
        f"An isolation forest over {_count(len(names), 'numeric column')} of {scope} flags "
        f"{loose:,} ({_share(loose, len(sample))}) as anomalies; {count:,} of them "
        f"({_share(count, len(sample))}) {'scores' if count == 1 else 'score'} "
        f"{ANOMALY_SCORE} or more and {verb} clearly apart, differing most from the mean in "
        f"{differ}.",
        [names[j] for j in top],
    )


def _class_imbalance(stats: ColumnStats, target: str, seed: int) -> dict[str, Any] | None:
    """Flagged when the rarest class is under 10 % of rows (and under half its even share,
    so twenty balanced classes pass) or the largest outnumbers it more than five to one."""
    counts = np.bincount(stats.codes[stats.codes >= 0], minlength=stats.distinct)
    if len(counts) < 2:
        return None
    total = int(counts.sum())
    rare, common = int(counts.min()), int(counts.max())
    share = rare / total
    ratio = common / rare
    if not ((share < 0.10 and share < 0.5 / len(counts)) or ratio > 5):
        return None
    params = {"target": target, "method": "random_oversample", "seed": seed}
    return _finding(
        "class_imbalance",
        target,
        "high" if share < 0.01 else "medium",
        f"The classes of {target!r} are imbalanced",
        f"The rarest class of {target!r} has {rare:,} of {total:,} rows ({share * 100:.2f} %); "
        f"the most frequent outnumbers it {ratio:,.1f} to 1. Accuracy will flatter a model "
        "that ignores the rare class; balance the training data or weigh the classes.",
        [target],
        _recommend("balance", params, "Oversample the smaller classes"),
    )


def _leakage(df: pd.DataFrame, target: str, problem: str, seed: int) -> list[dict[str, Any]]:
    # The scores of the target_leakage analysis, without drawing its figure.
    try:
        result = leakage_scores(df, target, problem, max_rows=MAX_LEAKAGE_ROWS, seed=seed)
    except ValueError:
        return []  # too few rows or classes to cross-validate: nothing to report
    what = "ROC-AUC" if result.problem == "classification" else "R²"
    findings = []
    for feature, score in result.scores:
        if score is None or score < LEAKAGE_THRESHOLD:
            continue
        findings.append(
            _finding(
                "target_leakage",
                feature,
                "high",
                f"{feature!r} may leak the target",
                f"{feature!r} alone predicts {target!r} with a cross-validated {what} of "
                f"{score:.3f}. A single column this telling is often derived from the target "
                "or recorded after it; a model trained with it will disappoint on new data.",
                [feature],
                _drop(feature),
            )
        )
    return findings


# ---------------------------------------------------------------- figures


def _missing_figure(stats: Sequence[ColumnStats]) -> go.Figure | None:
    holes = sorted((s for s in stats if s.missing), key=lambda s: -s.missing)[:60]
    if not holes:
        return None
    fig = go.Figure(
        go.Bar(
            y=[s.name for s in holes],
            x=[_pct(s.missing, s.rows) for s in holes],
            customdata=[s.missing for s in holes],
            orientation="h",
            marker={"color": PALETTE[3]},
            hovertemplate="%{y}<br><b>%{x:.2f} %</b> missing (%{customdata:,} rows)<extra></extra>",
        )
    )
    style(fig, "Missing values per column", "% of rows")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(range=[0, 100])
    fig.update_layout(height=max(220, 22 * len(holes) + 90))
    return fig


def _correlation_figure(columns: dict[str, FloatArray], sample: IntArray) -> go.Figure | None:
    names = list(columns)[:MAX_CORRELATION_COLUMNS]
    if len(names) < 2:
        return None
    matrix = pearson_matrix(np.column_stack([columns[n][sample] for n in names]))
    return correlation_figure(names, matrix, "pearson")


def _target_figure(df: pd.DataFrame, target: str, problem: str) -> go.Figure:
    if problem == "regression":
        values = numeric_values(df[target])
        fig, _, _ = histogram_figure(values, 30, f"Distribution of the target {target}", target)
        return fig
    codes, uniques = factorize(df[target])
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")[:30]
    labels = [str(json_scalar(uniques[i])) for i in order]
    return bar_counts_figure(
        labels, counts[order].tolist(), f"Classes of the target {target}", target
    )


# ---------------------------------------------------------------- entry points


def insights_profile(
    df: pd.DataFrame, *, target: str | None = None, problem: str = "auto", seed: int = 0
) -> dict[str, Any]:
    """Every data check on ``df``: ``{"summary", "columns", "findings", "figures"}``.

    ``columns`` has each column's details in the shape of a preview's column summary
    (``name``, ``kind``, ``dtype``, ``missing``, ``missing_pct``, ``distinct``, then
    ``histogram`` with ``min``, ``max`` and ``mean`` for numbers, ``top`` for the rest);
    ``figures`` holds ``missing``, ``correlation`` and ``target`` (plotly dicts or None);
    the findings are sorted by severity, then check.
    """
    _check_options(problem, seed)
    df = check_frame(df)
    rows = df.shape[0]
    resolved: str | None = None
    if target is not None:
        require_column(df, target, "target")
        known = df[target].dropna()
        if known.empty:
            raise ValueError(f"Every row is missing the target {target!r}; pick another column.")
        resolved = resolve_problem(known, problem, target)
    # numpy and pandas release the GIL while they hash, partition and fit, so the columns'
    # statistics and checks run on every core, and the isolation forest runs beside the
    # correlation and leakage steps.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        stats = _in_threads(pool, column_stats, [df] * df.shape[1], df.columns)
        by_name = {s.name: s for s in stats}

        findings = _missing_values(stats, target)
        duplicate_rows = _duplicate_count(stats)
        findings += _duplicates(duplicate_rows, rows)
        findings += _constants(stats, target)
        findings += _cardinality(stats, target)

        # One float array per numeric column, shared by the outlier, skew, forest and
        # correlation steps.
        numeric: dict[str, FloatArray] = {}
        checked: list[tuple[str, FloatArray]] = []
        finite: dict[str, FloatArray] = {}
        with np.errstate(all="ignore"):
            for s in stats:
                if s.kind != "numeric" or s.count == 0:
                    continue
                values = numeric_values(df[s.name])
                values[~np.isfinite(values)] = np.nan
                present = values[~np.isnan(values)]
                if len(present) == 0:
                    continue
                finite[s.name] = present
                if not (s.name == target and resolved == "classification"):  # class codes
                    checked.append((s.name, present))
                if s.distinct > 1:
                    numeric[s.name] = values
            sample = np.arange(rows, dtype=np.intp)
            if rows > MAX_SAMPLE_ROWS:
                rng = np.random.default_rng(seed)
                sample = np.sort(rng.choice(rows, MAX_SAMPLE_ROWS, replace=False)).astype(np.intp)
            # The target is what the rows are about, not one of their features.
            features = [name for name in numeric if name != target][:MAX_FOREST_COLUMNS]
            forest_columns = {name: numeric[name] for name in features}
            forest = pool.submit(_quietly(_anomalies), forest_columns, sample, seed)
            names = [name for name, _ in checked]
            presents = [present for _, present in checked]
            for found in _in_threads(pool, _spread, names, presents, [rows] * len(checked)):
                findings += found
            correlation = _correlation_figure(numeric, sample)
            columns = _in_threads(
                pool,
                _column_details,
                stats,
                [finite.get(s.name) if s.kind == "numeric" else None for s in stats],
            )

        target_figure = None
        if target is not None and resolved is not None:
            if resolved == "classification":
                imbalance = _class_imbalance(by_name[target], target, seed)
                if imbalance is not None:
                    findings.append(imbalance)
            findings += _leakage(df, target, resolved, seed)
            target_figure = _target_figure(df, target, resolved)
        anomaly = forest.result()
        if anomaly is not None:
            findings.append(anomaly)

    total_cells = rows * df.shape[1]
    summary = {
        "rows": rows,
        "columns": df.shape[1],
        "missing_cells_pct": _pct(sum(s.missing for s in stats), total_cells),
        "duplicate_rows": duplicate_rows,
        "numeric_columns": sum(s.kind == "numeric" for s in stats),
        "categorical_columns": sum(s.kind in ("categorical", "bool") for s in stats),
        "datetime_columns": sum(s.kind == "datetime" for s in stats),
        "target": target,
        "problem": resolved,
    }
    missing = _missing_figure(stats)
    return {
        "summary": summary,
        "columns": columns,
        "findings": sorted(findings, key=_sort_key),
        "figures": {
            "missing": to_json(missing) if missing is not None else None,
            "correlation": to_json(correlation) if correlation is not None else None,
            "target": to_json(target_figure) if target_figure is not None else None,
        },
    }


def insights_model(
    df: pd.DataFrame,
    *,
    target: str,
    problem: str = "auto",
    seed: int = 0,
    max_rows: int = 20_000,
) -> dict[str, Any]:
    """A quick XGBoost model of ``target``: ``{"findings", "model", "figures"}``.

    ``model`` is ``{"problem", "accuracy", "f1_macro", "classes", "confusion_matrix"}`` for
    classification and ``{"problem", "rmse", "r2"}`` for regression; ``figures`` holds
    ``confusion_matrix`` (None for regression) and ``importances`` (gain, top 20).
    """
    import xgboost
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        mean_squared_error,
        r2_score,
    )

    _check_options(problem, seed)
    data = prepare_model_data(df, target, problem, max_rows=max_rows, seed=seed)
    x_train, x_test, y_train, y_test = split_model_data(data, seed)
    classification = data.problem == "classification"
    options = {
        "n_estimators": 100,
        "max_depth": 6,
        "tree_method": "hist",
        "n_jobs": 2,
        "random_state": seed,
    }
    model: Any = (
        xgboost.XGBClassifier(**options) if classification else xgboost.XGBRegressor(**options)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x_train, y_train)
        predicted = np.asarray(model.predict(x_test))
    held_out = f"{len(y_test):,} held-out rows (trained on {len(y_train):,})"
    confusion = None
    metrics: dict[str, Any]
    if classification:
        labels = list(range(len(data.classes)))
        accuracy = float(accuracy_score(y_test, predicted))
        f1 = float(f1_score(y_test, predicted, average="macro", labels=labels, zero_division=0))
        matrix = confusion_matrix(y_test, predicted, labels=labels)
        metrics = {
            "problem": "classification",
            "accuracy": rounded(accuracy, 4),
            "f1_macro": rounded(f1, 4),
            "classes": list(data.classes),
            "confusion_matrix": matrix.astype(int).tolist(),
        }
        baseline = float(np.bincount(y_test, minlength=len(labels)).max() / len(y_test))
        title = f"A quick model predicts {target!r} with {accuracy * 100:.1f} % accuracy"
        detail = (
            f"XGBoost reaches an accuracy of {accuracy:.3f} and a macro F1 of {f1:.3f} on "
            f"{held_out}; always answering the most frequent class would score "
            f"{baseline:.3f}."
        )
        confusion = _confusion_figure(matrix, [str(c) for c in data.classes], target)
    else:
        rmse = math.sqrt(float(mean_squared_error(y_test, predicted)))
        r2 = float(r2_score(y_test, predicted))
        metrics = {"problem": "regression", "rmse": rounded(rmse, 6), "r2": rounded(r2, 4)}
        spread = float(np.std(y_test))
        title = f"A quick model explains {max(r2, 0) * 100:.1f} % of the variance of {target!r}"
        detail = (
            f"XGBoost reaches an RMSE of {_fmt(rmse)} and an R² of {r2:.3f} on {held_out}; "
            f"the target's standard deviation there is {_fmt(spread)}."
        )
    gains = model.get_booster().get_score(importance_type="gain")
    importances = [float(gains.get(f"f{i}", 0.0)) for i in range(len(data.names))]
    total = sum(importances) or 1.0
    importances = [v / total for v in importances]  # shares of the total gain
    finding = _finding("quick_model", target, "info", title, detail, [target])
    return {
        "findings": [finding],
        "model": metrics,
        "figures": {
            "confusion_matrix": to_json(confusion) if confusion is not None else None,
            "importances": to_json(
                importance_figure(data.names, importances, "What the model relies on (gain)")
            ),
        },
    }


def _confusion_figure(matrix: Any, labels: list[str], target: str) -> go.Figure:
    shown = labels[:50]  # beyond 50 classes the cells are unreadable anyway
    z = matrix[: len(shown), : len(shown)].astype(int).tolist()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=shown,
            y=shown,
            colorscale=SEQUENTIAL,
            texttemplate="%{z:,}" if len(shown) <= 20 else None,
            hovertemplate="actual %{y}<br>predicted %{x}<br><b>%{z:,}</b> rows<extra></extra>",
            colorbar={"thickness": 12},
        )
    )
    style(fig, f"Confusion matrix of {target}", "predicted", "actual")
    fig.update_xaxes(type="category", showgrid=False)
    fig.update_yaxes(type="category", showgrid=False, autorange="reversed")
    fig.update_layout(height=max(320, 26 * len(shown) + 140))
    return fig


def insights_report(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    problem: str = "auto",
    seed: int = 0,
    model: bool = True,
    max_model_rows: int = 20_000,
) -> dict[str, Any]:
    """The whole report: ``{"summary", "columns", "findings", "figures", "model", "timings"}``.

    A model is fitted only with a target and ``model=True``; when the data cannot train one
    (too few rows, a single class) the report says why in an info finding instead.
    """
    started = time.perf_counter()
    profile = insights_profile(df, target=target, problem=problem, seed=seed)
    profile_s = time.perf_counter() - started
    findings = list(profile["findings"])
    figures: dict[str, Any] = {name: None for name in FIGURES}
    figures.update(profile["figures"])
    metrics = None
    model_s = 0.0
    if target is not None and model:
        started = time.perf_counter()
        try:
            fitted = insights_model(
                df, target=target, problem=problem, seed=seed, max_rows=max_model_rows
            )
        except ValueError as exc:
            findings.append(
                _finding(
                    "quick_model",
                    target,
                    "info",
                    "No quick model could be trained",
                    str(exc),
                    [target],
                )
            )
        else:
            findings += fitted["findings"]
            figures.update(fitted["figures"])
            metrics = fitted["model"]
        model_s = time.perf_counter() - started
    return {
        "summary": profile["summary"],
        "columns": profile["columns"],
        "findings": sorted(findings, key=_sort_key),
        "figures": figures,
        "model": metrics,
        "timings": {"profile_s": round(profile_s, 3), "model_s": round(model_s, 3)},
    }
