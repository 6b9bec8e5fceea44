from django.apps import AppConfig


class WranglerConfig(AppConfig):
    name = "wrangler"
    verbose_name = "Data Wrangler"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Job runners register themselves on import (the worker and the web both need them).
        from wrangler import runners  # noqa: F401
