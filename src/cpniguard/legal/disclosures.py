"""The disclosure log: one row per answered request, written once, kept at least as long as
the policy's `[retention] disclosure_log` says (47 CFR 64.2009(c): a year at least).

A delivery writes what was disclosed: the request, its kind, the targets as named, the
categories, the number of rows, our record numbers, the package's manifest SHA-256, to whom
and how it went, and when. A rejection or a withdrawal writes a row with nothing disclosed,
so the transparency report counts every outcome from this one table. The rows are written
inside the transaction of the workflow step that caused them, whose audit entry covers them;
reading the log is a `search` of `legal_requests` for the desk, audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cpniguard.access import Actor, access
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE, answer_scope, person_of
from cpniguard.legal.models import Disclosure, LegalRequest, Outcome, Production
from cpniguard.legal.status import Status
from cpniguard.policy import Action, Policy, current_policy

FIELDS = ("disclosure.reference", "disclosure.kind", "disclosure.outcome",
          "disclosure.targets", "disclosure.categories", "disclosure.rows",
          "disclosure.package_sha256", "disclosure.delivered_to", "disclosure.when")


def keep_until(policy: Policy, when: datetime) -> datetime:
    return when + timedelta(days=policy.retention["disclosure_log"])


def _targets(request: LegalRequest) -> list[str]:
    return [f"{t.kind} {t.value or t.given}" + (f" at {t.instant.astimezone(UTC).isoformat()}"
                                                 if t.instant else "")
            for t in request.targets.all()]


def outcome_of(request: LegalRequest, production: Production, policy: Policy) -> Outcome:
    if production.rows == 0:
        return Outcome.NO_DATA
    answered = set(answer_scope(request, policy))
    if answered != set(request.categories):
        return Outcome.COMPLIED_PARTIALLY
    return Outcome.COMPLIED_FULLY


def record_delivery(request: LegalRequest, production: Production, actor: Actor,
                    now: datetime) -> Disclosure:
    policy = current_policy()
    return Disclosure.objects.create(
        reference=request.reference, kind=request.kind,
        outcome=outcome_of(request, production, policy).value, targets=_targets(request),
        categories=list(production.categories),
        rows=production.rows, subscribers=production.subscribers,
        package_sha256=production.manifest_sha256, delivered_to=production.delivered_to,
        delivered_how=production.delivered_how, when=now, recorded_by=person_of(actor),
        keep_until=keep_until(policy, now))


def record_ended(request: LegalRequest, to: Status, actor: Actor, now: datetime,
                 note: str) -> Disclosure | None:
    """A rejection or a withdrawal: logged with nothing disclosed. A request that was already
    answered (delivered) keeps its one row."""
    outcome = {Status.REJECTED: Outcome.REJECTED, Status.WITHDRAWN: Outcome.WITHDRAWN}.get(to)
    if outcome is None or Disclosure.objects.filter(reference=request.reference).exists():
        return None
    policy = current_policy()
    return Disclosure.objects.create(
        reference=request.reference, kind=request.kind, outcome=outcome.value,
        targets=_targets(request), categories=[], rows=0, subscribers=[],
        delivered_to="", delivered_how=note[:1000], when=now, recorded_by=person_of(actor),
        keep_until=keep_until(policy, now))


def period(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC): whole UTC days, both ends included."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    return (datetime.combine(start, time(), UTC),
            datetime.combine(end + timedelta(days=1), time(), UTC))


def entries_between(start: date, end: date) -> list[Disclosure]:
    low, high = period(start, end)
    return list(Disclosure.objects.filter(when__gte=low, when__lt=high))


def as_dict(row: Disclosure) -> dict[str, Any]:
    return {"reference": row.reference, "kind": row.kind, "outcome": row.outcome,
            "targets": row.targets, "categories": row.categories, "rows": row.rows,
            "accounts": len(row.subscribers), "package_sha256": row.package_sha256,
            "delivered_to": row.delivered_to, "delivered_how": row.delivered_how,
            "when": row.when.astimezone(UTC).isoformat(), "recorded_by": row.recorded_by,
            "keep_until": row.keep_until.astimezone(UTC).isoformat()}


def disclosure_log(actor: Actor, start: date, end: date) -> list[dict[str, Any]]:
    """The log for a period, for the custodian and counsel (audited search)."""
    low, high = period(start, end)
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject=f"disclosure_log:{start.isoformat()}..{end.isoformat()}",
                categories=CATEGORIES) as permit:
        rows = [as_dict(r) for r in Disclosure.objects.filter(when__gte=low, when__lt=high)]
        permit.touched(FIELDS)
    return rows
