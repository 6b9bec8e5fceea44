"""Domain errors that services raise and the API and pages turn into clear 4xx answers."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused operation: ``code`` for programs, ``message`` for people, ``field`` if any."""

    status = 400

    def __init__(
        self, code: str, message: str, *, field: str | None = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra  # more keys for the error body, such as the flow node at fault


class ConflictError(ServiceError):
    status = 409
