"""Autoscaling: a variant with min < max instances follows its requests in flight — out at
once, in only after a quiet cool-down — and a new configuration keeps the settled count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from endpoints.engine.scaling import desired_instances
from endpoints.models import Endpoint, EndpointMetric, ModelHost, ModelServer
from endpoints.services import (
    SCALE_IN_WINDOW_SECONDS,
    endpoint_autoscale,
    endpoints_autoscale,
    planned_instances,
    servers_rehome,
)


@pytest.mark.parametrize(
    ("concurrency", "current", "may_in", "expected"),
    [
        (0.0, 1, True, 1),  # idle at the minimum
        (5.0, 1, False, 3),  # 5 in flight at 2 each: 3 instances
        (50.0, 1, False, 4),  # never above the maximum
        (1.0, 3, False, 3),  # low, but the cool-down is not over
        (1.0, 3, True, 1),
        (3.9, 2, True, 2),  # on target
    ],
)
def test_the_decision(concurrency, current, may_in, expected):
    decision = desired_instances(
        concurrency=concurrency, target=2.0, current=current, low=1, high=4, may_scale_in=may_in
    )
    assert decision.desired == expected and decision.reason


@pytest.fixture
def endpoint(project: Any) -> Endpoint:
    variant = {
        "name": "A",
        "model_package": 1,
        "weight": 1.0,
        "instance_count": 1,
        "min_instances": 1,
        "max_instances": 3,
        "target_in_flight": 2.0,
        "memory_budget_mb": 256,
        "multi_model": False,
        "models": [
            {
                "package": 1,
                "name": "m/1",
                "version": "1",
                "artifact_key": "registry/packages/1/model.tar.gz",
            }
        ],
    }
    endpoint = Endpoint.objects.create(
        project=project,
        name="auto",
        status="InService",
        generation=2,
        config={"variants": [variant]},
    )
    ModelServer.objects.create(
        endpoint=endpoint,
        variant="A",
        generation=1,
        spec={},
        spec_hash="x",
        status="Running",
        port=1,
    )
    return endpoint


def load(endpoint: Endpoint, concurrency: float, seconds: int = 30) -> None:
    now = timezone.now()
    EndpointMetric.objects.bulk_create(
        EndpointMetric(
            endpoint=endpoint,
            variant="A",
            time=now - timedelta(seconds=i),
            seconds=1.0,
            invocations=100,
            concurrency=concurrency,
        )
        for i in range(seconds)
    )


def live(endpoint: Endpoint) -> list[ModelServer]:
    return list(ModelServer.objects.filter(endpoint=endpoint, retire_at__isnull=True))


def test_load_adds_instances_of_the_live_generation_at_once(endpoint):
    load(endpoint, 5.0)
    assert endpoints_autoscale() == 1
    servers = live(endpoint)
    assert len(servers) == 3
    added = [s for s in servers if s.status == "Pending"]
    assert len(added) == 2 and {s.generation for s in added} == {2}
    endpoint.refresh_from_db()
    state = endpoint.scaling["A"]
    assert state["desired"] == 3 and state["concurrency"] == 5.0 and state["changed_at"]
    # A new configuration of the variant keeps what autoscaling settled on.
    assert planned_instances(endpoint, endpoint.config["variants"][0]) == 3


def test_instances_go_only_after_a_quiet_cool_down(endpoint):
    load(endpoint, 5.0)
    endpoint_autoscale(endpoint_id=endpoint.pk)
    EndpointMetric.objects.all().delete()
    endpoint_autoscale(endpoint_id=endpoint.pk)
    assert len(live(endpoint)) == 3  # the cool-down since the scale-out is not over
    endpoint.refresh_from_db()
    long_ago = timezone.now() - timedelta(seconds=SCALE_IN_WINDOW_SECONDS + 1)
    endpoint.scaling["A"]["changed_at"] = long_ago.isoformat()
    endpoint.save()
    endpoint_autoscale(endpoint_id=endpoint.pk)
    kept = live(endpoint)
    assert len(kept) == 1 and kept[0].generation == 1  # the newest are retired first
    retired = ModelServer.objects.filter(endpoint=endpoint, retire_at__isnull=False)
    assert retired.count() == 2 and all(s.retire_at > timezone.now() for s in retired)


def test_a_fixed_variant_or_an_endpoint_not_in_service_is_left_alone(endpoint):
    load(endpoint, 50.0)
    endpoint.status = "Updating"
    endpoint.save()
    assert endpoint_autoscale(endpoint_id=endpoint.pk) == {}
    endpoint.status = "InService"
    endpoint.config["variants"][0]["max_instances"] = 1
    endpoint.save()
    assert endpoints_autoscale() == 0 and len(live(endpoint)) == 1


def test_servers_of_a_host_that_stopped_answering_start_elsewhere(endpoint):
    dead = ModelHost.objects.create(
        name="gone", address="10.0.0.9", heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    ModelServer.objects.filter(endpoint=endpoint).update(host=dead)
    assert servers_rehome() == 1
    server = ModelServer.objects.get(endpoint=endpoint)
    assert server.host is None and server.status == "Pending"
    assert "gone stopped answering" in server.last_error
    assert servers_rehome() == 0  # nowhere to go yet: left waiting
    alive = ModelHost.objects.create(name="alive", address="10.0.0.2", heartbeat_at=timezone.now())
    assert servers_rehome() == 1
    server.refresh_from_db()
    assert server.host == alive and "moved to alive" in server.last_error
