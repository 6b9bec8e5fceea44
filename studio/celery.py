"""The Celery application shared by the web process, workers and beat."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
# Celery's Django fix-up runs Django's system checks when a worker loads its task modules.
# The URL checks import every view, serializer and the API schema generator (DRF, Pygments,
# Markdown, Jinja, requests, psycopg: ~30 MiB) into a process that serves no page, and a
# prefork worker's pool children inherit them. The web process and `manage.py` run the checks.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

# The embedded broker (studio.broker) must be resolvable by its URL scheme everywhere a
# connection is made: in the web process that publishes and in every worker that consumes.
TRANSPORT_ALIASES.setdefault("sextantfs", "studio.broker:Transport")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
