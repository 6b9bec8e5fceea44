"""Whole-table steps of a processing job on Dask: sort, group by, duplicates, join, concat.

A processing job streams row-wise steps batch by batch (:mod:`wrangler.engine.stream`).
The steps here must see all rows at once, so they run on Dask over the Parquet row groups
of their input, one partition per row group, and write one part file per partition:

- ``sort``: Dask's distributed sort on the chosen columns, then on the row's position, so
  ties keep their order as pandas' stable sort keeps them.
- ``group_by``: a shuffle on the key columns puts every group in one partition; the pandas
  transform aggregates each partition's rows in their original order, then the groups are
  sorted on their keys.
- ``deduplicate``: a shuffle on the compared columns; the pandas transform keeps the first
  (or last) of each set in a partition; a sort on the row's position restores the order.
- ``join`` (all but ``cross``): against a right side of one row group, the pandas
  transform joins it to each left partition; otherwise Dask's hash join, then a sort that
  gives pandas' order: the left rows' (inner, left), the right's (right), the keys'
  (outer). Semi and anti joins match the left rows against the right's distinct keys.
- ``concat``: the first input's partitions, then the second's, on the output's columns;
  deduplicated as ``deduplicate`` is, where asked.

A step whose order needs a final sort is written unsorted first (see :class:`Plan`).
Every output equals the pandas transform's on the whole table, but for the last bit of a
group's sum where pandas adds a one-group partition by another routine. By default the
work runs on a ``LocalCluster`` inside the job's process (threads: a Celery worker's
children cannot fork workers of their own); with ``DASK_SCHEDULER_ADDRESS`` it runs on that
cluster, whose workers must see the job's folder at the same path.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from wrangler.engine.contracts import FlowError, Node
from wrangler.engine.execute import run_node
from wrangler.engine.parquet import Parts

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

ROW: Final = "_sextant_row"
LEFT_ROW: Final = "_sextant_left_row"
RIGHT_ROW: Final = "_sextant_right_row"
KEY: Final = "_sextant_key_{}"
ORDER: Final = "_sextant_order"  # a row's position, kept through a write

#: Dask settings the frames are built and computed under, whatever the process set.
SETTINGS: Final = {
    "dataframe.convert-string": False,  # keep pandas' own string dtype
    # Distributed shuffles through the workers' disks, whichever client is the default.
    "dataframe.shuffle.method": "p2p",
}

#: How a processing job gets its Dask client: started on first use, closed with the job.
ClientFactory = Callable[[], "Client"]


def on_dask(node: Node) -> bool:
    """Whether a processing job runs this node on Dask."""
    if node.type == "join":
        return str(node.params.get("how", "inner")) != "cross"
    return node.type in ("sort", "group_by", "deduplicate", "concat")


@contextmanager
def dask_client(
    address: str | None, workdir: Path, *, memory_bytes: int | None = None
) -> Iterator[Client]:
    """A client of the cluster at ``address``, or of a LocalCluster in this process.

    The local cluster runs one worker with a thread per core, spills to ``workdir`` beyond
    ``memory_bytes``, and shuffles through files there. The client is not made the default
    one: work is given to it by name, and a sort's boundaries, which Dask computes while
    building the sort, are read from the sort's input on disk in this process (computing
    them on an in-process scheduler from there deadlocks on Python 3.11).
    """
    import dask
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # no chatter in job logs
    config = {
        **SETTINGS,
        "temporary-directory": str(workdir),
        # The worker shares the job's process: it spills what it holds to disk past the
        # limit, but never pauses (the process's memory is not all the worker's to free).
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": False,
    }
    with dask.config.set(config):
        if address:
            with Client(address, set_as_default=False) as client:
                yield client
            return
        with (
            LocalCluster(
                n_workers=1,
                threads_per_worker=os.cpu_count() or 1,
                processes=False,
                dashboard_address=None,
                local_directory=str(workdir),
                memory_limit=memory_bytes or "auto",
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            yield client


def _read_group(
    group: tuple[int, int, int], path: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """One row group as a partition, with each row's position in :data:`ROW`; Dask's
    optimizer passes ``columns`` when the steps after it use only some."""
    file, rg, start = group
    read = None if columns is None else [c for c in columns if c != ROW]
    frame = Parts(Path(path)).row_group(file, rg, read)
    frame[ROW] = np.arange(start, start + len(frame), dtype="int64")
    return frame if columns is None else frame[list(columns)]


def frame_of(path: Path) -> dd.DataFrame:
    """A step's Parquet output as a Dask frame, a partition per row group, with each row's
    position in :data:`ROW`."""
    import dask
    import dask.dataframe as dd

    parts = Parts(path)
    meta = parts.empty().assign(**{ROW: np.array([], dtype="int64")})
    groups = parts.row_groups()
    with dask.config.set(SETTINGS):
        if not groups:
            return dd.from_pandas(meta, npartitions=1)
        return dd.from_map(_read_group, groups, path=str(path), meta=meta, enforce_metadata=False)


#: A row's position, in frames numbered by :func:`positions`: its partition's number in the
#: high bits, its place in the partition in the low ones (so it grows in row order).
PARTITION_SHIFT: Final = 40


def _number(frame: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    number = int(partition_info["number"]) if partition_info else 0
    start = number << PARTITION_SHIFT
    return frame.assign(**{ROW: np.arange(start, start + len(frame), dtype="int64")})


def positions(frame: dd.DataFrame) -> dd.DataFrame:
    """A Dask step's output numbered in :data:`ROW` for the next step, with no pass over it."""
    if ROW in frame.columns:
        frame = frame.drop(columns=ROW)
    meta = frame._meta.assign(**{ROW: np.array([], dtype="int64")})
    return frame.map_partitions(_number, meta=meta)


def _meta(node: Node, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The node's output on empty inputs: its columns, and a check of its parameters."""
    out, _ = run_node(node, frames, None)
    return out


def _group_partition(frame: pd.DataFrame, node: Node) -> pd.DataFrame:
    """The pandas group-by over one partition's rows, taken in their original order."""
    out, _ = run_node(node, [frame.sort_values(ROW, kind="stable").drop(columns=ROW)], None)
    return out


class NotOnDask(Exception):
    """The node's columns are of a kind the Dask path does not order; run it in memory."""


#: Sorts after every string a column can reasonably hold (the highest code point, repeated).
HIGHEST_TEXT: Final = "\U0010ffff" * 8


def _orderable(meta: pd.DataFrame, columns: list[str]) -> None:
    """Raise :class:`NotOnDask` unless :func:`_sorted` can order these columns."""
    for column in columns:
        dtype = meta[column].dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufM":
            continue
        if isinstance(dtype, pd.StringDtype):
            continue
        raise NotOnDask(column)


def _sorted(
    frame: dd.DataFrame,
    columns: list[str],
    *,
    ascending: bool,
    nulls: str,
    then: list[str] | None = None,
) -> dd.DataFrame:
    """``frame`` in pandas' stable order of ``columns`` (nulls first or last in each), ties
    broken by the ``then`` columns, ascending.

    Dask's sort cannot place nulls of a text column, so each column with gaps is sorted
    through two helper columns without any: the value with its gaps filled by one that
    sorts at the requested end, then whether it was a gap (a real value equal to the fill
    comes first).
    """
    _orderable(frame._meta, columns)
    then = then or []
    high = (nulls == "last") == ascending  # the fill must sort after every real value
    helpers: dict[str, Any] = {}
    order: list[str] = []
    directions: list[bool] = []
    for i, column in enumerate(columns):
        dtype = frame._meta[column].dtype
        series = frame[column]
        kind = dtype.kind if isinstance(dtype, np.dtype) else ""
        if kind in ("b", "i", "u"):  # numpy booleans and integers have no gaps
            order.append(column)
            directions.append(ascending)
            continue
        fill: Any
        if kind == "f":
            fill = np.inf if high else -np.inf
        elif kind == "M":
            fill = pd.Timestamp.max if high else pd.Timestamp.min
        else:  # text (what _orderable lets through)
            fill = HIGHEST_TEXT if high else ""
        value, gap = KEY.format(f"{i}_value"), KEY.format(f"{i}_gap")
        helpers[value] = series.fillna(fill)
        # 0 sorts first: a gap is 1 when gaps go last, 0 when they go first.
        helpers[gap] = (series.isna() == (nulls == "last")).astype("int8")
        order += [value, gap]
        directions += [ascending, True]
    keyed = frame.assign(**helpers) if helpers else frame
    out = keyed.sort_values(
        [*order, *then],
        ascending=[*directions, *[True] * len(then)],
        npartitions=4 * frame.npartitions,
    )
    return out.drop(columns=list(helpers)) if helpers else out


@dataclass
class Plan:
    """A Dask step: its frame, and where its order needs a sort, that sort.

    Dask computes a sort's boundaries from its input as it builds the sort, outside the
    cluster; so a sort runs over input on disk: ``finish`` gets ``frame`` read back from
    the part files it was written to, never ``frame`` itself with a shuffle still to run.
    """

    frame: dd.DataFrame
    finish: Callable[[dd.DataFrame], dd.DataFrame] | None = None


def _sort(node: Node, frame: dd.DataFrame) -> Plan:
    _meta(node, [frame._meta.drop(columns=ROW)])
    sorted_ = _sorted(
        frame,
        list(node.params.get("columns") or []),
        ascending=bool(node.params.get("ascending", True)),
        nulls=str(node.params.get("nulls", "last")),
        then=[ROW],
    )
    return Plan(sorted_)


def _group_by(node: Node, frame: dd.DataFrame) -> Plan:
    by = list(node.params.get("by") or [])
    meta = _meta(node, [frame._meta.drop(columns=ROW)])
    _orderable(meta, by)
    # Only the keys and the aggregated columns travel through the shuffle.
    aggregated = [str(a.get("column")) for a in node.params.get("aggregations") or []]
    frame = frame[list(dict.fromkeys([*by, *aggregated, ROW]))]
    grouped = frame.shuffle(on=by).map_partitions(_group_partition, node, meta=meta)
    return Plan(grouped, lambda groups: _sorted(groups, by, ascending=True, nulls="last"))


def _deduplicate(node: Node, frame: dd.DataFrame) -> Plan:
    columns = list(node.params.get("columns") or [])
    _meta(node, [frame._meta.drop(columns=ROW)])
    subset = columns or [c for c in frame.columns if c != ROW]
    # The row's position rides along as a column the comparison leaves out.
    compare = replace(node, params={**node.params, "columns": subset})
    meta, _ = run_node(compare, [frame._meta], None)
    meta = meta.rename(columns={ROW: ORDER})
    kept = frame.shuffle(on=subset).map_partitions(_dedupe_partition, compare, meta=meta)
    return Plan(
        kept,
        lambda rows: _sorted(rows, [], ascending=True, nulls="last", then=[ORDER]).drop(
            columns=ORDER
        ),
    )


def _dedupe_partition(frame: pd.DataFrame, node: Node) -> pd.DataFrame:
    out, _ = run_node(node, [frame.sort_values(ROW, kind="stable")], None)
    return out.rename(columns={ROW: ORDER})


def _aligned(
    frame: pd.DataFrame, columns: list[str], index: int, source_column: str
) -> pd.DataFrame:
    """One input's partition as the concatenation lays it out: the output's columns (gaps
    where the input has none of a column), its source number, and its rows' positions
    after every row of the inputs before it."""
    rows = frame[ROW].to_numpy() + (index << 62)
    out = frame.drop(columns=ROW)
    if source_column:
        out[source_column] = index
    out = out.reindex(columns=columns)
    out[ORDER] = rows
    return out


def _concat(node: Node, first: dd.DataFrame, second: dd.DataFrame) -> Plan:
    import dask.dataframe as dd

    dedupe = bool(node.params.get("dedupe", False))
    source_column = str(node.params.get("source_column") or "")
    metas = [first._meta.drop(columns=ROW), second._meta.drop(columns=ROW)]
    plain = replace(node, params={**node.params, "dedupe": False})
    meta = _meta(plain, metas)
    _meta(node, metas)
    columns = list(meta.columns)
    meta_rows = meta.assign(**{ORDER: np.array([], dtype="int64")})
    stacked = dd.concat(
        [
            frame.map_partitions(_aligned, columns, i, source_column, meta=meta_rows)
            for i, frame in enumerate((first, second))
        ]
    )
    if not dedupe:
        return Plan(stacked.drop(columns=ORDER))
    subset = [c for c in columns if c != source_column]
    kept = stacked.shuffle(on=subset).map_partitions(_first_of_each, subset, meta=meta_rows)
    return Plan(
        kept,
        lambda rows: _sorted(rows, [], ascending=True, nulls="last", then=[ORDER]).drop(
            columns=ORDER
        ),
    )


def _first_of_each(frame: pd.DataFrame, subset: list[str]) -> pd.DataFrame:
    """The first row of each set of duplicates among ``subset``, in the rows' order."""
    ordered = frame.sort_values(ORDER, kind="stable")
    return ordered.drop_duplicates(subset=subset or None, keep="first")


def _join_partition(frame: pd.DataFrame, node: Node, right: pd.DataFrame) -> pd.DataFrame:
    out, _ = run_node(node, [frame.drop(columns=ROW), right], None)
    return out


def _join(node: Node, left: dd.DataFrame, right: dd.DataFrame, client: Client) -> Plan:
    how = str(node.params.get("how", "inner"))
    left_on = list(node.params.get("left_on") or [])
    right_on = list(node.params.get("right_on") or [])
    suffix = str(node.params.get("suffix", "_right"))
    meta = _meta(node, [left._meta.drop(columns=ROW), right._meta.drop(columns=ROW)])
    if right.npartitions == 1 and how in ("inner", "left", "left_semi", "left_anti"):
        # A right side of one row group is joined whole to each left partition, by the
        # pandas transform itself: the left order is kept with no shuffle and no sort.
        small = client.compute(right.drop(columns=ROW)).result()
        return Plan(left.map_partitions(_join_partition, node, small, meta=meta))
    left = left.rename(columns={ROW: LEFT_ROW})
    right = right.rename(columns={ROW: RIGHT_ROW})
    if how in ("left_semi", "left_anti"):
        keys = right[right_on].rename(columns=dict(zip(right_on, left_on, strict=True)))
        keys = keys.drop_duplicates()
        marked = left.merge(keys, on=left_on, how="left", indicator="_sextant_join")
        found = marked["_sextant_join"] == "both"
        kept = marked[found if how == "left_semi" else ~found].drop(columns="_sextant_join")
        return Plan(kept, lambda rows: _by_rows(rows, [LEFT_ROW]))
    # Clashing right-hand names get their suffix before the merge, as pandas would name
    # them, so Dask's merge never renames a column itself.
    shared = {lk for lk, rk in zip(left_on, right_on, strict=True) if lk == rk}
    renamed = {c: c + suffix for c in right.columns if c in left.columns and c not in shared}
    right = right.rename(columns=renamed)
    right_on = [renamed.get(c, c) for c in right_on]
    out = left.merge(right, how=how, left_on=left_on, right_on=right_on)
    rows = [LEFT_ROW, RIGHT_ROW]
    if how in ("inner", "left"):
        return Plan(out, lambda joined: _by_rows(joined, rows))
    if how == "right":
        return Plan(out, lambda joined: _by_rows(joined, rows[::-1]))
    # outer: by the keys (the left's, else the right's), then as inner
    keys = {}
    for i, (lk, rk) in enumerate(zip(left_on, right_on, strict=True)):
        merged = lk == rk  # one column for both sides
        keys[KEY.format(i)] = out[lk] if merged else out[lk].combine_first(out[rk])
    out = out.assign(**keys)
    _orderable(out._meta, list(keys))
    return Plan(out, lambda joined: _by_rows(joined, rows, keys=list(keys)))


def _by_rows(
    frame: dd.DataFrame, rows: list[str], *, keys: list[str] | None = None
) -> dd.DataFrame:
    """``frame`` ordered on ``keys`` then on the rows' positions, without those columns."""
    ordered = _sorted(frame, keys or [], ascending=True, nulls="last", then=rows)
    helpers = [*(keys or []), LEFT_ROW, RIGHT_ROW]
    return ordered.drop(columns=[c for c in helpers if c in frame.columns])


def run_on_dask(node: Node, frames: list[dd.DataFrame], client: Client) -> Plan:
    """The node over Dask frames (from :func:`frame_of`), lazily; errors name the node.

    Raises :class:`NotOnDask` where a column's type is one the Dask path cannot order.
    """
    import dask

    with dask.config.set(SETTINGS):
        if node.type == "sort":
            return _sort(node, frames[0])
        if node.type == "group_by":
            return _group_by(node, frames[0])
        if node.type == "deduplicate":
            return _deduplicate(node, frames[0])
        if node.type == "join":
            return _join(node, frames[0], frames[1], client)
        if node.type == "concat":
            return _concat(node, frames[0], frames[1])
    raise FlowError(f"{node.type} does not run on Dask.", node=node.id)


def write(node: Node, plan: Plan | dd.DataFrame, client: Client, dest: Path) -> int:
    """Compute the step on ``client`` into part files under ``dest``; returns the rows."""
    if not isinstance(plan, Plan):
        plan = Plan(plan)
    if plan.finish is None:
        _to_parquet(node, plan.frame, client, dest)
        return Parts(dest).num_rows
    unsorted = dest.with_name(f"{dest.name}-unsorted")
    _to_parquet(node, plan.frame, client, unsorted)
    import dask

    with dask.config.set(SETTINGS):
        final = plan.finish(frame_of(unsorted).drop(columns=ROW))
    _to_parquet(node, final, client, dest)
    shutil.rmtree(unsorted, ignore_errors=True)
    return Parts(dest).num_rows


def _to_parquet(node: Node, frame: dd.DataFrame, client: Client, dest: Path) -> None:
    import dask

    frame = frame.drop(columns=[c for c in frame.columns if c == ROW])
    try:
        with dask.config.set(SETTINGS):
            frame.to_parquet(
                str(dest),
                write_index=False,
                schema=None,  # a partition with a gap may type a column apart; read unifies
                name_function=lambda i: f"part-{i:06d}.parquet",
                write_metadata_file=False,
                compute_kwargs={"scheduler": client},
            )
    except FlowError:
        raise
    except (ValueError, TypeError, KeyError, ArithmeticError, IndexError) as exc:
        raise FlowError(f"{node.type}: {exc}", node=node.id) from exc
    if not any(dest.glob("*.parquet")):
        import pyarrow as pa
        import pyarrow.parquet as pq

        dest.mkdir(parents=True, exist_ok=True)
        empty = pa.Table.from_pandas(frame._meta, preserve_index=False)
        pq.write_table(empty, dest / "part-000000.parquet")
