"""Back into the lifecycle from a monitoring execution: label the traffic it looked at, or
train the model again on the traffic that has ground truth.

- :func:`label_captured_rows` makes a dataset of the window's captured rows (each row shown
  to labelers as ``column = value`` lines) and a text-classification labeling job over the
  model's classes; the labeled dataset keeps ``event_id`` and ``row``, so its labels can be
  posted back as ground truth.
- :func:`retrain_on_fresh_data` joins the window's captured rows with their ground truth,
  adds the rows of the baseline's dataset, and starts a training job with the algorithm,
  hyperparameters and target of the job that made the model.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings

from labeling.models import LabelingJob, TaskType
from labeling.services import labeling_job_create
from monitor.ground_truth import ground_truth_frame
from monitor.models import MonitoringExecution
from monitor.services import invalid
from monitor.traffic import captured, typed_inputs, variant_models
from registry.models import ModelPackage
from studio import storage
from studio.models import Dataset
from studio.services import dataset_from_parquet
from training.models import TrainingJob
from training.services import training_job_create

if TYPE_CHECKING:
    import pandas as pd

    from monitor.engine.captures import CapturedRows

#: Labelers see at most this many rows of one window.
MAX_LABEL_ROWS: Final = 5_000
#: The baseline's rows added to a retraining set.
MAX_BASELINE_ROWS: Final = 1_000_000
CLASSIFICATION = ("binary_classification", "multiclass_classification")


def _traffic(execution: MonitoringExecution) -> tuple[CapturedRows, ModelPackage]:
    schedule = execution.schedule
    models = variant_models(schedule.endpoint, schedule.baseline.model_package)
    rows, package, _ = captured(
        schedule.endpoint, execution.window_start, execution.window_end, models
    )
    if rows is None or package is None or not len(rows.meta):
        raise invalid("This execution's window has no captured rows.", None)
    return rows, package


def _text(inputs: pd.DataFrame) -> list[str]:
    """Each row as ``column = value`` lines: what a labeler reads."""
    columns = list(inputs.columns)
    values = inputs.astype(object).where(inputs.notna(), "(missing)").to_numpy()
    return ["\n".join(f"{c} = {v}" for c, v in zip(columns, row, strict=True)) for row in values]


def _dataset(
    frame: pd.DataFrame, *, execution: MonitoringExecution, user: Any, name: str
) -> Dataset:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(settings.VAR_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    with TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "rows.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        return dataset_from_parquet(
            project=execution.schedule.project, user=user, name=name, path=path
        )


def label_captured_rows(*, execution: MonitoringExecution, user: Any) -> LabelingJob:
    """A labeling job over the window's captured rows (the most recent ``MAX_LABEL_ROWS``);
    the one already made for this execution if there is one (a second click makes none)."""
    import pandas as pd

    if execution.labeling_job_id is not None:
        existing = LabelingJob.objects.filter(pk=execution.labeling_job_id).first()
        if existing is not None:
            return existing
    rows, package = _traffic(execution)
    if package.problem_type not in CLASSIFICATION:
        raise invalid(
            f"Labelers pick classes; a {package.problem_type} model's traffic gets its ground "
            "truth by upload (POST /api/v1/endpoints/<id>/ground-truth/).",
            None,
        )
    inputs = typed_inputs(rows.inputs, package.input_schema)
    inputs = inputs.tail(MAX_LABEL_ROWS).reset_index(drop=True)
    meta = rows.meta.tail(MAX_LABEL_ROWS).reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "event_id": meta["event_id"].astype(str),
            "row": meta["row"].astype("int64"),
            "text": _text(inputs),
        }
    )
    frame = pd.concat([frame, inputs], axis=1)
    endpoint = execution.schedule.endpoint
    dataset = _dataset(
        frame, execution=execution, user=user, name=f"{endpoint.name}-captured-{execution.pk}"
    )
    classes = [str(c) for c in package.classes]
    job = labeling_job_create(
        project=execution.schedule.project,
        user=user,
        name=f"Label {endpoint.name} traffic (execution {execution.pk})",
        dataset=dataset,
        task_type=TaskType.TEXT_CLASSIFICATION,
        labels=classes,
        data_column="text",
        workers_per_item=1,
        instructions=(
            f"Each item is one request that endpoint **{endpoint.name}** received. Pick the "
            "outcome that is actually right for it; the model's own answer is not shown."
        ),
        label_attribute="ground_truth",
    )
    MonitoringExecution.objects.filter(pk=execution.pk).update(labeling_job=job)
    return job


def retrain_on_fresh_data(
    *, execution: MonitoringExecution, user: Any
) -> tuple[TrainingJob, Dataset]:
    """A training job like the model's own, on the labeled traffic plus the baseline's data."""
    import pandas as pd
    import pyarrow.parquet as pq

    from monitor.engine.quality import join_ground_truth

    rows, package = _traffic(execution)
    origin = package.training_job
    if origin is None or origin.algorithm == "script":
        raise invalid(
            "The model did not come from a built-in algorithm's training job here, so there is "
            "no recipe to train it again; start a training job on the new data yourself.",
            None,
        )
    target = origin.target or str((package.metadata or {}).get("target") or "")
    truth = ground_truth_frame(execution.schedule.endpoint)
    inputs = rows.inputs.assign(
        event_id=rows.meta["event_id"].to_numpy(), row=rows.meta["row"].to_numpy()
    )
    labeled = join_ground_truth(rows.meta, rows.outputs, truth) if not truth.empty else truth
    if labeled.empty:
        raise invalid(
            "No captured row of this window has ground truth yet: upload it "
            "(POST /api/v1/endpoints/<id>/ground-truth/) or label the rows first.",
            None,
        )
    features = [c["name"] for c in package.input_schema]
    joined = labeled[["event_id", "row", "label"]].merge(inputs, on=["event_id", "row"], how="left")
    fresh = typed_inputs(joined, package.input_schema).assign(
        **{target: joined["label"].to_numpy()}
    )
    parts = [fresh]
    baseline = execution.schedule.baseline.dataset
    if baseline is not None and baseline.data_key:
        with storage.open_local(baseline.data_key) as path:
            names = set(pq.read_schema(path).names)
            wanted = [c for c in [*features, target] if c in names]
            if target in names:
                old = pq.read_table(path, columns=wanted).slice(0, MAX_BASELINE_ROWS).to_pandas()
                parts.insert(0, old)
    frame = pd.concat(parts, ignore_index=True)
    if frame[target].dtype == object:
        # Uploaded labels and the baseline's may differ in type: one type for the column.
        regression = package.problem_type == "regression"
        frame[target] = (
            pd.to_numeric(frame[target], errors="coerce")
            if regression
            else frame[target].astype(str)
        )
    endpoint = execution.schedule.endpoint
    dataset = _dataset(
        frame, execution=execution, user=user, name=f"{endpoint.name}-retrain-{execution.pk}"
    )
    training = training_job_create(
        project=execution.schedule.project,
        user=user,
        name=f"{package.group.name}-retrain-{execution.pk}",
        algorithm=origin.algorithm,
        channels={"train": dataset.pk},
        target=target,
        hyperparameters=dict(origin.hyperparameters or {}),
        problem_type=origin.problem_type,
    )
    return training, dataset
