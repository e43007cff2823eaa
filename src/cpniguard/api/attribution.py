"""Attribution endpoints: who held an address (and port) at an instant, one or many at once.

Thin on purpose, like the CLI command: validate the request, call
`connectivity.answers.answer_one` / `answer_batch`, return what they return. The service
asks the policy and writes the audit entry (one per request, a batch included); a refusal
surfaces as `AccessRefused` and `api.errors` turns it into a 403 naming the rule. Input the
service cannot read (`Usage`: a naive time, a bad address, skew out of range) is a 400 with
the service's own message, and nothing is audited, exactly as the CLI exits 2.

Both are POST although they change nothing: the question (an address and an instant, often
from a legal request) belongs in a body, not in URLs that proxies and access logs keep.
"""

from __future__ import annotations

import json
from typing import IO, Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.api.attribution_serializers import (
    AttributionAnswer,
    AttributionBatch,
    AttributionQuestion,
    BatchResults,
)
from cpniguard.api.purpose import actor_of, validated
from cpniguard.api.serializers import INVALID, REFUSED, UNAUTHENTICATED
from cpniguard.connectivity.answers import CATEGORIES, MAX_BATCH_ROWS, Ask, answer_batch, answer_one
from cpniguard.connectivity.question import Usage
from cpniguard.policy import Action

TAG = "attribution"
# A full batch of 100,000 rows is about 9 MB of JSON; Django's default body limit (2.5 MB)
# is kept for every other request.
MAX_BATCH_BYTES = 32 * 1024 * 1024
ANSWERS = ("Answers `match` only when one holder is proven at the instant; otherwise "
           "`ambiguous` (every candidate, with the reason), `no_match`, or `port_required` "
           "for a shared CGNAT address asked without a port, which names nobody. Each "
           "candidate carries its interval and evidence (file, line, SHA-256 of the line); "
           "the linked subscriber's account, name and town are null where the declared "
           "purpose does not cover them.")


class AttributionAsk(APIView):
    @extend_schema(
        tags=[TAG], operation_id="attribution_ask", request=AttributionQuestion,
        summary="Who held an IP address (and port) at an instant",
        description=f"{ANSWERS} Audited, answered or refused; a request the service cannot "
        "read (no offset or zone on the instant, a bad address) is a 400 and is not.",
        responses={200: AttributionAnswer, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
        examples=[OpenApiExample(
            "A CGNAT address with its port, for a legal request", request_only=True,
            value={"address": "203.0.113.7:40001", "at": "2026-11-28T14:05:03-06:00",
                   "purpose": "legal_process", "reference": "LR-2026-0042"},
        )],
    )
    def post(self, request: Request) -> Response:
        body = validated(AttributionQuestion, request.data, request, Action.READ, CATEGORIES)
        try:
            result = answer_one(actor_of(request), Ask(body["target"], body["at"]),
                                purpose=body["purpose"], reference=body["reference"] or None,
                                skew_seconds=body["skew_seconds"])
        except Usage as error:
            raise ValidationError(str(error)) from None
        return Response(result)


class BatchBodyParser(BaseParser):
    """JSON, with the batch's own size limit in place of DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF's JSONParser reads `request.body`, whose global 2.5 MB limit would turn a full batch
    into Django's HTML "Bad Request" page; this parser reads the stream itself, up to the
    limit, and answers anything larger with a JSON 400 that says what to do.
    """

    media_type = "application/json"

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None,
              parser_context: Any = None) -> Any:
        raw = stream.read(MAX_BATCH_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BATCH_BYTES:
            raise ParseError(f"the batch is larger than {MAX_BATCH_BYTES // 2**20} MB of "
                             f"JSON; split it (at most {MAX_BATCH_ROWS:,} rows)")
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, ValueError) as error:
            raise ParseError(f"JSON parse error - {error}") from None


class AttributionBatchAsk(APIView):
    parser_classes = [BatchBodyParser]

    @extend_schema(
        tags=[TAG], operation_id="attribution_batch", request=AttributionBatch,
        summary="Answer many attribution questions at once",
        description=f"{ANSWERS} Every row is read first: one bad row refuses the whole batch, "
        f"naming each bad row. At most {MAX_BATCH_ROWS:,} rows. One audit entry covers the "
        "batch, with the row count, the status counts and SHA-256 digests of the questions "
        "and the answers. Results come back in the order of the rows, `label` echoing `id`.",
        responses={200: BatchResults, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
        examples=[OpenApiExample(
            "Two rows", request_only=True,
            value={"purpose": "troubleshooting", "reference": "TKT-104233", "rows": [
                {"id": "r1", "address": "192.0.2.10", "at": "2026-11-28T20:05:03Z"},
                {"id": "r2", "address": "203.0.113.7", "port": 40001,
                 "at": "2026-11-28 14:05:03 America/Chicago"}]},
        )],
    )
    def post(self, request: Request) -> Response:
        body = validated(AttributionBatch, request.data, request, Action.READ, CATEGORIES)
        try:
            results = answer_batch(actor_of(request), body["rows"], purpose=body["purpose"],
                                   reference=body["reference"] or None,
                                   skew_seconds=body["skew_seconds"])
        except Usage as error:
            raise ValidationError(str(error)) from None
        return Response({"results": results})
