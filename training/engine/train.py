"""Training one built-in algorithm on a job's channels, as a training job's child process
runs it (:mod:`training.engine.job`); usable from a notebook alike.

The ``train`` channel is required; ``validation`` (early stopping, per-round metrics) and
``test`` are optional. Each is a Parquet file with the same columns. Rows whose target is
missing are left out. The final metrics are measured on every channel given and named
``<channel>:<metric>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from training.engine import metrics
from training.engine.algorithms import (
    CLASSIFICATION,
    Algorithm,
    FitContext,
    dump_depths,
    get_algorithm,
)
from training.engine.artifact import FORMAT, TrainedModel, framework_versions, save
from training.engine.features import (
    NUMBER_TYPES,
    feature_names,
    input_schema,
    pick_text_column,
    prepare,
    preprocessor,
    text_features,
)
from training.engine.hyperparams import HyperparameterError, check_hyperparameters

#: A target with more distinct values than this is not taken as classes.
MAX_CLASSES = 1000
#: Whole-number targets with at most this many values are classes when the problem is auto.
AUTO_CLASSES = 20

Emit = Callable[[dict[str, Any]], None]


class TrainingError(ValueError):
    """A problem with the job's data or settings, told to the user as it is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_spec(algorithm: str, hyperparameters: Any, problem_type: str | None) -> dict[str, Any]:
    """The algorithm's hyperparameters, checked (what the API validates before a job)."""
    algo = get_algorithm(algorithm)
    if algo is None:
        raise TrainingError(f"Unknown algorithm {algorithm!r}.", "algorithm")
    if problem_type not in (None, "", "auto") and problem_type not in algo.problems:
        raise TrainingError(
            f"{algo.name} solves {', '.join(algo.problems)}, not {problem_type}.", "problem_type"
        )
    try:
        return check_hyperparameters(algo.hyperparameters, hyperparameters)
    except HyperparameterError as exc:
        field = f"hyperparameters.{exc.name}" if exc.name else "hyperparameters"
        raise TrainingError(exc.message, field) from None


def _read(path: str | Path, channel: str) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, ValueError) as exc:
        raise TrainingError(f"The {channel} channel cannot be read: {exc}", "channels") from None


def resolve_problem(algo: Algorithm, target: pd.Series, wanted: str | None, name: str) -> str:
    """The problem ``algo`` solves on ``target`` (nulls dropped): ``wanted``, checked, or
    inferred: text, booleans and whole numbers with few values are classes (binary for
    two), other numbers a regression."""
    if not algo.supervised:
        return algo.problems[0]
    distinct = target.nunique()
    numeric = pd.api.types.is_numeric_dtype(target.dtype) and not pd.api.types.is_bool_dtype(
        target.dtype
    )
    if wanted in (None, "", "auto"):
        wanted = None
        if numeric:
            values = target.to_numpy(dtype="float64")
            whole = bool(np.all(values == np.round(values)))
            wanted = "regression" if not whole or distinct > AUTO_CLASSES else None
        if wanted is None:
            wanted = "binary_classification" if distinct == 2 else "multiclass_classification"
        if wanted not in algo.problems:
            raise TrainingError(
                f"The target {name!r} looks like a {wanted.replace('_', ' ')}, which "
                f"{algo.name} does not solve; set problem_type or pick another target.",
                "target",
            )
    if wanted == "regression" and not numeric:
        raise TrainingError(f"A regression target must hold numbers; {name!r} does not.", "target")
    if wanted in CLASSIFICATION:
        if distinct < 2:
            raise TrainingError(f"The target {name!r} has one class; it needs two.", "target")
        if wanted == "binary_classification" and distinct != 2:
            raise TrainingError(
                f"Binary classification needs two classes; {name!r} has {distinct}.", "target"
            )
        if distinct > MAX_CLASSES:
            raise TrainingError(
                f"The target {name!r} has {distinct:,} distinct values, too many to be classes.",
                "target",
            )
    return str(wanted)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def train(spec: dict[str, Any], emit: Emit | None = None) -> dict[str, Any]:
    """Train ``spec["algorithm"]`` and write ``model.tar.gz`` into ``spec["output_dir"]``.

    ``spec``: ``algorithm``, ``hyperparameters``, ``channels`` (name → Parquet path),
    ``target``, ``problem_type`` (or "auto"), ``threads``, ``device`` ("cpu"/"cuda"),
    ``seed``, ``output_dir``; ``instance_count`` above 1 trains XGBoost on that many Dask
    workers (a LocalCluster, or the scheduler at ``dask_address``). ``emit`` gets
    ``{"message"}``, ``{"progress"}`` and ``{"metric": {name, value, step}}`` as training
    goes. Returns the final metrics, the
    problem type, the classes, feature importances, row counts and the artifact's path.
    """
    from sklearn.pipeline import Pipeline

    say = emit or (lambda message: None)
    started = time.perf_counter()
    algo = get_algorithm(str(spec.get("algorithm")))
    if algo is None:
        raise TrainingError(f"Unknown algorithm {spec.get('algorithm')!r}.", "algorithm")
    hp = check_spec(algo.name, spec.get("hyperparameters"), spec.get("problem_type"))
    channels = dict(spec.get("channels") or {})
    if "train" not in channels:
        raise TrainingError("A train channel is required.", "channels.train")
    frames = {name: _read(path, name) for name, path in channels.items()}
    say({"message": ", ".join(f"{n}: {len(f):,} rows" for n, f in frames.items()) + "."})
    say({"progress": 0.05})

    target = spec.get("target") or None
    if algo.encoding == "series":
        return _train_forecaster(algo.name, hp, frames, spec, say, started)
    if algo.supervised and not target:
        raise TrainingError(f"{algo.name} learns to predict a target; name its column.", "target")
    for name, frame in frames.items():
        if target and target not in frame.columns:
            raise TrainingError(f"The {name} channel has no column {target!r}.", "target")
    labels: dict[str, pd.Series] = {}
    if target:
        for name in list(frames):
            frame = frames[name]
            known = frame[target].notna()
            if not known.all() and algo.supervised:
                say({"message": f"{name}: {int((~known).sum()):,} rows without a target left out."})
                frame = frame[known]
            frames[name] = frame.drop(columns=[target])
            labels[name] = frame[target]
    train_x = frames["train"]
    if not len(train_x.columns):
        raise TrainingError("There is no input column to learn from.", "channels.train")
    if train_x.empty:
        raise TrainingError("The train channel has no row to learn from.", "channels.train")
    if algo.supervised:
        problem = resolve_problem(algo, labels["train"], spec.get("problem_type"), str(target))
    else:
        problem = algo.problems[0]

    classes: list[Any] = []
    codes: dict[str, np.ndarray] = {}
    if problem in CLASSIFICATION:
        order = pd.Series(labels["train"].unique()).sort_values(kind="stable")
        if pd.api.types.is_float_dtype(order.dtype) and bool((order == order.round()).all()):
            order = order.astype("int64")  # whole numbers read as floats around a gap
        classes = [_plain(v) for v in order]
        index = pd.Index(order.to_numpy())
        for name, series in labels.items():
            mapped = index.get_indexer(series.to_numpy()).astype("int64")
            unseen = mapped < 0
            if unseen.any():
                dropped = f"{int(unseen.sum()):,} rows of classes not in train left out"
                say({"message": f"{name}: {dropped}."})
                frames[name] = frames[name][~unseen]
                mapped = mapped[~unseen]
            codes[name] = mapped
    elif problem == "regression":
        codes = {n: s.to_numpy(dtype="float64") for n, s in labels.items()}

    if algo.encoding == "text":
        try:
            column = pick_text_column(train_x, hp.get("text_column"))
        except ValueError as exc:
            raise TrainingError(str(exc), "hyperparameters.text_column") from None
        schema = input_schema(train_x[[column]], text_column=column)
        features = text_features(
            column,
            ngrams=hp["word_ngrams"],
            min_count=min(hp["min_count"], max(1, len(train_x))),
            max_features=hp["max_features"],
        )
    else:
        schema = input_schema(train_x)
        features = preprocessor(schema, algo.encoding)
    number_type = NUMBER_TYPES[algo.encoding]
    inputs = {name: prepare(frame, schema, number_type) for name, frame in frames.items()}
    try:
        train_t = features.fit_transform(inputs["train"])
    except ValueError as exc:
        raise TrainingError(f"The training data cannot be encoded: {exc}") from None
    say({"message": f"{len(schema)} input columns → {train_t.shape[1]} features; {problem}."})
    say({"progress": 0.1})

    transformed = {"train": train_t}
    for name, x in inputs.items():
        if name != "train" and len(x):
            transformed[name] = features.transform(x)
    validation = None
    if "validation" in transformed and algo.supervised:
        validation = (transformed["validation"], codes["validation"])
    rounds = int(hp.get("num_round") or hp.get("epochs") or 1)

    def on_iteration(step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            say({"metric": {"name": name, "value": value, "step": step}})
        say({"progress": 0.1 + 0.8 * min(1.0, (step + 1) / rounds)})

    def on_importance(step: int, shares: dict[str, float]) -> None:
        say({"debug": {"importance": {"step": step, "shares": shares}}})

    def on_tree_depths(step: int, depths: list[int]) -> None:
        say({"debug": {"tree_depths": depths, "step": step}})

    counts: list[int] = []
    if classes:
        # Known before the fit: the debugger's ClassImbalance answers before training.
        counts = np.bincount(codes["train"], minlength=len(classes)).tolist()
        say({"debug": {"class_counts": counts}})

    _check_sizes(algo.name, hp, train_t.shape)
    ctx = FitContext(
        rows=int(train_t.shape[0]),
        hp=hp,
        problem=problem,
        n_classes=len(classes),
        threads=max(1, int(spec.get("threads") or 1)),
        device=str(spec.get("device") or "cpu"),
        seed=int(spec.get("seed") or 0),
        validation=validation,
        on_iteration=on_iteration,
        feature_names=feature_names(features),
        on_importance=on_importance,
        on_tree_depths=on_tree_depths,
    )
    estimator = algo.build(ctx)
    y_train = codes.get("train")
    instances = int(spec.get("instance_count") or 1)
    if instances > 1 and algo.name != "xgboost":
        raise TrainingError("Only xgboost trains on several instances.", "instance_count")
    fit_started = time.perf_counter()
    if instances > 1:
        from training.engine.distributed import fit_xgboost

        say({"message": f"Training on {instances} Dask workers."})
        assert y_train is not None
        estimator = fit_xgboost(
            estimator,
            train_t,
            y_train,
            ctx,
            instances=instances,
            address=spec.get("dask_address") or None,
        )
    else:
        try:
            if algo.fit is not None:
                algo.fit(estimator, train_t, y_train, ctx)
            elif algo.supervised:
                estimator.fit(train_t, y_train)
            else:
                estimator.fit(train_t)
        except ValueError as exc:
            raise TrainingError(f"{algo.name} cannot train on this data: {exc}") from None
    fit_seconds = time.perf_counter() - fit_started
    say({"message": f"Fitted in {fit_seconds:.1f} s."})
    say({"progress": 0.9})

    pipeline = Pipeline([("features", features), ("model", estimator)])
    final: dict[str, float] = {}
    for name, x in transformed.items():
        scores = _score(estimator, problem, x, codes.get(name), labels.get(name), len(classes))
        final.update({f"{name}:{metric}": value for metric, value in scores.items()})
    names = ctx.feature_names
    importance = _importance(estimator, names)
    curves: dict[str, Any] = {}
    if problem in CLASSIFICATION:
        shown = "validation" if "validation" in transformed else "train"
        curves = _curves(estimator, transformed[shown], codes[shown], classes, shown)
    metadata = {
        "format": FORMAT,
        "algorithm": algo.name,
        "problem_type": problem,
        "framework": framework_versions(),
        "input_schema": [c.to_dict() for c in schema],
        "number_type": number_type,
        "target": target,
        "classes": classes or None,
        "feature_names": names,
        "feature_importance": importance,
        "hyperparameters": hp,
        "metrics": final,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    output = Path(spec["output_dir"])
    output.mkdir(parents=True, exist_ok=True)
    artifact = save(TrainedModel(pipeline, metadata), output / "model.tar.gz")
    say({"progress": 1.0})
    return {
        "problem_type": problem,
        "final_metrics": final,
        "classes": classes or None,
        "feature_importance": importance,
        "class_counts": counts,
        "tree_depths": _tree_depths(estimator),
        "curves": curves,
        "rows": {name: len(x) for name, x in inputs.items()},
        "features": int(train_t.shape[1]),
        "artifact": str(artifact),
        "fit_seconds": round(fit_seconds, 3),
        "training_seconds": round(time.perf_counter() - started, 3),
        "hyperparameters": hp,
    }


def _train_forecaster(
    name: str,
    hp: dict[str, Any],
    frames: dict[str, pd.DataFrame],
    spec: dict[str, Any],
    say: Emit,
    started: float,
) -> dict[str, Any]:
    """The forecasting algorithm: fitted on the train channel's series; its validation and
    test channels are their continuations, compared with the forecast made from train."""
    from sklearn.pipeline import Pipeline

    from training.engine.algorithms import FitContext, get_algorithm
    from training.engine.forecast import LagForecaster

    target = spec.get("target") or None
    if not target:
        raise TrainingError("Forecasting needs a target: the values to forecast.", "target")
    if not hp.get("time_column"):
        raise TrainingError(
            "Name the time column in hyperparameters.time_column.", "hyperparameters.time_column"
        )
    algo = get_algorithm(name)
    assert algo is not None
    ctx = FitContext(
        hp=hp,
        problem="forecasting",
        threads=max(1, int(spec.get("threads") or 1)),
        seed=int(spec.get("seed") or 0),
    )
    model: LagForecaster = algo.build(ctx)
    model.set_params(target=target)

    def on_round(step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            say({"metric": {"name": key, "value": value, "step": step}})

    fit_started = time.perf_counter()
    try:
        model.fit(frames["train"], on_round=on_round)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    fit_seconds = time.perf_counter() - fit_started
    shape = f"{len(model.series_)} series, a step of {model.step_}"
    say({"message": f"{shape}; fitted in {fit_seconds:.1f} s."})
    predicted, actual = model.one_step(frames["train"])
    final = {f"train:{k}": v for k, v in metrics.regression(actual, predicted).items()}
    for channel in ("validation", "test"):
        if channel not in frames:
            continue
        try:
            ahead = model.forecast(frames["train"])
            truth = model._tidy(frames[channel]).rename(columns={"_series": "series"})
        except ValueError as exc:
            raise TrainingError(f"The {channel} channel: {exc}", "channels") from None
        matched = ahead.merge(truth, on=["series", "time"], how="inner")
        if len(matched):
            scores = metrics.regression(matched["y"].to_numpy(), matched["forecast"].to_numpy())
            final.update({f"{channel}:{k}": v for k, v in scores.items()})
    schema = [
        {"name": c, "kind": k, "dtype": str(frames["train"][c].dtype)}
        for c, k in (
            (hp["time_column"], "datetime"),
            (hp.get("series_column"), "categorical"),
            (target, "numeric"),
        )
        if c
    ]
    metadata = {
        "format": FORMAT,
        "algorithm": name,
        "problem_type": "forecasting",
        "framework": framework_versions(),
        "input_schema": schema,
        "target": target,
        "classes": None,
        "series": model.series_,
        "step_seconds": model.step_.total_seconds(),
        "hyperparameters": hp,
        "metrics": final,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    output = Path(spec["output_dir"])
    output.mkdir(parents=True, exist_ok=True)
    artifact = save(TrainedModel(Pipeline([("model", model)]), metadata), output / "model.tar.gz")
    say({"progress": 1.0})
    return {
        "problem_type": "forecasting",
        "final_metrics": final,
        "classes": None,
        "feature_importance": {},
        "class_counts": [],
        "tree_depths": [],
        "rows": {n: len(f) for n, f in frames.items()},
        "features": model.context_length + 6,
        "artifact": str(artifact),
        "fit_seconds": round(fit_seconds, 3),
        "training_seconds": round(time.perf_counter() - started, 3),
        "hyperparameters": hp,
    }


def _check_sizes(algorithm: str, hp: dict[str, Any], shape: tuple[int, ...]) -> None:
    """Settings that need more rows (or columns) than the data has."""
    rows, columns = int(shape[0]), int(shape[1])
    limits = {
        "knn": ("k", rows, "training rows"),
        "kmeans": ("k", rows, "training rows"),
        "pca": ("num_components", min(rows, columns), "rows and features"),
    }
    if algorithm in limits:
        name, limit, what = limits[algorithm]
        if hp[name] > limit:
            raise TrainingError(
                f"{name} is {hp[name]}, more than the {limit} {what} there are.",
                f"hyperparameters.{name}",
            )


def _score(
    model: Any,
    problem: str,
    x: Any,
    codes: np.ndarray | None,
    labels: pd.Series | None,
    n_classes: int,
) -> dict[str, float]:
    """The channel's metrics from the estimator on its preprocessed rows ``x``."""
    if problem in CLASSIFICATION:
        assert codes is not None
        return metrics.classification(codes, model.predict_proba(x), n_classes)
    if problem == "regression":
        assert codes is not None
        return metrics.regression(codes, model.predict(x))
    if problem == "clustering":
        return metrics.clustering(model.transform(x).min(axis=1))
    if problem == "dimensionality_reduction":
        return metrics.reduction(model, np.asarray(x, dtype="float64"))
    scores = -model.score_samples(x)
    flagged = model.predict(x) == -1
    truth = None
    if labels is not None:
        values = pd.to_numeric(labels, errors="coerce")
        if values.notna().all() and set(values.unique()) <= {0, 1}:
            truth = values.to_numpy(dtype="int64")
    return metrics.anomaly(scores, flagged, truth)


def _thin(xs: Any, ys: Any, limit: int = 200) -> list[list[float]]:
    """At most ``limit`` points of a curve, its ends kept."""
    index = np.unique(np.linspace(0, len(xs) - 1, min(limit, len(xs))).round().astype(int))
    return [[round(float(xs[i]), 6), round(float(ys[i]), 6)] for i in index]


def _curves(
    model: Any, x: Any, codes: np.ndarray, classes: list[Any], channel: str
) -> dict[str, Any]:
    """A classifier's confusion matrix on ``channel``; for two classes, also its ROC and
    precision-recall curves (of the second class), thinned to 200 points."""
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

    if not len(codes):
        return {}
    proba = model.predict_proba(x)
    labels = list(range(len(classes)))
    out: dict[str, Any] = {
        "channel": channel,
        "classes": [str(c) for c in classes],
        "confusion": confusion_matrix(codes, proba.argmax(axis=1), labels=labels).tolist(),
    }
    if len(classes) == 2 and len(np.unique(codes)) == 2:
        fpr, tpr, _ = roc_curve(codes, proba[:, 1])
        precision, recall, _ = precision_recall_curve(codes, proba[:, 1])
        out["roc"] = _thin(fpr, tpr)
        out["pr"] = _thin(recall, precision)
    return out


def _tree_depths(estimator: Any) -> list[int]:
    """The depth of each tree of a tree ensemble (XGBoost, forests); empty otherwise."""
    if hasattr(estimator, "get_booster"):
        return dump_depths(estimator.get_booster())
    trees = getattr(estimator, "estimators_", None)
    if trees is not None and all(hasattr(t, "tree_") for t in trees):
        return [int(t.tree_.max_depth) for t in trees]
    return []


def _importance(estimator: Any, names: list[str], top: int = 50) -> dict[str, float]:
    """The estimator's feature importances (trees) or absolute weights (linear models),
    normalised to sum to 1, the ``top`` largest."""
    values = getattr(estimator, "feature_importances_", None)
    if values is None and hasattr(estimator, "coef_"):
        coef = np.abs(np.asarray(estimator.coef_, dtype="float64"))
        values = coef.mean(axis=0) if coef.ndim > 1 else coef
    if values is None or len(values) != len(names):
        return {}
    values = np.nan_to_num(np.asarray(values, dtype="float64"))
    total = values.sum()
    if total <= 0:
        return {}
    order = np.argsort(-values)[:top]
    return {names[i]: round(float(values[i] / total), 6) for i in order}
