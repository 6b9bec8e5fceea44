from django.apps import AppConfig


class MonitorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitor"
    verbose_name = "Model Monitor and Clarify"

    def ready(self) -> None:
        # The job kinds register on import, and the tasks (alerts) for inline runs.
        from monitor import panels, runners, tasks  # noqa: F401
