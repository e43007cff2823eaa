"""Customer records. Every field belongs to one data category of the policy (see catalog.py).

Billing information holds a payment method, a processor token and the last four digits only:
a full card or bank account number is refused by validation before it can be stored.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from cpniguard.subscribers.validators import validate_not_full_account_number

last_four = RegexValidator(r"^[0-9]{4}$", "the last four digits, and nothing more")
nanp_phone = RegexValidator(
    r"^\+1[2-9][0-9]{2}[2-9][0-9]{6}$", "a +1 NANP number, e.g. +18025550123"
)


class Subscriber(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"
        CLOSED = "closed"

    class Kind(models.TextChoices):
        RESIDENTIAL = "residential"
        BUSINESS = "business"

    account_number = models.CharField(max_length=16, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RESIDENTIAL)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, db_index=True)
    business_name = models.CharField(max_length=200, blank=True)
    service_started = models.DateField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account_number"]

    def __str__(self) -> str:
        # Deliberately no name: str() ends up in logs and error pages.
        return f"subscriber {self.account_number}"


class Address(models.Model):
    """A billing or a service address; the two are different categories and never merged."""

    class Kind(models.TextChoices):
        BILLING = "billing"
        SERVICE = "service"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)
    postal_code = models.CharField(
        max_length=10, validators=[RegexValidator(r"^[0-9]{5}(-[0-9]{4})?$", "a US ZIP code")]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "kind"], name="one_address_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} address of {self.subscriber_id}"


class Phone(models.Model):
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=16, validators=[nanp_phone], db_index=True)
    label = models.CharField(max_length=16, default="mobile")
    primary = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"phone of {self.subscriber_id}"


class Email(models.Model):
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField(db_index=True)
    primary = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"email of {self.subscriber_id}"


class BillingInfo(models.Model):
    class Method(models.TextChoices):
        CARD = "card"
        BANK = "bank"
        INVOICE = "invoice"

    subscriber = models.OneToOneField(
        Subscriber, on_delete=models.CASCADE, related_name="billing"
    )
    method = models.CharField(max_length=8, choices=Method.choices)
    processor = models.CharField(max_length=32, blank=True)
    processor_token = models.CharField(
        max_length=64, blank=True, validators=[validate_not_full_account_number]
    )
    last4 = models.CharField(max_length=4, blank=True, validators=[last_four])
    balance_cents = models.IntegerField(default=0)
    autopay = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"billing of {self.subscriber_id}"


class Service(models.Model):
    class Kind(models.TextChoices):
        BROADBAND = "broadband"
        VOIP = "voip"
        STATIC_IP = "static_ip"
        WEBMAIL = "webmail"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="services")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    plan = models.CharField(max_length=64)
    down_mbps = models.PositiveIntegerField(null=True, blank=True)
    up_mbps = models.PositiveIntegerField(null=True, blank=True)
    voip_number = models.CharField(max_length=16, blank=True, validators=[nanp_phone])
    static_ip = models.GenericIPAddressField(null=True, blank=True)
    started = models.DateField()
    ended = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} service of {self.subscriber_id}"


class Equipment(models.Model):
    class Kind(models.TextChoices):
        ROUTER = "router"
        ONT = "ont"
        MODEM = "modem"
        ATA = "ata"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="equipment")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    model = models.CharField(max_length=64)
    serial = models.CharField(max_length=64)
    mac = models.CharField(
        max_length=17,
        validators=[RegexValidator(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", "lower-case colon MAC")],
    )

    def __str__(self) -> str:
        return f"{self.kind} of {self.subscriber_id}"


class Interaction(models.Model):
    """A staff interaction: a ticket, a call note, a visit. Who and when are kept with it."""

    class Channel(models.TextChoices):
        PHONE = "phone"
        EMAIL = "email"
        CHAT = "chat"
        VISIT = "visit"
        FIELD = "field"
        NOTE = "note"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="interactions"
    )
    ticket = models.CharField(max_length=16, blank=True, db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    summary = models.TextField()
    staff = models.CharField(max_length=150)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"interaction {self.pk} of {self.subscriber_id}"
