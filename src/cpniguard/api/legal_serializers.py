"""Request and response shapes of the legal desk endpoints.

The request document itself is taken as free JSON: whatever is wrong with its fields becomes
a finding on the stored request (the same findings the CLI import gives), not a 400. Only the
envelope is checked here: a document object, attachments as name + base64 content.

The response shapes document what `legal.desk.present` and `legal.desk.list_requests` return
(the CLI's `--json` output, key for key); the views pass them through unchanged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from cpniguard.legal.attachments import MAX_BYTES
from cpniguard.legal.findings import Severity
from cpniguard.legal.intake import Incoming
from cpniguard.legal.status import Status

Shape = serializers.Serializer[dict[str, Any]]
STATUSES = [(str(s), str(s)) for s in Status]
STATUS_HELP = "One of: " + ", ".join(str(s) for s in Status) + "."


def status_field(**options: Any) -> serializers.CharField:
    # Text rather than a choice field: a second enum named "status" (beside attribution's)
    # would rename both in the OpenAPI schema. The values are checked in `validate_status`.
    return serializers.CharField(max_length=16, help_text=STATUS_HELP, **options)


# ---------------------------------------------------------------- requests
class AttachmentUpload(Shape):
    name = serializers.CharField(max_length=255, help_text="The file's name as received.")
    content_type = serializers.CharField(max_length=100, required=False, default="")
    content_base64 = serializers.CharField(help_text="The file's bytes, base64-encoded.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            data = base64.b64decode(attrs["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise serializers.ValidationError(
                {"content_base64": ["not valid base64"]}) from None
        if len(data) > MAX_BYTES:
            raise serializers.ValidationError({"content_base64": ["file too large"]})
        attrs["incoming"] = Incoming(attrs["name"], data, attrs["content_type"])
        return attrs


class LegalIntake(Shape):
    document = serializers.JSONField(
        help_text="The request, in the format of docs/legal-desk.md "
        "(format cpniguard-legal-request/1). Malformed fields become findings.")
    attachments = AttachmentUpload(many=True, required=False, default=list,
                                   help_text="Files that came with it; kept by SHA-256.")

    def validate_document(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object (the request document)")
        return value


class ListQuery(Shape):
    status = status_field(required=False)

    def validate_status(self, value: str) -> str:
        if value not in Status.__members__.values():
            raise serializers.ValidationError(STATUS_HELP)
        return value


class TransitionBody(Shape):
    to = serializers.ChoiceField(choices=STATUSES)
    note = serializers.CharField(required=False, default="", allow_blank=True,
                                 max_length=4000, help_text="Why; required for a rejection.")


class NoteBody(Shape):
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=4000)


class NarrowBody(NoteBody):
    categories = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False,
        help_text="The categories to answer: a subset of those the request asks for.")


# ---------------------------------------------------------------- responses
def _row_fields() -> dict[str, Any]:
    # A mapping, not a class: "errors" is also a Serializer attribute and cannot be declared.
    return {
        "reference": serializers.CharField(help_text="LR-YYYY-NNNN"),
        "kind": serializers.CharField(),
        "kind_label": serializers.CharField(),
        "status": status_field(),
        "received": serializers.DateTimeField(),
        "response_due": serializers.DateField(allow_null=True),
        "days_left": serializers.IntegerField(allow_null=True),
        "overdue": serializers.BooleanField(
            help_text="Past due while something is still owed."),
        "errors": serializers.IntegerField(help_text="Open error findings."),
        "warnings": serializers.IntegerField(),
    }


RequestList = inline_serializer("LegalRequestList", fields={
    "results": inline_serializer("LegalRequestRow", many=True, fields=_row_fields()),
})


class FindingShape(Shape):
    severity = serializers.ChoiceField(choices=[(str(s), str(s)) for s in Severity])
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField()
    target = serializers.IntegerField(allow_null=True, help_text="0-based target position.")
    items = serializers.ListField(child=serializers.CharField())


class TargetShape(Shape):
    kind = serializers.CharField()
    given = serializers.CharField(help_text="As written in the request.")
    at_given = serializers.CharField(help_text="The instant as written, if any.")
    value = serializers.CharField(help_text="As understood; empty if unreadable.")
    address = serializers.CharField(allow_null=True)
    port = serializers.IntegerField(allow_null=True)
    instant_utc = serializers.DateTimeField(allow_null=True)
    readable = serializers.BooleanField()


class AttachmentShape(Shape):
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    sha256 = serializers.CharField()
    added_by = serializers.CharField()
    added = serializers.DateTimeField()


class ApprovalShape(Shape):
    who = serializers.CharField()
    role = serializers.CharField()
    when = serializers.DateTimeField()


class TransitionShape(Shape):
    # "from" is a Python keyword: declared through the fields mapping below.
    to = serializers.CharField()
    who = serializers.CharField()
    role = serializers.CharField()
    when = serializers.DateTimeField()
    note = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(allow_null=True)
        return fields


class AgentShape(Shape):
    name = serializers.CharField()
    contact = serializers.CharField()
    verified_by = serializers.CharField()


class RangeShape(Shape):
    # "from" again: see TransitionShape.
    to = serializers.DateTimeField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(allow_null=True)
        return fields


class NondisclosureShape(Shape):
    ordered = serializers.BooleanField()
    until = serializers.DateField(allow_null=True)


class RequestDetail(Shape):
    reference = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(allow_null=True)
    statute = serializers.CharField(allow_null=True)
    status = status_field()
    response_due = serializers.DateField(allow_null=True)
    days_left = serializers.IntegerField(allow_null=True)
    overdue = serializers.BooleanField()
    issuing_authority = serializers.CharField()
    court = serializers.CharField()
    case_number = serializers.CharField()
    agent = AgentShape()
    addressed_to = serializers.CharField()
    signed = serializers.BooleanField(allow_null=True)
    issued = serializers.DateField(allow_null=True)
    served_on = serializers.DateField(allow_null=True)
    served_at = serializers.DateTimeField(allow_null=True)
    categories = serializers.ListField(child=serializers.CharField(),
                                       help_text="The categories asked for.")
    narrowed_to = serializers.ListField(child=serializers.CharField(), allow_null=True)
    answer_scope = serializers.ListField(
        child=serializers.CharField(),
        help_text="Asked, within what the kind may compel, and within any narrowing.")
    date_range = RangeShape()
    nondisclosure = NondisclosureShape()
    documents = serializers.DictField(child=serializers.CharField())
    notes = serializers.CharField()
    created_by = serializers.CharField()
    received = serializers.DateTimeField()
    validated = serializers.DateTimeField(allow_null=True)
    targets = TargetShape(many=True)
    attachments = AttachmentShape(many=True)
    findings = FindingShape(many=True)
    approvals = ApprovalShape(many=True)
    transitions = TransitionShape(many=True)
