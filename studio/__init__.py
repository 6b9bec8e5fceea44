"""Sextant's core: the Django project, projects and roles, datasets, storage and jobs."""

from studio.celery import app as celery_app

__all__ = ["celery_app"]
