from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    label = "studio"
    verbose_name = "Studio"

    def ready(self) -> None:
        # Registers the core's job runners and Celery tasks in every process, so that a job
        # can also run inline (tests, notebooks) without a worker.
        from studio import runners, tasks  # noqa: F401
