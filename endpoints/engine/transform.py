"""Batch transform: a trained model scores a whole Parquet file into a Parquet file of
predictions, batch by batch, on one or several instances.

Run as a program by a worker, in a limited subprocess (the model archive is a pickle)::

    python -m endpoints.engine.transform spec.json

where ``spec.json`` holds :class:`TransformSpec`'s fields. It prints one JSON object per
line — ``{"message"}``, ``{"progress", "rows_done"}``, and at the end ``{"result"}`` or
``{"error": {"message", "field"}}`` (exit status 1) — and writes ``result.json`` beside it.

How the work is split: the input's row groups are cut into ``instance_count`` contiguous
runs of about equal rows. Each run is scored by its own process (its own copy of the model,
true parallelism) into a part file; the parts are then copied, row group by row group, into
the output in their order. One instance, or one row group, scores in this process.

Invariants:
- The output has one row per input row, in the input's order, whatever the split.
- An instance holds one input batch and at most one output row group in memory, never the
  whole table.
- The output's columns are the joined input columns (as stored, same types), then the
  model's output columns (:meth:`TrainedModel.predict`).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.engine.artifact import TrainedModel, load, read_metadata

#: The checkout, for the instances' imports.
ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_BATCH_ROWS: Final = 10_000
MAX_BATCH_ROWS: Final = 1_000_000
MAX_INSTANCES: Final = 16
#: Output row groups gather batches up to this many rows: small batches must not make a
#: file of thousands of tiny row groups that every later reader pays for.
ROW_GROUP_ROWS: Final = 1 << 16
#: ``join_input`` that copies every input column.
ALL_COLUMNS: Final = "*"
#: Problems whose model gives one output row per input row; a forecaster reads whole series.
ROW_PROBLEMS: Final = frozenset(
    {
        "binary_classification",
        "multiclass_classification",
        "regression",
        "clustering",
        "dimensionality_reduction",
        "anomaly_detection",
    }
)

Progress = Callable[[int], None]
Say = Callable[[str], None]


class TransformError(Exception):
    """The transform cannot run or went wrong: ``message`` for people, ``field`` at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class TransformSpec:
    """What to score with which model, where to write it, and how to split the work."""

    input: Path
    model: Path
    output: Path
    batch_rows: int = DEFAULT_BATCH_ROWS
    instance_count: int = 1
    join_input: tuple[str, ...] = ()
    #: Where instances write their parts (default: beside the output).
    workdir: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("input", "model", "output", "workdir"):
            out[key] = str(out[key]) if out[key] is not None else None
        out["join_input"] = list(self.join_input)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformSpec:
        workdir = data.get("workdir")
        return cls(
            input=Path(data["input"]),
            model=Path(data["model"]),
            output=Path(data["output"]),
            batch_rows=int(data.get("batch_rows") or DEFAULT_BATCH_ROWS),
            instance_count=int(data.get("instance_count") or 1),
            join_input=tuple(str(c) for c in data.get("join_input") or ()),
            workdir=Path(workdir) if workdir else None,
        )


@dataclass(frozen=True)
class TransformResult:
    """What was written: rows, the output's columns, the instances that scored, seconds."""

    rows: int
    columns: tuple[str, ...]
    instances: int
    seconds: float
    row_groups: int = 0
    parts: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["columns"], out["parts"] = list(self.columns), list(self.parts)
        return out


# --- checks, shared with the service that accepts a transform -------------------------------
def prediction_columns(metadata: dict[str, Any]) -> list[str] | None:
    """The columns :meth:`TrainedModel.predict` gives for a model with this metadata; None
    where only the model knows (the components of a dimensionality reduction)."""
    problem = str(metadata.get("problem_type") or "")
    if problem in ("binary_classification", "multiclass_classification"):
        classes = list(metadata.get("classes") or [])
        return ["predicted_label", *(f"probability_{c}" for c in classes)]
    return {
        "regression": ["prediction"],
        "clustering": ["cluster", "distance"],
        "anomaly_detection": ["score", "is_anomaly"],
    }.get(problem)


def model_columns(metadata: dict[str, Any]) -> list[str]:
    """The input columns the model reads, in its order."""
    return [str(c["name"]) for c in metadata.get("input_schema") or []]


def check_model(metadata: dict[str, Any]) -> None:
    problem = str(metadata.get("problem_type") or "")
    if problem == "forecasting":
        raise TransformError(
            "A forecasting model forecasts from whole series, not row by row: batch transform "
            "scores models that give one prediction per row.",
            "model_package",
        )
    if problem not in ROW_PROBLEMS:
        raise TransformError(f"Unknown problem type {problem!r} in the model.", "model_package")
    if not model_columns(metadata):
        raise TransformError("The model names no input columns.", "model_package")


def resolve_join(join_input: Sequence[str], available: Sequence[str]) -> list[str]:
    """The input columns to copy, in order: ``["*"]`` is every column of the input."""
    if list(join_input) == [ALL_COLUMNS]:
        return list(available)
    if ALL_COLUMNS in join_input:
        raise TransformError('"*" joins every input column: give it alone.', "join_input")
    known = set(available)
    seen: set[str] = set()
    for name in join_input:
        if name not in known:
            raise TransformError(f"The dataset has no column {name!r} to join.", "join_input")
        if name in seen:
            raise TransformError(f"Column {name!r} is joined twice.", "join_input")
        seen.add(name)
    return list(join_input)


def check_columns(
    metadata: dict[str, Any], available: Sequence[str], join_input: Sequence[str]
) -> list[str]:
    """Check the input has what the model reads and what is to be joined, and that no joined
    column would take a prediction's name; returns the joined columns."""
    check_model(metadata)
    known = set(available)
    missing = [c for c in model_columns(metadata) if c not in known]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise TransformError(
            f"The dataset has no column {missing[0]!r}{more}, which the model reads.", "dataset"
        )
    joined = resolve_join(join_input, available)
    clash = sorted(set(joined) & set(prediction_columns(metadata) or []))
    if clash:
        raise TransformError(
            f"Input column {clash[0]!r} has the name of a prediction column: leave it out "
            "of join_input.",
            "join_input",
        )
    return joined


def check_sizes(batch_rows: int, instance_count: int) -> None:
    if not 1 <= batch_rows <= MAX_BATCH_ROWS:
        raise TransformError(f"batch_rows is from 1 to {MAX_BATCH_ROWS:,}.", "batch_rows")
    if not 1 <= instance_count <= MAX_INSTANCES:
        raise TransformError(f"instance_count is from 1 to {MAX_INSTANCES}.", "instance_count")


# --- the split -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """A contiguous run of row groups, and the input row its first row is."""

    row_groups: tuple[int, ...]
    first_row: int
    rows: int


def plan(group_rows: Sequence[int], instances: int) -> list[Shard]:
    """Cut row groups (their row counts, in order) into at most ``instances`` contiguous
    runs of about equal rows; empty row groups are left out."""
    total = sum(group_rows)
    runs: list[list[int]] = [[] for _ in range(max(1, instances))]
    before = 0
    for index, rows in enumerate(group_rows):
        if rows > 0:
            # The run a group falls in is where its middle row lies: equal rows per run.
            middle = before + rows / 2
            runs[min(len(runs) - 1, int(middle * len(runs) / total))].append(index)
        before += rows
    shards: list[Shard] = []
    offsets = [0]
    for rows in group_rows:
        offsets.append(offsets[-1] + rows)
    for groups in runs:
        if groups:
            first = offsets[groups[0]]
            shards.append(Shard(tuple(groups), first, offsets[groups[-1] + 1] - first))
    return shards


# --- scoring ---------------------------------------------------------------------------------
class _Sink:
    """A Parquet writer that gathers tables into row groups of ``min_rows`` rows and holds
    every table to the first one's schema (a later batch of another type is an error)."""

    def __init__(self, path: Path, min_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = path
        self.min_rows = min_rows
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows = 0
        self.row_groups = 0

    def write(self, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.pending.append(conform(table, self.schema))
        self.pending_rows += table.num_rows
        if self.pending_rows >= self.min_rows:
            self.flush()

    def flush(self) -> None:
        if self.pending and self.writer is not None:
            self.writer.write_table(pa.concat_tables(self.pending))
            self.rows += self.pending_rows
            self.row_groups += 1
        self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``'s columns and types (a cast where they differ)."""
    if table.schema.equals(schema):
        return table
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, KeyError) as exc:
        raise TransformError(
            f"The model's output changed between batches ({exc}); the output needs one type "
            "per column."
        ) from None


def _predict(
    model: TrainedModel, batch: pa.RecordBatch, reads: list[str], first_row: int
) -> pa.Table:
    frame = batch.select(reads).to_pandas()  # joined columns never go through pandas
    try:
        predicted = model.predict(frame)
    except Exception as exc:
        raise TransformError(
            f"The model failed on rows {first_row + 1:,}–{first_row + batch.num_rows:,}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(predicted, pd.DataFrame) or len(predicted) != batch.num_rows:
        got = len(predicted) if isinstance(predicted, pd.DataFrame) else type(predicted).__name__
        raise TransformError(f"The model gave {got} rows of output for {batch.num_rows} rows.")
    try:
        table = pa.Table.from_pandas(predicted.reset_index(drop=True), preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise TransformError(f"The model's output cannot be stored as Parquet: {exc}") from None
    return table.replace_schema_metadata(None)


def score(
    spec: TransformSpec,
    model: TrainedModel,
    shard: Shard,
    output: Path,
    joined: Sequence[str],
    on_rows: Progress | None = None,
) -> int:
    """Score ``shard`` of the input into ``output``; ``on_rows`` gets each batch's row count.
    Returns the rows written."""
    source = pq.ParquetFile(spec.input)
    names = source.schema_arrow.names
    wanted = set(model_columns(model.metadata)) | set(joined)
    columns = [n for n in names if n in wanted]  # only what is needed leaves the disk
    reads = model_columns(model.metadata)
    sink = _Sink(output)
    row = shard.first_row
    try:
        for batch in source.iter_batches(
            batch_size=spec.batch_rows, row_groups=list(shard.row_groups), columns=columns
        ):
            if batch.num_rows == 0:
                continue
            predicted = _predict(model, batch, reads, row)
            arrays = [batch.column(name) for name in joined]
            arrays += [predicted.column(i).combine_chunks() for i in range(predicted.num_columns)]
            sink.write(pa.Table.from_arrays(arrays, names=[*joined, *predicted.column_names]))
            row += batch.num_rows
            if on_rows is not None:
                on_rows(batch.num_rows)
    finally:
        sink.close()
    return sink.rows


def _load(path: Path) -> TrainedModel:
    try:
        return load(path)
    except Exception as exc:  # a pickle can fail in any way: say how, for people
        raise TransformError(
            f"The model could not be loaded: {type(exc).__name__}: {exc}", "model_package"
        ) from None


def _instance(path: Path) -> int:
    """One instance's program (``--instance job.json``): load the model, score its shard into
    its part, printing ``{"rows"}`` after each batch, then ``{"done"}`` or ``{"error"}``."""
    job = json.loads(path.read_text())
    try:
        spec = TransformSpec.from_dict(job["spec"])
        shard = Shard(tuple(job["row_groups"]), int(job["first_row"]), int(job["rows"]))
        model = _load(spec.model)
        rows = score(
            spec,
            model,
            shard,
            Path(job["part"]),
            list(job["joined"]),
            lambda n: _emit({"rows": n}),
        )
    except TransformError as exc:
        _emit({"error": {"message": exc.message, "field": exc.field}})
        return 1
    _emit({"done": rows})
    return 0


def _pump(index: int, stream: IO[bytes], lines: queue.Queue[tuple[int, bytes | None]]) -> None:
    for raw in stream:
        lines.put((index, raw))
    lines.put((index, None))


def _in_parallel(
    spec: TransformSpec,
    shards: list[Shard],
    joined: list[str],
    parts: list[Path],
    on_progress: Progress | None,
) -> None:
    """Each shard scored by its own process, this program with ``--instance``: a fresh
    interpreter, so nothing of this process (its thread pools, its ``__main__``) is
    inherited; they share this process's group, so stopping the job stops them too."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    lines: queue.Queue[tuple[int, bytes | None]] = queue.Queue()
    processes: list[subprocess.Popen[bytes]] = []
    errors: list[Path] = []
    try:
        for i, (shard, part) in enumerate(zip(shards, parts, strict=True)):
            job = part.with_suffix(".json")
            job.write_text(
                json.dumps(
                    {
                        "spec": spec.to_dict(),
                        "row_groups": list(shard.row_groups),
                        "first_row": shard.first_row,
                        "rows": shard.rows,
                        "part": str(part),
                        "joined": joined,
                    }
                )
            )
            errors.append(part.with_suffix(".stderr"))
            with errors[-1].open("wb") as stderr:
                process = subprocess.Popen(
                    [sys.executable, "-m", "endpoints.engine.transform", "--instance", str(job)],
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=env,
                )
            processes.append(process)
            assert process.stdout is not None
            threading.Thread(target=_pump, args=(i, process.stdout, lines), daemon=True).start()
        ended: set[int] = set()
        done: set[int] = set()
        rows = 0
        while len(ended) < len(processes):
            index, raw = lines.get()
            if raw is None:
                ended.add(index)
                status = processes[index].wait()
                if index not in done:
                    raise TransformError(_lost(index, status, errors[index]))
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                continue  # a library's own print: not for us
            if not isinstance(message, dict):
                continue
            if "rows" in message:
                rows += int(message["rows"])
                if on_progress is not None:
                    on_progress(rows)
            elif "done" in message:
                done.add(index)
            elif isinstance(message.get("error"), dict):
                error = message["error"]
                raise TransformError(
                    f"Instance {index + 1}: {error.get('message')}", error.get("field")
                )
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        for part in parts:
            part.with_suffix(".json").unlink(missing_ok=True)
            part.with_suffix(".stderr").unlink(missing_ok=True)


def _lost(index: int, status: int, stderr: Path) -> str:
    if status < 0 and -status in (signal.SIGKILL, signal.SIGSEGV):
        return f"Instance {index + 1} was killed (it may have run out of memory)."
    try:
        lines = stderr.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    if lines and "MemoryError" in lines[-1]:
        return f"Instance {index + 1} ran out of memory."
    last = f": {lines[-1]}" if lines else ""
    return f"Instance {index + 1} ended with exit status {status}{last}"


def _concatenate(parts: list[Path], output: Path) -> int:
    """The parts, in order, as one file; a row group at a time, each part deleted once copied."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    groups = 0
    try:
        for part in parts:
            source = pq.ParquetFile(part)
            for i in range(source.num_row_groups):
                table = source.read_row_group(i)
                if writer is None or schema is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(output, schema)
                writer.write_table(conform(table, schema))
                groups += 1
            part.unlink()
    finally:
        if writer is not None:
            writer.close()
    return groups


def transform(
    spec: TransformSpec, *, on_progress: Progress | None = None, say: Say | None = None
) -> TransformResult:
    """Score every row of ``spec.input`` into ``spec.output``; ``on_progress`` gets the rows
    scored so far, ``say`` a line for people now and then."""
    started = time.perf_counter()
    check_sizes(spec.batch_rows, spec.instance_count)
    try:
        source = pq.ParquetFile(spec.input)
    except (OSError, pa.ArrowInvalid) as exc:
        raise TransformError(f"The dataset's file cannot be read: {exc}", "dataset") from None
    meta = source.metadata
    group_rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    total = sum(group_rows)
    if total == 0:
        raise TransformError("The dataset has no rows to score.", "dataset")
    shards = plan(group_rows, spec.instance_count)
    tell = say or (lambda message: None)
    # Written beside the output and renamed once whole: a failed transform leaves no output.
    partial = spec.output.with_name(f".{spec.output.name}.partial")
    try:
        groups = _run(spec, source, shards, partial, tell, on_progress)
        os.replace(partial, spec.output)
    finally:
        partial.unlink(missing_ok=True)
    columns = tuple(pq.read_schema(spec.output).names)
    return TransformResult(
        rows=total,
        columns=columns,
        instances=len(shards),
        seconds=round(time.perf_counter() - started, 3),
        row_groups=groups,
        parts=tuple(s.rows for s in shards),
    )


def _run(
    spec: TransformSpec,
    source: pq.ParquetFile,
    shards: list[Shard],
    output: Path,
    tell: Say,
    on_progress: Progress | None,
) -> int:
    """Score the shards into ``output``, in this process or on an instance each; returns
    the output's row groups."""
    total = sum(s.rows for s in shards)
    if len(shards) == 1:
        model = _load(spec.model)
        joined = check_columns(model.metadata, source.schema_arrow.names, spec.join_input)
        if spec.instance_count > 1:
            tell("The dataset is one row group: one instance scores it.")
        tell(f"Scoring {total:,} rows in batches of {spec.batch_rows:,}.")
        done = 0

        def count(rows: int) -> None:
            nonlocal done
            done += rows
            if on_progress is not None:
                on_progress(done)

        score(spec, model, shards[0], output, joined, count)
        return int(pq.ParquetFile(output).metadata.num_row_groups)
    # The parent checks the columns from the archive's metadata alone; each instance loads
    # the model itself.
    try:
        metadata = read_metadata(spec.model)
    except Exception as exc:
        raise TransformError(f"The model could not be read: {exc}", "model_package") from None
    joined = check_columns(metadata, source.schema_arrow.names, spec.join_input)
    if len(shards) < spec.instance_count:
        tell(
            f"{source.metadata.num_row_groups} row groups to share: {len(shards)} of the "
            f"{spec.instance_count} instances have work."
        )
    tell(
        f"Scoring {total:,} rows on {len(shards)} instances "
        f"({', '.join(f'{s.rows:,}' for s in shards)} rows), in batches of "
        f"{spec.batch_rows:,}."
    )
    folder = spec.workdir or spec.output.parent
    folder.mkdir(parents=True, exist_ok=True)
    parts = [folder / f".part-{i:05d}-{os.getpid()}.parquet" for i in range(len(shards))]
    try:
        _in_parallel(spec, shards, joined, parts, on_progress)
        tell(f"Joining {len(parts)} parts in order.")
        return _concatenate(parts, output)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


# --- the program ---------------------------------------------------------------------------
def _emit(message: dict[str, Any]) -> None:
    print(json.dumps(message, default=str), flush=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--instance"]:
        return _instance(Path(argv[1]))
    spec_path = Path(argv[0])
    spec = TransformSpec.from_dict(json.loads(spec_path.read_text()))
    total = 0
    last = 0.0

    def progress(rows: int) -> None:
        # A few lines a second at most: each one is a database write in the worker.
        nonlocal last
        now = time.monotonic()
        if now - last >= 0.25 or rows >= total:
            last = now
            _emit({"progress": round(rows / max(1, total), 4), "rows_done": rows})

    try:
        total = pq.ParquetFile(spec.input).metadata.num_rows
        result = transform(spec, on_progress=progress, say=lambda m: _emit({"message": m}))
    except TransformError as exc:
        _emit({"error": {"message": exc.message, "field": exc.field}})
        return 1
    except (OSError, pa.ArrowInvalid) as exc:
        _emit({"error": {"message": f"The transform could not read or write: {exc}"}})
        return 1
    (spec_path.parent / "result.json").write_text(json.dumps(result.to_dict()))
    _emit({"result": result.to_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
