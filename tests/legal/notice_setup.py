"""Customer notices for tests that produce requests of any kind: send what the kind calls for
before production, and say when production may then go ahead."""

from __future__ import annotations

from datetime import datetime, timedelta

from cpniguard.legal.models import CustomerNotice, LegalRequest
from cpniguard.legal.notice_desk import send
from cpniguard.legal.notices import identify, timing_of, wait_days
from cpniguard.policy import current_policy
from cpniguard.policy.legal_process import NOTICE_BEFORE
from tests.legal.conftest import NOW
from tests.legal.desk_setup import CUSTODIAN


def notified(reference: str, at: datetime = NOW) -> datetime:
    """Identify and notify at `at` if the request's kind notifies before production; the
    instant returned is one at which production is allowed."""
    policy = current_policy()
    request = LegalRequest.objects.get(reference=reference)
    if timing_of(request, policy) != NOTICE_BEFORE:
        return at
    identify(CUSTODIAN, reference, now=at)
    if CustomerNotice.objects.filter(request=request, sent__isnull=True).exists():
        send(CUSTODIAN, reference, now=at)
    return at + timedelta(days=wait_days(request, policy) + 1)
