"""Checking a variant's inference pipeline (``"pipeline"`` in its configuration).

``{"flow_job": 34, "label_names": {"0": "stay", "1": "churn"}, "threshold": 0.7,
"positive_label": "1"}``: the flow is the one a Completed processing job ran (its graph
version, target node and the states its fitted transforms learned, which the job kept as
``flow_states.json``); the rest is post-processing. What the model servers need is resolved
here, once, into the variant's configuration: they read no database.
"""

from __future__ import annotations

import json
from typing import Any

from registry.models import ModelPackage
from studio import storage
from studio.choices import JobStatus
from studio.errors import ServiceError
from studio.models import Artifact, Dataset, Job, Project
from wrangler.models import FlowVersion
from wrangler.services import FLOW_JOB_KIND

STATES_ARTIFACT = "flow_states.json"
KEYS = {"flow_job", "label_names", "threshold", "positive_label"}


def _invalid(message: str, field: str) -> ServiceError:
    return ServiceError("invalid", message, field=field)


def _flow(project: Project, job_id: Any, field: str, label: str | None) -> dict[str, Any]:
    from endpoints.engine.pipeline import arrow_numeric, check_flow
    from wrangler.engine.contracts import FlowError
    from wrangler.engine.graph import parse_flow

    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise _invalid("flow_job is the id of a processing job that ran a flow.", field)
    job = Job.objects.filter(project=project, pk=job_id, kind=FLOW_JOB_KIND).first()
    if job is None:
        raise _invalid(f"There is no flow processing job {job_id} in this project.", field)
    if job.status != JobStatus.COMPLETED:
        raise _invalid(f"Processing job {job_id} is {job.status}, not Completed.", field)
    version = FlowVersion.objects.filter(
        flow_id=job.inputs.get("flow"), version=job.inputs.get("version")
    ).first()
    artifact = Artifact.objects.filter(job=job, name=STATES_ARTIFACT).first()
    if version is None or artifact is None:
        raise _invalid(
            f"Processing job {job_id} kept no fitted flow (its flow version or states are gone).",
            field,
        )
    target = str(job.inputs.get("node"))
    try:
        graph = parse_flow(version.graph)
    except FlowError as exc:
        raise _invalid(f"The flow no longer parses: {exc.message}", field) from None
    reason = check_flow(graph, target)
    if reason is not None:
        raise _invalid(reason, field)
    source = next(n for n in graph.ancestors(target) if graph.nodes[n].type == "source")
    dataset = Dataset.objects.filter(pk=graph.nodes[source].params["dataset"]).first()
    if dataset is None:
        raise _invalid("The flow's source dataset is gone: its columns are unknown.", field)
    with storage.open_read(artifact.storage_key) as handle:
        states = json.load(handle)
    columns = [
        {"name": c["name"], "numeric": arrow_numeric(str(c.get("dtype", "")))}
        for c in dataset.columns or []
        if c["name"] != label
    ]
    return {
        "graph": version.graph,
        "target": target,
        "states": states,
        "columns": columns,
        "label": label,
        "flow": version.flow_id,
        "flow_version": version.version,
        "job": job.pk,
    }


def check_pipeline(
    project: Project, raw: Any, packages: list[ModelPackage], field: str
) -> dict[str, Any] | None:
    """A variant's checked pipeline, resolved for the model servers (None if none)."""
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        raise _invalid('pipeline is {"flow_job", "label_names", "threshold"}.', field)
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise _invalid(f"Unknown pipeline field {unknown[0]!r}.", f"{field}.{unknown[0]}")
    if len(packages) != 1:
        raise _invalid("A multi-model variant has no pipeline.", field)
    metadata = packages[0].metadata or {}
    classes = [str(c) for c in metadata.get("classes") or []]
    out: dict[str, Any] = {}
    if raw.get("flow_job") is not None:
        out["flow"] = _flow(
            project, raw["flow_job"], f"{field}.flow_job", metadata.get("target") or None
        )
    post: dict[str, Any] = {}
    names = raw.get("label_names")
    if names is not None:
        if not classes:
            raise _invalid("label_names is for classifiers.", f"{field}.label_names")
        if not isinstance(names, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in names.items()
        ):
            raise _invalid(
                'label_names maps classes to names: {"0": "stay"}.', f"{field}.label_names"
            )
        strangers = sorted(set(names) - set(classes))
        if strangers:
            raise _invalid(
                f"{strangers[0]!r} is not one of the model's classes ({', '.join(classes)}).",
                f"{field}.label_names",
            )
        post["label_names"] = names
    threshold = raw.get("threshold")
    if threshold is not None:
        if len(classes) != 2:
            raise _invalid("A threshold is for binary classifiers.", f"{field}.threshold")
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not (0 <= threshold <= 1)
        ):
            raise _invalid("threshold is a probability between 0 and 1.", f"{field}.threshold")
        post["threshold"] = float(threshold)
        positive = raw.get("positive_label")
        if positive is not None:
            if str(positive) not in classes:
                raise _invalid(
                    f"positive_label is one of the model's classes ({', '.join(classes)}).",
                    f"{field}.positive_label",
                )
            post["positive_label"] = str(positive)
    if post:
        out["post"] = post
    return out or None
