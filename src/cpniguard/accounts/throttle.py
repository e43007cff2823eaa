"""Slowing down password and second-factor guessing.

More than a handful of failures for one username, or many from one client address, within a
sliding window refuse further attempts outright, without checking the password or code, until
the oldest failures age out of the window. The per-address limit is higher because several
staff members may sit behind one office NAT.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from cpniguard.accounts.models import LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_CLIENT = 20


@dataclass(frozen=True, slots=True)
class Lockout:
    """Why further attempts are refused, and when the next one will be accepted again."""

    scope: str  # "username" or "client"
    retry_after: datetime

    @property
    def seconds(self) -> int:
        return max(1, int((self.retry_after - timezone.now()).total_seconds()) + 1)

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.seconds // 60))
        who = "this username" if self.scope == "username" else "this computer"
        return (
            f"Too many failed attempts for {who}. Further attempts are refused for about "
            f"{minutes} minute{'s' if minutes != 1 else ''}; if you have forgotten your "
            "password or lost your authenticator, ask an administrator."
        )


def client_address(request: HttpRequest) -> str | None:
    """The peer address. Forwarded-for headers are not trusted: any client can set them."""
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _recent(step: str, now: datetime) -> Q:
    return Q(step=step, time__gt=now - WINDOW)


def lockout(step: str, username: str, client: str | None,
            now: datetime | None = None) -> Lockout | None:
    """A Lockout if this username or client has used up its failures in the window."""
    now = now or timezone.now()
    checks: list[tuple[str, Q, int]] = [
        ("username", Q(username=username), MAX_FAILURES_PER_USERNAME),
    ]
    if client is not None:
        checks.append(("client", Q(client=client), MAX_FAILURES_PER_CLIENT))
    for scope, who, limit in checks:
        times = list(
            LoginAttempt.objects.filter(_recent(step, now) & who)
            .order_by("-time").values_list("time", flat=True)[:limit]
        )
        if len(times) >= limit:
            # Accepted again once the limit-th most recent failure leaves the window.
            return Lockout(scope, times[limit - 1] + WINDOW)
    return None


def note_failure(step: str, username: str, client: str | None,
                 now: datetime | None = None) -> None:
    now = now or timezone.now()
    LoginAttempt.objects.create(step=step, username=username, client=client, time=now)
    # Rows older than the window no longer count for anything; keep the table small.
    LoginAttempt.objects.filter(time__lte=now - WINDOW).delete()


def clear(step: str, username: str) -> None:
    """A success wipes that username's failures (they were the owner's typos, not a guess)."""
    LoginAttempt.objects.filter(step=step, username=username).delete()
