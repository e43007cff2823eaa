"""What every data request to the API carries: who is asking, for what purpose, under what
reference.

The purpose is only checked for presence here. Whether it is a purpose at all, and whether it
lets the caller's role do what it asks, is the policy's decision, taken and audited by the
access gate, so an unknown purpose is refused (403, audited) exactly as the web UI refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.request import Request

from cpniguard.access import Actor, Channel
from cpniguard.access.actor import new_request_id
from cpniguard.policy import Action, current_policy

# The audit entry keeps at most 64 characters of a reference.
REFERENCE_MAX = 64


def actor_of(request: Request) -> Actor:
    """The authenticated staff member, acting through the API, under this request's id."""
    # The middleware tags the Django request; DRF's Request proxies attribute reads to it.
    request_id = getattr(request, "request_id", None) or new_request_id()
    return Actor.for_staff(request.user, Channel.API, request_id)  # type: ignore[arg-type]


def valid_purposes() -> list[str]:
    """Purposes the policy could ever allow: forbidden ones are listed in the policy only to
    say they are refused."""
    return sorted(p.id for p in current_policy().purposes.values() if not p.forbidden)


def purpose_required_message(role: str, action: Action, categories: frozenset[str]) -> str:
    # The caller's own choices: purposes with a grant for this action on this kind of data.
    mine = sorted({grant.purpose for grant in current_policy().grants_for(role)
                   if action in grant.actions and grant.categories & categories})
    message = (
        "declare why you need this data: purpose is one of " + ", ".join(valid_purposes())
    )
    if mine:
        message += f" (your role may {action} this data for: {', '.join(mine)})"
    return message


class DeclaredPurpose(serializers.Serializer[dict[str, Any]]):
    """The purpose and reference part of a request; subclasses add their own fields.

    Give `role`, `action` and `categories` in the serializer context so that a missing purpose
    is answered with the purposes this caller could use.
    """

    purpose = serializers.CharField(
        max_length=64, trim_whitespace=True,
        help_text="Why the data is needed: an id from the policy's purposes (GET /api/policy/).",
    )
    reference = serializers.CharField(
        max_length=REFERENCE_MAX, required=False, allow_blank=True, default="",
        help_text="A ticket or legal-case reference, where the policy's grant requires one "
        "(for example TKT-104233 or LR-2026-0042).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = str(self.context.get("role", ""))
        action = self.context.get("action", Action.READ)
        categories = frozenset(self.context.get("categories", ()))
        message = purpose_required_message(role, action, categories)
        self.fields["purpose"].error_messages.update(required=message, blank=message)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 instant that names its UTC offset; a naive time is refused, never guessed.

    Parsed values come back in UTC, and are shown in UTC.
    """

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "invalid": "not an ISO-8601 date and time, for example 2026-01-31T00:00:00Z",
        "naive": "must carry a UTC offset (for example 2026-01-31T00:00:00Z or "
        "2026-01-31T09:00:00+09:00); a time without one is ambiguous",
    }

    def to_internal_value(self, data: Any) -> datetime:
        try:
            moment = parse_datetime(str(data).strip())
        except ValueError:
            moment = None
        if moment is None:
            self.fail("invalid")
        assert moment is not None  # fail() raises; this tells the type checker
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.fail("naive")
        return moment.astimezone(UTC)

    def to_representation(self, value: datetime) -> str:
        # Never called with None: the serializer writes null itself.
        return value.astimezone(UTC).isoformat()


def validated(serializer_class: type[serializers.Serializer[dict[str, Any]]], data: Any,
              request: Request, action: Action, categories: Iterable[str]) -> dict[str, Any]:
    """The request's validated fields, or a 400 naming the purposes the caller could use."""
    context = {"role": getattr(request.user, "role", ""), "action": action,
               "categories": frozenset(categories)}
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
