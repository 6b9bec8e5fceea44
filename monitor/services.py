"""Every write of Model Monitor: baselines, schedules and their executions, alerts. Ground
truth is in :mod:`monitor.ground_truth`, Clarify jobs in :mod:`monitor.clarify`.

Schedules are cron expressions in UTC. Beat calls :func:`schedules_tick` often (every
``SEXTANT_MONITOR_TICK_SECONDS``); each due schedule is claimed by moving its
``next_run_at`` on with a conditional UPDATE, so an execution starts once per fire time
however many ticks or beats see it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from celery.schedules import crontab
from django.conf import settings
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from endpoints.models import Endpoint
from monitor.models import (
    BaselineStatus,
    ExecutionStatus,
    MonitoringAlert,
    MonitoringBaseline,
    MonitoringExecution,
    MonitoringSchedule,
    MonitorType,
    ScheduleStatus,
)
from registry.models import ModelPackage, PackageStatus
from studio.choices import DatasetStatus
from studio.errors import ConflictError, ServiceError
from studio.jobs.dispatch import send_task_on_commit
from studio.models import Dataset, Project
from studio.services import NAME_RE, job_stop, job_submit

BASELINE_KIND: Final = "monitor.baseline"
EXECUTION_KIND: Final = "monitor.execution"
SCHEDULE_ALIASES: Final = {"hourly": "0 * * * *", "daily": "0 0 * * *"}
#: The bias and attribution monitors need the model's view of the baseline.
MODEL_MONITORS: Final = {
    MonitorType.MODEL_QUALITY,
    MonitorType.BIAS_DRIFT,
    MonitorType.FEATURE_ATTRIBUTION_DRIFT,
}


def invalid(message: str, field: str | None) -> ServiceError:
    return ServiceError("invalid", message, field=field)


def _id(value: Any, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{field} is the id of a {what}.", field)
    return value


def checked_name(value: Any, default: str, field: str = "name") -> str:
    text = (value if isinstance(value, str) else "").strip() or default
    text = text[:120]
    if not NAME_RE.match(text):
        raise invalid(
            "A name is letters, digits, spaces, '.', '_' or '-', starting with a letter or digit.",
            field,
        )
    return text


# --------------------------------------------------------------------------- baselines


def ready_dataset(project: Project, value: Any, field: str = "dataset") -> Dataset:
    dataset = Dataset.objects.filter(project=project, pk=_id(value, field, "dataset")).first()
    if dataset is None:
        raise invalid(f"There is no dataset {value} in this project.", field)
    if dataset.status != DatasetStatus.READY or not dataset.data_key:
        raise invalid(f"Dataset {dataset.name} is {dataset.status}, not Ready.", field)
    if dataset.is_images:
        raise invalid(f"Dataset {dataset.name} holds images; a baseline is of a table.", field)
    if not dataset.num_rows:
        raise invalid(f"Dataset {dataset.name} has no rows.", field)
    return dataset


def completed_package(project: Project, value: Any, field: str = "model_package") -> ModelPackage:
    package = (
        ModelPackage.objects.select_related("group")
        .filter(project=project, pk=_id(value, field, "model package"))
        .first()
    )
    if package is None:
        raise invalid(f"There is no model package {value} in this project.", field)
    if package.status != PackageStatus.COMPLETED or not package.artifact_key:
        raise invalid(f"Model package {package} is {package.status}, not Completed.", field)
    return package


def dataset_columns(dataset: Dataset) -> list[str]:
    return [str(c.get("name")) for c in dataset.columns or []]


def check_facets(value: Any, columns: list[str], field: str = "facets") -> list[dict[str, Any]]:
    """``[{"name": column, "values_or_threshold": [values] | number | null}]``, each a column."""
    if not isinstance(value, list) or not value:
        raise invalid(
            'facets is a non-empty list of {"name": column, "values_or_threshold": …}.', field
        )
    out: list[dict[str, Any]] = []
    for i, facet in enumerate(value):
        where = f"{field}.{i}"
        if not isinstance(facet, dict) or not isinstance(facet.get("name"), str):
            raise invalid(f'{where} is {{"name": column, "values_or_threshold": …}}.', where)
        unknown = set(facet) - {"name", "values_or_threshold"}
        if unknown:
            raise invalid(f"{where} has unknown keys: {', '.join(sorted(unknown))}.", where)
        if facet["name"] not in columns:
            raise invalid(f"The dataset has no column {facet['name']!r}.", f"{where}.name")
        values = facet.get("values_or_threshold")
        if values is not None and not (
            (isinstance(values, list) and values and all(_scalar(v) for v in values))
            or (isinstance(values, int | float) and not isinstance(values, bool))
        ):
            raise invalid(
                "values_or_threshold is a list of the facet's sensitive values, a number (the "
                "group is the values above it) or null (each value in turn).",
                f"{where}.values_or_threshold",
            )
        out.append({"name": facet["name"], "values_or_threshold": values})
    names = [f["name"] for f in out]
    if len(set(names)) != len(names):
        raise invalid("A facet is named twice.", field)
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)  # bool is an int


def check_positive(value: Any, field: str = "positive_label_values") -> list[Any] | float:
    """A non-empty list of label values, or a number (a regression label above it)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list) and value and all(_scalar(v) for v in value):
        return list(value)
    raise invalid(
        "positive_label_values is a non-empty list of the favourable label values, or a number "
        "(a regression label is favourable above it).",
        field,
    )


@transaction.atomic
def monitoring_baseline_create(
    *,
    project: Project,
    user: Any,
    dataset: Any,
    name: Any = None,
    model_package: Any = None,
    label: Any = None,
    positive_label_values: Any = None,
    facets: Any = None,
) -> MonitoringBaseline:
    """Check a baseline's inputs, create it Pending and start the job that computes it.

    With ``model_package`` and ``label`` (a column of the dataset), the job also measures
    the model's quality on the dataset and its SHAP importance (for the model-quality and
    attribution monitors); with ``facets`` and ``positive_label_values`` too, its bias (for
    the bias-drift monitor).
    """
    data = ready_dataset(project, dataset)
    columns = dataset_columns(data)
    package = completed_package(project, model_package) if model_package is not None else None
    label_name = label.strip() if isinstance(label, str) else ""
    if label not in (None, "") and not label_name:
        raise invalid("label is a column name.", "label")
    if label_name and label_name not in columns:
        raise invalid(f"The dataset has no column {label_name!r}.", "label")
    if label_name and package is None:
        raise invalid(
            "A label is compared with a model's predictions: name the model_package.", "label"
        )
    if package is not None:
        missing = [c["name"] for c in package.input_schema if c["name"] not in columns]
        if missing:
            raise invalid(
                f"The dataset lacks columns the model reads: {', '.join(missing[:5])}.",
                "model_package",
            )
    bias: dict[str, Any] = {}
    if facets is not None or positive_label_values is not None:
        if not label_name or package is None:
            raise invalid(
                "Bias is measured on a label and a model's predictions: name both.", "facets"
            )
        bias = {
            "facets": check_facets(facets, columns),
            "positive_label_values": check_positive(positive_label_values),
        }
    baseline = MonitoringBaseline.objects.create(
        project=project,
        name=checked_name(name, f"{data.name} v{data.version}"),
        dataset=data,
        dataset_label=f"{data.name} v{data.version}",
        model_package=package,
        label=label_name,
        bias={"request": bias} if bias else {},
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    job = job_submit(
        project=project,
        kind=BASELINE_KIND,
        owner=user,
        name=f"Baseline {baseline.name}",
        parameters={"baseline": baseline.pk},
        inputs={"dataset": data.pk},
    )
    MonitoringBaseline.objects.filter(pk=baseline.pk).update(job=job)
    baseline.job = job
    return baseline


def monitoring_baseline_update(
    *, baseline: MonitoringBaseline, statistics: Any = None, constraints: Any = None
) -> MonitoringBaseline:
    """People's edits of a Completed baseline: its statistics (a column's type, a column
    dropped) and its constraints (thresholds, domains, ranges)."""
    from monitor.engine.checks import ConstraintsError, validate_constraints

    if baseline.status != BaselineStatus.COMPLETED:
        raise ConflictError(
            "not_ready", f"The baseline is {baseline.status}; edit it once it is Completed."
        )
    fields: list[str] = []
    if statistics is not None:
        _check_statistics(statistics, baseline.statistics)
        baseline.statistics = statistics
        fields.append("statistics")
    if constraints is not None:
        try:
            validate_constraints(
                constraints, statistics if statistics is not None else baseline.statistics
            )
        except ConstraintsError as exc:
            # The engine names the setting by its path; people read its last part first.
            subject = str(exc.field or "").rsplit(".", 1)[-1]
            message = f"{subject} {exc.message}" if subject else str(exc.message)
            raise invalid(
                message.rstrip(".") + ".",
                f"constraints.{exc.field}" if exc.field else "constraints",
            )
        baseline.constraints = constraints
        fields.append("constraints")
    if fields:
        baseline.edited_at = timezone.now()
        baseline.save(update_fields=[*fields, "edited_at"])
    return baseline


def _check_statistics(value: Any, current: dict[str, Any]) -> None:
    """Edited statistics keep the computed shape: the columns (a subset of those computed),
    each with its bins and counts."""
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise invalid(
            'statistics is {"num_rows", "columns": [...]} as the baseline gave it.', "statistics"
        )
    known = {c.get("name"): c for c in current.get("columns", [])}
    for i, column in enumerate(value["columns"]):
        where = f"statistics.columns.{i}"
        if not isinstance(column, dict) or column.get("name") not in known:
            raise invalid("Each column is one the baseline computed, by its name.", where)
        kind = column.get("kind")
        if kind not in ("numeric", "categorical"):
            raise invalid("kind is numeric or categorical.", f"{where}.kind")
        part = column.get(kind)
        if kind == "numeric":
            if not isinstance(part, dict):
                raise invalid("A numeric column keeps its numeric statistics.", f"{where}.numeric")
            edges, counts = part.get("edges"), part.get("counts")
            if (
                not isinstance(edges, list)
                or not isinstance(counts, list)
                or len(counts) != len(edges) + 1
                or any(not isinstance(e, int | float) for e in edges)
                or any(b <= a for a, b in itertools.pairwise(edges))
            ):
                raise invalid(
                    "numeric.edges rise strictly and numeric.counts has one more entry.",
                    f"{where}.numeric",
                )
        elif not isinstance(part, dict) or not isinstance(part.get("frequencies"), dict):
            raise invalid("A categorical column keeps its frequencies.", f"{where}.categorical")


def baseline_started(*, baseline_id: int) -> None:
    MonitoringBaseline.objects.filter(pk=baseline_id, status=BaselineStatus.PENDING).update(
        status=BaselineStatus.IN_PROGRESS
    )


def baseline_store(*, baseline_id: int, **results: Any) -> None:
    """The job's results, once: a later attempt of a finished baseline changes nothing."""
    MonitoringBaseline.objects.filter(pk=baseline_id).exclude(
        status=BaselineStatus.COMPLETED
    ).update(status=BaselineStatus.COMPLETED, failure_reason="", **results)


def baseline_fail(*, baseline_id: int, reason: str) -> None:
    MonitoringBaseline.objects.filter(pk=baseline_id).exclude(
        status=BaselineStatus.COMPLETED
    ).update(status=BaselineStatus.FAILED, failure_reason=reason[:2000])


def monitoring_baseline_delete(*, baseline: MonitoringBaseline) -> None:
    if baseline.schedules.exists():
        raise ConflictError("in_use", "Schedules compare against this baseline: delete them first.")
    baseline.delete()


# --------------------------------------------------------------------------- schedules


def parse_schedule(value: Any) -> tuple[str, str]:
    """``hourly``, ``daily`` or five cron fields (UTC) → (as given, the cron fields)."""
    text = value.strip() if isinstance(value, str) else ""
    cron = SCHEDULE_ALIASES.get(text.lower(), text)
    fields = cron.split()
    if len(fields) != 5:
        raise invalid(
            'schedule is "hourly", "daily" or a cron string of five fields '
            '(minute hour day-of-month month day-of-week, UTC), such as "*/15 * * * *".',
            "schedule",
        )
    try:
        _crontab(" ".join(fields))
    except (ValueError, KeyError, IndexError) as exc:
        raise invalid(f"Not a valid cron string: {exc}", "schedule")
    return (text.lower() if text.lower() in SCHEDULE_ALIASES else " ".join(fields)), " ".join(
        fields
    )


def _crontab(cron: str, now: datetime | None = None) -> crontab:
    minute, hour, day, month, weekday = cron.split()
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day,
        month_of_year=month,
        day_of_week=weekday,
        nowfun=(lambda: now) if now is not None else None,
    )


def next_fire(cron: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that the cron string names (UTC)."""
    after = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    fire = after + _crontab(cron, after).remaining_estimate(after)
    return fire.replace(microsecond=0)


def default_window_hours(cron: str) -> float:
    """What an execution looks at: the traffic since the previous fire time (at least an
    hour's worth of it is rarely wrong, at most a month)."""
    start = timezone.now().replace(second=0, microsecond=0)
    first = next_fire(cron, start)
    second = next_fire(cron, first)
    hours = (second - first).total_seconds() / 3600
    return float(min(max(hours, 1 / 60), 24 * 31))


def check_webhook(url: Any) -> str:
    """A webhook URL the studio may call: http(s), and under an allow-listed prefix."""
    if url in (None, ""):
        return ""
    if not isinstance(url, str) or len(url) > 500:
        raise invalid("webhook_url is an http(s) URL.", "webhook_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("webhook_url is an http(s) URL.", "webhook_url")
    if not webhook_allowed(url):
        raise invalid(
            "This URL is not in the webhook allow-list (SEXTANT_WEBHOOK_ALLOWLIST); an "
            "administrator adds the prefixes alerts may be sent to.",
            "webhook_url",
        )
    return url


def webhook_allowed(url: str) -> bool:
    """``url`` starts with an allow-listed prefix: same scheme, host and port, and a path
    under the prefix's path (so ``https://hooks.example/a`` does not allow ``…/ab``)."""
    parts = urlsplit(url)
    for prefix in settings.SEXTANT_WEBHOOK_ALLOWLIST:
        allowed = urlsplit(prefix)
        if (parts.scheme, parts.hostname, parts.port) != (
            allowed.scheme,
            allowed.hostname,
            allowed.port,
        ):
            continue
        base = allowed.path.rstrip("/")
        if not base or parts.path == base or parts.path.startswith(base + "/"):
            return True
    return False


def _emails(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise invalid("alert_emails is a list of up to 20 e-mail addresses.", "alert_emails")
    out = []
    for i, address in enumerate(value):
        try:
            validate_email(address)
        except Exception:
            raise invalid(f"{address!r} is not an e-mail address.", f"alert_emails.{i}")
        out.append(str(address))
    return out


def _config(monitor_type: str, value: Any) -> dict[str, Any]:
    """Per monitor type: thresholds (and nothing unknown)."""
    config = value if isinstance(value, dict) else {}
    if value not in (None, {}) and not isinstance(value, dict):
        raise invalid("config is an object.", "config")
    allowed = {
        MonitorType.DATA_QUALITY: set(),
        MonitorType.MODEL_QUALITY: {"tolerance"},
        MonitorType.BIAS_DRIFT: {"threshold"},
        MonitorType.FEATURE_ATTRIBUTION_DRIFT: {"threshold", "rows"},
    }[MonitorType(monitor_type)]
    unknown = set(config) - allowed
    if unknown:
        raise invalid(
            f"Unknown config keys for {monitor_type}: {', '.join(sorted(unknown))}.", "config"
        )
    out: dict[str, Any] = {}
    for key in sorted(config):
        number = config[key]
        high = 5000 if key == "rows" else 1.0
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not 0 <= number <= high
        ):
            raise invalid(f"config.{key} is a number from 0 to {high}.", f"config.{key}")
        out[key] = number
    return out


#: Why a baseline cannot serve a monitor type: the part of it that monitor compares with.
MISSING_PART: Final = {
    MonitorType.DATA_QUALITY: "A data-quality monitor compares with the baseline's statistics, "
    "which this baseline lacks.",
    MonitorType.MODEL_QUALITY: "A model-quality monitor compares with the model's quality on "
    "the baseline: make the baseline with a model_package and a label.",
    MonitorType.BIAS_DRIFT: "A bias-drift monitor compares with the model's bias on the "
    "baseline: make the baseline with a model_package, a label, facets and "
    "positive_label_values.",
    MonitorType.FEATURE_ATTRIBUTION_DRIFT: "A feature-attribution monitor compares with the "
    "model's SHAP importance on the baseline: make the baseline with a model_package and a "
    "label.",
}


@transaction.atomic
def monitoring_schedule_create(
    *,
    project: Project,
    user: Any,
    endpoint: Any,
    baseline: Any,
    monitor_type: Any,
    schedule: Any,
    name: Any = None,
    window_hours: Any = None,
    config: Any = None,
    alert_emails: Any = None,
    webhook_url: Any = None,
) -> MonitoringSchedule:
    """A monitor of ``endpoint`` against ``baseline``, fired by beat on ``schedule``."""
    target = Endpoint.objects.filter(
        project=project, pk=_id(endpoint, "endpoint", "endpoint")
    ).first()
    if target is None:
        raise invalid(f"There is no endpoint {endpoint} in this project.", "endpoint")
    base = MonitoringBaseline.objects.filter(
        project=project, pk=_id(baseline, "baseline", "baseline")
    ).first()
    if base is None:
        raise invalid(f"There is no baseline {baseline} in this project.", "baseline")
    if base.status != BaselineStatus.COMPLETED:
        raise invalid(f"Baseline {base.name} is {base.status}, not Completed.", "baseline")
    if monitor_type not in MonitorType.values:
        raise invalid(f"monitor_type is one of {', '.join(MonitorType.values)}.", "monitor_type")
    if not base.serves()[monitor_type]:
        raise invalid(MISSING_PART[MonitorType(monitor_type)], "baseline")
    given, cron = parse_schedule(schedule)
    if window_hours is None:
        hours = default_window_hours(cron)
    elif (
        isinstance(window_hours, bool)
        or not isinstance(window_hours, int | float)
        or not 0 < window_hours <= 24 * 31
    ):
        raise invalid("window_hours is a number of hours from 0 to 744.", "window_hours")
    else:
        hours = float(window_hours)
    label = MonitorType(monitor_type).label.lower()
    created = MonitoringSchedule.objects.create(
        project=project,
        name=checked_name(name, f"{target.name} {label}"),
        endpoint=target,
        baseline=base,
        monitor_type=monitor_type,
        schedule=given,
        cron=cron,
        window_hours=hours,
        config=_config(monitor_type, config),
        alert_emails=_emails(alert_emails),
        webhook_url=check_webhook(webhook_url),
        next_run_at=next_fire(cron, timezone.now()),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    return created


def monitoring_schedule_update(
    *,
    schedule: MonitoringSchedule,
    status: Any = None,
    schedule_expr: Any = None,
    window_hours: Any = None,
    config: Any = None,
    alert_emails: Any = None,
    webhook_url: Any = None,
) -> MonitoringSchedule:
    """Stop or restart a schedule, or change when it runs, what it looks at and who hears."""
    if status is not None:
        if status not in ScheduleStatus.values:
            raise invalid(f"status is one of {', '.join(ScheduleStatus.values)}.", "status")
        schedule.status = status
    if schedule_expr is not None:
        schedule.schedule, schedule.cron = parse_schedule(schedule_expr)
    if window_hours is not None:
        if (
            isinstance(window_hours, bool)
            or not isinstance(window_hours, int | float)
            or not (0 < window_hours <= 24 * 31)
        ):
            raise invalid("window_hours is a number of hours from 0 to 744.", "window_hours")
        schedule.window_hours = float(window_hours)
    if config is not None:
        schedule.config = _config(schedule.monitor_type, config)
    if alert_emails is not None:
        schedule.alert_emails = _emails(alert_emails)
    if webhook_url is not None:
        schedule.webhook_url = check_webhook(webhook_url)
    schedule.next_run_at = (
        next_fire(schedule.cron, timezone.now())
        if schedule.status == ScheduleStatus.SCHEDULED
        else None
    )
    schedule.save()
    return schedule


def monitoring_schedule_delete(*, schedule: MonitoringSchedule, user: Any) -> None:
    for execution in schedule.executions.select_related("job").filter(
        status__in=[ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS]
    ):
        if execution.job is not None:
            job_stop(job=execution.job, user=user)
    schedule.delete()


@transaction.atomic
def monitoring_execution_start(
    *,
    schedule: MonitoringSchedule,
    user: Any = None,
    trigger: str = "manual",
    window_end: datetime | None = None,
) -> MonitoringExecution:
    """An execution over the last ``window_hours`` of captured traffic, and its job."""
    end = window_end or timezone.now()
    execution = MonitoringExecution.objects.create(
        schedule=schedule,
        project_id=schedule.project_id,
        trigger=trigger,
        window_start=end - timedelta(hours=schedule.window_hours),
        window_end=end,
    )
    job = job_submit(
        project=schedule.project,
        kind=EXECUTION_KIND,
        owner=user if getattr(user, "is_authenticated", False) else schedule.created_by,
        name=f"Monitor {schedule.name}",
        parameters={"execution": execution.pk},
    )
    MonitoringExecution.objects.filter(pk=execution.pk).update(job=job)
    MonitoringSchedule.objects.filter(pk=schedule.pk).update(last_run_at=end)
    execution.job = job
    return execution


def schedules_tick(*, now: datetime | None = None, limit: int = 100) -> int:
    """Start an execution for every due schedule; returns how many started."""
    now = now or timezone.now()
    started = 0
    due = list(
        MonitoringSchedule.objects.filter(
            status=ScheduleStatus.SCHEDULED, next_run_at__lte=now
        ).order_by("next_run_at")[:limit]
    )
    for schedule in due:
        fire_time = schedule.next_run_at
        assert fire_time is not None
        following = next_fire(schedule.cron, max(now, fire_time))
        with transaction.atomic():
            claimed = MonitoringSchedule.objects.filter(
                pk=schedule.pk, next_run_at=fire_time, status=ScheduleStatus.SCHEDULED
            ).update(next_run_at=following)
            if claimed != 1:
                continue  # another tick took it
            # The window ends at the fire time, so a late tick looks at the right hours.
            monitoring_execution_start(
                schedule=schedule, trigger="schedule", window_end=min(now, fire_time)
            )
        started += 1
    return started


def execution_started(*, execution_id: int) -> None:
    MonitoringExecution.objects.filter(pk=execution_id, status=ExecutionStatus.PENDING).update(
        status=ExecutionStatus.IN_PROGRESS, started_at=timezone.now()
    )


def execution_finish(
    *,
    execution_id: int,
    num_rows: int,
    violations: list[dict[str, Any]],
    report: dict[str, Any],
    scores: dict[str, float],
) -> MonitoringExecution | None:
    """Store an execution's outcome once; with violations, raise an alert (and send it once
    the transaction commits)."""
    status = ExecutionStatus.COMPLETED_WITH_VIOLATIONS if violations else ExecutionStatus.COMPLETED
    with transaction.atomic():
        updated = MonitoringExecution.objects.filter(
            pk=execution_id,
            status__in=[ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS],
        ).update(
            status=status,
            num_rows=num_rows,
            violations=violations,
            report=report,
            scores=scores,
            ended_at=timezone.now(),
        )
        if updated != 1:
            return None
        execution = MonitoringExecution.objects.select_related("schedule__endpoint").get(
            pk=execution_id
        )
        if violations:
            alert_raise(execution=execution)
    return execution


def execution_fail(*, execution_id: int, status: str, reason: str) -> None:
    final = ExecutionStatus.STOPPED if status == "Stopped" else ExecutionStatus.FAILED
    MonitoringExecution.objects.filter(
        pk=execution_id, status__in=[ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS]
    ).update(status=final, failure_reason=reason[:2000], ended_at=timezone.now())


# --------------------------------------------------------------------------- alerts


def alert_raise(*, execution: MonitoringExecution) -> MonitoringAlert:
    """An in-app alert for the execution's violations; e-mail and webhook follow on commit."""
    schedule = execution.schedule
    violations = execution.violations or []
    checks = sorted({str(v.get("check")) for v in violations})
    features = [str(v["feature"]) for v in violations if v.get("feature")]
    shown = ", ".join(dict.fromkeys(features[:5])) if features else ""
    summary = (
        f"{schedule.endpoint.name}: {len(violations)} violation"
        f"{'s' if len(violations) != 1 else ''} ({', '.join(checks)})"
        + (f" on {shown}" if shown else "")
    )
    alert = MonitoringAlert.objects.create(
        project_id=execution.project_id,
        schedule=schedule,
        execution=execution,
        num_violations=len(violations),
        summary=summary[:1000],
    )
    if schedule.alert_emails or schedule.webhook_url:
        send_task_on_commit("monitor.notify", alert.pk)
    return alert


def alert_mark_read(*, alerts: Any) -> int:
    return int(alerts.filter(read_at__isnull=True).update(read_at=timezone.now()))


def alert_deliveries(*, alert_id: int, deliveries: dict[str, str]) -> None:
    MonitoringAlert.objects.filter(pk=alert_id).update(deliveries=deliveries)
