"""What every REST endpoint of the product shares: errors answered as `{"code", "message"}`, like the WebSocket
protocol's error frames, with codes from the one enum (`cs_platform.errors`). `coded_exception_handler` is DRF's
`EXCEPTION_HANDLER` (settings), so no API class can answer in another shape.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import ngettext
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from cs_platform.errors import ErrorCode


class ErrorSerializer(serializers.Serializer):
    """The body of every error of this API: a stable snake_case `code` and a human `message`."""

    code = serializers.CharField()
    message = serializers.CharField()
    # DRF's metaclass takes declared fields out of the class body, so this does not hide `Serializer.errors`.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, for `invalid_request`.",
    )


class RateLimited(Throttled):
    """Over a rate limit: `429` with `Retry-After` and `{"code": "rate_limited", "message"}` saying when to retry, in
    the request's language (DRF's own `Throttled` formats its sentence before looking it up, so it stays English)."""

    default_code = ErrorCode.RATE_LIMITED

    def __init__(self, wait: float, detail: str) -> None:
        seconds = math.ceil(wait)
        retry = ngettext("Please try again in %(count)s second.", "Please try again in %(count)s seconds.", seconds) % {
            "count": seconds
        }
        super().__init__(detail=f"{detail} {retry}")
        self.wait = seconds  # Retry-After


# The HTTP status of a service's refusal, the same in every endpoint; a code not named here answers 400.
REFUSAL_STATUS: dict[ErrorCode, int] = {
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_ASSIGNED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONVERSATION_CLOSED: 409,
    ErrorCode.CONVERSATION_OPEN: 409,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.FILE_TYPE_NOT_ALLOWED: 415,
    ErrorCode.FILE_REJECTED: 422,
}


class Refused(APIException):
    """A service's refusal over REST: its own code and message, with the status `REFUSAL_STATUS` gives the code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message, code.value)
        self.status_code = REFUSAL_STATUS.get(code, 400)


RATE_LIMITED_RESPONSE = OpenApiResponse(
    ErrorSerializer,
    description="`rate_limited`: too many attempts; the `Retry-After` header says when to retry.",
)


def coded_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped to `{"code", "message"}` like the WebSocket protocol's error frames."""
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response  # not an API error: Django's 500 handling applies
    if isinstance(exc, ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {api_settings.NON_FIELD_ERRORS_KEY: exc.detail}
        errors = {
            field: [str(m) for m in (value if isinstance(value, list) else [value])] for field, value in detail.items()
        }
        field, messages = next(iter(errors.items()))
        prefix = "" if field == api_settings.NON_FIELD_ERRORS_KEY else f"{field}: "
        response.data = {"code": ErrorCode.INVALID_REQUEST.value, "message": prefix + messages[0], "errors": errors}
    else:
        code = exc.get_codes()
        # A plain string on the wire (an enum member would reach a YAML renderer as a Python object)
        response.data = {"code": str(code if isinstance(code, str) else exc.default_code), "message": str(exc.detail)}
    return response
