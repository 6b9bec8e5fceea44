"""Endpoint writes: create, update and delete, each checked whole before anything changes.

A create or an update stores the checked configuration as ``pending_config`` and submits a
deploy job; the job (``endpoints.runners``) brings the model servers up and makes the
configuration live. Nothing here waits for a process.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from endpoints.choices import EndpointStatus, ServerStatus
from endpoints.engine.scaling import desired_instances
from endpoints.models import Endpoint, EndpointMetric, ModelHost, ModelServer
from endpoints.pipelines import check_pipeline
from registry.models import ModelPackage
from registry.selectors import package_deployable
from studio.errors import ConflictError, ServiceError
from studio.models import Project
from studio.services import job_submit

DEPLOY_JOB_KIND: Final = "endpoints.deploy"
#: SageMaker's rule for endpoint and variant names: they appear in URLs and headers.
NAME_RE: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_VARIANTS: Final = 10
MAX_INSTANCES: Final = 16
DEFAULT_MEMORY_MB: Final = 1024
#: How long a model server no live configuration uses keeps answering what was already
#: routed to it (routers see a new configuration within about a second).
DRAIN_SECONDS: Final = 10.0
#: What a variant's configuration holds besides its models and pipeline.
VARIANT_SETTINGS: Final = (
    "name",
    "weight",
    "instance_count",
    "min_instances",
    "max_instances",
    "target_in_flight",
    "memory_budget_mb",
)


def _invalid(message: str, field: str) -> ServiceError:
    return ServiceError("invalid", message, field=field)


def _number(value: Any, field: str, *, low: float, high: float, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{field} is a number.", field)
    if not low <= value <= high:
        raise _invalid(f"{field} is between {low:g} and {high:g} (got {value:g}).", field)
    return float(value)


def _count(value: Any, field: str, *, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{field} is a whole number.", field)
    if not low <= value <= high:
        raise _invalid(f"{field} is between {low} and {high} (got {value}).", field)
    return value


def _package(project: Project, value: Any, field: str) -> ModelPackage:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("model_package is a model package id.", field)
    package = ModelPackage.objects.select_related("group").filter(project=project, pk=value).first()
    if package is None:
        raise _invalid(f"There is no model package {value} in this project.", field)
    # The registry's own rule; approval only where the project asks for it.
    reason = package_deployable(package, require_approval=not project.allow_unapproved_deployments)
    if reason is not None:
        raise _invalid(f"{reason} (approval_status: {package.approval_status})", field)
    return package


def _model_entry(package: ModelPackage) -> dict[str, Any]:
    return {
        "package": package.pk,
        "name": f"{package.group.name}/{package.version}",
        "group": package.group.name,
        "version": str(package.version),
        "artifact_key": package.artifact_key,
    }


def _variant(project: Project, raw: Any, field: str, *, shadow: bool = False) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _invalid(
            "A variant is an object: {name, model_package, weight, instance_count}.", field
        )
    known = {
        "name",
        "model_package",
        "model_packages",
        "weight",
        "instance_count",
        "min_instances",
        "max_instances",
        "target_in_flight",
        "memory_budget_mb",
        "pipeline",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _invalid(f"Unknown variant field {unknown[0]!r}.", f"{field}.{unknown[0]}")
    name = raw.get("name", "shadow" if shadow else None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _invalid(
            "A variant's name is letters, digits and hyphens (up to 63), starting with a letter "
            "or digit.",
            f"{field}.name",
        )
    multi = raw.get("model_packages")
    if multi is not None:
        if raw.get("model_package") is not None:
            raise _invalid(
                "Give model_package or model_packages, not both.", f"{field}.model_packages"
            )
        if not isinstance(multi, list) or not multi:
            raise _invalid(
                "model_packages is a non-empty list of model package ids.",
                f"{field}.model_packages",
            )
        packages = [_package(project, p, f"{field}.model_packages") for p in multi]
    else:
        packages = [_package(project, raw.get("model_package"), f"{field}.model_package")]
    count = _count(
        raw.get("instance_count"), f"{field}.instance_count", low=1, high=MAX_INSTANCES, default=1
    )
    low = _count(
        raw.get("min_instances"), f"{field}.min_instances", low=1, high=MAX_INSTANCES, default=count
    )
    high = _count(
        raw.get("max_instances"), f"{field}.max_instances", low=1, high=MAX_INSTANCES, default=count
    )
    if not low <= count <= high:
        raise _invalid("min_instances ≤ instance_count ≤ max_instances.", f"{field}.instance_count")
    variant = {
        "name": name,
        "weight": 0.0
        if shadow
        else _number(raw.get("weight"), f"{field}.weight", low=0, high=1e6, default=1.0),
        "instance_count": count,
        "min_instances": low,
        "max_instances": high,
        "target_in_flight": _number(
            raw.get("target_in_flight"),
            f"{field}.target_in_flight",
            low=0.1,
            high=1000,
            default=4.0,
        ),
        "memory_budget_mb": _count(
            raw.get("memory_budget_mb"),
            f"{field}.memory_budget_mb",
            low=64,
            high=1024 * 1024,
            default=DEFAULT_MEMORY_MB,
        ),
        "multi_model": multi is not None,
        "models": [_model_entry(p) for p in packages],
    }
    if multi is None:
        variant["model_package"] = packages[0].pk
    else:
        variant["model_packages"] = [p.pk for p in packages]
    pipeline = check_pipeline(project, raw.get("pipeline"), packages, f"{field}.pipeline")
    if pipeline is not None:
        variant["pipeline"] = pipeline
        # The model servers read it with the model: a pipeline is part of what they serve.
        variant["models"][0]["pipeline"] = {
            k: pipeline[k] for k in ("flow", "post") if k in pipeline
        }
    return variant


def check_config(
    project: Project, *, variants: Any, shadow: Any = None, data_capture: Any = None
) -> dict[str, Any]:
    """An endpoint configuration, checked and normalised (a ServiceError names the field)."""
    if not isinstance(variants, list) or not variants:
        raise _invalid("variants is a non-empty list.", "variants")
    if len(variants) > MAX_VARIANTS:
        raise _invalid(f"An endpoint has at most {MAX_VARIANTS} variants.", "variants")
    checked = [_variant(project, v, f"variants.{i}") for i, v in enumerate(variants)]
    names = [v["name"] for v in checked]
    if len(set(names)) != len(names):
        raise _invalid("Variant names must differ.", "variants")
    if sum(v["weight"] for v in checked) <= 0:
        raise _invalid("At least one variant needs a weight above 0.", "variants")
    kinds = {v["multi_model"] for v in checked}
    if len(kinds) > 1:
        raise _invalid("Either every variant is multi-model or none is.", "variants")
    shadow_variant = None
    if shadow not in (None, {}):
        shadow_variant = _variant(project, shadow, "shadow", shadow=True)
        if shadow_variant["name"] in names:
            raise _invalid(
                "The shadow variant's name must differ from the live ones'.", "shadow.name"
            )
        if shadow_variant["multi_model"] != checked[0]["multi_model"]:
            raise _invalid("The shadow serves the same kind of variant as the live ones.", "shadow")
    percent = 0.0
    if data_capture not in (None, {}):
        if not isinstance(data_capture, dict):
            raise _invalid('data_capture is {"percent": 0-100}.', "data_capture")
        percent = _number(
            data_capture.get("percent"), "data_capture.percent", low=0, high=100, default=100.0
        )
    return {
        "variants": checked,
        "shadow": shadow_variant,
        "data_capture": {"percent": percent},
        "multi_model": checked[0]["multi_model"],
    }


def server_spec(variant: dict[str, Any]) -> dict[str, Any]:
    """What one model server of the variant serves (the same spec ⇒ a server is reused)."""
    return {
        "models": [
            {k: m[k] for k in ("package", "name", "version", "artifact_key", "pipeline") if k in m}
            for m in variant["models"]
        ],
        "multi_model": variant["multi_model"],
        "memory_budget_mb": variant["memory_budget_mb"],
    }


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def endpoint_create(
    *,
    project: Project,
    user: Any,
    name: Any,
    variants: Any,
    shadow: Any = None,
    data_capture: Any = None,
) -> Endpoint:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _invalid(
            "An endpoint's name is letters, digits and hyphens (up to 63), starting with a "
            "letter or digit.",
            "name",
        )
    config = check_config(project, variants=variants, shadow=shadow, data_capture=data_capture)
    with transaction.atomic():
        if Endpoint.objects.filter(name=name).exists():
            raise ConflictError("exists", f"An endpoint named {name!r} exists.", field="name")
        endpoint = Endpoint.objects.create(
            project=project,
            name=name,
            status=EndpointStatus.CREATING,
            pending_config=config,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        _deploy(endpoint, user)
    return endpoint


def endpoint_update(
    *,
    endpoint: Endpoint,
    user: Any,
    variants: Any = None,
    shadow: Any = ...,
    data_capture: Any = None,
) -> Endpoint:
    """A new configuration: new variants, weights, instance counts, shadow or capture rate.

    Variants left out keep what they are; weights alone are a variant list of name and
    weight (``[{"name": "A", "weight": 0.5}, …]``): each named variant keeps its model.
    """
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.status in (EndpointStatus.CREATING, EndpointStatus.UPDATING):
            raise ConflictError(
                "busy", f"Endpoint {endpoint.name} is {endpoint.status}: wait for it to finish."
            )
        if endpoint.status == EndpointStatus.DELETING:
            raise ConflictError("deleting", f"Endpoint {endpoint.name} is being deleted.")
        current = endpoint.config or {}
        if not current.get("variants"):
            raise ConflictError(
                "failed", "This endpoint never served: delete it and create it again."
            )
        raw_variants = _merged_variants(current, variants)
        raw_shadow = (
            _raw_variant(current["shadow"])
            if shadow is ... and current.get("shadow")
            else (None if shadow is ... else shadow)
        )
        capture = data_capture if data_capture is not None else current.get("data_capture")
        config = check_config(
            endpoint.project, variants=raw_variants, shadow=raw_shadow, data_capture=capture
        )
        endpoint.pending_config = config
        endpoint.status = EndpointStatus.UPDATING
        endpoint.failure_reason = ""
        endpoint.save(update_fields=["pending_config", "status", "failure_reason", "updated_at"])
        _deploy(endpoint, user)
    return endpoint


def _raw_variant(variant: dict[str, Any]) -> dict[str, Any]:
    raw = {k: variant[k] for k in VARIANT_SETTINGS if k in variant}
    pipeline = variant.get("pipeline")
    if pipeline:
        raw["pipeline"] = {
            **({"flow_job": pipeline["flow"]["job"]} if "flow" in pipeline else {}),
            **pipeline.get("post", {}),
        }
    if variant.get("multi_model"):
        raw["model_packages"] = list(variant["model_packages"])
    else:
        raw["model_package"] = variant["model_package"]
    return raw


def _merged_variants(current: dict[str, Any], variants: Any) -> Any:
    existing = {v["name"]: _raw_variant(v) for v in current["variants"]}
    if variants is None:
        return list(existing.values())
    if not isinstance(variants, list):
        return variants  # check_config says what is wrong
    merged = []
    for raw in variants:
        if isinstance(raw, dict) and raw.get("name") in existing:
            base = dict(existing[raw["name"]])
            if "model_packages" in raw:
                base.pop("model_package", None)
            if "model_package" in raw:
                base.pop("model_packages", None)
            base.update(raw)
            merged.append(base)
        else:
            merged.append(raw)
    return merged


def _deploy(endpoint: Endpoint, user: Any) -> None:
    job = job_submit(
        project=endpoint.project,
        kind=DEPLOY_JOB_KIND,
        owner=user,
        name=f"Deploy {endpoint.name}",
        parameters={"endpoint": endpoint.pk},
    )
    endpoint.job = job
    endpoint.save(update_fields=["job", "updated_at"])


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Stop serving at once: the route goes now, the hosts stop its model servers."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        ModelServer.objects.filter(endpoint=endpoint).update(
            retire_at=timezone.now(), updated_at=timezone.now()
        )
        endpoint.delete()


# ---------------------------------------------------------------- used by the deploy job


def deploy_plan(endpoint: Endpoint) -> list[ModelServer]:
    """The model servers the pending configuration needs, reusing the endpoint's current
    ones with the same spec; the missing ones are created Pending on the least busy live
    hosts. Call under SELECT … FOR UPDATE of the endpoint."""
    config = endpoint.pending_config or {}
    wanted = list(config.get("variants", []))
    if config.get("shadow"):
        wanted.append(config["shadow"])
    live = list(
        ModelServer.objects.filter(endpoint=endpoint, retire_at__isnull=True).order_by("id")
    )
    hosts = live_hosts()
    load = {h.pk: ModelServer.objects.filter(host=h, retire_at__isnull=True).count() for h in hosts}
    plan: list[ModelServer] = []
    taken: set[int] = set()
    for variant in wanted:
        variant = {**variant, "instance_count": planned_instances(endpoint, variant)}
        spec = server_spec(variant)
        digest = spec_hash(spec)
        reusable = [
            s
            for s in live
            if s.pk not in taken
            and s.variant == variant["name"]
            and s.spec_hash == digest
            and s.status != ServerStatus.FAILED
        ]
        for server in reusable[: variant["instance_count"]]:
            taken.add(server.pk)
            plan.append(server)
        for _ in range(variant["instance_count"] - min(len(reusable), variant["instance_count"])):
            host = min(hosts, key=lambda h: load[h.pk]) if hosts else None
            if host is not None:
                load[host.pk] += 1
            server = ModelServer.objects.create(
                endpoint=endpoint,
                variant=variant["name"],
                generation=endpoint.generation + 1,
                spec=spec,
                spec_hash=digest,
                host=host,
            )
            plan.append(server)
    return plan


def live_hosts() -> list[ModelHost]:
    fresh = timezone.now() - timedelta(seconds=HOST_STALE_SECONDS)
    return list(ModelHost.objects.filter(heartbeat_at__gte=fresh).order_by("name"))


HOST_STALE_SECONDS: Final = 15.0


def deploy_commit(*, endpoint_id: int, servers: list[int]) -> Endpoint:
    """Make the pending configuration live on ``servers``; retire the ones it drops."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
        endpoint.config = endpoint.pending_config or endpoint.config
        endpoint.pending_config = None
        endpoint.generation += 1
        endpoint.status = EndpointStatus.IN_SERVICE
        endpoint.failure_reason = ""
        endpoint.save()
        drain = timezone.now() + timedelta(seconds=DRAIN_SECONDS)
        ModelServer.objects.filter(endpoint=endpoint, retire_at__isnull=True).exclude(
            pk__in=servers
        ).update(retire_at=drain, updated_at=timezone.now())
    return endpoint


def deploy_abandon(*, endpoint_id: int, reason: str) -> None:
    """The deploy failed: a new endpoint is Failed; an updated one goes on serving its
    current configuration, the reason kept. The servers started for it (those of a later
    generation than the live one) are retired."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None or endpoint.pending_config is None:
            return
        served = bool((endpoint.config or {}).get("variants"))
        endpoint.status = EndpointStatus.IN_SERVICE if served else EndpointStatus.FAILED
        endpoint.failure_reason = reason
        endpoint.pending_config = None
        endpoint.save()
        dropped = ModelServer.objects.filter(endpoint=endpoint)
        if served:
            dropped = dropped.filter(generation__gt=endpoint.generation)
        dropped.update(retire_at=timezone.now(), updated_at=timezone.now())


# ------------------------------------------------------------------------- autoscaling

#: The window whose load decides a scale-out, and the one (and the quiet time since the
#: last change) a scale-in needs.
SCALE_OUT_WINDOW_SECONDS: Final = 30
SCALE_IN_WINDOW_SECONDS: Final = 120


def planned_instances(endpoint: Endpoint, variant: dict[str, Any]) -> int:
    """A variant's instances in a new configuration: what autoscaling settled on, if it
    scales, within the new bounds; else its instance count."""
    low, high = variant.get("min_instances", 1), variant.get("max_instances", 1)
    state = (endpoint.scaling or {}).get(variant["name"])
    if high > low and state and state.get("desired"):
        return int(max(low, min(high, state["desired"])))
    return int(variant["instance_count"])


def _mean_concurrency(endpoint: Endpoint, seconds: int) -> dict[str, float]:
    """Each variant's mean requests in flight over the last ``seconds`` (quiet seconds,
    which have no row, count as zero)."""
    since = timezone.now() - timedelta(seconds=seconds)
    totals: dict[str, float] = {}
    rows = EndpointMetric.objects.filter(endpoint=endpoint, time__gte=since, shadow=False)
    for variant, concurrency, length in rows.values_list("variant", "concurrency", "seconds"):
        totals[variant] = totals.get(variant, 0.0) + concurrency * length
    return {variant: busy / seconds for variant, busy in totals.items()}


def endpoint_autoscale(*, endpoint_id: int) -> dict[str, Any]:
    """Bring each autoscaled variant's live instances to what its load wants: new servers
    (Pending, placed on the least busy hosts) or the newest ones retired after a drain."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None or endpoint.status != EndpointStatus.IN_SERVICE:
            return {}
        variants = [
            v
            for v in (endpoint.config or {}).get("variants", [])
            if v.get("max_instances", 1) > v.get("min_instances", 1)
        ]
        if not variants:
            return {}
        short = _mean_concurrency(endpoint, SCALE_OUT_WINDOW_SECONDS)
        long = _mean_concurrency(endpoint, SCALE_IN_WINDOW_SECONDS)
        now = timezone.now()
        scaling = dict(endpoint.scaling or {})
        for variant in variants:
            name = variant["name"]
            live = list(
                ModelServer.objects.filter(
                    endpoint=endpoint,
                    variant=name,
                    retire_at__isnull=True,
                    generation__lte=endpoint.generation,
                )
                .exclude(status=ServerStatus.FAILED)
                .order_by("-id")
            )
            state = dict(scaling.get(name) or {})
            changed = state.get("changed_at")
            quiet = (
                changed is None
                or (now - datetime.fromisoformat(changed)).total_seconds()
                >= SCALE_IN_WINDOW_SECONDS
            )
            bounds = {
                "target": float(variant.get("target_in_flight", 4.0)),
                "current": len(live),
                "low": int(variant.get("min_instances", 1)),
                "high": int(variant.get("max_instances", 1)),
            }
            decision = desired_instances(
                concurrency=short.get(name, 0.0), may_scale_in=False, **bounds
            )
            if decision.desired <= len(live):
                decision = desired_instances(
                    concurrency=long.get(name, 0.0), may_scale_in=quiet, **bounds
                )
            state.update(
                {
                    "desired": decision.desired,
                    "reason": decision.reason,
                    "concurrency": round(short.get(name, 0.0), 3),
                }
            )
            if decision.desired > len(live):
                _scale_out(endpoint, variant, decision.desired - len(live))
                state["changed_at"] = now.isoformat()
            elif decision.desired < len(live):
                ModelServer.objects.filter(
                    pk__in=[s.pk for s in live[: len(live) - decision.desired]]
                ).update(retire_at=now + timedelta(seconds=DRAIN_SECONDS), updated_at=now)
                state["changed_at"] = now.isoformat()
            scaling[name] = state
        endpoint.scaling = scaling
        endpoint.save(update_fields=["scaling"])
    return scaling


def _scale_out(endpoint: Endpoint, variant: dict[str, Any], count: int) -> None:
    spec = server_spec(variant)
    digest = spec_hash(spec)
    hosts = live_hosts()
    load = {h.pk: ModelServer.objects.filter(host=h, retire_at__isnull=True).count() for h in hosts}
    for _ in range(count):
        host = min(hosts, key=lambda h: load[h.pk]) if hosts else None
        if host is not None:
            load[host.pk] += 1
        # The live generation's own: routers send it traffic as soon as it is Running.
        ModelServer.objects.create(
            endpoint=endpoint,
            variant=variant["name"],
            generation=endpoint.generation,
            spec=spec,
            spec_hash=digest,
            host=host,
        )


def endpoints_autoscale() -> int:
    """One autoscaling pass over every endpoint that has an autoscaled variant."""
    done = 0
    for endpoint in Endpoint.objects.filter(status=EndpointStatus.IN_SERVICE).only("id", "config"):
        if any(
            v.get("max_instances", 1) > v.get("min_instances", 1)
            for v in (endpoint.config or {}).get("variants", [])
        ):
            endpoint_autoscale(endpoint_id=endpoint.pk)
            done += 1
    return done


def servers_rehome() -> int:
    """Model servers whose host stopped answering (no heartbeat for HOST_STALE_SECONDS),
    and those never placed, go to the least busy live host, Pending: that host starts them.
    Routers stop sending them traffic as soon as they are no longer Running."""
    stale = timezone.now() - timedelta(seconds=HOST_STALE_SECONDS)
    stranded = list(
        ModelServer.objects.filter(retire_at__isnull=True)
        .filter(Q(host__isnull=True) | Q(host__heartbeat_at__lt=stale))
        .exclude(status=ServerStatus.FAILED)
        .select_related("host")
    )
    if not stranded:
        return 0
    hosts = live_hosts()
    load = {h.pk: ModelServer.objects.filter(host=h, retire_at__isnull=True).count() for h in hosts}
    moved = 0
    for server in stranded:
        target = min(hosts, key=lambda h: load[h.pk]) if hosts else None
        gone = server.host.name if server.host else None
        if target is None and server.host is None:
            continue  # nowhere to go yet
        if target is not None:
            load[target.pk] += 1
        note = f"Host {gone} stopped answering; " if gone else ""
        note += f"moved to {target.name}." if target else "waiting for a live model host."
        ModelServer.objects.filter(pk=server.pk).update(
            host=target,
            status=ServerStatus.PENDING,
            pid=0,
            port=0,
            last_error=note,
            updated_at=timezone.now(),
        )
        moved += 1
    return moved
