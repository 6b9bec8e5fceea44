"""The invocation path: a lean ASGI app in front of the model servers.

``/invocations/<endpoint>`` (SageMaker's bodies) and ``/v2/…`` (the Open Inference Protocol)
never enter Django's request handling: no middleware, no URL resolver, no ORM query per
request. What a request needs is in memory:

- the routes (:class:`RouteTable`): every endpoint's live variants, weights and instance
  addresses, rebuilt in the background when an endpoint or a model server changes (a
  cheap query at most every ``SEXTANT_ROUTES_REFRESH_SECONDS``);
- who may call (a credential cache): an API token's user and the projects they may read,
  kept for ``TOKEN_TTL_SECONDS``.

The request body goes to the chosen instance as it came; the model server parses it, so the
router's work per request is small and the parsing runs on as many cores as there are
servers. A shadow variant gets a copy, answered in the background and never returned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Count, Max
from django.http import parse_cookie

from endpoints.choices import EndpointStatus, ServerStatus
from endpoints.engine import protocol
from endpoints.engine.capture import Event, new_event_id
from endpoints.engine.capture import now as capture_time
from endpoints.engine.router import Route, Upstream, UpstreamError, Variant, call_variant
from endpoints.models import Endpoint, ModelServer
from endpoints.recorder import recorder
from studio.credentials import CredentialCache, csrf_echoed, session_user, token_user
from studio.models import Membership
from studio.models.projects import READ_ROLES

logger = logging.getLogger("endpoints.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TOKEN_TTL_SECONDS = 30.0
BAD_TOKEN_TTL_SECONDS = 5.0
JSON_TYPE = b"application/json"

# The database is reached from one thread of its own, off the event loop and away from the
# thread that runs Django's views (a slow page must not hold up a refresh).
_db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serving-db")


async def in_db_thread(func: Callable[[], Any]) -> Any:
    """``func`` in the serving database thread, whose connection stays open between calls
    (a refresh every half second must not reconnect each time); a connection the
    database dropped is opened again, once."""

    def run() -> Any:
        try:
            return func()
        except (OperationalError, InterfaceError):
            connection.close()
            return func()

    return await asyncio.get_running_loop().run_in_executor(_db, run)


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = protocol.error_body(code, message, field)


# --------------------------------------------------------------------------------- routes


def _stamp() -> tuple[Any, ...]:
    endpoints = Endpoint.objects.aggregate(Max("updated_at"), Count("id"))
    servers = ModelServer.objects.aggregate(Max("updated_at"), Count("id"))
    return (
        endpoints["updated_at__max"],
        endpoints["id__count"],
        servers["updated_at__max"],
        servers["id__count"],
    )


def _load_routes() -> tuple[tuple[Any, ...], list[dict[str, Any]]]:
    """Every serving endpoint with the addresses of its live instances, per variant.

    An instance is live when its generation is the endpoint's or older and it is not
    retired: the servers of a deploy still under way, and the drained ones, serve no new
    request (routers that have not seen the change yet still reach the drained ones)."""
    stamp = _stamp()
    endpoints = list(
        Endpoint.objects.exclude(status__in=[EndpointStatus.CREATING, EndpointStatus.DELETING])
        .exclude(config={})
        .values("id", "name", "project_id", "generation", "config")
    )
    generation = {e["id"]: e["generation"] for e in endpoints}
    live: dict[int, dict[str, list[tuple[str, int]]]] = {}
    rows = ModelServer.objects.filter(
        status=ServerStatus.RUNNING, retire_at__isnull=True, endpoint_id__in=list(generation)
    ).select_related("host")
    for s in rows:
        if s.generation > generation[s.endpoint_id]:
            continue
        address = (s.host.address if s.host else "127.0.0.1", s.port)
        live.setdefault(s.endpoint_id, {}).setdefault(s.variant, []).append(address)
    return stamp, [{**e, "servers": live.get(e["id"], {})} for e in endpoints]


class RouteTable:
    """The routes by endpoint name, rebuilt when the database says something changed."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.upstreams: dict[tuple[str, int], Upstream] = {}
        self.stamp: tuple[Any, ...] | None = None
        self.loaded = False
        self.checked = 0.0
        self.task: asyncio.Task[None] | None = None

    async def get(self, name: str) -> Route | None:
        if not self.loaded:
            await self.refresh()
        elif time.monotonic() - self.checked > settings.SEXTANT_ROUTES_REFRESH_SECONDS and (
            self.task is None or self.task.done()
        ):
            self.task = asyncio.create_task(self.refresh())
        return self.routes.get(name)

    async def refresh(self, *, force: bool = False) -> None:
        self.checked = time.monotonic()
        try:
            stamp = await in_db_thread(_stamp)
            if stamp == self.stamp and self.loaded and not force:
                return
            stamp, endpoints = await in_db_thread(_load_routes)
        except Exception:  # keep serving what we have
            logger.exception("Could not refresh the endpoint routes")
            return
        self.build(endpoints)
        self.stamp = stamp
        self.loaded = True

    def build(self, endpoints: list[dict[str, Any]]) -> None:
        used: dict[tuple[str, int], Upstream] = {}

        def variant(
            spec: dict[str, Any], servers: dict[str, list[tuple[str, int]]], old: Route | None
        ) -> Variant:
            ups = []
            for address in servers.get(spec["name"], []):
                upstream = self.upstreams.get(address) or Upstream(*address)
                used[address] = upstream
                ups.append(upstream)
            previous = old.variant(spec["name"]) if old is not None else None
            built = Variant(spec["name"], float(spec.get("weight", 0.0)), ups)
            if previous is not None:
                built.stats = previous.stats  # the counts carry over a configuration change
            return built

        routes = {}
        for e in endpoints:
            config = e["config"]
            old = self.routes.get(e["name"])
            variants = [variant(v, e["servers"], old) for v in config.get("variants", [])]
            shadow = config.get("shadow")
            models = {m["name"] for v in config.get("variants", []) for m in v.get("models", [])}
            routes[e["name"]] = Route(
                endpoint_id=e["id"],
                name=e["name"],
                project_id=e["project_id"],
                generation=e["generation"],
                variants=variants,
                shadow=variant(shadow, e["servers"], old) if shadow else None,
                capture_percent=float(config.get("data_capture", {}).get("percent", 0.0)),
                multi_model=bool(config.get("multi_model")),
                models=frozenset(models),
            )
        # Connections to servers no route names any more close once their requests are in.
        for address, upstream in self.upstreams.items():
            if address not in used:
                asyncio.get_running_loop().call_later(30.0, upstream.close)
        self.upstreams = used
        self.routes = routes


# --------------------------------------------------------------------------------- tokens


def _user_projects(user: Any) -> frozenset[int] | None:
    if user is None:
        return None
    return frozenset(
        Membership.objects.filter(user=user, role__in=READ_ROLES).values_list(
            "project_id", flat=True
        )
    )


routes = RouteTable()
# Shadow calls in flight (the event loop keeps only weak references to tasks).
_background: set[asyncio.Task[None]] = set()
# Who may call, by credential: the projects an API token's or a session's user may read.
tokens = CredentialCache(
    lambda key: _user_projects(token_user(key)),
    in_db_thread,
    ttl=TOKEN_TTL_SECONDS,
    bad_ttl=BAD_TOKEN_TTL_SECONDS,
)
sessions = CredentialCache(
    lambda key: _user_projects(session_user(key)),
    in_db_thread,
    ttl=TOKEN_TTL_SECONDS,
    bad_ttl=BAD_TOKEN_TTL_SECONDS,
)


# -------------------------------------------------------------------------------- helpers


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


async def _body(receive: Receive, headers: dict[bytes, bytes]) -> bytes:
    limit = int(settings.SEXTANT_INVOCATION_MAX_BYTES)
    too_big = HttpError(
        413,
        "payload_too_large",
        f"The request body is over {limit // (1024 * 1024)} MB: split it, or use a batch "
        "transform job.",
        "body",
    )
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON_TYPE,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _allowed_projects(headers: dict[bytes, bytes]) -> frozenset[int]:
    """The projects the caller may invoke in: from an API token, or from the studio's
    session cookie with its CSRF token echoed in ``X-CSRFToken`` (the endpoint page's
    test panel); 401 otherwise."""
    auth = headers.get(b"authorization", b"").decode(errors="replace").split()
    if len(auth) == 2 and auth[0].lower() in ("token", "bearer"):
        allowed = await tokens.get(auth[1])
        if allowed is None:
            raise HttpError(401, "invalid_token", "This API token is not valid.", "Authorization")
        return allowed
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    session = cookies.get(settings.SESSION_COOKIE_NAME)
    if session and not auth:
        echoed = headers.get(b"x-csrftoken", b"").decode(errors="replace")
        if not csrf_echoed(cookies, echoed):
            raise HttpError(
                403,
                "csrf_failed",
                "A request with the studio's session must echo its CSRF token in X-CSRFToken.",
                "X-CSRFToken",
            )
        allowed = await sessions.get(session)
        if allowed is not None:
            return allowed
    raise HttpError(
        401,
        "not_authenticated",
        "Send an API token: Authorization: Token <key>.",
        "Authorization",
    )


async def _authorize(headers: dict[bytes, bytes], name: str) -> Route:
    """The endpoint's route, for a caller who may read its project (else 401 / 404)."""
    allowed = await _allowed_projects(headers)
    route = await routes.get(name)
    if route is None:
        # An endpoint created a moment ago may not be in the table yet.
        await routes.refresh()
        route = routes.routes.get(name)
    if route is None or route.project_id not in allowed:
        raise HttpError(404, "not_found", f"There is no endpoint named {name!r}.")
    return route


def _pick(route: Route, headers: dict[bytes, bytes]) -> Variant:
    wanted = headers.get(b"x-target-variant")
    if wanted:
        variant = route.variant(wanted.decode(errors="replace"))
        if variant is None or variant is route.shadow:
            raise HttpError(
                400,
                "unknown_variant",
                f"Endpoint {route.name} has no variant {wanted.decode(errors='replace')!r}.",
                "X-Target-Variant",
            )
        return variant
    return route.choose()


def _model_header(route: Route, headers: dict[bytes, bytes]) -> dict[str, Any]:
    model = headers.get(b"x-target-model")
    if not route.multi_model:
        if model:
            raise HttpError(
                400,
                "not_multi_model",
                f"Endpoint {route.name} serves one model: leave out X-Target-Model.",
                "X-Target-Model",
            )
        return {}
    if not model:
        raise HttpError(
            400,
            "model_required",
            f"Endpoint {route.name} is multi-model: name the model in "
            "X-Target-Model (group/version).",
            "X-Target-Model",
        )
    name = model.decode(errors="replace")
    if name not in route.models:
        raise HttpError(
            404,
            "model_not_found",
            f"Endpoint {route.name} has no model {name!r}.",
            "X-Target-Model",
        )
    return {"model": name}


@dataclass
class Captured:
    """A sampled request: what its capture lines share."""

    event_id: str
    inference_id: str | None
    content_type: str
    body: bytes


def _sample(
    route: Route, headers: dict[bytes, bytes], content_type: str, body: bytes
) -> Captured | None:
    if route.capture_percent <= 0 or random.random() * 100.0 >= route.capture_percent:
        return None
    inference = headers.get(b"x-inference-id")
    return Captured(
        new_event_id(),
        inference.decode(errors="replace") if inference else None,
        content_type,
        body,
    )


def _record(
    route: Route,
    variant: Variant,
    captured: Captured,
    answer: tuple[int, str, bytes],
    seconds: float,
    *,
    shadow: bool = False,
) -> None:
    status, ctype, body = answer
    recorder.capture.add(
        Event(
            event_id=captured.event_id,
            time=capture_time(),
            endpoint=route.name,
            variant=variant.name,
            status=status,
            latency_ms=seconds * 1000.0,
            input_type=captured.content_type,
            input_data=captured.body,
            output_type=ctype,
            output_data=body,
            shadow=shadow,
            inference_id=captured.inference_id,
        )
    )


async def _forward(
    route: Route, variant: Variant, frame: bytes, captured: Captured | None = None
) -> tuple[int, str, bytes]:
    recorder.ensure_started(routes, in_db_thread)
    if route.shadow is not None and route.shadow.upstreams:
        task = asyncio.create_task(_shadow(route, frame, captured))
        _background.add(task)
        task.add_done_callback(_background.discard)
    started = time.perf_counter()
    try:
        answer = await call_variant(variant, frame)
    except UpstreamError:
        # The route may predate a restart or an update: look again, once.
        await routes.refresh(force=True)
        fresh = routes.routes.get(route.name)
        retry = fresh.variant(variant.name) if fresh is not None else None
        if retry is None or not retry.upstreams:
            raise HttpError(
                503,
                "unavailable",
                f"Variant {variant.name} of {route.name} has no instance running.",
            )
        try:
            answer = await call_variant(retry, frame)
        except UpstreamError as exc:
            raise HttpError(503, "unavailable", str(exc)) from None
    if captured is not None:
        _record(route, variant, captured, answer, time.perf_counter() - started)
    return answer


async def _shadow(route: Route, frame: bytes, captured: Captured | None) -> None:
    shadow = route.shadow
    assert shadow is not None
    started = time.perf_counter()
    try:
        answer = await call_variant(shadow, frame)
    except UpstreamError:
        return  # counted in the shadow's stats; a shadow never fails a live request
    if captured is not None:
        _record(route, shadow, captured, answer, time.perf_counter() - started, shadow=True)


# -------------------------------------------------------------------------------- handlers


async def invoke(scope: Scope, receive: Receive, send: Send, name: str) -> None:
    headers = _headers(scope)
    if scope["method"] != "POST":
        raise HttpError(405, "method_not_allowed", "Invoke an endpoint with POST.")
    body = await _body(receive, headers)
    route = await _authorize(headers, name)
    variant = _pick(route, headers)
    head = _model_header(route, headers)
    content_type = headers.get(b"content-type", b"").decode(errors="replace")
    frame = protocol.request_frame(
        protocol.INVOKE,
        body,
        ct=content_type,
        accept=headers.get(b"accept", b"").decode(errors="replace"),
        **head,
    )
    captured = _sample(route, headers, content_type, body)
    status, ctype, answer = await _forward(route, variant, frame, captured)
    extra = [(b"x-invoked-variant", variant.name.encode())]
    if captured is not None:
        extra.append((b"x-event-id", captured.event_id.encode()))
    await _respond(send, status, answer, ctype.encode(), extra)


async def v2(scope: Scope, receive: Receive, send: Send, path: str) -> None:
    parts = [p for p in path.split("/") if p]  # ["v2", …]
    method = scope["method"]
    if parts[1:] == ["health", "live"]:
        await _respond(send, 200, b'{"live":true}')
        return
    if parts[1:] == ["health", "ready"]:
        if not routes.loaded:
            await routes.refresh()
        ready = routes.loaded
        await _respond(send, 200 if ready else 503, json.dumps({"ready": ready}).encode())
        return
    if len(parts) < 3 or parts[1] != "models":
        raise HttpError(404, "not_found", "No such v2 route.")
    name = parts[2]
    rest = parts[3:]
    if len(rest) >= 2 and rest[0] == "versions":
        rest = rest[2:]  # one version serves per endpoint variant: the path's is informative
    headers = _headers(scope)
    if rest == ["infer"]:
        if method != "POST":
            raise HttpError(405, "method_not_allowed", "Infer with POST.")
        body = await _body(receive, headers)
        op = protocol.INFER
    elif rest == [] or rest == ["ready"]:
        if method != "GET":
            raise HttpError(405, "method_not_allowed", "Read a model's metadata with GET.")
        body, op = b"", protocol.META
    else:
        raise HttpError(404, "not_found", "No such v2 route.")
    route = await _authorize(headers, name)
    variant = _pick(route, headers)
    if rest == ["ready"]:
        ready = any(v.upstreams for v in route.variants)
        await _respond(
            send, 200 if ready else 503, json.dumps({"name": name, "ready": ready}).encode()
        )
        return
    # v2 answers in the name it was asked by: the endpoint's (or the target model's).
    head = _model_header(route, headers)
    frame = protocol.request_frame(op, body, **{"as": head.get("model", name), **head})
    captured = _sample(route, headers, "application/json", body) if op == protocol.INFER else None
    status, ctype, answer = await _forward(route, variant, frame, captured)
    await _respond(
        send, status, answer, ctype.encode(), [(b"x-invoked-variant", variant.name.encode())]
    )


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    path: str = scope["path"]
    try:
        if path.startswith("/invocations/"):
            name = path[len("/invocations/") :].strip("/")
            await invoke(scope, receive, send, name)
        else:
            await v2(scope, receive, send, path)
    except HttpError as exc:
        await _respond(send, exc.status, exc.body)
    except ConnectionResetError:
        return
