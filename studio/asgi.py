"""The one ASGI application: pages, the REST API and websockets."""

import os
from typing import Any

from studio.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from studio.routing import websocket_urlpatterns  # noqa: E402


def mounted(mounts: list[tuple[str, str]], fallback: Any) -> Any:
    """``fallback`` (Django), except for the path prefixes an app serves itself.

    The apps are named in settings (``SEXTANT_ASGI_MOUNTS``), so the core does not import the
    apps above it; hot paths (invocations, the labeling queue) mount here to skip Django's
    request handling. An app with a ``handles(path)`` attribute serves only the paths under
    its prefix that it says it handles; the others go on to Django."""
    if not mounts:
        return fallback
    apps = [(prefix, import_string(target.replace(":", "."))) for prefix, target in mounts]

    async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        for prefix, app in apps:
            if path.startswith(prefix) and (
                getattr(app, "handles", None) is None or app.handles(path)
            ):
                await app(scope, receive, send)
                return
        await fallback(scope, receive, send)

    return http


application = ProtocolTypeRouter(
    {
        "http": mounted(settings.SEXTANT_ASGI_MOUNTS, django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
