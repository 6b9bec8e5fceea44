"""Turn an uploaded table (csv, tsv, jsonl, parquet) into one normalized Parquet file.

Invariants:
- No input is ever read whole: text is streamed block by block and Parquet batch by batch,
  so memory stays bounded whatever the upload's size (pyarrow's CSV reader reads a few dozen
  blocks ahead, so memory is roughly 30 x block_size at most).
- Nothing is ever half-written at a destination: output goes to a temporary name beside it
  and is renamed into place only once complete; on failure the temporary output is deleted.
- Uploaded names never become paths: the format comes from the suffix alone.
- Every failure the uploader can fix is an IngestError with a stable code and a sentence.

ZIPs of images are handled by `studio.engine.images` and re-exported here.
"""

from __future__ import annotations

import codecs
import datetime as dt
import decimal
import io
import math
import os
import queue
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from studio.engine.contracts import ColumnSchema, IngestError, IngestResult

# Re-exported: ingestion of every upload kind is reached through this module.
from studio.engine.images import MANIFEST_SCHEMA, ingest_images_zip
from studio.engine.progress import ProgressCallback, ThrottledProgress

SNIFF_BYTES: Final = 64 << 10
_SUFFIX_FORMATS: Final = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".zip": "images",
}
TABULAR_FORMATS: Final = frozenset({"csv", "tsv", "parquet", "jsonl"})
_TEXT_FORMATS: Final = frozenset({"csv", "tsv", "jsonl"})
# Each widening restarts the conversion from the top, so a pathological file cannot loop.
MAX_TYPE_RESTARTS: Final = 10
_PARQUET_BATCH_ROWS: Final = 128 * 1024

# --------------------------------------------------------------------------- format & sniff


def detect_format(filename: str) -> str:
    """Return the dataset format implied by `filename`'s suffix, or raise unknown_format."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    fmt = _SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(_SUFFIX_FORMATS))
        shown = suffix or "no extension"
        raise IngestError(
            "unknown_format",
            f"Files of type {shown!r} are not supported; upload one of {known}.",
        )
    return fmt


def sniff(path: Path, fmt: str) -> None:
    """Cheaply reject obviously wrong uploads by looking at their first 64 KiB (and tail).

    Meant for the web process right after an upload: it never parses the file.
    """
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty_file", "The file is empty.")
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
        if fmt in _TEXT_FORMATS:
            _sniff_text(head, fmt, at_eof=size <= SNIFF_BYTES)
        elif fmt == "parquet":
            f.seek(max(size - 4, 0))
            tail = f.read(4)
            if size < 12 or head[:4] != b"PAR1" or tail != b"PAR1":
                raise IngestError("bad_parquet", "This is not a Parquet file.")
        elif fmt == "images":
            if not zipfile.is_zipfile(f):
                raise IngestError("bad_zip", "This is not a ZIP archive.")
        else:
            raise ValueError(f"unknown format {fmt!r}")


def _sniff_text(head: bytes, fmt: str, *, at_eof: bool) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Spreadsheet "Unicode text" exports are UTF-16: full of NULs but not binary.
        raise IngestError(
            "bad_encoding", "The file is UTF-16 text; save it as UTF-8 and upload it again."
        )
    if b"\x00" in head:
        raise IngestError("binary_file", "This looks like a binary file, not text.")
    try:
        # An incremental decoder tolerates a multibyte character cut at the 64 KiB mark.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=at_eof)
    except UnicodeDecodeError as exc:
        # Random bytes are full of control characters; text in a legacy encoding is not.
        controls = sum(head.count(bytes([c])) for c in (*range(1, 9), *range(14, 32), 127))
        if controls > len(head) // 50:
            raise IngestError("binary_file", "This looks like a binary file, not text.")
        raise IngestError(
            "bad_encoding",
            f"The file is not UTF-8 text (invalid byte at position {exc.start}); "
            "save it as UTF-8 and upload it again.",
        )
    if fmt == "jsonl":
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if first and first != b"{":
            raise IngestError("bad_json", "Each line of a JSON Lines file must be a JSON object.")


# --------------------------------------------------------------------------- tabular


def ingest_tabular(
    src: Path,
    fmt: str,
    dest: Path,
    *,
    on_progress: ProgressCallback | None = None,
    block_size: int = 1 << 20,
) -> IngestResult:
    """Convert a csv/tsv/jsonl/parquet file into one Parquet file at `dest`, streaming.

    Column types are inferred (ints with gaps stay int64, ISO dates stay dates) and widened
    with a restart if a later block disagrees. `dest` appears only when complete.
    """
    if fmt not in TABULAR_FORMATS:
        raise ValueError(f"not a tabular format: {fmt!r}")
    total = src.stat().st_size
    # The web process normally sniffed already; repeating it is cheap and keeps this
    # function safe to call on its own (and gives binary junk its proper error).
    sniff(src, fmt)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    progress = ThrottledProgress(on_progress)
    try:
        if fmt == "parquet":
            out = _parquet_to_parquet(src, tmp, progress)
        elif fmt == "jsonl":
            out = _with_restarts(lambda plan: _jsonl_attempt(src, tmp, plan, block_size, progress))
        else:
            delimiter = "\t" if fmt == "tsv" else ","
            out = _with_restarts(
                lambda plan: _csv_attempt(src, tmp, plan, delimiter, block_size, progress)
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    progress(1.0)
    return IngestResult(num_rows=out.num_rows, columns=out.columns, format=fmt, bytes_read=total)


@dataclass(frozen=True)
class _Written:
    """Rows and columns of one successful conversion attempt."""

    num_rows: int
    columns: tuple[ColumnSchema, ...]


@dataclass(frozen=True)
class _TypePlan:
    """Column types forced on a conversion attempt after earlier attempts proved inference wrong."""

    types: tuple[tuple[str, pa.DataType], ...] = ()
    # For JSON only: the unified schema of the whole file, found by a scan after a conflict.
    schema: pa.Schema | None = None

    def with_type(self, name: str, dtype: pa.DataType) -> _TypePlan:
        types = dict(self.types)
        types[name] = dtype
        return _TypePlan(types=tuple(types.items()), schema=self.schema)


class _Restart(Exception):
    """Raised inside an attempt when the file must be converted again with `plan`."""

    def __init__(self, plan: _TypePlan) -> None:
        super().__init__()
        self.plan = plan


def _with_restarts(attempt: Callable[[_TypePlan], _Written]) -> _Written:
    plan = _TypePlan()
    for _ in range(MAX_TYPE_RESTARTS + 1):
        try:
            return attempt(plan)
        except _Restart as restart:
            plan = restart.plan
    raise _type_conflict()


def _type_conflict() -> IngestError:
    return IngestError(
        "type_conflict",
        "The column types keep changing further down the file; "
        "make each column hold one kind of value.",
    )


class _CountingReader(io.RawIOBase):
    """A read-only stream that counts bytes (for progress) and ends with a newline.

    pyarrow's CSV reader rejects a header-only file without a final newline; adding the
    missing one makes "a,b" and "a,b\\n" behave alike and changes nothing else.
    """

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self._raw = raw
        self.bytes_read = 0
        self.added_newline = False
        self._last_byte = b"\n"
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._done or len(view) == 0:
            return 0
        # BufferedReader fills the buffer unless it reaches the end of the file.
        n = self._raw.readinto(view)
        self.bytes_read += n
        if n:
            self._last_byte = bytes(view[n - 1 : n])
        if n < len(view):
            self._done = True
            # The newline must arrive in the same read as the last line, or pyarrow has
            # already judged a lone unterminated header to be an "empty block".
            if self.bytes_read > 0 and self._last_byte not in (b"\n", b"\r"):
                self.added_newline = True
                view[n] = ord("\n")
                n += 1
        return n


def _storage_type(dtype: pa.DataType) -> pa.DataType:
    """The type a column is stored as: plain strings, decoded dictionaries, no null type."""
    if pa.types.is_dictionary(dtype):
        return _storage_type(dtype.value_type)
    if pa.types.is_large_string(dtype) or pa.types.is_null(dtype):
        # A column with no values at all has no type; string is the neutral choice downstream.
        return pa.string()
    return dtype


def _storage_schema(schema: pa.Schema) -> pa.Schema:
    fields = [pa.field(f.name, _storage_type(f.type)) for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _check_column_names(names: list[str]) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name == "":
            raise IngestError(
                "empty_column_name", f"Column {position} has no name; give every column a name."
            )
        if name in seen:
            raise IngestError(
                "duplicate_column",
                f"The column name {name!r} appears more than once; column names must be unique.",
            )
        seen.add(name)


class _NullCounter:
    """Accumulates rows and per-column null counts over the batches actually written."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.num_rows = 0
        self.nulls = [0] * len(schema)

    def add(self, table: pa.Table | pa.RecordBatch) -> None:
        self.num_rows += table.num_rows
        for i, column in enumerate(table.columns):
            self.nulls[i] += column.null_count

    def result(self) -> _Written:
        columns = tuple(
            ColumnSchema(name=f.name, dtype=str(f.type), nullable=self.nulls[i] > 0)
            for i, f in enumerate(self.schema)
        )
        return _Written(num_rows=self.num_rows, columns=columns)


# ---- CSV / TSV

_END: Final = object()
# Small parse blocks bound memory; row groups are made of several of them so the Parquet
# file keeps large row groups (fewer, better-compressed column chunks) all the same.
_MIN_ROW_GROUP_ROWS: Final = 1 << 16


class _RowGroups:
    """Collects small tables and writes them as row groups of at least ``min_rows`` rows."""

    def __init__(self, writer: pq.ParquetWriter, min_rows: int = _MIN_ROW_GROUP_ROWS) -> None:
        self.writer = writer
        self.min_rows = min_rows
        self.pending: list[pa.Table] = []
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= self.min_rows:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending))
            self.pending, self.rows = [], 0


class _Prefetch:
    """Parses the next CSV block on a thread while the caller encodes the previous one.

    pyarrow releases the GIL both when parsing and when writing Parquet, so the two overlap
    on two cores; ``depth`` bounds how many parsed batches wait, which bounds memory. It is
    deep enough (16 one-MiB blocks) for parsing to go on while a whole row group is written.
    """

    def __init__(self, read_next: Callable[[], pa.RecordBatch], depth: int = 16) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(read_next,), daemon=True)
        self._thread.start()

    def _pump(self, read_next: Callable[[], pa.RecordBatch]) -> None:
        while not self._stop.is_set():
            item: object
            try:
                item = read_next()
            except StopIteration:
                item = _END
            except BaseException as exc:  # re-raised in the caller's thread
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item is _END or isinstance(item, BaseException):
                return

    def next(self) -> pa.RecordBatch:
        item = self._queue.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


_CONVERSION_ERROR = re.compile(
    r"In CSV column #(\d+): CSV conversion error to (.+?): invalid value '(.*)'$", re.DOTALL
)
# pyarrow quotes the offending row, cut to 96 characters plus " ..." when longer.
_RAGGED_ERROR = re.compile(r"Expected (\d+) columns, got (\d+): (.*)$", re.DOTALL)
_TRUNCATION_MARK: Final = " ..."


def _csv_attempt(
    src: Path,
    tmp: Path,
    plan: _TypePlan,
    delimiter: str,
    block_size: int,
    progress: ThrottledProgress,
) -> _Written:
    total = src.stat().st_size
    with src.open("rb") as raw:
        stream = _CountingReader(raw)
        read_options = pacsv.ReadOptions(block_size=block_size)
        # Quoted values may legitimately span lines (spreadsheet exports do this).
        parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
        # Empty cells (and "NA", "null", ...) are missing in text columns too, as they are
        # in numeric ones and in pandas, so profiles and models see them as gaps.
        convert_options = pacsv.ConvertOptions(
            column_types=dict(plan.types), strings_can_be_null=True
        )
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowInvalid as exc:
            raise _csv_error(exc, src, plan, None)
        names = reader.schema.names
        _check_column_names(names)
        for field in reader.schema:
            if pa.types.is_binary(field.type):
                # Inference falls back to binary exactly when a column is not valid UTF-8.
                raise IngestError(
                    "bad_encoding",
                    f"Column {field.name!r} is not UTF-8 text; save the file as UTF-8 "
                    "and upload it again.",
                )
        schema = _storage_schema(reader.schema)
        counter = _NullCounter(schema)
        last_batch: pa.RecordBatch | None = None
        batches = _Prefetch(reader.read_next_batch)
        try:
            with pq.ParquetWriter(tmp, schema) as writer:
                groups = _RowGroups(writer)
                while True:
                    try:
                        batch = batches.next()
                    except StopIteration:
                        groups.flush()
                        break
                    except pa.ArrowInvalid as exc:
                        raise _csv_error(exc, src, plan, reader.schema)
                    table = pa.Table.from_batches([batch]).cast(schema)
                    groups.write(table)
                    counter.add(table)
                    if batch.num_rows:
                        last_batch = batch
                    progress(stream.bytes_read / total)
        finally:
            batches.close()
        if last_batch is not None:
            _check_unterminated_tail(src, last_batch, added_newline=stream.added_newline)
    return counter.result()


def _csv_error(
    exc: pa.ArrowInvalid,
    src: Path,
    plan: _TypePlan,
    schema: pa.Schema | None,
) -> Exception:
    """Translate a pyarrow CSV failure into a restart with a wider type or an IngestError."""
    text = str(exc)
    if "invalid UTF8" in text:
        return IngestError(
            "bad_encoding",
            "The file is not valid UTF-8 text; save it as UTF-8 and upload it again.",
        )
    conversion = _CONVERSION_ERROR.search(text)
    if conversion is not None:
        index, current, value = int(conversion[1]), conversion[2], conversion[3]
        if schema is not None:
            name: str | None = schema.field(index).name
        else:
            # open_csv failed on the first block, so a type forced by the plan was too narrow.
            name = _forced_column(plan, current)
        if name is None:
            return _type_conflict()
        current_type = schema.field(index).type if schema is not None else dict(plan.types)[name]
        return _Restart(plan.with_type(name, _widen(current_type, value)))
    if "Empty CSV file" in text:
        return IngestError("empty_file", "The file has no header row.")
    ragged = _RAGGED_ERROR.search(text)
    if ragged is not None:
        return _ragged_error(src, int(ragged[1]), int(ragged[2]), ragged[3])
    if "straddles two block boundaries" in text or "out of sync with chunker" in text:
        return IngestError(
            "unterminated_quote",
            'A quoted value is never closed: a " opens a value that runs to the end of the '
            "file (or a single value is larger than the reader's block).",
        )
    return IngestError("bad_csv", f"The file could not be read as CSV: {text}")


def _forced_column(plan: _TypePlan, type_name: str) -> str | None:
    for name, dtype in plan.types:
        if str(dtype) == type_name:
            return name
    return None


def _widen(current: pa.DataType, value: str) -> pa.DataType:
    """The narrowest type that holds both what inference saw and the value that broke it."""
    if pa.types.is_null(current):
        # Inference saw only empty cells; guess from the first real value.
        if _parses(int, value):
            return pa.int64()
        if _parses(float, value):
            return pa.float64()
        return pa.string()
    if pa.types.is_integer(current) and _parses(float, value):
        return pa.float64()
    return pa.string()


def _parses(kind: Callable[[str], object], value: str) -> bool:
    try:
        kind(value.strip())
    except ValueError:
        return False
    return True


def _ragged_error(src: Path, expected: int, actual: int, row_text: str) -> IngestError:
    # Streaming pyarrow knows no row numbers, so find the quoted row's line (error path only).
    first_line = row_text.splitlines()[0] if row_text else ""
    truncated = first_line.endswith(_TRUNCATION_MARK) and len(first_line) > 96
    if truncated:
        first_line = first_line.removesuffix(_TRUNCATION_MARK)
    line = _find_line(src, first_line, prefix=truncated)
    where = f"Line {line}" if line is not None else "A row"
    if '"' in row_text and ("\n" in row_text or "\r" in row_text):
        # A never-closed quote swallows the following lines, so the row comes out short.
        return IngestError(
            "unterminated_quote", f'{where} opens a quoted value (") that is never closed.'
        )
    shown = row_text if len(row_text) <= 120 else row_text[:117] + "..."
    return IngestError(
        "ragged_rows",
        f"{where} has {actual} fields where the header has {expected}: {shown!r}.",
    )


def _find_line(src: Path, first_line: str, *, prefix: bool) -> int | None:
    """1-based number of the first physical line equal to (or starting with) `first_line`."""
    wanted = first_line.encode("utf-8", "replace")
    with src.open("rb") as f:
        for number, line in enumerate(f, start=1):
            content = line.rstrip(b"\r\n")
            if content == wanted or (prefix and content.startswith(wanted)):
                return number
    return None


def _check_unterminated_tail(src: Path, last_batch: pa.RecordBatch, *, added_newline: bool) -> None:
    """Detect a quote opened in the last column of the last row and never closed.

    pyarrow silently accepts such a value and lets it run to the end of the file, so the
    last value then contains line breaks and is byte-for-byte the file's tail.
    """
    value = last_batch.column(last_batch.num_columns - 1)[last_batch.num_rows - 1].as_py()
    if not isinstance(value, str) or ("\n" not in value and "\r" not in value):
        return
    encoded = value.encode("utf-8")
    suffix = b"\n" if added_newline else b""
    want = len(encoded) - len(suffix)
    size = src.stat().st_size
    if want <= 0 or want > size:
        return
    with src.open("rb") as f:
        f.seek(size - want)
        tail = f.read(want) + suffix
    if tail == encoded:
        raise IngestError(
            "unterminated_quote",
            'The last row opens a quoted value (") that is never closed.',
        )


# ---- JSON Lines


def _iter_line_chunks(f: IO[bytes], block_size: int) -> Iterator[tuple[int, bytes]]:
    """Yield (bytes consumed so far, chunk) where every chunk ends on a line boundary."""
    pending = bytearray()
    consumed = 0
    while True:
        block = f.read(block_size)
        consumed += len(block)
        if not block:
            if pending.strip():
                yield consumed, bytes(pending)
            return
        searched = len(pending)
        pending += block
        # Search only the new bytes, so a line longer than a block costs linear time.
        cut = pending.rfind(b"\n", searched)
        if cut < 0:
            continue
        chunk = bytes(pending[: cut + 1])
        del pending[: cut + 1]
        yield consumed, chunk


_JSON_ROW = re.compile(r"in row (\d+)")
_JSON_CHANGED = re.compile(r"Column\(([^)]*)\) changed from (\w+) to (\w+)")


def _read_json_chunk(chunk: bytes, plan: _TypePlan, first_line: int) -> pa.Table:
    explicit = pa.schema(list(plan.types)) if plan.types else None
    parse_options = pajson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer")
    # One pyarrow block per chunk, so a line can never straddle pyarrow's own blocks.
    read_options = pajson.ReadOptions(block_size=max(len(chunk) + 1, 1 << 16))
    try:
        table = pajson.read_json(
            io.BytesIO(chunk), read_options=read_options, parse_options=parse_options
        )
    except pa.ArrowInvalid as exc:
        raise _json_error(str(exc), chunk, first_line)
    try:
        # pyarrow's JSON reader does not check UTF-8 in strings; Parquet requires it.
        table.validate(full=True)
    except pa.ArrowInvalid:
        raise IngestError(
            "bad_encoding",
            "The file is not valid UTF-8 text; save it as UTF-8 and upload it again.",
        )
    return table


def _json_error(text: str, chunk: bytes, first_line: int) -> IngestError:
    row = _JSON_ROW.search(text)
    line = _json_line_of_row(chunk, int(row[1])) if row else None
    where = f"Line {first_line + line}" if line is not None else "A line"
    changed = _JSON_CHANGED.search(text)
    if changed is not None:
        column = changed[1].lstrip("/")
        if column == "":
            return IngestError("bad_json", f"{where} is not a JSON object.")
        return IngestError(
            "bad_json",
            f"{where}: field {column!r} holds a {changed[3]} where earlier lines hold a "
            f"{changed[2]}; a field must keep one kind of value.",
        )
    detail = text.removeprefix("JSON parse error: ")
    detail = _JSON_ROW.sub("", detail).strip().rstrip(".")
    return IngestError("bad_json", f"{where} is not valid JSON: {detail}.")


def _json_line_of_row(chunk: bytes, row: int) -> int | None:
    """0-based line offset of pyarrow's `row`, which counts only non-blank lines."""
    seen = -1
    for offset, line in enumerate(chunk.split(b"\n")):
        if line.strip():
            seen += 1
            if seen == row:
                return offset
    return None


def _merge_json_field(
    field: pa.Field, current: pa.DataType, plan: _TypePlan
) -> tuple[pa.DataType, _TypePlan]:
    """Unify a column's type across chunks; timestamps that meet text become raw text."""
    incoming = field.type
    if incoming == current or pa.types.is_null(incoming):
        return current, plan
    temporal = (pa.types.is_timestamp(current), pa.types.is_timestamp(incoming))
    textual = (pa.types.is_string(current), pa.types.is_string(incoming))
    if any(temporal) and (any(textual) or all(temporal)):
        # Forcing string keeps ISO-looking values exactly as written instead of re-formatting.
        return pa.string(), plan.with_type(field.name, pa.string())
    try:
        merged = pa.unify_schemas(
            [pa.schema([pa.field(field.name, current)]), pa.schema([field])],
            promote_options="permissive",
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise IngestError(
            "bad_json",
            f"Field {field.name!r} holds both {current} and {incoming} values; "
            "a field must keep one kind of value.",
        )
    return merged.field(0).type, plan


def _jsonl_attempt(
    src: Path, tmp: Path, plan: _TypePlan, block_size: int, progress: ThrottledProgress
) -> _Written:
    total = src.stat().st_size
    # The working schema keeps null types (fields never seen with a value) so that a later
    # value can still decide their type; the written schema stores them as strings.
    working = plan.schema
    writer: pq.ParquetWriter | None = None
    counter: _NullCounter | None = None
    # Once a chunk disagrees with the schema being written, scan the rest of the file
    # without writing so that a single restart settles every column at once.
    scanning = False
    line = 1
    try:
        with src.open("rb") as f:
            for consumed, chunk in _iter_line_chunks(f, block_size):
                table = _read_json_chunk(chunk, plan, line)
                line += chunk.count(b"\n")
                if table.num_columns == 0:
                    continue
                _check_column_names(table.column_names)
                if working is None:
                    working = table.schema
                merged, plan = _merge_json_schema(working, table.schema, plan)
                if not merged.equals(working):
                    working, scanning = merged, True
                if scanning:
                    continue
                if writer is None or counter is None:
                    stored = _storage_schema(working)
                    writer = pq.ParquetWriter(tmp, stored)
                    counter = _NullCounter(stored)
                aligned = _align(table, counter.schema)
                writer.write_table(aligned)
                counter.add(aligned)
                progress(consumed / total)
    finally:
        if writer is not None:
            writer.close()
    if scanning:
        raise _Restart(_TypePlan(types=plan.types, schema=working))
    if counter is None:
        raise IngestError("empty_file", "The file holds no JSON objects.")
    return counter.result()


def _merge_json_schema(
    schema: pa.Schema, incoming: pa.Schema, plan: _TypePlan
) -> tuple[pa.Schema, _TypePlan]:
    fields = {f.name: f.type for f in schema}
    for field in incoming:
        if field.name not in fields:
            fields[field.name] = field.type
            continue
        fields[field.name], plan = _merge_json_field(field, fields[field.name], plan)
    merged = pa.schema([pa.field(name, dtype) for name, dtype in fields.items()])
    return merged, plan


def _align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder, fill absent fields with nulls and cast a chunk to the file's schema."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            try:
                columns.append(column.cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise IngestError(
                    "bad_json",
                    f"Field {field.name!r} holds values that do not fit {field.type}.",
                )
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


# ---- Parquet


def _parquet_to_parquet(src: Path, tmp: Path, progress: ThrottledProgress) -> _Written:
    try:
        source = pq.ParquetFile(src)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError("bad_parquet", f"The Parquet file cannot be read: {exc}.")
    with source:
        schema = _storage_schema(source.schema_arrow)
        _check_column_names(schema.names)
        total_rows = max(source.metadata.num_rows, 1)
        counter = _NullCounter(schema)
        with pq.ParquetWriter(tmp, schema) as writer:
            try:
                # Batches rather than whole row groups: a writer may have made them huge.
                for batch in source.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                    table = pa.Table.from_batches([batch]).cast(schema)
                    writer.write_table(table)
                    counter.add(table)
                    progress(counter.num_rows / total_rows)
            except (pa.ArrowException, OSError) as exc:
                raise IngestError("bad_parquet", f"The Parquet file is damaged: {exc}.")
    return counter.result()


# --------------------------------------------------------------------------- preview


def preview_parquet(path: Path, limit: int = 100) -> tuple[list[str], list[list[object]]]:
    """Column names and up to `limit` JSON-safe rows, reading only the first batch needed."""
    rows: list[list[object]] = []
    with pq.ParquetFile(path) as source:
        names = list(source.schema_arrow.names)
        if limit <= 0:
            return names, []
        for batch in source.iter_batches(batch_size=limit):
            columns = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns, strict=True):
                rows.append([_json_value(v) for v in values])
            if len(rows) >= limit:
                break
    return names, rows[:limit]


def _json_value(value: object) -> object:
    """Make one Arrow-produced Python value safe for json.dumps (strict mode)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return _json_value(float(value))
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


__all__ = [
    "MANIFEST_SCHEMA",
    "TABULAR_FORMATS",
    "detect_format",
    "ingest_images_zip",
    "ingest_tabular",
    "preview_parquet",
    "sniff",
]


def parquet_columns(path: Path) -> tuple[int, list[ColumnSchema]]:
    """Row count and columns of a Parquet file, from its footer alone."""
    meta = pq.read_metadata(path)
    schema = meta.schema.to_arrow_schema()
    nulls = [0] * len(schema)
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for i in range(group.num_columns):
            column = group.column(i)
            top = column.path_in_schema.split(".")[0]
            if top not in schema.names:
                continue
            stats = column.statistics
            # Without statistics, say the column may hold nulls rather than guess.
            has_nulls = stats is None or not stats.has_null_count or stats.null_count > 0
            nulls[schema.get_field_index(top)] += int(has_nulls)
    columns = [
        ColumnSchema(name=f.name, dtype=str(f.type), nullable=nulls[i] > 0)
        for i, f in enumerate(schema)
    ]
    return meta.num_rows, columns
