"""Reading a bounded sample of a Parquet dataset for previews: first rows, random, stratified."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SAMPLE_MODES = ("first", "random", "stratified")
DEFAULT_SAMPLE_ROWS = 50_000
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class SampleSpec:
    """Which rows of a source a preview sees."""

    mode: str = "first"
    rows: int = DEFAULT_SAMPLE_ROWS
    seed: int = 0
    column: str = ""  # stratified: the column whose classes keep their proportions

    def key(self) -> tuple[str, int, int, str]:
        return (self.mode, self.rows, self.seed, self.column)


def read_sample(path: str | Path, spec: SampleSpec) -> pd.DataFrame:
    """At most ``spec.rows`` rows, read batch by batch so memory stays bounded."""
    file = pq.ParquetFile(path)
    total = file.metadata.num_rows
    if spec.mode == "first" or total <= spec.rows:
        batches: list[pa.RecordBatch] = []
        taken = 0
        for batch in file.iter_batches(batch_size=min(BATCH_ROWS, max(spec.rows, 1))):
            batches.append(batch.slice(0, spec.rows - taken))
            taken += batches[-1].num_rows
            if taken >= spec.rows:
                break
        table = pa.Table.from_batches(batches, schema=file.schema_arrow)
        return table.to_pandas()
    if spec.mode == "stratified" and spec.column not in file.schema_arrow.names:
        raise ValueError(f"Column {spec.column!r} is not in the dataset; pick one to stratify by.")
    rng = np.random.default_rng(spec.seed)
    quotas = _quotas(file, spec) if spec.mode == "stratified" else {None: spec.rows}
    # One pass, bounded memory: every row gets a random key, and each class (or the whole
    # file) keeps the rows with the smallest keys: an exact uniform sample of its quota.
    kept: dict[Any, pd.DataFrame] = {}
    offset = 0
    for batch in file.iter_batches(batch_size=BATCH_ROWS):
        frame = batch.to_pandas()
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        frame["_sextant_key"] = rng.random(len(frame))
        groups = (
            frame.groupby(spec.column, dropna=False, sort=False)
            if spec.mode == "stratified"
            else [(None, frame)]
        )
        for value, group in groups:
            value = _class_key(value)
            both = pd.concat([kept[value], group]) if value in kept else group
            kept[value] = both.nsmallest(quotas.get(value, 0), "_sextant_key")
    parts = [k for k in kept.values() if len(k)]
    if not parts:
        return file.schema_arrow.empty_table().to_pandas()
    out = pd.concat(parts).drop(columns="_sextant_key")
    return out.sort_index(kind="stable").reset_index(drop=True)


def _class_key(value: Any) -> Any:
    value = value[0] if isinstance(value, tuple) and len(value) == 1 else value
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _quotas(file: pq.ParquetFile, spec: SampleSpec) -> dict[Any, int]:
    """Rows per class, in proportion to the class sizes, at least one for every class."""
    counts: dict[Any, int] = {}
    for batch in file.iter_batches(batch_size=BATCH_ROWS * 4, columns=[spec.column]):
        for value, n in batch.column(0).to_pandas().value_counts(dropna=False).items():
            key = _class_key(value)
            counts[key] = counts.get(key, 0) + int(n)
    total = sum(counts.values())
    exact = {k: spec.rows * n / total for k, n in counts.items()}
    quotas = {k: max(1, math.floor(v)) for k, v in exact.items()}
    # Largest remainders take the rows still to give.
    short = spec.rows - sum(quotas.values())
    for k in sorted(exact, key=lambda k: exact[k] - math.floor(exact[k]), reverse=True):
        if short <= 0:
            break
        if quotas[k] < counts[k]:
            quotas[k] += 1
            short -= 1
    return {k: min(q, counts[k]) for k, q in quotas.items()}
