from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    name = "endpoints"
    verbose_name = "Endpoints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The deploy runner registers itself on import; the model registry's lineage shows
        # the endpoints that serve a package; the home and ops pages show their cards.
        from endpoints import lineage, panels, runners  # noqa: F401
