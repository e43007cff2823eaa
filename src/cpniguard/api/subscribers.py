"""Customer-record endpoints: search, read one record, add an interaction note.

Thin on purpose: validate the request, call `subscribers.services`, return what it returns.
The service asks the policy and writes the audit entry; a refusal surfaces as `AccessRefused`
and `api.errors` turns it into a 403 naming the rule.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.api.purpose import actor_of, validated
from cpniguard.api.serializers import (
    INVALID,
    REFUSED,
    UNAUTHENTICATED,
    ErrorShape,
    InteractionCreated,
    NewInteraction,
    RecordQuery,
    SearchQuery,
    SearchResults,
    SubscriberRecord,
)
from cpniguard.policy import Action
from cpniguard.subscribers import services
from cpniguard.subscribers.catalog import RECORD_CATEGORIES

TAG = "subscribers"
NOT_FOUND = OpenApiResponse(ErrorShape, description="No such subscriber (audited).")


class SubscriberSearch(APIView):
    @extend_schema(
        tags=[TAG], operation_id="subscribers_search", parameters=[SearchQuery],
        summary="Search customer records for a declared purpose",
        description="Matches only on the categories the purpose may see; at most "
        f"{services.MAX_RESULTS} rows. Every search is audited, refused or not.",
        responses={200: SearchResults, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
    )
    def get(self, request: Request) -> Response:
        query = validated(SearchQuery, request.query_params, request, Action.SEARCH,
                          RECORD_CATEGORIES)
        rows = services.search(actor_of(request), query["q"], purpose=query["purpose"],
                               reference=query["reference"] or None)
        return Response({"results": rows})


class SubscriberDetail(APIView):
    @extend_schema(
        tags=[TAG], operation_id="subscribers_read", parameters=[RecordQuery],
        summary="Read one customer record for a declared purpose",
        description="Categories the purpose does not need are null and listed in `masked`. "
        "Audited with the fields shown.",
        responses={200: SubscriberRecord, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED,
                   404: NOT_FOUND},
    )
    def get(self, request: Request, subscriber_id: int) -> Response:
        query = validated(RecordQuery, request.query_params, request, Action.READ,
                          RECORD_CATEGORIES)
        view = services.detail(actor_of(request), subscriber_id, purpose=query["purpose"],
                               reference=query["reference"] or None)
        return Response(view)


class SubscriberInteractions(APIView):
    @extend_schema(
        tags=[TAG], operation_id="subscribers_interactions_create", request=NewInteraction,
        summary="Add an interaction note to a customer record",
        description="The note and its audit entry commit together; a refused note is not "
        "stored, and the refusal is audited.",
        responses={201: InteractionCreated, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED,
                   404: NOT_FOUND},
        examples=[OpenApiExample(
            "Troubleshooting call", request_only=True,
            value={"purpose": "troubleshooting", "reference": "TKT-104233",
                   "channel": "phone", "summary": "Replaced the router; line is stable"},
        )],
    )
    def post(self, request: Request, subscriber_id: int) -> Response:
        body = validated(NewInteraction, request.data, request, Action.ANNOTATE,
                         {"interactions"})
        # The serializer already applies the service's own input checks (a known channel, a
        # summary that is not blank once trimmed), so its ValueError cannot happen here.
        note = services.add_interaction(
            actor_of(request), subscriber_id, purpose=body["purpose"],
            reference=body["reference"] or None, channel=body["channel"],
            summary=body["summary"],
        )
        return Response(
            {"id": note.pk, "subscriber": note.subscriber_id, "ticket": note.ticket,
             "channel": note.channel, "summary": note.summary, "staff": note.staff,
             "created": note.created.isoformat()},
            status=201,
        )
