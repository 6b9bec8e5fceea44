"""Statuses of endpoints and of the model servers behind them."""

from __future__ import annotations

from django.db import models


class EndpointStatus(models.TextChoices):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    FAILED = "Failed"
    DELETING = "Deleting"


class ServerStatus(models.TextChoices):
    PENDING = "Pending"  # waiting for its host to start it
    STARTING = "Starting"  # process started, model loading
    RUNNING = "Running"  # listening
    FAILED = "Failed"  # could not start (the reason in last_error)
