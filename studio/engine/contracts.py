"""Plain contracts between the dataset engine and the rest of Sextant.

Everything here is a frozen dataclass (or an exception) with no Django import, so services,
tasks and notebooks can share it. `to_dict()` results are JSON-safe: no NaN or infinity ever
leaves this module (they become None), because browsers and PostgreSQL's jsonb reject them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

#: Every IngestError code the engine raises; the API may translate them, so keep them stable.
INGEST_ERROR_CODES: Final = frozenset(
    {
        "empty_file",
        "binary_file",
        "bad_encoding",
        "unknown_format",
        "ragged_rows",
        "unterminated_quote",
        "bad_csv",
        "duplicate_column",
        "empty_column_name",
        "type_conflict",
        "bad_parquet",
        "bad_json",
        "bad_zip",
        "zip_traversal",
        "zip_bomb",
        "no_images",
    }
)

Scalar = str | int | float | bool | None


class IngestError(Exception):
    """An upload that cannot become a dataset, with a sentence its owner can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[IngestError], tuple[str, str]]:
        # Celery pickles exceptions across processes; keep both fields through the trip.
        return (type(self), (self.code, self.message))


@dataclass(frozen=True)
class ColumnSchema:
    """One column of an ingested table: its name, Arrow type string and whether it has nulls."""

    name: str
    dtype: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "nullable": self.nullable}


@dataclass(frozen=True)
class IngestResult:
    """What an ingestion produced: row count, columns, source format and bytes consumed."""

    num_rows: int
    columns: tuple[ColumnSchema, ...]
    format: str
    bytes_read: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_rows": self.num_rows,
            "columns": [c.to_dict() for c in self.columns],
            "format": self.format,
            "bytes_read": self.bytes_read,
        }


@dataclass(frozen=True)
class ValueCount:
    """A frequent value of a column and how many rows hold it."""

    value: Scalar
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": json_safe_scalar(self.value), "count": self.count}


@dataclass(frozen=True)
class Histogram:
    """Equal-width bins: `edges` has one more entry than `counts` (datetimes in epoch seconds)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"edges": [json_safe_scalar(e) for e in self.edges], "counts": list(self.counts)}


@dataclass(frozen=True)
class ColumnProfile:
    """Summary statistics of one column; `approximate` flags sketched distinct/top counts."""

    name: str
    dtype: str
    kind: str  # "numeric" | "categorical" | "datetime" | "boolean" | "text"
    count: int
    missing: int
    missing_pct: float
    distinct: int | None = None
    approximate: bool = False
    min: Scalar = None
    max: Scalar = None
    mean: float | None = None
    std: float | None = None
    top_values: tuple[ValueCount, ...] = ()
    histogram: Histogram | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "missing_pct": json_safe_scalar(self.missing_pct),
            "distinct": self.distinct,
            "approximate": self.approximate,
            "min": json_safe_scalar(self.min),
            "max": json_safe_scalar(self.max),
            "mean": json_safe_scalar(self.mean),
            "std": json_safe_scalar(self.std),
            "top_values": [v.to_dict() for v in self.top_values],
            "histogram": self.histogram.to_dict() if self.histogram is not None else None,
        }


@dataclass(frozen=True)
class DatasetProfile:
    """Per-column profiles of a whole dataset."""

    num_rows: int
    columns: tuple[ColumnProfile, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"num_rows": self.num_rows, "columns": [c.to_dict() for c in self.columns]}


def json_safe_scalar(value: Scalar) -> Scalar:
    """Return `value` unless it is a float that JSON cannot carry (NaN, ±inf): then None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
