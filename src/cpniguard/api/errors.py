"""Every API error is JSON with a reason; a policy refusal names the rule that refused."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cpniguard.access.gate import AccessRefused, SubjectNotFound


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, AccessRefused):
        return Response({"detail": exc.decision.reason, "rule": exc.decision.rule,
                         "allowed": False}, status=403)
    if isinstance(exc, SubjectNotFound):
        return Response({"detail": "not found"}, status=404)
    return drf_exception_handler(exc, context)
