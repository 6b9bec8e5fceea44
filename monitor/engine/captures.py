"""Captured traffic as tables: the JSON Lines an endpoint's data capture writes (see
``endpoints.engine.capture``) turned into the rows a monitoring job checks.

Each captured invocation holds a request body and the answer the client got, in the
endpoint's wire formats (``endpoints.engine.payloads``): CSV rows, JSON ``instances`` (lists
in input order or objects by column name) or an Open Inference Protocol v2 request; answers
as CSV lines, JSON ``predictions`` or v2 ``outputs``. One request of N rows becomes N table
rows, each keyed by ``(event_id, row)`` with ``row`` its 0-based position in the request, the
key ground truth is joined on.

Invariants:

- ``inputs``, ``outputs`` and ``meta`` of a :class:`CapturedRows` have the same length and
  row order, with a fresh ``RangeIndex``.
- A numeric input column is float64 when every captured value is a number or a gap. When a
  value does not read as a number, the column is object instead: numbers as floats, gaps as
  NaN and each unreadable value kept as its raw text, so that a data-type check can count
  the mismatches rather than see silent gaps (``pd.to_numeric(errors="coerce")`` would hide
  them). Other columns are object: text, ``None`` for a gap (an empty CSV field).
- Keys of JSON-object instances that are not input columns become extra columns after the
  schema's, in the order first seen, so a check can flag them.
- Nothing in a capture line is fatal: a line that cannot be read (bad JSON, a status that is
  not 2xx, an unreadable body, an answer whose count of predictions is not the request's
  count of rows) adds one to ``skipped``; a request row of the wrong width is dropped on its
  own and adds one too. Shadow lines are counted apart (the live answer is what the client
  got), and events outside ``[start, end)`` are dropped without being counted.
- Lines are read one at a time and rows are collected in per-column lists, so 100,000
  captured rows take seconds and every frame is built once, at the end.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from endpoints.engine import payloads
from endpoints.engine.payloads import CSV, JSON, Column, PayloadError

CLASSIFICATION = ("binary_classification", "multiclass_classification")
META_COLUMNS = ("event_id", "row", "time", "variant", "inference_id")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class CapturedRows:
    """Captured invocations as rows: one row per input row of each request."""

    inputs: pd.DataFrame
    outputs: pd.DataFrame
    meta: pd.DataFrame
    skipped: int
    shadow_skipped: int
    #: Input columns no request carried at all (JSON-object instances that never had the
    #: key): the missing-column check's evidence, as the parsed frame still holds them empty.
    absent: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.meta)


class _Unreadable(Exception):
    """A capture line whose request or answer cannot become rows."""


class _Columns:
    """Columns of equal length, filled a request at a time; a column first seen after some
    rows starts with gaps for them, and a column a request does not name gets gaps."""

    def __init__(self, names: Iterable[str], gap: Any) -> None:
        self.data: dict[str, list[Any]] = {name: [] for name in names}
        self.length = 0
        self.gap = gap

    def add(self, block: dict[str, list[Any]], count: int) -> None:
        for name, values in block.items():
            column = self.data.get(name)
            if column is None:
                column = self.data[name] = [self.gap] * self.length
            column.extend(values)
        total = self.length + count
        for column in self.data.values():
            if len(column) < total:
                column.extend([self.gap] * (total - len(column)))
        self.length = total


# ------------------------------------------------------------------------------ helpers


def _utc(when: datetime | None) -> datetime | None:
    """A naive datetime is taken as UTC (the capture's clock)."""
    if when is None:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _event_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return _utc(when)


def _body(part: Any) -> tuple[str, str]:
    """A captured body as (media type, text), base64 undone."""
    if not isinstance(part, dict):
        raise _Unreadable
    data = part.get("data")
    if not isinstance(data, str):
        raise _Unreadable
    kind = payloads.media_type(str(part.get("content_type") or ""))
    if part.get("encoding") == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _Unreadable from None
    if kind in ("", "application/octet-stream"):
        # A request sent without a Content-Type is read as JSON by the endpoint, and the
        # capture records it as octet-stream: a 2xx answer means it was JSON.
        kind = JSON
    if kind not in (CSV, JSON):
        raise _Unreadable
    return kind, data


def _csv_records(text: str) -> list[list[str]]:
    try:
        return [fields for fields in csv.reader(io.StringIO(text)) if fields]
    except csv.Error:
        raise _Unreadable from None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise _Unreadable from None


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [v for part in data for v in _flatten(part)]
    if isinstance(data, list):
        return data
    raise _Unreadable


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_or_raw(value: Any) -> Any:
    """A float for a number or numeric text, NaN for a gap, the raw value as text else."""
    if value is None:
        return math.nan
    if isinstance(value, float):
        return value
    if isinstance(value, int):  # bool included: the endpoint reads true as 1
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            return float(text)
        except ValueError:
            return value
    return json.dumps(value)


def _numeric_column(values: list[Any]) -> pd.Series:
    """float64 when every value reads as a number; else object with the raw misfits."""
    try:
        if not any(isinstance(v, str) and not v.strip() for v in values):
            return pd.Series(np.asarray(values, dtype=np.float64))
    except (ValueError, TypeError):
        pass
    converted = [_number_or_raw(v) for v in values]
    if all(isinstance(v, float) for v in converted):
        return pd.Series(np.asarray(converted, dtype=np.float64))
    return pd.Series(converted, dtype=object)


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)  # what the endpoint's frame path does with a number in a text column


def _text_column(values: list[Any]) -> pd.Series:
    return pd.Series([_text(v) for v in values], dtype=object)


def _inferred_column(values: list[Any]) -> pd.Series:
    """A column with no declared kind: float64 if all numbers (or gaps), bool if all
    booleans, else object with the values as they came."""
    gaps = [v is None or (isinstance(v, float) and math.isnan(v)) for v in values]
    present = [v for v, gap in zip(values, gaps, strict=True) if not gap]
    if present and all(_is_number(v) for v in present):
        return pd.Series(
            np.asarray([math.nan if g else v for v, g in zip(values, gaps, strict=True)], float)
        )
    if present and not any(gaps) and all(isinstance(v, bool) for v in present):
        return pd.Series(np.asarray(values, dtype=bool))
    return pd.Series([None if g else v for v, g in zip(values, gaps, strict=True)], dtype=object)


def _float_column(values: list[Any]) -> pd.Series:
    """Probabilities: numbers as float64, anything else a gap."""
    try:
        return pd.Series(np.asarray(values, dtype=np.float64))
    except (ValueError, TypeError):
        return pd.Series(
            np.asarray([float(v) if _is_number(v) else math.nan for v in values], float)
        )


def _empty_meta() -> dict[str, list[Any]]:
    return {name: [] for name in META_COLUMNS}


# ------------------------------------------------------------------------------- reader


class _Reader:
    """The state of one pass over capture lines."""

    def __init__(
        self,
        input_schema: list[dict[str, str]],
        classes: list[Any] | None,
        problem_type: str | None,
        start: datetime | None,
        end: datetime | None,
        max_rows: int | None,
    ) -> None:
        self.names = [str(c["name"]) for c in input_schema]
        self.numeric = {str(c["name"]) for c in input_schema if c.get("kind") == "numeric"}
        self.columns = [Column(name, name in self.numeric) for name in self.names]
        self.known = set(self.names)
        self.classes = list(classes) if classes is not None else None
        self.by_text = {str(c): c for c in self.classes or []}
        self.classifier = problem_type in CLASSIFICATION or (
            problem_type is None and classes is not None
        )
        if self.classifier:
            self.primary = "predicted_label"
        elif problem_type == "dimensionality_reduction":
            self.primary = "components"
        else:
            self.primary = "prediction"
        self.start, self.end = _utc(start), _utc(end)
        self.max_rows = max_rows
        self.inputs = _Columns(self.names, None)
        outputs = [self.primary, "probability"] if self.classifier else [self.primary]
        self.outputs = _Columns(outputs, math.nan)
        self.meta = _empty_meta()
        self.skipped = 0
        self.shadow_skipped = 0
        # Input columns some request carried (a CSV or list row carries them all).
        self.present: set[str] = set()
        self.positional = False

    @property
    def full(self) -> bool:
        return self.max_rows is not None and self.inputs.length >= self.max_rows

    # ------------------------------------------------------------------------ one line

    def read(self, line: str | bytes) -> None:
        if not line.strip():
            return
        try:
            event = json.loads(line)
        except ValueError:
            self.skipped += 1
            return
        if not isinstance(event, dict):
            self.skipped += 1
            return
        when = _event_time(event.get("time"))
        if when is None:
            self.skipped += 1
            return
        if (self.start is not None and when < self.start) or (
            self.end is not None and when >= self.end
        ):
            return
        if event.get("shadow") is True:
            self.shadow_skipped += 1
            return
        status = event.get("status")
        event_id = event.get("event_id")
        if (
            not isinstance(status, int)
            or isinstance(status, bool)
            or not 200 <= status < 300
            or not isinstance(event_id, str)
        ):
            self.skipped += 1
            return
        try:
            rows = self._request(*_body(event.get("input")))
            answers, count = self._answers(*_body(event.get("output")))
        except _Unreadable:
            self.skipped += 1
            return
        if count != len(rows):
            self.skipped += 1
            return
        self._keep(event, event_id, when, rows, answers)

    def _keep(
        self,
        event: dict[str, Any],
        event_id: str,
        when: datetime,
        rows: list[tuple[list[Any], dict[str, Any] | None] | None],
        answers: dict[str, list[Any]],
    ) -> None:
        keep = [i for i, row in enumerate(rows) if row is not None]
        self.skipped += len(rows) - len(keep)
        if self.max_rows is not None:
            keep = keep[: max(0, self.max_rows - self.inputs.length)]
        if not keep:
            return
        n = len(keep)
        whole = n == len(rows)
        block: dict[str, list[Any]] = {name: [] for name in self.names}
        extras: dict[str, list[Any]] = {}
        for position, i in enumerate(keep):
            entry = rows[i]
            assert entry is not None
            values, extra = entry
            for name, value in zip(self.names, values, strict=True):
                block[name].append(value)
            if extra:
                for key, value in extra.items():
                    column = extras.get(key)
                    if column is None:
                        column = extras[key] = [None] * n
                    column[position] = value
        block.update(extras)
        self.inputs.add(block, n)
        self.outputs.add(
            answers if whole else {k: [v[i] for i in keep] for k, v in answers.items()}, n
        )
        inference_id = event.get("inference_id")
        variant = event.get("variant")
        self.meta["event_id"].extend([event_id] * n)
        self.meta["row"].extend(keep)
        self.meta["time"].extend([(when - _EPOCH) // _MICROSECOND] * n)
        self.meta["variant"].extend([variant if isinstance(variant, str) else None] * n)
        self.meta["inference_id"].extend(
            [inference_id if isinstance(inference_id, str) else None] * n
        )

    # --------------------------------------------------------------------- the request

    def _request(
        self, kind: str, text: str
    ) -> list[tuple[list[Any], dict[str, Any] | None] | None]:
        """Each request row in input order with its extra keys, or None for a bad row."""
        width = len(self.names)
        out: list[tuple[list[Any], dict[str, Any] | None] | None] = []
        if kind == CSV:
            for fields in _csv_records(text):
                if len(fields) != width:
                    out.append(None)
                else:
                    self.positional = True
                    out.append(([f if f != "" else None for f in fields], None))
            if not out:
                raise _Unreadable
            return out
        document = _json(text)
        rows: Any
        if isinstance(document, dict) and "instances" in document:
            rows = document["instances"]
        elif isinstance(document, dict) and "inputs" in document:
            try:
                rows, _ = payloads.v2_rows(text.encode(), self.columns)
            except PayloadError:
                raise _Unreadable from None
        else:
            raise _Unreadable
        if not isinstance(rows, list) or not rows:
            raise _Unreadable
        for row in rows:
            if isinstance(row, list):
                self.positional = self.positional or len(row) == width
                out.append((row, None) if len(row) == width else None)
            elif isinstance(row, dict):
                self.present.update(k for k in row if k in self.known)
                extra = {str(k): v for k, v in row.items() if k not in self.known}
                out.append(([row.get(name) for name in self.names], extra or None))
            else:
                out.append(None)
        return out

    # ---------------------------------------------------------------------- the answer

    def _label(self, value: Any) -> Any:
        """A label read as text (CSV, v2 BYTES) as the class it names."""
        if isinstance(value, str):
            return self.by_text.get(value, value)
        return value

    def _scalar(self, value: str) -> Any:
        if self.primary == "predicted_label":
            return self._label(value)
        number = _number_or_raw(value)
        return None if isinstance(number, float) and math.isnan(number) else number

    def _answers(self, kind: str, text: str) -> tuple[dict[str, list[Any]], int]:
        """The answer's columns (each as long as its count of rows) and that count."""
        if kind == CSV:
            lines = _csv_records(text)
            n = len(lines)
            block: dict[str, list[Any]] = {}
            if all(len(fields) == 1 for fields in lines):
                block[self.primary] = [self._scalar(fields[0]) for fields in lines]
                return block, n
            for i, fields in enumerate(lines):
                for j, value in enumerate(fields):
                    self._cell(block, f"{self.primary}_{j}", n)[i] = _number_or_raw(value)
            return block, n
        document = _json(text)
        if not isinstance(document, dict):
            raise _Unreadable
        if "predictions" in document:
            return self._predictions(document)
        if "outputs" in document:
            return self._v2_outputs(document)
        raise _Unreadable

    def _class_names(self, labels: Any, width: int) -> list[str]:
        if isinstance(labels, list) and len(labels) == width:
            return [f"probability_{label}" for label in labels]
        if self.classes is not None and len(self.classes) == width:
            return [f"probability_{label}" for label in self.classes]
        return [f"probability_{j}" for j in range(width)]

    @staticmethod
    def _cell(block: dict[str, list[Any]], name: str, n: int) -> list[Any]:
        column = block.get(name)
        if column is None:
            column = block[name] = [math.nan] * n
        return column

    def _predictions(self, document: dict[str, Any]) -> tuple[dict[str, list[Any]], int]:
        predictions = document["predictions"]
        if not isinstance(predictions, list):
            raise _Unreadable
        labels = document.get("labels")
        n = len(predictions)
        primary = "predicted_label" if labels is not None else self.primary
        block: dict[str, list[Any]] = {}
        for i, record in enumerate(predictions):
            if isinstance(record, dict):
                for key, value in record.items():
                    if isinstance(value, list):
                        names = (
                            self._class_names(labels, len(value))
                            if key == "probabilities"
                            else [f"{key}_{j}" for j in range(len(value))]
                        )
                        for name, item in zip(names, value, strict=True):
                            self._cell(block, name, n)[i] = item
                    else:
                        cell = self._label(value) if key == "predicted_label" else value
                        self._cell(block, str(key), n)[i] = cell
                probabilities = record.get("probabilities")
                if "probability" not in record and isinstance(probabilities, list):
                    numbers = [v for v in probabilities if _is_number(v)]
                    self._cell(block, "probability", n)[i] = max(numbers, default=math.nan)
            elif isinstance(record, list):
                for j, item in enumerate(record):
                    self._cell(block, f"{primary}_{j}", n)[i] = item
            else:
                self._cell(block, primary, n)[i] = (
                    self._label(record) if primary == "predicted_label" else record
                )
        return block, n

    def _v2_outputs(self, document: dict[str, Any]) -> tuple[dict[str, list[Any]], int]:
        tensors = document["outputs"]
        if not isinstance(tensors, list) or not tensors:
            raise _Unreadable
        parameters = document.get("parameters")
        labels = parameters.get("labels") if isinstance(parameters, dict) else None
        block: dict[str, list[Any]] = {}
        n: int | None = None
        for tensor in tensors:
            if not isinstance(tensor, dict):
                raise _Unreadable
            name, shape = str(tensor.get("name")), tensor.get("shape")
            if not isinstance(shape, list) or not 1 <= len(shape) <= 2:
                raise _Unreadable
            data = _flatten(tensor.get("data"))
            rows = shape[0]
            width = shape[1] if len(shape) == 2 else 1
            if not isinstance(rows, int) or not isinstance(width, int) or width < 1:
                raise _Unreadable
            if len(data) != rows * width or (n is not None and rows != n):
                raise _Unreadable
            n = rows
            if len(shape) == 1:
                block[name] = [self._label(v) for v in data] if name == "predicted_label" else data
                continue
            names = (
                self._class_names(labels, width)
                if name == "probabilities"
                else [f"{name}_{j}" for j in range(width)]
            )
            for j, column in enumerate(names):
                block[column] = data[j::width]
        assert n is not None
        if "probability" not in block and "probabilities" in {t.get("name") for t in tensors}:
            parts = [v for k, v in block.items() if k.startswith("probability_")]
            block["probability"] = [
                max((v for v in row if _is_number(v)), default=math.nan)
                for row in zip(*parts, strict=True)
            ]
        return block, n

    # ------------------------------------------------------------------------- result

    def result(self) -> CapturedRows:
        inputs: dict[str, pd.Series] = {}
        for name, values in self.inputs.data.items():
            if name in self.numeric:
                inputs[name] = _numeric_column(values)
            elif name in self.known:
                inputs[name] = _text_column(values)
            else:
                inputs[name] = _inferred_column(values)
        outputs: dict[str, pd.Series] = {}
        for name, values in self.outputs.data.items():
            if name == "predicted_label":
                outputs[name] = pd.Series(
                    [None if isinstance(v, float) and math.isnan(v) else v for v in values],
                    dtype=object,
                )
            elif name == "probability" or name.startswith("probability_"):
                outputs[name] = _float_column(values)
            elif name == self.primary and self.primary == "prediction":
                outputs[name] = _numeric_column(values)
            else:
                outputs[name] = _inferred_column(values)
        meta = pd.DataFrame(
            {
                "event_id": pd.Series(self.meta["event_id"], dtype=object),
                "row": pd.Series(np.asarray(self.meta["row"], dtype=np.int64)),
                "time": pd.Series(
                    pd.to_datetime(
                        np.asarray(self.meta["time"], dtype=np.int64), unit="us", utc=True
                    )
                ),
                "variant": pd.Series(self.meta["variant"], dtype=object),
                "inference_id": pd.Series(self.meta["inference_id"], dtype=object),
            }
        )
        return CapturedRows(
            inputs=pd.DataFrame(inputs, index=meta.index),
            outputs=pd.DataFrame(outputs, index=meta.index),
            meta=meta,
            skipped=self.skipped,
            shadow_skipped=self.shadow_skipped,
            absent=()
            if self.positional or not len(meta)
            else tuple(n for n in self.names if n not in self.present),
        )


# --------------------------------------------------------------------------------- API


def parse_lines(
    lines: Iterable[str | bytes],
    *,
    input_schema: list[dict[str, str]],
    classes: list[Any] | None = None,
    problem_type: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_rows: int | None = None,
) -> CapturedRows:
    """Capture lines as rows of inputs, outputs and meta.

    ``input_schema`` is the model's (or its flow's) input columns in order, each
    ``{"name", "kind"}`` (``kind == "numeric"`` reads as numbers); ``classes`` and
    ``problem_type`` say what the answers are (a classifier's are ``predicted_label`` with
    ``probability`` and ``probability_<class>``; a regression's ``prediction``). Naive
    ``start``/``end`` are UTC. Reading stops once ``max_rows`` rows are kept (the request
    that reaches it is cut)."""
    reader = _Reader(input_schema, classes, problem_type, start, end, max_rows)
    for line in lines:
        if reader.full:
            break
        reader.read(line)
    return reader.result()


def _file_lines(paths: Iterable[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as handle:
            yield from handle


def read_files(
    paths: Iterable[Path],
    *,
    input_schema: list[dict[str, str]],
    classes: list[Any] | None = None,
    problem_type: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_rows: int | None = None,
) -> CapturedRows:
    """The capture files' lines, in the order given, read as one :func:`parse_lines`
    (``max_rows`` and the counts span all the files)."""
    return parse_lines(
        _file_lines(paths),
        input_schema=input_schema,
        classes=classes,
        problem_type=problem_type,
        start=start,
        end=end,
        max_rows=max_rows,
    )


def partition_hours(start: datetime, end: datetime) -> list[str]:
    """The ``YYYY/MM/DD/HH`` capture folders covering ``[start, end)`` in UTC, in order
    (naive datetimes are UTC); none when ``end`` is not after ``start``."""
    lo, hi = _utc(start), _utc(end)
    assert lo is not None and hi is not None
    out: list[str] = []
    if hi <= lo:
        return out
    hour = lo.replace(minute=0, second=0, microsecond=0)
    while hour < hi:
        out.append(f"{hour:%Y/%m/%d/%H}")
        hour += timedelta(hours=1)
    return out
