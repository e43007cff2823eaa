"""Every API error is JSON with a reason; a policy refusal names the rule that refused.

Shapes: `{"detail": reason}` always; plus `rule` and `allowed: false` for a policy refusal
(403), and `errors: {field: [messages]}` for invalid input (400), whose `detail` repeats the
messages in one line so that a client printing only `detail` still says what was wrong.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cpniguard.access.gate import AccessRefused, SubjectNotFound


def refusal(detail: str, rule: str, status: int = 403) -> Response:
    return Response({"detail": detail, "rule": rule, "allowed": False}, status=status)


def _messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{key}: {message}" for key, item in value.items() for message in _messages(item)]
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    return [str(value)]


def invalid_input(errors: Any) -> Response:
    if not isinstance(errors, dict):
        errors = {"non_field_errors": errors}
    by_field = {field: _messages(value) for field, value in errors.items()}
    detail = "; ".join(
        message if field == "non_field_errors" else f"{field}: {message}"
        for field, messages in by_field.items() for message in messages
    )
    return Response({"detail": detail, "errors": by_field}, status=400)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, AccessRefused):
        return refusal(exc.decision.reason, exc.decision.rule)
    if isinstance(exc, SubjectNotFound):
        return Response({"detail": "not found"}, status=404)
    if isinstance(exc, exceptions.ValidationError):
        return invalid_input(exc.detail)
    return drf_exception_handler(exc, context)
