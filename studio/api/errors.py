"""One error shape for the whole API: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from studio.errors import ServiceError


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _first_error(detail: Any, prefix: str = "") -> tuple[str | None, str, str]:
    """The first (field, message, code) of a nested ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            field, message, code = _first_error(
                value, f"{prefix}.{name}" if prefix and name else name or prefix
            )
            return field, message, code
    if isinstance(detail, list) and detail:
        for i, value in enumerate(detail):
            if isinstance(value, (dict, list)) and not value:
                continue
            inner_prefix = f"{prefix}[{i}]" if isinstance(value, (dict, list)) else prefix
            return _first_error(value, inner_prefix)
    code = getattr(detail, "code", "invalid") or "invalid"
    return (prefix or None), str(detail), str(code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response(
            error_body(exc.code, exc.message, exc.field, **exc.extra), status=exc.status
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do this.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_error(exc.detail)
        response.data = error_body(code, message, field, details=exc.detail)
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, (dict, list)) else str(exc)
        codes = exc.get_codes()
        response.data = error_body(codes if isinstance(codes, str) else exc.default_code, message)
    return response
