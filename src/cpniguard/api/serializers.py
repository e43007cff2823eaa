"""Request validation and response shapes of the customer-record endpoints.

The response shapes document what `subscribers.records.load_record` returns: every category is
present as a key, and `null` when the declared purpose does not need it (it is then also named
in `masked`). They describe the data for the OpenAPI schema; the views pass the service's
dictionaries through unchanged, so nothing here can widen what a purpose may see.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from cpniguard.api.purpose import DeclaredPurpose
from cpniguard.subscribers.models import Interaction

Shape = serializers.Serializer[dict[str, Any]]


# ---------------------------------------------------------------- requests
class SearchQuery(DeclaredPurpose):
    q = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200,
        help_text="Account number, last or business name, phone, email or street; only the "
        "categories the purpose may see are searched.",
    )


class RecordQuery(DeclaredPurpose):
    pass


class NewInteraction(DeclaredPurpose):
    channel = serializers.ChoiceField(choices=Interaction.Channel.choices)
    summary = serializers.CharField(max_length=4000, help_text="What happened, in a sentence.")


# ---------------------------------------------------------------- responses
class SearchRow(Shape):
    id = serializers.IntegerField()
    account_number = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    service_town = serializers.CharField(allow_null=True)


class SearchResults(Shape):
    results = SearchRow(many=True)


class AccountSection(Shape):
    account_number = serializers.CharField()
    status = serializers.CharField()
    kind = serializers.CharField()
    service_started = serializers.DateField()


class NameSection(Shape):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    business_name = serializers.CharField()


class AddressSection(Shape):
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postal_code = serializers.CharField()


# inline_serializer, because "label" is also a Field attribute and cannot be declared.
PhoneItems = inline_serializer("PhoneItem", many=True, allow_null=True, fields={
    "number": serializers.CharField(),
    "label": serializers.CharField(),
    "primary": serializers.BooleanField(),
})


class EmailItem(Shape):
    address = serializers.CharField()
    primary = serializers.BooleanField()


class BillingInfoSection(Shape):
    method = serializers.CharField()
    processor = serializers.CharField()
    processor_token = serializers.CharField()
    last4 = serializers.CharField()
    balance_cents = serializers.IntegerField()
    autopay = serializers.BooleanField()


class ServiceItem(Shape):
    kind = serializers.CharField()
    plan = serializers.CharField()
    down_mbps = serializers.IntegerField(allow_null=True)
    up_mbps = serializers.IntegerField(allow_null=True)
    voip_number = serializers.CharField()
    static_ip = serializers.IPAddressField(allow_null=True)
    started = serializers.DateField()
    ended = serializers.DateField(allow_null=True)


class EquipmentItem(Shape):
    kind = serializers.CharField()
    model = serializers.CharField()
    serial = serializers.CharField()
    mac = serializers.CharField()


class ServicesSection(Shape):
    services = ServiceItem(many=True)
    equipment = EquipmentItem(many=True)


class InteractionItem(Shape):
    id = serializers.IntegerField()
    ticket = serializers.CharField()
    channel = serializers.CharField()
    summary = serializers.CharField()
    staff = serializers.CharField()
    created = serializers.DateTimeField()


class RecordDecision(Shape):
    rule = serializers.CharField(help_text="The policy rule that allowed this read.")
    purpose = serializers.CharField()
    reference = serializers.CharField()


class SubscriberRecord(Shape):
    id = serializers.IntegerField()
    account = AccountSection(allow_null=True)
    name = NameSection(allow_null=True)
    billing_address = AddressSection(allow_null=True)
    service_address = AddressSection(allow_null=True)
    phone = PhoneItems
    email = EmailItem(many=True, allow_null=True)
    billing_info = BillingInfoSection(allow_null=True)
    services = ServicesSection(allow_null=True)
    interactions = InteractionItem(many=True, allow_null=True)
    masked = serializers.ListField(
        child=serializers.CharField(),
        help_text="Categories withheld because the declared purpose does not need them.",
    )
    decision = RecordDecision()


class InteractionCreated(Shape):
    id = serializers.IntegerField()
    subscriber = serializers.IntegerField()
    ticket = serializers.CharField()
    channel = serializers.CharField()
    summary = serializers.CharField()
    staff = serializers.CharField()
    created = serializers.DateTimeField()


# Built with inline_serializer: "errors" is also a Serializer attribute and cannot be declared.
ErrorShape = inline_serializer("Error", fields={
    "detail": serializers.CharField(help_text="Why the request was not served."),
    "rule": serializers.CharField(
        required=False, help_text="For a policy refusal: the rule that refused."
    ),
    "allowed": serializers.BooleanField(required=False),
    "errors": serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="For invalid input: the messages for each field.",
    ),
})
REFUSED = OpenApiResponse(
    ErrorShape, description="Refused by the policy (audited); `rule` names the rule."
)
INVALID = OpenApiResponse(ErrorShape, description="Invalid request, for example no purpose.")
UNAUTHENTICATED = OpenApiResponse(
    ErrorShape, description="No token, or an unknown, expired or revoked one."
)
