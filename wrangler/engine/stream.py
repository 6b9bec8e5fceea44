"""Running a flow over Parquet sources in bounded memory, batch by batch.

The plan walks the flow in order and keeps, for each node, either a Parquet file or a *lazy*
stage: a Parquet file plus the row-by-row steps still to apply to each of its batches.

- A row-wise transform (``rowwise=True``: each output row depends on its input row alone)
  adds itself to its input's steps: nothing is read yet.
- A fitted transform whose apply is row by row once fitted (a scaler, an encoder,
  ``fill_missing`` with a statistic…; see :data:`FIT_THEN_ROWWISE`) first learns its state
  from one pass over its input, keeping only the columns it reads (its parameters' columns
  and its target), then joins the steps with that state. Fitting on those columns alone
  gives the state fitting on the whole frame gives, since the fit reads nothing else.
- A transform that must see every row but reads only a few columns (lags and rolling
  windows, forward fills, samples, splits, random balancing, pivots; see :data:`PROJECTED`)
  runs on those columns alone, gathered in one pass with each row's position. Where its
  rows are input rows (picked, repeated, or all of them, with new columns), a second pass
  takes those rows from the full input batch by batch; a pivot's output is the result.
- A cross join streams its left side against the right side held whole.
- Whole-table steps (sort, group_by, deduplicate, join, concat) run on Dask where the job
  has a client (:mod:`wrangler.engine.scale`).
- Anything else (custom code, SMOTE…) reads its inputs whole, runs as in :func:`run_flow`,
  and writes its output to a Parquet file for what follows.

Memory is then about one batch for the row-wise stretches, the columns read during a fit
or a projected step, and whole tables only where a node has to see them whole. Batches are
converted to pandas as the whole table would be (an integer column with gaps anywhere in
the file is float64 in every batch), so the output equals :func:`run_flow`'s on the same
data.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wrangler.engine import scale
from wrangler.engine.contracts import FlowError, FlowGraph, Node
from wrangler.engine.execute import run_node
from wrangler.engine.params import column_refs
from wrangler.engine.parquet import BackgroundWriter, Parts, prefetched
from wrangler.engine.registry import get_transform
from wrangler.engine.scale import ClientFactory

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client
from wrangler.engine.transforms.formula import formula_columns

BATCH_ROWS: Final = 262_144

#: Fitted transforms whose apply, given the state, works row by row (for these parameters).
FIT_THEN_ROWWISE: Final[dict[str, Callable[[dict[str, Any]], bool]]] = {
    "fill_missing": lambda p: p.get("strategy") not in ("ffill", "bfill"),
    "split_column": lambda p: True,
    "one_hot_encode": lambda p: True,
    "ordinal_encode": lambda p: True,
    "target_encode": lambda p: True,
    "standard_scale": lambda p: True,
    "min_max_scale": lambda p: True,
    "robust_scale": lambda p: True,
    "power_transform": lambda p: True,
    "bin": lambda p: True,
    "clip_outliers": lambda p: True,
    "pca": lambda p: True,
}

#: Transforms that must see every row but read only the columns their parameters name: a
#: job runs them on those columns alone (with each row's position), then takes the rows
#: they keep from the full input. Values: whether these parameters qualify.
PROJECTED: Final[dict[str, Callable[[dict[str, Any]], bool]]] = {
    "fill_missing": lambda p: p.get("strategy") in ("ffill", "bfill"),
    "lag_features": lambda p: True,
    "rolling_window": lambda p: True,
    "sample": lambda p: True,
    "train_test_split": lambda p: True,
    "balance": lambda p: p.get("method") != "smote",  # SMOTE reads every numeric column
    "pivot": lambda p: True,
}

#: Of those, the ones that may read no column at all (a sample needs only the row count).
NAMED_COLUMNS_ONLY: Final = frozenset({"sample", "train_test_split"})

#: Of those, the ones that rewrite the columns they read (the others only add columns).
REWRITE_COLUMNS: Final = frozenset({"fill_missing"})

#: A row's position in a projected step's input (a column no input may have).
POSITION: Final = "_sextant_position"

OnEvent = Callable[[str, float | None], None]


@dataclass(eq=False)
class Step:
    """A row-wise step of a stage; ``pending`` while its fit has not been made yet."""

    node: Node
    state: dict[str, Any] | None = None
    pending: bool = False


@dataclass
class Stage:
    """A node's output: its Parquet file(s) and the row-wise steps still to apply to it.

    Steps are shared between the stages that include them, so a fit made for one stage is
    seen by every stage that follows it.
    """

    parts: Parts
    steps: list[Step] = field(default_factory=list)

    def then(self, step: Step) -> Stage:
        return Stage(self.parts, [*self.steps, step])


def _source_batches(
    parts: Parts, batch_rows: int, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    return parts.batches(batch_rows, columns)


def read_batches(stage: Stage, *, batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """The stage's output, batch by batch, with its steps applied (all fitted by now)."""
    assert not any(step.pending for step in stage.steps), "resolve the stage's fits first"
    for frame in prefetched(_source_batches(stage.parts, batch_rows)):
        for step in stage.steps:
            frame, _ = run_node(step.node, [frame], step.state)
        yield frame


def read_whole(stage: Stage) -> pd.DataFrame:
    if not stage.steps:
        return stage.parts.read()
    parts = list(read_batches(stage))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def write_frames(frames: Iterator[pd.DataFrame], dest: Path, empty: Callable[[], pa.Table]) -> int:
    """Write ``frames`` to ``dest`` one after the other; returns the row count.

    Empty frames are skipped but for the first, kept in case no rows come; with no frame
    at all, ``empty()`` gives the table written.
    """
    writer: BackgroundWriter | None = None
    schema: pa.Schema | None = None
    first: pa.Table | None = None
    rows = 0
    try:
        for frame in frames:
            if not len(frame) and first is not None:
                continue
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            if not len(frame):
                first = table
                continue
            if writer is None:
                schema = table.schema
                writer = BackgroundWriter(dest, schema)
            writer.write(table)
            rows += table.num_rows
        if writer is None:  # no rows: an empty file with the output's columns
            pq.write_table(first if first is not None else empty(), dest)
    finally:
        if writer is not None:
            writer.close()
    return rows


def write_stage(stage: Stage, dest: Path, *, batch_rows: int = BATCH_ROWS) -> int:
    """Write the stage's output to ``dest``, batch by batch; returns the row count."""
    return write_frames(
        read_batches(stage, batch_rows=batch_rows), dest, stage.parts.schema.empty_table
    )


def _fit_columns(node: Node) -> list[str] | None:
    """The columns a fit reads, or None where it reads them all (no columns picked)."""
    defn = get_transform(node.type)
    assert defn is not None
    first, _ = column_refs(defn, node.params, fitting=True)
    columns = list(dict.fromkeys(column for _, column in first))
    if node.type in NAMED_COLUMNS_ONLY:
        return columns
    return columns or None


def _reads(node: Node) -> set[str] | None:
    """The columns a step reads; None when that cannot be known (custom code, every column)."""
    defn = get_transform(node.type)
    if defn is None or defn.custom_code:
        return None
    if node.type == "formula":
        return formula_columns(str(node.params.get("expression", "")))
    columns = _fit_columns(node)
    return set(columns) if columns is not None else None


def _probe_changes(stage: Stage, rows: int = 200) -> dict[int, set[str]] | None:
    """Columns each step adds or removes, seen on the first rows (None: unknown)."""
    try:
        frame = next(_source_batches(stage.parts, rows))
        changes: dict[int, set[str]] = {}
        for step in stage.steps:
            before = set(frame.columns)
            frame, _ = run_node(step.node, [frame], step.state)
            changes[id(step)] = before ^ set(frame.columns)
        return changes
    except (FlowError, StopIteration):
        return None


def _writes(step: Step, changes: dict[int, set[str]]) -> set[str] | None:
    """Columns a step may change: its own columns and those it adds or removes."""
    if step.node.type == "formula":
        return {str(step.node.params.get("new_column") or "")} | changes[id(step)]
    columns = _fit_columns(step.node)
    if columns is None:
        return None
    return set(columns) | changes[id(step)]


def _independent(stage: Stage, earlier: Step, later: Step, changes: dict[int, set[str]]) -> bool:
    """Whether ``later`` can be fitted in a pass that skips ``earlier`` (not fitted yet).

    Skipping ``earlier`` leaves the columns it writes as they were; the steps applied in
    between carry that difference into the columns they write. ``later`` must read none of
    them, and no step in between may read a column ``earlier`` adds or removes.
    """
    tainted = _writes(earlier, changes)
    if tainted is None:
        return False
    steps = stage.steps
    between = steps[steps.index(earlier) + 1 : steps.index(later)]
    for step in between:
        if step.pending:
            continue  # skipped in the pass too
        reads = _reads(step.node)
        if reads is None or reads & changes[id(earlier)]:
            return False
        if reads & tainted:
            writes = _writes(step, changes)
            if writes is None:
                return False
            tainted |= writes
    reads_later = _reads(later.node)
    return reads_later is not None and not (reads_later & tainted)


def _fit_group(
    stage: Stage, pending: list[Step], changes: dict[int, set[str]] | None
) -> list[Step]:
    """The pending fits one pass can make together: the first, and each later one that no
    earlier pending step can influence."""
    if changes is None:
        return pending[:1]
    group = [pending[0]]
    for i, later in enumerate(pending[1:], start=1):
        if all(_independent(stage, earlier, later, changes) for earlier in pending[:i]):
            group.append(later)
    return group


#: Row-wise steps that drop rows: a fit pass must always apply them, whatever they read.
ROW_FILTERS: Final = frozenset({"filter_rows", "drop_missing"})


def _pass_plan(
    stage: Stage, group: list[Step], last: int, changes: dict[int, set[str]] | None
) -> tuple[list[Step], list[str] | None]:
    """The steps a fit pass must apply and the source columns it must read.

    Walking back from the last fit, a step is kept when it writes a column that a kept step
    or a fit reads, or when it drops rows; the columns read are what the kept steps and the
    fits read from the source. ``None`` columns: read them all (something is not known).
    """
    steps = stage.steps[: last + 1]
    if changes is None:
        return steps, None
    needed: set[str] = set()
    for step in group:
        reads = _reads(step.node)
        if reads is None:
            return steps, None
        needed |= reads
    members = {id(step) for step in group}
    kept: list[Step] = []
    for step in reversed(steps):
        if id(step) in members:
            kept.append(step)
            continue
        if step.pending:
            continue  # not applied in this pass
        writes = _writes(step, changes)
        if writes is None:
            return steps, None
        if step.node.type in ROW_FILTERS or writes & needed:
            reads = _reads(step.node)
            if reads is None:
                return steps, None
            needed = (needed - changes[id(step)]) | reads
            kept.append(step)
    kept.reverse()
    source = stage.parts.names
    return kept, [c for c in source if c in needed]


def _fit_projections(
    frame: pd.DataFrame, plan: list[Step], members: list[int]
) -> list[pd.DataFrame]:
    """One batch through a fit pass's steps: for each fit (its index in ``plan``), the
    columns it reads, taken where it stands among the steps."""
    out = []
    for i, step in enumerate(plan):
        if i in members:
            columns = _fit_columns(step.node)
            if columns is None:
                out.append(frame)
                continue
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise FlowError(
                    f"Column {missing[0]!r} is not in this node's input.", node=step.node.id
                )
            out.append(frame[columns])
            continue
        if step.pending:
            continue  # fitted in a later pass; it cannot influence this pass's fits
        frame, _ = run_node(step.node, [frame], step.state)
    return out


def _fit_partition(
    group: tuple[int, int, int],
    path: str,
    columns: list[str] | None,
    plan: list[Step],
    members: list[int],
) -> list[pd.DataFrame]:
    """:func:`_fit_projections` over one row group of the source, on a Dask worker."""
    file, rg, _ = group
    return _fit_projections(Parts(Path(path)).row_group(file, rg, columns), plan, members)


def _projections(
    stage: Stage,
    group: list[Step],
    batch_rows: int,
    changes: dict[int, set[str]] | None,
    client: Client | None = None,
) -> Iterator[tuple[Step, pd.DataFrame]]:
    """One pass over the stage's source that gathers, for every step of ``group``, the
    columns it reads where it stands among the steps, in row order.

    With a Dask client the pass runs on its workers, a row group per task, in parallel;
    the columns are then gathered in row order, exactly as from the batches of a pass made
    here.
    """
    ids = {id(step) for step in group}
    last = max(i for i, step in enumerate(stage.steps) if id(step) in ids)
    plan, columns_read = _pass_plan(stage, group, last, changes)
    members = [i for i, step in enumerate(plan) if id(step) in ids]
    if client is not None:
        futures = client.map(
            _fit_partition,
            stage.parts.row_groups(),
            path=str(stage.parts.path),
            columns=columns_read,
            plan=plan,
            members=members,
            pure=False,
        )
        results = client.gather(futures)
    else:
        batches = prefetched(_source_batches(stage.parts, batch_rows, columns_read))
        results = [_fit_projections(frame, plan, members) for frame in batches]
    if not results:  # no rows: fit on the empty input
        results = [_fit_projections(stage.parts.empty(columns_read), plan, members)]
    for k, i in enumerate(members):
        chunks = [r[k] for r in results]
        projected = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
        del chunks
        yield plan[i], projected
        del projected
    del results


def _fit_pass(
    stage: Stage,
    group: list[Step],
    batch_rows: int,
    changes: dict[int, set[str]] | None,
    client: Client | None = None,
) -> None:
    """One pass over the stage's source that fits every step of ``group``; each fit learns
    its state from its own columns (see :func:`_projections`)."""
    for step, projected in _projections(stage, group, batch_rows, changes, client):
        _, step.state = run_node(step.node, [projected], None)
        step.pending = False


def resolve(
    stage: Stage,
    states: dict[str, dict[str, Any]],
    say: OnEvent,
    *,
    batch_rows: int = BATCH_ROWS,
    dask: Callable[[], Client | None] | None = None,
) -> None:
    """Make every pending fit of the stage, a few per pass over its source when they can;
    on Dask where ``dask`` gives a client (asked only when there is a fit to make)."""
    passes = 0
    client: Client | None = None
    while True:
        pending = [step for step in stage.steps if step.pending]
        if not pending:
            return
        if dask is not None and client is None:
            client = dask()
        changes = _probe_changes(stage)
        group = _fit_group(stage, pending, changes)
        _fit_pass(stage, group, batch_rows, changes, client)
        passes += 1
        for step in group:
            assert step.state is not None
            states[step.node.id] = step.state
            read = _fit_columns(step.node)
            say(
                f"{step.node.id} ({step.node.type}): fitted on "
                f"{', '.join(read or ['every column'])} (pass {passes}"
                f"{', on Dask' if client is not None else ''}).",
                None,
            )


def _on_dask(
    node: Node,
    inputs: list[Stage | dd.DataFrame],
    states: dict[str, dict[str, Any]],
    say: OnEvent,
    client: Client,
    dest: Path,
    batch_rows: int,
) -> scale.Plan | None:
    """The node's output as a Dask plan; None where its columns are of a kind the Dask
    path does not handle (it then runs in memory).

    Inputs are Dask frames handed on by an earlier Dask step, or stages: their pending
    fits are made and their row-wise steps applied once, batch by batch, for Dask to read.
    """
    frames = []
    for j, stage in enumerate(inputs):
        if not isinstance(stage, Stage):
            frames.append(scale.positions(stage))
            continue
        resolve(stage, states, say, batch_rows=batch_rows, dask=lambda: client)
        if stage.steps:
            path = dest.with_name(f"{dest.name}-input-{j}.parquet")
            write_stage(stage, path, batch_rows=batch_rows)
            stage = Stage(Parts(path))
        frames.append(scale.frame_of(stage.parts.path))
    try:
        return scale.run_on_dask(node, frames, client)
    except scale.NotOnDask as exc:
        say(f"{node.id} ({node.type}): column {exc} is of a type Dask cannot order here.", None)
        return None


def projected(node: Node) -> bool:
    """Whether a job runs the node on the columns it reads alone (:data:`PROJECTED`)."""
    qualifies = PROJECTED.get(node.type)
    return qualifies is not None and len(node.inputs) == 1 and qualifies(node.params)


def _row_runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """``positions`` cut into runs that never go back: ``(start, end)`` of each."""
    cuts = np.flatnonzero(np.diff(positions) < 0) + 1
    bounds = [0, *cuts.tolist(), len(positions)]
    return [(a, b) for a, b in pairwise(bounds) if b > a]


def _taken(
    stage: Stage, out: pd.DataFrame, added: list[str], batch_rows: int
) -> Iterator[pd.DataFrame]:
    """The rows of the stage at ``out``'s positions, in ``out``'s order, with ``added``
    columns set from ``out``: one pass over the stage for each run of rising positions."""
    positions = out[POSITION].to_numpy()
    runs = _row_runs(positions)
    for a, b in runs or [(0, 0)]:
        wanted = positions[a:b]
        start = 0
        for frame in read_batches(stage, batch_rows=batch_rows):
            lo, hi = np.searchsorted(wanted, [start, start + len(frame)], side="left")
            piece = frame.iloc[wanted[lo:hi] - start].reset_index(drop=True)
            for column in added:
                piece[column] = out[column].iloc[a + lo : a + hi].reset_index(drop=True)
            yield piece
            start += len(frame)
            if hi == len(wanted):
                break


@dataclass
class Narrow:
    """A projected step's result, its rows not taken from the input yet: ``out`` holds
    the columns the steps read and made, and each row's position in ``stage``'s output;
    ``unchanged`` names those of its columns that the stage has as they are."""

    stage: Stage
    out: pd.DataFrame
    unchanged: set[str]

    def take(self, dest: Path, batch_rows: int) -> int:
        """Write the stage's rows at the positions, with the columns made; the row count."""
        made = [c for c in self.out.columns if c != POSITION and c not in self.unchanged]
        frames = _taken(self.stage, self.out, made, batch_rows)
        return write_frames(frames, dest, lambda: pa.table({}))


def _narrowed(
    node: Node, columns: pd.DataFrame, stage: Stage, unchanged: set[str]
) -> tuple[Narrow | pd.DataFrame, dict[str, Any]]:
    """The node run on ``columns`` (positions included): a :class:`Narrow` where its rows
    are input rows, else (a pivot) the output itself; and the node's state."""
    out, state = run_node(node, [columns], None)
    if POSITION not in out.columns:
        return out, state
    if node.type in REWRITE_COLUMNS:
        unchanged = unchanged - set(_fit_columns(node) or columns.columns)
    return Narrow(stage, out, unchanged), state


def _run_projected(
    node: Node, stage: Stage, batch_rows: int, client: Client | None
) -> tuple[Narrow | pd.DataFrame, dict[str, Any], list[str]] | None:
    """The node run on the columns it reads, gathered in one pass with their positions:
    its result (see :func:`_narrowed`), state and the columns read. None where the input
    has no row, or where the node reads a column named as the positions are: the node then
    runs whole."""
    if not stage.parts.num_rows:
        return None
    step = Step(node, pending=True)
    with_step = stage.then(step)
    ((_, columns),) = _projections(with_step, [step], batch_rows, _probe_changes(with_step), client)
    read = list(columns.columns)
    if POSITION in read:
        return None
    columns[POSITION] = np.arange(len(columns), dtype="int64")
    result, state = _narrowed(node, columns, stage, set(read))
    return result, state, read


def _then_projected(
    node: Node, before: Narrow
) -> tuple[Narrow | pd.DataFrame, dict[str, Any]] | None:
    """The node run on an earlier projected step's result, where it reads only columns
    that result holds (None otherwise): the two steps' rows are then taken in one go."""
    read = _fit_columns(node)
    if read is None or not set(read) <= set(before.out.columns) - {POSITION}:
        return None
    return _narrowed(node, before.out, before.stage, before.unchanged)


def _cross_join(left: Stage, right: Stage, node: Node, dest: Path, batch_rows: int) -> int:
    """A cross join, the left side streamed against the right side held whole: each
    batch of left rows gives ``batch_rows`` output rows at most."""
    small = read_whole(right)
    size = max(1, batch_rows // max(1, len(small)))
    frames = (
        run_node(node, [frame, small], None)[0] for frame in read_batches(left, batch_rows=size)
    )

    def empty() -> pa.Table:
        out, _ = run_node(node, [left.parts.empty(), small], None)
        return pa.Table.from_pandas(out, preserve_index=False)

    return write_frames(frames, dest, empty)


def stream_flow(
    graph: FlowGraph,
    target: str,
    *,
    sources: dict[str, Path],
    output: Path,
    workdir: Path,
    on_event: OnEvent | None = None,
    batch_rows: int = BATCH_ROWS,
    allow_custom_code: bool = False,
    dask: ClientFactory | None = None,
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Write ``target``'s output to ``output``; returns its row count and the fitted states.

    Custom code runs only where the caller says it may: a worker's subprocess. With a
    ``dask`` client factory (called once, when first needed), fits and the whole-table
    steps that can (:func:`scale.on_dask`) run on Dask, out of core; without one they run
    in this process, whole-table steps whole in memory. A Dask step that needs no
    final sort, whose one follower is a Dask step other than a sort, hands its frame on
    unwritten: the two run as one graph.
    """
    say = on_event or (lambda message, progress: None)
    needed = graph.ancestors(target)
    for node_id in needed:
        defn = get_transform(graph.nodes[node_id].type)
        if defn is not None and defn.custom_code and not allow_custom_code:
            raise FlowError("Custom code runs only in a worker.", node=node_id)
    followers = {n: [m for m in needed if n in graph.nodes[m].inputs] for n in needed}
    stages: dict[str, Stage] = {}
    lazy: dict[str, dd.DataFrame] = {}
    narrow: dict[str, Narrow] = {}
    states: dict[str, dict[str, Any]] = {}
    client: Client | None = None

    def fits_client() -> Client | None:
        """The Dask client fits run on, started on first use; None without Dask."""
        nonlocal client
        if dask is None:
            return None
        client = client or dask()
        return client

    def stage_of(node_id: str) -> Stage:
        """The node's output as a stage: a frame handed on is written out first, and a
        projected step's rows are taken."""
        if node_id in narrow:
            dest = workdir / f"stage-{needed.index(node_id)}.parquet"
            narrow.pop(node_id).take(dest, batch_rows)
            stages[node_id] = Stage(Parts(dest))
        if node_id in lazy:
            assert client is not None
            dest = workdir / f"stage-{needed.index(node_id)}"
            scale.write(graph.nodes[node_id], lazy.pop(node_id), client, dest)
            stages[node_id] = Stage(Parts(dest))
        return stages[node_id]

    for i, node_id in enumerate(needed):
        node = graph.nodes[node_id]
        progress = 0.9 * i / max(1, len(needed))
        if node.type == "source":
            stages[node_id] = Stage(Parts(Path(sources[node_id])))
            continue
        defn = get_transform(node.type)
        assert defn is not None
        fit_rowwise = FIT_THEN_ROWWISE.get(node.type)
        if defn.rowwise and len(node.inputs) == 1:
            stages[node_id] = stage_of(node.inputs[0]).then(Step(node))
            say(f"{node_id} ({node.type}): row by row.", progress)
            continue
        if defn.fitted and fit_rowwise is not None and fit_rowwise(node.params):
            # Fitted later, with the other pending fits a pass can make together.
            stages[node_id] = stage_of(node.inputs[0]).then(Step(node, pending=True))
            say(f"{node_id} ({node.type}): row by row, once fitted.", progress)
            continue
        if projected(node):
            source = node.inputs[0]
            before = narrow.get(source) if len(followers[source]) == 1 else None
            chained = _then_projected(node, before) if before is not None else None
            if chained is not None:
                del narrow[source]
                result, state = chained
                how = f"on {source}'s columns"
            else:
                stage = stage_of(source)
                resolve(stage, states, say, batch_rows=batch_rows, dask=fits_client)
                done = _run_projected(node, stage, batch_rows, fits_client())
                if done is None:
                    result = None
                else:
                    result, state, read = done
                    where = ", on Dask" if client is not None else ""
                    how = f"worked out on {', '.join(read) or 'the row count'}{where}"
            if result is not None:
                if defn.fitted:
                    states[node_id] = state
                if isinstance(result, Narrow):
                    narrow[node_id] = result
                    rows = len(result.out)
                else:
                    dest = workdir / f"stage-{i}.parquet"
                    pq.write_table(pa.Table.from_pandas(result, preserve_index=False), dest)
                    stages[node_id] = Stage(Parts(dest))
                    rows = len(result)
                say(f"{node_id} ({node.type}): {rows:,} rows, {how}.", progress)
                continue
        if node.type == "join" and node.params.get("how") == "cross":
            left, right = (stage_of(n) for n in node.inputs)
            for stage in (left, right):
                resolve(stage, states, say, batch_rows=batch_rows, dask=fits_client)
            dest = workdir / f"stage-{i}.parquet"
            rows = _cross_join(left, right, node, dest, batch_rows)
            stages[node_id] = Stage(Parts(dest))
            say(f"{node_id} ({node.type}): {rows:,} rows, the left side batch by batch.", progress)
            continue
        plan = None
        if dask is not None and scale.on_dask(node):
            client = client or dask()  # first: frames are built under its Dask settings
            inputs = [lazy.pop(n) if n in lazy else stage_of(n) for n in node.inputs]
            plan = _on_dask(node, inputs, states, say, client, workdir / f"stage-{i}", batch_rows)
            if plan is None:  # run in memory after all: hand-ons are written out first
                for n, given in zip(node.inputs, inputs, strict=True):
                    if not isinstance(given, Stage):
                        lazy[n] = given
        if plan is not None:
            assert client is not None
            after = followers[node_id]
            if (
                node_id != target
                and plan.finish is None
                and len(after) == 1
                and scale.on_dask(graph.nodes[after[0]])
                and graph.nodes[after[0]].type != "sort"  # a sort reads its input from disk
            ):
                lazy[node_id] = plan.frame
                say(f"{node_id} ({node.type}): on Dask, handed on to {after[0]}.", progress)
                continue
            dest = workdir / f"stage-{i}"
            rows = scale.write(node, plan, client, dest)
            stages[node_id] = Stage(Parts(dest))
            say(f"{node_id} ({node.type}): {rows:,} rows, on Dask.", progress)
            continue
        inputs_ = [stage_of(n) for n in node.inputs]
        for stage in inputs_:
            resolve(stage, states, say, batch_rows=batch_rows, dask=fits_client)
        frames = [read_whole(s) for s in inputs_]
        out, state = run_node(node, frames, None)
        if defn.fitted:
            states[node_id] = state
        path = workdir / f"stage-{i}.parquet"
        pq.write_table(pa.Table.from_pandas(out, preserve_index=False), path)
        stages[node_id] = Stage(Parts(path))
        say(f"{node_id} ({node.type}): {len(out):,} rows, whole in memory.", progress)
        del frames, out
    last = stage_of(target)
    resolve(last, states, say, batch_rows=batch_rows, dask=fits_client)
    made = last.parts.path
    if not last.steps and made.parent == workdir and made.is_file():
        rows = last.parts.num_rows  # a file this run wrote whole: it is the output
        shutil.move(made, output)
    else:
        rows = write_stage(last, output, batch_rows=batch_rows)
    say(f"Wrote {rows:,} rows.", 1.0)
    return rows, states
