from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The setup, auto-labeling and finishing runners register themselves on import; the
        # home page shows a labeling card.
        from labeling import panels, runners  # noqa: F401
