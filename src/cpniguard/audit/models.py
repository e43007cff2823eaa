"""Audit entries, the chain head and signed checkpoints.

The table refuses UPDATE and DELETE at the database level (triggers in the migrations), so even
code with a bug cannot rewrite history; someone who drops the triggers is caught by the chain.
"""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    ALLOWED = "allowed"
    REFUSED = "refused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    ERROR = "error"


class AuditEntry(models.Model):
    # Every index is paid for on each audited read, so only those the viewer and the sign-in
    # throttle search by are kept: seq, time, actor, subject, and (event, subject, time).
    seq = models.BigIntegerField(unique=True)
    time = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150, db_index=True)
    role = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=16)  # web, api, cli, system
    event = models.CharField(max_length=64)  # scope:resource:action
    purpose = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=1000, blank=True, db_index=True)
    categories = models.JSONField(default=list)
    fields = models.JSONField(default=list)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    rule = models.CharField(max_length=128, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    policy_version = models.CharField(max_length=32, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["event", "subject", "time"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event} {self.outcome} by {self.actor}"


class ChainHead(models.Model):
    """One row: the last sequence number and hash. Writers lock it to serialize the chain."""

    seq = models.BigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class Checkpoint(models.Model):
    """A signed Merkle tree head (RFC 9162) over the first `tree_size` entries."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    time = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    # {"hashes": hex roots of the perfect subtrees making up this tree, "entry_hash": of entry
    # tree_size}: lets the next checkpoint extend this one. Not signed: it is used only after
    # it folds back to root_hash and entry tree_size still has that hash.
    frontier = models.TextField(null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"
