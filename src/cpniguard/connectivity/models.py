"""What was ingested from which log file, and every line that could not be used.

The interval rows themselves live in the log store (connectivity.store); the database only
keeps the bookkeeping that makes an ingest idempotent and crash-safe, and the quarantine an
operator has to review.
"""

from __future__ import annotations

from django.db import models


class IngestedFile(models.Model):
    class Status(models.TextChoices):
        STARTED = "started"    # store writes may exist; re-running drops them first
        COMPLETE = "complete"  # store write returned and the quarantine was committed

    path = models.CharField(max_length=4096)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=32)
    source_zone = models.CharField(max_length=64)
    size = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    lines = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)
    intervals = models.BigIntegerField(default=0)
    quarantined = models.BigIntegerField(default=0)
    # Where the rows went, saved BEFORE the store write: the store root and the UTC days the
    # rows touch. A crashed attempt's partitions are found there (their rows carry this file's
    # hash as evidence), so they can be dropped exactly even if the crash hit mid-write.
    store = models.CharField(max_length=4096, blank=True)
    days = models.JSONField(default=list)
    # The manifests the completed write produced, relative to the store root: for operators.
    partitions = models.JSONField(default=list)
    started = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sha256", "format"], name="ingested_file_once"),
        ]
        ordering = ["started", "id"]

    def __str__(self) -> str:
        return f"{self.format} {self.sha256[:12]} {self.status}"


class QuarantinedLine(models.Model):
    TEXT_LIMIT = 2000  # a runaway line (a binary file fed by mistake) must not bloat the DB

    file = models.ForeignKey(IngestedFile, on_delete=models.CASCADE, related_name="quarantine")
    line = models.BigIntegerField()
    reason = models.CharField(max_length=500)
    text = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["file_id", "line", "id"]

    def __str__(self) -> str:
        return f"{self.file.path}:{self.line}: {self.reason}"


class IdentityLink(models.Model):
    """A network identity that belonged to one subscriber over a stated interval.

    Logs name identities (a RADIUS username, a router MAC, a DHCP client-id...), never people;
    this table is the only bridge from one to the other, and it is dated on both ends because
    identities are reassigned: a router returned in March and shipped to a new household in
    April must not point at the old one for April's traffic.
    """

    class Kind(models.TextChoices):
        USERNAME = "username"
        MAC = "mac"
        CLIENT_ID = "client_id"
        DUID = "duid"
        CIRCUIT_ID = "circuit_id"
        REMOTE_ID = "remote_id"
        STATIC_IP = "static_ip"  # a network, as ipaddress writes it (192.0.2.7/32)

    class Origin(models.TextChoices):
        PROVISIONING = "provisioning"  # entered or imported by staff
        SERVICES = "services"          # derived from a static_ip service row
        EQUIPMENT = "equipment"        # derived from an equipment row's MAC

    subscriber = models.ForeignKey(
        "subscribers.Subscriber", on_delete=models.PROTECT, related_name="identity_links"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=255)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)  # None: still valid
    origin = models.CharField(max_length=16, choices=Origin.choices,
                              default=Origin.PROVISIONING)
    origin_id = models.CharField(max_length=64, blank=True)  # e.g. the service row's id
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"], name="identity_link_lookup")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gt=models.F("valid_from")),
                name="identity_link_ends_after_start",
            ),
        ]
        ordering = ["kind", "value", "valid_from", "id"]

    def __str__(self) -> str:
        # No value: an identity is customer data and str() ends up in logs.
        return f"{self.kind} link of {self.subscriber_id}"


class OpenInterval(models.Model):
    """A session interval stored without an end, and what a later file says of its session.

    Logs rotate daily: a session alive at midnight is open at the end of one file and goes on
    (or stops) in the next, whose interval for it begins with NO_START. Stored rows never
    change, so the link between the two is kept here; attribution then cuts the open row where
    the later one begins (or drops it when the later one covers it), instead of letting it
    claim the address forever. Files of one stream are expected in time order: a row still
    open here stays open, which makes answers ambiguous, never wrong.
    """

    source = models.CharField(max_length=32)      # the store source (the log format)
    device = models.CharField(max_length=255)
    session_id = models.CharField(max_length=255)
    address = models.CharField(max_length=64)     # the stored network, e.g. 192.0.2.7/32
    original_start = models.BigIntegerField()     # µs UTC, as stored
    last_seen = models.BigIntegerField(null=True)
    file = models.ForeignKey(IngestedFile, on_delete=models.CASCADE, related_name="+")
    continued_start = models.BigIntegerField(null=True)  # the later interval, µs UTC
    continued_end = models.BigIntegerField(null=True)    # None: still open there too
    continued_file = models.ForeignKey(IngestedFile, on_delete=models.SET_NULL, null=True,
                                       related_name="+")
    continued_line = models.BigIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["source", "device", "session_id", "address", "original_start"],
            name="open_interval_once")]
        indexes = [models.Index(fields=["source", "continued_start", "last_seen"],
                                name="open_interval_pending_recent")]

    def __str__(self) -> str:
        return f"open {self.source} interval {self.pk}"
