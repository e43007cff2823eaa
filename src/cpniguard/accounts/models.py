"""Staff members, each with exactly one role from the policy file."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class StaffUser(AbstractUser):
    # The role names a [roles.*] table of the policy file; the policy decides what it allows.
    role = models.CharField(max_length=32)
    # The operating-system account that acts as this staff member on the CLI, if any.
    os_username = models.CharField(max_length=64, unique=True, null=True, blank=True)
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_confirmed = models.BooleanField(default=False)
    # The last TOTP time step accepted, so a code seen once (over a shoulder, in a proxy log)
    # cannot be replayed within its validity window.
    totp_last_step = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.username} ({self.role})"


class ApiToken(models.Model):
    """A per-user bearer token. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    PREFIX = "cpg_"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, user: StaffUser, name: str, expires: datetime) -> tuple[ApiToken, str]:
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=secret[:12], digest=cls.digest_of(secret),
            expires=expires,
        )
        return token, secret

    def usable_at(self, now: datetime) -> bool:
        return self.revoked is None and now < self.expires


class LoginAttempt(models.Model):
    """A failed sign-in step, kept only as long as the throttling window needs it.

    The audit trail records every attempt for good; this table exists so that counting
    recent failures per username and per client address is one indexed query.
    """

    class Step(models.TextChoices):
        PASSWORD = "password"  # noqa: S105 (the step's name, not a secret)
        SECOND_FACTOR = "second_factor"

    step = models.CharField(max_length=16, choices=Step.choices)
    username = models.CharField(max_length=150)
    client = models.GenericIPAddressField(null=True, blank=True)
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["step", "username", "time"]),
            models.Index(fields=["step", "client", "time"]),
        ]

    def __str__(self) -> str:
        return f"failed {self.step} for {self.username} at {self.time.isoformat()}"
