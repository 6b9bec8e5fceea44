from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The upload check's runner registers itself on import (worker and web both need it).
        from registry import runners  # noqa: F401
