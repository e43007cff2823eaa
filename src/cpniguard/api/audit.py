"""Reading the audit trail: `GET /api/audit/entries/`.

Reading the access records is itself an access (category `audit_trail`), decided by the policy
and audited by `audit.services.list_entries`; this view only validates the filters. Times must
name their UTC offset: a naive time would be read in some server's zone, and a compliance
review that silently shifts by hours misses exactly the accesses it was looking for.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.api.purpose import AwareDateTimeField, DeclaredPurpose, actor_of, validated
from cpniguard.api.serializers import INVALID, REFUSED, UNAUTHENTICATED
from cpniguard.audit import services
from cpniguard.audit.models import Outcome
from cpniguard.policy import Action

Shape = serializers.Serializer[dict[str, Any]]
FILTERS = ("subscriber", "staff", "entry_purpose", "outcome", "since", "until")


class TrailQuery(DeclaredPurpose):
    subscriber = serializers.IntegerField(
        required=False, min_value=1, help_text="Entries about this subscriber id."
    )
    staff = serializers.CharField(
        required=False, max_length=150, help_text="Entries by this staff username."
    )
    entry_purpose = serializers.CharField(
        required=False, max_length=64, help_text="Entries whose declared purpose was this."
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)
    since = AwareDateTimeField(
        required=False, help_text="From this instant (inclusive); ISO-8601 with an offset."
    )
    until = AwareDateTimeField(
        required=False, help_text="Up to this instant (exclusive); ISO-8601 with an offset."
    )
    limit = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=services.MAX_LIMIT
    )
    offset = serializers.IntegerField(required=False, default=0, min_value=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"until": ["must be later than since"]})
        return attrs


# Built with inline_serializer: "fields" is also a Serializer attribute and cannot be declared.
TrailEntry = inline_serializer("TrailEntry", many=True, help_text="Newest first.", fields={
    "seq": serializers.IntegerField(),
    "time": serializers.DateTimeField(help_text="UTC."),
    "actor": serializers.CharField(),
    "role": serializers.CharField(),
    "channel": serializers.CharField(),
    "event": serializers.CharField(),
    "purpose": serializers.CharField(),
    "reference": serializers.CharField(),
    "subject": serializers.CharField(help_text="An opaque record id such as subscriber:42."),
    "categories": serializers.ListField(child=serializers.CharField()),
    "fields": serializers.ListField(child=serializers.CharField()),
    "outcome": serializers.ChoiceField(choices=Outcome.choices),
    "rule": serializers.CharField(),
    "reason": serializers.CharField(),
    "request_id": serializers.CharField(),
    "entry_hash": serializers.CharField(),
})


class TrailFilters(Shape):
    """The filters as understood, times in UTC, so a caller can see what was searched."""

    subscriber = serializers.IntegerField(allow_null=True)
    staff = serializers.CharField(allow_null=True)
    entry_purpose = serializers.CharField(allow_null=True)
    outcome = serializers.CharField(allow_null=True)
    since = AwareDateTimeField(allow_null=True)
    until = AwareDateTimeField(allow_null=True)


class TrailPage(Shape):
    count = serializers.IntegerField(help_text="Entries matching the filters, in all.")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    filters = TrailFilters()
    entries = TrailEntry


class TrailEntries(APIView):
    @extend_schema(
        tags=["audit"], operation_id="audit_entries_list", parameters=[TrailQuery],
        summary="List audit entries, newest first",
        description="Needs a purpose the policy grants for searching the audit trail "
        "(compliance_review for the compliance officer and auditors). This read is itself "
        "audited.",
        responses={200: TrailPage, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
    )
    def get(self, request: Request) -> Response:
        query = validated(TrailQuery, request.query_params, request, Action.SEARCH,
                          services.CATEGORIES)
        given = {name: query.get(name) or None for name in FILTERS}
        page = services.list_entries(
            actor_of(request), purpose=query["purpose"], reference=query["reference"] or None,
            limit=query["limit"], offset=query["offset"], **given,
        )
        filters = TrailFilters(given).data
        return Response({"count": page["count"], "limit": query["limit"],
                         "offset": query["offset"], "filters": filters,
                         "entries": page["entries"]})
