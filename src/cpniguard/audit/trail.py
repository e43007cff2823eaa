"""Appending to the hash chain. The only code that writes audit entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection, models, transaction

from cpniguard.audit.models import AuditEntry, ChainHead, Outcome
from cpniguard.audit.verifier import GENESIS, entry_hash
from cpniguard.rawsql import driver_cursor, for_driver

CHECKPOINT_EVERY = 1000  # entries between automatic signed checkpoints


def _sql() -> tuple[str, str, str]:
    """The three statements of an append, built once from the models' metadata.

    Only table and column names from the models go into the text; values are parameters.
    """
    quote = connection.ops.quote_name
    head = quote(ChainHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    columns = [str(f.column) for f in AuditEntry._meta.concrete_fields if not f.primary_key]
    table = quote(AuditEntry._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    select = f"SELECT seq, entry_hash FROM {head} WHERE id = 1{lock}"  # noqa: S608
    update = f"UPDATE {head} SET seq = %s, entry_hash = %s WHERE id = 1"  # noqa: S608
    return select, insert, update


_statements: dict[str, tuple[str, str, str]] = {}
_insert_fields = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
# Text and integer columns go to the driver as they are; only these need the field's own
# conversion (JSON encoding, datetime adaptation), which differs between SQLite and PostgreSQL.
_converted = tuple(f.attname for f in _insert_fields
                   if not isinstance(f, models.CharField | models.BigIntegerField))


def _locked_head(select_head: str) -> tuple[int, str]:
    # SQLite takes its write lock at BEGIN (transaction_mode IMMEDIATE); PostgreSQL needs the
    # row lock (FOR UPDATE) so that two writers cannot both extend the chain from one head.
    cursor = driver_cursor()
    try:
        cursor.execute(for_driver(select_head))
        row = cursor.fetchone()
        if row is None:
            ChainHead.objects.bulk_create(
                [ChainHead(pk=1, seq=0, entry_hash=GENESIS)], ignore_conflicts=True
            )
            cursor.execute(for_driver(select_head))
            row = cursor.fetchone()
    finally:
        cursor.close()
    return int(row[0]), str(row[1])


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
    # Plain SQL, not the ORM: this runs on every audited read, and compiling three querysets
    # cost more than the rest of the read together.
    statements = _statements.get(connection.vendor)
    if statements is None:
        statements = _statements[connection.vendor] = _sql()
    select_head, insert, update_head = statements
    head_seq, head_hash = _locked_head(select_head)
    values = {
        "seq": head_seq + 1,
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
        "prev_hash": head_hash,
    }
    digest = entry_hash(values)
    entry = AuditEntry(**{**values, "time": now}, entry_hash=digest)
    params = [f.get_db_prep_save(getattr(entry, f.attname), connection)
              if f.attname in _converted else getattr(entry, f.attname)
              for f in _insert_fields]
    cursor = driver_cursor()
    try:
        cursor.execute(for_driver(insert), params)
        cursor.execute(for_driver(update_head), (entry.seq, digest))
    finally:
        cursor.close()
    if entry.seq % CHECKPOINT_EVERY == 0:
        # Sign a checkpoint once this commits; the write itself stays O(1).
        from cpniguard.audit.checkpoints import checkpoint_after_commit

        transaction.on_commit(checkpoint_after_commit)
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
