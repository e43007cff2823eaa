"""Legal holds, and the record of every purge.

Neither is ever deleted: a released or expired hold stays as the record of what was kept and
why; a purge record is what remains of the data it removed (counts and hold ids, never rows).
"""

from __future__ import annotations

from datetime import datetime

from django.db import models

from cpniguard.connectivity.models import IngestedFile
from cpniguard.retention.holds import HoldKind


class LegalHold(models.Model):
    kind = models.CharField(max_length=16, choices=[(k.value, k.value) for k in HoldKind])
    identifier = models.CharField(max_length=255)  # canonical: see holds.normalize_identifier
    starts = models.DateTimeField()                # inclusive, UTC
    ends = models.DateTimeField()                  # exclusive, UTC
    expires = models.DateTimeField()               # protects nothing from this instant on
    reference = models.CharField(max_length=64)    # the legal case, e.g. LR-2026-0042
    created_by = models.CharField(max_length=150)
    created = models.DateTimeField()
    renewed_by = models.CharField(max_length=150, blank=True)
    renewed = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)
    released = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends__gt=models.F("starts")),
                                   name="legal_hold_ends_after_start"),
        ]

    def __str__(self) -> str:
        # No identifier: it is customer data, and str() ends up in logs.
        return f"legal hold {self.pk} ({self.reference})"

    def in_force(self, at: datetime) -> bool:
        return self.released is None and self.expires > at

    def state(self, at: datetime) -> str:
        if self.released is not None:
            return "released"
        return "active" if self.expires > at else "expired"


class PurgeRecord(models.Model):
    class Kind(models.TextChoices):
        DAY = "day"    # the rows of one source on one UTC day
        FILE = "file"  # one ingested file's quarantined lines and open-session registry rows

    class Status(models.TextChoices):
        STARTED = "started"    # saved before the physical delete; a re-run finishes it
        COMPLETE = "complete"  # deleted, counted and audited

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    source = models.CharField(max_length=128)
    day = models.DateField(null=True, blank=True)
    # The file row stays (its hash makes a re-ingest of the same file a no-op); its purge
    # record says its quarantined lines are gone.
    file = models.ForeignKey(IngestedFile, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="purges")
    retention_days = models.IntegerField()
    cutoff = models.DateTimeField()
    rows_before = models.BigIntegerField(default=0)
    rows_removed = models.BigIntegerField(default=0)
    rows_kept = models.BigIntegerField(default=0)
    lines_removed = models.BigIntegerField(default=0)
    holds = models.JSONField(default=list)  # ids of the holds that kept rows
    actor = models.CharField(max_length=150)
    run = models.CharField(max_length=64)  # the actor's request id, shared by the run's entries
    started = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started", "id"]
        indexes = [models.Index(fields=["kind", "status"], name="purge_record_open")]
        constraints = [
            models.UniqueConstraint(fields=["file"], condition=models.Q(kind="file"),
                                    name="purge_record_file_once"),
        ]

    def __str__(self) -> str:
        where = f"{self.source}/{self.day}" if self.kind == self.Kind.DAY else self.source
        return f"purge {where} {self.status}"
