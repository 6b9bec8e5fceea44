"""Clarify jobs — the writes: bias metrics of a dataset (pre-training), of a model's
predictions on it (post-training), and SHAP explanations of the model.

A job is checked whole before anything is created: the dataset and its columns, the label
and what counts as its favourable outcome, the facets, the methods and the model they need.
"""

from __future__ import annotations

from typing import Any, Final

from django.db import transaction

from monitor.models import ClarifyJob
from monitor.services import (
    check_facets,
    check_positive,
    checked_name,
    completed_package,
    dataset_columns,
    invalid,
    ready_dataset,
)
from studio.errors import ConflictError
from studio.models import Project
from studio.services import job_stop, job_submit

CLARIFY_KIND: Final = "monitor.clarify"
METHODS: Final = ("pre_training_bias", "post_training_bias", "shap")
MODEL_METHODS: Final = {"post_training_bias", "shap"}
MAX_SHAP_ROWS: Final = 20_000


def _methods(value: Any) -> list[str]:
    if value is None:
        return ["pre_training_bias"]
    if (
        not isinstance(value, list)
        or not value
        or any(m not in METHODS for m in value)
        or len(set(value)) != len(value)
    ):
        raise invalid(f"methods is a list of {', '.join(METHODS)}.", "methods")
    return [m for m in METHODS if m in value]


def _options(value: Any) -> dict[str, int]:
    if value in (None, {}):
        return {"rows": 1000, "background_k": 10}
    if not isinstance(value, dict) or set(value) - {"rows", "background_k", "seed"}:
        raise invalid('shap is {"rows", "background_k", "seed"}.', "shap")
    out = {"rows": 1000, "background_k": 10}
    limits = {"rows": (1, MAX_SHAP_ROWS), "background_k": (1, 100), "seed": (0, 2**31 - 1)}
    for key, number in value.items():
        low, high = limits[key]
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise invalid(f"shap.{key} is a whole number from {low} to {high:,}.", f"shap.{key}")
        out[key] = number
    return out


@transaction.atomic
def clarify_job_create(
    *,
    project: Project,
    user: Any,
    dataset: Any,
    label: Any,
    positive_label_values: Any,
    facets: Any = None,
    model_package: Any = None,
    methods: Any = None,
    group_variable: Any = None,
    name: Any = None,
    shap: Any = None,
) -> ClarifyJob:
    """Check a Clarify job and queue it on the cpu queue.

    ``methods`` (default ``["pre_training_bias"]``): ``post_training_bias`` and ``shap``
    need ``model_package``; the bias methods need ``facets``. ``positive_label_values`` is
    a list of favourable label values, or a number for a regression label (favourable
    above it). Several facets also give their intersection (e.g. women over 40).
    """
    data = ready_dataset(project, dataset)
    columns = dataset_columns(data)
    chosen = _methods(methods)
    label_name = label.strip() if isinstance(label, str) else ""
    if not label_name:
        raise invalid("label is the column of the outcome.", "label")
    if label_name not in columns:
        raise invalid(f"The dataset has no column {label_name!r}.", "label")
    positive = check_positive(positive_label_values)
    bias_methods = {"pre_training_bias", "post_training_bias"} & set(chosen)
    # The bias methods need facets; explanations alone may still name them (checked alike).
    checked_facets = check_facets(facets, columns) if bias_methods or facets is not None else []
    if any(f["name"] == label_name for f in checked_facets):
        raise invalid("A facet is a sensitive attribute, not the label.", "facets")
    group = group_variable.strip() if isinstance(group_variable, str) else ""
    if group_variable not in (None, "") and group not in columns:
        raise invalid(f"The dataset has no column {group_variable!r}.", "group_variable")
    package = None
    if MODEL_METHODS & set(chosen) and model_package is None:
        raise invalid(
            "post_training_bias and shap measure a model: name its model_package.",
            "model_package",
        )
    if model_package is not None:
        package = completed_package(project, model_package)
        missing = [c["name"] for c in package.input_schema if c["name"] not in columns]
        if missing:
            raise invalid(
                f"The dataset lacks columns the model reads: {', '.join(missing[:5])}.",
                "model_package",
            )
        if "post_training_bias" in chosen and package.problem_type not in (
            "binary_classification",
            "multiclass_classification",
            "regression",
        ):
            raise invalid(
                f"Post-training bias compares predicted labels; a {package.problem_type} "
                "model predicts none.",
                "model_package",
            )
    title = checked_name(name, f"{data.name} bias" if bias_methods else f"{data.name} explanations")
    # The runner finds its Clarify job by the job's id.
    job = job_submit(
        project=project,
        kind=CLARIFY_KIND,
        owner=user,
        name=f"Clarify {title}",
        inputs={"dataset": data.pk, **({"model_package": package.pk} if package else {})},
    )
    clarify = ClarifyJob.objects.create(
        project=project,
        job=job,
        name=title,
        dataset=data,
        dataset_label=f"{data.name} v{data.version}",
        label=label_name,
        positive_label_values=positive,
        facets=checked_facets,
        group_variable=group,
        model_package=package,
        methods=chosen,
        options=_options(shap) if "shap" in chosen else {},
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    return clarify


def clarify_job_store(*, clarify_id: int, report: dict[str, Any]) -> None:
    ClarifyJob.objects.filter(pk=clarify_id, report={}).update(report=report)


def clarify_job_stop(*, clarify: ClarifyJob, user: Any) -> None:
    if clarify.job.status in ("Completed", "Failed", "Stopped"):
        raise ConflictError(
            "already_ended", f"The Clarify job has already {clarify.job.status.lower()}."
        )
    job_stop(job=clarify.job, user=user)
