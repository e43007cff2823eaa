"""Service-quality endpoints: the network report and one subscriber's connection health.

Thin, like the CLI command and the Network page: validate the query, call
`quality.services.network_report` / `subscriber_health`, return what they return. So one
staff member gets the same figures, the same k suppression, the same decision and the same
audit entry (`quality:network:read`, `quality:subscriber-health:read`, channel `api`)
whichever way they ask. A refusal is a 403 naming the rule (audited by the gate); input the
service cannot read (an instant without an offset or zone, a range over 31 days, a device
with no sessions) is a 400 with the service's message, and nothing is audited.

GET, because nothing changes and the question (a range, a device) is not sensitive; the
purpose and reference are query parameters as on the other GET endpoints.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.api.purpose import actor_of, validated
from cpniguard.api.quality_serializers import HealthQuery, HealthView, NetworkQuery, NetworkReport
from cpniguard.api.serializers import INVALID, REFUSED, UNAUTHENTICATED, ErrorShape
from cpniguard.connectivity.question import Usage
from cpniguard.policy import Action
from cpniguard.quality.services import HEALTH_CATEGORIES, NETWORK_CATEGORIES
from cpniguard.quality.services import network_report as network_service
from cpniguard.quality.services import subscriber_health as health_service

TAG = "service quality"
NOT_FOUND = OpenApiResponse(ErrorShape, description="No such subscriber (audited).")


def _or_none(value: str) -> str | None:
    return value.strip() or None


class QualityNetwork(APIView):
    @extend_schema(
        tags=[TAG], operation_id="quality_network", parameters=[NetworkQuery],
        summary="The network report: groups, incidents, capacity",
        description="Per NAS, POP and access device: active sessions over time, ends by "
        "kind, lease churn; incidents (many sessions of one device or POP ending within a "
        "window) with their start, end, level, group, count and cause; address-pool and "
        "CGNAT port-block use against capacity. Figures covering fewer than the policy's k "
        "subscribers are null. Audited as `quality:network:read`; the NOC reads it under "
        "`network_quality` (no reference).",
        responses={200: NetworkReport, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
        examples=[OpenApiExample(
            "One POP over a morning", request_only=True,
            value={"since": "2026-11-28T06:00:00-05:00", "until": "2026-11-28T12:00:00-05:00",
                   "pop": "north", "purpose": "network_quality"})],
    )
    def get(self, request: Request) -> Response:
        query = validated(NetworkQuery, request.query_params, request, Action.READ,
                          NETWORK_CATEGORIES)
        try:
            report = network_service(
                actor_of(request), since=_or_none(query["since"]),
                until=_or_none(query["until"]), device=_or_none(query["device"]),
                pop=_or_none(query["pop"]), resolution=_or_none(query["resolution"]),
                purpose=query["purpose"], reference=query["reference"] or None)
        except Usage as error:
            raise ValidationError(str(error)) from None
        return Response(report)


class QualitySubscriber(APIView):
    @extend_schema(
        tags=[TAG], operation_id="quality_subscriber", parameters=[HealthQuery],
        summary="One subscriber's connection health, for a ticket",
        description="Sessions per day, lengths, reconnect storms, addresses, flags and the "
        "verdict with the rules and sessions behind it. Needs a purpose granting both "
        "service-quality data and connectivity logs (the NOC's `troubleshooting`, with a "
        "ticket). Not k-suppressed: the ticket is about this subscriber. Audited as "
        "`quality:subscriber-health:read`, with the subscriber as subject.",
        responses={200: HealthView, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED,
                   404: NOT_FOUND},
    )
    def get(self, request: Request, account: str) -> Response:
        query = validated(HealthQuery, request.query_params, request, Action.READ,
                          HEALTH_CATEGORIES)
        try:
            view = health_service(actor_of(request), account, purpose=query["purpose"],
                                  reference=query["reference"] or None,
                                  since=_or_none(query["since"]),
                                  until=_or_none(query["until"]))
        except Usage as error:
            raise ValidationError(str(error)) from None
        return Response(view)
