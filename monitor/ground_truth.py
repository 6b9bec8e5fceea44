"""Ground truth for an endpoint's captured predictions: labels that arrive after the
answers, keyed by the captured ``event_id`` (and ``row`` within a multi-row request).

Each upload is checked whole and kept as one Parquet file in storage (``GroundTruthUpload``
names it); a later label for the same event replaces an earlier one when they are joined.
"""

from __future__ import annotations

import io
import uuid
from typing import TYPE_CHECKING, Any, Final

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from endpoints.models import Endpoint
from labeling.models import LabelingJob, LabelingJobStatus
from monitor.models import GroundTruthUpload
from monitor.services import invalid
from studio import storage

if TYPE_CHECKING:
    import pandas as pd

#: Ground truth rows per upload, and the size of a label.
MAX_TRUTH_ROWS: Final = 1_000_000
MAX_LABEL_CHARS: Final = 1000


def ground_truth_upload(*, endpoint: Endpoint, user: Any, rows: Any) -> GroundTruthUpload:
    """Labels for captured predictions: ``[{"event_id", "label", "row"?}]`` (``row``: the
    row of a multi-row request, 0 by default). Checked whole, then kept as one Parquet file;
    a later label for the same event replaces an earlier one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(rows, list) or not rows:
        raise invalid('rows is a non-empty list of {"event_id", "label"}.', "rows")
    if len(rows) > MAX_TRUTH_ROWS:
        raise invalid(f"At most {MAX_TRUTH_ROWS:,} rows per upload.", "rows")
    events, positions, labels = [], [], []
    for i, row in enumerate(rows):
        where = f"rows.{i}"
        if not isinstance(row, dict):
            raise invalid(f'{where} is {{"event_id", "label"}}.', where)
        unknown = set(row) - {"event_id", "label", "row"}
        if unknown:
            raise invalid(f"{where} has unknown keys: {', '.join(sorted(unknown))}.", where)
        event = row.get("event_id")
        if not isinstance(event, str) or not event or len(event) > 64:
            raise invalid("event_id is the captured event's id (a string).", f"{where}.event_id")
        label = row.get("label")
        if label is None or isinstance(label, dict | list) or len(str(label)) > MAX_LABEL_CHARS:
            raise invalid(
                "label is the true value: a string, a number or a boolean.", f"{where}.label"
            )
        position = row.get("row", 0)
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise invalid("row is the row's index in its request (0 or more).", f"{where}.row")
        events.append(event)
        positions.append(position)
        labels.append(label)
    # One type per column in Parquet: labels keep numbers as numbers where all are numbers.
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels):
        label_array = pa.array([float(v) for v in labels], pa.float64())
    else:
        label_array = pa.array([str(v) for v in labels], pa.string())
    table = pa.table(
        {
            "event_id": pa.array(events, pa.string()),
            "row": pa.array(positions, pa.int64()),
            "label": label_array,
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    key = f"ground-truth/{endpoint.pk}/{stamp}-{uuid.uuid4().hex[:12]}.parquet"
    saved = default_storage.save(key, ContentFile(buffer.getvalue()))
    return GroundTruthUpload.objects.create(
        endpoint=endpoint,
        key=saved,
        rows=len(events),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def ground_truth_frame(endpoint: Endpoint) -> pd.DataFrame:
    """Every label uploaded for the endpoint, oldest first (a later one wins on a join)."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    for upload in GroundTruthUpload.objects.filter(endpoint=endpoint).order_by("created_at", "id"):
        with storage.open_local(upload.key) as path:
            frame = pq.read_table(path).to_pandas()
        frame["label"] = frame["label"].astype(object)
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"event_id": [], "row": [], "label": []})
    return pd.concat(frames, ignore_index=True)


def ground_truth_from_labeling_job(
    *, endpoint: Endpoint, user: Any, labeling_job: Any
) -> GroundTruthUpload:
    """The labels of a Completed labeling job over captured rows (the one an execution's
    "Label these rows" starts) as ground truth: its output dataset keeps each row's
    ``event_id`` and ``row`` beside the label."""
    import pyarrow.parquet as pq

    if isinstance(labeling_job, bool) or not isinstance(labeling_job, int):
        raise invalid("labeling_job is the id of a labeling job.", "labeling_job")
    job = (
        LabelingJob.objects.select_related("output_dataset")
        .filter(pk=labeling_job, project_id=endpoint.project_id)
        .first()
    )
    if job is None:
        raise invalid(f"There is no labeling job {labeling_job} in this project.", "labeling_job")
    if job.status != LabelingJobStatus.COMPLETED or job.output_dataset is None:
        raise invalid(
            f"Labeling job {job.name} is {job.status}; its labels count once it is Completed.",
            "labeling_job",
        )
    attribute = job.label_attribute
    with storage.open_local(job.output_dataset.data_key) as path:
        names = set(pq.read_schema(path).names)
        if not {"event_id", attribute} <= names:
            raise invalid(
                "This labeling job was not over captured rows: its data has no event_id.",
                "labeling_job",
            )
        columns = ["event_id", attribute] + (["row"] if "row" in names else [])
        frame = pq.read_table(path, columns=columns).to_pandas()
    frame = frame[frame[attribute].notna()]
    rows = [
        {"event_id": str(r["event_id"]), "label": r[attribute], "row": int(r.get("row", 0) or 0)}
        for r in frame.to_dict("records")
    ]
    if not rows:
        raise invalid(f"Labeling job {job.name} has no labels.", "labeling_job")
    return ground_truth_upload(endpoint=endpoint, user=user, rows=rows)
