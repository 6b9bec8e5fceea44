"""A model loaded for serving: request bodies in, :class:`Outputs` out, as fast as it goes.

A model archive (``sextant-model/1``, see ``training.engine.artifact``) predicts from a frame
through its whole pipeline: correct for every model, but a DataFrame and a
``ColumnTransformer`` cost far more than the model itself for one row. So when every input
is a number and the preprocessing only passes columns through (trees) or is one numeric
transformer, the predictor takes the float32 matrix parsed from the body straight to the
model's fastest entry point: XGBoost's ``inplace_predict`` on the booster, scikit-learn on
arrays. That shortcut is trusted only after it gave the pipeline's own answers on probe
rows when the model loaded; otherwise the frame path serves.

Requests of one model that arrive together are predicted in one call (``predict``): a batch
of eight rows costs XGBoost about what one row does.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from endpoints.engine import payloads
from endpoints.engine.payloads import CSV, JSON, Column, Outputs, PayloadError
from endpoints.engine.pipeline import FlowStep, PostProcess, flow_step, post_process
from training.engine.artifact import TrainedModel, load

CLASSIFICATION = ("binary_classification", "multiclass_classification")

#: Inputs of one request: a float32 matrix (the fast path) or a frame of the input columns.
Inputs: TypeAlias = np.ndarray | pd.DataFrame

# Fitted on a frame, given an array: scikit-learn warns on every call. The probe check
# below proves the columns line up, so the warning says nothing here.
warnings.filterwarnings("ignore", message="X does not have valid feature names")
warnings.filterwarnings("ignore", message="X has feature names, but")


@dataclass(frozen=True)
class Request:
    """A decoded request: its rows and what the answer should look like."""

    inputs: Inputs
    accept: str  # text/csv, application/json or v2
    request_id: str | None = None
    model_name: str | None = None  # the name v2 answers with (the endpoint's)

    @property
    def rows(self) -> int:
        return int(self.inputs.shape[0])


class Predictor:
    """One model, ready to answer. Not thread-safe: a model server owns one per model."""

    def __init__(
        self,
        model: TrainedModel,
        *,
        name: str = "model",
        version: str = "1",
        flow: FlowStep | None = None,
        post: PostProcess | None = None,
    ) -> None:
        self.model = model
        self.name = name
        self.version = version
        self.flow = flow
        self.post = post
        self.problem = model.problem
        self.labels: list[Any] | None = model.classes if self.problem in CLASSIFICATION else None
        # With a flow in front, a request sends the flow's source columns, not the model's.
        self.columns = (
            flow.columns
            if flow is not None
            else [Column(c.name, c.kind == "numeric") for c in model.schema]
        )
        self.numeric = all(c.numeric for c in self.columns)
        self.batchable = self.problem != "forecasting"
        self.fast: Callable[[np.ndarray], Outputs] | None = None
        if self.numeric and self.batchable and flow is None:
            self.fast = self._checked(self._shortcut())

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        name: str = "model",
        version: str = "1",
        pipeline: dict[str, Any] | None = None,
    ) -> Predictor:
        """The model at ``path``; ``pipeline`` is a manifest's ``{"flow", "post"}``."""
        pipeline = pipeline or {}
        return cls(
            load(path),
            name=name,
            version=version,
            flow=flow_step(pipeline.get("flow")),
            post=post_process(pipeline.get("post")),
        )

    # ------------------------------------------------------------------------ metadata

    def metadata(self, name: str | None = None) -> dict[str, Any]:
        """The v2 model metadata: name, versions, platform, inputs and outputs."""
        algorithm = self.model.metadata.get("algorithm", "model")
        inputs = [
            {"name": c.name, "datatype": "FP32" if c.numeric else "BYTES", "shape": [-1]}
            for c in self.columns
        ]
        probe = self.predict([self._probe_request()])[0] if self.batchable else None
        outputs = []
        if probe is not None:
            for output, values in probe.columns.items():
                kind = values.dtype.kind
                datatype = (
                    "FP32"
                    if kind == "f"
                    else "BOOL"
                    if kind == "b"
                    else ("INT64" if kind in "iu" else "BYTES")
                )
                outputs.append(
                    {"name": output, "datatype": datatype, "shape": [-1, *values.shape[1:]]}
                )
        return {
            "name": name or self.name,
            "versions": [self.version],
            "platform": f"sextant-{algorithm}",
            "problem_type": self.problem,
            "inputs": inputs,
            "outputs": outputs,
            "labels": self._finish(self._classes(np.eye(len(self.labels)))).labels
            if self.labels
            else None,
        }

    # -------------------------------------------------------------------------- decode

    def decode(self, content_type: str, body: bytes, accept: str = "") -> Request:
        """The request's rows, checked against the input schema (a PayloadError if not)."""
        kind = payloads.media_type(content_type)
        answer = payloads.media_type(accept) if accept and accept != "*/*" else kind
        if answer not in (CSV, JSON):
            answer = JSON
        if kind == CSV:
            if self.numeric:
                return Request(payloads.csv_matrix(body, self.columns), answer)
            return Request(payloads.csv_frame(body, self.columns), answer)
        if kind == JSON or kind == "":
            rows = payloads.json_rows(body)
            return Request(self._rows(rows), answer)
        raise PayloadError(
            f"Content-Type {content_type!r} is not one this endpoint reads: send text/csv or "
            "application/json.",
            status=415,
            code="unsupported_media_type",
            field="Content-Type",
        )

    def decode_v2(self, body: bytes, name: str | None = None) -> Request:
        rows, request_id = payloads.v2_rows(body, self.columns)
        return Request(self._rows(rows), "v2", request_id, name)

    def _rows(self, rows: list[Any]) -> Inputs:
        if self.numeric:
            return payloads.rows_matrix(rows, self.columns)
        return payloads.rows_frame(rows, self.columns)

    # ------------------------------------------------------------------------- predict

    def predict(self, requests: list[Request]) -> list[Outputs]:
        """The answers to several requests, predicted together where the model allows."""
        if not requests:
            return []
        if not self.batchable:
            return [self._finish(self._frame_outputs(r.inputs)) for r in requests]
        if len(requests) == 1:
            return [self._outputs(requests[0].inputs)]
        if all(isinstance(r.inputs, np.ndarray) for r in requests):
            joined: Inputs = np.concatenate([r.inputs for r in requests])
        else:
            joined = pd.concat([self._frame(r.inputs) for r in requests], ignore_index=True)
        outputs = self._outputs(joined)
        out, start = [], 0
        for r in requests:
            out.append(outputs.slice(start, start + r.rows))
            start += r.rows
        return out

    def encode(self, request: Request, outputs: Outputs) -> tuple[str, bytes]:
        if request.accept == "v2":
            name = request.model_name or self.name
            return JSON, outputs.v2(name, self.version, request.request_id)
        if request.accept == CSV:
            return CSV, outputs.csv()
        return JSON, outputs.json()

    def _outputs(self, inputs: Inputs) -> Outputs:
        if self.fast is not None and isinstance(inputs, np.ndarray):
            return self._finish(self.fast(inputs))
        return self._finish(self._frame_outputs(inputs))

    def _finish(self, outputs: Outputs) -> Outputs:
        return self.post.apply(outputs) if self.post is not None else outputs

    def _frame(self, inputs: Inputs) -> pd.DataFrame:
        if isinstance(inputs, pd.DataFrame):
            return inputs
        return pd.DataFrame(inputs, columns=[c.name for c in self.columns])

    def _frame_outputs(self, inputs: Inputs) -> Outputs:
        """Through the whole pipeline: right for every model."""
        source = self._frame(inputs)
        if self.flow is not None:
            source = self.flow.apply(source)
        frame = self.model.predict(source)
        problem = self.problem
        if problem in CLASSIFICATION:
            labels = self.labels or []
            proba = frame[[f"probability_{c}" for c in labels]].to_numpy(dtype=np.float64)
            return self._classes(proba)
        if problem == "regression":
            return Outputs({"prediction": frame["prediction"].to_numpy(np.float64)}, "prediction")
        if problem == "clustering":
            return Outputs(
                {
                    "cluster": frame["cluster"].to_numpy(np.int64),
                    "distance": frame["distance"].to_numpy(np.float64),
                },
                "cluster",
            )
        if problem == "dimensionality_reduction":
            return Outputs({"components": frame.to_numpy(np.float64)}, "components")
        if problem == "forecasting":
            return Outputs(
                {
                    "series": frame["series"].astype(str).to_numpy(object),
                    "time": frame["time"].astype(str).to_numpy(object),
                    "forecast": frame["forecast"].to_numpy(np.float64),
                },
                "forecast",
            )
        return Outputs(
            {
                "score": frame["score"].to_numpy(np.float64),
                "is_anomaly": frame["is_anomaly"].to_numpy(bool),
            },
            "score",
        )

    def _classes(self, proba: np.ndarray) -> Outputs:
        labels = np.asarray(self.labels or [], dtype=object)
        best = proba.argmax(axis=1)
        return Outputs(
            {
                "predicted_label": labels[best],
                "probability": proba[np.arange(len(best)), best],
                "probabilities": proba,
            },
            "predicted_label",
            self.labels,
        )

    # ------------------------------------------------------------------------ shortcut

    def _shortcut(self) -> Callable[[np.ndarray], Outputs] | None:
        """The model's fastest entry point from a float32 matrix, if one applies."""
        pipeline = self.model.pipeline
        steps = list(getattr(pipeline, "steps", [("model", pipeline)]))
        estimator = steps[-1][1]
        before = [s for _, s in steps[:-1]]
        prepare = self._array_preprocessing(before)
        if prepare is False:
            return None
        transform: Callable[[np.ndarray], np.ndarray] = (
            prepare if callable(prepare) else (lambda x: x)
        )
        problem = self.problem
        from xgboost import XGBModel

        if isinstance(estimator, XGBModel) and prepare is True:
            booster = estimator.get_booster()
            try:
                rounds = (0, int(estimator.best_iteration) + 1)
            except AttributeError:
                rounds = (0, 0)

            def raw(x: np.ndarray) -> np.ndarray:
                out: np.ndarray = booster.inplace_predict(
                    x, iteration_range=rounds, validate_features=False
                )
                return out

            if problem in CLASSIFICATION:

                def xgb_classes(x: np.ndarray) -> Outputs:
                    p = raw(x)
                    if p.ndim == 1:
                        p = np.column_stack([1.0 - p, p])
                    return self._classes(p.astype(np.float64))

                return xgb_classes
            if problem == "regression":
                return lambda x: Outputs({"prediction": raw(x).astype(np.float64)}, "prediction")
            return None
        if problem in CLASSIFICATION and hasattr(estimator, "predict_proba"):
            return lambda x: self._classes(
                np.asarray(estimator.predict_proba(transform(x)), dtype=np.float64)
            )
        if problem == "regression":
            return lambda x: Outputs(
                {"prediction": np.asarray(estimator.predict(transform(x)), dtype=np.float64)},
                "prediction",
            )
        return None

    def _array_preprocessing(self, steps: list[Any]) -> Callable[[np.ndarray], np.ndarray] | bool:
        """What the steps before the model do to a matrix of the input columns in order:
        ``True`` nothing, a function, or ``False`` when they need a frame."""
        if not steps:
            return True
        if len(steps) > 1:
            return False
        step = steps[0]
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import FunctionTransformer

        names = [c.name for c in self.columns]
        number_type = np.dtype(str(self.model.metadata.get("number_type", "float64")))
        if isinstance(step, ColumnTransformer):
            fitted = [t for t in step.transformers_ if t[0] != "remainder" or t[1] != "drop"]
            if len(fitted) != 1 or list(fitted[0][2]) != names:
                return False
            inner = fitted[0][1]
            # A fitted "passthrough" is kept as an identity FunctionTransformer.
            if (isinstance(inner, str) and inner == "passthrough") or (
                isinstance(inner, FunctionTransformer) and inner.func is None
            ):
                return True
            if inner == "drop" or not hasattr(inner, "transform"):
                return False

            def through(x: np.ndarray) -> np.ndarray:
                out: np.ndarray = inner.transform(x.astype(number_type, copy=False))
                return out

            return through
        if hasattr(step, "feature_names_in_") or not hasattr(step, "transform"):
            return False

        def plain(x: np.ndarray) -> np.ndarray:
            out: np.ndarray = step.transform(x)
            return out

        return plain

    def _checked(
        self, shortcut: Callable[[np.ndarray], Outputs] | None
    ) -> Callable[[np.ndarray], Outputs] | None:
        """The shortcut if it gives the pipeline's own answers on probe rows, else None.

        The probe has a missing value in every column; a model that takes no missing
        value at all (a linear model without an imputer) is probed on complete rows, and
        then fails on a gap the same way by either path."""
        if shortcut is None:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = self._probe_matrix()
            try:
                sure = self._frame_outputs(probe)
            except Exception:  # the model itself refuses gaps: probe complete rows
                probe = probe[~np.isnan(probe).any(axis=1)]
                try:
                    sure = self._frame_outputs(probe)
                except Exception:  # the pipeline cannot take these rows: keep to it
                    return None
            try:
                quick = shortcut(probe)
            except Exception:  # any failure means: serve through the pipeline
                return None
        for name, values in sure.columns.items():
            got = quick.columns.get(name)
            if got is None or got.shape != values.shape:
                return None
            if values.dtype.kind in "fc":
                if not np.allclose(got, values, rtol=1e-5, atol=1e-6, equal_nan=True):
                    return None
            elif not np.array_equal(got, values):
                return None
        return shortcut

    def _probe_matrix(self) -> np.ndarray:
        """Rows around the training data's scale, with a missing value in each column."""
        rng = np.random.default_rng(0)
        width = len(self.columns)
        rows = rng.normal(size=(16, width)).astype(np.float32)
        rows[1] = 0.0
        for j in range(width):
            rows[2 + j % 14, j] = math.nan
        return rows

    def _probe_request(self) -> Request:
        if self.numeric:
            return Request(self._probe_matrix()[:1], JSON)
        frame = pd.DataFrame(
            {c.name: [0.0] if c.numeric else pd.Series([None], dtype=object) for c in self.columns}
        )
        return Request(frame, JSON)
