"""Legal desk endpoints: take in a request, list the desk, read one request, move it along.

Thin on purpose, like the CLI commands: check the envelope, call `legal.intake`,
`legal.desk` or `legal.workflow`, return what they return. Every call acts for the purpose
`legal_desk` (the desk's only purpose, so the caller does not declare it); the services ask
the policy and write the audit entry. A policy refusal is a 403 naming the rule; a step the
workflow does not allow now (a second approval by one person, approving with open errors, a
transition out of order) is a 409 naming its reason, audited as refused.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.access import AccessRefused
from cpniguard.api.errors import refusal
from cpniguard.api.legal_serializers import (
    LegalIntake,
    ListQuery,
    NarrowBody,
    NoteBody,
    RequestDetail,
    RequestList,
    TransitionBody,
)
from cpniguard.api.purpose import actor_of
from cpniguard.api.serializers import INVALID, REFUSED, UNAUTHENTICATED, ErrorShape
from cpniguard.legal import workflow
from cpniguard.legal.attachments import AttachmentDamaged
from cpniguard.legal.desk import list_requests, show_request
from cpniguard.legal.intake import BadRequestFile, take_in
from cpniguard.legal.status import BadTransition

TAG = "legal"
NOT_FOUND = OpenApiResponse(ErrorShape, description="No such legal request (audited).")
NOT_NOW = OpenApiResponse(ErrorShape, description="The workflow does not allow this step now "
                          "(audited as refused); `detail` says why.")
EXAMPLE = {
    "format": "cpniguard-legal-request/1", "kind": "administrative_subpoena",
    "issuing_authority": "Example Agency, Office of Inspector General",
    "case_number": "OIG-2026-0031",
    "agent": {"name": "Investigator Sam Example", "contact": "sam.example@oig.example.gov",
              "verified_by": "called back on the agency's published number"},
    "addressed_to": "Example Rural Broadband, Inc.", "signed": True, "issued": "2026-11-20",
    "served": "2026-11-23T10:15:00-05:00", "response_due": "2026-12-14",
    "targets": [{"kind": "ip", "value": "203.0.113.7:40001",
                 "at": "2026-11-18T14:05:03-06:00"}],
    "categories": ["name", "service_address", "connectivity_logs"],
}


def _validated(serializer_class: Any, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _workflow_answer(run: Any) -> Response:
    try:
        return Response(run())
    except AccessRefused as refused:
        if refused.decision.rule.startswith("deny:legal-workflow"):
            return refusal(refused.decision.reason, refused.decision.rule, status=409)
        raise
    except BadTransition as trouble:
        return Response({"detail": str(trouble)}, status=409)


class LegalRequests(APIView):
    @extend_schema(
        tags=[TAG], operation_id="legal_requests_list", parameters=[ListQuery],
        summary="The legal desk: every request with its due date and days left",
        description="Case numbers, kinds, statuses, deadlines and finding counts; no contents. "
        "Overdue requests first. Audited.",
        responses={200: RequestList, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
    )
    def get(self, request: Request) -> Response:
        query = _validated(ListQuery, request.query_params)
        rows = list_requests(actor_of(request), status=query.get("status"))
        return Response({"results": rows})

    @extend_schema(
        tags=[TAG], operation_id="legal_requests_create", request=LegalIntake,
        summary="Take in a legal request",
        description="Gives it a case number (LR-YYYY-NNNN), keeps the document as received "
        "and every attachment by SHA-256, validates it against the policy's rules for its "
        "kind and answers with the stored request and its findings. Malformed or missing "
        "fields are findings, not errors.",
        responses={201: RequestDetail, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
        examples=[OpenApiExample("An administrative subpoena", request_only=True,
                                 value={"document": EXAMPLE, "attachments": []})],
    )
    def post(self, request: Request) -> Response:
        body = _validated(LegalIntake, request.data)
        files = [item["incoming"] for item in body["attachments"]]
        try:
            view = take_in(actor_of(request), body["document"], files)
        except BadRequestFile as trouble:
            return Response({"detail": str(trouble)}, status=400)
        except AttachmentDamaged as damaged:  # audited as an error by the gate
            return Response({"detail": str(damaged)}, status=500)
        return Response(view, status=201)


class LegalRequestDetail(APIView):
    @extend_schema(
        tags=[TAG], operation_id="legal_requests_read",
        summary="One legal request: as given, as understood, findings, history",
        description="Read under the request's own case number as reference. Audited.",
        responses={200: RequestDetail, 401: UNAUTHENTICATED, 403: REFUSED, 404: NOT_FOUND},
    )
    def get(self, request: Request, reference: str) -> Response:
        return Response(show_request(actor_of(request), reference))


# What every workflow step answers: the request as it now stands, or why it could not move.
WORKFLOW_RESPONSES = {200: RequestDetail, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED,
                      404: NOT_FOUND, 409: NOT_NOW}


class LegalRequestTransition(APIView):
    @extend_schema(
        tags=[TAG], operation_id="legal_requests_transition", request=TransitionBody,
        summary="Move a request to another status",
        description="`validating` runs the validation again; `rejected` needs a note with "
        "the reasons; `approved` is reached only by approvals.",
        responses=WORKFLOW_RESPONSES,
    )
    def post(self, request: Request, reference: str) -> Response:
        body = _validated(TransitionBody, request.data)
        return _workflow_answer(lambda: workflow.transition(
            actor_of(request), reference, body["to"], body["note"]))


class LegalRequestApprove(APIView):
    @extend_schema(
        tags=[TAG], operation_id="legal_requests_approve", request=NoteBody,
        summary="Approve a request (custodian and counsel: two different people)",
        responses=WORKFLOW_RESPONSES,
    )
    def post(self, request: Request, reference: str) -> Response:
        body = _validated(NoteBody, request.data)
        return _workflow_answer(lambda: workflow.approve(
            actor_of(request), reference, body["note"]))


class LegalRequestNarrow(APIView):
    @extend_schema(
        tags=[TAG], operation_id="legal_requests_narrow", request=NarrowBody,
        summary="Answer only some of the categories asked (partial compliance)",
        responses=WORKFLOW_RESPONSES,
    )
    def post(self, request: Request, reference: str) -> Response:
        body = _validated(NarrowBody, request.data)
        return _workflow_answer(lambda: workflow.narrow(
            actor_of(request), reference, body["categories"], body["note"]))


class LegalRequestWithdraw(APIView):
    @extend_schema(
        tags=[TAG], operation_id="legal_requests_withdraw", request=NoteBody,
        summary="Record that the requester withdrew the request",
        responses=WORKFLOW_RESPONSES,
    )
    def post(self, request: Request, reference: str) -> Response:
        body = _validated(NoteBody, request.data)
        return _workflow_answer(lambda: workflow.withdraw(
            actor_of(request), reference, body["note"]))
