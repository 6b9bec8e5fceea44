"""Reading a step's Parquet output as pandas, the same way batch by batch as whole.

A step's output is one Parquet file, or a folder of part files (what a Dask step writes,
one per partition, in order). Parts may disagree on a column's type where one partition
had a gap and another had none (``int64`` here, ``double`` there); they are read as one
table would be: each batch cast to the parts' common schema, and a column with a gap
anywhere converted as pandas converts the whole column (an integer column with a null is
``float64`` in every batch, a boolean one ``object``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from queue import Empty, Full, Queue
from typing import Any, Final, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

T = TypeVar("T")


def part_files(path: Path) -> list[Path]:
    """The Parquet files of a step's output, in row order."""
    if path.is_dir():
        return sorted(path.glob("*.parquet"))
    return [path]


@dataclass(frozen=True)
class Parts:
    """The files of one step's output and how to convert their batches to pandas."""

    path: Path

    @cached_property
    def files(self) -> list[Path]:
        return part_files(self.path)

    @cached_property
    def metadata(self) -> list[pq.FileMetaData]:
        return [pq.read_metadata(f) for f in self.files]

    @cached_property
    def schema(self) -> pa.Schema:
        schemas = [m.schema.to_arrow_schema() for m in self.metadata]
        if not schemas:
            raise FileNotFoundError(f"No Parquet file in {self.path}.")
        if len(schemas) == 1:
            return schemas[0]
        return pa.unify_schemas(schemas, promote_options="permissive")

    @cached_property
    def casts(self) -> dict[str, str]:
        """Columns a batch must be cast to, to match the whole table's conversion."""
        nulls: dict[str, bool] = {}
        for meta in self.metadata:
            for rg in range(meta.num_row_groups):
                group = meta.row_group(rg)
                if group.num_rows == 0:
                    continue
                for i in range(group.num_columns):
                    col = group.column(i)
                    stats = col.statistics
                    has = stats is None or not stats.has_null_count or stats.null_count > 0
                    name = col.path_in_schema.split(".")[0]
                    nulls[name] = nulls.get(name, False) or has
        casts: dict[str, str] = {}
        for f in self.schema:
            if not nulls.get(f.name):
                continue
            if pa.types.is_integer(f.type):
                casts[f.name] = "float64"
            elif pa.types.is_boolean(f.type):
                casts[f.name] = "object"
        return casts

    @property
    def names(self) -> list[str]:
        return list(self.schema.names)

    @property
    def num_rows(self) -> int:
        return sum(m.num_rows for m in self.metadata)

    def row_groups(self) -> list[tuple[int, int, int]]:
        """``(file index, row group, first row)`` for every row group, in row order."""
        out, start = [], 0
        for i, meta in enumerate(self.metadata):
            for rg in range(meta.num_row_groups):
                out.append((i, rg, start))
                start += meta.row_group(rg).num_rows
        return out

    def to_pandas(self, batch: pa.RecordBatch | pa.Table) -> pd.DataFrame:
        schema = pa.schema(
            [self.schema.field(n) for n in batch.schema.names], metadata=batch.schema.metadata
        )
        if not batch.schema.equals(schema):
            batch = batch.cast(schema)
        frame = batch.to_pandas()
        for name, dtype in self.casts.items():
            if name in frame.columns and frame[name].dtype != dtype:
                frame[name] = frame[name].astype(dtype)
        return frame

    def empty(self, columns: list[str] | None = None) -> pd.DataFrame:
        schema = self.schema
        if columns is not None:
            schema = pa.schema([schema.field(n) for n in columns])
        return self.to_pandas(schema.empty_table())

    def batches(self, batch_rows: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        for path in self.files:
            file = pq.ParquetFile(path)
            for batch in file.iter_batches(batch_size=batch_rows, columns=columns):
                yield self.to_pandas(batch)

    def row_group(self, file: int, group: int, columns: list[str] | None = None) -> pd.DataFrame:
        table = pq.ParquetFile(self.files[file]).read_row_group(group, columns=columns)
        return self.to_pandas(table)

    def read(self) -> pd.DataFrame:
        tables = [pq.read_table(f) for f in self.files]
        if len(tables) == 1:
            return self.to_pandas(tables[0])
        table = pa.concat_tables(tables, promote_options="permissive")
        return self.to_pandas(table)


_DONE: Final = object()


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced ahead by a thread while the caller works on the previous ones.

    Reading and decoding Parquet release the GIL, so the next batches are read while the
    current one is transformed; at most ``depth`` wait in memory.
    """
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put(exc)

    thread = threading.Thread(target=produce, name="parquet-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                queue.get(timeout=0.1)
            except Empty:
                pass
        thread.join()


class BackgroundWriter:
    """A ParquetWriter fed through a thread: encoding and writing a batch (which release
    the GIL) overlap with making the next one. At most ``depth`` tables wait."""

    def __init__(self, dest: Path, schema: pa.Schema, depth: int = 2) -> None:
        self._writer = pq.ParquetWriter(dest, schema)
        self._queue: Queue[Any] = Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="parquet-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            table = self._queue.get()
            if table is _DONE:
                return
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as exc:
                    self._error = exc

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def close(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error
