"""Who is calling, for the lean ASGI routes that run in front of Django (invocations, the
labeling queue): an API token's user, or a logged-in session's, checked as Django's own
authentication checks them, and remembered for a few seconds.

A lean route must also require the session's CSRF token echoed in ``X-CSRFToken`` before it
trusts a session cookie; :func:`csrf_echoed` is that check.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare
from rest_framework.authtoken.models import Token

T = TypeVar("T")


def token_user(key: str) -> Any:
    """The active user of an API token, else None."""
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None


def session_user(key: str) -> Any:
    """The active user of a session key, with the session's auth hash still valid (a changed
    password ends the session, as in Django's own middleware), else None."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user_id = store.get(SESSION_KEY)
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(
        store.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    ):
        return None
    return user


def csrf_echoed(cookies: dict[str, str], echoed: str) -> bool:
    """Whether the request echoes its CSRF cookie in the header, as the studio's pages do."""
    csrf = cookies.get(settings.CSRF_COOKIE_NAME, "")
    return bool(csrf) and constant_time_compare(csrf, echoed)


class CredentialCache(Generic[T]):
    """What a credential resolves to, for ``ttl`` seconds (``bad_ttl`` for an unknown one);
    ``lookup`` reads the database and runs through ``run`` (the route's database thread)."""

    def __init__(
        self,
        lookup: Callable[[str], T | None],
        run: Callable[[Callable[[], T | None]], Awaitable[T | None]],
        *,
        ttl: float = 30.0,
        bad_ttl: float = 5.0,
    ) -> None:
        self.lookup = lookup
        self.run = run
        self.ttl = ttl
        self.bad_ttl = bad_ttl
        self.entries: dict[str, tuple[float, T | None]] = {}

    async def get(self, key: str) -> T | None:
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        found = await self.run(lambda: self.lookup(key))
        if len(self.entries) > 10_000:
            self.entries.clear()
        self.entries[key] = (now + (self.ttl if found is not None else self.bad_ttl), found)
        return found

    def clear(self) -> None:
        self.entries.clear()
