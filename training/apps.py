from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Job runners register themselves on import (the worker and the web both need them).
        from training import runners  # noqa: F401
