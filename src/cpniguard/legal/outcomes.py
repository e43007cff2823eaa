"""What came of a legal request: its production (the sealed package and its delivery), its
preservation (the legal holds a 2703(f) letter placed), and the disclosure log.

The disclosure log (`Disclosure`) is append-only: every answer is one row, written once, and
the database refuses to change it, and to delete it before its `keep_until` (the policy's
`[retention] disclosure_log` days after the answer; 47 CFR 64.2009(c) asks for one year at
least). Rejections and withdrawals are logged too, with nothing disclosed, so the
transparency report counts every outcome from this one table.
"""

from __future__ import annotations

from django.db import models

from cpniguard.legal.models import LegalRequest


class Outcome(models.TextChoices):
    COMPLIED_FULLY = "complied_fully", "Complied fully"
    COMPLIED_PARTIALLY = "complied_partially", "Complied in part"
    NO_DATA = "no_data", "No data"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Production(models.Model):
    """The one package produced for a request: where it is, what it holds, where it went."""

    request = models.OneToOneField(LegalRequest, on_delete=models.PROTECT,
                                   related_name="production")
    produced_by = models.CharField(max_length=150)
    started = models.DateTimeField()
    sealed = models.DateTimeField(null=True, blank=True)
    directory = models.CharField(max_length=1000, blank=True)
    files = models.JSONField(default=dict)        # file name -> SHA-256
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    rows = models.PositiveIntegerField(default=0)
    answers = models.JSONField(default=list)      # per target: status, note
    subscribers = models.JSONField(default=list)  # our record numbers in the package
    categories = models.JSONField(default=list)   # the categories in scope
    delivered_by = models.CharField(max_length=150, blank=True)
    delivered = models.DateTimeField(null=True, blank=True)
    delivered_to = models.CharField(max_length=1000, blank=True)
    delivered_how = models.CharField(max_length=1000, blank=True)

    def __str__(self) -> str:
        return f"production of {self.request_id}"


class Preservation(models.Model):
    """The legal holds a preservation letter placed, and how often they were renewed."""

    request = models.OneToOneField(LegalRequest, on_delete=models.PROTECT,
                                   related_name="preservation")
    holds = models.JSONField(default=list)        # LegalHold ids
    unheld = models.JSONField(default=list)       # per target: why nothing could be held
    placed_by = models.CharField(max_length=150)
    placed = models.DateTimeField()
    expires = models.DateTimeField()
    renewals = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"preservation of {self.request_id}"


class Disclosure(models.Model):
    reference = models.CharField(max_length=16, db_index=True)
    kind = models.CharField(max_length=64)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    targets = models.JSONField(default=list)      # as the request named them
    categories = models.JSONField(default=list)   # disclosed
    rows = models.PositiveIntegerField(default=0)
    subscribers = models.JSONField(default=list)  # our record numbers disclosed
    package_sha256 = models.CharField(max_length=64, blank=True)  # the manifest's
    delivered_to = models.CharField(max_length=1000, blank=True)
    delivered_how = models.CharField(max_length=1000, blank=True)
    when = models.DateTimeField(db_index=True)
    recorded_by = models.CharField(max_length=150)
    keep_until = models.DateTimeField()

    class Meta:
        ordering = ["when", "id"]
        constraints = [models.UniqueConstraint(fields=["reference"],
                                               name="legal_disclosure_one_answer")]

    def __str__(self) -> str:
        return f"disclosure log: {self.reference} {self.outcome}"
