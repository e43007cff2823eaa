"""Request validation and response shapes of the attribution endpoints.

The response shapes document what `connectivity.answers.answer_one` returns (the CLI's
`--json` output, key for key); the views pass the service's dictionaries through unchanged,
so nothing here can widen what a purpose may see. Subscriber fields the purpose does not
cover are `null` in the answer, exactly as in the CLI.

The instant is taken as text, not as a DRF date-time: besides an ISO-8601 offset it may name
an IANA zone (`2017-03-29 14:05:03 America/Los_Angeles`), and it must be read by the same
function the CLI and the web page use (`connectivity.question`), so that all three refuse a
naive or non-existent local time with the same words.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from cpniguard.api.purpose import DeclaredPurpose
from cpniguard.connectivity.answers import DEFAULT_SKEW, MAX_BATCH_ROWS, MAX_SKEW, Ask
from cpniguard.connectivity.attribution import Holder, Status
from cpniguard.connectivity.question import Usage, parse_instant, parse_target

Shape = serializers.Serializer[dict[str, Any]]

# A batch is answered in one request and one transaction; past this, split the file. A full
# batch is about 8 MB of JSON in and 110 MB out, and takes about 30 s on two cores.

ADDRESS_HELP = ("192.0.2.10, 192.0.2.10:443, 2001:db8::1 or [2001:db8::1]:443; a shared "
                "CGNAT address needs its source port")
AT_HELP = ("The instant, with a UTC offset (2017-03-29T14:05:03-07:00) or an IANA zone name "
           "('2017-03-29 14:05:03 America/Los_Angeles'). A time with neither is refused; the "
           "answer echoes the instant understood, in UTC.")


def target_of(address: str, port: int | None) -> str:
    """`address` plus a separate port, written the way `parse_target` reads it (and the way
    the CLI's batch reader joins its `address` and `port` columns)."""
    text = address.strip()
    if port is None:
        return text
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _usage_checked(check: Any, value: str) -> str:
    try:
        check(value)
    except Usage as error:
        raise serializers.ValidationError(str(error)) from None
    return value


# ---------------------------------------------------------------- requests
class AttributionQuestion(DeclaredPurpose):
    """One question: an address (and port) at an instant, for a declared purpose."""

    address = serializers.CharField(max_length=64, help_text=ADDRESS_HELP)
    port = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=65535,
        help_text="The source port, if not already written into `address`.")
    at = serializers.CharField(max_length=80, help_text=AT_HELP)
    skew_seconds = serializers.FloatField(
        required=False, default=DEFAULT_SKEW,
        help_text=f"Clock tolerance around the instant, 0 to {MAX_SKEW:g} seconds.")

    def validate_at(self, value: str) -> str:
        return _usage_checked(parse_instant, value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        target = target_of(attrs["address"], attrs.get("port"))
        try:
            parse_target(target)
        except Usage as error:
            raise serializers.ValidationError({"address": [str(error)]}) from None
        attrs["target"] = target
        return attrs


class AttributionBatchRow(Shape):
    id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200,
                               help_text="Your own row id, echoed back as `label`.")
    address = serializers.CharField(max_length=64, help_text=ADDRESS_HELP)
    port = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                    max_value=65535)
    at = serializers.CharField(max_length=80, help_text=AT_HELP)


@extend_schema_field(AttributionBatchRow(many=True))
class BatchRows(serializers.Field[list[Ask], Any, Any, Any]):
    """The rows, turned into questions without a serializer per row.

    A nested serializer took 5.0 s for 100,000 rows, this 0.8 s (measured on two cores); the
    shape is checked here and the content (address, port, instant) by the service, which
    names every bad row at once, as the CLI does.
    """

    default_error_messages = {
        "not_a_list": "rows must be a list of objects",
        "empty": "the batch has no rows",
        "too_many": "at most {limit:,} rows per batch (got {count:,}); split the file",
        "bad_row": "row {number}: {problem}",
    }

    def to_internal_value(self, data: Any) -> list[Ask]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > MAX_BATCH_ROWS:
            self.fail("too_many", limit=MAX_BATCH_ROWS, count=len(data))
        return [self._ask(number, row) for number, row in enumerate(data, start=1)]

    def _ask(self, number: int, row: Any) -> Ask:
        if not isinstance(row, dict):
            self.fail("bad_row", number=number, problem="not an object")
        texts: dict[str, str] = {}
        for key in ("id", "address", "at"):
            value = row.get(key, "")
            if not isinstance(value, str | int) or isinstance(value, bool):
                self.fail("bad_row", number=number, problem=f"{key} must be text")
            texts[key] = str(value)
        port = row.get("port")
        if port in (None, ""):
            port = None
        elif isinstance(port, bool) or not isinstance(port, int | str) \
                or not str(port).isdigit():
            self.fail("bad_row", number=number, problem=f"bad port {port!r}")
        return Ask(target_of(texts["address"], None if port is None else int(port)),
                   texts["at"], texts["id"].strip())

    def to_representation(self, value: Any) -> Any:
        raise NotImplementedError("rows are only ever read")


class AttributionBatch(DeclaredPurpose):
    """Many questions under one purpose and reference, answered and audited together."""

    skew_seconds = serializers.FloatField(
        required=False, default=DEFAULT_SKEW,
        help_text=f"Clock tolerance around each instant, 0 to {MAX_SKEW:g} seconds.")
    rows = BatchRows(help_text=f"The questions, at most {MAX_BATCH_ROWS:,}.")


# ---------------------------------------------------------------- responses
HolderShape = inline_serializer("AttributionHolder", fields={
    name: serializers.CharField(required=False) for name in Holder.__slots__
})


class AttributionInterval(Shape):
    start = serializers.DateTimeField(help_text="When the holding began (UTC).")
    end = serializers.DateTimeField(
        allow_null=True, help_text="When a record ended it (UTC); null if none did.")
    last_seen = serializers.DateTimeField(
        allow_null=True, help_text="The last record proving the holding alive (UTC).")
    flags = serializers.ListField(
        child=serializers.CharField(),
        help_text="Doubts recorded at ingest, e.g. ambiguous-local-time, overlap.")


class AttributionEvidence(Shape):
    file = serializers.CharField(help_text="The log file the interval was built from.")
    line = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="SHA-256 of that line as read.")


class LinkedSubscriber(Shape):
    id = serializers.IntegerField()
    account_number = serializers.CharField(
        allow_null=True, help_text="null when the declared purpose does not cover accounts.")
    name = serializers.CharField(
        allow_null=True, help_text="null when the declared purpose does not cover names.")
    service_town = serializers.CharField(
        allow_null=True,
        help_text="null when the purpose does not cover service addresses (or none is on file).")


class AttributionLink(Shape):
    subscriber = LinkedSubscriber(allow_null=True)
    kind = serializers.CharField(help_text="username, mac, client_id, ..., static_ip")
    link_id = serializers.IntegerField()
    origin = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)


def _candidate_fields(**more: Any) -> dict[str, Any]:
    # A dict, not a class: "source" is also a Field attribute and cannot be declared.
    return {
        "holder": HolderShape,
        "address": serializers.CharField(help_text="The stored network: /32, /128 or a prefix."),
        "via_prefix": serializers.CharField(allow_null=True),
        "source": serializers.CharField(help_text="radius, dhcp, cgnat, ..."),
        "ports": serializers.ListField(child=serializers.IntegerField(), allow_null=True,
                                       help_text="For a CGNAT port block: [first, last]."),
        "session_id": serializers.CharField(),
        "interval": AttributionInterval(),
        "evidence": AttributionEvidence(many=True),
        "stored": serializers.ListField(child=serializers.CharField(),
                                        help_text="source/day/part#row of each stored row."),
        **more,
    }


AttributionCandidate = inline_serializer("AttributionCandidate", many=True, fields=(
    _candidate_fields(subscribers=AttributionLink(
        many=True, help_text="Subscribers this holder's identities link to at the instant."))))
# The CGNAT port-block row that led from the public address to the inside one.
AttributionTranslation = inline_serializer("AttributionTranslation", allow_null=True,
                                           fields=_candidate_fields())


def _answer_fields() -> dict[str, Any]:
    # Built once for the single answer and once more, with `label`, for batch rows.
    return {
        "address": serializers.CharField(),
        "port": serializers.IntegerField(allow_null=True),
        "at": serializers.DateTimeField(help_text="The instant understood, in UTC."),
        "skew_seconds": serializers.FloatField(),
        "status": serializers.ChoiceField(
            choices=[(str(status), str(status)) for status in Status],
            help_text="match: one proven holder; ambiguous: see candidates and reason; "
            "no_match; port_required: a shared CGNAT address asked without a port (nobody "
            "is named)."),
        "reason": serializers.CharField(),
        "candidates": AttributionCandidate,
        "translation": AttributionTranslation,
        "inside_address": serializers.CharField(allow_null=True),
        "evidence_chain": AttributionEvidence(many=True),
        "static_assignments": AttributionLink(many=True),
        "subscriber": LinkedSubscriber(
            allow_null=True, help_text="The one subscriber named, for a match; else null."),
    }


AttributionAnswer = inline_serializer("AttributionAnswer", fields=_answer_fields())
BatchResults = inline_serializer("AttributionBatchResults", fields={
    # inline_serializer, because "label" is also a Field attribute and cannot be declared.
    "results": inline_serializer("AttributionBatchAnswer", many=True, fields={
        **_answer_fields(),
        "label": serializers.CharField(help_text="The row's `id`, echoed back."),
    }),
})
