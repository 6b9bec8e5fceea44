"""Request bodies in, predictions out: the wire formats of an endpoint.

Requests:

- ``text/csv``: rows of feature values in the model's input order, no header; an empty
  field is a missing value.
- ``application/json``: ``{"instances": [[…], …]}`` (values in input order) or
  ``{"instances": [{"column": value, …}, …]}`` (by name; a column left out is missing).
- The Open Inference Protocol v2 (``/v2/models/<name>/infer``): either one tensor of shape
  ``[rows, columns]``, or one tensor per input column named after it.

A model whose every input is a number takes a float32 matrix straight from the body, with no
DataFrame on the way (the hot path); other models take a frame of the input columns. Either
way, a value that is not a number in a numeric column, a row of the wrong width, an empty
body or malformed JSON is a :class:`PayloadError` naming the row and the column.

Responses: ``text/csv`` (one prediction per line), ``application/json``
(``{"predictions": […]}``) and v2's ``outputs``.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CSV = "text/csv"
JSON = "application/json"

#: Bodies larger than this parse with pyarrow's CSV reader rather than line by line.
ARROW_CSV_BYTES = 64 * 1024


class PayloadError(Exception):
    """A request the model cannot take: an HTTP status and the API's error fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "invalid_payload",
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


@dataclass(frozen=True)
class Column:
    """One input column as the endpoint validates it: numbers, or anything else (text)."""

    name: str
    numeric: bool


def media_type(header: str) -> str:
    """``text/csv; charset=utf-8`` → ``text/csv``."""
    return header.split(";", 1)[0].strip().lower()


def _cell_error(row: int, column: Column, value: Any) -> PayloadError:
    shown = value.decode(errors="replace") if isinstance(value, bytes) else value
    text = repr(shown if len(str(shown)) <= 40 else f"{str(shown)[:40]}…")
    hint = " (send rows without a header)" if row == 1 else ""
    return PayloadError(
        f"Row {row}, column {column.name!r}: {text} is not a number{hint}.",
        field=column.name,
    )


def _width_error(row: int, got: int, want: int) -> PayloadError:
    return PayloadError(
        f"Row {row} has {got} value{'s' if got != 1 else ''}; the model takes {want}.",
        field="body",
    )


def _empty() -> PayloadError:
    return PayloadError("The request body is empty: send at least one row.", field="body")


# ---------------------------------------------------------------------------------- CSV


def _number(raw: bytes) -> float:
    raw = raw.strip()
    if not raw:
        return math.nan
    return float(raw)


def csv_matrix(body: bytes, columns: list[Column]) -> np.ndarray:
    """A float32 matrix from CSV rows of numbers only (an empty field is NaN)."""
    width = len(columns)
    if len(body) > ARROW_CSV_BYTES:
        return _arrow_csv_matrix(body, columns)
    lines = body.splitlines()
    rows = [line.split(b",") for line in lines if line.strip()]
    if not rows:
        raise _empty()
    for i, row in enumerate(rows):
        if len(row) != width:
            raise _width_error(i + 1, len(row), width)
    try:
        return np.array(rows, dtype=np.float32)
    except ValueError:
        pass  # an empty field, a blank or a word: find which, value by value
    out = np.empty((len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, raw in enumerate(row):
            try:
                out[i, j] = _number(raw)
            except ValueError:
                raise _cell_error(i + 1, columns[j], raw.strip()) from None
    return out


def _arrow_csv_matrix(body: bytes, columns: list[Column]) -> np.ndarray:
    import pyarrow as pa
    from pyarrow import csv

    names = [f"c{i}" for i in range(len(columns))]
    try:
        table = csv.read_csv(
            io.BytesIO(body),
            read_options=csv.ReadOptions(column_names=names),
            convert_options=csv.ConvertOptions(
                column_types={n: pa.float32() for n in names}, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid:
        # Arrow's message names neither row nor column the way a person counts them.
        rows = [line.split(b",") for line in body.splitlines() if line.strip()]
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise _width_error(i + 1, len(row), len(columns)) from None
            for j, raw in enumerate(row):
                try:
                    _number(raw)
                except ValueError:
                    raise _cell_error(i + 1, columns[j], raw.strip()) from None
        raise PayloadError("The CSV body could not be read.", field="body") from None
    if table.num_rows == 0:
        raise _empty()
    return np.column_stack(
        [table.column(i).to_numpy(zero_copy_only=False) for i in range(len(columns))]
    ).astype(np.float32, copy=False)


def csv_frame(body: bytes, columns: list[Column]) -> pd.DataFrame:
    """A frame of the input columns from CSV rows (quoted fields allowed); numeric columns
    are checked here so that a word in one is an error, not a silent gap."""
    import csv as csvmod

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("The CSV body is not UTF-8 text.", field="body") from None
    rows = [row for row in csvmod.reader(io.StringIO(text)) if row]
    if not rows:
        raise _empty()
    width = len(columns)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise _width_error(i + 1, len(row), width)
    data: dict[str, Any] = {}
    for j, column in enumerate(columns):
        values = [row[j] for row in rows]
        if column.numeric:
            numbers = np.empty(len(values), dtype=np.float64)
            for i, raw in enumerate(values):
                try:
                    numbers[i] = _number(raw.encode())
                except ValueError:
                    raise _cell_error(i + 1, column, raw.strip()) from None
            data[column.name] = numbers
        else:
            data[column.name] = pd.Series([v if v != "" else None for v in values], dtype="object")
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------- JSON


def loads(body: bytes) -> Any:
    if not body.strip():
        raise _empty()
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"The body is not valid JSON: {exc}.", field="body") from None


def json_rows(body: bytes) -> list[Any]:
    """The ``instances`` of a JSON request."""
    document = loads(body)
    if isinstance(document, dict) and "instances" in document:
        rows = document["instances"]
    else:
        raise PayloadError(
            'A JSON request is {"instances": [[…], …]} or {"instances": [{"column": value}]}.',
            field="instances",
        )
    if not isinstance(rows, list) or not rows:
        raise PayloadError("instances is a non-empty list of rows.", field="instances")
    return rows


def _json_number(value: Any, row: int, column: Column) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else math.nan
        except ValueError:
            pass
    raise _cell_error(row, column, value)


def _row_values(row: Any, index: int, columns: list[Column], by_name: dict[str, int]) -> list[Any]:
    """One instance as a list in input order (a dict: missing columns are None)."""
    if isinstance(row, list):
        if len(row) != len(columns):
            raise _width_error(index + 1, len(row), len(columns))
        return row
    if isinstance(row, dict):
        unknown = [k for k in row if k not in by_name]
        if unknown:
            raise PayloadError(
                f"Row {index + 1} names {unknown[0]!r}, which is not one of the model's "
                "input columns.",
                field=str(unknown[0]),
            )
        values: list[Any] = [None] * len(columns)
        for key, value in row.items():
            values[by_name[key]] = value
        return values
    raise PayloadError(
        f"Row {index + 1} is neither a list of values nor an object of column: value.",
        field="instances",
    )


def rows_matrix(rows: list[Any], columns: list[Column]) -> np.ndarray:
    """A float32 matrix from JSON rows of numbers (lists in input order, or objects)."""
    if all(isinstance(r, list) for r in rows):
        width = len(columns)
        for i, row in enumerate(rows):
            if len(row) != width:
                raise _width_error(i + 1, len(row), width)
        try:
            matrix = np.array(rows, dtype=np.float32)
            if matrix.ndim == 2:
                if any(isinstance(v, str) for row in rows for v in row):
                    raise ValueError  # numpy reads "1.5" as 1.5; be as strict as CSV
                return matrix
        except (ValueError, TypeError):
            pass
    by_name = {c.name: i for i, c in enumerate(columns)}
    out = np.empty((len(rows), len(columns)), dtype=np.float32)
    for i, row in enumerate(rows):
        values = _row_values(row, i, columns, by_name)
        for j, value in enumerate(values):
            if isinstance(value, str):
                raise _cell_error(i + 1, columns[j], value)
            out[i, j] = _json_number(value, i + 1, columns[j])
    return out


def rows_frame(rows: list[Any], columns: list[Column]) -> pd.DataFrame:
    """A frame of the input columns from JSON rows (lists in input order, or objects)."""
    by_name = {c.name: i for i, c in enumerate(columns)}
    table = [_row_values(row, i, columns, by_name) for i, row in enumerate(rows)]
    data: dict[str, Any] = {}
    for j, column in enumerate(columns):
        values = [row[j] for row in table]
        if column.numeric:
            numbers = np.empty(len(values), dtype=np.float64)
            for i, value in enumerate(values):
                if isinstance(value, str) and value.strip():
                    try:
                        numbers[i] = float(value)
                        continue
                    except ValueError:
                        raise _cell_error(i + 1, column, value) from None
                numbers[i] = _json_number(None if value == "" else value, i + 1, column)
            data[column.name] = numbers
        else:
            data[column.name] = pd.Series(
                [None if v is None else v if isinstance(v, str) else str(v) for v in values],
                dtype="object",
            )
    return pd.DataFrame(data)


# ------------------------------------------------------------------------------ v2 (OIP)

V2_NUMERIC = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
}


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [v for part in data for v in _flatten(part)]
    if isinstance(data, list):
        return data
    raise PayloadError("A tensor's data is a list (flat or nested).", field="inputs")


def v2_rows(body: bytes, columns: list[Column]) -> tuple[list[list[Any]], str | None]:
    """The rows of a v2 inference request, in input order, and its id.

    One tensor ``[rows, columns]`` (any name), or one tensor per input column named after
    it (shape ``[rows]`` or ``[rows, 1]``)."""
    document = loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        raise PayloadError(
            'A v2 request is {"inputs": [{"name", "shape", "datatype", "data"}, …]}.',
            field="inputs",
        )
    request_id = document.get("id")
    tensors = document["inputs"]
    if not tensors:
        raise PayloadError("inputs is empty: send at least one tensor.", field="inputs")
    for t in tensors:
        if not isinstance(t, dict) or not {"name", "shape", "datatype", "data"} <= set(t):
            raise PayloadError(
                "Each input tensor has name, shape, datatype and data.", field="inputs"
            )
        shape = t["shape"]
        if not (
            isinstance(shape, list) and shape and all(isinstance(s, int) and s >= 0 for s in shape)
        ):
            raise PayloadError(
                f"Tensor {t['name']!r}: shape is a list of sizes.",
                field=f"inputs.{t['name']}.shape",
            )
    width = len(columns)
    names = {c.name for c in columns}
    if len(tensors) == 1 and len(tensors[0]["shape"]) == 2 and tensors[0]["name"] not in names:
        t = tensors[0]
        n, w = t["shape"]
        if w != width:
            raise PayloadError(
                f"Tensor {t['name']!r} has {w} columns; the model takes {width}.",
                field=f"inputs.{t['name']}.shape",
            )
        flat = _flatten(t["data"])
        if len(flat) != n * w:
            raise PayloadError(
                f"Tensor {t['name']!r}: shape {t['shape']} needs {n * w} values, got {len(flat)}.",
                field=f"inputs.{t['name']}.data",
            )
        if n == 0:
            raise _empty()
        return [flat[i * w : (i + 1) * w] for i in range(n)], request_id
    by_name = {str(t["name"]): t for t in tensors}
    unknown = [name for name in by_name if name not in {c.name for c in columns}]
    if unknown:
        raise PayloadError(
            f"Tensor {unknown[0]!r} is not one of the model's inputs: send one tensor "
            f"[rows, {width}] or one tensor per input column.",
            field=f"inputs.{unknown[0]}",
        )
    missing = [c.name for c in columns if c.name not in by_name]
    if missing:
        raise PayloadError(
            f"There is no tensor for input {missing[0]!r}.", field=f"inputs.{missing[0]}"
        )
    lengths = set()
    values: list[list[Any]] = []
    for column in columns:
        t = by_name[column.name]
        flat = _flatten(t["data"])
        size = math.prod(t["shape"])
        if len(flat) != size or (len(t["shape"]) == 2 and t["shape"][1] != 1):
            raise PayloadError(
                f"Tensor {column.name!r}: shape {t['shape']} does not fit {len(flat)} values "
                "(one column is [rows] or [rows, 1]).",
                field=f"inputs.{column.name}.shape",
            )
        lengths.add(len(flat))
        values.append(flat)
    if len(lengths) != 1:
        raise PayloadError("The input tensors have different numbers of rows.", field="inputs")
    n = lengths.pop()
    if n == 0:
        raise _empty()
    return [[values[j][i] for j in range(width)] for i in range(n)], request_id


# -------------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Outputs:
    """A model's answers for some rows: named columns of equal length.

    ``primary`` is the one a CSV response gives per line (the label, the value…);
    ``labels`` are the classes of a classifier, in the order of ``probabilities``."""

    columns: dict[str, np.ndarray]
    primary: str
    labels: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.columns[self.primary])

    def slice(self, start: int, stop: int) -> Outputs:
        return Outputs(
            {k: v[start:stop] for k, v in self.columns.items()}, self.primary, self.labels
        )

    def records(self) -> list[Any]:
        """Rows for ``{"predictions": […]}``: numbers for one-output models, objects else."""
        if len(self.columns) == 1:
            return [_plain(v) for v in self.columns[self.primary].tolist()]
        names = list(self.columns)
        lists = [self.columns[n].tolist() for n in names]
        out = []
        for i in range(len(self)):
            record: dict[str, Any] = {}
            for name, values in zip(names, lists, strict=True):
                value = values[i]
                record[name] = (
                    [_plain(v) for v in value] if isinstance(value, list) else _plain(value)
                )
            out.append(record)
        return out

    def csv(self) -> bytes:
        values = self.columns[self.primary]
        if values.ndim == 2:
            lines = [",".join(_csv_value(v) for v in row) for row in values.tolist()]
        else:
            lines = [_csv_value(v) for v in values.tolist()]
        return ("\n".join(lines) + "\n").encode()

    def json(self) -> bytes:
        document: dict[str, Any] = {"predictions": self.records()}
        if self.labels is not None:
            document["labels"] = [_plain(v) for v in self.labels]
        return json.dumps(document, separators=(",", ":")).encode()

    def v2(self, model: str, version: str, request_id: str | None) -> bytes:
        outputs = []
        for name, values in self.columns.items():
            if values.dtype.kind in "fc":
                datatype = "FP64" if values.dtype == np.float64 else "FP32"
                data = [_plain(v) for v in values.ravel().tolist()]
            elif values.dtype.kind == "b":
                datatype, data = "BOOL", values.ravel().tolist()
            elif values.dtype.kind in "iu":
                datatype, data = "INT64", values.ravel().tolist()
            else:
                datatype, data = "BYTES", [str(v) for v in values.ravel().tolist()]
            outputs.append(
                {"name": name, "shape": list(values.shape), "datatype": datatype, "data": data}
            )
        document: dict[str, Any] = {
            "model_name": model,
            "model_version": version,
            "outputs": outputs,
        }
        if request_id is not None:
            document["id"] = request_id
        if self.labels is not None:
            document["parameters"] = {"labels": [_plain(v) for v in self.labels]}
        return json.dumps(document, separators=(",", ":")).encode()


def _csv_value(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    text = str(value)
    if any(ch in text for ch in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
