"""MLflow's REST tracking API (the subset its client uses to log), over Sextant's experiments.

Unmodified code logs into the studio with::

    export MLFLOW_TRACKING_URI=http://studio:8000/projects/<project id>
    export MLFLOW_TRACKING_TOKEN=<an API token>

(``http://studio:8000`` alone works for someone in exactly one project). Routes are
``<tracking URI>/api/2.0/mlflow/…``: experiments create, get, get-by-name, search, update,
delete; runs create, get, update, delete, search, log-metric, log-parameter, log-batch,
log-inputs, set-tag, delete-tag; metrics get-history. Experiment id ``0`` is the project's
"Default" experiment, as in MLflow. Errors answer as MLflow's server does:
``{"error_code", "message"}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from studio.errors import ServiceError
from studio.models import Membership, Project
from studio.selectors import access_project
from training import selectors, services
from training.models import Experiment, Run


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``: how MLflow's client sends MLFLOW_TRACKING_TOKEN."""

    keyword = "Bearer"


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _user(request: HttpRequest) -> Any:
    from rest_framework.request import Request

    wrapped = Request(request)
    for auth in (BearerTokenAuthentication(), TokenAuthentication()):
        try:
            found = auth.authenticate(wrapped)
        except AuthenticationFailed as exc:
            raise MlflowError("UNAUTHENTICATED", str(exc.detail), 401) from None
        if found is not None:
            return found[0]
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        return request.user
    raise MlflowError("UNAUTHENTICATED", "Set MLFLOW_TRACKING_TOKEN to a Sextant API token.", 401)


def endpoint(methods: tuple[str, ...]) -> Callable[..., Any]:
    """A tracking route: authenticated, JSON in and out, MLflow's errors."""

    def wrap(view: Callable[..., dict[str, Any]]) -> Callable[..., JsonResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def handler(request: HttpRequest, project: int | None = None) -> JsonResponse:
            try:
                if request.method not in methods:
                    raise MlflowError("BAD_REQUEST", f"Use {' or '.join(methods)}.", 405)
                user = _user(request)
                if request.method == "GET":
                    body: dict[str, Any] = {k: v for k, v in request.GET.items()}
                    if "experiment_ids" in request.GET:
                        body["experiment_ids"] = request.GET.getlist("experiment_ids")
                else:
                    try:
                        body = json.loads(request.body or b"{}")
                    except ValueError:
                        raise MlflowError("MALFORMED_REQUEST", "The body is not JSON.") from None
                    if not isinstance(body, dict):
                        raise MlflowError("MALFORMED_REQUEST", "The body is a JSON object.")
                return JsonResponse(view(user, _project(user, project), body))
            except MlflowError as exc:
                return _error(exc.code, exc.message, exc.status)
            except ServiceError as exc:
                code = (
                    "RESOURCE_ALREADY_EXISTS" if exc.code == "exists" else "INVALID_PARAMETER_VALUE"
                )
                return _error(code, exc.message, 400)
            except Http404 as exc:
                return _error("RESOURCE_DOES_NOT_EXIST", str(exc) or "Not found.", 404)
            except PermissionDenied as exc:
                return _error("PERMISSION_DENIED", str(exc) or "Not allowed.", 403)

        return handler

    return wrap


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error_code": code, "message": message}, status=status)


def _project(user: Any, project_id: int | None) -> Project:
    if project_id is not None:
        return access_project(user, project_id)
    projects = list(Membership.objects.filter(user=user).values_list("project_id", flat=True))
    if len(projects) != 1:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            "You are in several projects (or none): set the tracking URI to "
            "<studio URL>/projects/<project id>.",
        )
    return access_project(user, projects[0])


# --------------------------------------------------------------------------- shapes


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def _pairs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": str(v)} for k, v in values.items()]


def _experiment(experiment: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": "",
        "lifecycle_stage": "deleted" if experiment.deleted else "active",
        "last_update_time": _ms(experiment.updated_at),
        "creation_time": _ms(experiment.created_at),
        "tags": _pairs(experiment.tags),
    }


def _info(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.uuid,
        "run_uuid": run.uuid,
        "run_name": run.name,
        "experiment_id": str(run.experiment_id),
        "user_id": run.created_by.get_username() if run.created_by else "",
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "artifact_uri": "",
        "lifecycle_stage": "deleted" if run.deleted else "active",
    }


def _run(run: Run) -> dict[str, Any]:
    tags = {**run.tags, "mlflow.runName": run.name}
    return {
        "info": _info(run),
        "data": {
            "metrics": [
                {"key": k, "value": m["value"], "timestamp": m["timestamp"], "step": m["step"]}
                for k, m in run.metrics.items()
            ],
            "params": _pairs(run.params),
            "tags": _pairs(tags),
        },
        "inputs": {"dataset_inputs": []},
    }


# --------------------------------------------------------------------------- experiments


def _experiment_of(
    user: Any, project: Project, experiment_id: Any, *, write: bool = False
) -> Experiment:
    if str(experiment_id) == "0":
        if write:
            access_project(user, project.pk, write=True)
        return services.experiment_named(
            project=project, user=user, name=services.DEFAULT_EXPERIMENT
        )
    experiment = selectors.access_experiment(user, experiment_id, write=write)
    if experiment.project_id != project.pk:
        raise Http404("No such experiment in this project.")
    return experiment


@endpoint(("POST",))
def experiments_create(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    access_project(user, project.pk, write=True)
    tags = {t.get("key"): t.get("value") for t in body.get("tags") or [] if isinstance(t, dict)}
    experiment = services.experiment_create(
        project=project, user=user, name=body.get("name"), tags=tags
    )
    return {"experiment_id": str(experiment.pk)}


@endpoint(("GET",))
def experiments_get(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": _experiment(_experiment_of(user, project, body.get("experiment_id")))}


@endpoint(("GET",))
def experiments_get_by_name(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("experiment_name")
    found = Experiment.objects.filter(project=project, name=name, deleted=False).first()
    if found is None:
        raise Http404(f"No experiment named {name!r}.")
    return {"experiment": _experiment(found)}


@endpoint(("GET", "POST"))
def experiments_search(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    experiments = selectors.experiment_list(user, project_id=project.pk)
    name_filter = str(body.get("filter") or "")
    match = re.fullmatch(r"\s*(?:attribute\.)?name\s*(=|LIKE|ILIKE)\s*'([^']*)'\s*", name_filter)
    if match:
        op, value = match.groups()
        if op == "=":
            experiments = experiments.filter(name=value)
        else:
            pattern = value.replace("%", "")
            experiments = experiments.filter(
                **{"name__icontains" if op == "ILIKE" else "name__contains": pattern}
            )
    limit = int(body.get("max_results") or 1000)
    return {"experiments": [_experiment(e) for e in experiments[:limit]]}


@endpoint(("POST",))
def experiments_update(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    experiment = _experiment_of(user, project, body.get("experiment_id"), write=True)
    services.experiment_update(experiment=experiment, name=body.get("new_name"))
    return {}


@endpoint(("POST",))
def experiments_delete(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    experiment = _experiment_of(user, project, body.get("experiment_id"), write=True)
    experiment.deleted = True
    experiment.save(update_fields=["deleted"])
    return {}


# --------------------------------------------------------------------------- runs


def _run_of(user: Any, project: Project, body: dict[str, Any], *, write: bool = False) -> Run:
    run_id = body.get("run_id") or body.get("run_uuid")
    if not run_id:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Name the run: run_id.")
    run = selectors.access_run(user, uuid=run_id, write=write)
    if run.project_id != project.pk:
        raise Http404("No such run in this project.")
    return run


@endpoint(("POST",))
def runs_create(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    experiment = _experiment_of(user, project, body.get("experiment_id", "0"), write=True)
    tags = [t for t in body.get("tags") or [] if isinstance(t, dict)]
    name = body.get("run_name") or next(
        (t.get("value") for t in tags if t.get("key") == "mlflow.runName"), ""
    )
    run = services.run_create(
        experiment=experiment,
        user=user,
        name=name or "",
        start_time=body.get("start_time"),
        tags=[t for t in tags if t.get("key") != "mlflow.runName"],
    )
    return {"run": _run(run)}


@endpoint(("GET",))
def runs_get(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    return {"run": _run(_run_of(user, project, body))}


@endpoint(("POST",))
def runs_update(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    run = services.run_update(
        run=run, status=body.get("status"), end_time=body.get("end_time"), name=body.get("run_name")
    )
    return {"run_info": _info(run)}


@endpoint(("POST",))
def runs_delete(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    run.deleted = True
    run.save(update_fields=["deleted"])
    return {}


@endpoint(("POST",))
def runs_log_metric(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    point = {k: body.get(k) for k in ("key", "value", "timestamp", "step")}
    services.run_log_batch(run=run, metrics=[point])
    return {}


@endpoint(("POST",))
def runs_log_parameter(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    services.run_log_batch(run=run, params=[{"key": body.get("key"), "value": body.get("value")}])
    return {}


@endpoint(("POST",))
def runs_log_batch(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    services.run_log_batch(
        run=run, metrics=body.get("metrics"), params=body.get("params"), tags=body.get("tags")
    )
    return {}


@endpoint(("POST",))
def runs_log_inputs(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    datasets = [d.get("dataset") for d in body.get("datasets") or [] if isinstance(d, dict)]
    run.inputs = [*run.inputs, *[{"mlflow": d} for d in datasets if isinstance(d, dict)]]
    run.save(update_fields=["inputs"])
    return {}


@endpoint(("POST",))
def runs_set_tag(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    if body.get("key") == "mlflow.runName":
        services.run_update(run=run, name=str(body.get("value") or ""))
        return {}
    services.run_log_batch(run=run, tags=[{"key": body.get("key"), "value": body.get("value")}])
    return {}


@endpoint(("POST",))
def runs_delete_tag(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body, write=True)
    if body.get("key") not in run.tags:
        raise Http404(f"The run has no tag {body.get('key')!r}.")
    run.tags.pop(body.get("key"))
    run.save(update_fields=["tags"])
    return {}


@endpoint(("GET",))
def metrics_get_history(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    run = _run_of(user, project, body)
    key = str(body.get("metric_key") or "")
    rows = selectors.metric_history(run, key)
    return {
        "metrics": [
            {"key": key, "value": value, "timestamp": stamp, "step": step}
            for step, value, stamp in rows
        ]
    }


FILTER_RE = re.compile(
    r"\s*(metrics|params|tags|attributes|attribute|run)\.(`[^`]+`|\"[^\"]+\"|[\w.:/-]+)"
    r"\s*(<=|>=|!=|=|<|>|LIKE|ILIKE)\s*('(?:[^']*)'|\"(?:[^\"]*)\"|[-+\d.eE]+)\s*",
    re.IGNORECASE,
)


def _conditions(text: str) -> list[tuple[str, str, str, Any]]:
    """MLflow's search filter: comparisons joined by AND."""
    out = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = FILTER_RE.fullmatch(part)
        if match is None:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Cannot read the filter {part!r}.")
        kind, key, op, raw = match.groups()
        key = key.strip('`"')
        value: Any = raw[1:-1] if raw[0] in "'\"" else float(raw)
        out.append(
            (kind.lower().rstrip("s").replace("attribute", "attributes"), key, op.upper(), value)
        )
    return out


def _field(run: Run, kind: str, key: str) -> Any:
    if kind == "metric":
        found = run.metrics.get(key)
        return None if found is None else found["value"]
    if kind == "param":
        return run.params.get(key)
    if kind == "tag":
        return {**run.tags, "mlflow.runName": run.name}.get(key)
    names = {
        "run_name": run.name,
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "run_id": run.uuid,
    }
    return names.get(key)


def _compare(have: Any, op: str, want: Any) -> bool:
    if have is None:
        return False
    if op in ("LIKE", "ILIKE"):
        pattern = re.escape(str(want)).replace("%", ".*").replace("_", ".")
        return re.fullmatch(pattern, str(have), re.IGNORECASE if op == "ILIKE" else 0) is not None
    if isinstance(want, float):
        try:
            have = float(have)
        except (TypeError, ValueError):
            return False
    else:
        have = str(have)
    return {
        "=": have == want,
        "!=": have != want,
        "<": have < want,
        "<=": have <= want,
        ">": have > want,
        ">=": have >= want,
    }[op]


@endpoint(("POST", "GET"))
def runs_search(user: Any, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    ids = body.get("experiment_ids") or []
    experiments = [_experiment_of(user, project, i).pk for i in ids] if ids else None
    runs = list(selectors.run_list(user, project_id=project.pk, experiment_ids=experiments))
    for kind, key, op, want in _conditions(str(body.get("filter") or "")):
        runs = [r for r in runs if _compare(_field(r, kind, key), op, want)]
    for order in reversed(body.get("order_by") or []):
        match = re.fullmatch(
            r"\s*(?:(metrics|params|tags|attributes|attribute)\.)?(`[^`]+`|[\w.:/-]+)(?:\s+(ASC|DESC))?\s*",
            str(order),
            re.IGNORECASE,
        )
        if match is None:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Cannot order by {order!r}.")
        kind, key, direction = match.groups()
        kind = (kind or "attributes").lower().rstrip("s").replace("attribute", "attributes")
        key = key.strip("`")
        present = [r for r in runs if _field(r, kind, key) is not None]
        absent = [r for r in runs if _field(r, kind, key) is None]
        present.sort(
            key=lambda r: _field(r, kind, key), reverse=(direction or "ASC").upper() == "DESC"
        )
        runs = present + absent
    limit = int(body.get("max_results") or 1000)
    return {"runs": [_run(r) for r in runs[:limit]]}


ROUTES: dict[str, Callable[..., JsonResponse]] = {
    "experiments/create": experiments_create,
    "experiments/get": experiments_get,
    "experiments/get-by-name": experiments_get_by_name,
    "experiments/search": experiments_search,
    "experiments/update": experiments_update,
    "experiments/delete": experiments_delete,
    "runs/create": runs_create,
    "runs/get": runs_get,
    "runs/update": runs_update,
    "runs/delete": runs_delete,
    "runs/search": runs_search,
    "runs/log-metric": runs_log_metric,
    "runs/log-parameter": runs_log_parameter,
    "runs/log-batch": runs_log_batch,
    "runs/log-inputs": runs_log_inputs,
    "runs/set-tag": runs_set_tag,
    "runs/delete-tag": runs_delete_tag,
    "metrics/get-history": metrics_get_history,
}
