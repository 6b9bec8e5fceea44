from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    name = "endpoints"
    verbose_name = "Endpoints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The deploy runner registers itself on import; the model registry's lineage shows
        # the endpoints that serve a package.
        from endpoints import lineage, runners  # noqa: F401
