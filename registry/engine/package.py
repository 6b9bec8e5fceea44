"""A registered model's package: the checks on what is uploaded, and the wrapping of an
uploaded model into the studio's own archive, ``model.tar.gz`` (``sextant-model/1``, see
:mod:`training.engine.artifact`), so every package serves the same way whatever its origin.

Three kinds of upload are accepted:

- ``archive``: a ``sextant-model/1`` ``model.tar.gz`` (a training job's, downloaded);
- ``sklearn``: a scikit-learn estimator or pipeline saved with joblib or pickle;
- ``xgboost``: an XGBoost model in XGBoost's own format (``.json`` or ``.ubj``).

The last two say nothing of their input columns: the uploader names them (``input_schema``).
Unpickling runs code, so :func:`wrap` is only ever called in a limited child process
(``python -m registry.engine.validate``), never in the web process; the checks of this module
that run in the web process (:func:`upload_kind`, :func:`check_input_schema`,
:func:`inspect_archive`…) read names and JSON only.
"""

from __future__ import annotations

import json
import math
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, Final

import numpy as np
import pandas as pd

from training.engine.artifact import (
    FORMAT,
    META_FILE,
    MODEL_FILE,
    TrainedModel,
    framework_versions,
    load,
    save,
)
from training.engine.features import InputColumn

Emit = Callable[[dict[str, Any]], None]

ARCHIVE: Final = "archive"
SKLEARN: Final = "sklearn"
XGBOOST: Final = "xgboost"
#: File endings of each kind of upload (checked lower-case, longest first).
EXTENSIONS: Final = {
    ".tar.gz": ARCHIVE,
    ".tgz": ARCHIVE,
    ".joblib": SKLEARN,
    ".pkl": SKLEARN,
    ".pickle": SKLEARN,
    ".json": XGBOOST,
    ".ubj": XGBOOST,
}
#: The problem types a package may solve (forecasting models come from training jobs only).
PROBLEM_TYPES: Final = (
    "binary_classification",
    "multiclass_classification",
    "regression",
    "clustering",
    "anomaly_detection",
    "dimensionality_reduction",
)
CLASSIFICATION: Final = ("binary_classification", "multiclass_classification")
MAX_COLUMNS: Final = 10_000
MAX_CLASSES: Final = 10_000
PROBE_ROWS: Final = 8
#: A column's type as people write it → the input kind the studio's preprocessing knows.
TYPE_KINDS: Final = {
    **dict.fromkeys(
        (
            "number",
            "numeric",
            "float",
            "float16",
            "float32",
            "float64",
            "double",
            "int",
            "integer",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "long",
            "bool",
            "boolean",
        ),
        "numeric",
    ),
    **dict.fromkeys(
        ("string", "str", "category", "categorical", "object", "enum", "label"), "categorical"
    ),
    **dict.fromkeys(("text",), "text"),
    **dict.fromkeys(("datetime", "datetime64", "date", "timestamp", "time"), "datetime"),
}
KINDS: Final = ("numeric", "datetime", "categorical", "text")


class PackageError(ValueError):
    """A refused upload or model, with a message for people and the field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ArchiveInfo:
    """What a ``model.tar.gz`` holds, read without unpickling anything."""

    metadata: dict[str, Any]
    members: frozenset[str]

    @property
    def servable(self) -> bool:
        """A model the studio can load and serve: its format, and a pickled pipeline."""
        return self.metadata.get("format") == FORMAT and MODEL_FILE in self.members


@dataclass(frozen=True)
class WrapSpec:
    """What the child process is asked to do: load ``source`` (of ``kind``), check it on
    rows built from the schema, and write the archive at ``output``."""

    source: Path
    kind: str
    output: Path
    input_schema: list[dict[str, str]] | None = None
    problem_type: str | None = None
    classes: list[Any] | None = None


# --------------------------------------------------------------------------- web-safe checks


def upload_kind(filename: str) -> str:
    """The kind of upload its name says (``archive``, ``sklearn`` or ``xgboost``)."""
    name = PurePath(filename or "").name.lower()
    for ending, kind in sorted(EXTENSIONS.items(), key=lambda e: -len(e[0])):
        if name.endswith(ending):
            return kind
    raise PackageError(
        "Upload a model.tar.gz made by Sextant, a scikit-learn model saved with joblib or "
        "pickle (.joblib, .pkl), or an XGBoost model (.json, .ubj).",
        "artifact",
    )


def suffix_of(filename: str) -> str:
    """The file ending the stored upload gets (from the known ones, never the name given)."""
    name = PurePath(filename or "").name.lower()
    for ending in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ending):
            return ending
    raise PackageError("Unknown model file type.", "artifact")


def check_input_schema(value: Any) -> list[dict[str, str]]:
    """The columns a model takes, in order, as ``{"name", "kind", "dtype"}``.

    Accepted: a list of column names (numbers then), or of ``{"name", "type"}`` where the
    type is a number type, ``string``/``category``, ``text`` or ``datetime``; the
    ``{"name", "kind", "dtype"}`` of a ``metadata.json`` is accepted as it is.
    """
    field = "input_schema"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise PackageError(
                'input_schema is a JSON list: ["age", "income"] or '
                '[{"name": "age", "type": "float"}, …].',
                field,
            ) from None
    if not isinstance(value, list) or not value:
        raise PackageError(
            "input_schema lists the model's input columns, in order: a list of names or of "
            '{"name", "type"}.',
            field,
        )
    if len(value) > MAX_COLUMNS:
        raise PackageError(f"input_schema has more than {MAX_COLUMNS:,} columns.", field)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        where = f"{field}.{i}"
        if isinstance(item, str):
            name, kind, dtype = item, "numeric", "float64"
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            name = item["name"]
            if "kind" in item:
                kind = str(item["kind"])
                if kind not in KINDS:
                    raise PackageError(f"A column's kind is one of {', '.join(KINDS)}.", where)
                dtype = str(item.get("dtype") or item.get("type") or kind)
            else:
                given = str(item.get("type") or "float64")
                found = TYPE_KINDS.get(given.strip().lower())
                if found is None:
                    raise PackageError(
                        f"Unknown column type {given!r}: a number type (float, int, bool), "
                        "string, text or datetime.",
                        f"{where}.type",
                    )
                kind, dtype = found, _dtype_of(given.strip().lower(), found)
        else:
            raise PackageError('Each column is a name or {"name", "type"}.', where)
        if not name or len(name) > 255:
            raise PackageError("A column name is 1–255 characters.", where)
        if name in seen:
            raise PackageError(f"The column {name!r} is named twice.", where)
        seen.add(name)
        out.append({"name": name, "kind": kind, "dtype": dtype})
    return out


def _dtype_of(given: str, kind: str) -> str:
    if kind == "numeric":
        return {
            "number": "float64",
            "numeric": "float64",
            "float": "float64",
            "double": "float64",
            "int": "int64",
            "integer": "int64",
            "long": "int64",
            "boolean": "bool",
        }.get(given, given)
    if kind == "datetime":
        return "datetime64[ns]"
    return "object"


def check_problem_type(value: Any) -> str | None:
    if value in (None, "", "auto"):
        return None
    if value not in PROBLEM_TYPES:
        raise PackageError(
            f"problem_type is one of {', '.join(PROBLEM_TYPES)} (or left out to infer it).",
            "problem_type",
        )
    return str(value)


def check_classes(value: Any) -> list[Any] | None:
    """The class labels, in the order of the model's outputs (strings, numbers or booleans)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or len(value) < 2 or len(value) > MAX_CLASSES:
        raise PackageError("classes is a list of at least two labels.", "classes")
    for label in value:
        if not isinstance(label, str | int | float | bool) or (
            isinstance(label, float) and not math.isfinite(label)
        ):
            raise PackageError("A class label is text, a number or true/false.", "classes")
    if len({json.dumps(v) for v in value}) != len(value):
        raise PackageError("The class labels must all differ.", "classes")
    return list(value)


def inspect_archive(path: Path) -> ArchiveInfo:
    """The metadata and file names of a ``model.tar.gz`` (nothing is unpickled)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = frozenset(m.name for m in tar.getmembers() if m.isfile())
            handle = tar.extractfile(META_FILE) if META_FILE in members else None
            raw = handle.read() if handle is not None else None
    except (tarfile.TarError, OSError, EOFError):
        raise PackageError("The file is not a readable .tar.gz archive.", "artifact") from None
    if raw is None:
        raise PackageError("The archive has no metadata.json.", "artifact")
    try:
        metadata = json.loads(raw)
    except ValueError:
        raise PackageError("The archive's metadata.json is not valid JSON.", "artifact") from None
    if not isinstance(metadata, dict):
        raise PackageError("The archive's metadata.json is not an object.", "artifact")
    return ArchiveInfo(metadata, members)


# --------------------------------------------------------------------------- in the child


def wrap(spec: WrapSpec, emit: Emit | None = None) -> dict[str, Any]:
    """Load the upload, check that it predicts on example rows built from its schema, and
    write it as a ``sextant-model/1`` archive at ``spec.output``; returns its metadata.

    Call only in a limited child process: loading a pickle runs the code it names.
    """
    say = emit or (lambda message: None)
    if spec.kind == ARCHIVE:
        model = _load_archive(spec.source)
    elif spec.kind == SKLEARN:
        model = _load_sklearn(spec)
    elif spec.kind == XGBOOST:
        model = _load_xgboost(spec)
    else:
        raise PackageError(f"Unknown kind of upload {spec.kind!r}.", "artifact")
    say({"message": f"Loaded a {model.metadata.get('estimator') or model.metadata['algorithm']}."})
    say({"progress": 0.5})
    output = probe(model)
    say(
        {
            "message": f"Predicted {len(output)} example rows "
            f"({model.problem.replace('_', ' ')}): columns {', '.join(map(str, output.columns))}."
        }
    )
    spec.output.parent.mkdir(parents=True, exist_ok=True)
    save(model, spec.output)
    say({"progress": 1.0})
    return model.metadata


def _load_archive(source: Path) -> TrainedModel:
    info = inspect_archive(source)
    if info.metadata.get("format") != FORMAT:
        raise PackageError(
            f"The archive's format is {info.metadata.get('format')!r}, not {FORMAT!r}: it "
            "holds no model Sextant can serve.",
            "artifact",
        )
    if MODEL_FILE not in info.members:
        raise PackageError(f"The archive has no {MODEL_FILE}.", "artifact")
    try:
        model = load(source)
    except Exception as exc:  # unpickling raises whatever the pickle's classes raise
        raise PackageError(f"The model could not be loaded: {_describe(exc)}", "artifact") from None
    metadata = dict(model.metadata)
    try:
        metadata["input_schema"] = check_input_schema(metadata.get("input_schema"))
    except PackageError as exc:
        raise PackageError(f"The archive's metadata: {exc.message}", "artifact") from None
    if metadata.get("problem_type") not in (*PROBLEM_TYPES, "forecasting"):
        raise PackageError(
            f"The archive's problem type {metadata.get('problem_type')!r} is unknown.", "artifact"
        )
    pipeline = model.pipeline
    if not hasattr(pipeline, "steps"):
        pipeline = _as_pipeline(pipeline)
    return TrainedModel(pipeline, metadata)


def _load_sklearn(spec: WrapSpec) -> TrainedModel:
    import joblib

    schema = _required_schema(spec)
    try:
        estimator = joblib.load(spec.source)
    except Exception as exc:  # a pickle can fail to load in as many ways as it has classes
        raise PackageError(f"The model could not be loaded: {_describe(exc)}", "artifact") from None
    if not (hasattr(estimator, "predict") or hasattr(estimator, "transform")) or not hasattr(
        estimator, "get_params"
    ):
        raise PackageError(
            f"The file holds a {type(estimator).__name__}, not a scikit-learn estimator or "
            "pipeline (nothing with fit/predict).",
            "artifact",
        )
    schema = _match_names(schema, getattr(estimator, "feature_names_in_", None), "The model")
    _check_width(len(schema), getattr(estimator, "n_features_in_", None), "The model")
    problem, classes = _infer(estimator, spec.problem_type)
    if classes is not None and spec.classes is not None:
        if [str(c) for c in spec.classes] != [str(c) for c in classes]:
            raise PackageError(
                f"classes {spec.classes} differ from the model's own, {classes}.", "classes"
            )
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    metadata = _metadata(
        final,
        schema,
        problem,
        classes,
        upload="joblib",
        number_type="float32" if _is_xgboost(final) else "float64",
    )
    return TrainedModel(_as_pipeline(estimator), metadata)


def _load_xgboost(spec: WrapSpec) -> TrainedModel:
    import xgboost

    schema = _required_schema(spec)
    try:
        booster = xgboost.Booster(model_file=str(spec.source))
        objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    except Exception as exc:  # XGBoostError, or a config without the expected keys
        raise PackageError(
            f"The file is not an XGBoost model XGBoost can load: {_describe(exc)}", "artifact"
        ) from None
    estimator: Any
    if objective.startswith(("binary:", "multi:")):
        estimator = xgboost.XGBClassifier()
    elif objective.startswith(("reg:", "count:", "survival:")):
        estimator = xgboost.XGBRegressor()
    else:
        raise PackageError(
            f"The model's objective {objective!r} is not one Sextant serves (binary:, multi:, "
            "reg:, count: or survival:).",
            "artifact",
        )
    estimator.load_model(str(spec.source))
    _check_width(len(schema), booster.num_features(), "The booster")
    schema = _match_names(schema, booster.feature_names, "The booster")
    classes: list[Any] | None = None
    if isinstance(estimator, xgboost.XGBClassifier):
        count = int(estimator.n_classes_)
        classes = spec.classes or list(range(count))
        if len(classes) != count:
            raise PackageError(
                f"The model has {count} classes; classes names {len(classes)}.", "classes"
            )
        problem = "binary_classification" if count == 2 else "multiclass_classification"
    else:
        problem = "regression"
        if spec.classes is not None:
            raise PackageError("A regression model has no classes.", "classes")
    if spec.problem_type and spec.problem_type != problem:
        raise PackageError(
            f"The model's objective {objective!r} makes it {_words(problem)}, not "
            f"{_words(spec.problem_type)}.",
            "problem_type",
        )
    metadata = _metadata(
        estimator, schema, problem, classes, upload=f"xgboost-{spec.source.suffix.lstrip('.')}"
    )
    metadata["objective"] = objective
    metadata["number_type"] = "float32"  # XGBoost splits on float32 values
    return TrainedModel(_as_pipeline(estimator), metadata)


def _required_schema(spec: WrapSpec) -> list[dict[str, str]]:
    if not spec.input_schema:
        raise PackageError("input_schema is required for this kind of model.", "input_schema")
    return check_input_schema(spec.input_schema)


def _as_pipeline(estimator: Any) -> Any:
    """The model as a scikit-learn ``Pipeline`` (what every archive holds)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return estimator
    return Pipeline([("model", estimator)])


def _is_xgboost(estimator: Any) -> bool:
    return type(estimator).__module__.split(".")[0] == "xgboost"


def _match_names(schema: list[dict[str, str]], names: Any, what: str) -> list[dict[str, str]]:
    """The schema in the order of the column names the model was fitted with (when it knows
    them): the model is then given its columns as it expects them."""
    if names is None or len(names) == 0:
        return schema
    wanted = [str(n) for n in names]
    by_name = {c["name"]: c for c in schema}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise PackageError(
            f"{what} was fitted on a column {missing[0]!r} that input_schema does not name "
            f"(it takes {len(wanted)}: {', '.join(wanted[:8])}{'…' if len(wanted) > 8 else ''}).",
            "input_schema",
        )
    extra = [c["name"] for c in schema if c["name"] not in set(wanted)]
    if extra:
        raise PackageError(
            f"input_schema names {extra[0]!r}, a column the model does not take.", "input_schema"
        )
    return [by_name[n] for n in wanted]


def _check_width(given: int, expected: Any, what: str) -> None:
    if isinstance(expected, int | np.integer) and int(expected) != given:
        raise PackageError(
            f"{what} takes {int(expected)} columns; input_schema names {given}.", "input_schema"
        )


def _infer(estimator: Any, given: str | None) -> tuple[str, list[Any] | None]:
    """What the estimator predicts (and its classes), as it says itself; ``given`` must agree."""
    from sklearn.base import is_classifier, is_clusterer, is_outlier_detector, is_regressor

    inferred: str | None = None
    classes: list[Any] | None = None
    if is_classifier(estimator):
        found = getattr(estimator, "classes_", None)
        if found is None:
            raise PackageError("The classifier is not fitted: it has no classes_.", "artifact")
        classes = [_plain(c) for c in np.asarray(found).tolist()]
        inferred = "binary_classification" if len(classes) == 2 else "multiclass_classification"
        if not hasattr(estimator, "predict_proba"):
            raise PackageError(
                "The classifier has no predict_proba: Sextant answers with each class's "
                "probability (for an SVC, fit it with probability=True).",
                "artifact",
            )
    elif is_regressor(estimator):
        inferred = "regression"
    elif is_outlier_detector(estimator):
        inferred = "anomaly_detection"
    elif is_clusterer(estimator) and hasattr(estimator, "transform"):
        inferred = "clustering"
    elif hasattr(estimator, "transform") and not hasattr(estimator, "predict"):
        inferred = "dimensionality_reduction"
    if inferred is None:
        if given is None:
            raise PackageError(
                "Sextant cannot tell what this model predicts: name its problem_type.",
                "problem_type",
            )
        inferred = given
    elif given is not None and given != inferred:
        raise PackageError(f"The model is {_words(inferred)}, not {_words(given)}.", "problem_type")
    needs = {
        "clustering": ("transform",),
        "dimensionality_reduction": ("transform",),
        "anomaly_detection": ("score_samples", "predict"),
        "regression": ("predict",),
    }.get(inferred, ())
    for method in needs:
        if not hasattr(estimator, method):
            raise PackageError(
                f"For {_words(inferred)} the model needs a {method} method.", "problem_type"
            )
    if inferred in CLASSIFICATION and classes is None:
        raise PackageError("Only a classifier with classes_ solves classification.", "problem_type")
    return inferred, classes


def _metadata(
    estimator: Any,
    schema: list[dict[str, str]],
    problem: str,
    classes: list[Any] | None,
    *,
    upload: str,
    number_type: str = "float64",
) -> dict[str, Any]:
    kind = type(estimator)
    return {
        "format": FORMAT,
        "algorithm": "xgboost" if _is_xgboost(estimator) else "scikit-learn",
        "estimator": f"{kind.__module__}.{kind.__qualname__}",
        "problem_type": problem,
        "framework": framework_versions(),
        "input_schema": schema,
        "number_type": number_type,
        "target": None,
        "classes": classes,
        "feature_names": [c["name"] for c in schema],
        "hyperparameters": _plain_params(estimator),
        "metrics": {},
        "source": {"kind": "upload", "format": upload},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plain_params(estimator: Any) -> dict[str, Any]:
    """The estimator's own settings that are plain values (shown on the model card)."""
    try:
        params = estimator.get_params(deep=False)
    except Exception:  # a third-party estimator's get_params may need what it lacks
        return {}
    out: dict[str, Any] = {}
    for key, value in sorted(params.items()):
        value = _plain(value)
        if value is None or isinstance(value, str | int | bool):
            out[str(key)] = value
        elif isinstance(value, float) and math.isfinite(value):
            out[str(key)] = value
    return out


def known_categories(estimator: Any) -> dict[str, list[Any]]:
    """Values each categorical column's encoder was fitted with, found by walking the
    pipeline's column transformers: example rows made of them are ones the model knows
    (an encoder that refuses unknown values would fail on made-up ones)."""
    found: dict[str, list[Any]] = {}

    def walk(node: Any, columns: list[str]) -> None:
        steps = getattr(node, "steps", None)
        if isinstance(steps, list):
            for _, step in steps:
                walk(step, columns)  # imputers and encoders keep their columns' order
            return
        parts = getattr(node, "transformers_", None)
        if isinstance(parts, list):
            names = [str(n) for n in getattr(node, "feature_names_in_", [])]
            for part in parts:
                selected = part[2]
                if isinstance(selected, str):
                    selected = [selected]
                if isinstance(selected, list | tuple | np.ndarray):
                    cols = [
                        names[int(c)] if isinstance(c, int | np.integer) and names else str(c)
                        for c in selected
                    ]
                    walk(part[1], cols)
            return
        categories = getattr(node, "categories_", None)
        if isinstance(categories, list) and len(categories) == len(columns):
            for column, values in zip(columns, categories, strict=True):
                kept = [_plain(v) for v in np.asarray(values).tolist() if not _is_gap(v)]
                if kept:
                    found[column] = kept

    walk(estimator, [str(n) for n in getattr(estimator, "feature_names_in_", [])])
    return found


def _is_gap(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def probe_frame(
    schema: list[InputColumn], known: dict[str, list[Any]], rows: int = PROBE_ROWS
) -> pd.DataFrame:
    """Example rows of the schema's columns: small numbers, a week of dates, the categories
    the model knows (or short words), a sentence of text."""
    columns: dict[str, Any] = {}
    for column in schema:
        if column.kind == "numeric":
            columns[column.name] = np.arange(rows, dtype="float64") / 2
        elif column.kind == "datetime":
            columns[column.name] = pd.date_range("2024-01-01", periods=rows, freq="D")
        elif column.kind == "text":
            columns[column.name] = ["a short example of text"] * rows
        else:
            values = known.get(column.name) or ["a", "b", "c"]
            columns[column.name] = [values[i % len(values)] for i in range(rows)]
    return pd.DataFrame(columns)


def probe(model: TrainedModel) -> pd.DataFrame:
    """The model's predictions on example rows, through the same path serving takes; a
    model that cannot predict, or answers in the wrong shape, is refused with the reason."""
    if model.problem == "forecasting":
        return pd.DataFrame()  # a forecaster predicts from series' histories, not from rows
    frame = probe_frame(model.schema, known_categories(model.pipeline))
    try:
        output = model.predict(frame)
        if model.problem in CLASSIFICATION:
            proba = np.asarray(model.pipeline.predict_proba(model.inputs(frame)))
            if proba.ndim != 2 or proba.shape[1] != len(model.classes):
                raise PackageError(
                    f"The model gives {proba.shape[-1]} probabilities per row for "
                    f"{len(model.classes)} classes.",
                    "classes",
                )
    except PackageError:
        raise
    except Exception as exc:  # whatever the model's own code raises on the example rows
        raise PackageError(
            f"The model could not predict on example rows built from input_schema: "
            f"{_describe(exc)}",
            "input_schema",
        ) from None
    if len(output) != len(frame):
        raise PackageError(
            f"The model answered {len(output)} rows for {len(frame)} example rows.", "artifact"
        )
    return output


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500]}" if text else type(exc).__name__


def _words(problem: str) -> str:
    words = problem.replace("_", " ")
    article = "an" if words[0] in "aeiou" else "a"
    return f"{article} {words} model"
