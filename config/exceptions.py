"""Domain errors and the one error format of the REST API.

Every 4xx answer of the API has the body::

    {"error": {"code": "invalid", "message": "…", "details": {"field": ["…"]}}}

``code`` is stable and machine-readable, ``message`` is for people (in the request's
language), ``details`` maps field names to their messages (empty when no field is at
fault).
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

ErrorDetails = dict[str, list[str]]


class ApplicationError(Exception):
    """A rule of the domain said no. Services raise it; views and the API handler
    turn it into a message for the user."""

    code = "invalid"
    status_code: int = status.HTTP_400_BAD_REQUEST
    default_message = _("The request could not be completed.")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: ErrorDetails | None = None,
    ) -> None:
        self.message = force_str(message or self.default_message)
        if code:
            self.code = code
        self.details = details or {}
        super().__init__(self.message)

    @classmethod
    def on_field(cls, field: str, message: str) -> "ApplicationError":
        """The error of one field, the message named under it in ``details``."""
        return cls(message, details={field: [message]})


class PermissionDenied(ApplicationError, DjangoPermissionDenied):
    """Also Django's PermissionDenied, so that a page view that lets it through
    answers 403 with the error page."""

    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = _("You are not allowed to do this.")


class NotFound(ApplicationError, Http404):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = _("Not found.")


class Conflict(ApplicationError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT
    default_message = _("This conflicts with the current state.")


def error_body(
    code: str, message: str, details: ErrorDetails | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _as_details(detail: Any) -> ErrorDetails:
    """DRF's nested error detail as ``{field: [messages]}``; nested objects and list
    items are flattened to dotted paths (``skills.0.name``)."""
    out: ErrorDetails = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(item, str) for item in value)
        ):
            out.setdefault(prefix or "non_field_errors", []).extend(
                force_str(item) for item in value
            )
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if item:
                    walk(f"{prefix}.{index}" if prefix else str(index), item)
        else:
            out.setdefault(prefix or "non_field_errors", []).append(force_str(value))

    walk("", detail)
    return out


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(
            error_body(exc.code, exc.message, exc.details), status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response

    if isinstance(exc, exceptions.ValidationError):
        body = error_body(
            "invalid",
            force_str(_("Some fields are not valid.")),
            _as_details(exc.detail),
        )
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(str(code), force_str(exc.detail))
    response.data = body
    return response
