"""The monitor's jobs: computing a baseline, running a monitoring execution, and a Clarify
job. Statistics, drift and checks run here (no model is loaded); anything that needs the
model runs in :mod:`monitor.engine.modelwork`, a limited child process, since a model
archive is a pickle."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from endpoints.models import Endpoint
from monitor import clarify as clarify_services
from monitor import services
from monitor.engine.attribution import DEFAULT_THRESHOLD, importances, ndcg
from monitor.ground_truth import ground_truth_frame
from monitor.models import (
    ClarifyJob,
    MonitoringBaseline,
    MonitoringExecution,
    MonitorType,
)
from monitor.traffic import captured, typed_inputs, variant_models
from registry.models import ModelPackage
from studio import storage
from studio.choices import Queue
from studio.jobs import JobContext, JobFailed, register_runner
from studio.jobs.sandbox import run_limited
from studio.models import Job

if TYPE_CHECKING:
    import pandas as pd

    from monitor.engine.captures import CapturedRows

CLASSIFICATION = ("binary_classification", "multiclass_classification")


def model_work(ctx: JobContext, spec: dict[str, Any], *, done_at: float) -> dict[str, Any]:
    """Run a :mod:`monitor.engine.modelwork` task in a limited child process."""
    workdir = ctx.workdir
    spec = {**spec, "output": str(workdir / f"{spec['task']}-result.json")}
    spec_path = workdir / f"{spec['task']}-spec.json"
    spec_path.write_text(json.dumps(spec))
    errors: list[str] = []

    def message(line: dict[str, Any]) -> None:
        if "error" in line:
            errors.append(str(line["error"]))

    status, _, stderr_tail = run_limited(
        ctx,
        [sys.executable, "-m", "monitor.engine.modelwork", str(spec_path)],
        workdir=workdir,
        timeout=ctx.max_runtime or float(settings.SEXTANT_PROCESSING_TIMEOUT),
        on_message=message,
    )
    output = Path(spec["output"])
    if status != 0 or not output.exists():
        if errors:
            raise JobFailed(errors[-1])
        lines = stderr_tail.strip().splitlines()
        raise JobFailed(f"The model work failed: {lines[-1] if lines else f'exit status {status}'}")
    ctx.progress(done_at)
    result: dict[str, Any] = json.loads(output.read_text())
    return result


# --------------------------------------------------------------------------- baselines


def _baseline_finished(job: Job) -> None:
    baseline_id = int((job.parameters or {}).get("baseline", 0))
    if job.status != "Completed":
        services.baseline_fail(
            baseline_id=baseline_id,
            reason=job.failure_reason or f"The baseline job was {job.status.lower()}.",
        )


@register_runner(
    services.BASELINE_KIND,
    queue=Queue.CPU,
    title="Monitoring baseline",
    on_finish=_baseline_finished,
)
def run_baseline(ctx: JobContext) -> dict[str, Any]:
    """Statistics and suggested constraints of the dataset; with a model, its quality, bias
    and SHAP importance on it."""
    from monitor.engine.checks import suggest_constraints
    from monitor.engine.profile import profile_table

    baseline = (
        MonitoringBaseline.objects.select_related("dataset", "model_package")
        .filter(pk=ctx.parameters.get("baseline"))
        .first()
    )
    if baseline is None:
        raise JobFailed("The baseline no longer exists.")
    if baseline.status == "Completed":
        return {"baseline": baseline.pk}
    dataset = baseline.dataset
    if dataset is None or not dataset.data_key:
        raise JobFailed("The baseline's dataset was deleted.")
    services.baseline_started(baseline_id=baseline.pk)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        data = stack.enter_context(storage.open_local(dataset.data_key))
        ctx.log(f"Profiling {dataset.name} v{dataset.version} ({dataset.num_rows or 0:,} rows).")
        columns = _baseline_columns(baseline, data)
        statistics = profile_table(
            data, columns=columns, on_progress=lambda f: ctx.progress(0.5 * f)
        )
        results["statistics"] = statistics
        results["constraints"] = suggest_constraints(statistics)
        ctx.log(f"Profiled {len(statistics['columns'])} columns; suggested constraints.")
        package = baseline.model_package
        if package is not None:
            model = stack.enter_context(storage.open_local(package.artifact_key))
            request = (baseline.bias or {}).get("request") or None
            work = model_work(
                ctx,
                {
                    "task": "baseline",
                    "data": str(data),
                    "model": str(model),
                    "label": baseline.label or None,
                    "bias": request,
                },
                done_at=0.95,
            )
            if "quality" in work:
                results["quality"] = {"metrics": work["quality"], "source": "dataset"}
            else:
                results["quality"] = _package_quality(package)
            if "bias" in work:
                results["bias"] = {"request": request, "report": work["bias"]}
            results["attributions"] = work.get("attributions") or {}
    services.baseline_store(baseline_id=baseline.pk, **results)
    return {"baseline": baseline.pk}


def _baseline_columns(baseline: MonitoringBaseline, data: Path) -> list[str] | None:
    """With a model: the columns it reads (what its traffic carries), else all of them."""
    import pyarrow.parquet as pq

    package = baseline.model_package
    if package is None:
        return None
    names = set(pq.read_schema(data).names)
    return [c["name"] for c in package.input_schema if c["name"] in names]


def _package_quality(package: ModelPackage) -> dict[str, Any]:
    """The package's own validation metrics, when the baseline has no label to measure."""
    metrics = package.metrics or (package.metadata or {}).get("metrics") or {}
    for channel in ("validation", "test", "train"):
        picked = {k.split(":", 1)[1]: v for k, v in metrics.items() if k.startswith(f"{channel}:")}
        if picked:
            return {"metrics": picked, "source": f"model_package:{channel}"}
    return {}


# --------------------------------------------------------------------------- executions


def _execution_finished(job: Job) -> None:
    if job.status != "Completed":
        services.execution_fail(
            execution_id=int((job.parameters or {}).get("execution", 0)),
            status=job.status,
            reason=job.failure_reason or f"The execution was {job.status.lower()}.",
        )


@register_runner(
    services.EXECUTION_KIND,
    queue=Queue.CPU,
    title="Monitoring execution",
    on_finish=_execution_finished,
)
def run_execution(ctx: JobContext) -> dict[str, Any]:
    execution = (
        MonitoringExecution.objects.select_related(
            "schedule__endpoint", "schedule__baseline__model_package"
        )
        .filter(pk=ctx.parameters.get("execution"))
        .first()
    )
    if execution is None:
        raise JobFailed("The monitoring execution no longer exists.")
    if execution.status not in ("Pending", "InProgress"):
        return {"execution": execution.pk}
    services.execution_started(execution_id=execution.pk)
    schedule = execution.schedule
    baseline = schedule.baseline
    endpoint = schedule.endpoint
    models = variant_models(endpoint, baseline.model_package)
    rows, package, files = captured(endpoint, execution.window_start, execution.window_end, models)
    ctx.progress(0.3)
    window = {
        "start": execution.window_start.isoformat(),
        "end": execution.window_end.isoformat(),
        "files": files,
    }
    if rows is None:
        ctx.log("No captured traffic in this window.")
        report: dict[str, Any] = {
            "monitor_type": schedule.monitor_type,
            "window": window,
            "note": "No captured traffic in this window: is data capture on for the endpoint?",
        }
        services.execution_finish(
            execution_id=execution.pk, num_rows=0, violations=[], report=report, scores={}
        )
        return {"execution": execution.pk, "rows": 0}
    ctx.log(
        f"Read {len(rows.meta):,} captured rows from {files} files"
        + (f" ({rows.skipped} unreadable skipped)" if rows.skipped else "")
        + "."
    )
    kind = schedule.monitor_type
    if kind == MonitorType.DATA_QUALITY:
        violations, report, scores = data_quality(baseline, rows, package)
    elif kind == MonitorType.MODEL_QUALITY:
        violations, report, scores = model_quality(schedule, baseline, rows, package)
    elif kind == MonitorType.BIAS_DRIFT:
        violations, report, scores = bias_drift(schedule, baseline, rows, package)
    else:
        violations, report, scores = attribution_drift(ctx, schedule, baseline, rows)
    report = {
        "monitor_type": kind,
        "window": window,
        "rows": len(rows.meta),
        "skipped": rows.skipped,
        **report,
    }
    services.execution_finish(
        execution_id=execution.pk,
        num_rows=len(rows.meta),
        violations=violations,
        report=report,
        scores=scores,
    )
    ctx.log(
        f"{len(violations)} violation{'s' if len(violations) != 1 else ''}."
        if violations
        else "No violations."
    )
    return {"execution": execution.pk, "rows": len(rows.meta), "violations": len(violations)}


def traffic_view(
    baseline: MonitoringBaseline, package: ModelPackage | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The baseline's statistics and constraints of the columns traffic carries: a model's
    inputs (a dataset's label or ids never reach the endpoint, and are not "missing")."""
    statistics, constraints = baseline.statistics, baseline.constraints
    if package is None or not package.input_schema:
        return statistics, constraints
    inputs = {c["name"] for c in package.input_schema}
    statistics = {
        **statistics,
        "columns": [c for c in statistics.get("columns", []) if c.get("name") in inputs],
    }
    constraints = {
        **constraints,
        "features": [f for f in constraints.get("features", []) if f.get("name") in inputs],
    }
    return statistics, constraints


def data_quality(
    baseline: MonitoringBaseline, rows: CapturedRows, package: ModelPackage | None
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, float]]:
    from monitor.engine.checks import check_constraints
    from monitor.engine.drift import compare
    from monitor.engine.profile import profile_against

    statistics, constraints = traffic_view(baseline, package)
    # Columns no request carried are missing columns, not columns of gaps.
    inputs = rows.inputs.drop(columns=list(rows.absent))
    current = profile_against(statistics, inputs)
    config = (constraints or {}).get("monitoring_config") or {}
    drift_check = config.get("baseline_drift_check") or {}
    drift = compare(
        statistics,
        current,
        method=str(drift_check.get("method") or "auto"),
        threshold=drift_check.get("threshold"),
        share_threshold=float(config.get("drift_share_threshold", 0.5)),
    )
    violations = check_constraints(statistics, constraints, current, drift)
    drift_doc = drift.to_dict()
    scores = {"share_drifted": float(drift_doc["share_drifted"])}
    for column in drift_doc["columns"]:
        # One scale for every column's trend (0 = the same distribution, 1 = disjoint): the
        # KS distance for numbers, the Jensen-Shannon distance for categories, whatever test
        # decided (a chi-square statistic would dwarf them).
        value = (
            column.get("ks") if column.get("kind") == "numeric" else column.get("jensen_shannon")
        )
        if value is not None:
            scores[f"drift:{column['name']}"] = float(value)
    return violations, {"drift": drift_doc, "statistics": current}, scores


def _labeled(rows: CapturedRows, endpoint: Endpoint) -> pd.DataFrame:
    import pandas as pd

    from monitor.engine.quality import (
        join_ground_truth,
    )

    truth = ground_truth_frame(endpoint)
    if truth.empty:
        return pd.DataFrame()
    return join_ground_truth(rows.meta, rows.outputs, truth)


def _probabilities(frame: pd.DataFrame, classes: list[Any]) -> Any:
    import pandas as pd

    columns = [f"probability_{c}" for c in classes]
    if not classes or any(c not in frame.columns for c in columns):
        return None
    values = frame[columns].to_numpy(dtype="float64")
    return None if pd.isna(values).any() else values


def model_quality(
    schedule: Any, baseline: MonitoringBaseline, rows: CapturedRows, package: ModelPackage | None
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, float]]:
    import pandas as pd

    from monitor.engine.quality import (
        classification_metrics,
        compare_quality,
        estimated_classification_metrics,
        regression_metrics,
    )

    problem = package.problem_type if package is not None else ""
    classes = list(package.classes) if package is not None else []
    labeled = _labeled(rows, schedule.endpoint)
    tolerance = float(schedule.config.get("tolerance", 0.05))
    report: dict[str, Any] = {"labeled_rows": len(labeled)}
    if len(labeled):
        if problem in CLASSIFICATION:
            metrics = classification_metrics(
                labeled["label"].tolist(),
                labeled["predicted_label"].tolist(),
                classes=classes or None,
                probabilities=_probabilities(labeled, classes),
            )
        else:
            metrics = regression_metrics(
                pd.to_numeric(labeled["label"], errors="coerce").to_numpy("float64"),
                labeled["prediction"].to_numpy("float64"),
            )
    elif problem in CLASSIFICATION and _probabilities(rows.outputs, classes) is not None:
        metrics = estimated_classification_metrics(_probabilities(rows.outputs, classes), classes)
        report["note"] = (
            "No ground truth has arrived for these predictions: the metrics are estimated from "
            "the model's confidence (CBPE)."
        )
    else:
        report["note"] = "No ground truth has arrived for these predictions yet."
        return [], report, {}
    baseline_metrics = (baseline.quality or {}).get("metrics") or {}
    violations = compare_quality(metrics, baseline_metrics, tolerance=tolerance)
    report["metrics"] = metrics
    report["baseline_metrics"] = baseline_metrics
    report["tolerance"] = tolerance
    scores = {
        k: float(v)
        for k, v in metrics.items()
        if k in ("accuracy", "precision", "recall", "f1", "auc", "rmse", "mae", "r2")
        and isinstance(v, int | float)
    }
    return violations, report, scores


def bias_drift(
    schedule: Any, baseline: MonitoringBaseline, rows: CapturedRows, package: ModelPackage | None
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, float]]:
    from monitor.engine.bias import Facet, bias_report
    from monitor.engine.bias import bias_drift as bias_drift_check

    request = (baseline.bias or {}).get("request") or {}
    reference = (baseline.bias or {}).get("report") or {}
    threshold = float(schedule.config.get("threshold", 0.1))
    problem = package.problem_type if package is not None else ""
    predicted_column = "predicted_label" if problem in CLASSIFICATION else "prediction"
    labeled = _labeled(rows, schedule.endpoint)
    report: dict[str, Any] = {"labeled_rows": len(labeled), "threshold": threshold}
    if labeled.empty:
        report["note"] = "No ground truth has arrived yet: bias is measured on labeled rows."
        return [], report, {}
    inputs = rows.inputs.assign(
        event_id=rows.meta["event_id"].to_numpy(), row=rows.meta["row"].to_numpy()
    )
    frame = labeled.merge(inputs, on=["event_id", "row"], how="left")
    current = bias_report(
        frame,
        label="label",
        positive_label_values=request.get("positive_label_values"),
        facets=[Facet(f["name"], f.get("values_or_threshold")) for f in request.get("facets", [])],
        predicted_label=frame[predicted_column],
        stages=("post_training_bias",),
    )
    violations, scores = bias_drift_check(reference, current, threshold=threshold)
    report["bias"] = current
    report["baseline_bias"] = reference
    return violations, report, scores


def attribution_drift(
    ctx: JobContext, schedule: Any, baseline: MonitoringBaseline, rows: CapturedRows
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, float]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    package = baseline.model_package
    if package is None:
        raise JobFailed("The baseline has no model to explain the traffic with.")
    sample = int(schedule.config.get("rows", 500))
    threshold = float(schedule.config.get("threshold", DEFAULT_THRESHOLD))
    frame = typed_inputs(rows.inputs, package.input_schema)
    data = ctx.workdir / "traffic.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), data)
    with storage.open_local(package.artifact_key) as model:
        work = model_work(
            ctx,
            {"task": "explain", "data": str(data), "model": str(model), "rows": sample},
            done_at=0.9,
        )
    current = work["attributions"]
    reference = baseline.attributions or {}
    result = ndcg(
        importances(reference.get("global_importance") or []),
        importances(current.get("global_importance") or []),
        threshold=threshold,
    )
    report = {
        "attribution": result.to_dict(),
        "current_importance": current.get("global_importance") or [],
        "baseline_importance": reference.get("global_importance") or [],
    }
    scores = {"ndcg": result.ndcg}
    for row in current.get("global_importance") or []:
        scores[f"shap:{row['feature']}"] = float(row["mean_abs_shap"])
    return result.violations(), report, scores


# --------------------------------------------------------------------------- clarify


# A failed or stopped Clarify job leaves no report and nothing to undo: no on_finish.
@register_runner(clarify_services.CLARIFY_KIND, queue=Queue.CPU, title="Clarify")
def run_clarify(ctx: JobContext) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from monitor.engine.bias import Facet, bias_report

    clarify = (
        ClarifyJob.objects.select_related("dataset", "model_package")
        .filter(job_id=ctx.job_id)
        .first()
    )
    if clarify is None:
        raise JobFailed("The Clarify job no longer exists.")
    if clarify.report:
        return {"clarify_job": clarify.pk}
    dataset = clarify.dataset
    if dataset is None or not dataset.data_key:
        raise JobFailed("The dataset was deleted.")
    methods = list(clarify.methods)
    with ExitStack() as stack:
        data = stack.enter_context(storage.open_local(dataset.data_key))
        ctx.log(f"Reading {dataset.name} v{dataset.version} ({dataset.num_rows or 0:,} rows).")
        if clarify.model_package is None:
            # Pre-training bias needs no model: it is measured here.
            frame = pq.read_table(data).to_pandas()
            result = {
                "bias": bias_report(
                    frame,
                    label=clarify.label,
                    positive_label_values=clarify.positive_label_values,
                    facets=[Facet(f["name"], f.get("values_or_threshold")) for f in clarify.facets],
                    group_variable=clarify.group_variable or None,
                    stages=("pre_training_bias",),
                )
            }
        else:
            model = stack.enter_context(storage.open_local(clarify.model_package.artifact_key))
            result = model_work(
                ctx,
                {
                    "task": "clarify",
                    "data": str(data),
                    "model": str(model),
                    "label": clarify.label,
                    "positive_label_values": clarify.positive_label_values,
                    "facets": clarify.facets,
                    "group_variable": clarify.group_variable or None,
                    "methods": methods,
                    "shap": clarify.options,
                },
                done_at=0.95,
            )
    report = {
        "label": clarify.label,
        "positive_label_values": clarify.positive_label_values,
        "facets": clarify.facets,
        "methods": methods,
        "dataset": {"id": dataset.pk, "name": dataset.name, "version": dataset.version},
    }
    bias = result.get("bias") or {}
    for stage in ("pre_training_bias", "post_training_bias"):
        if stage in methods and stage in bias:
            report[stage] = bias[stage]
    if "num_rows" in bias:
        report["num_rows"] = bias["num_rows"]
    if "explanations" in result:
        report["explanations"] = result["explanations"]
    clarify_services.clarify_job_store(clarify_id=clarify.pk, report=report)
    ctx.log("The report is ready.")
    return {"clarify_job": clarify.pk}
