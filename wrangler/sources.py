"""The datasets a flow's source nodes read, and samples of them for previews.

Samples are cached in the web process (a few, least recently used first out), keyed by the
dataset's data file and the sample's settings: editing a node re-runs the transforms, not
the Parquet read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from studio import storage
from studio.choices import DatasetStatus
from studio.models import Dataset, Project

if TYPE_CHECKING:
    import pandas as pd

    from wrangler.engine.contracts import FlowGraph, Node
    from wrangler.engine.sample import SampleSpec

CACHE_ENTRIES = 8
MAX_SAMPLE_ROWS = 200_000
_cache: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
_cache_lock = threading.Lock()


def source_datasets(
    project: Project, graph: FlowGraph, target: str | None = None
) -> dict[str, Dataset]:
    """Each source node's dataset, which must be a Ready dataset of the flow's project."""
    from wrangler.engine.contracts import FlowError

    wanted = {n.id: n.params["dataset"] for n in graph.sources(target)}
    found = {d.pk: d for d in Dataset.objects.filter(project=project, pk__in=set(wanted.values()))}
    out: dict[str, Dataset] = {}
    for node_id, dataset_id in wanted.items():
        dataset = found.get(dataset_id)
        if dataset is None:
            raise FlowError(
                f"There is no dataset {dataset_id} in this project.", node=node_id, field="dataset"
            )
        if dataset.status != DatasetStatus.READY:
            raise FlowError(
                f"Dataset {dataset.name} v{dataset.version} is {dataset.status}, not Ready.",
                node=node_id,
                field="dataset",
            )
        out[node_id] = dataset
    return out


def sample_spec(data: Any) -> SampleSpec:
    """A sample's settings from a request or a flow (``{"mode", "rows", "seed", "column"}``)."""
    from wrangler.engine.contracts import FlowError
    from wrangler.engine.sample import DEFAULT_SAMPLE_ROWS, SAMPLE_MODES, SampleSpec

    data = data or {}
    if not isinstance(data, dict):
        raise FlowError("sample must be an object.", field="sample")
    mode = data.get("mode", "first")
    if mode not in SAMPLE_MODES:
        raise FlowError(
            f"sample.mode must be one of {', '.join(SAMPLE_MODES)}.", field="sample.mode"
        )
    rows, seed, column = (
        data.get("rows", DEFAULT_SAMPLE_ROWS),
        data.get("seed", 0),
        data.get("column", ""),
    )
    if not isinstance(rows, int) or isinstance(rows, bool) or not 1 <= rows <= MAX_SAMPLE_ROWS:
        raise FlowError(
            f"sample.rows must be between 1 and {MAX_SAMPLE_ROWS:,}.", field="sample.rows"
        )
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise FlowError("sample.seed must be a whole number.", field="sample.seed")
    if mode == "stratified" and (not isinstance(column, str) or not column):
        raise FlowError(
            "A stratified sample needs the column to stratify by.", field="sample.column"
        )
    return SampleSpec(
        mode=mode, rows=rows, seed=seed, column=column if isinstance(column, str) else ""
    )


def _cached_sample(dataset: Dataset, spec: SampleSpec) -> pd.DataFrame:
    from wrangler.engine.sample import read_sample

    key = (dataset.pk, dataset.data_key, dataset.updated_at, *spec.key())
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with storage.open_local(dataset.data_key) as path:
        frame = read_sample(path, spec)
    with _cache_lock:
        _cache[key] = frame
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return frame


def sample_loader(datasets: dict[str, Dataset], spec: SampleSpec) -> Callable[[Node], pd.DataFrame]:
    from wrangler.engine.contracts import FlowError

    def load(node: Node) -> pd.DataFrame:
        try:
            return _cached_sample(datasets[node.id], spec)
        except ValueError as exc:
            raise FlowError(str(exc), node=node.id, field="sample")

    return load
