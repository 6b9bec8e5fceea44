"""Per-column drift between a baseline and current traffic, computed from their statistics
documents (``monitor.engine.profile``): the current is binned on the baseline's edges and
categories, so no pass ever goes back to the reference rows.

Methods (``method="auto"`` picks as Evidently's defaults do, by kind and current size):

=================  ============================  ===============================  ========
method             columns                       drifted when (default)           score
=================  ============================  ===============================  ========
``ks``             numeric, current ≤ 1000       p-value < 0.05                   p-value
``wasserstein``    numeric, current > 1000       distance / reference std > 0.1   distance
``chisquare``      categorical, current ≤ 1000   p-value < 0.05                   p-value
``jensenshannon``  categorical, current > 1000   JS distance (base 2) > 0.1       distance
``psi``            either kind, only when named  PSI > 0.1                        PSI
=================  ============================  ===============================  ========

``threshold`` replaces the default of whichever method decides (for a p-value the column
drifts below it, for a distance above it). A named method that does not apply to a
column's kind (``ks`` on text, ``chisquare`` on numbers…) leaves that column on ``auto``,
and then ``threshold`` is not applied to it.

Invariants:

- Whatever decides, ``psi`` is reported for every compared column, ``ks`` and
  ``wasserstein`` for numeric ones and ``jensen_shannon`` for categorical ones; the others
  are null.
- Both CDFs are exact on either side of every baseline edge (bucket counts and
  ``at_edges``). In between (:class:`SketchCdf`) a bucket's mass, less what sits on its
  edge, is spread evenly; beyond the edges a side's CDF follows its own quantiles out to
  its min and max. So a discrete column whose values are the edges is rebuilt exactly.
- KS: the largest CDF gap on either side of an edge (never above the raw-data statistic;
  with the default bins within about 0.01 of it) and the p-value
  ``scipy.stats.kstwo.sf(D, round(n·m/(n+m)))``, scipy's asymptotic two-sample one.
- Wasserstein: ``∫|F_ref − F_cur| dx`` over the rebuilt CDFs (within a few percent of the
  raw-data distance), normed by the reference std, or by ``|mean|`` (else 1) for a
  constant reference.
- PSI: ``Σ (c − r)·ln(c / r)`` over about 10 groups of equal reference mass (fine buckets
  merged at the reference deciles; categories for text), empty cells as 0.0001. 0 for
  identical distributions.
- Categories: the baseline's listed categories plus one pooled cell for everything else
  (the baseline's ``other`` and categories the baseline never listed). For the chi-square
  test the pooled cell's expected weight is at least half a reference row, so a category
  unseen in the reference counts strongly without making the statistic infinite; and
  scipy's statistic is divided by ``1 + m/n`` (m current, n reference values), the share of
  its variance that the reference's own sampling adds, which keeps false alarms at the
  nominal rate when the reference is not much larger than the current.
- A column with no reference values or no current values is not drifted, method ``none``,
  with a ``note``. Baseline columns missing from the current are not compared.
- ``histogram`` (for the report page): numeric, at most 30 bins of about equal reference
  mass whose edges are baseline edges (values below the first edge or above the last fold
  into the first/last bin; draw bars with density = fraction / width; a constant reference
  gets two bins of equal width either side of its value); categorical, the at
  most 30 categories with the largest share on either side, edges being their names.
  Fractions are of each side's total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.engine.profile import finite_or_none, profile_against, profile_table

DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
METHODS: tuple[str, ...] = ("auto", *DEFAULT_THRESHOLDS)
# Methods whose score is a p-value: a column drifts when it is BELOW the threshold.
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
NUMERIC_METHODS = frozenset({"ks", "wasserstein", "psi"})
CATEGORICAL_METHODS = frozenset({"chisquare", "jensenshannon", "psi"})
SMALL_SAMPLE = 1000
HISTOGRAM_BINS = 30
PSI_GROUPS = 10
PSI_EPSILON = 1e-4
UNSEEN_PSEUDO_COUNT = 0.5

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ColumnDrift:
    """How one column's current distribution compares with its baseline."""

    name: str
    kind: str
    method: str
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float | None
    drifted: bool
    psi: float | None
    wasserstein: float | None
    ks: float | None
    jensen_shannon: float | None
    reference_count: int
    current_count: int
    histogram: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The column as plain JSON."""
        return {
            "name": self.name,
            "kind": self.kind,
            "method": self.method,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "psi": self.psi,
            "wasserstein": self.wasserstein,
            "ks": self.ks,
            "jensen_shannon": self.jensen_shannon,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "histogram": dict(self.histogram),
            "note": self.note,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of every compared column and whether the dataset as a whole drifted."""

    columns: tuple[ColumnDrift, ...]
    share_drifted: float
    drifted: bool
    num_columns: int
    num_drifted: int
    share_threshold: float

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON."""
        return {
            "share_drifted": self.share_drifted,
            "drifted": self.drifted,
            "num_columns": self.num_columns,
            "num_drifted": self.num_drifted,
            "share_threshold": self.share_threshold,
            "columns": [c.to_dict() for c in self.columns],
        }


# ---------------------------------------------------------------------------- numeric


@dataclass(frozen=True)
class SketchCdf:
    """A CDF rebuilt from a numeric block: at knot ``x[j]`` it jumps from ``left[j]`` to
    ``right[j]``, and between knots it runs linearly from ``right[j]`` to ``left[j + 1]``."""

    x: Floats
    left: Floats
    right: Floats

    @classmethod
    def from_block(cls, block: Mapping[str, Any]) -> SketchCdf:
        """Exact at every edge (both sides); inside a bucket the mass is spread evenly, and
        outside the edges it follows the block's own quantiles out to its min and max."""
        edges = np.asarray(block["edges"], dtype=np.float64)
        counts = np.asarray(block["counts"], dtype=np.float64)
        at = np.asarray(block["at_edges"], dtype=np.float64)
        total = counts.sum()
        upto = np.cumsum(counts)[:-1]
        right, left = upto / total, (upto - at) / total
        quantiles = [
            (float(v), float(q)) for q, v in block.get("quantiles", {}).items() if v is not None
        ]
        points: list[tuple[float, float, float]] = []
        below, above = float(left[0]), float(right[-1])
        if below > 0:
            points.append((float(block["min"]), 0.0, 0.0))
            points += [(v, q, q) for v, q in quantiles if v < edges[0] and q < below]
        if above < 1:
            points += [(v, q, q) for v, q in quantiles if v > edges[-1] and q > above]
            points.append((float(block["max"]), 1.0, 1.0))
        x = np.concatenate((edges, [p[0] for p in points]))
        lo = np.concatenate((left, [p[1] for p in points]))
        hi = np.concatenate((right, [p[2] for p in points]))
        order = np.argsort(x, kind="stable")
        x, lo, hi = x[order], lo[order], hi[order]
        # Several knots at one x (tail quantiles that tie) become one jump.
        starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
        x = x[starts]
        lo = np.minimum.reduceat(lo, starts)
        hi = np.maximum.reduceat(hi, starts)
        # Interpolated quantiles may disagree with the exact counts by a row: stay monotone.
        both = np.maximum.accumulate(np.minimum(np.column_stack((lo, hi)).ravel(), 1.0))
        return cls(x=x, left=both[0::2], right=both[1::2])

    def at(self, grid: Floats) -> tuple[Floats, Floats]:
        """(left, right) limits of the CDF at each point of ascending ``grid``."""
        x, n = self.x, self.x.size
        j = np.searchsorted(x, grid, side="right") - 1  # last knot at or before the point
        jc = np.clip(j, 0, n - 1)
        right = np.where(j < 0, 0.0, self.right[-1])
        left = right.copy()
        if n > 1:
            mid = (j >= 0) & (j < n - 1)
            jm = jc[mid]
            part = (grid[mid] - x[jm]) / (x[jm + 1] - x[jm])
            value = self.right[jm] + (self.left[jm + 1] - self.right[jm]) * part
            right[mid] = value
            left[mid] = value
        on = (j >= 0) & (x[jc] == grid)
        right[on] = self.right[jc[on]]
        left[on] = self.left[jc[on]]
        return left, right


def ks_from_sketches(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test from two numeric blocks on the same
    edges: the largest CDF gap on either side of an edge, where both CDFs are exact."""
    from scipy import stats as sps

    n, m = float(sum(ref["counts"])), float(sum(cur["counts"]))
    edges = np.asarray(ref["edges"], dtype=np.float64)
    r_left, r_right = SketchCdf.from_block(ref).at(edges)
    c_left, c_right = SketchCdf.from_block(cur).at(edges)
    d = float(max(np.abs(r_left - c_left).max(), np.abs(r_right - c_right).max()))
    d = min(1.0, d)
    en = n * m / (n + m)
    p = float(sps.kstwo.sf(d, max(1, round(en))))
    return d, min(1.0, max(0.0, p))


def wasserstein_from_sketches(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float:
    """Un-normed W1 distance, ``∫|F_ref − F_cur| dx``, of two numeric blocks on the same
    edges (both CDFs as :class:`SketchCdf`)."""
    a, b = SketchCdf.from_block(ref), SketchCdf.from_block(cur)
    grid = np.union1d(a.x, b.x)
    if grid.size < 2:
        return 0.0
    a_left, a_right = a.at(grid)
    b_left, b_right = b.at(grid)
    # On each span both CDFs are linear: the gap runs from d0 to d1, maybe crossing zero.
    d0 = (a_right - b_right)[:-1]
    d1 = (a_left - b_left)[1:]
    width = np.diff(grid)
    m0, m1 = np.abs(d0), np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.nan_to_num((d0 * d0 + d1 * d1) / (2 * (m0 + m1)))
    area = np.where(d0 * d1 >= 0, (m0 + m1) / 2, crossing)
    return float(np.sum(width * area))


def _psi(ref: Floats, cur: Floats) -> float:
    p = np.where(ref > 0, ref / max(ref.sum(), 1.0), PSI_EPSILON)
    q = np.where(cur > 0, cur / max(cur.sum(), 1.0), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_numeric(ref_counts: Floats, cur_counts: Floats) -> float:
    """PSI over about 10 groups of fine buckets, cut where the reference crosses a decile."""
    cum_before = np.concatenate(([0.0], np.cumsum(ref_counts)[:-1])) / ref_counts.sum()
    targets = np.arange(1, PSI_GROUPS) / PSI_GROUPS
    group = np.searchsorted(targets, cum_before + 1e-12, side="right")
    _, group = np.unique(group, return_inverse=True)
    size = int(group.max()) + 1
    r = np.bincount(group, weights=ref_counts, minlength=size).astype(np.float64)
    c = np.bincount(group, weights=cur_counts, minlength=size).astype(np.float64)
    return _psi(r, c)


def _numeric_histogram(
    edges: Floats, rc: Floats, cc: Floats, cur: Mapping[str, Any]
) -> dict[str, Any]:
    n, m = rc.sum(), cc.sum()
    k = edges.size - 1
    if k == 0:
        # A constant reference: one bin up to its value, one above, of equal widths.
        c = float(edges[0])
        reach = max(float(cur["max"]) - c, c - float(cur["min"]))
        width = reach if reach > 0 else (abs(c) or 1.0)
        return {
            "edges": [c - width, c, c + width],
            "reference": [float(rc[0] / n), float(rc[1] / n)],
            "current": [float(cc[0] / m), float(cc[1] / m)],
        }
    # Inner buckets (e_{j}, e_{j+1}] for j < k, with the outer buckets folded in.
    inner_r, inner_c = rc[1:-1].copy(), cc[1:-1].copy()
    inner_r[0] += rc[0]
    inner_c[0] += cc[0]
    inner_r[-1] += rc[-1]
    inner_c[-1] += cc[-1]
    cut = np.unique(np.round(np.linspace(0, k, min(HISTOGRAM_BINS, k) + 1)).astype(np.int64))
    gr = np.add.reduceat(inner_r, cut[:-1])
    gc = np.add.reduceat(inner_c, cut[:-1])
    return {
        "edges": [float(x) for x in edges[cut]],
        "reference": [float(x) for x in gr / n],
        "current": [float(x) for x in gc / m],
    }


# ---------------------------------------------------------------------------- categorical


def _category_cells(
    ref: Mapping[str, Any], cur: Mapping[str, Any]
) -> tuple[list[str], Floats, Floats]:
    """(listed categories, reference cells, current cells): one cell per category the
    baseline lists and a last, pooled cell for the rest."""
    listed = list(ref["frequencies"])
    rf, cf = ref["frequencies"], cur["frequencies"]
    r = np.array([*(float(rf[c]) for c in listed), float(ref["other"])], dtype=np.float64)
    cur_total = float(sum(cf.values())) + float(cur["other"])
    c_listed = [float(cf.get(c, 0)) for c in listed]
    c = np.array([*c_listed, cur_total - sum(c_listed)], dtype=np.float64)
    return listed, r, c


def chisquare_from_counts(ref_cells: Floats, cur_cells: Floats) -> tuple[float, float]:
    """(statistic, p-value) of ``scipy.stats.chisquare`` of the current cells against the
    reference frequencies scaled to the current's size, the statistic divided by
    ``1 + m/n``; the last (pooled) cell gets at least half a reference row of weight."""
    from scipy import stats as sps

    weights = ref_cells.copy()
    if cur_cells[-1] > 0 or weights[-1] > 0:
        weights[-1] = max(weights[-1], UNSEEN_PSEUDO_COUNT)
        observed = cur_cells
    else:
        weights, observed = weights[:-1], cur_cells[:-1]
    if observed.size < 2:
        return 0.0, 1.0
    expected = weights / weights.sum() * observed.sum()
    keep = expected > 0
    result = sps.chisquare(observed[keep], expected[keep])
    # The reference frequencies are themselves a sample: their noise adds m/n to the
    # variance of each cell, and without this a resample of the reference's own
    # distribution would alarm more often than the nominal rate.
    statistic = float(result.statistic) / (1.0 + observed.sum() / ref_cells.sum())
    return statistic, float(sps.chi2.sf(statistic, int(keep.sum()) - 1))


def _categorical_histogram(
    ref: Mapping[str, Any], cur: Mapping[str, Any], n: float, m: float
) -> dict[str, Any]:
    rf, cf = ref["frequencies"], cur["frequencies"]
    names = list(dict.fromkeys([*rf, *cf]))
    share = {k: max(rf.get(k, 0) / n, cf.get(k, 0) / m) for k in names}
    top = sorted(names, key=lambda k: (-share[k], k))[:HISTOGRAM_BINS]
    return {
        "edges": top,
        "reference": [float(rf.get(k, 0) / n) for k in top],
        "current": [float(cf.get(k, 0) / m) for k in top],
    }


# ---------------------------------------------------------------------------- compare


def _decide(method: str, score: float, threshold: float) -> bool:
    if method in P_VALUE_METHODS:
        return score < threshold
    return score > threshold


def _pick(method: str, kind: str, current_count: int) -> tuple[str, bool]:
    """(method used, whether it was the one named)."""
    allowed = NUMERIC_METHODS if kind == "numeric" else CATEGORICAL_METHODS
    if method != "auto" and method in allowed:
        return method, True
    small = current_count <= SMALL_SAMPLE
    if kind == "numeric":
        return ("ks" if small else "wasserstein"), method == "auto"
    return ("chisquare" if small else "jensenshannon"), method == "auto"


def _none(name: str, kind: str, n: int, m: int, note: str) -> ColumnDrift:
    return ColumnDrift(
        name=name,
        kind=kind,
        method="none",
        statistic=None,
        p_value=None,
        score=None,
        threshold=None,
        drifted=False,
        psi=None,
        wasserstein=None,
        ks=None,
        jensen_shannon=None,
        reference_count=n,
        current_count=m,
        histogram={"edges": [], "reference": [], "current": []},
        note=note,
    )


def _decided(
    name: str,
    kind: str,
    method: str,
    threshold: float | None,
    outcomes: Mapping[str, tuple[float, float | None, float]],
    *,
    counts: tuple[int, int],
    distances: Mapping[str, float | None],
    histogram: dict[str, Any],
) -> ColumnDrift:
    """A column's drift from every method's (statistic, p-value, score): the chosen method
    decides against its threshold; the other distances are reported beside it."""
    used, named = _pick(method, kind, counts[1])
    statistic, p_value, score = outcomes[used]
    limit = threshold if (threshold is not None and named) else DEFAULT_THRESHOLDS[used]
    return ColumnDrift(
        name=name,
        kind=kind,
        method=used,
        statistic=finite_or_none(statistic),
        p_value=finite_or_none(p_value),
        score=finite_or_none(score),
        threshold=limit,
        drifted=_decide(used, float(score), limit),
        psi=finite_or_none(distances["psi"]),
        wasserstein=finite_or_none(distances["wasserstein"]),
        ks=finite_or_none(distances["ks"]),
        jensen_shannon=finite_or_none(distances["jensen_shannon"]),
        reference_count=counts[0],
        current_count=counts[1],
        histogram=histogram,
    )


def _numeric_drift(
    name: str, base: Mapping[str, Any], cur: Mapping[str, Any], method: str, threshold: float | None
) -> ColumnDrift:
    rb, cb = base["numeric"], cur.get("numeric")
    if cb is None:
        raise ValueError(f"column {name!r} of the current is not numeric: use profile_against")
    edges = np.asarray(rb["edges"], dtype=np.float64)
    if not np.array_equal(edges, np.asarray(cb["edges"], dtype=np.float64)):
        raise ValueError(f"column {name!r} is not on the baseline's edges: use profile_against")
    rc = np.asarray(rb["counts"], dtype=np.float64)
    cc = np.asarray(cb["counts"], dtype=np.float64)
    n, m = int(rc.sum()), int(cc.sum())
    if n == 0:
        return _none(name, "numeric", n, m, "no reference values")
    if m == 0:
        return _none(name, "numeric", n, m, "no values")
    d, p = ks_from_sketches(rb, cb)
    std = finite_or_none(rb.get("std"))
    mean = finite_or_none(rb.get("mean"))
    norm = std if std else (abs(mean) if mean else 1.0)
    w = wasserstein_from_sketches(rb, cb) / norm
    psi = psi_numeric(rc, cc)
    return _decided(
        name,
        "numeric",
        method,
        threshold,
        {"ks": (d, p, p), "wasserstein": (w, None, w), "psi": (psi, None, psi)},
        counts=(n, m),
        distances={"psi": psi, "wasserstein": w, "ks": d, "jensen_shannon": None},
        histogram=_numeric_histogram(edges, rc, cc, cb),
    )


def _categorical_drift(
    name: str, base: Mapping[str, Any], cur: Mapping[str, Any], method: str, threshold: float | None
) -> ColumnDrift:
    from scipy.spatial import distance as spd

    rb, cb = base["categorical"], cur.get("categorical")
    if cb is None:
        raise ValueError(f"column {name!r} of the current is not categorical: use profile_against")
    _, r, c = _category_cells(rb, cb)
    n, m = int(r.sum()), int(c.sum())
    if n == 0:
        return _none(name, "categorical", n, m, "no reference values")
    if m == 0:
        return _none(name, "categorical", n, m, "no values")
    js = float(spd.jensenshannon(r / n, c / m, base=2))
    js = js if math.isfinite(js) else 0.0
    psi = _psi(r, c)
    chi, p = chisquare_from_counts(r, c)
    return _decided(
        name,
        "categorical",
        method,
        threshold,
        {"chisquare": (chi, p, p), "jensenshannon": (js, None, js), "psi": (psi, None, psi)},
        counts=(n, m),
        distances={"psi": psi, "wasserstein": None, "ks": None, "jensen_shannon": js},
        histogram=_categorical_histogram(rb, cb, n, m),
    )


def compare(
    baseline_stats: Mapping[str, Any],
    current_stats: Mapping[str, Any],
    *,
    method: str = "auto",
    threshold: float | None = None,
    share_threshold: float = 0.5,
    columns: Sequence[str] | None = None,
) -> DriftReport:
    """Drift of each baseline column present in the current (or of ``columns``, in that
    order), from ``profile_table`` and ``profile_against`` documents.

    The dataset drifted when the share of drifted columns is at least ``share_threshold``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; expected one of {', '.join(METHODS)}")
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise ValueError("threshold must be a positive number")
    base = {str(c["name"]): c for c in baseline_stats["columns"]}
    cur = {str(c["name"]): c for c in current_stats["columns"]}
    names = list(base) if columns is None else list(columns)
    unknown = [n for n in names if n not in base]
    if unknown:
        raise ValueError(f"column {unknown[0]!r} is not in the baseline")
    results: list[ColumnDrift] = []
    for name in names:
        if name not in cur:
            continue
        b = base[name]
        if b["kind"] == "numeric":
            results.append(_numeric_drift(name, b, cur[name], method, threshold))
        else:
            results.append(_categorical_drift(name, b, cur[name], method, threshold))
    drifted = sum(1 for r in results if r.drifted)
    share = drifted / len(results) if results else 0.0
    return DriftReport(
        columns=tuple(results),
        share_drifted=share,
        drifted=bool(results) and share >= share_threshold,
        num_columns=len(results),
        num_drifted=drifted,
        share_threshold=share_threshold,
    )


def drift_frames(reference: pd.DataFrame, current: pd.DataFrame, **kw: Any) -> DriftReport:
    """``compare`` of ``current`` against a baseline profiled from ``reference`` (keyword
    arguments go to ``compare``)."""
    baseline = profile_table(reference)
    return compare(baseline, profile_against(baseline, current), **kw)
