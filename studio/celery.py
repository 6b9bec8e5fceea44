"""The Celery application shared by the web process, workers and beat."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

# The embedded broker (studio.broker) must be resolvable by its URL scheme everywhere a
# connection is made: in the web process that publishes and in every worker that consumes.
TRANSPORT_ALIASES.setdefault("sextantfs", "studio.broker:Transport")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
