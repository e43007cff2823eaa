"""Customer notices of legal process: one per (request, subscriber) the request reaches.

A notice is opened when the desk knows whom a request affects: for a kind that notifies
before production, when the custodian identifies the subscribers of an approved request
(`notices.identify`); for the others, when production seals the package. Its stored state is
`queued` (held by a non-disclosure order until `held_until`; no date: held indefinitely),
`due`, `sent` or `not_required`; a queued notice whose order has expired reads as due (see
`notices.state_of`), so nothing has to run on the day the order ends.

`NoticeIdentification` records that the subscribers were looked for, and what each target
answered, so "nobody identified" is known rather than assumed.
"""

from __future__ import annotations

from django.db import models

from cpniguard.legal.models import LegalRequest


class NoticeState(models.TextChoices):
    QUEUED = "queued", "Queued (held by a non-disclosure order)"
    DUE = "due", "Due"
    SENT = "sent", "Sent"
    NOT_REQUIRED = "not_required", "Not required"


class NoticeIdentification(models.Model):
    request = models.OneToOneField(LegalRequest, on_delete=models.PROTECT,
                                   related_name="notice_identification")
    timing = models.CharField(max_length=32)      # the kind's customer_notice at the time
    answers = models.JSONField(default=list)       # per target: number, status, note
    identified_by = models.CharField(max_length=150)
    identified = models.DateTimeField()

    def __str__(self) -> str:
        return f"notice identification of {self.request_id}"


class CustomerNotice(models.Model):
    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT,
                                related_name="notices")
    # Our record number, as in the package; not a foreign key, so that retention of a closed
    # account is not blocked by the notice that once named it.
    subscriber = models.PositiveIntegerField()
    targets = models.JSONField(default=list)       # the request's target numbers naming them
    timing = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=NoticeState.choices)
    reason = models.CharField(max_length=500, blank=True)  # why held, or why not required
    held_until = models.DateField(null=True, blank=True)   # last day the order is in force
    created = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    sent = models.DateTimeField(null=True, blank=True)
    sent_by = models.CharField(max_length=150, blank=True)
    how = models.CharField(max_length=100, blank=True)     # "letter (mailed by the custodian)"
    letter_name = models.CharField(max_length=255, blank=True)
    letter_sha256 = models.CharField(max_length=64, blank=True)
    object_by = models.DateField(null=True, blank=True)    # before production: last day

    class Meta:
        ordering = ["request", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "subscriber"],
                                               name="legal_notice_once_per_subscriber")]

    def __str__(self) -> str:
        # No subscriber here: the string form ends up in logs and the admin.
        return f"notice {self.pk} of {self.request_id} ({self.state})"
