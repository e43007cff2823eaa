"""Appending to the hash chain. The only code that writes audit entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection

from cpniguard.audit.models import AuditEntry, ChainHead, Outcome
from cpniguard.audit.verifier import GENESIS, entry_hash


def _locked_head() -> ChainHead:
    # SQLite takes its write lock at BEGIN (transaction_mode IMMEDIATE); PostgreSQL needs the
    # row lock so that two writers cannot both extend the chain from the same head.
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        ChainHead.objects.bulk_create(
            [ChainHead(pk=1, seq=0, entry_hash=GENESIS)], ignore_conflicts=True
        )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(
    *,
    actor: str,
    role: str,
    channel: str,
    event: str,
    outcome: Outcome | str,
    purpose: str = "",
    reference: str = "",
    subject: str = "",
    categories: Iterable[str] = (),
    fields: Iterable[str] = (),
    rule: str = "",
    reason: str = "",
    request_id: str = "",
    policy_version: str = "",
) -> AuditEntry:
    """Append one entry. Call inside the transaction of the action being recorded.

    Never pass customer data values here: only names of categories and fields, and opaque
    subject identifiers such as `subscriber:1042`.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the action's transaction")
    now = datetime.now(UTC)
    head = _locked_head()
    values = {
        "seq": head.seq + 1,
        "time": format_time(now),
        "actor": actor,
        "role": role,
        "channel": str(channel),
        "event": event,
        "purpose": purpose,
        "reference": reference or "",
        "subject": subject,
        "categories": sorted(set(categories)),
        "fields": sorted(set(fields)),
        "outcome": str(outcome),
        "rule": rule,
        "reason": reason[:500],
        "request_id": request_id,
        "policy_version": policy_version,
        "prev_hash": head.entry_hash,
    }
    digest = entry_hash(values)
    entry = AuditEntry.objects.create(
        **{**values, "time": now}, entry_hash=digest
    )
    ChainHead.objects.filter(pk=1).update(seq=entry.seq, entry_hash=digest)
    return entry


def recorded_values(entry: AuditEntry) -> dict[str, object]:
    """The hashed values of a stored entry, as `verifier.canonical` expects them."""
    return {
        "seq": entry.seq,
        "time": format_time(entry.time),
        "actor": entry.actor,
        "role": entry.role,
        "channel": entry.channel,
        "event": entry.event,
        "purpose": entry.purpose,
        "reference": entry.reference,
        "subject": entry.subject,
        "categories": list(entry.categories),
        "fields": list(entry.fields),
        "outcome": entry.outcome,
        "rule": entry.rule,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "policy_version": entry.policy_version,
        "prev_hash": entry.prev_hash,
    }
