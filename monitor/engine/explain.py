"""SHAP explanations of a trained model: per-row attributions, global importance and
dependence plots, per source (input) feature.

Three ways to compute them, picked by ``method`` (``"auto"`` picks the exact one when there
is one):

- ``"tree"``: XGBoost models, exact TreeSHAP from XGBoost itself
  (``Booster.predict(..., pred_contribs=True)``) on the preprocessed matrix, in margin space
  (log-odds for two classes, each class's softmax input for more, the raw prediction of a
  regression: the log of it for log-link objectives such as Poisson).
- ``"tree_sklearn"``: scikit-learn forests and decision trees, exact (path-dependent)
  TreeSHAP from ``shap.TreeExplainer`` on the preprocessed matrix, in the model's own output
  space: a forest classifier's probability is the mean of its trees' leaf fractions, which
  TreeSHAP decomposes exactly, so this is both exact and fast; KernelSHAP would only
  approximate the same numbers at thousands of model calls per row.
- ``"kernel"``: any other model, KernelSHAP (``shap.KernelExplainer``) over the source
  features, in probability space for classifiers. The explained function rebuilds the
  model's input frame from a float matrix (categories and text as integer codes into a
  per-column vocabulary, decoded inside the function) and runs the whole pipeline, so
  one-hot groups and TF-IDF columns move together as their source feature does.

The KernelSHAP background is a k-means summary of ``background`` (the explained frame when
none is given): ``shap.kmeans`` when every feature is a number. With categories or text,
centres of codes would be meaningless, so the rows are clustered on the standardised numbers
and the one-hot indicators of low-cardinality categories, and each cluster is represented by
its members' mean number snapped to the nearest observed value (as ``shap.kmeans`` does) and
their most frequent category or text; clusters weigh by their size. With nothing to cluster
on (text only), the background is a seeded sample of rows.

Invariants:

- ``features`` are the model's input-schema names in schema order; attributions of
  preprocessed columns (one-hot groups, TF-IDF terms) are summed into their source column,
  which keeps them additive (SHAP values are linear in the explained output).
- For every row, ``attributions.sum(axis=1) + expected_value == predictions``: exact up to
  float rounding for the tree methods; for KernelSHAP by construction, as the explainer
  enforces the efficiency constraint and no L1 feature selection is applied.
- At most ``max_rows`` rows are explained: a seeded random sample, kept in frame order.
- ``shap`` is imported only inside the functions that need it (it pulls numba and takes
  seconds to import); importing this module does not import it.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.engine.artifact import TrainedModel

METHODS = ("auto", "tree", "tree_sklearn", "kernel")
CLASSIFICATION = ("binary_classification", "multiclass_classification")
#: XGBoost objectives whose margin is the log of the prediction.
LOG_LINK = ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft")
#: Rows per call of the tree explainers: bounds the (rows, classes, features) contributions.
TREE_CHUNK = 10_000
#: The most background rows summarised by k-means (a seeded sample of larger backgrounds).
BACKGROUND_ROWS = 5_000
#: Categories with more distinct values than this take no part in the background clustering.
CLUSTER_CATEGORIES = 50
#: The most points of one dependence plot in ``Explanation.to_dict``.
DEPENDENCE_POINTS = 1_000


@dataclass(frozen=True, eq=False)
class Explanation:
    """SHAP attributions of some rows, per source feature."""

    method: str  # "tree" | "tree_sklearn" | "kernel"
    features: tuple[str, ...]  # source (input) feature names, in input-schema order
    output: str  # what is explained: "log-odds of 'yes'", "probability of 'yes'", …
    classes: tuple[Any, ...] | None
    expected_value: float  # E[f(x)] for the explained output
    attributions: np.ndarray  # (rows, features) float64
    predictions: np.ndarray  # (rows,) the explained output f(x) per row
    values: pd.DataFrame  # the rows' raw feature values, indexed as the explained frame
    kinds: tuple[str, ...] = ()  # each feature's schema kind, for dependence plots

    def global_importance(self) -> list[dict[str, Any]]:
        """``[{"feature", "mean_abs_shap"}]``, the most important first (ties in schema order)."""
        if len(self.attributions):
            means = np.abs(self.attributions).mean(axis=0)
        else:
            means = np.zeros(len(self.features))
        order = np.argsort(-means, kind="stable")
        return [{"feature": self.features[i], "mean_abs_shap": _number(means[i])} for i in order]

    def to_dict(self, *, max_rows: int = 1000, dependence_top: int = 5) -> dict[str, Any]:
        """Plain JSON (no NaN): the summary, the first ``max_rows`` rows' attributions and
        the dependence plots of the ``dependence_top`` most important features."""
        importance = self.global_importance()
        rows = [
            {
                "index": _plain(label),
                "prediction": _number(self.predictions[i]),
                "attributions": {
                    name: _number(self.attributions[i, j]) for j, name in enumerate(self.features)
                },
            }
            for i, label in enumerate(self.values.index[: max(0, max_rows)])
        ]
        count = len(self.attributions)
        shown = np.unique(
            np.linspace(0, count - 1, min(count, DEPENDENCE_POINTS)).round().astype(int)
        )
        dependence: dict[str, Any] = {}
        for entry in importance[: max(0, dependence_top)]:
            j = self.features.index(entry["feature"])
            kind = self.kinds[j] if j < len(self.kinds) else _kind_of(self.values.iloc[:, j])
            raw = self.values.iloc[shown, j]
            dependence[entry["feature"]] = {
                "x": _axis(raw, kind),
                "shap": [_number(v) for v in self.attributions[shown, j]],
            }
        return {
            "method": self.method,
            "output": self.output,
            "classes": None if self.classes is None else [_plain(c) for c in self.classes],
            "expected_value": _number(self.expected_value),
            "features": list(self.features),
            "global_importance": importance,
            "rows": rows,
            "dependence": dependence,
        }


def explain(
    model: TrainedModel,
    frame: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    method: str = "auto",
    max_rows: int | None = 1000,
    kernel_background_k: int = 10,
    kernel_nsamples: int | str = "auto",
    target_class: Any | None = None,
    seed: int = 0,
    on_progress: Callable[[float], None] | None = None,
) -> Explanation:
    """SHAP values of ``model``'s output on ``frame``'s rows (at most ``max_rows``, sampled
    with ``seed``), per input column.

    Classifiers explain ``target_class``: by default the second class of two (the positive
    one), the first of more. ``background`` (raw rows, like ``frame``) is KernelSHAP's
    reference data, summarised into ``kernel_background_k`` weighted rows; the tree methods
    need none (their reference is the training data, through the trees' cover).
    ``on_progress`` gets the share done, from 0 to 1."""
    if method not in METHODS:
        raise ValueError(f"Unknown explanation method {method!r}; use one of {METHODS}.")
    problem = model.problem
    if problem not in (*CLASSIFICATION, "regression"):
        raise ValueError(f"Only classifiers and regressions are explained, not {problem}.")
    if max_rows is not None and max_rows < 1:
        raise ValueError("max_rows must be at least 1.")
    if kernel_background_k < 1:
        raise ValueError("kernel_background_k must be at least 1.")
    schema = model.schema
    names = tuple(c.name for c in schema)
    kinds = tuple(c.kind for c in schema)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"The data has no column {missing[0]!r}, which the model takes.")
    if not len(frame):
        raise ValueError("There is no row to explain.")
    rows = _sample(frame, max_rows, seed)
    values = rows[list(names)]
    classes = tuple(model.classes) if problem in CLASSIFICATION else None
    class_index = _class_index(classes, target_class) if classes else None
    own_output = (
        "prediction" if class_index is None else f"probability of '{model.classes[class_index]}'"
    )
    progress = on_progress or (lambda share: None)
    estimator = model.estimator
    chosen = method
    if method == "auto":
        if _is_xgboost(estimator):
            chosen = "tree"
        elif _is_sklearn_tree(estimator):
            chosen = "tree_sklearn"
        else:
            chosen = "kernel"
    if chosen == "tree" and not _is_xgboost(estimator):
        raise ValueError("The tree method explains XGBoost models; use kernel.")
    if chosen == "tree_sklearn" and not _is_sklearn_tree(estimator):
        raise ValueError("The tree_sklearn method explains scikit-learn trees; use kernel.")

    if chosen == "kernel":
        reference = frame if background is None else background
        attributions, predictions, expected = _kernel(
            model,
            model.inputs(rows),
            model.inputs(_sample(reference, BACKGROUND_ROWS, seed)),
            class_index,
            k=kernel_background_k,
            nsamples=kernel_nsamples,
            seed=seed,
            progress=progress,
        )
        output = own_output
    else:
        preprocessing = model.pipeline[:-1]
        matrix = preprocessing.transform(model.inputs(rows))
        mapping = source_map(preprocessing, names, int(matrix.shape[1]))
        if chosen == "tree":
            contributions, predictions, expected, output = _xgboost_shap(
                estimator, matrix, classes, class_index, progress
            )
        else:
            contributions, predictions, expected = _sklearn_tree_shap(
                estimator, matrix, class_index, progress
            )
            output = own_output
        attributions = sum_to_sources(contributions, mapping, len(names))
    progress(1.0)
    return Explanation(
        method=chosen,
        features=names,
        output=output,
        classes=classes,
        expected_value=float(expected),
        attributions=attributions,
        predictions=predictions,
        values=values,
        kinds=kinds,
    )


def tree_shap_matrix(booster: Any, matrix: np.ndarray | Any) -> np.ndarray:
    """XGBoost's exact TreeSHAP of ``matrix`` (preprocessed rows; a ``DMatrix`` as well):
    ``(rows, features + 1)``, or ``(rows, classes, features + 1)`` for several classes; the
    last column is the bias (the expected margin). ``booster`` may be the scikit-learn
    wrapper; the trees up to its best iteration are used, as its predictions do."""
    import xgboost as xgb

    if hasattr(booster, "get_booster"):
        booster = booster.get_booster()
    if isinstance(matrix, xgb.DMatrix):
        data = matrix
    elif isinstance(matrix, pd.DataFrame):
        data = xgb.DMatrix(matrix, missing=np.nan)
    else:
        # A booster trained on named columns wants the same names on a plain matrix.
        data = xgb.DMatrix(
            matrix,
            missing=np.nan,
            feature_names=booster.feature_names,
            feature_types=booster.feature_types,
        )
    best = booster.attr("best_iteration")
    rounds = (0, int(best) + 1) if best is not None else (0, 0)
    contribs: np.ndarray = booster.predict(data, pred_contribs=True, iteration_range=rounds)
    return contribs


def source_map(preprocessing: Any, features: Sequence[str], width: int) -> np.ndarray:
    """For each of the ``width`` columns that ``preprocessing`` (a fitted
    ``ColumnTransformer``, or a pipeline holding one) makes, the index in ``features`` of
    the source column it comes from. A transformer with as many outputs as inputs maps them
    one to one; one input with several outputs (TF-IDF) maps them all to it; several inputs
    with more outputs (one-hot) map by the encoder's per-input output counts, or else by the
    output names' ``<input>_`` prefixes."""
    names = list(features)
    transformer = _column_transformer(preprocessing)
    if transformer is None:
        if width != len(names):
            raise ValueError(
                f"The preprocessing makes {width} columns from {len(names)} and does not "
                "say which comes from which."
            )
        return np.arange(width)
    mapping = np.full(width, -1, dtype=np.int64)
    known = list(getattr(transformer, "feature_names_in_", names))
    for name, step, columns in transformer.transformers_:
        part = transformer.output_indices_.get(name, slice(0, 0))
        count = part.stop - part.start
        if step == "drop" or count == 0:
            continue
        inputs = _column_names(columns, known)
        sources = [names.index(c) for c in inputs]
        if count == len(sources):
            mapping[part] = sources
        elif len(sources) == 1:
            mapping[part] = sources[0]
        else:
            mapping[part] = [sources[i] for i in _group_outputs(step, inputs, count)]
    if (mapping < 0).any():
        raise ValueError("Some preprocessed columns come from no input column.")
    return mapping


def sum_to_sources(values: np.ndarray, mapping: np.ndarray, sources: int) -> np.ndarray:
    """``values`` (rows, preprocessed columns) summed per source column: (rows, sources)."""
    out = np.zeros((values.shape[0], sources), dtype=np.float64)
    np.add.at(out.T, mapping, np.asarray(values, dtype=np.float64).T)
    return out


# --------------------------------------------------------------------------- tree methods


def _xgboost_shap(
    estimator: Any,
    matrix: Any,
    classes: tuple[Any, ...] | None,
    class_index: int | None,
    progress: Callable[[float], None],
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Per-column contributions, margins and the bias of the explained output."""
    booster = estimator.get_booster()
    objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    rows = int(matrix.shape[0])
    parts: list[np.ndarray] = []
    per_class = False
    for start in range(0, rows, TREE_CHUNK):
        contribs = tree_shap_matrix(booster, matrix[start : start + TREE_CHUNK])
        if contribs.ndim == 3:
            per_class = True
            contribs = contribs[:, class_index or 0, :]
        parts.append(np.asarray(contribs, dtype=np.float64))
        progress(0.95 * min(rows, start + TREE_CHUNK) / rows)
    full = np.concatenate(parts)
    if classes is None:
        output = "log of the prediction" if objective in LOG_LINK else "prediction"
    elif per_class:
        output = f"margin of '{classes[class_index or 0]}' (before softmax)"
    elif len(classes) == 2:
        # One margin for two classes: the second class's log-odds; the first's is its negative.
        if class_index == 0:
            full = -full
        output = f"log-odds of '{classes[class_index or 0]}'"
    else:
        raise ValueError("The booster has one output for more than two classes.")
    # Without a per-row base margin the bias column is the same on every row.
    expected = float(full[0, -1])
    predictions = full.sum(axis=1)
    return full[:, :-1], predictions, expected, output


def _sklearn_tree_shap(
    estimator: Any, matrix: Any, class_index: int | None, progress: Callable[[float], None]
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-column SHAP values, outputs and expected output of a scikit-learn tree model."""
    import shap

    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    explainer = shap.TreeExplainer(estimator)
    expected_values = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    rows = int(matrix.shape[0])
    parts: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    for start in range(0, rows, TREE_CHUNK):
        chunk = matrix[start : start + TREE_CHUNK]
        values = np.asarray(explainer.shap_values(chunk, check_additivity=False))
        if class_index is not None:
            values = values[..., class_index] if values.ndim == 3 else values
            outputs.append(estimator.predict_proba(chunk)[:, class_index])
        else:
            values = values[..., 0] if values.ndim == 3 else values
            outputs.append(estimator.predict(chunk))
        parts.append(values.astype(np.float64))
        progress(0.95 * min(rows, start + TREE_CHUNK) / rows)
    expected = expected_values[class_index or 0]
    predictions = np.concatenate(outputs).astype(np.float64)
    return np.concatenate(parts), predictions, float(expected)


# --------------------------------------------------------------------------- KernelSHAP


class _Codec:
    """Prepared input columns ⇄ a float matrix: numbers as they are, categories and text
    as codes into a vocabulary (the last code is a gap)."""

    def __init__(self, model: TrainedModel, frames: Sequence[pd.DataFrame]) -> None:
        self.schema = model.schema
        self.number_type = str(model.metadata.get("number_type", "float64"))
        self.vocabularies: dict[str, np.ndarray] = {}
        for column in self.schema:
            if column.kind in ("categorical", "text"):
                seen = pd.concat([f[column.name] for f in frames]).dropna().astype(str).unique()
                words = np.sort(np.asarray(seen, dtype=object))
                self.vocabularies[column.name] = np.append(words, np.nan).astype(object)

    def encode(self, prepared: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(prepared), len(self.schema)), dtype=np.float64)
        for j, column in enumerate(self.schema):
            series = prepared[column.name]
            vocabulary = self.vocabularies.get(column.name)
            if vocabulary is None:
                out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
                continue
            words = pd.Index(vocabulary[:-1])
            codes = words.get_indexer(series.astype(object).where(series.notna(), None))
            out[:, j] = np.where(codes < 0, len(words), codes)
        return out

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for j, column in enumerate(self.schema):
            vocabulary = self.vocabularies.get(column.name)
            if vocabulary is None:
                columns[column.name] = matrix[:, j].astype(self.number_type)
            else:
                codes = np.clip(np.rint(matrix[:, j]), 0, len(vocabulary) - 1).astype(np.int64)
                columns[column.name] = vocabulary[codes]
        return pd.DataFrame(columns)


def _kernel(
    model: TrainedModel,
    rows: pd.DataFrame,
    reference: pd.DataFrame,
    class_index: int | None,
    *,
    k: int,
    nsamples: int | str,
    seed: int,
    progress: Callable[[float], None],
) -> tuple[np.ndarray, np.ndarray, float]:
    """KernelSHAP of the prepared ``rows`` against a k-means summary of ``reference``."""
    import shap

    codec = _Codec(model, (rows, reference))
    pipeline = model.pipeline

    def explained(matrix: np.ndarray) -> np.ndarray:
        frame = codec.decode(np.atleast_2d(matrix))
        if class_index is None:
            return np.asarray(pipeline.predict(frame), dtype=np.float64)
        return np.asarray(pipeline.predict_proba(frame)[:, class_index], dtype=np.float64)

    kinds = [c.kind for c in codec.schema]
    data = _background(codec.encode(reference), kinds, k, seed)
    matrix = codec.encode(rows)
    with _seeded(seed):
        explainer = shap.KernelExplainer(explained, data)
        step = max(1, math.ceil(len(matrix) / 20))
        parts: list[np.ndarray] = []
        for start in range(0, len(matrix), step):
            chunk = matrix[start : start + step]
            values = explainer.shap_values(chunk, nsamples=nsamples, l1_reg=False, silent=True)
            parts.append(np.asarray(values, dtype=np.float64).reshape(len(chunk), -1))
            progress(0.95 * min(len(matrix), start + step) / len(matrix))
    return np.concatenate(parts), explained(matrix), float(explainer.expected_value)


def _background(matrix: np.ndarray, kinds: Sequence[str], k: int, seed: int) -> Any:
    """The weighted background rows for KernelSHAP (see the module's docstring)."""
    import shap
    from shap.utils._legacy import DenseData  # shap.kmeans's weighted-rows type

    names = [str(j) for j in range(matrix.shape[1])]
    distinct = np.unique(np.nan_to_num(matrix, nan=np.inf), axis=0)
    k = min(k, len(distinct))
    if len(matrix) <= k:
        return DenseData(matrix, names, None, np.ones(len(matrix)))
    numeric = [j for j, kind in enumerate(kinds) if kind in ("numeric", "datetime")]
    gaps = np.isnan(matrix[:, numeric]).all(axis=0).any() if numeric else False
    if len(numeric) == len(kinds) and not gaps:
        return shap.kmeans(matrix, k)
    features = _cluster_features(matrix, kinds)
    if features.shape[1] == 0:
        picked = np.random.default_rng(seed).choice(len(matrix), size=k, replace=False)
        return DenseData(matrix[np.sort(picked)], names, None, np.ones(k))
    k = min(k, len(np.unique(features, axis=0)))
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=k, random_state=seed, n_init=10).fit(features).labels_
    centres = np.empty((k, matrix.shape[1]), dtype=np.float64)
    weights = np.bincount(labels, minlength=k).astype(np.float64)
    for c in range(k):
        members = matrix[labels == c]
        for j, kind in enumerate(kinds):
            column = members[:, j]
            if kind in ("numeric", "datetime"):
                observed = column[~np.isnan(column)]
                if len(observed):
                    # The observed value nearest the mean: a valid value of a discrete feature.
                    centres[c, j] = observed[np.argmin(np.abs(observed - observed.mean()))]
                else:
                    centres[c, j] = np.nan
            else:
                codes, counts = np.unique(column, return_counts=True)
                centres[c, j] = codes[np.argmax(counts)]
    keep = weights > 0
    return DenseData(centres[keep], names, None, weights[keep])


def _cluster_features(matrix: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """Standardised numbers (gaps at the mean) and one-hot indicators of categories with
    few values, scaled so that a different category is as far as one standard deviation."""
    blocks: list[np.ndarray] = []
    for j, kind in enumerate(kinds):
        column = matrix[:, j]
        if kind in ("numeric", "datetime"):
            if np.isnan(column).all():
                continue
            centred = column - np.nanmean(column)
            spread = float(np.nanstd(column)) or 1.0
            blocks.append(np.nan_to_num(centred / spread, nan=0.0)[:, None])
        elif kind == "categorical":
            codes = np.unique(column)
            if 1 < len(codes) <= CLUSTER_CATEGORIES:
                blocks.append((column[:, None] == codes[None, :]) / math.sqrt(2.0))
    if not blocks:
        return np.empty((len(matrix), 0))
    return np.hstack(blocks)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """KernelSHAP samples coalitions from NumPy's global generator: seed it, then restore it."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


# --------------------------------------------------------------------------- helpers


def _sample(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    if limit is None or len(frame) <= limit:
        return frame
    picked = np.random.default_rng(seed).choice(len(frame), size=limit, replace=False)
    return frame.iloc[np.sort(picked)]


def _class_index(classes: tuple[Any, ...], wanted: Any | None) -> int:
    if wanted is None:
        return 1 if len(classes) == 2 else 0
    for i, label in enumerate(classes):
        if label == wanted:
            return i
    # A class given as text (from JSON or a form) matches a class of another type.
    for i, label in enumerate(classes):
        if str(label) == str(wanted):
            return i
    raise ValueError(f"{wanted!r} is not one of the model's classes {list(classes)}.")


def _is_xgboost(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("xgboost") and hasattr(estimator, "get_booster")


def _is_sklearn_tree(estimator: Any) -> bool:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    trees = (
        RandomForestClassifier,
        RandomForestRegressor,
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        DecisionTreeClassifier,
        DecisionTreeRegressor,
    )
    return isinstance(estimator, trees)


def _column_transformer(preprocessing: Any) -> Any | None:
    from sklearn.compose import ColumnTransformer

    if isinstance(preprocessing, ColumnTransformer):
        return preprocessing
    steps = getattr(preprocessing, "steps", None)
    if steps and len(steps) == 1 and isinstance(steps[0][1], ColumnTransformer):
        return steps[0][1]
    return None


def _column_names(columns: Any, known: Sequence[str]) -> list[str]:
    """A ColumnTransformer part's columns as names (given as names, positions or a mask)."""
    if isinstance(columns, str):
        return [columns]
    listed = list(columns)
    if listed and all(isinstance(c, bool | np.bool_) for c in listed):
        return [str(known[i]) for i, keep in enumerate(listed) if keep]
    if listed and all(isinstance(c, int | np.integer) for c in listed):
        return [str(known[int(i)]) for i in listed]
    return [str(c) for c in listed]


def _group_outputs(step: Any, inputs: Sequence[str], count: int) -> list[int]:
    """Which of ``inputs`` each of a multi-column encoder's ``count`` outputs comes from."""
    encoder = step.steps[-1][1] if hasattr(step, "steps") else step
    widths = _encoder_widths(encoder)
    if widths is not None and len(widths) == len(inputs) and sum(widths) == count:
        return [i for i, w in enumerate(widths) for _ in range(w)]
    try:
        outputs = [str(n) for n in step.get_feature_names_out(list(inputs))]
    except (AttributeError, TypeError, ValueError):
        outputs = []
    groups: list[int] = []
    for output in outputs:
        # The longest matching prefix: "city_size_…" belongs to "city_size", not "city".
        matches = [i for i, c in enumerate(inputs) if output == c or output.startswith(f"{c}_")]
        if not matches:
            break
        groups.append(max(matches, key=lambda i: len(inputs[i])))
    if len(groups) != count:
        raise ValueError(f"Cannot tell which input each of {type(encoder).__name__}'s columns has.")
    return groups


def _encoder_widths(encoder: Any) -> list[int] | None:
    """A one-hot encoder's output count per input: its categories, less the dropped one,
    with its infrequent ones as one column."""
    categories = getattr(encoder, "categories_", None)
    if categories is None or not hasattr(encoder, "drop_idx_"):
        return None
    widths = [len(c) for c in categories]
    try:
        infrequent = encoder.infrequent_categories_
    except AttributeError:
        infrequent = None
    for i, rare in enumerate(infrequent or []):
        if rare is not None:
            widths[i] -= len(rare) - 1
    drops = encoder.drop_idx_
    if drops is not None:
        for i, dropped in enumerate(drops):
            if dropped is not None:
                widths[i] -= 1
    return widths


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    """A JSON value: NumPy scalars as Python ones, times as ISO text, no NaN."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime.date | datetime.time | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _kind_of(series: pd.Series) -> str:
    """A column's kind from its type alone, for explanations built without kinds."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    return "categorical"


def _axis(raw: pd.Series, kind: str) -> list[Any]:
    """A dependence plot's x values: numbers for numeric features, text otherwise."""
    out: list[Any] = []
    if kind == "numeric":
        numbers = pd.to_numeric(raw.astype(object), errors="coerce")
        return [_number(v) for v in numbers.to_numpy(dtype=np.float64, na_value=np.nan)]
    for value in raw.astype(object):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
            out.append(None)
        elif kind == "datetime" and hasattr(value, "isoformat"):
            out.append(value.isoformat())
        else:
            out.append(str(value))
    return out
