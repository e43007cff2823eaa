"""Speed-test results: the only service-quality data kept in the records database.

Every other quality figure is computed from the log store when it is asked for; a speed test
is a measurement someone made, so it is stored, with the file (by SHA-256) and line it came
from, and the lines that could not be used are kept for review like connectivity logs' are.
A result belongs to one subscriber (category service_quality); deleting the subscriber
deletes their results.
"""

from __future__ import annotations

from django.db import models


class SpeedTestFile(models.Model):
    """One imported file. Its hash makes the import idempotent: the same bytes add nothing."""

    class Format(models.TextChoices):
        IPERF3 = "iperf3"
        CSV = "csv"

    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=16, choices=Format.choices)
    path = models.CharField(max_length=4096)
    size = models.BigIntegerField()
    account = models.CharField(max_length=32, blank=True)  # --account of an iperf3 import
    results = models.IntegerField(default=0)
    quarantined = models.IntegerField(default=0)
    imported = models.DateTimeField()
    imported_by = models.CharField(max_length=150)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sha256", "format"],
                                               name="speedtest_file_once")]
        ordering = ["imported", "id"]

    def __str__(self) -> str:
        return f"{self.format} {self.sha256[:12]}"


class SpeedTest(models.Model):
    subscriber = models.ForeignKey("subscribers.Subscriber", on_delete=models.CASCADE,
                                   related_name="speed_tests")
    measured_at = models.DateTimeField()          # UTC
    down_mbps = models.FloatField(null=True)      # None: this test measured no download
    up_mbps = models.FloatField(null=True)
    latency_ms = models.FloatField(null=True)
    server = models.CharField(max_length=255, blank=True)
    method = models.CharField(max_length=32)
    file = models.ForeignKey(SpeedTestFile, on_delete=models.PROTECT, related_name="tests")
    line = models.IntegerField()
    detail = models.JSONField(default=dict)       # protocol, streams, direction, sent rate...

    class Meta:
        constraints = [models.UniqueConstraint(fields=["file", "line"],
                                               name="speedtest_once_per_line")]
        indexes = [models.Index(fields=["subscriber", "measured_at"],
                                name="speedtest_subscriber_time"),
                   models.Index(fields=["measured_at"], name="speedtest_time")]
        ordering = ["measured_at", "id"]

    def __str__(self) -> str:
        # No figures and no account: str() ends up in logs.
        return f"speed test {self.pk} of {self.subscriber_id}"


class SpeedTestQuarantine(models.Model):
    TEXT_LIMIT = 2000

    file = models.ForeignKey(SpeedTestFile, on_delete=models.CASCADE, related_name="quarantine")
    line = models.IntegerField()
    reason = models.CharField(max_length=500)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["file_id", "line", "id"]

    def __str__(self) -> str:
        return f"{self.file.path}:{self.line}: {self.reason}"
