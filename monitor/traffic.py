"""An endpoint's captured traffic over a window, as rows: every variant's capture files of
the window's hours, each parsed with the input schema of the model that variant serves."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING

from endpoints.engine.capture import PREFIX as CAPTURE_PREFIX
from endpoints.models import Endpoint
from registry.models import ModelPackage
from studio import storage

if TYPE_CHECKING:
    import pandas as pd

    from monitor.engine.captures import CapturedRows


def variant_models(endpoint: Endpoint, fallback: ModelPackage | None) -> dict[str, ModelPackage]:
    """The package each variant serves (the first of a multi-model variant)."""
    config = endpoint.config or {}
    ids: dict[str, int] = {}
    for variant in config.get("variants") or []:
        packages = variant.get("model_packages") or [variant.get("model_package")]
        if packages and packages[0]:
            ids[str(variant["name"])] = int(packages[0])
    found = ModelPackage.objects.in_bulk(set(ids.values()))
    out = {name: found[pk] for name, pk in ids.items() if pk in found}
    if fallback is not None:
        out.setdefault("", fallback)
    return out


def captured(
    endpoint: Endpoint, start: datetime, end: datetime, models: dict[str, ModelPackage]
) -> tuple[CapturedRows | None, ModelPackage | None, int]:
    """The captured rows of every variant in [start, end), parsed with the variant's model's
    input schema; the model of the first variant that had traffic; files read."""
    import pandas as pd

    from monitor.engine.captures import CapturedRows, partition_hours, read_files

    hours = partition_hours(start, end)
    variants = sorted(
        {key.split("/")[2] for key in storage.list_keys(f"{CAPTURE_PREFIX}/{endpoint.name}")}
    )
    parts: list[CapturedRows] = []
    first: ModelPackage | None = None
    files = 0
    for variant in variants:
        package = models.get(variant) or models.get("") or next(iter(models.values()), None)
        if package is None:
            continue
        keys = [
            key
            for hour in hours
            for key in storage.list_keys(f"{CAPTURE_PREFIX}/{endpoint.name}/{variant}/{hour}")
        ]
        if not keys:
            continue
        with ExitStack() as stack:
            paths = [stack.enter_context(storage.open_local(k)) for k in keys]
            rows = read_files(
                paths,
                input_schema=package.input_schema,
                classes=package.classes or None,
                problem_type=package.problem_type,
                start=start,
                end=end,
            )
        files += len(keys)
        if len(rows.meta):
            parts.append(rows)
            first = first or package
    if not parts:
        return None, first, files
    if len(parts) == 1:
        return parts[0], first, files
    return (
        CapturedRows(
            inputs=pd.concat([p.inputs for p in parts], ignore_index=True),
            outputs=pd.concat([p.outputs for p in parts], ignore_index=True),
            meta=pd.concat([p.meta for p in parts], ignore_index=True),
            skipped=sum(p.skipped for p in parts),
            shadow_skipped=sum(p.shadow_skipped for p in parts),
            absent=tuple(n for n in parts[0].absent if all(n in p.absent for p in parts)),
        ),
        first,
        files,
    )


def typed_inputs(inputs: pd.DataFrame, schema: list[dict[str, str]]) -> pd.DataFrame:
    """The model's input columns of captured rows, typed as the model reads them: numbers
    (what does not parse, which the data-quality monitor counts, is a gap here) and text.
    A column no request carried is all gaps."""
    import pandas as pd

    frame = pd.DataFrame(index=inputs.index)
    for column in schema:
        values = inputs.get(column["name"])
        if values is None:
            values = pd.Series(None, index=inputs.index, dtype=object)
        if column.get("kind") in ("numeric", "datetime"):
            frame[column["name"]] = pd.to_numeric(values, errors="coerce")
        else:
            frame[column["name"]] = values.astype(object).map(
                lambda v: None if v is None or v != v else str(v)
            )
    return frame
