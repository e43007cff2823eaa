"""Legal desk endpoints that answer requests: produce, deliver, letters, preservation, the
customer notices of a request, the disclosure log and the transparency report.

Thin, like `api/legal.py`: check the envelope, call `legal.production`, `legal.letters`,
`legal.preservation`, `legal.disclosures` or `legal.transparency`, return what they return.
A policy refusal is a 403 naming the rule; a step the workflow does not allow now (producing
a request that is not approved, a package outside its scope, delivering a changed package)
is a 409 naming its reason, audited as refused.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.api.legal import NOT_FOUND, NOT_NOW, TAG, _validated, _workflow_answer
from cpniguard.api.purpose import actor_of
from cpniguard.api.serializers import INVALID, REFUSED, UNAUTHENTICATED
from cpniguard.legal import letters, notice_desk, preservation, production, transparency
from cpniguard.legal.disclosures import disclosure_log

Shape = serializers.Serializer[dict[str, Any]]


class DeliverBody(Shape):
    to = serializers.CharField(max_length=1000, help_text="To whom it was delivered.")
    how = serializers.CharField(max_length=1000, help_text="How: portal, encrypted email...")
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=4000)


class PreserveBody(Shape):
    renew = serializers.BooleanField(required=False, default=False,
                                     help_text="Renew the holds, as the policy allows.")


class PeriodQuery(Shape):
    start = serializers.DateField(help_text="First day (UTC), YYYY-MM-DD.")
    end = serializers.DateField(help_text="Last day (UTC), included.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError("the period ends before it starts")
        return attrs


ProductionView = inline_serializer("LegalProduction", fields={
    "reference": serializers.CharField(), "status": serializers.CharField(),
    "production": serializers.JSONField(
        allow_null=True, help_text="answers per target, rows, categories, accounts, the "
        "package directory, its files with SHA-256 and the manifest's SHA-256, delivery"),
})
PreservationView = inline_serializer("LegalPreservation", fields={
    "reference": serializers.CharField(),
    "preservation": serializers.JSONField(allow_null=True,
                                          help_text="hold ids, expiry, renewals"),
})
DisclosureLog = inline_serializer("LegalDisclosureLog", fields={
    "results": serializers.ListField(child=serializers.JSONField())})
TransparencyReport = inline_serializer("LegalTransparency", fields={
    "period": serializers.JSONField(), "kinds": serializers.ListField(
        child=serializers.JSONField()), "banded": serializers.ListField(
        child=serializers.JSONField()), "totals": serializers.JSONField(),
    "outcome_labels": serializers.JSONField(), "band_width": serializers.IntegerField()})
STEP = {200: ProductionView, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED,
        404: NOT_FOUND, 409: NOT_NOW}


class LegalRequestProduce(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_requests_produce", request=None,
                   summary="Run the scoped queries and seal the package (approved only)",
                   responses=STEP)
    def post(self, request: Request, reference: str) -> Response:
        return _workflow_answer(lambda: production.produce(actor_of(request), reference))


class LegalRequestDeliver(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_requests_deliver", request=DeliverBody,
                   summary="Record how and to whom the sealed package was delivered",
                   responses=STEP)
    def post(self, request: Request, reference: str) -> Response:
        body = _validated(DeliverBody, request.data)
        return _workflow_answer(lambda: production.deliver(
            actor_of(request), reference, to=body["to"], how=body["how"], note=body["note"]))


class LegalRequestLetter(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_requests_letter",
                   summary="The rejection or partial-compliance letter (PDF)",
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY,
                              401: UNAUTHENTICATED, 403: REFUSED, 404: NOT_FOUND,
                              409: NOT_NOW})
    def get(self, request: Request, reference: str) -> Response | HttpResponse:
        answer: dict[str, Any] = {}

        def run() -> dict[str, Any]:
            answer["name"], answer["pdf"] = letters.letter_for(actor_of(request), reference)
            return {}

        refused = _workflow_answer(run)
        if "pdf" not in answer:
            return refused
        response = HttpResponse(answer["pdf"], content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{answer["name"]}"'
        return response


class LegalRequestPreserve(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_requests_preserve", request=PreserveBody,
                   summary="Place (or renew) the legal holds of a preservation letter",
                   responses={**STEP, 200: PreservationView})
    def post(self, request: Request, reference: str) -> Response:
        body = _validated(PreserveBody, request.data)
        step = preservation.renew if body["renew"] else preservation.preserve
        return _workflow_answer(lambda: step(actor_of(request), reference))


NoticeList = inline_serializer("LegalNotices", fields={
    "reference": serializers.CharField(),
    "identified": serializers.DateTimeField(allow_null=True),
    "notices": serializers.ListField(child=serializers.JSONField(), help_text="per notice: "
                                     "subscriber record number, targets, state (queued, due, "
                                     "sent, not_required), held_until, sent, how, object_by, "
                                     "the letter's name and SHA-256"),
})


class LegalRequestNotices(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_requests_notices",
                   summary="The customer notices of one request (custodian only)",
                   description="Read under `legal_process` and the case number, as they name "
                   "our record numbers. Audited.",
                   responses={200: NoticeList, 401: UNAUTHENTICATED, 403: REFUSED,
                              404: NOT_FOUND})
    def get(self, request: Request, reference: str) -> Response:
        return Response(notice_desk.notices_of(actor_of(request), reference))


class LegalDisclosures(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_disclosures", parameters=[PeriodQuery],
                   summary="The disclosure log of a period (every answer, audited)",
                   responses={200: DisclosureLog, 400: INVALID, 401: UNAUTHENTICATED,
                              403: REFUSED})
    def get(self, request: Request) -> Response:
        query = _validated(PeriodQuery, request.query_params)
        return Response({"results": disclosure_log(actor_of(request), query["start"],
                                                   query["end"])})


class LegalTransparency(APIView):
    @extend_schema(tags=[TAG], operation_id="legal_transparency", parameters=[PeriodQuery],
                   summary="The transparency report of a period",
                   description="Counts by kind of process and outcome, accounts affected; "
                   "banded kinds (national security letters) only as bands.",
                   responses={200: TransparencyReport, 400: INVALID, 401: UNAUTHENTICATED,
                              403: REFUSED})
    def get(self, request: Request) -> Response:
        query = _validated(PeriodQuery, request.query_params)
        return Response(transparency.report(actor_of(request), query["start"], query["end"]))
