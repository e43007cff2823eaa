"""Reading and exporting the audit trail, each through the access gate.

The web UI, the API and the CLI call these functions; reading the trail is itself audited
(event `audit:trail:search` or `audit:trail:export`), so who looked at the access records, and
why, is on the record too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db.models import Q, QuerySet

from cpniguard.access import Actor, access
from cpniguard.audit.models import AuditEntry
from cpniguard.policy import Action

RESOURCE = "audit:trail"
SUBJECT = "audit:trail"
CATEGORIES = frozenset({"audit_trail"})
MAX_LIMIT = 1000

# The columns a listing shows: everything hashed except prev_hash and policy_version, plus the
# entry's own hash so a reader can match a listed entry against an exported bundle.
LISTED = ("seq", "time", "actor", "role", "channel", "event", "purpose", "reference",
          "subject", "categories", "fields", "outcome", "rule", "reason", "request_id",
          "entry_hash")


def _aware(name: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{name} must carry a UTC offset (for example 2026-01-31T00:00:00Z)")
    return moment.astimezone(UTC)


def subscriber_condition(subscriber: int) -> Q:
    """Entries about one subscriber, matched exactly so that 4 never matches 42.

    Subjects name a record (`subscriber:4`), a thing inside it (`subscriber:4/interaction:9`)
    or, for a search, every record it returned (`subscribers:3,4,17`).
    """
    n = int(subscriber)
    listed = Q(subject__startswith="subscribers:") & (
        Q(subject=f"subscribers:{n}")
        | Q(subject__startswith=f"subscribers:{n},")
        | Q(subject__endswith=f",{n}")
        | Q(subject__contains=f",{n},")
    )
    return Q(subject=f"subscriber:{n}") | Q(subject__startswith=f"subscriber:{n}/") | listed


def staff_condition(staff: str) -> Q:
    """Entries by one staff member, whichever channel: the CLI records `name (os:user)`."""
    return Q(actor=staff) | Q(actor__startswith=f"{staff} (os:")


def filtered(
    *,
    subscriber: int | None = None,
    staff: str | None = None,
    entry_purpose: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """The entries matching every given filter, newest first. `until` is exclusive."""
    entries = AuditEntry.objects.all()
    if subscriber is not None:
        entries = entries.filter(subscriber_condition(subscriber))
    if staff:
        entries = entries.filter(staff_condition(staff))
    if entry_purpose:
        entries = entries.filter(purpose=entry_purpose)
    if outcome:
        entries = entries.filter(outcome=outcome)
    start, end = _aware("since", since), _aware("until", until)
    if start is not None:
        entries = entries.filter(time__gte=start)
    if end is not None:
        entries = entries.filter(time__lt=end)
    return entries.order_by("-seq")


def present(row: dict[str, Any]) -> dict[str, Any]:
    view = {name: row[name] for name in LISTED}
    view["time"] = row["time"].astimezone(UTC).isoformat()
    view["categories"] = list(row["categories"])
    view["fields"] = list(row["fields"])
    return view


def list_entries(
    actor: Actor,
    *,
    purpose: str,
    reference: str | None = None,
    subscriber: int | None = None,
    staff: str | None = None,
    entry_purpose: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Entries matching the filters, newest first: `{"count": total, "entries": [...]}`.

    Raises `AccessRefused` (audited) unless the policy lets the actor's role search the trail
    for `purpose`, and `ValueError` for a naive time or a limit/offset out of range.
    """
    if not 0 < limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise ValueError("offset must not be negative")
    _aware("since", since)
    _aware("until", until)
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=purpose, reference=reference,
                subject=SUBJECT, categories=CATEGORIES) as permit:
        entries = filtered(subscriber=subscriber, staff=staff, entry_purpose=entry_purpose,
                           outcome=outcome, since=since, until=until)
        count = entries.count()
        rows = [present(row) for row in entries.values(*LISTED)[offset:offset + limit]]
        given = {"subscriber": subscriber, "staff": staff, "entry_purpose": entry_purpose,
                 "outcome": outcome, "since": since, "until": until}
        # Which filters were used (names only: a filter value may identify a customer).
        permit.touched(f"filter:{name}" for name, value in given.items() if value)
        permit.touched(["audit_trail.entries"])
        return {"count": count, "entries": rows}


def export_bundle(actor: Actor, directory: str | Path, *, purpose: str,
                  reference: str | None = None) -> dict[str, Any]:
    """Write a self-verifying bundle of the whole trail to `directory` (see `audit.bundle`).

    Signs a fresh checkpoint first so the bundle's newest entries are covered by a signature.
    Returns a summary: directory, entries, checkpoints, tree_size, root_hash, key_id, and a
    warning (empty unless the trail no longer extends its last checkpoint: then nothing new is
    signed, and the bundle is written anyway, as evidence that fails verification).
    """
    from cpniguard.audit.bundle import write_bundle
    from cpniguard.audit.checkpoints import CheckpointRefused, create_checkpoint

    with access(actor, Action.EXPORT, resource=RESOURCE, purpose=purpose, reference=reference,
                subject=SUBJECT, categories=CATEGORIES) as permit:
        try:
            create_checkpoint()
            warning = ""
        except CheckpointRefused as refused:
            # Export what is stored all the same: it is the evidence, and the bundle's own
            # verifier will show the auditor where the trail was tampered with.
            warning = str(refused)
        summary = write_bundle(Path(directory))
        summary["warning"] = warning
        permit.touched(["audit_trail.entries", "audit_trail.checkpoints"])
        return summary
