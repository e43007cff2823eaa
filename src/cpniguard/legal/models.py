"""Legal requests, their targets, attachments, findings, approvals and status history.

A request keeps the document exactly as received (`document`) beside what the desk understood
from it (the columns), so a finding can always be traced to what the requester wrote.
Instants are stored in UTC; calendar days (issued, due) as dates. Transitions and approvals
are only ever added, never changed: they are the request's history.
"""

from __future__ import annotations

from django.db import models

from cpniguard.legal.findings import Severity
from cpniguard.legal.status import Status

TEXT = 1000


class LegalRequest(models.Model):
    reference = models.CharField(max_length=16, unique=True)  # LR-YYYY-NNNN
    kind = models.CharField(max_length=64)  # a [legal_process.<kind>] of the policy, or not
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in Status],
                              default=Status.RECEIVED.value)
    document = models.JSONField()  # as received, never changed
    issuing_authority = models.CharField(max_length=TEXT, blank=True)
    court = models.CharField(max_length=TEXT, blank=True)
    case_number = models.CharField(max_length=TEXT, blank=True)
    agent_name = models.CharField(max_length=TEXT, blank=True)
    agent_contact = models.CharField(max_length=TEXT, blank=True)
    contact_verification = models.CharField(max_length=TEXT, blank=True)
    addressed_to = models.CharField(max_length=TEXT, blank=True)
    signed = models.BooleanField(null=True)
    issued = models.DateField(null=True, blank=True)
    served_on = models.DateField(null=True, blank=True)
    served_at = models.DateTimeField(null=True, blank=True)  # when given as an instant
    response_due = models.DateField(null=True, blank=True)
    categories = models.JSONField(default=list)  # as asked
    # The categories the answer is limited to after narrowing; null: not narrowed.
    scope = models.JSONField(null=True, blank=True)
    date_from = models.DateTimeField(null=True, blank=True)
    date_to = models.DateTimeField(null=True, blank=True)
    nondisclosure = models.BooleanField(default=False)
    nondisclosure_until = models.DateField(null=True, blank=True)
    documents = models.JSONField(default=dict)  # document kind -> attachment name or ""
    notes = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created = models.DateTimeField()
    validated = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "response_due"])]

    def __str__(self) -> str:
        # The reference only: the rest is the request's contents.
        return self.reference


class Target(models.Model):
    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT, related_name="targets")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16)
    given = models.CharField(max_length=TEXT)        # as written
    at_given = models.CharField(max_length=200, blank=True)
    value = models.CharField(max_length=TEXT, blank=True)  # as understood; "" if unreadable
    address = models.GenericIPAddressField(null=True, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    instant = models.DateTimeField(null=True, blank=True)  # UTC
    readable = models.BooleanField(default=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"],
                                               name="legal_target_position_once")]

    def __str__(self) -> str:
        return f"{self.request_id} target {self.position + 1}"


class Attachment(models.Model):
    """A file that came with a request; its bytes live once, by hash (see attachments.py)."""

    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT,
                                related_name="attachments")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, db_index=True)
    added_by = models.CharField(max_length=150)
    added = models.DateTimeField()

    class Meta:
        ordering = ["request", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "name"],
                                               name="legal_attachment_name_once")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class Finding(models.Model):
    """The findings of the latest validation run; earlier runs are in the audit trail."""

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE,
                                related_name="findings")
    severity = models.CharField(max_length=8, choices=[(s.value, s.value) for s in Severity])
    code = models.CharField(max_length=64)
    message = models.CharField(max_length=2000)
    field = models.CharField(max_length=64, blank=True)
    target = models.PositiveIntegerField(null=True, blank=True)
    items = models.JSONField(default=list)

    class Meta:
        ordering = ["request", "id"]

    def __str__(self) -> str:
        return f"{self.severity} {self.code}"


class Transition(models.Model):
    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT,
                                related_name="transitions")
    from_status = models.CharField(max_length=16, blank=True)  # "" for intake
    to_status = models.CharField(max_length=16)
    who = models.CharField(max_length=150)
    role = models.CharField(max_length=32, blank=True)
    when = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["request", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


class Approval(models.Model):
    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT,
                                related_name="approvals")
    who = models.CharField(max_length=150)  # the staff member, whatever the channel
    role = models.CharField(max_length=32)
    when = models.DateTimeField()

    class Meta:
        ordering = ["request", "id"]
        constraints = [
            # The database, too, refuses a second approval by one person or for one role.
            models.UniqueConstraint(fields=["request", "who"], name="legal_approval_once"),
            models.UniqueConstraint(fields=["request", "role"], name="legal_approval_role_once"),
        ]

    def __str__(self) -> str:
        return f"approval by {self.who} ({self.role})"


class ReferenceCounter(models.Model):
    """The last case number given out per year; locked while a new one is taken."""

    year = models.PositiveIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


# The outcome and notice models live in modules of their own; imported here so Django
# registers them.
from cpniguard.legal.notice_models import (  # noqa: E402
    CustomerNotice,
    NoticeIdentification,
    NoticeState,
)
from cpniguard.legal.outcomes import Disclosure, Outcome, Preservation, Production  # noqa: E402

__all__ = ["Approval", "Attachment", "CustomerNotice", "Disclosure", "Finding", "LegalRequest",
           "NoticeIdentification", "NoticeState", "Outcome", "Preservation", "Production",
           "ReferenceCounter", "Target", "Transition"]
